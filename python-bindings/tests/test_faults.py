"""Faults (docs/api.md "Conventions"): a stack overflow on an M's g0 is reported as one
line naming the M and aborts; other faults reach the host's handler (here Python's
faulthandler) as if libmrt were not loaded. Child processes, of course."""

from __future__ import annotations

import signal

from conftest import run_py


def test_g0_stack_overflow_from_python_start_function():
    # Each qsort comparator call nests libffi, ctypes and the interpreter on the C
    # stack; recursing through it overflows the M's g0 quickly.
    r = run_py("""
        import ctypes, sys, mrt
        sys.setrecursionlimit(1_000_000)
        libc = ctypes.CDLL(None)
        CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, CMP]
        arr = (ctypes.c_int * 2)(2, 1)

        @CMP
        def cmp(a, b):
            libc.qsort(arr, 2, ctypes.sizeof(ctypes.c_int), cmp)
            return 0

        def start():
            print("M", mrt.getm().id, flush=True)
            cmp(None, None)

        mrt.init(maxprocs=1, g0_stack_size=256 << 10)
        mrt.newm(start).wait(60)
        print("survived", flush=True)
    """)
    if "RecursionError" in r.stderr:
        import pytest

        pytest.skip("this Python bounds C recursion itself")
    assert r.returncode == -signal.SIGABRT, r
    mid = int(r.stdout.split()[1])
    lines = [ln for ln in r.stderr.splitlines() if "stack overflow" in ln]
    assert len(lines) == 1 and ("g0 of M %d" % mid) in lines[0], r.stderr


def test_other_faults_reach_the_hosts_handler():
    r = run_py("""
        import ctypes, faulthandler, sys, mrt
        faulthandler.enable()                  # the host's SIGSEGV handler, installed first
        with mrt.Runtime(maxprocs=2):
            ms = [mrt.newm(lambda: None) for _ in range(2)]
            for m in ms:
                m.wait(10)
            print("faulting", flush=True)
            ctypes.string_at(8)                # a NULL-page read on the main thread
    """)
    assert r.stdout == "faulting\n", r
    assert r.returncode == -signal.SIGSEGV, r
    assert "Fatal Python error: Segmentation fault" in r.stderr, r.stderr
    assert "stack overflow" not in r.stderr


def test_fault_on_an_m_reaches_the_hosts_handler():
    r = run_py("""
        import ctypes, faulthandler, sys, mrt
        faulthandler.enable()
        def start():
            print("faulting on M", mrt.getm().id, flush=True)
            ctypes.string_at(8)
        with mrt.Runtime(maxprocs=2):
            mrt.newm(start).wait(60)
    """)
    assert r.stdout.startswith("faulting on M"), r
    assert r.returncode == -signal.SIGSEGV, r
    assert "Fatal Python error: Segmentation fault" in r.stderr, r.stderr
    assert "stack overflow" not in r.stderr
