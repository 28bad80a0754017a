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
export BENCH_COMMAND="scripts/bench.sh${*:+ $*}"

# --baseline-rev REV: also build streams-bench at REV (in a git worktree under .bench/) and
# run it in the same interleaved rounds, reported as before/after.
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--baseline-rev" ]; then
    rev=$(git rev-parse --short "$2")
    tree=".bench/baseline-$rev"
    [ -d "$tree" ] || git worktree add --detach "$tree" "$rev" >&2
    (cd "$tree" && swift build -c release --product streams-bench >&2)
    args+=(--baseline "$tree/.build/release/streams-bench" --baseline-label "commit $rev")
    shift 2
  else
    args+=("$1")
    shift
  fi
done
exec python3 scripts/bench.py "${args[@]}"
