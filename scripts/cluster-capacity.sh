#!/usr/bin/env bash
# The stack on one redis-server and on a local Redis Cluster (BENCHMARKS.md, "Redis Cluster"):
# release builds, rounds in which every layout runs on a fresh stack in a shuffled order,
# medians over the rounds.
#
#   scripts/cluster-capacity.sh [--rounds 3] [--duration 10] [--layouts "node node6 cluster"]
#                               [--todo-rate 2000] [--order-rate 300] [--skip-build] [--out FILE]
#   scripts/cluster-capacity.sh --summary FILE
#
# Layouts: node (one redis-server, STREAM_PARTITIONS=1: the default), node6 (one redis-server,
# STREAM_PARTITIONS=6: what partitioning costs by itself), cluster (streams-stack up --cluster:
# 3 masters + 3 replicas on loopback, STREAM_PARTITIONS=6, two partitions per master).
# Each run (STACK_DIR under $CAPACITY_DIR, default /tmp/capacity; services on the private
# ports CAPACITY_PORT_BASE+0..7, default 18380):
#   1. wrk -t1 -c32 -s scripts/wrk-post-todos.lua for --duration s (closed loop), then the wait
#      until both groups have drained every partition: todos/s (accepted / sending time) and
#      CPU µs per todo of each process; the redis-servers are named by role (redis-master-1..3,
#      redis-replica-1..3) and the masters' spread is the largest distance from their mean;
#   2. wrk -t1 -c16 -s scripts/wrk-post-orders.lua for --duration s, then the wait until every
#      saga ended: sagas/s from the first POST to the last end, CPU µs per saga;
#      (the stack runs with RECEIPTS_STREAM=receipts, which the generator reads)
#   3. load-generator at --todo-rate (todos over HTTP, every one followed through both groups'
#      receipts: lost and duplicated) and at --order-rate (--flow orders: every saga followed
#      to its end, stock and payments checked).
# One JSON line per run goes to --out (default $CAPACITY_DIR/cluster-<time>.jsonl); the medians
# per layout are printed at the end (--summary FILE prints them again).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=10 layouts="node node6 cluster" todo_rate=2000 order_rate=300 build=1 out="" summary_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --layouts) layouts="$2"; shift 2 ;;
        --todo-rate) todo_rate="$2"; shift 2 ;;
        --order-rate) order_rate="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --out) out="$2"; shift 2 ;;
        --summary) summary_only="$2"; shift 2 ;;
        -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cluster-capacity.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
for layout in $layouts; do
    case "$layout" in node | node6 | cluster) ;; *) echo "cluster-capacity.sh: unknown layout $layout" >&2; exit 2 ;; esac
done

source scripts/lib/measure.sh
summarize_layouts() {
    python3 - "$1" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
groups = defaultdict(list)
for run in runs:
    groups[(run["kind"], run["layout"])].append(run)
for (kind, layout), items in sorted(groups.items()):
    keys = sorted({k for item in items for k, v in item.items() if isinstance(v, (int, float)) and k != "round"})
    medians = {}
    for key in keys:
        values = [item[key] for item in items if item.get(key) is not None]
        if values:
            medians[key] = round(statistics.median(values), 2)
    print(json.dumps({"kind": kind, "layout": layout, "runs": len(items), **medians}, sort_keys=True))
PY
}
if [ -n "$summary_only" ]; then summarize_layouts "$summary_only"; exit 0; fi

source scripts/lib/deps.sh
ensure_dependencies
if ! command -v wrk >/dev/null 2>&1; then
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

export_stack_ports "${CAPACITY_PORT_BASE:-18380}"
export INVENTORY_SEED="load-sku-1=1000000000,load-sku-2=1000000000,load-sku-3=1000000000"
capacity_dir="${CAPACITY_DIR:-/tmp/capacity}"
mkdir -p "$capacity_dir"
out="${out:-$capacity_dir/cluster-$(date -u +%Y%m%dT%H%M%S).jsonl}"
bin=.build/release
if [ "$build" = 1 ]; then build_stack_release; fi
todo="http://127.0.0.1:$TODO_SERVICE_PORT"
orders="http://127.0.0.1:$ORDER_SERVICE_PORT"

stack_dir=""
trap stop_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The partition tags of N partitions (StreamPartitions: see README, "Partitions and ordered groups").
tags_1="" tags_6="p0.1 p1.3 p2 p3.11 p4.20 p5.4"

# redis-cli on the layout's first node as the operator, following MOVED (-c).
rcli() { redis-cli -c -u "$node_url" --no-auth-warning "$@"; }

# Sum of lag and pending of the groups on every partition of todo-events.
todo_backlog() {
    local total=0 key value
    for key in $todo_keys; do
        value="$(rcli XINFO GROUPS "$key" 2>/dev/null |
            awk 'previous == "pending" || previous == "lag" { total += $1 } { previous = $1 } END { print total + 0 }')"
        total=$((total + value))
    done
    echo "$total"
}

