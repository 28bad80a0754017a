#!/usr/bin/env bash
# What the logs and traces cost the stack (BENCHMARKS.md, "Observability"): release builds,
# rounds of the variants below in turns, one fresh todo stack per run, medians per variant.
#
#   scripts/observability-cost.sh [--rounds 3] [--duration 10] [--rate 1000] [--variants "quiet logs ..."]
#                                 [--skip-build] [--out FILE]
#
# Variants (environment of every service):
#   quiet    EVENT_LOG_LEVEL=debug: no line per event (failures only), no tracing
#   logs     the default: one info line per published and handled event, text
#   json     the same lines as JSON (LOG_FORMAT=json)
#   sampled  EVENT_LOG_SAMPLE_RATE=0.01: the lines of 1 flow in 100
#   tracing  the default lines, and every span exported (OTLP/HTTP protobuf, always_on) to a
#            local sink that reads and drops them
#   tracing-sampled  the same with 1 trace in 100 sampled (parentbased_traceidratio 0.01)
# Each run: load-generator --target http at --rate todos/s for --duration s (open loop, every
# todo checked against both consumer groups' receipts), CPU per todo of each process from
# /proc/<pid>/stat; then wrk -t1 -c32 POST /todos for --duration s (closed loop) for the
# highest rate. Service logs go to the stack's log files, as in a deployment.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=10 rate=1000 build=1 out="" variants="quiet logs json sampled tracing tracing-sampled"
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --variants) variants="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --out) out="$2"; shift 2 ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "observability-cost.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

source scripts/lib/measure.sh
export_stack_ports 18180
sink_port=$((base + 8))
work_dir="${CAPACITY_DIR:-/tmp/capacity}/observability"
mkdir -p "$work_dir"
out="${out:-$work_dir/results-$(date -u +%Y%m%dT%H%M%S).jsonl}"
bin=.build/release
if [ "$build" = 1 ]; then build_stack_release; fi
todo="http://127.0.0.1:$TODO_SERVICE_PORT"

# The span sink: answers every OTLP/HTTP export with 200 after reading it.
python3 - "$sink_port" <<'PY' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
sink_pid=$!
stack_dir=""
trap 'stop_stack; kill $sink_pid 2>/dev/null || true' EXIT

variant_environment() {
    case "$1" in
        quiet) echo "EVENT_LOG_LEVEL=debug" ;;
        logs) echo "EVENT_LOG_LEVEL=info" ;;
        json) echo "EVENT_LOG_LEVEL=info LOG_FORMAT=json" ;;
        sampled) echo "EVENT_LOG_LEVEL=info EVENT_LOG_SAMPLE_RATE=0.01" ;;
        tracing) echo "EVENT_LOG_LEVEL=info OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port OTEL_TRACES_SAMPLER=always_on OTEL_BSP_SCHEDULE_DELAY=200" ;;
        tracing-sampled) echo "EVENT_LOG_LEVEL=info OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 OTEL_BSP_SCHEDULE_DELAY=200" ;;
    esac
}

read -r -a variants <<<"$variants"
for round in $(seq 1 "$rounds"); do
    # Rotate the order each round, so no variant always runs first or last.
    order=("${variants[@]:$(( (round - 1) % ${#variants[@]} ))}" "${variants[@]:0:$(( (round - 1) % ${#variants[@]} ))}")
    for variant in "${order[@]}"; do
        echo "== round $round/$rounds $variant  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        stack_dir="$work_dir/stack-$variant-$round-$$"
        rm -rf "$stack_dir"
        [ -n "$(variant_environment "$variant")" ] || { echo "observability-cost.sh: unknown variant $variant" >&2; exit 2; }
        # shellcheck disable=SC2046
        env $(variant_environment "$variant") STACK_DIR="$stack_dir" RECEIPTS_STREAM=receipts "$bin/streams-stack" up >&2
        redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"
        line="$(STACK_DIR="$stack_dir" REDIS_URL="$redis_url" "$bin/load-generator" --target http --todo-url "$todo" \
            --rate "$rate" --duration "$duration" --pids-dir "$stack_dir/pids" --drain-seconds 30 2>"$work_dir/generator.err" |
            grep '^{"')" || true
        if [ -n "$line" ]; then
            record "$(python3 -c '
import json, sys
r = json.loads(sys.argv[1]); p = {x["name"]: x for x in r["processes"]}
out = {"kind": sys.argv[2] + "_generator", "rate": int(sys.argv[3]), "round": int(sys.argv[4]), "achieved": r["rate_achieved"],
  "lost": r["lost_total"], "http_p50_ms": r["request_latency_ms"]["p50"], "http_p99_ms": r["request_latency_ms"]["p99"]}
for name, x in p.items():
    if name != "load-generator": out[name + "_us_per_todo"] = x["cpu_us_per_event"]
print(json.dumps(out))' "$line" "$variant" "$rate" "$round")"
        else
            echo "observability-cost.sh: load-generator gave no report:" >&2
            tail -5 "$work_dir/generator.err" >&2
        fi
        before="$(cpu_ticks)"
        wrk -t1 -c32 -d"${duration}s" -s scripts/wrk-post-todos.lua "$todo" >"$work_dir/wrk.out"
        after="$(cpu_ticks)"
        requests="$(awk '/^wrk-summary/ { sub("requests=", "", $2); print $2 }' "$work_dir/wrk.out")"
        duration_us="$(awk '/^wrk-summary/ { sub("duration_us=", "", $3); print $3 }' "$work_dir/wrk.out")"
        record "$(python3 - "$variant" "$round" "$requests" "$duration_us" "$before" "$after" <<'PY'
import json, os, sys
variant, round_, requests, duration_us = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
before = dict(line.split() for line in sys.argv[5].splitlines())
after = dict(line.split() for line in sys.argv[6].splitlines())
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
run = {"kind": variant + "_wrk", "round": round_, "todos_per_s": round(requests / (duration_us / 1e6), 1)}
for name in ("todo-service", "redis"):
    if name in after and name in before:
        run[name + "_us_per_request"] = round((int(after[name]) - int(before[name])) * tick_us / max(requests, 1), 1)
print(json.dumps(run))
PY
)"
        stop_stack
    done
done
echo "== medians ($out)" >&2
summarize "$out"
