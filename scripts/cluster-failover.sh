#!/usr/bin/env bash
# A master of the cluster stack killed with kill -9 under load (BENCHMARKS.md, "Redis Cluster"):
# what clients see, how long until every write is accepted again, and what acknowledged
# events are lost, without and with PUBLISH_WAIT_REPLICAS=1. Release builds; rounds alternate
# the two settings in a shuffled order; medians over the rounds.
#
#   scripts/cluster-failover.sh [--rounds 3] [--duration 30] [--rate 300] [--kill-after 8]
#                               [--restart-after promotion|never] [--skip-build] [--out FILE]
#   scripts/cluster-failover.sh --summary FILE
#
# Each run: a fresh `streams-stack up --cluster` (3 masters + 3 replicas, AOF, node timeout 5 s,
# STREAM_PARTITIONS=6; STACK_DIR under $CAPACITY_DIR, default /tmp/capacity; services on the
# private ports CAPACITY_PORT_BASE+0..7, default 18480) with PUBLISH_WAIT_REPLICAS 0 or 1, then
# for --duration s:
#   - load-generator --target http at --rate todos/s (every 201 followed through both consumer
#     groups' receipts: a todo acknowledged whose event never reaches them is lost);
#   - scripts/lib/http_probe.py: one POST /todos every 5 ms, each answer timed, to see when the
#     writes of the killed master's partitions fail and when they are accepted again;
#   - after --kill-after s, kill -9 of the master that serves `todo-events:{p0.1}`; its replica
#     is promoted by the cluster after the node timeout; with --restart-after promotion (the
#     default, what a supervisor does) the killed node is started again once the promotion is
#     seen, and rejoins as the new master's replica.
# One JSON line per run to --out (default $CAPACITY_DIR/failover-<time>.jsonl): promoted_s (kill
# to the replica serving the slots, as a surviving master sees it), accepted_again_s (kill to
# the answer of the last probe write that was refused or took more than 1 s: from then on every
# write is accepted promptly), the probe's refused writes by status and its slowest answer, and
# the generator's created / failed / lost.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=30 rate=300 kill_after=8 restart_after=promotion build=1 out="" summary_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --kill-after) kill_after="$2"; shift 2 ;;
        --restart-after) restart_after="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --out) out="$2"; shift 2 ;;
        --summary) summary_only="$2"; shift 2 ;;
        -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cluster-failover.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$restart_after" in promotion | never) ;; *) echo "cluster-failover.sh: --restart-after promotion|never" >&2; exit 2 ;; esac

source scripts/lib/measure.sh
summarize_modes() {
    python3 - "$1" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
groups = defaultdict(list)
for run in runs:
    groups[run["publish_wait_replicas"]].append(run)
for mode, items in sorted(groups.items()):
    keys = sorted({k for item in items for k, v in item.items() if isinstance(v, (int, float)) and k not in ("round", "publish_wait_replicas")})
    medians = {k: round(statistics.median([item[k] for item in items if item.get(k) is not None]), 2)
               for k in keys if any(item.get(k) is not None for item in items)}
    totals = {f"total_{k}": sum(item.get(k, 0) for item in items) for k in ("lost", "created")}
    print(json.dumps({"publish_wait_replicas": mode, "runs": len(items), **medians, **totals}, sort_keys=True))
PY
}
if [ -n "$summary_only" ]; then summarize_modes "$summary_only"; exit 0; fi

source scripts/lib/deps.sh
ensure_dependencies
export_stack_ports "${CAPACITY_PORT_BASE:-18480}"
capacity_dir="${CAPACITY_DIR:-/tmp/capacity}"
mkdir -p "$capacity_dir"
out="${out:-$capacity_dir/failover-$(date -u +%Y%m%dT%H%M%S).jsonl}"
bin=.build/release
if [ "$build" = 1 ]; then build_stack_release; fi
todo="http://127.0.0.1:$TODO_SERVICE_PORT"

