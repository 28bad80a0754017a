#!/usr/bin/env bash
# The order saga's capacity (BENCHMARKS.md, "The order saga under load"): release builds,
# rounds of interleaved runs against one fresh stack per round, medians over the rounds.
#
#   scripts/saga-capacity.sh [--rounds 3] [--duration 10] [--rates "200 500 1000 1500 2000"]
#                            [--skip-build] [--out FILE]
#
# Each round: a fresh stack (release; STACK_DIR under $CAPACITY_DIR, default /tmp/capacity;
# private ports CAPACITY_PORT_BASE+0..7, default 18280; SKUs load-sku-1..3 seeded far above
# any run), then
#   1. wrk -t1 -c32 -s scripts/wrk-post-orders.lua for --duration s (closed loop: as fast as
#      order-service answers), then the wait until every saga ended; sagas per second from
#      the first POST to the last saga's end, CPU per saga of each process;
#   2. load-generator --flow orders at each of --rates (open loop; every saga followed to its
#      end; stock and payments checked, exit 1 on an inconsistency), in a shuffled order.
# One JSON line per run goes to --out (default $CAPACITY_DIR/sagas-<time>.jsonl); the medians
# are printed at the end (scripts/saga-capacity.sh --summary FILE prints them again).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=10 rates="200 500 1000 1500 2000" build=1 out="" summary_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --out) out="$2"; shift 2 ;;
        --summary) summary_only="$2"; shift 2 ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "saga-capacity.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

source scripts/lib/measure.sh
if [ -n "$summary_only" ]; then summarize "$summary_only"; exit 0; fi

source scripts/lib/deps.sh
ensure_dependencies
if ! command -v wrk >/dev/null 2>&1; then
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

export_stack_ports 18280
export INVENTORY_SEED="load-sku-1=1000000000,load-sku-2=1000000000,load-sku-3=1000000000"
capacity_dir="${CAPACITY_DIR:-/tmp/capacity}"
mkdir -p "$capacity_dir"
out="${out:-$capacity_dir/sagas-$(date -u +%Y%m%dT%H%M%S).jsonl}"
bin=.build/release
if [ "$build" = 1 ]; then build_stack_release; fi
orders="http://127.0.0.1:$ORDER_SERVICE_PORT"

stack_dir=""
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sagas ended (completed, compensated or failed) so far.
ended_sagas() {
    redis-cli -u "$redis_url" --no-auth-warning EVAL \
        "return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])" 3 \
        'saga:{order}:status:completed' 'saga:{order}:status:compensated' 'saga:{order}:status:failed' 2>/dev/null || echo 0
}

for round in $(seq 1 "$rounds"); do
    echo "== round $round/$rounds  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    stack_dir="$capacity_dir/saga-stack-$round-$$"
    rm -rf "$stack_dir"
    STACK_DIR="$stack_dir" "$bin/streams-stack" up >&2
    redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"

    # 1. wrk POST /orders, closed loop, then the wait until every saga ended.
    ended_before="$(ended_sagas)"
    completed_before="$(redis-cli -u "$redis_url" --no-auth-warning ZCARD 'saga:{order}:status:completed')"
    compensated_before="$(redis-cli -u "$redis_url" --no-auth-warning ZCARD 'saga:{order}:status:compensated')"
    before="$(cpu_ticks)"
    started=$(date +%s.%N)
    wrk -t1 -c32 -d"${duration}s" -s scripts/wrk-post-orders.lua "$orders" >"$capacity_dir/wrk-orders.out"
    sent_done=$(date +%s.%N)
    requests="$(wrk_requests "$capacity_dir/wrk-orders.out")" non2xx="$(wrk_non2xx "$capacity_dir/wrk-orders.out")"
    # Every accepted order's saga has ended (a saga not started yet is in no status set).
    for _ in $(seq 1 1200); do
        if [ "$(($(ended_sagas) - ended_before))" -ge "$((requests - non2xx))" ]; then break; fi
        sleep 0.1
    done
    ended=$(date +%s.%N)
    after="$(cpu_ticks)"
    completed="$(redis-cli -u "$redis_url" --no-auth-warning ZCARD 'saga:{order}:status:completed')"
    compensated="$(redis-cli -u "$redis_url" --no-auth-warning ZCARD 'saga:{order}:status:compensated')"
    orders_total="$(redis-cli -u "$redis_url" --no-auth-warning XLEN order-events)"
    record "$(python3 - "$before" "$after" "$requests" "$non2xx" "$started" "$sent_done" "$ended" "$round" \
        "$((completed - completed_before))" "$((requests - non2xx - $(ended_sagas) + ended_before))" "$((compensated - compensated_before))" "$orders_total" <<'PY'
import json, os, sys
before = dict(line.split() for line in sys.argv[1].splitlines())
after = dict(line.split() for line in sys.argv[2].splitlines())
requests, non2xx = int(sys.argv[3]), int(sys.argv[4])
started, sent_done, ended = map(float, sys.argv[5:8])
created = requests - non2xx
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
run = {"kind": "wrk_orders", "round": int(sys.argv[8]), "orders_per_s": round(created / (sent_done - started), 1),
       "sagas_per_s": round(created / (ended - started), 1), "created": created, "non2xx": non2xx,
       "completed": int(sys.argv[9]), "unfinished": int(sys.argv[10]), "compensated": int(sys.argv[11]),
       "order_events": int(sys.argv[12]), "drain_s": round(ended - sent_done, 2)}
for name in after:
    if name in before:
        run[name + "_us_per_saga"] = round((int(after[name]) - int(before[name])) * tick_us / max(created, 1), 1)
print(json.dumps(run))
PY
)"

    # 2. The generator, open loop, at fixed rates, in a shuffled order.
    for rate in $(printf '%s\n' $rates | shuf); do
        line="$(STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --flow orders --order-url "$orders" \
            --skus load-sku-1,load-sku-2,load-sku-3 --rate "$rate" --duration "$duration" --pids-dir "$stack_dir/pids" \
            --drain-seconds 60 2>"$capacity_dir/generator.err" | grep '^{"')" || true
        if [ -z "$line" ]; then
            echo "saga-capacity.sh: load-generator at $rate/s gave no report:" >&2
            tail -5 "$capacity_dir/generator.err" >&2
            continue
        fi
        record "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1]); p = {x["name"]: x for x in r["processes"]}
out = {"kind": "generator_orders", "rate": int(sys.argv[2]), "round": int(sys.argv[3]), "created": r["created"],
  "failed": r["failed"], "dropped": r["dropped"], "completed": r["completed"], "compensated": r["compensated"],
  "failed_sagas": r["failed_sagas"], "unfinished": r["unfinished"], "inconsistencies": len(r["inconsistencies"]),
  "sagas_per_s": r["sagas_per_s"], "drain_s": r["drain_s"]}
for key in ("p50", "p90", "p99", "max"):
    out["saga_" + key + "_ms"] = r["saga_completion_latency_ms"][key]
    out["http_" + key + "_ms"] = r["request_latency_ms"][key]
for name, x in p.items():
    out[name + "_us_per_saga"] = x["cpu_us_per_event"]
print(json.dumps(out))' "$line" "$rate" "$round")"
    done
    stop_stack
done
echo "== medians ($out)" >&2
summarize "$out"
