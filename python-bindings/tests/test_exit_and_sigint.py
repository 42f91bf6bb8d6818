"""Leaving a program that uses mrt: at interpreter exit with a G parked for good, and
Ctrl-C while the main thread waits.

Both were bugs: exiting while one G was parked on a channel hung for ever, silently
(the exit hook waited without limit in rt_shutdown), and Ctrl-C was ignored while
the main thread waited in Chan.recv() or join() (one long futex wait inside libmrt,
where Python never gets to run its signal handler). Each test runs a child process
and, for Ctrl-C, sends it a real SIGINT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import mrt
from conftest import PKG_ROOT, run_py


def test_exit_with_a_parked_g_warns_and_exits():
    t0 = time.monotonic()
    r = run_py(
        """
        import ctypes, mrt
        ch = mrt.Chan(ctypes.c_int64)
        mrt.init(maxprocs=2, g_stack_size=1 << 20)
        mrt.go(lambda: ch.recv())        # nobody will ever send
        mrt.sleep(0.2)                   # let it park
        print("exiting", flush=True)
        """,
        timeout=60,
    )
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "exiting"
    assert "mrt: at exit" in r.stderr and "1 G still alive" in r.stderr, r.stderr
    assert "Chan.recv" in r.stderr, r.stderr
    assert took < 30, "exit took %.1f s" % took


def test_exit_with_nothing_left_is_silent():
    r = run_py(
        """
        import mrt
        mrt.init(maxprocs=2, g_stack_size=1 << 20)
        mrt.go(lambda: None).join()
        """
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_exit_with_an_m_still_in_its_python_start_function():
    # CPython ends every thread that wants the GIL while the interpreter finalizes with
    # pthread_exit. In an M's Python start function the forced unwind reached libmrt's
    # panic catcher around the start function and glibc aborted the process ("FATAL:
    # exception not rethrown", status -SIGABRT, 5 runs of 5); the thread must just end.
    r = run_py(
        """
        import mrt, threading
        mrt.init(maxprocs=2, g_stack_size=1 << 20)
        running = threading.Event()
        def spin():
            running.set()
            while True:                  # Python code to the end: wants the GIL
                pass
        mrt.newm(spin)
        running.wait()
        print("exiting", flush=True)
        """,
        timeout=60,
    )
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stdout.strip() == "exiting"
    assert "an M is still in its start function" in r.stderr, r.stderr
    assert "FATAL" not in r.stderr and "fatal error" not in r.stderr, r.stderr


CHILD = """
import ctypes, mrt
mrt.init(maxprocs=2, g_stack_size=1 << 20)
never = mrt.Chan(ctypes.c_int64)   # the main thread waits on it; nobody else uses it
hold = mrt.Chan(ctypes.c_int64)
g = mrt.go(lambda: hold.recv())    # a G parked until the end
wg = mrt.WaitGroup()
wg.add(1)
ops = {
    "recv": lambda: never.recv(),
    "send": lambda: never.send(1),
    "select": lambda: mrt.select([(mrt.RT_RECV, never)]),
    "join": lambda: g.join(),
    "wg.wait": lambda: wg.wait(),
    "sleep": lambda: mrt.sleep(60),
}
for name, op in ops.items():
    print("waiting", name, flush=True)
    try:
        op()
        print("returned", name, flush=True)
    except KeyboardInterrupt:
        print("interrupted", name, flush=True)
hold.close()
wg.done()
try:
    g.join()
except mrt.Closed:
    pass
mrt.shutdown(10 * 10**9)
print("done", flush=True)
"""


def test_ctrl_c_interrupts_the_main_threads_waits():
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), MRT_LIB=os.path.abspath(mrt.LIB_PATH))
    p = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    try:
        assert p.stdout is not None
        for line in p.stdout:
            lines.append(line.strip())
            if line.startswith("waiting"):
                time.sleep(0.3)  # into the wait (arriving earlier interrupts it too)
                p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read() if p.stderr else ""
    ops = ["recv", "send", "select", "join", "wg.wait", "sleep"]
    want = [x for op in ops for x in ("waiting " + op, "interrupted " + op)] + ["done"]
    assert lines == want, (lines, err)
    assert p.returncode == 0, err
