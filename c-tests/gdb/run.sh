#!/usr/bin/env bash
# libmrt under gdb (issue 11): builds c-tests/gdb/stuck.c (Gs parked in known
# functions), runs it under `gdb -batch` with check.py, which uses the gdb extension
# the library carries (.debug_gdb_scripts, auto-loaded: the safe path is opened for
# the library's directory only) to list the Gs and unwind each. Passes when check.py
# prints `gdb-check: N passed, 0 failed`. MRT_GDB_VERBOSE=1 shows gdb's whole output.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
libdir="$root/target/release"
command -v gdb >/dev/null || { echo "gdb not installed (make deps installs it)"; exit 1; }
mkdir -p "$here/../bin"
bin="$here/../bin/gdb_stuck"
cc -std=c11 -Wall -Wextra -Werror -pthread -g -O0 -I"$root/include" -I"$here/.." \
    -o "$bin" "$here/stuck.c" -L"$libdir" -lmrt -Wl,-rpath,"$libdir" -rdynamic
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
timeout 120 gdb -batch -nx -iex "add-auto-load-safe-path $libdir" \
    -x "$here/check.py" "$bin" >"$out" 2>&1 || true
if [ "${MRT_GDB_VERBOSE:-0}" != 0 ]; then cat "$out"; else grep -E '^(PASS|FAIL)  ' "$out" || true; fi
last="$(grep -E '^gdb-check: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)"
if [[ "$last" =~ ^gdb-check:\ [0-9]+\ passed,\ 0\ failed$ ]]; then
    echo "gdb: $last"
else
    echo "gdb: FAILED (${last:-no summary}); gdb's output:"
    sed -e 's/^/      | /' "$out" | tail -n 80
    exit 1
fi