# Sagas ended (completed, compensated or failed) over every partition.
ended_sagas() {
    local total=0 prefix status value
    for prefix in $saga_prefixes; do
        for status in completed compensated failed; do
            value="$(rcli ZCARD "$prefix:status:$status" 2>/dev/null || echo 0)"
            total=$((total + ${value:-0}))
        done
    done
    echo "$total"
}

# Sagas of the $1 accepted orders not ended yet (wrk does not count the requests in flight when
# it stops, which the stack still accepts: more may have ended than wrk counted, which is 0).
unfinished_sagas() {
    local open=$(($1 - $(ended_sagas) + $2))
    echo $((open > 0 ? open : 0))
}

# Renames the redis-server pid files by role (redis-master-<k>, redis-replica-<k>) in a copy
# of the pids folder that cpu_ticks reads: the CPU of each master is what the spread is about.
name_nodes_by_role() {
    local masters=0 replicas=0 line name pid role
    mkdir -p "$stack_dir/pids-by-role"
    rm -f "$stack_dir"/pids-by-role/*.pid
    for file in "$stack_dir"/pids/*.pid; do
        name="$(basename "$file" .pid)"
        case "$name" in redis-node*) ;; *) cp "$file" "$stack_dir/pids-by-role/" ;; esac
    done
    while read -r line; do
        name="$(awk '{print $1}' <<<"$line")"
        pid="$(awk '{print $3}' <<<"$line")"
        role="$(cut -d' ' -f6- <<<"$(tr -s ' ' <<<"$line")")"
        if [[ "$role" == master* ]]; then
            masters=$((masters + 1))
            echo "$pid redis-server" >"$stack_dir/pids-by-role/redis-master-$masters.pid"
        else
            replicas=$((replicas + 1))
            echo "$pid redis-server" >"$stack_dir/pids-by-role/redis-replica-$replicas.pid"
        fi
    done < <(grep '^redis-node' "$capacity_dir/status.out")
}

# JSON of a closed-loop run: $1 kind, $2 before ticks, $3 after ticks, $4 created, $5 requests,
# $6 started, $7 sent_done, $8 ended, $9 unit (todo or saga), ${10} extra JSON fields.
closed_loop_record() {
    python3 - "$@" "$layout" "$round" <<'PY'
import json, os, sys
kind, before, after, created, requests, started, sent_done, ended, unit, extra, layout, round_ = sys.argv[1:13]
before = dict(line.split() for line in before.splitlines())
after = dict(line.split() for line in after.splitlines())
created, requests = int(created), int(requests)
started, sent_done, ended = float(started), float(sent_done), float(ended)
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
run = {"kind": kind, "layout": layout, "round": int(round_), "created": created, "non2xx": requests - created,
       "accepted_per_s": round(created / (sent_done - started), 1), "end_to_end_per_s": round(created / (ended - started), 1),
       "drain_s": round(ended - sent_done, 2)}
run.update(json.loads(extra))
masters = []
for name in after:
    if name in before and not name.endswith("-children"):
        value = round((int(after[name]) - int(before[name])) * tick_us / max(created, 1), 1)
        run[f"{name}_us_per_{unit}"] = value
        if name.startswith("redis-master") or name == "redis":
            masters.append(value)
if masters:
    mean = sum(masters) / len(masters)
    run[f"redis_total_us_per_{unit}"] = round(sum(v for k, v in run.items() if k.startswith("redis") and k.endswith(f"_us_per_{unit}")), 1)
    run["masters_mean_us"] = round(mean, 1)
    run["masters_spread_pct"] = round(max(abs(v - mean) for v in masters) / mean * 100, 1) if mean > 0 else 0
print(json.dumps(run))
PY
}

run_layout() {
    stack_dir="$capacity_dir/$layout-$round-$$"
    rm -rf "$stack_dir"
    local partitions=1 up=(up)
    case "$layout" in
        node6) partitions=6 ;;
        cluster) partitions=6 up=(up --cluster) ;;
    esac
    STACK_DIR="$stack_dir" STREAM_PARTITIONS="$partitions" RECEIPTS_STREAM=receipts "$bin/streams-stack" "${up[@]}" >&2
    STACK_DIR="$stack_dir" "$bin/streams-stack" status >"$capacity_dir/status.out"
    redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"
    if [ "$layout" = cluster ]; then
        node_url="$(grep -o 'redis-cli -c -u [^;]*' "$capacity_dir/status.out" | awk '{print $4}')"
        name_nodes_by_role
    else
        node_url="$redis_url"
        mkdir -p "$stack_dir/pids-by-role" && cp "$stack_dir"/pids/*.pid "$stack_dir/pids-by-role/"
    fi
    local tags_var="tags_$partitions" tag
    todo_keys="" saga_prefixes=""
    if [ "$partitions" = 1 ]; then
        todo_keys="todo-events" saga_prefixes="saga:{order}"
    else
        for tag in ${!tags_var}; do
            todo_keys+=" todo-events:{$tag}" saga_prefixes+=" saga:order:{$tag}"
        done
    fi

    # 1. wrk POST /todos, closed loop, then the wait until both groups drained.
    local before after started sent_done ended requests non2xx
    before="$(cpu_ticks "$stack_dir/pids-by-role")"
    started=$(date +%s.%N)
    wrk -t1 -c32 -d"${duration}s" -s scripts/wrk-post-todos.lua "$todo" >"$capacity_dir/wrk.out"
    sent_done=$(date +%s.%N)
    for _ in $(seq 1 600); do
        if [ "$(todo_backlog)" = 0 ]; then break; fi
        sleep 0.1
    done
    ended=$(date +%s.%N)
    after="$(cpu_ticks "$stack_dir/pids-by-role")"
    requests="$(wrk_requests "$capacity_dir/wrk.out")" non2xx="$(wrk_non2xx "$capacity_dir/wrk.out")"
    record "$(closed_loop_record wrk_todos "$before" "$after" "$((requests - non2xx))" "$requests" "$started" "$sent_done" \
        "$ended" todo "{\"backlog_left\": $(todo_backlog)}")"

    # 2. wrk POST /orders, closed loop, then the wait until every saga ended.
    local ended_before
    ended_before="$(ended_sagas)"
    before="$(cpu_ticks "$stack_dir/pids-by-role")"
    started=$(date +%s.%N)
    wrk -t1 -c16 -d"${duration}s" -s scripts/wrk-post-orders.lua "$orders" >"$capacity_dir/wrk-orders.out"
    sent_done=$(date +%s.%N)
    requests="$(wrk_requests "$capacity_dir/wrk-orders.out")" non2xx="$(wrk_non2xx "$capacity_dir/wrk-orders.out")"
    for _ in $(seq 1 1200); do
        if [ "$(($(ended_sagas) - ended_before))" -ge "$((requests - non2xx))" ]; then break; fi
        sleep 0.1
    done
    ended=$(date +%s.%N)
    after="$(cpu_ticks "$stack_dir/pids-by-role")"
    record "$(closed_loop_record wrk_orders "$before" "$after" "$((requests - non2xx))" "$requests" "$started" "$sent_done" \
        "$ended" saga "{\"unfinished\": $(unfinished_sagas "$((requests - non2xx))" "$ended_before")}")"

    # 3. The load generator, open loop: todos, then orders.
    local line
    line="$(STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --target http --todo-url "$todo" \
        --rate "$todo_rate" --duration "$duration" --partitions "$partitions" --pids-dir "$stack_dir/pids-by-role" \
        --drain-seconds 60 2>"$capacity_dir/generator.err" | grep '^{"')" || true
    if [ -n "$line" ]; then
        record "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
out = {"kind": "generator_todos", "layout": sys.argv[2], "round": int(sys.argv[3]), "rate": r["rate_offered"] if "rate_offered" in r else None,
  "achieved": r.get("rate_achieved"), "created": r["created"], "failed": r["failed"], "lost": r["lost_total"],
  "duplicates": sum(g["duplicates"] for g in r["groups"]), "http_p50_ms": r["request_latency_ms"]["p50"],
  "http_p99_ms": r["request_latency_ms"]["p99"]}
for g in r["groups"]:
    out[g["group"].split("-")[0] + "_p99_ms"] = g["handled_latency_ms"]["p99"]
print(json.dumps(out))' "$line" "$layout" "$round")"
    else
        echo "cluster-capacity.sh: load-generator (todos) gave no report:" >&2
        tail -5 "$capacity_dir/generator.err" >&2
    fi
    line="$(STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --flow orders --order-url "$orders" \
        --skus load-sku-1,load-sku-2,load-sku-3 --rate "$order_rate" --duration "$duration" --partitions "$partitions" \
        --pids-dir "$stack_dir/pids-by-role" --drain-seconds 60 2>"$capacity_dir/generator.err" | grep '^{"')" || true
    if [ -n "$line" ]; then
        record "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
out = {"kind": "generator_orders", "layout": sys.argv[2], "round": int(sys.argv[3]), "created": r["created"],
  "failed": r["failed"], "completed": r["completed"], "compensated": r["compensated"], "failed_sagas": r["failed_sagas"],
  "unfinished": r["unfinished"], "inconsistencies": len(r["inconsistencies"]), "sagas_per_s": r["sagas_per_s"],
  "saga_p50_ms": r["saga_completion_latency_ms"]["p50"], "saga_p99_ms": r["saga_completion_latency_ms"]["p99"]}
print(json.dumps(out))' "$line" "$layout" "$round")"
    else
        echo "cluster-capacity.sh: load-generator (orders) gave no report:" >&2
        tail -5 "$capacity_dir/generator.err" >&2
    fi
    stop_stack
}

for round in $(seq 1 "$rounds"); do
    for layout in $(printf '%s\n' $layouts | shuf); do
        echo "== round $round/$rounds $layout  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        run_layout
    done
done
echo "== medians ($out)" >&2
summarize_layouts "$out"
