#!/usr/bin/env bash
# The Zig host of libmrt: build it with the pinned Zig from PyPI, then run it.
#
#   zig/run.sh test [name-substring...]   host tests; last line `N passed, M failed`
#   zig/run.sh demo                       >= 8 Ms with Zig start functions, Ps moving,
#                                         Zig Gs under rt_main
#   zig/run.sh build                      build only (zig/zig-out/bin/mrt-{demo,tests})
#
# Works from any directory. The library comes from target/release (built with
# `make lib` first if it is missing); the Zig cache and the install prefix stay in
# zig/ (.zig-cache, zig-out; both gitignored). ZIG_OPTIMIZE=safe (or fast, small) picks
# another mode than Debug.
set -euo pipefail

ZIG_VERSION=0.17.1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LIBDIR="$ROOT/target/release"

usage() { echo "usage: $0 test [name-substring...] | demo | build" >&2; exit 2; }
[ $# -ge 1 ] || usage
cmd="$1"; shift
case "$cmd" in test|demo|build) ;; *) usage ;; esac

# The pinned compiler, installed from PyPI if absent or another version.
zig_version() { python3 -m ziglang version 2>/dev/null || true; }
if [ "$(zig_version)" != "$ZIG_VERSION" ]; then
    echo "zig/run.sh: installing ziglang==$ZIG_VERSION from PyPI" >&2
    python3 -m pip install -q "ziglang==$ZIG_VERSION" >&2
    [ "$(zig_version)" = "$ZIG_VERSION" ] || { echo "zig/run.sh: ziglang $ZIG_VERSION unavailable" >&2; exit 1; }
fi

if [ ! -e "$LIBDIR/libmrt.so" ] || [ ! -e "$LIBDIR/libmrt.so.0" ] || [ ! -e "$ROOT/include/mrt.h" ]; then
    make -C "$ROOT" --no-print-directory lib >&2
fi

# A cache miss compiles Zig's own runtime pieces, which takes minutes on 2 cores.
cd "$HERE"
python3 -m ziglang build install \
    --cache-dir "$HERE/.zig-cache" \
    --prefix "$HERE/zig-out" \
    --summary none \
    -Doptimize="${ZIG_OPTIMIZE:-debug}" \
    -Dlib-dir="$LIBDIR"

case "$cmd" in
    test) exec "$HERE/zig-out/bin/mrt-tests" "$@" ;;
    demo) exec "$HERE/zig-out/bin/mrt-demo" "$@" ;;
    build) ;;
esac
