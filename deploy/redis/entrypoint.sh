#!/bin/sh
# The redis container's entrypoint (docker-compose.yml): renders the ACL users of
# users.acl.template with this installation's secrets, taken from the environment
# (REDIS_*_PASSWORD, from the shell or .env; see .env.example), into a file only Redis can
# read, then starts Redis through the image's own entrypoint. Refuses to start when a
# secret is missing or malformed. With no arguments it only renders (the tests use that).
#   REDIS_ACL_TEMPLATE  the template (default /usr/local/etc/redis/users.acl.template)
#   REDIS_ACL_FILE      the rendered file (default /usr/local/etc/redis/users.acl, the
#                       aclfile of redis.conf)
#   REDIS_CLUSTER_NODE  "yes" for a node of a Redis Cluster (docker compose's cluster
#                       profile): REDIS_CLUSTER_ADMIN_PASSWORD is then required, and the node's
#                       replication login (masteruser cluster-admin, masterauth) is written to
#                       REDIS_CLUSTER_CONF (default /usr/local/etc/redis/cluster-node.conf, mode
#                       600), which the node's command includes. Otherwise the cluster-admin
#                       user is left out of the ACL unless REDIS_CLUSTER_ADMIN_PASSWORD is set.
set -eu

template="${REDIS_ACL_TEMPLATE:-/usr/local/etc/redis/users.acl.template}"
target="${REDIS_ACL_FILE:-/usr/local/etc/redis/users.acl}"
variables="REDIS_HEALTHCHECK_PASSWORD REDIS_TODO_SERVICE_PASSWORD REDIS_NOTIFICATION_SERVICE_PASSWORD REDIS_ANALYTICS_SERVICE_PASSWORD REDIS_ORDER_SERVICE_PASSWORD REDIS_INVENTORY_SERVICE_PASSWORD REDIS_PAYMENT_SERVICE_PASSWORD REDIS_SAGA_COORDINATOR_PASSWORD REDIS_OPERATOR_PASSWORD"

fail() {
    echo "redis entrypoint: $*" >&2
    exit 1
}

[ -r "$template" ] || fail "cannot read the ACL template $template"

umask 077
script="$(mktemp)"
rendered="$(mktemp)"
trap 'rm -f "$script" "$rendered"' EXIT

# A sed script replacing each ${NAME} by its secret. The alphabet checked here has no
# character that sed or the ACL file would read specially, and needs no escaping in a URL.
for name in $variables; do
    eval "value=\${$name:-}"
    case "$value" in
    "") fail "$name is not set: set it in the environment or in .env (see .env.example)" ;;
    *[!A-Za-z0-9._~-]*) fail "$name may only contain letters, digits and . _ ~ -" ;;
    esac
    [ "${#value}" -ge 16 ] || fail "$name is too short: use 16 characters or more (e.g. openssl rand -hex 24)"
    printf 's/\\${%s}/%s/g\n' "$name" "$value" >>"$script"
done

# The cluster's own user: required on a cluster node, left out of a plain Redis without it.
cluster_password="${REDIS_CLUSTER_ADMIN_PASSWORD:-}"
if [ "${REDIS_CLUSTER_NODE:-}" = yes ] && [ -z "$cluster_password" ]; then
    fail "REDIS_CLUSTER_ADMIN_PASSWORD is not set: a cluster node needs it (set it in the environment or in .env, see .env.example)"
fi
if [ -n "$cluster_password" ]; then
    case "$cluster_password" in
    *[!A-Za-z0-9._~-]*) fail "REDIS_CLUSTER_ADMIN_PASSWORD may only contain letters, digits and . _ ~ -" ;;
    esac
    [ "${#cluster_password}" -ge 16 ] || fail "REDIS_CLUSTER_ADMIN_PASSWORD is too short: use 16 characters or more"
    printf 's/\\${%s}/%s/g\n' REDIS_CLUSTER_ADMIN_PASSWORD "$cluster_password" >>"$script"
else
    printf '/^user cluster-admin /d\n' >>"$script"
fi

# Comments and blank lines are dropped: Redis takes none in an ACL file.
sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' -f "$script" "$template" >"$rendered"
if grep -q '\${' "$rendered"; then
    fail "$template uses a variable this script does not know: $(grep -o '\${[A-Za-z0-9_]*}' "$rendered" | sort -u | tr '\n' ' ')"
fi
cat "$rendered" >"$target"
chmod 600 "$target"
# The image's entrypoint starts redis-server as the user redis: let it read the file.
if [ "$(id -u)" = 0 ] && id redis >/dev/null 2>&1; then chown redis "$target"; fi

if [ "${REDIS_CLUSTER_NODE:-}" = yes ]; then
    # A replica logs in to its master as cluster-admin (the default user is off). In a file
    # only Redis reads, not on the command line.
    cluster_conf="${REDIS_CLUSTER_CONF:-/usr/local/etc/redis/cluster-node.conf}"
    printf 'masteruser cluster-admin\nmasterauth %s\n' "$cluster_password" >"$cluster_conf"
    chmod 600 "$cluster_conf"
    if [ "$(id -u)" = 0 ] && id redis >/dev/null 2>&1; then chown redis "$cluster_conf"; fi
fi

rm -f "$script" "$rendered"
trap - EXIT
[ "$#" -gt 0 ] || exit 0
exec docker-entrypoint.sh "$@"
