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
#   scripts/stack.sh down     stop exactly the processes `up` started (pids in .stack/pids)
#   scripts/stack.sh status   each process and whether it is ready (exit 3 if not all are),
#                             and the operator's REDIS_URL (for streamsctl, redis-cli -u)
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
