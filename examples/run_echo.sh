#!/usr/bin/env bash
# Builds examples/echo.c and examples/echo_client.c, starts the echo server, drives
# it with CONNS concurrent connections from another process and checks every byte.
# Used by `make demo` (briefly) and by `make test`.   run_echo.sh [CONNS] [BYTES]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
out="$root/target/c-demo"
conns="${1:-100}"
bytes="${2:-65536}"
mkdir -p "$out"
cc -std=c11 -Wall -Wextra -Werror -O2 -pthread -I"$root/include" -o "$out/echo" "$here/echo.c" \
    -L"$libdir" -lmrt -Wl,-rpath,"$libdir"
cc -std=c11 -Wall -Wextra -Werror -O2 -pthread -o "$out/echo_client" "$here/echo_client.c"

log="$(mktemp)"
trap 'rm -f "$log"; [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true' EXIT
# ECHO_TRACE=path: the server runs with $MRT_TRACE=path (python-bindings/tests/test_trace.py).
${ECHO_TRACE:+env MRT_TRACE="$ECHO_TRACE"} "$out/echo" -n "$conns" > "$log" 2>&1 &
srv=$!
for _ in $(seq 1 200); do
    grep -q "listening on" "$log" && break
    kill -0 "$srv" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.05
done
port="$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)"
[ -n "$port" ] || { echo "echo server did not start"; cat "$log"; exit 1; }
echo "=== echo server (examples/echo.c) on port $port; $conns concurrent clients from another process ==="
timeout 120 "$out/echo_client" "$port" "$conns" "$bytes"
timeout 60 tail --pid="$srv" -f /dev/null
wait "$srv"
srv=
cat "$log"
