#!/usr/bin/env bash
# Runs the mrt Python tests (pytest) against this checkout's package, from any cwd.
# The library comes from $MRT_LIB, else the repository build (target/release/libmrt.so),
# which is built with `make lib` if it is missing. Extra arguments go to pytest
# (paths relative to python-bindings/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
py="${PYTHON:-python3}"

if ! "$py" -c 'import pytest' >/dev/null 2>&1; then
    "$py" -m pip install -q pytest
fi
if [ -z "${MRT_LIB:-}" ] && [ ! -e "$here/mrt/libmrt.so" ] && [ ! -e "$root/target/release/libmrt.so" ]; then
    make -C "$root" lib >&2
fi

cd "$here"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# With no path arguments pytest runs testpaths (tests/) from pyproject.toml.
exec "$py" -m pytest -q -p no:cacheprovider "$@"
