#!/usr/bin/env bash
# Builds the client against hiredis 1.x and runs the single-process demo on it, beside the
# Debian package (0.14) the project normally uses. hiredis 1.x comes from the source
# distribution of the `hiredis` Python package on PyPI, which vendors it (no other
# registry is needed); it is built into .build-hiredis1/ and nothing is installed.
#
#   scripts/check-hiredis-1x.sh
#
# Exit status 0 when the demo completed against hiredis 1.x.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_dependencies

work="$PWD/.build-hiredis1"
prefix="$work/prefix"
mkdir -p "$work/src" "$prefix/include/hiredis" "$prefix/lib/pkgconfig"
if [ ! -f "$prefix/lib/libhiredis.so" ]; then
    python3 -m pip download --quiet --no-deps --no-binary :all: hiredis -d "$work/src"
    tar -xzf "$work"/src/hiredis-*.tar.gz -C "$work/src"
    vendor="$(echo "$work"/src/hiredis-*/vendor/hiredis)"
    (cd "$vendor" && gcc -O2 -fPIC -shared -o "$prefix/lib/libhiredis.so" alloc.c async.c dict.c hiredis.c net.c read.c sds.c sockcompat.c)
    cp "$vendor"/*.h "$prefix/include/hiredis/"
fi
version="$(grep -E '#define HIREDIS_(MAJOR|MINOR|PATCH)' "$prefix/include/hiredis/hiredis.h" | awk '{print $3}' | paste -sd. -)"
cat >"$prefix/lib/pkgconfig/hiredis.pc" <<PC
Name: hiredis
Description: hiredis $version (vendored by the hiredis Python package)
Version: $version
Libs: -L$prefix/lib -lhiredis
Cflags: -I$prefix/include
PC
echo "hiredis $version built in $prefix" >&2
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" swift build --scratch-path "$work/build" --product streams-demo >&2
LD_LIBRARY_PATH="$prefix/lib" "$work/build/debug/streams-demo"
