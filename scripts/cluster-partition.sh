#!/usr/bin/env bash
# A master cut off from the rest of a Redis Cluster (a network partition, not a kill), with a
# writer on each side, and what each side saw (the figures: scripts/lib/partition_report.py).
# Needs root, `ip netns`, veth pairs and iptables, redis-server/redis-cli 7 and python3.
#
#   scripts/cluster-partition.sh [--rounds 3] [--modes "plain wait"] [--cut-seconds 5]
#                                [--node-timeout 1000] [--interval-ms 5] [--timeout-ms 500]
#                                [--wait-timeout-ms 1000] [--subnet 10.77.0] [--out FILE]
#                                [--keep]
#   scripts/cluster-partition.sh --summary FILE
#
# Each run (rounds x modes, interleaved; a fresh cluster per run): six private redis-servers
# (cluster-node-timeout --node-timeout, no persistence), M1 alone in a network namespace
# (SUBNET.2, over a veth pair), the five others in the root namespace on SUBNET.1; every node
# announces the address the others reach it at; `redis-cli --cluster create --cluster-replicas 1`
# then checked: M1 a master whose replica is in the root namespace. Two writers
# (scripts/lib/resp_writer.py), one inside M1's namespace and one in the root namespace, each
# send one XADD every --interval-ms (command timeout --timeout-ms) to a stream whose hash tag is
# in M1's slots (checked with CLUSTER KEYSLOT and CLUSTER SLOTS); mode "wait" follows each XADD
# with WAIT 1 --wait-timeout-ms (acknowledged only if WAIT >= 1, as PUBLISH_WAIT_REPLICAS=1).
# The cut: iptables DROP of everything in and out of the namespace's veth, inside the namespace
# (the link stays up; packets vanish, as in a real partition; M1's own writer reaches M1 over
# the namespace's loopback). After --cut-seconds the rules go, the script waits for the cluster
# to converge (cluster_state:ok everywhere, M1 a synced replica of its promoted replica), for
# an acknowledged write of each writer after that, stops the writers and reads the stream back
# from the new master. One JSON line per run goes to --out (default
# /tmp/cluster-partition-<time>.jsonl); the medians per mode are printed at the end (Markdown
# tables, one JSON line per mode; --summary FILE prints them again). Everything it creates
# (namespace, veth, processes, iptables rules, the temporary directory unless --keep) goes on
# exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 modes="plain wait" cut_seconds=5 node_timeout=1000 interval_ms=5 timeout_ms=500
wait_timeout_ms=1000 subnet=10.77.0 out="" keep=0 summary_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --modes) modes="$2"; shift 2 ;;
        --cut-seconds) cut_seconds="$2"; shift 2 ;;
        --node-timeout) node_timeout="$2"; shift 2 ;;
        --interval-ms) interval_ms="$2"; shift 2 ;;
        --timeout-ms) timeout_ms="$2"; shift 2 ;;
        --wait-timeout-ms) wait_timeout_ms="$2"; shift 2 ;;
        --subnet) subnet="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --summary) summary_only="$2"; shift 2 ;;
        -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cluster-partition.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
report=scripts/lib/partition_report.py
writer=scripts/lib/resp_writer.py
if [ -n "$summary_only" ]; then python3 "$report" summary "$summary_only"; exit 0; fi
for mode in $modes; do
    case "$mode" in plain | wait) ;; *) echo "cluster-partition.sh: unknown mode $mode" >&2; exit 2 ;; esac
done

fail() {
    echo "cluster-partition.sh: $*" >&2
    if [ -n "${run_dir:-}" ]; then # what each node thinks, for the post-mortem (the run's directory is kept)
        local a
        for a in "${addrs[@]}"; do
            echo "--- $a: $(field "$a" INFO replication role) $(field "$a" CLUSTER INFO cluster_state)" >&2
            rc "$a" CLUSTER NODES >&2 2>/dev/null || true
        done
    fi
    exit 1
}
log() { echo "[$(date +%T.%3N)] $*" >&2; }
[ "$(id -u)" = 0 ] || fail "needs root (ip netns, veth, iptables)"
for tool in ip iptables iptables-restore redis-server redis-cli python3; do
    command -v "$tool" >/dev/null || fail "$tool not found"
done
if ip -4 -o addr show | grep -q " $subnet\."; then fail "$subnet.0/24 is in use here; pick another --subnet"; fi

