"""The runtime's life cycle (docs/api.md "Runtime"): init, lazy init, shutdown, re-init,
gomaxprocs, MRT_MAXPROCS, fork, exit."""

from __future__ import annotations

import ctypes
import os

import pytest

import mrt
from conftest import NPROCS, WAIT, ensure_stopped, fresh_runtime, run_py


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def test_context_manager_inits_and_shuts_down():
    ensure_stopped()
    with mrt.Runtime(maxprocs=3) as rt:
        assert isinstance(rt, mrt.Runtime)
        assert mrt.gomaxprocs() == 3
        assert mrt.stats().maxprocs == 3
        assert [mrt.P.get(i).id for i in range(3)] == [0, 1, 2]
    with pytest.raises(mrt.Shutdown):
        mrt.gomaxprocs()
    assert mrt.P.get(0) is None
    assert mrt.getp() is None


def test_init_while_running_is_already(rt):
    with pytest.raises(mrt.Already) as ei:
        mrt.init(maxprocs=2)
    assert ei.value.code == mrt.RT_EALREADY and ei.value.name == "RT_EALREADY"
    with pytest.raises(mrt.Already):
        with mrt.Runtime():
            pass
    assert mrt.gomaxprocs() == NPROCS  # the running runtime is untouched


def test_shutdown_when_not_running():
    ensure_stopped()
    with pytest.raises(mrt.Shutdown):
        mrt.shutdown()
    with pytest.raises(mrt.Shutdown):
        mrt.shutdown(0)


def test_calls_after_shutdown_say_shutdown():
    with fresh_runtime(maxprocs=2):
        p = mrt.P.get(0)
        assert p is not None
    with pytest.raises(mrt.Shutdown):
        mrt.gomaxprocs(0)
    with pytest.raises(mrt.Shutdown):
        mrt.gomaxprocs(4)
    with pytest.raises(mrt.Shutdown):
        mrt.newm(lambda: None)
    with pytest.raises(mrt.Shutdown):
        mrt.allocm()
    assert mrt.P.get(0) is None
    assert mrt.getp() is None
    assert mrt.releasep() is None
    # Calls that do not need the runtime still work.
    assert mrt.version()
    assert mrt.err_name(mrt.RT_EBUSY) == "RT_EBUSY"


def test_reinit_after_shutdown_many_times():
    ensure_stopped()
    for round_ in range(4):
        n = 1 + round_
        with mrt.Runtime(maxprocs=n):
            assert mrt.gomaxprocs() == n
            ms = [mrt.newm(lambda i=i: (i, mrt.getm().id)) for i in range(3)]
            results = [m.wait(WAIT) for m in ms]
            assert [r[0] for r in results] == [0, 1, 2]
            assert len({r[1] for r in results}) == 3
            p = mrt.P.get(n - 1)
            p.acquire()
            assert mrt.getp() == p
            assert mrt.releasep() == p
            p.put()
            assert mrt.P.get(n) is None
        with pytest.raises(mrt.Shutdown):
            mrt.gomaxprocs()


def test_shutdown_while_this_thread_holds_a_p():
    """Shutdown frees every P, including one this (adopted) thread is running; after
    re-init the thread holds none and can take a new one."""
    ensure_stopped()
    with mrt.Runtime(maxprocs=2):
        mrt.P.get(0).acquire()
        assert mrt.getp() is not None
    assert mrt.getp() is None
    with fresh_runtime(maxprocs=2):
        assert mrt.getp() is None
        p = mrt.P.get(0)
        p.acquire()
        assert mrt.getp() == p


def test_init_config_sizes():
    ensure_stopped()
    cfg = mrt.rt_config(0, 2, 0, 0, 0)  # size 0
    assert mrt.lib.rt_init(ctypes.byref(cfg)) == mrt.RT_EINVAL
    cfg.size = 4  # smaller than the first field the library reads
    assert mrt.lib.rt_init(ctypes.byref(cfg)) == mrt.RT_EINVAL
    with pytest.raises(mrt.Shutdown):
        mrt.gomaxprocs()  # the failed inits started nothing

    # A larger struct than the library knows is accepted (the tail is ignored).
    class Bigger(ctypes.Structure):
        _fields_ = [("cfg", mrt.rt_config), ("future", ctypes.c_uint64 * 8)]

    big = Bigger()
    big.cfg.size = ctypes.sizeof(Bigger)
    big.cfg.maxprocs = 3
    assert mrt.lib.rt_init(ctypes.byref(big.cfg)) == 0
    try:
        assert mrt.gomaxprocs() == 3
    finally:
        mrt.shutdown()


