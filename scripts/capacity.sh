#!/usr/bin/env bash
# The stack's capacity (BENCHMARKS.md, "The stack under load"): release builds, rounds of
# interleaved short runs against one fresh stack per round, medians over the rounds.
#
#   scripts/capacity.sh [--rounds 3] [--duration 10] [--rates "1000 2000 5000"]
#                       [--max-rates "6000 7000"] [--skip-build] [--out FILE]
#
# Each round: a fresh stack (release; RECEIPTS_STREAM=receipts; STACK_DIR under $CAPACITY_DIR,
# default /tmp/capacity; private ports CAPACITY_PORT_BASE+0..3, default 18180: todo,
# notification, analytics, redis), then
#   1. GET /health for 5 s: wrk -t1 -c32, then load-generator --target health --concurrency 32
#      --backlog 1000 offered 40000/s (its achieved rate is its ceiling): the HTTP ceiling and
#      the generator's own cost per request;
#   2. POST /todos for --duration s with wrk -t1 -c32 -s scripts/wrk-post-todos.lua (closed
#      loop: as fast as the stack answers), then the wait until both consumer groups have lag 0
#      and nothing pending; CPU per todo of each process from /proc/<pid>/stat;
#   3. load-generator --target http at each of --rates and --max-rates (open loop, every event
#      checked against both groups' receipts; exit 1 on a lost one).
# One JSON line per run goes to --out (default $CAPACITY_DIR/results-<time>.jsonl); the medians
# are printed at the end (scripts/capacity.sh --summary FILE prints them again).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=10 rates="1000 2000 5000" max_rates="6000 7000" build=1 out="" summary_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --max-rates) max_rates="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --out) out="$2"; shift 2 ;;
        --summary) summary_only="$2"; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "capacity.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

source scripts/lib/measure.sh
if [ -n "$summary_only" ]; then summarize "$summary_only"; exit 0; fi

export_stack_ports 18180
capacity_dir="${CAPACITY_DIR:-/tmp/capacity}"
mkdir -p "$capacity_dir"
out="${out:-$capacity_dir/results-$(date -u +%Y%m%dT%H%M%S).jsonl}"
bin=.build/release
if [ "$build" = 1 ]; then build_stack_release; fi
todo="http://127.0.0.1:$TODO_SERVICE_PORT"

stack_dir=""
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


for round in $(seq 1 "$rounds"); do
    echo "== round $round/$rounds  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    stack_dir="$capacity_dir/stack-$round-$$"
    rm -rf "$stack_dir"
    STACK_DIR="$stack_dir" RECEIPTS_STREAM=receipts "$bin/streams-stack" up >&2
    redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"

    # 1. The HTTP ceiling and the generator's own cost.
    ceiling="$(wrk -t1 -c32 -d5s "$todo/health" | awk '/^Requests\/sec/ { print $2 }')"
    record "{\"kind\":\"wrk_health\",\"round\":$round,\"requests_per_s\":$ceiling}"
    line="$(STACK_DIR="$stack_dir" "$bin/load-generator" --target health --todo-url "$todo" --rate 40000 --duration 5 \
        --concurrency 32 --backlog 1000 --pids-dir "$stack_dir/pids" 2>/dev/null | grep '^{"')"
    record "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1]); p = {x["name"]: x for x in r["processes"]}
