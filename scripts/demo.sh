#!/usr/bin/env bash
# The README's run command: brings the whole stack up without Docker (a private
# redis-server unless REDIS_URL is set, and todo-service, notification-service,
# analytics-service, order-service, inventory-service, payment-service, saga-coordinator as
# local processes configured from docker-compose.yml), then drives a
# short flow through the HTTP APIs (todos, then three orders through the order saga) and
# prints what each service did and how to look at it.
# One user's webhook (dave's) points at a closed port on purpose: his notifications are
# retried through the pending-entries list and end in the dead letters.
# The stack keeps running afterwards; stop it with `scripts/stack.sh down`.
# scripts/demo.sh --cluster: the same flow on a local Redis Cluster (scripts/stack.sh up
# --cluster: 3 masters, 3 replicas, six partitions per stream).
set -euo pipefail
cd "$(dirname "$0")/.."
up=(up)
case "${1:-}" in
"") ;;
--cluster) up=(up --cluster) ;;
*)
    echo "usage: scripts/demo.sh [--cluster]" >&2
    exit 2
    ;;
esac
export NOTIFICATION_WEBHOOK_URL="${NOTIFICATION_WEBHOOK_URL:-http://127.0.0.1:9/unreachable}"
export NOTIFICATION_WEBHOOK_USERS="${NOTIFICATION_WEBHOOK_USERS:-dave}"
export MAX_DELIVERIES="${MAX_DELIVERIES:-3}"
export RETRY_INITIAL_BACKOFF_MS="${RETRY_INITIAL_BACKOFF_MS:-300}"
# A stack left running by an earlier run is restarted with these settings.
if [ -d .stack/pids ] && [ -n "$(ls -A .stack/pids 2>/dev/null)" ]; then bash scripts/stack.sh down; fi
bash scripts/stack.sh "${up[@]}"
exec .build/debug/streams-stack flow
