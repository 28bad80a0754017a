#!/usr/bin/env bash
# What one todo (or one order saga) costs across the stack (BENCHMARKS.md, issue 13): CPU per
# process and the Redis commands it causes, for one or more builds side by side in
# interleaved rounds.
#
#   scripts/todo-cost.sh [--rounds 3] [--duration 10] [--connections 32] [--skip-build]
#                        [--bin LABEL=DIR ...] [--out FILE] [--flow todos|orders] [--rate 500]
#
# Each --bin is a directory holding streams-stack and the services (default: after=.build/release,
# built unless --skip-build). Per round and per build, in an order that alternates between rounds:
# a fresh stack (RECEIPTS_STREAM=receipts, private ports from TODO_COST_PORT_BASE, default
# 18480), wrk -t1 -cC GET /health for 5 s (the bare route's rate), then wrk -t1 -cC POST /todos
# for --duration s (scripts/wrk-post-todos.lua) and the wait until both groups have nothing
# left; then from /proc/<pid>/stat the CPU µs per todo of every process and from INFO
# commandstats every command's calls and µs per todo (commands run by scripts included, as
# Redis counts them). With --flow orders the unit is a saga: load-generator --flow orders at
# --rate orders/s (open loop) for --duration s, each saga followed to its end and stock and
# payments checked, then the same figures per saga. One JSON line per run goes to --out; the
# medians are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=10 connections=32 build=1 out="" bins=() flow=todos rate=500
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --bin) bins+=("$2"); shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --flow) flow="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "todo-cost.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ ${#bins[@]} -gt 0 ] || bins=("after=.build/release")
case "$flow" in todos | orders) ;; *) echo "todo-cost.sh: --flow is todos or orders" >&2; exit 2 ;; esac

source scripts/lib/measure.sh
export_stack_ports "${TODO_COST_PORT_BASE:-18480}"
work_dir="${TODO_COST_DIR:-/tmp/todo-cost}"
mkdir -p "$work_dir"
out="${out:-$work_dir/results-$(date -u +%Y%m%dT%H%M%S).jsonl}"
if [ "$build" = 1 ]; then build_stack_release; fi
todo="http://127.0.0.1:$TODO_SERVICE_PORT"
export INVENTORY_SEED="load-sku-1=1000000000,load-sku-2=1000000000,load-sku-3=1000000000"

bin="" stack_dir=""
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

commandstats() { redis-cli -u "$redis_url" --no-auth-warning INFO commandstats | tr -d '\r' | grep '^cmdstat_'; }

# wrk POST /todos (closed loop), then the wait until both groups have nothing left.
post_todos() {
    wrk -t1 -c"$connections" -d"${duration}s" -s scripts/wrk-post-todos.lua "$todo" >"$work_dir/wrk.out"
    sent_done=$(date +%s.%N)
    wait_for_todo_drain
    created="$(wrk_created "$work_dir/wrk.out")"
}

# load-generator --flow orders at $rate/s (open loop), every saga followed to its end.
generate_orders() {
    local line
    line="$(STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --flow orders \
        --order-url "http://127.0.0.1:$ORDER_SERVICE_PORT" --skus load-sku-1,load-sku-2,load-sku-3 --rate "$rate" \
        --duration "$duration" --drain-seconds 60 2>"$work_dir/generator.err" | grep '^{"')" || true
    sent_done=$(date +%s.%N)
    if [ -z "$line" ]; then
        echo "todo-cost.sh: load-generator gave no report:" >&2
        tail -5 "$work_dir/generator.err" >&2
        created=0 drained=0
        return
    fi
    created="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["created"])' "$line")"
    drained="$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(int(r["unfinished"] == 0 and not r["inconsistencies"]))' "$line")"
}

measure() {
    local label="$1" round="$2"
    bin="${3%/}"
    stack_dir="$work_dir/stack-$label-$round-$$"
    rm -rf "$stack_dir"
    STACK_DIR="$stack_dir" RECEIPTS_STREAM=receipts "$bin/streams-stack" up >&2
    redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"
    local bare before after stats_before stats_after started sent_done created drained
    bare=0
    if [ "$flow" = todos ]; then bare="$(wrk -t1 -c"$connections" -d5s "$todo/health" | awk '/^Requests\/sec/ { print $2 }')"; fi
    before="$(cpu_ticks)"
    stats_before="$(commandstats)"
    started=$(date +%s.%N)
    if [ "$flow" = todos ]; then post_todos; else generate_orders; fi
    after="$(cpu_ticks)"
    stats_after="$(commandstats)"
    record "$(python3 - "$label" "$round" "$bare" "$before" "$after" "$stats_before" "$stats_after" "$created" "$started" \
        "$sent_done" "$drained" "$flow" <<'EOF'
import json, os, re, sys
label, round_, bare = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
before = dict(line.split() for line in sys.argv[4].splitlines())
after = dict(line.split() for line in sys.argv[5].splitlines())
def stats(text):
    found = {}
    for line in text.splitlines():
        match = re.match(r"cmdstat_(\S+):calls=(\d+),usec=(\d+)", line)
        if match: found[match[1]] = (int(match[2]), int(match[3]))
    return found
stats_before, stats_after = stats(sys.argv[6]), stats(sys.argv[7])
created = max(int(sys.argv[8]), 1)
started, sent_done = float(sys.argv[9]), float(sys.argv[10])
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
per_s = created / (sent_done - started)
if sys.argv[12] == "todos":
    run = {"kind": label, "round": round_, "todos_per_s": round(per_s, 1), "bare_route_per_s": bare,
           "post_to_bare": round(per_s / bare, 3), "created": created, "caught_up": int(sys.argv[11])}
else:  # the load and the drain until every saga ended
    run = {"kind": label, "round": round_, "sagas_per_s": round(per_s, 1), "created": created,
           "all_ended_consistent": int(sys.argv[11])}
for name in after:
    if name in before:
        run["cpu_" + name] = round((int(after[name]) - int(before[name])) * tick_us / created, 1)
# A command a script runs counts in its own line and in the script's (EVALSHA) time.
calls = 0
for name, (c, u) in stats_after.items():
    c0, u0 = stats_before.get(name, (0, 0))
    if c - c0 > 0 and name != "info":
        run["calls_" + name] = round((c - c0) / created, 3)
        run["usec_" + name] = round((u - u0) / created, 2)
        calls += c - c0
run["calls_total"] = round(calls / created, 2)
print(json.dumps(run))
EOF
)"
    stop_stack
}

for round in $(seq 1 "$rounds"); do
    echo "== round $round/$rounds  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    order=("${bins[@]}")
    if [ $((round % 2)) = 0 ]; then
        order=()
        for ((index = ${#bins[@]} - 1; index >= 0; index--)); do order+=("${bins[$index]}"); done
    fi
    for entry in "${order[@]}"; do measure "${entry%%=*}" "$round" "${entry#*=}"; done
done
echo "== medians ($out)" >&2
summarize "$out"
