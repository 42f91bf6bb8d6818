#!/usr/bin/env bash
# Runs the Python demo: >= 8 Ms with Python start functions, and a P handed between
# Python threads. Works from any cwd; uses $MRT_LIB or the repository build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
py="${PYTHON:-python3}"

if [ -z "${MRT_LIB:-}" ] && [ ! -e "$here/mrt/libmrt.so" ] && [ ! -e "$root/target/release/libmrt.so" ]; then
    make -C "$root" lib >&2
fi
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" "$here/demo.py" "$@"
