#!/usr/bin/env bash
# What scripts/capacity.sh and scripts/saga-capacity.sh share: the release build of the
# stack, stopping it, CPU ticks per process, recording JSON lines and their medians.
# Uses the callers' variables: bin, stack_dir, out, redis_url.

# Every program the stack runs, and the load generator, in release mode.
build_stack_release() {
    source scripts/lib/deps.sh
    build_stack_products release load-generator
}

stop_stack() {
    if [ -n "$stack_dir" ]; then STACK_DIR="$stack_dir" "$bin/streams-stack" down >&2 || true; fi
    stack_dir=""
}

# utime + stime (clock ticks) of each process of the stack: "name ticks" lines, and
# "name-children ticks" for the children it waited for (cutime + cstime: redis-server's
# AOF rewrites run in a forked child, whose CPU is not in the parent's own time). The pid
# files are those of $1 (default: the stack's pids folder).
cpu_ticks() {
    local file pid name
    for file in "${1:-$stack_dir/pids}"/*.pid; do
        pid="$(cut -d' ' -f1 "$file")"
        [ -r "/proc/$pid/stat" ] || continue
        name="$(basename "$file" .pid)"
        sed 's/^.*) //' "/proc/$pid/stat" | awk -v name="$name" '{print name, $12 + $13; print name "-children", $14 + $15}'
    done
}

# Sum of lag and pending of the consumer groups on todo-events (the caller's $redis_url).
todo_backlog() {
    redis-cli -u "$redis_url" --no-auth-warning XINFO GROUPS todo-events 2>/dev/null |
        awk 'previous == "pending" || previous == "lag" { total += $1 } { previous = $1 } END { print total + 0 }'
}

# Waits (up to 60 s) until both groups on todo-events have nothing left: drained=1, else 0.
wait_for_todo_drain() {
    drained=0
    for _ in $(seq 1 600); do
        if [ "$(todo_backlog)" = 0 ]; then drained=1; return; fi
        sleep 0.1
    done
}

# The requests answered 2xx/3xx in wrk output file $1 (the summary line of scripts/wrk-post-*.lua).
wrk_created() { awk '/^wrk-summary/ { sub("requests=", "", $2); sub("non2xx=", "", $4); print $2 - $4 }' "$1"; }
# The requests sent, and those not answered 2xx/3xx, in wrk output file $1.
wrk_requests() { awk '/^wrk-summary/ { sub("requests=", "", $2); print $2 }' "$1"; }
wrk_non2xx() { awk '/^wrk-summary/ { sub("non2xx=", "", $4); print $4 }' "$1"; }

record() { echo "$1" >>"$out"; echo "$1" >&2; }

# The medians, per kind and rate, of the JSON lines of file $1.
summarize() {
    python3 - "$1" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
groups = defaultdict(list)
for run in runs:
    groups[(run["kind"], run.get("rate", 0))].append(run)
def med(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None
for (kind, rate), items in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1])):
    keys = sorted({key for item in items for key, value in item.items() if isinstance(value, (int, float)) and key != "round"})
    print(json.dumps({"kind": kind, "rate": rate, "runs": len(items), **{key: med([item.get(key) for item in items]) for key in keys}}, sort_keys=True))
PY
}

# The stack's private ports, consecutive from $1 (CAPACITY_PORT_BASE when set): todo,
# notification, analytics, redis, order, inventory, payment, saga-coordinator. Sets `base`.
export_stack_ports() {
    base="${CAPACITY_PORT_BASE:-$1}"
    export TODO_SERVICE_PORT=$base NOTIFICATION_SERVICE_PORT=$((base + 1)) ANALYTICS_SERVICE_PORT=$((base + 2))
    export STACK_REDIS_PORT=$((base + 3)) ORDER_SERVICE_PORT=$((base + 4)) INVENTORY_SERVICE_PORT=$((base + 5))
    export PAYMENT_SERVICE_PORT=$((base + 6)) SAGA_COORDINATOR_PORT=$((base + 7))
}
