#!/usr/bin/env bash
# The client's cost of slot routing (BENCHMARKS.md, "Redis Cluster"): streams-bench (release)
# against one cluster-enabled redis-server that serves all 16384 slots, once with the client's
# cluster mode `never` (commands go straight to the connection) and once `always` (the slot map
# loaded, every command's key hashed with CRC16, the map looked up, pipelines split per node and
# reassembled). Same server, same work: the difference in client CPU per event is the routing.
#
#   scripts/cluster-routing-cost.sh [--rounds 5] [--events 200000] [--skip-build]
#
# Each round runs pub, consume and e2e (as fast as possible) for both modes, in a shuffled
# order; client CPU is the process's user + system time (getrusage of the child). Prints one
# JSON line per run and the medians per mode, with always / never ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5 events=200000 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --events) events="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cluster-routing-cost.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
source scripts/lib/deps.sh
ensure_dependencies
if [ "$build" = 1 ]; then swift build -c release --product streams-bench >&2; fi

exec python3 - "$rounds" "$events" <<'PY'
import json, os, random, resource, socket, statistics, subprocess, sys, tempfile, time

rounds, events = int(sys.argv[1]), int(sys.argv[2])
bench = ".build/release/streams-bench"

def free_port():
    while True:
        port = random.randint(20000, 29000)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port)); b.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue

directory = tempfile.mkdtemp(prefix="routing-cost-")
port = free_port()
server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                           "--cluster-config-file", f"{directory}/nodes.conf", "--dir", directory, "--save", "",
                           "--appendonly", "no", "--logfile", f"{directory}/redis.log"])
def cli(*args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True).stdout.strip()
try:
    for _ in range(200):
        if cli("PING") == "PONG":
            break
        time.sleep(0.05)
    cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    for _ in range(200):
        if "cluster_state:ok" in cli("CLUSTER", "INFO"):
            break
        time.sleep(0.05)
    else:
        sys.exit("the one-node cluster did not become ok")

    def run(mode, cluster):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([bench, mode, "-H", "127.0.0.1", "-p", str(port), "-n", str(events), "-k", "routing",
                               "--cluster", cluster], capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"streams-bench {mode} --cluster {cluster} failed: {done.stderr[-500:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rate = float(result.get("e2e_rate") or result["rate"])
        return rate, cpu * 1e6 / events

    results = []
    for round_ in range(1, rounds + 1):
        for cluster in random.sample(["never", "always"], 2):
            cli("DEL", "routing")
            line = {"round": round_, "cluster": cluster}
            for mode in ("pub", "consume", "e2e"):
                rate, cpu = run(mode, cluster)
                line[f"{mode}_per_s"] = round(rate)
                line[f"{mode}_cpu_us"] = round(cpu, 2)
            print(json.dumps(line), flush=True)
            results.append(line)
    summary = {}
    for cluster in ("never", "always"):
        items = [r for r in results if r["cluster"] == cluster]
        summary[cluster] = {k: statistics.median(r[k] for r in items) for k in items[0] if k not in ("round", "cluster")}
    print(json.dumps({"medians": summary}))
    for key in summary["never"]:
        never, always = summary["never"][key], summary["always"][key]
        extra = f"  (+{always - never:.2f} µs/event)" if key.endswith("_cpu_us") else ""
        print(f"{key:16} never {never:>10}  always {always:>10}  always/never {always / never:.3f}{extra}")
finally:
    server.terminate()
    server.wait()
    subprocess.run(["rm", "-rf", directory])
PY
