#!/usr/bin/env bash
# Runs every test against real redis-server processes that the tests start themselves.
# Installs redis-server, redis-tools, libhiredis-dev and docker-compose first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_dependencies compose
swift build --build-tests
swift test --skip-build "$@"