root_ip="$subnet.1" ns_ip="$subnet.2"
ns="rpart$$" veth_root="rp$$r" veth_ns="rp$$n"
work="$(mktemp -d /tmp/cluster-partition.XXXXXX)"
out="${out:-/tmp/cluster-partition-$(date +%Y%m%d-%H%M%S).jsonl}"
node_pids=() writer_pids=() made_ns=0 made_veth=0 run_dir=""

# Ends the given processes: SIGTERM, up to 10 s for them to exit, then SIGKILL.
stop_pids() {
    local pid deadline=$((SECONDS + 10))
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [ ${#writer_pids[@]} -eq 0 ] || stop_pids "${writer_pids[@]}"
    [ ${#node_pids[@]} -eq 0 ] || stop_pids "${node_pids[@]}"
    if [ $made_veth = 1 ]; then ip link del "$veth_root" 2>/dev/null || true; fi
    if [ $made_ns = 1 ]; then ip netns del "$ns" 2>/dev/null || true; fi
    if [ $keep = 1 ] || { [ $status != 0 ] && [ -n "${run_dir:-}" ]; }; then log "kept $work"; else rm -rf "$work"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls "$@" (a command) every 50 ms until it succeeds; fails after $1 seconds with $2 as reason.
wait_for() {
    local seconds="$1" what="$2" deadline
    shift 2
    deadline=$(($(date +%s%N) + seconds * 1000000000))
    until "$@"; do
        [ "$(date +%s%N)" -lt $deadline ] || fail "timed out after ${seconds}s waiting for $what"
        sleep 0.05
    done
}

# --- the network: M1's namespace and the veth pair -------------------------------------------
ip netns add "$ns"; made_ns=1
ip link add "$veth_root" type veth peer name "$veth_ns"; made_veth=1
ip link set "$veth_ns" netns "$ns"
ip addr add "$root_ip/24" dev "$veth_root"
ip link set "$veth_root" up
ip -n "$ns" addr add "$ns_ip/24" dev "$veth_ns"
ip -n "$ns" link set "$veth_ns" up
ip -n "$ns" link set lo up

# Six ports free on the root side (port and port + 10000, the cluster bus); M1 uses the first
# in its own namespace.
read -r -a ports <<<"$(python3 - "$root_ip" <<'PY'
import random, socket, sys
def free(port):
    try:
        with socket.socket() as s:
            s.bind((sys.argv[1], port))
        return True
    except OSError:
        return False
found = []
for port in random.sample(range(20000, 29990), 4000):
    if free(port) and free(port + 10000):
        found.append(port)
        if len(found) == 6:
            break
print(" ".join(map(str, found)))
PY
)"
[ ${#ports[@]} = 6 ] || fail "no six free ports"
addrs=("$ns_ip:${ports[0]}")
for i in 1 2 3 4 5; do addrs+=("$root_ip:${ports[$i]}"); done
log "M1 $ns_ip:${ports[0]} in namespace $ns, the others ${addrs[*]:1} (veth $veth_root/$veth_ns)"

# redis-cli against "host:port".
rc() { local address="$1"; shift; redis-cli -h "${address%:*}" -p "${address##*:}" "$@"; }
field() { rc "$1" "$2" "$3" 2>/dev/null | tr -d '\r' | sed -n "s/^$4://p"; }

all_answer() { local a; for a in "${addrs[@]}"; do [ "$(rc "$a" PING 2>/dev/null)" = PONG ] || return 1; done; }
all_ok() { local a; for a in "${addrs[@]}"; do [ "$(field "$a" CLUSTER INFO cluster_state)" = ok ] || return 1; done; }
# Every node knows six nodes, none failing or in handshake, three masters with slots.
all_agree() {
    local a nodes
    for a in "${addrs[@]}"; do
        nodes="$(rc "$a" CLUSTER NODES 2>/dev/null)" || return 1
        [ "$(grep -c . <<<"$nodes")" = 6 ] || return 1
        ! grep -qE 'fail|handshake|noaddr' <<<"$nodes" || return 1
        [ "$(awk '$3 ~ /master/ && $9 != "" { n++ } END { print n + 0 }' <<<"$nodes")" = 3 ] || return 1
    done
}
synced_replica_of() { # $1 replica, $2 master address
    [ "$(field "$1" INFO replication role)" = slave ] &&
        [ "$(field "$1" INFO replication master_host):$(field "$1" INFO replication master_port)" = "$2" ] &&
        [ "$(field "$1" INFO replication master_link_status)" = up ]
}
# Writer $1 ($2.jsonl of the run) has at least $3 acknowledged writes sent after $4 (ms).
acked_after() {
    [ -f "$run_dir/$1.jsonl" ] || return 1
    python3 - "$run_dir/$1.jsonl" "$2" "$3" <<'PY'
import json, sys
count = 0
for line in open(sys.argv[1]):
    if line.endswith("\n"):
        record = json.loads(line)
        count += record["outcome"] == "ack" and record["sent"] >= float(sys.argv[3])
sys.exit(0 if count >= int(sys.argv[2]) else 1)
PY
}

# Both rules in one iptables-restore: the cut (and the heal) is one ruleset change.
cut() {
    printf '*filter\n-I INPUT -i %s -j DROP\n-I OUTPUT -o %s -j DROP\nCOMMIT\n' "$veth_ns" "$veth_ns" |
        ip netns exec "$ns" iptables-restore --noflush
}
heal() {
    printf '*filter\n-D INPUT -i %s -j DROP\n-D OUTPUT -o %s -j DROP\nCOMMIT\n' "$veth_ns" "$veth_ns" |
        ip netns exec "$ns" iptables-restore --noflush
}

run_once() {
    local round="$1" mode="$2" i dir address m1="${addrs[0]}" m1_id replica replica_id line key tag owner
    run_dir="$work/round$round-$mode"
    mkdir -p "$run_dir"
    log "round $round, mode $mode: starting six nodes"
    for i in 0 1 2 3 4 5; do
        dir="$run_dir/node$i" address="${addrs[$i]}"
        mkdir -p "$dir"
        local server=(redis-server --port "${address##*:}" --bind "${address%:*}" --protected-mode no
            --cluster-enabled yes --cluster-config-file "$dir/nodes.conf"
            --cluster-node-timeout "$node_timeout" --cluster-announce-ip "${address%:*}"
            --save "" --appendonly no --repl-diskless-sync-delay 0 --shutdown-timeout 0 --dir "$dir"
            --logfile "$dir/redis.log" --daemonize no)
        if [ "$i" = 0 ]; then
            ip netns exec "$ns" "${server[@]}" &
        else
            "${server[@]}" &
        fi
        node_pids+=($!)
    done
    wait_for 20 "the nodes to answer" all_answer
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$run_dir/create.log" 2>&1 ||
        { cat "$run_dir/create.log" >&2; fail "redis-cli --cluster create failed"; }
    wait_for 30 "cluster_state:ok on every node" all_ok
    wait_for 30 "every node to know the others" all_agree

    # Placement: M1 a master with slots, its replica in the root namespace (every other node is).
    m1_id="$(rc "$m1" CLUSTER MYID)"
    if [ "$(field "$m1" INFO replication role)" != master ]; then
        log "M1 came out a replica: CLUSTER FAILOVER on it"
        rc "$m1" CLUSTER FAILOVER >/dev/null
        wait_for 30 "M1 to become a master" bash -c "[ \"\$(redis-cli -h ${m1%:*} -p ${m1##*:} ROLE | head -1)\" = master ]"
        wait_for 30 "cluster_state:ok on every node" all_ok
    fi
    replica_id="$(rc "$m1" CLUSTER NODES | awk -v id="$m1_id" '$3 ~ /slave/ && $4 == id { print $1; exit }')"
    if [ -z "$replica_id" ]; then
        # Give M1 a replica: a root-side replica of another master (cannot happen with
        # --cluster-replicas 1 and six nodes, but the figures need one).
        replica_id="$(rc "$m1" CLUSTER NODES | awk '$3 ~ /slave/ { print $1; exit }')"
        line="$(rc "$m1" CLUSTER NODES | awk -v id="$replica_id" '$1 == id')"
        rc "$(awk '{ sub(/@.*/, "", $2); print $2 }' <<<"$line")" CLUSTER REPLICATE "$m1_id" >/dev/null
    fi
    replica="$(rc "$m1" CLUSTER NODES | awk -v id="$replica_id" '$1 == id { sub(/@.*/, "", $2); print $2 }')"
    case "$replica" in "$root_ip":*) ;; *) fail "M1's replica $replica is not in the root namespace" ;; esac
    wait_for 30 "M1's replica $replica in sync" synced_replica_of "$replica" "$m1"

    # A stream key in M1's slots: the first tag {pN} whose slot M1 serves, by CLUSTER KEYSLOT
    # and CLUSTER SLOTS asked of a root-side node.
    key=""
    for tag in $(seq 0 99); do
        owner="$(python3 "$writer" slot-owner --node "${addrs[1]}" --key "partition-events:{p$tag}")"
        if [ "${owner#* }" = "$m1" ]; then key="partition-events:{p$tag}"; break; fi
    done
    [ -n "$key" ] || fail "no tag {p0}..{p99} in M1's slots"
    log "M1 $m1 ($m1_id), its replica $replica; stream $key (slot ${owner% *})"

    local others
    others="$(IFS=,; echo "${addrs[*]:1}")"
    local common=(--key "$key" --mode "$mode" --interval-ms "$interval_ms" --timeout-ms "$timeout_ms"
        --wait-timeout-ms "$wait_timeout_ms")
    ip netns exec "$ns" python3 "$writer" write --name isolated --seeds "$m1,$others" \
        --out "$run_dir/isolated.jsonl" "${common[@]}" &
    writer_pids+=($!)
    python3 "$writer" write --name majority --seeds "$others,$m1" --out "$run_dir/majority.jsonl" "${common[@]}" &
    writer_pids+=($!)
    local start_ms
    start_ms=$(date +%s%3N)
    wait_for 20 "the isolated writer's first writes" acked_after isolated 50 "$start_ms"
    wait_for 20 "the majority writer's first writes" acked_after majority 50 "$start_ms"

    # The cut's and the heal's times are taken once the rules are in place (gone).
    local cut_ms cut_started heal_ms heal_started converged_ms
    cut_started=$(date +%s%3N)
    cut
    cut_ms=$(date +%s%3N)
    log "cut (iptables DROP on $veth_ns inside $ns, $((cut_ms - cut_started)) ms to apply) for ${cut_seconds}s"
    sleep "$cut_seconds"
    heal_started=$(date +%s%3N)
    heal
    heal_ms=$(date +%s%3N)
    log "healed; waiting for the cluster to converge"
    wait_for 60 "M1 to be a synced replica of $replica" synced_replica_of "$m1" "$replica"
    wait_for 60 "cluster_state:ok on every node" all_ok
    wait_for 60 "every node to agree" all_agree
    converged_ms=$(date +%s%3N)
    wait_for 30 "an acknowledged isolated write after convergence" acked_after isolated 1 "$converged_ms"
    wait_for 30 "an acknowledged majority write after convergence" acked_after majority 1 "$converged_ms"
    stop_pids "${writer_pids[@]}"
    writer_pids=()
    python3 "$writer" dump --node "$replica" --key "$key" --out "$run_dir/stream.jsonl" >/dev/null

    local majority_logs=""
    for i in 1 2 3 4 5; do majority_logs+="${majority_logs:+,}\"$run_dir/node$i/redis.log\""; done
    local replica_index
    for i in 1 2 3 4 5; do [ "${addrs[$i]}" = "$replica" ] && replica_index=$i; done
    cat >"$run_dir/run.json" <<JSON
{"mode": "$mode", "round": $round, "node_timeout_ms": $node_timeout, "cut_s": $cut_seconds,
 "cut_method": "iptables DROP in the namespace", "cut_ms": $cut_ms, "cut_started_ms": $cut_started,
 "heal_ms": $heal_ms, "heal_started_ms": $heal_started, "m1": "$m1", "replica": "$replica",
 "converged_ms": $converged_ms, "m1_log": "$run_dir/node0/redis.log",
 "replica_log": "$run_dir/node$replica_index/redis.log", "majority_logs": [$majority_logs]}
JSON
    line="$(python3 "$report" run "$run_dir")"
    echo "$line" >>"$out"
    echo "$line" >&2
    stop_pids "${node_pids[@]}"
    node_pids=()
}

log "results to $out"
for round in $(seq 1 "$rounds"); do
    for mode in $modes; do run_once "$round" "$mode"; done
done
echo "scripts/cluster-partition.sh: $rounds round(s) of: $modes; node timeout ${node_timeout} ms, cut ${cut_seconds} s, one write every ${interval_ms} ms per side, timeout ${timeout_ms} ms, WAIT timeout ${wait_timeout_ms} ms; $out"
python3 "$report" summary "$out"
