#!/usr/bin/env bash
# The `libmrt` distribution as a Python user meets it: in a fresh venv outside the
# source tree, `pip install ./python-bindings` compiles libmrt (setuptools-rust) and
# bundles it, and `import mrt` finds it with no environment variable; `pip wheel`
# makes a py3-none-<platform> wheel holding mrt/libmrt.so and py.typed.
# Prints `N passed, M failed`. Needs cargo and network access to PyPI for the build
# requirements (setuptools, setuptools-rust, wheel).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unset MRT_LIB          # the package must find its own library
. "$here/../ci/checks.sh"

venv="$tmp/venv"
check venv "$py" -m venv "$venv"
vpy="$venv/bin/python"
cd "$tmp" || exit 1
check pip-install "$vpy" -m pip install -q --no-cache-dir --disable-pip-version-check "$here"

cat >"$tmp/smoke.py" <<'PY'
import ctypes, os, sys
import mrt
assert mrt.LIB_FOUND_BY == "package data", (mrt.LIB_FOUND_BY, mrt.LIB_PATH)
assert mrt.LIB_PATH.startswith(sys.prefix), mrt.LIB_PATH
assert os.path.exists(os.path.join(os.path.dirname(mrt.__file__), "py.typed"))
with mrt.Runtime(maxprocs=2, g_stack_size=1 << 20):
    with mrt.Chan(ctypes.c_int64, 4) as ch:
        g = mrt.go(lambda: sum(ch))
        for i in range(100):
            ch.send(i)
    assert g.join() == 4950
    assert mrt.newm(lambda x: x * 2, 21).wait() == 42
print("mrt", mrt.version(), "from", mrt.LIB_PATH)
PY
check import-without-env "$vpy" "$tmp/smoke.py"

wheel_ok() {
    "$vpy" -m pip wheel -q --no-deps --no-cache-dir --disable-pip-version-check -w "$tmp/dist" "$here" &&
    local whl list; whl="$(ls "$tmp"/dist/libmrt-*.whl)" &&
    [[ "$(basename "$whl")" =~ ^libmrt-[0-9.]+-py3-none-linux_x86_64\.whl$ ]] &&
    list="$("$vpy" -m zipfile -l "$whl")" &&
    grep -q '^mrt/libmrt\.so ' <<<"$list" && grep -q '^mrt/py\.typed ' <<<"$list" &&
    basename "$whl"
}
check wheel-tag-and-contents wheel_ok

summary
