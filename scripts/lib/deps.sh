#!/usr/bin/env bash
# Installs what the project needs on Debian when it is missing:
# redis-server, redis-cli, hiredis headers (libhiredis-dev) and pkg-config; with
# `ensure_dependencies compose`, also docker-compose (the tests validate docker-compose.yml
# with it; no Docker engine is needed for that) and luacheck (Debian `lua-check`: the tests
# check every Lua script with it first).
ensure_dependencies() {
    local missing=()
    if [ "${1:-}" = "compose" ] && ! command -v docker-compose >/dev/null 2>&1; then missing+=(docker-compose); fi
    if [ "${1:-}" = "compose" ] && ! command -v luacheck >/dev/null 2>&1; then missing+=(lua-check); fi
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    if ! pkg-config --exists hiredis 2>/dev/null; then missing+=(libhiredis-dev); fi
    if [ ${#missing[@]} -eq 0 ]; then return 0; fi
    echo "Installing missing packages: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    if ! command -v swift >/dev/null 2>&1; then
        echo "swift is not on PATH: install a Swift 6 toolchain (swift.org) first" >&2
        return 1
    fi
}

# Builds streams-stack and every product the local stack runs (the services' programs of
# docker-compose.yml and streamsctl, as `streams-stack products` lists them), in the
# configuration $1 (debug or release), then the products named after it.
build_stack_products() {
    local configuration="$1" product products
    shift
    swift build -c "$configuration" --product streams-stack >&2
    products="$(".build/$configuration/streams-stack" products)" || return 1
    # One product per call: `swift build` honors only the last of several --product options.
    for product in $products "$@"; do
        swift build -c "$configuration" --product "$product" >&2
    done
}