def test_init_null_config_is_defaults():
    ensure_stopped()
    assert mrt.lib.rt_init(None) == 0
    try:
        expected = int(os.environ.get("MRT_MAXPROCS", 0)) or _cpus()
        assert mrt.gomaxprocs() == expected
    finally:
        mrt.shutdown()


def test_shutdown_from_start_function_is_eperm(rt):
    def start():
        try:
            mrt.shutdown(0)
        except mrt.Permission as e:
            return e.code
        return "shutdown from an M's g0 did not fail"

    assert mrt.newm(start).wait(WAIT) == mrt.RT_EPERM
    assert mrt.gomaxprocs() == NPROCS  # still running


def test_gomaxprocs_query_grow(rt):
    assert mrt.gomaxprocs() == NPROCS
    assert mrt.gomaxprocs(-1) == NPROCS  # n <= 0 only queries
    assert mrt.gomaxprocs(NPROCS + 2) == NPROCS  # returns the previous value
    assert mrt.gomaxprocs() == NPROCS + 2
    assert mrt.stats().maxprocs == NPROCS + 2
    p = mrt.P.get(NPROCS + 1)
    assert p is not None and p.id == NPROCS + 1 and p.status == mrt.PStatus.IDLE
    p.acquire()
    assert mrt.getp() == p
    mrt.releasep()
    p.put()
    assert mrt.P.get(NPROCS + 2) is None


def test_dump_names_every_m_and_p(rt, tmp_path):
    ms = [mrt.newm(lambda: None) for _ in range(3)]
    for m in ms:
        m.wait(WAIT)
    p = mrt.P.get(1)
    p.acquire()
    me = mrt.getm()
    with open(tmp_path / "dump.txt", "w+") as f:
        mrt.dump(f)
        f.seek(0)
        text = f.read()
    for i in range(NPROCS):
        assert "P%d:" % i in text, text
    for m in ms + [me]:
        assert "M%d:" % m.id in text, text
    with pytest.raises(mrt.InvalidArgument):
        mrt.dump(-1)


