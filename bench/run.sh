#!/usr/bin/env bash
# libmrt's benchmarks, each against its peer (bare pthreads now; Go later), printed
# side by side. Builds what it needs into bench/out/, then runs every bench in the
# list below in order; each prints its own table, its ratio line and a last line
# `RESULT <name> ratio=... ...` that scripts can grep.
#
# Usage: bench/run.sh [name-filter] [-- args passed to each bench]   (any directory)
#   name-filter  run only benches whose name contains it (e.g. `newm`)
# Environment: CC (default cc), CFLAGS (default -O2), MRT_BENCH_REBUILD_LIB=1 runs
#              `make lib` even when target/release/libmrt.so exists.
#
# Adding a bench: append "name:kind" to `benches` and, for a new kind, write
# build_<kind> and run_<kind> (each gets the name; run_ also gets the pass-through
# args). Kinds: c (bench/<name>.c linked with libmrt). Go peers will be kind `go`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
out="$here/out"
CC="${CC:-cc}"
CFLAGS="${CFLAGS:--O2}"

benches=(
    "newm_latency:c"   # rt_newm -> start function vs pthread_create, same stack
)

filter=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then filter="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
args=("$@")

# The library, built only if missing (the Makefile's `bench` target builds it first).
if [ ! -e "$libdir/libmrt.so" ] || [ "${MRT_BENCH_REBUILD_LIB:-0}" = 1 ]; then
    make -C "$root" lib >&2
fi
mkdir -p "$out"

build_c() {
    local name="$1"
    "$CC" $CFLAGS -std=c11 -Wall -Wextra -Werror -pthread \
        -I "$root/include" "$here/$name.c" -o "$out/$name" \
        -L "$libdir" -lmrt -Wl,-rpath,"$libdir" -ldl
}

run_c() {
    local name="$1"; shift
    "$out/$name" "$@"
}

status=0
ran=0
for entry in "${benches[@]}"; do
    name="${entry%%:*}"
    kind="${entry#*:}"
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    ran=$((ran + 1))
    echo "== $name ($kind)"
    if ! "build_$kind" "$name"; then
        echo "$name: build failed" >&2; status=1; continue
    fi
    if ! "run_$kind" "$name" ${args[@]+"${args[@]}"}; then
        echo "$name: run failed" >&2; status=1
    fi
    echo
done
[ "$ran" -gt 0 ] || { echo "bench/run.sh: no bench matches '$filter'" >&2; exit 2; }
exit "$status"
