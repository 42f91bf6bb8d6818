"""Shared set-up for the mrt tests: import the package from this checkout, one fresh
runtime per test, and helpers for child processes and bounded waits.

No test asserts on time. ``WAIT`` only bounds how long a test waits for an event that
must happen (an M's start function running, a P coming back), so that a broken library
fails a test instead of hanging the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PKG_ROOT = Path(__file__).resolve().parent.parent  # python-bindings/
REPO = PKG_ROOT.parent
HEADER = REPO / "include" / "mrt.h"
sys.path.insert(0, str(PKG_ROOT))

import mrt  # noqa: E402

WAIT = 10.0  # seconds; an upper bound for things that must happen, never a measurement
SHUTDOWN_NS = 30 * 10**9
NPROCS = 4


def ensure_stopped() -> None:
    """Leave no runtime running (a failed test may have left one)."""
    release_held_p()
    try:
        mrt.shutdown(SHUTDOWN_NS)
    except mrt.Shutdown:
        pass


def release_held_p() -> None:
    """If this thread's M holds a P, give it back to the pool."""
    p = mrt.getp()
    if p is not None:
        mrt.releasep()
        with contextlib.suppress(mrt.MrtError):
            p.put()


@contextlib.contextmanager
def fresh_runtime(**cfg):
    """A runtime started for the block and shut down after it."""
    ensure_stopped()
    rt = mrt.Runtime(shutdown_timeout_ns=SHUTDOWN_NS, **cfg)
    rt.__enter__()
    try:
        yield rt
    finally:
        release_held_p()
        rt.__exit__(None, None, None)


@pytest.fixture
def rt():
    """A running runtime with NPROCS Ps; shut down (joining every M) afterwards."""
    with fresh_runtime(maxprocs=NPROCS) as r:
        yield r


def wait_for(pred, what: str = "condition"):
    """Poll ``pred`` until it is true (for state with no event to wait on, such as an
    M putting its nextp back in the pool); fail after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what)
        time.sleep(0.0005)


def run_py(code: str, env: dict = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's mrt and the
    library this process loaded."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(PKG_ROOT)
    full_env["MRT_LIB"] = os.path.abspath(mrt.LIB_PATH)
    full_env.pop("MRT_MAXPROCS", None)
    full_env.pop("MRT_DEBUG", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def foreign_buffer():
    """Zeroed memory that is not an M or a P (kept alive by the caller)."""
    return ctypes.create_string_buffer(4096)
