#!/usr/bin/env bash
# The stack of docker-compose.yml without Docker:
#   scripts/stack.sh up       build, start a private redis-server (deploy/redis: same ACL
#                             users and persistence, 127.0.0.1:STACK_REDIS_PORT=6390, data in
#                             .stack/redis) and every service as a background process with
#                             its environment from docker-compose.yml; returns once all
#                             are ready (ports TODO_SERVICE_PORT, NOTIFICATION_SERVICE_PORT,
#                             ANALYTICS_SERVICE_PORT, ORDER_SERVICE_PORT, INVENTORY_SERVICE_PORT,
#                             PAYMENT_SERVICE_PORT, SAGA_COORDINATOR_PORT: 8081-8087). On a
#                             running stack, starts only what is not running. With REDIS_URL
#                             set, uses that Redis.
#                             The Redis users' passwords are made at random on first use
#                             (.stack/secrets.env, mode 600) and reused.
#   scripts/stack.sh up --cluster
#                             the same on a local Redis Cluster: 3 masters and 3 replicas
#                             (redis.conf and ACL as above, cluster-enabled, free loopback ports
#                             P and P+10000 kept across restarts, data and nodes.conf in
#                             .stack/cluster/node<i>), formed with redis-cli --cluster create as
#                             the ACL user cluster-admin; services with STREAM_PARTITIONS=6 (or
#                             the environment's) and a REDIS_URL naming every node. status, down
#                             and logs need no flag (.stack/mode remembers it); up refuses to
#                             start one kind over the other.
#   scripts/stack.sh down     stop exactly the processes `up` started (pids in .stack/pids)
#   scripts/stack.sh status   each process and whether it is ready (exit 3 if not all are),
#                             and the operator's REDIS_URL (for streamsctl, redis-cli -u); on a
#                             cluster each node with its role, and the URL names every node
#   scripts/stack.sh logs [service] [-f]
#   scripts/stack.sh redis-url [user]   the URL of one Redis user (default: operator)
#   scripts/stack.sh secrets [--env-file .env]
#                             make the secrets and .stack/users.acl; or write a fresh
#                             set to .env for docker compose
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
if [ "${1:-}" = "up" ]; then
    ensure_dependencies
    # streams-stack, then every program it runs (docker-compose.yml names them: `streams-stack products`).
    build_stack_products debug
fi
if [ ! -x .build/debug/streams-stack ]; then
    swift build --product streams-stack >&2
fi
exec .build/debug/streams-stack "$@"
