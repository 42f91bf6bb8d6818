#!/usr/bin/env bash
# Build and run the C demo (examples/demo_c.c) against target/release/libmrt.so.
# Works from any directory; `make demo` calls it after `make lib`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
out="$root/target/c-demo"
CC="${CC:-cc}"

if [ ! -f "$libdir/libmrt.so" ] || [ ! -f "$root/include/mrt.h" ]; then
    echo "run_demo_c.sh: build the library first: make lib" >&2
    exit 1
fi
[ -e "$libdir/libmrt.so.0" ] || ln -sf libmrt.so "$libdir/libmrt.so.0"

mkdir -p "$out"
"$CC" -std=c11 -Wall -Wextra -Werror -pthread -O2 -I"$root/include" \
    -o "$out/demo_c" "$here/demo_c.c" \
    -L"$libdir" -lmrt -Wl,-rpath,"$libdir"

echo "=== C host (examples/demo_c.c) ==="
"$out/demo_c"