def test_lazy_init_uses_affinity_cpus():
    r = run_py("""
        import os, mrt
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        assert mrt.gomaxprocs() == 1, mrt.gomaxprocs()   # first call starts the runtime
        try:
            mrt.init()
        except mrt.Already:
            pass
        else:
            raise SystemExit("init after lazy init did not raise Already")
        mrt.shutdown()
        mrt.init()
        assert mrt.gomaxprocs() == 1
        mrt.shutdown()
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout == "ok\n" and r.stderr == "", r


def test_lazy_init_from_newm_and_p_get():
    r = run_py("""
        import mrt, os
        m = mrt.newm(lambda: mrt.getm().id)   # the first call of all
        assert m.wait(10) == m.id
        assert mrt.P.get(0) is not None
        assert mrt.gomaxprocs() == len(os.sched_getaffinity(0))
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout == "ok\n" and r.stderr == "", r


def test_mrt_maxprocs_env():
    r = run_py("""
        import mrt
        assert mrt.gomaxprocs() == 3, mrt.gomaxprocs()
        mrt.shutdown()
        mrt.init(maxprocs=0)
        assert mrt.gomaxprocs() == 3
        mrt.shutdown()
        mrt.init(maxprocs=5)            # an explicit count wins over the environment
        assert mrt.gomaxprocs() == 5
        print("ok")
    """, env={"MRT_MAXPROCS": "3"})
    assert r.returncode == 0 and r.stdout == "ok\n" and r.stderr == "", r


def test_exit_shuts_down_quietly():
    """The atexit hook joins the Ms (idle ones, one with a nextp, one blocked until
    the hook runs) and the process exits 0 without output."""
    r = run_py("""
        import atexit, sys, threading
        def after_mrt_hook():     # registered before mrt's hook, so it runs after it
            import mrt
            try:
                mrt.gomaxprocs()
            except mrt.Shutdown:
                sys.stdout.write("shut down\\n")
        atexit.register(after_mrt_hook)
        import mrt
        mrt.init(maxprocs=2)
        ms = [mrt.newm(lambda: None) for _ in range(4)]
        for m in ms:
            m.wait(10)
        mrt.newm(lambda: None, p=mrt.P.get(1)).wait(10)
        mrt.newm()                # no start function at all
        p = mrt.P.get(0)
        p.acquire()               # main thread exits holding a P
    """)
    assert r.returncode == 0 and r.stdout == "shut down\n" and r.stderr == "", r


def test_fork_child_sees_shutdown_until_init():
    """The child of fork() has no runtime until it calls rt_init, then a fresh one.
    The child reports each step through a pipe and is killed by SIGALRM if a step
    hangs, so a failure names the step and leaves no process behind."""
    r = run_py("""
        import os, signal, sys, traceback, warnings, mrt
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads

        def child(w):
            def step(name):
                os.write(w, (name + "\\n").encode())
            for name, call in (("gomaxprocs", lambda: mrt.gomaxprocs()),
                               ("newm", lambda: mrt.newm(lambda: None)),
                               ("allocm", lambda: mrt.allocm()),
                               ("shutdown", lambda: mrt.shutdown())):
                step("before init: " + name)
                try:
                    call()
                except mrt.Shutdown:
                    pass
                else:
                    raise AssertionError(name + " in the fork child did not raise Shutdown")
            assert mrt.P.get(0) is None and mrt.getp() is None
            step("rt_init")
            mrt.init(maxprocs=3)
            assert mrt.gomaxprocs() == 3
            step("newm after init")
            ms = [mrt.newm(lambda: mrt.getm().id) for _ in range(3)]
            step("start functions")
            assert len({m.wait(10) for m in ms}) == 3
            step("acquire/release/put")
            p = mrt.P.get(2)
            p.acquire()
            mrt.releasep()
            p.put()
            step("rt_shutdown")
            mrt.shutdown()
            step("done")

        with mrt.Runtime(maxprocs=2):
            for m in [mrt.newm(lambda: None) for _ in range(3)]:
                m.wait(10)
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = 1
                signal.alarm(10)            # a hung step ends the child (SIGALRM)
                try:
                    os.close(rfd)
                    child(wfd)
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stderr.flush()
                    os._exit(code)
            os.close(wfd)
            with os.fdopen(rfd) as f:
                steps = f.read().splitlines()
            _, status = os.waitpid(pid, 0)
            if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                how = ("signal %d" % os.WTERMSIG(status) if os.WIFSIGNALED(status)
                       else "exit %d" % os.WEXITSTATUS(status))
                raise SystemExit("fork child failed (%s) at step %r" % (how, steps[-1:]))
            # the parent's runtime is unaffected
            assert mrt.gomaxprocs() == 2
            assert mrt.newm(lambda: 7).wait(10) == 7
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout == "ok\n" and r.stderr == "", r


def test_dump_shows_parked_gs_with_wait_reason_and_stack(rt, tmp_path):
    ch = mrt.Chan(ctypes.c_int)
    started = mrt.WaitGroup()
    started.add(1)

    def stuck():
        started.done()
        ch.recv()

    g = mrt.go_ex(stuck, name="py-stuck")
    started.wait()
    text = ""
    for _ in range(2000):  # until it has parked in the receive
        with open(tmp_path / "dump.txt", "w+") as f:
            mrt.dump(f)
            f.seek(0)
            text = f.read()
        if "[chan receive" in text and 'name="py-stuck"' in text:
            break
        mrt.sleep(0.001)
    assert "goroutine profile: total" in text, text
    assert "[chan receive, " in text and 'name="py-stuck"' in text, text
    assert "rt_chan_recv+0x" in text, text
    ch.send(1)
    g.join()


def test_deadlock_detect_raises_deadlock():
    r = run_py("""
        import mrt
        mrt.init(maxprocs=1, flags=mrt.RT_CFG_DEADLOCK_DETECT)
        import ctypes
        ch = mrt.Chan(ctypes.c_int)
        try:
            mrt.main(lambda: ch.recv())
        except mrt.Deadlock as e:
            print("raised", e.name)
        import os
        os._exit(0)  # the deadlocked G stays parked: skip the atexit shutdown
    """)
    assert r.returncode == 0, r.stderr
    assert "raised RT_EDEADLK" in r.stdout, (r.stdout, r.stderr)
    assert "all goroutines are asleep - deadlock!" in r.stderr, r.stderr
    assert "[chan receive" in r.stderr, r.stderr


def test_deadlock_detect_no_report_with_a_python_thread_that_sends():
    r = run_py("""
        import threading, time, mrt
        mrt.init(maxprocs=1, flags=mrt.RT_CFG_DEADLOCK_DETECT)
        import ctypes
        ch = mrt.Chan(ctypes.c_int)
        def later():
            time.sleep(0.1)
            ch.send(7)
        t = threading.Thread(target=later)
        t.start()
        print("got", mrt.main(lambda: ch.recv()))
        t.join()
    """)
    assert r.returncode == 0, r.stderr
    assert "got 7" in r.stdout, (r.stdout, r.stderr)
    assert "deadlock" not in r.stderr, r.stderr
