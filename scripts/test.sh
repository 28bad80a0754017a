#!/usr/bin/env bash
# Runs every test against real redis-server processes that the tests start themselves.
# Installs redis-server, redis-tools, libhiredis-dev, docker-compose and luacheck first when
# they are missing. Every Lua script (Sources/**/*.lua) must pass luacheck (.luacheckrc) first:
# a warning fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_dependencies compose
find Sources -name '*.lua' -print0 | sort -z | xargs -0 luacheck --quiet --no-color
swift build --build-tests
swift test --skip-build "$@"
