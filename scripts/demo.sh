#!/usr/bin/env bash
# Runs the demo: publishes typed todo events to `todo-events`, consumes them in the groups
# `notification-service` and `analytics-service`, and shows how to inspect them with
# redis-cli. Uses REDIS_URL when set, otherwise a private redis-server it starts and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_dependencies
swift build --product streams-demo
exec .build/debug/streams-demo "$@"