stack_dir=""
background=()
cleanup() {
    local pid
    for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_stack
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { date +%s%3N; }
# redis-cli as the operator on the node at port $1.
node_cli() { redis-cli -u "${node_url%:*}:$1" --no-auth-warning "${@:2}"; }

run_once() {
    local wait="$1" line name pid port
    stack_dir="$capacity_dir/failover-$round-$wait-$$"
    rm -rf "$stack_dir"
    PUBLISH_WAIT_REPLICAS="$wait" RECEIPTS_STREAM=receipts STACK_DIR="$stack_dir" "$bin/streams-stack" up --cluster >&2
    STACK_DIR="$stack_dir" "$bin/streams-stack" status >"$capacity_dir/status.out"
    redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"
    node_url="$(grep -o 'redis-cli -c -u [^;]*' "$capacity_dir/status.out" | awk '{print $4}')"
    node_url="${node_url%/[0-9]*}"  # without a database: the port is replaced per node
    # The master serving partition 0's slot, with its pid, port, id and command line.
    local slot victim_port victim_pid victim_id victim_name other_port
    slot="$(node_cli "${node_url##*:}" CLUSTER KEYSLOT 'todo-events:{p0.1}')"
    # CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> ... <slot ranges>".
    read -r victim_id victim_port < <(node_cli "${node_url##*:}" CLUSTER NODES | python3 -c '
import sys
slot = int(sys.argv[1])
for line in sys.stdin:
    fields = line.split()
    if "master" not in fields[2].split(","):
        continue
    for item in fields[8:]:
        if item.startswith("["):
            continue
        low, _, high = item.partition("-")
        if int(low) <= slot <= int(high or low):
            print(fields[0], fields[1].split("@")[0].rsplit(":", 1)[1])
' "$slot")
    while read -r line; do
        name="$(awk '{print $1}' <<<"$line")" pid="$(awk '{print $3}' <<<"$line")" port="$(awk '{print $5}' <<<"$line")"
        if [ "$port" = "$victim_port" ]; then
            victim_pid="$pid" victim_name="$name"
        elif [[ "$line" == *master* ]]; then
            other_port="$port"
        fi
    done < <(grep '^redis-node' "$capacity_dir/status.out")
    # Its configuration, to start it again as the stack did (redis-server renames its process
    # title, so /proc/<pid>/cmdline does not tell).
    local victim_configuration
    victim_configuration="$(readlink "/proc/$victim_pid/cwd")/redis.conf"
    echo "failover: $victim_name (pid $victim_pid, port $victim_port) serves slot $slot of todo-events:{p0.1}" >&2

    local generator_out="$capacity_dir/failover-generator.out" probe_out="$capacity_dir/failover-probe.out"
    STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --target http --todo-url "$todo" \
        --rate "$rate" --duration "$duration" --partitions 6 --pids-dir "$stack_dir/pids" --drain-seconds 90 \
        >"$generator_out" 2>"$capacity_dir/failover-generator.err" &
    local generator=$!
    python3 scripts/lib/http_probe.py --url "$todo/todos" --duration "$duration" --out "$probe_out" &
    local probe=$!
    background=("$generator" "$probe")
    sleep "$kill_after"
    local killed_at promoted_at="" restarted_at=""
    killed_at="$(now_ms)"
    kill -9 "$victim_pid"
    # Promoted: another node serves the slot and the cluster is ok again, as a surviving master sees it.
    for _ in $(seq 1 600); do
        if node_cli "$other_port" CLUSTER NODES 2>/dev/null | grep -q "$victim_id.*fail" &&
            [ "$(node_cli "$other_port" CLUSTER INFO 2>/dev/null | tr -d '\r' | awk -F: '$1 == "cluster_state" { print $2 }')" = ok ]; then
            promoted_at="$(now_ms)"
            break
        fi
        sleep 0.05
    done
    if [ "$restart_after" = promotion ]; then
        (setsid redis-server "$victim_configuration" >/dev/null 2>&1 < /dev/null &)
        restarted_at="$(now_ms)"
        for _ in $(seq 1 100); do
            pid="$(pgrep -f -n -- "redis-server 127.0.0.1:$victim_port " || true)"
            if [ -n "$pid" ]; then echo "$pid redis-server" >"$stack_dir/pids/$victim_name.pid"; break; fi
            sleep 0.05
        done
    fi
    wait "$probe" || true
    local generator_status=0
    wait "$generator" || generator_status=$?
    background=()
    line="$(grep '^{"' "$generator_out" || true)"
    record "$(python3 - "$probe_out" "$killed_at" "${promoted_at:-0}" "${restarted_at:-0}" "$wait" "$round" "${line:-{\}}" "$generator_status" <<'PY'
import json, sys
probe, killed, promoted, restarted, wait, round_, generator, generator_status = sys.argv[1:9]
killed, promoted, restarted = int(killed), int(promoted), int(restarted)
samples = [tuple(map(int, line.split())) for line in open(probe) if line.strip()]
# A write "held" past the kill: refused (not 2xx) or answered after more than a second.
after = [(t, s, ms) for t, s, ms in samples if t + ms >= killed]
held = [(t, s, ms) for t, s, ms in after if not 200 <= s < 300 or ms > 1000]
refused = [(t, s, ms) for t, s, ms in after if not 200 <= s < 300]
run = {"publish_wait_replicas": int(wait), "round": int(round_), "probe_writes": len(samples),
       "probe_refused": len(refused), "probe_held": len(held),
       "probe_max_ms": max((ms for _, _, ms in after), default=0),
       "promoted_s": round((promoted - killed) / 1000, 2) if promoted else None,
       "restarted_s": round((restarted - killed) / 1000, 2) if restarted else None}
by_status = {}
for _, status, _ in refused:
    by_status[str(status)] = by_status.get(str(status), 0) + 1
run["probe_refused_by_status"] = by_status
if held:
    # Every write answered promptly again from the end of the last held one.
    run["accepted_again_s"] = round((max(t + ms for t, _, ms in held) - killed) / 1000, 2)
r = json.loads(generator)
if r:
    run.update({"created": r["created"], "failed": r["failed"], "lost": r["lost_total"],
                "duplicates": sum(g["duplicates"] for g in r["groups"])})
run["generator_exit"] = int(generator_status)
print(json.dumps(run, sort_keys=True))
PY
)"
    stop_stack
}

for round in $(seq 1 "$rounds"); do
    for wait in $(printf '0\n1\n' | shuf); do
        echo "== round $round/$rounds PUBLISH_WAIT_REPLICAS=$wait  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        run_once "$wait"
    done
done
echo "== medians ($out)" >&2
summarize_modes "$out"
