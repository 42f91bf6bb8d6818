#!/usr/bin/env bash
# Installs what `make demo` and `make test` need on a fresh machine: valgrind, cmake,
# pkg-config (Debian; the install test builds C consumers with these two) and gdb
# (the gdb extension's test),
# pytest and the pinned Zig toolchain (PyPI). Already-present tools are left alone.
# `ci/deps.sh --bench` also installs what only `make bench` uses: wrk (Debian), the HTTP
# load generator of bench/run.sh's http bench (`make test` never needs it).
set -euo pipefail
ZIG_VERSION=0.17.1

# Debian packages, by the command each provides.
pairs=(valgrind:valgrind cmake:cmake pkg-config:pkg-config gdb:gdb)
[ "${1:-}" = --bench ] && pairs+=(wrk:wrk)
missing=()
for pair in "${pairs[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "deps: ${missing[*]} missing and not root; install with apt-get" >&2; exit 1
    fi
fi
py_has() { python3 -c "import $1" >/dev/null 2>&1; }
py_has pytest || python3 -m pip install -q pytest
if [ "$(python3 -c 'import ziglang, importlib.metadata as m; print(m.version("ziglang"))' 2>/dev/null)" != "$ZIG_VERSION" ]; then
    python3 -m pip install -q "ziglang==$ZIG_VERSION"
fi
