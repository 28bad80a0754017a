#!/usr/bin/env bash
# Load test of the running system: offers todo.created events at a fixed rate (open loop)
# and reports HTTP latency, publish→handled latency per consumer group, lost, duplicated
# and dead-lettered events, and each service's CPU and memory (load-generator).
#
#   scripts/load-test.sh --rate R --duration S [--target http|bus|health] [--consumers N] [--debug]
#                        [--skip-build] [load-generator options, e.g. --concurrency 128]
#
# With REDIS_URL and TODO_URL both set, runs against that existing stack (REDIS_URL as a
# user that may read `receipts` and write `todo-events`, e.g. the operator; the consumers
# must run with RECEIPTS_STREAM=receipts). Otherwise starts the stack itself
# (RECEIPTS_STREAM=receipts scripts/stack.sh up; state in STACK_DIR, default .stack) and
# stops what it started at the end, even on failure. The services' ports (TODO_SERVICE_PORT,
# NOTIFICATION_SERVICE_PORT, ANALYTICS_SERVICE_PORT, ORDER_SERVICE_PORT, INVENTORY_SERVICE_PORT,
# PAYMENT_SERVICE_PORT, SAGA_COORDINATOR_PORT; default 8081-8087) must be free.
#
# Builds and runs release binaries (swift build -c release, .build/release; the stack tool is
# run from there directly, since scripts/stack.sh runs the debug build): figures of a debug
# build say little about the code.
#
# --consumers N  runs N instances of each consumer service: the stack's one plus N-1 more,
#                started here with the first instance's environment (as docker-compose.yml
#                gives it), CONSUMER_NAME <service>-<k> and HTTP_PORT 8100+k (notification)
#                or 8200+k (analytics); recorded in STACK_DIR/pids as <service>-<k>.pid.
# --flow F       todos (default: todo.created through the consumer groups) or orders (POST
#                /orders to order-service; every saga followed to its end; stock and payments
#                checked; SKUs load-sku-1..3, seeded with INVENTORY_SEED when the stack starts;
#                ORDER_URL with an existing stack).
# --debug        builds and runs the debug build instead (.build/debug, through scripts/stack.sh).
# --release      the default; accepted for older command lines.
# --skip-build   uses the binaries already built (LOAD_TEST_BIN_DIR, default .build/release or,
#                with --debug, .build/debug); for callers that hold SwiftPM's build lock (swift test).
#
# Exit status: the load generator's (0 when no event was lost, 1 otherwise or when the
# target was unreachable), or 1 when the stack could not be started.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

rate="" duration="" target="http" consumers=1 configuration="release" build=1 flow="todos"
generator_options=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
        --target) target="${2:?--target needs http or bus}"; shift 2 ;;
        --consumers) consumers="${2:?--consumers needs a number}"; shift 2 ;;
        --flow) flow="${2:?--flow needs todos or orders}"; shift 2 ;;
        --release) configuration="release"; shift ;;
        --debug) configuration="debug"; shift ;;
        --skip-build) build=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) generator_options+=("$1"); shift ;;
    esac
done
if [ -z "$rate" ] || [ -z "$duration" ]; then
    echo "load-test.sh: --rate and --duration are required (see --help)" >&2
    exit 2
fi
case "$target" in http | bus | health) ;; *) echo "load-test.sh: --target must be http, bus or health" >&2; exit 2 ;; esac
case "$flow" in todos | orders) ;; *) echo "load-test.sh: --flow must be todos or orders" >&2; exit 2 ;; esac
if ! [[ "$consumers" =~ ^[1-9][0-9]?$ ]]; then
    echo "load-test.sh: --consumers must be 1 to 99" >&2
    exit 2
fi

source scripts/lib/deps.sh
ensure_dependencies

bin="${LOAD_TEST_BIN_DIR:-.build/$configuration}"
existing_stack=0
if [ -n "${REDIS_URL:-}" ] && [ -n "${TODO_URL:-}" ]; then existing_stack=1; fi
if [ "$existing_stack" = 1 ] && [ "$consumers" != 1 ]; then
    echo "load-test.sh: --consumers needs a stack this script starts (unset REDIS_URL or TODO_URL)" >&2
    exit 2
fi

if [ "$build" = 1 ]; then
    if [ "$existing_stack" = 0 ]; then
        build_stack_products "$configuration" load-generator
    else
        swift build -c "$configuration" --product load-generator >&2
    fi
fi
programs=(load-generator)
if [ "$existing_stack" = 0 ]; then
    if [ ! -x "$bin/streams-stack" ]; then
        echo "load-test.sh: $bin/streams-stack is not built (swift build -c $configuration --product streams-stack)" >&2
        exit 1
    fi
    programs+=(streams-stack $("$bin/streams-stack" products))
fi
for program in "${programs[@]}"; do
    if [ ! -x "$bin/$program" ]; then
        echo "load-test.sh: $bin/$program is not built (swift build -c $configuration --product $program)" >&2
        exit 1
    fi
done

stack_dir="${STACK_DIR:-.stack}"
started_stack=0
extra_instances=()

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when GET http://127.0.0.1:<port>/ready answers 200.
is_ready() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
        IFS= read -r -t 2 line <&3 && [[ "$line" == *" 200"* ]]
    ) 2>/dev/null
}

