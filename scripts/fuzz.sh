#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of Fuzz/ (a package of its own, so the main build
# never builds them) with AddressSanitizer and leak detection.
#
#   scripts/fuzz.sh [--seconds N] [--jobs N] [target...]
#
# targets: FuzzDecoder (EventDataDecoder on the bytes as JSON, plus round trips) and
# FuzzEnvelope (RawEvent on stream entries made from the bytes); default both, one after
# the other, N seconds each (default 600). The corpus grows in .fuzz/corpus/<target>
# (not committed) from the seeds in Fuzz/Seeds/<target>; crashes, leaks and timeouts are
# written to .fuzz/artifacts/<target>/ and the script exits non-zero. Each run's log is
# .fuzz/<target>.log. Extra libFuzzer flags can be given in FUZZ_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(FuzzDecoder FuzzEnvelope)

scratch=Fuzz/.build/fuzz
for target in "${targets[@]}"; do
  swift build -c release --package-path Fuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$target"
done
bin=$(swift build -c release --package-path Fuzz --scratch-path "$scratch" --show-bin-path)

status=0
for target in "${targets[@]}"; do
  corpus=".fuzz/corpus/$target"
  artifacts=".fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  echo "== $target: ${seconds}s, corpus $corpus, log .fuzz/$target.log" >&2
  # -timeout: an input running 10 s counts as a hang; -rss_limit_mb: memory blow-ups fail;
  # -detect_leaks: LeakSanitizer at exit and on new coverage.
  # shellcheck disable=SC2086
  if ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" "$bin/$target" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} "$corpus" "Fuzz/Seeds/$target" \
      > ".fuzz/$target.log" 2>&1; then
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" ".fuzz/$target.log" >&2 || true
  else
    status=1
    echo "$target FAILED; last lines of .fuzz/$target.log:" >&2
    tail -40 ".fuzz/$target.log" >&2
  fi
done
exit $status
