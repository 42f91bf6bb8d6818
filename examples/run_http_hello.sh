#!/usr/bin/env bash
# Builds examples/http_hello.c and checks it from another process with
# examples/test_http_hello.py (Python 3 stdlib): keep-alive, pipelining, split
# requests, bodies, Connection: close, HTTP/1.0, 400/413/431/501, vanishing clients,
# 200 connections at once, the idle timeout and EMFILE back-off. Used by `make test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
out="$root/target/c-demo"
mkdir -p "$out"
cc -std=c11 -Wall -Wextra -Werror -O2 -pthread -I"$root/include" -o "$out/http_hello" \
    "$here/http_hello.c" -L"$libdir" -lmrt -Wl,-rpath,"$libdir"
echo "=== http_hello (examples/http_hello.c) checked by examples/test_http_hello.py ==="
timeout 300 python3 "$here/test_http_hello.py" "$out/http_hello"