# The stack tool: scripts/stack.sh for a debug build (it builds and runs .build/debug),
# the tool of the chosen build directly otherwise.
stack_tool() {
    if [ "$build" = 1 ] && [ "$configuration" = debug ] && [ -z "${LOAD_TEST_BIN_DIR:-}" ]; then
        scripts/stack.sh "$@"
    else
        "$bin/streams-stack" "$@"
    fi
}

stop_extra_instances() {
    local entry pid name
    for entry in "${extra_instances[@]}"; do
        pid="${entry%% *}"
        kill -TERM "$pid" 2>/dev/null || true
    done
    for entry in "${extra_instances[@]}"; do
        pid="${entry%% *}" name="${entry#* }"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "load-test.sh: $name (pid $pid) did not stop within 15 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        rm -f "$stack_dir/pids/$name.pid"
    done
    extra_instances=()
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ ${#extra_instances[@]} -gt 0 ]; then stop_extra_instances; fi
    if [ "$started_stack" = 1 ]; then
        stack_tool down >&2 || echo "load-test.sh: stopping the stack failed; see $stack_dir/pids" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts instance k of a consumer service with the environment of its first instance.
start_extra_instance() {
    local service="$1" k="$2" port="$3"
    local first_pid environment=() pid
    first_pid="$(cut -d' ' -f1 "$stack_dir/pids/$service.pid")"
    mapfile -d '' environment < "/proc/$first_pid/environ"
    env -i "${environment[@]}" CONSUMER_NAME="$service-$k" HTTP_PORT="$port" \
        "$bin/$service" >"$stack_dir/logs/$service-$k.log" 2>&1 &
    pid=$!
    extra_instances+=("$pid $service-$k")
    echo "$pid $service" >"$stack_dir/pids/$service-$k.pid"
    echo "$service-$k: pid $pid  http://127.0.0.1:$port" >&2
}

if [ "$existing_stack" = 0 ]; then
    ports=("${TODO_SERVICE_PORT:-8081}" "${NOTIFICATION_SERVICE_PORT:-8082}" "${ANALYTICS_SERVICE_PORT:-8083}"
        "${ORDER_SERVICE_PORT:-8084}" "${INVENTORY_SERVICE_PORT:-8085}" "${PAYMENT_SERVICE_PORT:-8086}" "${SAGA_COORDINATOR_PORT:-8087}")
    for k in $(seq 2 "$consumers"); do ports+=($((8100 + k)) $((8200 + k))); done
    for port in "${ports[@]}"; do
        if listening "$port"; then
            echo "load-test.sh: port $port is in use: is a stack already running? Stop it (scripts/stack.sh down)," \
                "or run against it with REDIS_URL=\$(scripts/stack.sh redis-url) TODO_URL=http://127.0.0.1:8081" >&2
            exit 1
        fi
    done
    started_stack=1
    # The orders flow takes its stock from SKUs of its own, seeded (once) far above any run.
    if [ "$flow" = orders ]; then
        export INVENTORY_SEED="${INVENTORY_SEED:-sku-1=100,sku-2=5,load-sku-1=1000000000,load-sku-2=1000000000,load-sku-3=1000000000}"
    fi
    if ! RECEIPTS_STREAM=receipts stack_tool up >&2; then
        echo "load-test.sh: the stack did not start (logs in $stack_dir/logs)" >&2
        exit 1
    fi
    for k in $(seq 2 "$consumers"); do
        start_extra_instance notification-service "$k" $((8100 + k))
        start_extra_instance analytics-service "$k" $((8200 + k))
    done
    for k in $(seq 2 "$consumers"); do
        for port in $((8100 + k)) $((8200 + k)); do
            ready=0
            for _ in $(seq 1 300); do
                if is_ready "$port"; then ready=1; break; fi
                sleep 0.2
            done
            if [ "$ready" = 0 ]; then
                echo "load-test.sh: the consumer on port $port is not ready after 60 s (logs in $stack_dir/logs)" >&2
                exit 1
            fi
        done
    done
fi

arguments=(--rate "$rate" --duration "$duration" --target "$target" --pids-dir "$stack_dir/pids" --flow "$flow")
arguments+=(--todo-url "${TODO_URL:-http://127.0.0.1:${TODO_SERVICE_PORT:-8081}}")
if [ "$flow" = orders ]; then
    arguments+=(--order-url "${ORDER_URL:-http://127.0.0.1:${ORDER_SERVICE_PORT:-8084}}")
    if [[ " ${generator_options[*]} " != *" --skus "* ]]; then arguments+=(--skus "load-sku-1,load-sku-2,load-sku-3"); fi
fi
# The generator reads receipts and publishes as the operator: the stack's URL has this
# installation's secret (.stack/secrets.env).
redis_url="${REDIS_URL:-}"
if [ "$existing_stack" = 0 ]; then redis_url="$(stack_tool redis-url operator)"; fi
status=0
REDIS_URL="$redis_url" STACK_DIR="$stack_dir" "$bin/load-generator" "${arguments[@]}" "${generator_options[@]}" || status=$?
if [ "$status" != 0 ] && [ "$started_stack" = 1 ]; then
    echo "load-test.sh: load-generator exited $status; service logs: $stack_dir/logs/" >&2
fi
exit "$status"
