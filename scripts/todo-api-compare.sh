#!/usr/bin/env bash
# The todo API of two builds side by side in one run: todo-service at BEFORE (default
# b625b6c, the last commit before todos became event-sourced) and at AFTER (default HEAD),
# both release builds (in .build-compare), each on a private redis-server of its own (no persistence), measured in turns with
# wrk: POST /todos, then PUT /todos/{id}/title over 256 existing todos. Prints the medians
# per variant and workload: requests/s, non-2xx answers, CPU per request of todo-service and
# of redis-server (from /proc/<pid>/stat).
#
#   scripts/todo-api-compare.sh [--before REV] [--after REV] [--runs 3] [--duration 10] [--connections 32]
set -euo pipefail
cd "$(dirname "$0")/.."
repository="$(pwd)"

before_rev=b625b6c after_rev=HEAD runs=3 duration=10 connections=32
while [ $# -gt 0 ]; do
    case "$1" in
    --before) before_rev="$2"; shift 2 ;;
    --after) after_rev="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "usage: $0 [--before REV] [--after REV] [--runs N] [--duration SECONDS] [--connections N]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install -y redis-server" >&2; exit 1; }

work="$(mktemp -d)"
out="$work/runs.jsonl"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    git -C "$repository" worktree remove --force "$work/source" 2>/dev/null || true
}
trap cleanup EXIT

# Builds todo-service at revision $2 into $work/todo-service-$1 (one scratch folder for both,
# so the packages are built once).
build_variant() {
    echo "building todo-service at $2 (release)..." >&2
    git -C "$repository" worktree add -q --detach "$work/source" "$2"
    (cd "$work/source" && swift build -c release --product todo-service --scratch-path "$repository/.build-compare" >&2)
    cp "$repository/.build-compare/release/todo-service" "$work/todo-service-$1"
    git -C "$repository" worktree remove --force "$work/source"
}
build_variant before "$before_rev"
build_variant after "$after_rev"
declare -A binaries=([before]="$work/todo-service-before" [after]="$work/todo-service-after")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz="$(getconf CLK_TCK)"

# Starts redis-server and the variant's todo-service; sets redis_pid, service_pid, url.
start_variant() {
    local redis_port http_port
    redis_port="$(free_port)"; http_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
        --logfile "$work/redis-$1.log" &
    redis_pid=$!; pids+=("$redis_pid")
    until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done
    REDIS_URL="redis://127.0.0.1:$redis_port/0" HTTP_HOST=127.0.0.1 HTTP_PORT="$http_port" LOG_LEVEL=warning \
        "${binaries[$1]}" >"$work/service-$1.log" 2>&1 &
    service_pid=$!; pids+=("$service_pid")
    url="http://127.0.0.1:$http_port"
    until curl -sf "$url/ready" >/dev/null 2>&1; do sleep 0.05; done
}

# One wrk run of $3 seconds with script $2 against $url; records requests/s and CPU per request.
measure() {
    local variant="$1" workload="$2" script="$3" seconds="$4" service_before redis_before summary requests duration_us non2xx
    service_before="$(ticks "$service_pid")"; redis_before="$(ticks "$redis_pid")"
    summary="$(wrk -t1 -c"$connections" -d"${seconds}s" -s "$script" "$url" | grep '^wrk-summary')"
    requests="$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$summary")"
    duration_us="$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$summary")"
    non2xx="$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$summary")"
    python3 - "$variant" "$workload" "$requests" "$duration_us" "$non2xx" \
        "$(( $(ticks "$service_pid") - service_before ))" "$(( $(ticks "$redis_pid") - redis_before ))" "$hz" <<'PY' | tee -a "$out" >&2
import json, sys
variant, workload, requests, duration_us, non2xx, service_ticks, redis_ticks, hz = sys.argv[1:]
requests, duration_us, hz = int(requests), int(duration_us), int(hz)
per = lambda ticks: round(int(ticks) / hz * 1e6 / max(requests, 1), 1)
print(json.dumps({"variant": variant, "workload": workload, "rps": round(requests / (duration_us / 1e6)),
                  "non2xx": int(non2xx), "todo_service_us": per(service_ticks), "redis_us": per(redis_ticks)}))
PY
}

seed_ids() {
    python3 - "$url" "$work/ids" <<'PY'
import http.client, json, sys, urllib.parse
target = urllib.parse.urlparse(sys.argv[1])
connection = http.client.HTTPConnection(target.hostname, target.port)
with open(sys.argv[2], "w") as ids:
    for n in range(256):
        connection.request("POST", "/todos", json.dumps({"user_id": f"seed-{n % 16}", "title": f"seed {n}"}),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
        ids.write(body["id"] + "\n")
PY
}

for round in $(seq 1 "$runs"); do
    order=(before after)
    if [ $((round % 2)) -eq 0 ]; then order=(after before); fi
    for variant in "${order[@]}"; do
        echo "round $round: $variant" >&2
        start_variant "$variant"
        wrk -t1 -c"$connections" -d2s -s scripts/wrk-post-todos.lua "$url" >/dev/null
        measure "$variant" post scripts/wrk-post-todos.lua "$duration"
        seed_ids
        WRK_TODO_IDS="$work/ids" measure "$variant" put-title scripts/wrk-put-titles.lua "$duration"
        kill "$service_pid" "$redis_pid"; wait "$service_pid" "$redis_pid" 2>/dev/null || true
    done
done

python3 - "$out" <<'PY'
import json, statistics, sys
from collections import defaultdict
groups = defaultdict(list)
for line in open(sys.argv[1]):
    run = json.loads(line)
    groups[(run["workload"], run["variant"])].append(run)
print(f"{'workload':10} {'variant':7} {'runs':>4} {'req/s':>8} {'non2xx':>7} {'todo-service µs/req':>20} {'redis µs/req':>13}")
medians = {}
for (workload, variant), items in sorted(groups.items()):
    median = {key: statistics.median(item[key] for item in items) for key in ("rps", "non2xx", "todo_service_us", "redis_us")}
    medians[(workload, variant)] = median
    print(f"{workload:10} {variant:7} {len(items):4} {median['rps']:8.0f} {median['non2xx']:7.0f} "
          f"{median['todo_service_us']:20.1f} {median['redis_us']:13.1f}")
for workload in sorted({w for w, _ in medians}):
    if (workload, "before") in medians and (workload, "after") in medians:
        ratio = medians[(workload, "after")]["rps"] / medians[(workload, "before")]["rps"]
        print(f"{workload}: after/before = {ratio:.2f}x")
PY
echo "runs: $out" >&2
