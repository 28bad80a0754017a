#!/bin/sh
# docker compose's cluster profile, the one-shot service redis-cluster-init: makes the
# redis-node-* containers one Redis Cluster and exits once it is healthy (the services start
# after it: depends_on ... service_completed_successfully).
# - New nodes (the first knows no other and serves no slot): redis-cli --cluster create, the
#   first third of the nodes masters, --cluster-replicas REDIS_CLUSTER_REPLICAS.
# - Nodes that form a cluster already (a restart) and are not healthy: every node is
#   introduced to every other at its current address (CLUSTER MEET; a node that knows the
#   other's id takes the new address: containers may come back on other addresses).
# Then waits until every node reports cluster_state:ok with all 16384 slots, knows every node,
# and every replica's link to its master is up. Logs in as the ACL user cluster-admin
# (deploy/redis/users.acl.template), its password in REDISCLI_AUTH (not on a command line).
#   REDIS_CLUSTER_NODES           host:port of every node, space-separated, masters first
#   REDIS_CLUSTER_REPLICAS        replicas per master (default 1)
#   REDIS_CLUSTER_ADMIN_PASSWORD  cluster-admin's password
#   REDIS_CLUSTER_TIMEOUT         seconds to wait in all (default 120)
set -eu

say() { echo "redis-cluster-init: $*"; }
fail() {
    echo "redis-cluster-init: $*" >&2
    exit 1
}

nodes="${REDIS_CLUSTER_NODES:-}"
[ -n "$nodes" ] || fail "REDIS_CLUSTER_NODES is not set"
[ -n "${REDIS_CLUSTER_ADMIN_PASSWORD:-}" ] || fail "REDIS_CLUSTER_ADMIN_PASSWORD is not set (see .env.example)"
replicas="${REDIS_CLUSTER_REPLICAS:-1}"
deadline=$(($(date +%s) + ${REDIS_CLUSTER_TIMEOUT:-120}))
REDISCLI_AUTH="$REDIS_CLUSTER_ADMIN_PASSWORD"
export REDISCLI_AUTH

# One node's reply to a command (address first), without the CRs of INFO.
cli() {
    address="$1"
    shift
    redis-cli --no-auth-warning --user cluster-admin -h "${address%:*}" -p "${address##*:}" "$@" 2>&1 | tr -d '\r'
}
field() { sed -n "s/^$1://p"; }

# host:port -> ip:port (CLUSTER MEET and redis-cli --cluster create take addresses).
addresses=""
for node in $nodes; do
    while :; do
        ip="$(getent hosts "${node%:*}" | awk '{ print $1; exit }')"
        [ -z "$ip" ] || break
        [ "$(date +%s)" -lt "$deadline" ] || fail "cannot resolve ${node%:*}"
        sleep 1
    done
    addresses="$addresses $ip:${node##*:}"
done
# shellcheck disable=SC2086
set -- $addresses

# What keeps the cluster from being healthy, or nothing.
problem() {
    for address in "$@"; do
        info="$(cli "$address" CLUSTER INFO)"
        state="$(echo "$info" | field cluster_state)"
        [ "$state" = ok ] || { echo "$address: cluster_state ${state:-?} ($(echo "$info" | head -1))"; return; }
        slots="$(echo "$info" | field cluster_slots_ok)"
        [ "$slots" = 16384 ] || { echo "$address: $slots slots ok"; return; }
        known="$(echo "$info" | field cluster_known_nodes)"
        [ "$known" = "$#" ] || { echo "$address knows $known nodes, not $#"; return; }
        replication="$(cli "$address" INFO replication)"
        if [ "$(echo "$replication" | field role)" = slave ]; then
            link="$(echo "$replication" | field master_link_status)"
            [ "$link" = up ] || { echo "$address: replication link $link"; return; }
        fi
    done
}

first="$1"
info="$(cli "$first" CLUSTER INFO)"
if [ "$(echo "$info" | field cluster_known_nodes)" = 1 ] && [ "$(echo "$info" | field cluster_slots_assigned)" = 0 ]; then
    say "forming the cluster of$addresses ($replicas replica(s) per master)"
    redis-cli --no-auth-warning --user cluster-admin --cluster create "$@" --cluster-replicas "$replicas" --cluster-yes
elif [ -n "$(problem "$@")" ]; then
    say "the nodes form a cluster already; introducing them again at their current addresses"
    for a in "$@"; do
        for b in "$@"; do
            [ "$a" = "$b" ] || cli "$a" CLUSTER MEET "${b%:*}" "${b##*:}" >/dev/null
        done
    done
fi

while :; do
    current="$(problem "$@")"
    [ -n "$current" ] || break
    [ "$(date +%s)" -lt "$deadline" ] || fail "the cluster is not healthy in time: $current"
    sleep 1
done
say "healthy: $# nodes, cluster_state:ok, 16384 slots, every replica linked"
