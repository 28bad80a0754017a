#!/usr/bin/env bash
# Benchmarks streams-bench (this package, Swift) against the hiredis C reference client
# (../shared/anchors/hb.c) on a private redis-server; see scripts/bench.py --help.
# Prints one JSON line per measurement and rewrites the generated section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_dependencies
swift build -c release --product streams-bench
export BENCH_ENTRY="scripts/bench.sh"
exec python3 scripts/bench.py "$@"