print(json.dumps({"kind": "generator_health", "round": int(sys.argv[2]), "requests_per_s": round(r["created"] / r["sending_s"], 1),
  "generator_us_per_request": p["load-generator"]["cpu_us_per_event"], "todo_us_per_request": p.get("todo-service", {}).get("cpu_us_per_event"),
  "latency_p50_ms": r["request_latency_ms"]["p50"], "latency_p99_ms": r["request_latency_ms"]["p99"]}))' "$line" "$round")"

    # 2. wrk POST /todos, closed loop, then the wait for both groups.
    before="$(cpu_ticks)"
    started=$(date +%s.%N)
    TIMEFORMAT='%U %S'
    { time wrk -t1 -c32 -d"${duration}s" -s scripts/wrk-post-todos.lua "$todo" >"$capacity_dir/wrk.out"; } 2>"$capacity_dir/wrk.time"
    sent_done=$(date +%s.%N)
    wait_for_todo_drain
    ended=$(date +%s.%N)
    after="$(cpu_ticks)"
    requests="$(awk '/^wrk-summary/ { sub("requests=", "", $2); print $2 }' "$capacity_dir/wrk.out")"
    non2xx="$(awk '/^wrk-summary/ { sub("non2xx=", "", $4); print $4 }' "$capacity_dir/wrk.out")"
    created=$((requests - non2xx))
    entries="$(redis-cli -u "$redis_url" --no-auth-warning XLEN todo-events)"
    record "$(python3 - "$before" "$after" "$created" "$requests" "$started" "$sent_done" "$ended" "$drained" "$round" \
        "$(cat "$capacity_dir/wrk.time")" "$entries" "$(grep -E '^ +Latency' "$capacity_dir/wrk.out")" <<'EOF'
import json, os, sys
before = dict(line.split() for line in sys.argv[1].splitlines())
after = dict(line.split() for line in sys.argv[2].splitlines())
created, requests = int(sys.argv[3]), int(sys.argv[4])
started, sent_done, ended = map(float, sys.argv[5:8])
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
user, system = map(float, sys.argv[10].split())
run = {"kind": "wrk_post", "round": int(sys.argv[9]), "todos_per_s": round(created / (sent_done - started), 1),
       "requests": requests, "created": created, "non2xx": requests - created, "drain_s": round(ended - sent_done, 2),
       "caught_up": int(sys.argv[8]), "stream_entries": int(sys.argv[11]),
       "wrk_us_per_todo": round((user + system) * 1e6 / max(created, 1), 1),
       "latency_avg": sys.argv[12].split()[1] if len(sys.argv[12].split()) > 1 else None}
for name in after:
    if name in before:
        run[name + "_us_per_todo"] = round((int(after[name]) - int(before[name])) * tick_us / max(created, 1), 1)
print(json.dumps(run))
EOF
)"

    # 3. The generator, open loop, at fixed rates.
    for rate in $rates $max_rates; do
        status=0
        line="$(STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --target http --todo-url "$todo" \
            --rate "$rate" --duration "$duration" --pids-dir "$stack_dir/pids" --drain-seconds 30 2>"$capacity_dir/generator.err" |
            grep '^{"')" || status=$?
        if [ -z "$line" ]; then
            echo "capacity.sh: load-generator at $rate/s gave no report:" >&2
            tail -5 "$capacity_dir/generator.err" >&2
            continue
        fi
        record "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1]); p = {x["name"]: x for x in r["processes"]}
out = {"kind": "generator_post", "rate": int(sys.argv[2]), "round": int(sys.argv[3]), "achieved": r["rate_achieved"],
  "created": r["created"], "failed": r["failed"], "dropped": r["dropped"], "drain_s": r["drain_s"], "lost": r["lost_total"],
  "duplicates": sum(g["duplicates"] for g in r["groups"]), "dead_lettered": sum(g["dead_lettered"] for g in r["groups"])}
for key in ("p50", "p90", "p99", "max"):
    out["http_" + key + "_ms"] = r["request_latency_ms"][key]
for g in r["groups"]:
    short = g["group"].split("-")[0]
    out[short + "_p50_ms"] = g["handled_latency_ms"]["p50"]
    out[short + "_p99_ms"] = g["handled_latency_ms"]["p99"]
for name, x in p.items():
    out[name + "_us_per_todo"] = x["cpu_us_per_event"]
print(json.dumps(out))' "$line" "$rate" "$round")"
    done
    stop_stack
done
echo "== medians ($out)" >&2
summarize "$out"
