"""Gs (docs/api.md "G", rt_main, rt_mutex/rt_wg) from Python: C function pointers as G bodies
(from a small shared object compiled here), Python callables as G bodies wired to their
M, Mutex and WaitGroup between Python Gs and Python threads, syscalls, and bad input."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import threading
import time

import pytest

import mrt
from mrt import osutil
from conftest import HEADER, WAIT, foreign_buffer, fresh_runtime, run_py, wait_for

# Python bodies recurse through C now and then (callables calling builtins calling
# callables): give them more than the 64 KiB default (reserved, not committed).
G_STACK = 1 << 20

C_BODIES = r"""
#include <stdatomic.h>
#include "mrt.h"

atomic_long counter;
atomic_long migrations;   /* yields after which the G was on another M */

/* A G body: count, yield, count, then tell the wait group passed as arg. */
void count_body(void *arg) {
    atomic_fetch_add(&counter, 1);
    rt_gosched();
    atomic_fetch_add(&counter, 1);
    rt_wg_done((rt_wg *)arg);
}

/* A G body that yields n times (n in the first word of arg) and counts the yields
   after which rt_getm() changed; the wait group follows in arg. */
struct yielder { long n; rt_wg wg; };
void yield_body(void *arg) {
    struct yielder *y = arg;
    for (long i = 0; i < y->n; i++) {
        rt_m *before = rt_getm();
        rt_gosched();
        if (rt_getm() != before) atomic_fetch_add(&migrations, 1);
    }
    rt_wg_done(&y->wg);
}

/* A G body that spins, calling nothing, until the first word of arg is non-zero. */
struct spin { atomic_long stop; rt_wg wg; };
void spin_body(void *arg) {
    struct spin *s = arg;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
        ;
    rt_wg_done(&s->wg);
}

long get_counter(void) { return atomic_load(&counter); }
long get_migrations(void) { return atomic_load(&migrations); }
"""


class Yielder(ctypes.Structure):
    _fields_ = [("n", ctypes.c_long), ("wg", mrt._ffi.rt_wg)]


def build_c_bodies(tmpdir) -> str:
    """Compile C_BODIES into a shared object linked against the loaded libmrt."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    src = tmpdir / "bodies.c"
    so = tmpdir / "libbodies.so"
    src.write_text(C_BODIES)
    lib_path = str(mrt.LIB_PATH)
    if "/" not in lib_path:
        pytest.skip("libmrt found on the loader path; no file to link against")
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-I", str(HEADER.parent), "-o", str(so),
                    str(src), lib_path], check=True)
    return str(so)


@pytest.fixture(scope="module")
def cbodies(tmp_path_factory):
    so = build_c_bodies(tmp_path_factory.mktemp("cbodies"))
    lib = ctypes.CDLL(so)
    lib.get_counter.restype = ctypes.c_long
    lib.get_migrations.restype = ctypes.c_long
    return lib


@pytest.fixture
def grt():
    """A runtime with 4 Ps and G stacks big enough for Python bodies."""
    with fresh_runtime(maxprocs=4, g_stack_size=G_STACK) as r:
        yield r


class Spin(ctypes.Structure):
    _fields_ = [("stop", ctypes.c_long), ("wg", mrt._ffi.rt_wg)]


def _m_and_tid():
    return mrt.lib.rt_getm(), osutil.gettid()


# --------------------------------------------------------------------------- C bodies


def test_c_function_gs_with_wait_group(grt, cbodies):
    n = 200
    before = cbodies.get_counter()
    wg = mrt.WaitGroup()
    wg.add(n)
    ids = [mrt.go(cbodies.count_body, ctypes.byref(wg._wg)) for _ in range(n)]
    assert all(isinstance(i, int) and i > 0 for i in ids)
    assert len(set(ids)) == n
    wg.wait()  # a foreign thread: futex-blocks, GIL released
    assert cbodies.get_counter() - before == 2 * n


def test_c_function_as_address_and_cfunctype(grt, cbodies):
    addr = ctypes.cast(cbodies.count_body, ctypes.c_void_p).value
    fnptr = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(addr)  # a C pointer, no Python inside
    before = cbodies.get_counter()
    wg = mrt.WaitGroup()
    wg.add(2)
    assert mrt.go(addr, wg) > 0  # WaitGroup passes as its rt_wg *
    assert mrt.go(fnptr, ctypes.addressof(wg._wg)) > 0
    wg.wait()
    assert cbodies.get_counter() - before == 4


def test_c_gs_from_a_python_g(grt, cbodies):
    wg = mrt.WaitGroup()

    def spawner():
        wg.add(10)
        ids = [mrt.go(cbodies.count_body, wg) for _ in range(10)]
        wg.wait()  # parks this G; the C Gs run
        return ids

    before = cbodies.get_counter()
    ids = mrt.go(spawner).join(WAIT)
    assert len(set(ids)) == 10 and cbodies.get_counter() - before == 20


# --------------------------------------------------------------------------- Python bodies


def test_python_g_result_arg_and_id(grt):
    g = mrt.go(lambda x: (x * 2, mrt.goid()), 21)
    assert isinstance(g, mrt.Goroutine) and g.id > 0
    assert g.join(WAIT) == (42, g.id)
    assert g.done and g.exception is None and int(g) == g.id
    assert mrt.go(lambda: "no arg").join() == "no arg"
    assert mrt.go(lambda x: x, None).join() is None  # an explicit None is passed
    obj = object()
    assert mrt.go(lambda x: x, obj).wait(WAIT) is obj


def test_python_g_exception_kept_not_printed(grt, capfd):
    def boom():
        raise ZeroDivisionError("from a G")

    g = mrt.go(boom)
    with pytest.raises(ZeroDivisionError, match="from a G") as ei:
        g.join(WAIT)
    assert isinstance(g.exception, ZeroDivisionError) and g.done
    assert ei.traceback[-1].name == "boom"
    with pytest.raises(ZeroDivisionError):
        g.wait()  # again: still there
    assert mrt.go(lambda: 5).join() == 5
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_python_gs_yield_on_their_wired_m(grt):
    n, k = 12, 50

    def body():
        m0, tid0 = _m_and_tid()
        info = mrt.M(m0).info()
        assert info.lockedg == mrt.goid() and info.curg == mrt.goid()
        changed = 0
        for _ in range(k):
            mrt.gosched()
            if _m_and_tid() != (m0, tid0):
                changed += 1
        return changed, tid0

    gs = [mrt.go(body) for _ in range(n)]
    results = [g.join(WAIT) for g in gs]
    assert [c for c, _ in results] == [0] * n
    assert all(tid != osutil.gettid() for _, tid in results)
    # join() returns once the body is done; the G itself exits just after.
    wait_for(lambda: mrt.stats().goroutines == 0, "every G exited")
    assert mrt.stats().gs_exited >= n


def test_python_gs_stay_wired_under_migrate_debug(tmp_path):
    # MRT_DEBUG=migrate moves a G to another M at yields where it can: C bodies must
    # be seen migrating, Python bodies (wired) never.
    so = build_c_bodies(tmp_path)
    r = run_py("""
        import ctypes
        import mrt
        class Yielder(ctypes.Structure):
            _fields_ = [("n", ctypes.c_long), ("wg", mrt._ffi.rt_wg)]
        c = ctypes.CDLL(%r)
        c.get_migrations.restype = ctypes.c_long
        with mrt.Runtime(maxprocs=4, g_stack_size=1 << 20):
            # Many C Gs: migrate moves a G only where another M takes it, so a
            # handful on idle Ps may never move.
            ys = [Yielder(n=300) for _ in range(64)]
            for y in ys:
                mrt.lib.rt_wg_add(ctypes.byref(y.wg), 1)
                mrt.go(c.yield_body, ctypes.byref(y))
            def body():
                m0 = mrt.lib.rt_getm()
                moved = 0
                for _ in range(300):
                    mrt.gosched()
                    moved += mrt.lib.rt_getm() != m0
                return moved
            gs = [mrt.go(body) for _ in range(8)]
            py_moved = sum(g.join() for g in gs)
            for y in ys:
                mrt.lib.rt_wg_wait(ctypes.byref(y.wg))
            print(c.get_migrations(), py_moved)
    """ % so, env={"MRT_DEBUG": "migrate"})
    assert r.returncode == 0, r.stderr
    c_moved, py_moved = map(int, r.stdout.split())
    assert py_moved == 0
    assert c_moved > 0, "MRT_DEBUG=migrate moved no C G: the control shows nothing"


def test_python_gs_spawning_python_gs(grt):
    def leaf(i):
        mrt.gosched()
        return i

    def parent(base):
        kids = [mrt.go(leaf, base + i) for i in range(5)]  # runnext of this P
        return sum(k.join() for k in kids)  # parks this G on each kid's wait group

    parents = [mrt.go(parent, 10 * j) for j in range(6)]
    assert [p.join(WAIT) for p in parents] == [sum(10 * j + i for i in range(5)) for j in range(6)]


def test_join_with_timeout_from_thread_and_g(grt):
    gate = threading.Event()
    slow = mrt.go(lambda: gate.wait(WAIT) and "late")
    with pytest.raises(TimeoutError):
        slow.join(0.01)

    def joiner():
        with pytest.raises(TimeoutError):
            slow.join(0.01)  # in a G: waits inside entersyscall/exitsyscall
        return "timed out"

    assert mrt.go(joiner).join(WAIT) == "timed out"
    gate.set()
    assert slow.join(WAIT) == "late"


def test_join_self_is_refused(grt):
    box = {}
    started = threading.Event()

    def body():
        started.wait(WAIT)
        return box["me"].join()

    g = mrt.go(body)
    box["me"] = g
    started.set()
    with pytest.raises(RuntimeError, match="itself"):
        g.join(WAIT)


def test_handle_dropped_before_the_g_ends(grt):
    done = mrt.WaitGroup()
    done.add(1)
    seen = []

    def body():
        mrt.gosched()
        seen.append(mrt.goid())
        done.done()

    gid = mrt.go(body).id  # the handle goes at once; the registry keeps the body
    done.wait()
    assert seen == [gid]
    wait_for(lambda: not mrt.g._running and not mrt.g._pending, "registry emptied")


def test_goexit_runs_finally_and_ends_the_g(grt):
    log = []

    def body():
        try:
            log.append("before")
            mrt.goexit()
            log.append("never")
        finally:
            log.append("finally")

    assert mrt.go(body).join(WAIT) is None
    assert log == ["before", "finally"]
    mrt.goexit()  # outside a G: nothing


def test_user_lock_nesting_never_unwires_a_python_body(grt):
    def body():
        me = mrt.getm()
        gid = mrt.goid()
        mrt.lockosthread()
        mrt.lockosthread()
        assert me.info().lockedg == gid
        for _ in range(4):  # two too many
            mrt.unlockosthread()
        assert me.info().lockedg == gid  # still wired: Python stays on this M
        m0 = mrt.lib.rt_getm()
        for _ in range(20):
            mrt.gosched()
        return mrt.lib.rt_getm() == m0

    assert mrt.go(body).join(WAIT) is True


def test_python_ctypes_callback_is_run_wired(grt):
    # A ctypes callback made from a Python function runs Python: it goes through the
    # wired entry, called with arg as its void *.
    got = []

    @mrt.rt_fn
    def cb(arg):
        m0 = mrt.lib.rt_getm()
        mrt.gosched()
        got.append((arg, mrt.getm().info().lockedg == mrt.goid(), mrt.lib.rt_getm() == m0))

    g = mrt.go(cb, 1234)
    assert isinstance(g, mrt.Goroutine)
    g.join(WAIT)
    assert got == [(1234, True, True)]


def test_wired_python_gs_release_their_ms(grt):
    # A body ends unwired, so its M lives on to run other Gs. (A G that exits while
    # wired takes its M's thread with it.)
    import os

    gs = [mrt.go(lambda: (mrt.gosched(), osutil.gettid())[1]) for _ in range(8)]
    tids = {g.join(WAIT) for g in gs}
    wait_for(lambda: mrt.stats().goroutines == 0, "every G exited")
    for tid in tids:
        assert os.path.exists("/proc/self/task/%d" % tid), "M thread %d exited" % tid
    st = mrt.stats()
    assert st.threads >= len(tids)


# --------------------------------------------------------------------------- Mutex, WaitGroup


def test_mutex_between_python_gs_and_threads(grt):
    mu = mrt.Mutex()
    state = {"n": 0, "holder": None}
    per, ng, nt = 150, 8, 4
    errors = []

    def critical(who, yield_inside):
        with mu:
            if state["holder"] is not None:
                errors.append((who, state["holder"]))
            state["holder"] = who
            n = state["n"]
            if yield_inside:
                mrt.gosched()  # hold the mutex across a yield: others must park on it
            else:
                time.sleep(0)
            state["n"] = n + 1
            state["holder"] = None

    def g_body(i):
        for _ in range(per):
            critical(("g", i), True)

    def t_body(i):
        for _ in range(per):
            critical(("t", i), False)

    threads = [threading.Thread(target=t_body, args=(i,)) for i in range(nt)]
    for t in threads:
        t.start()
    gs = [mrt.go(g_body, i) for i in range(ng)]
    for g in gs:
        g.join(WAIT)
    for t in threads:
        t.join(WAIT)
    assert errors == []
    assert state["n"] == per * (ng + nt)
    assert mu.trylock()
    assert not mu.trylock()
    mu.unlock()


def test_mutex_held_by_thread_parks_python_gs(grt):
    mu = mrt.Mutex()
    mu.lock()  # held by this (foreign) thread
    order = []
    parks = mrt.stats().parks
    gs = [mrt.go(lambda i: (mu.lock(), order.append(i), mu.unlock()), i) for i in range(6)]
    wait_for(lambda: mrt.stats().parks - parks >= 6, "6 Gs parked on the mutex")
    assert order == []
    mu.unlock()  # any context may unlock
    for g in gs:
        g.join(WAIT)
    assert sorted(order) == list(range(6))


def test_wait_groups_both_ways_between_gs_and_threads(grt):
    n = 6
    gs_done = mrt.WaitGroup()
    threads_done = mrt.WaitGroup()
    gs_done.add(n)
    threads_done.add(n)
    seen = []

    def g_body(i):
        threads_done.wait()  # parks until every thread called done
        seen.append(("g", i))
        gs_done.done()

    def t_body(i):
        seen.append(("t", i))
        threads_done.done()
        gs_done.wait()  # futex-blocks this thread until every G is done

    gs = [mrt.go(g_body, i) for i in range(n)]
    threads = [threading.Thread(target=t_body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    for g in gs:
        g.join(WAIT)
    # Every thread said done before any G got past threads_done.wait().
    assert [k for k, _ in seen] == ["t"] * n + ["g"] * n
    assert sorted(seen) == sorted([("g", i) for i in range(n)] + [("t", i) for i in range(n)])


def test_many_python_gs_and_threads_one_p():
    # One P: a Python body waits for the GIL while holding the only P, and threads
    # block in rt_mutex/rt_wg with the GIL released. Nothing may deadlock.
    with fresh_runtime(maxprocs=1, g_stack_size=G_STACK):
        mu = mrt.Mutex()
        wg = mrt.WaitGroup()
        total = {"n": 0}

        def work(k):
            for _ in range(k):
                with mu:
                    total["n"] += 1
                mrt.gosched()
            wg.done()

        for _round in range(3):
            wg.add(16 + 4)
            gs = [mrt.go(work, 40) for _ in range(16)]
            threads = [threading.Thread(target=work, args=(40,)) for _ in range(4)]
            for t in threads:
                t.start()
            wg.wait()
            for t in threads:
                t.join(WAIT)
            for g in gs:
                g.join(WAIT)
        assert total["n"] == 3 * 20 * 40


# --------------------------------------------------------------------------- syscalls


def test_syscall_hands_off_the_only_p():
    # One P: a G blocked in the OS inside mrt.syscall() must not stall the other Gs,
    # and it comes back on its own M (it is wired).
    with fresh_runtime(maxprocs=1, g_stack_size=G_STACK):
        ev = threading.Event()

        def blocker():
            m0 = _m_and_tid()
            with mrt.syscall():
                ok = ev.wait(WAIT)  # blocks this OS thread; sysmon hands off the P
            return ok, _m_and_tid() == m0

        def setter():
            ev.set()
            return mrt.goid()

        b = mrt.go(blocker)
        s = mrt.go(setter)
        assert s.join(WAIT) > 0
        assert b.join(WAIT) == (True, True)
        assert mrt.stats().handoffs >= 1


def test_syscall_errors_in_a_g(grt):
    def body():
        out = []
        with pytest.raises(mrt.InvalidArgument):
            mrt.exitsyscall()  # without entersyscall
        mrt.entersyscall()
        try:
            with pytest.raises(mrt.Already):
                mrt.entersyscall()
        finally:
            mrt.exitsyscall()
        out.append("ok")
        return out

    assert mrt.go(body).join(WAIT) == ["ok"]


# --------------------------------------------------------------------------- rt_main


def test_main_runs_python_body_and_returns_result(grt):
    def body(x):
        kids = [mrt.go(lambda i: i * i, i) for i in range(10)]
        return x, mrt.goid() > 0, sum(k.join() for k in kids)

    assert mrt.main(body, "arg") == ("arg", True, sum(i * i for i in range(10)))
    assert mrt.getp() is None  # rt_main gave its P back
    assert mrt.main(lambda: 7) == 7


def test_main_g_named(grt, cbodies, tmp_path):
    """mrt.main names its G as go does (rt_main_ex): after the Python function, or
    ``name=``; a C body only when given a name."""
    path = tmp_path / "dump.txt"

    def main_body():
        with open(path, "w") as f:
            mrt.dump(f)
        return path.read_text()

    assert 'name="test_main_g_named.main_body"' in mrt.main(main_body)
    assert 'name="the-main-g"' in mrt.main(main_body, name="the-main-g")
    wg = mrt.WaitGroup()
    wg.add(1)
    assert mrt.main(cbodies.count_body, wg, name="c-main") is None
    wg.wait()


def test_main_reraises(grt):
    def body():
        raise KeyError("main")

    with pytest.raises(KeyError, match="main"):
        mrt.main(body)


def test_main_with_c_body(grt, cbodies):
    wg = mrt.WaitGroup()
    wg.add(1)
    before = cbodies.get_counter()
    assert mrt.main(cbodies.count_body, wg) is None
    wg.wait()
    assert cbodies.get_counter() - before == 2


def test_main_from_threads(grt):
    out = []

    def thread_main(i):
        out.append(mrt.main(lambda: (i, mrt.goid() > 0)))

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert sorted(out) == [(i, True) for i in range(4)]


def test_main_bad_contexts(grt):
    with pytest.raises(mrt.InvalidArgument):
        mrt.main(None)
    with pytest.raises(mrt.InvalidArgument):
        mrt.main(0)

    def in_g():
        with pytest.raises(mrt.Permission):
            mrt.main(lambda: None)
        return "refused"

    assert mrt.go(in_g).join(WAIT) == "refused"
    p = mrt.P.get(0)
    p.acquire()
    try:
        with pytest.raises(mrt.Already):
            mrt.main(lambda: None)
    finally:
        mrt.releasep()
        p.put()
    assert mrt.g._pending == {}


# --------------------------------------------------------------------------- bad input


def test_bad_input_outside_a_g(grt):
    with pytest.raises(mrt.InvalidArgument):
        mrt.go(None)
    with pytest.raises(mrt.InvalidArgument):
        mrt.go(0)
    with pytest.raises(mrt.InvalidArgument):
        mrt.go(None, 5)
    for bad in ("fn", 1.5, True, object()):
        with pytest.raises(TypeError):
            mrt.go(bad)
    assert mrt.g._pending == {}
    assert mrt.goid() == 0 and mrt.getg() is None
    mrt.gosched()  # sched_yield outside a G
    for call in (mrt.lockosthread, mrt.unlockosthread, mrt.entersyscall, mrt.exitsyscall,
                 mrt.park):
        with pytest.raises(mrt.Permission):
            call()
    with pytest.raises(mrt.Permission):
        with mrt.syscall():
            pass
    with pytest.raises(mrt.InvalidArgument):
        mrt.ready(None)
    buf = foreign_buffer()
    with pytest.raises(mrt.InvalidArgument):
        mrt.ready(ctypes.addressof(buf))
    with pytest.raises(TypeError):
        mrt.park(lambda g, a: True)  # Python on g0 would wait for the GIL


def test_same_calls_from_an_m_start_function(grt):
    # An M's g0 is not a G either.
    def start():
        out = {}
        for name in ("lockosthread", "entersyscall", "park"):
            try:
                getattr(mrt, name)()
                out[name] = "ok"
            except mrt.MrtError as e:
                out[name] = e.name
        out["goid"] = mrt.goid()
        return out

    assert mrt.newm(start).wait(WAIT) == {"lockosthread": "RT_EPERM", "entersyscall": "RT_EPERM",
                                           "park": "RT_EPERM", "goid": 0}


def test_ready_of_a_running_g_is_einval(grt):
    def body():
        with pytest.raises(mrt.InvalidArgument):
            mrt.ready(mrt.getg())  # running, not parked
        return mrt.getg() is not None

    assert mrt.go(body).join(WAIT) is True


def test_park_and_ready_from_python(grt, tmp_path):
    # rt_park with a NULL unlock parks at once; a thread readies it once it is parked
    # (polled through rt_dump would be fragile; retry rt_ready until it is accepted).
    box = {}
    ev = threading.Event()

    def body():
        box["g"] = mrt.getg()
        ev.set()
        mrt.park()
        return "resumed"

    g = mrt.go(body)
    assert ev.wait(WAIT)

    def try_ready():
        try:
            mrt.ready(box["g"])
            return True
        except mrt.InvalidArgument:  # not parked yet
            return False

    wait_for(try_ready, "the G to park")
    assert g.join(WAIT) == "resumed"


def test_stack_overflow_in_a_python_body_is_reported():
    r = run_py("""
        import mrt
        def rec(n):
            return 1 + sum(map(rec, [n + 1]))
        mrt.init(maxprocs=2)  # default 64 KiB G stacks
        g = mrt.go(rec, 0)
        g.join()
    """)
    assert r.returncode != 0
    assert "stack overflow" in r.stderr and "goroutine" in r.stderr, r.stderr


def test_shutdown_waits_for_python_gs():
    with fresh_runtime(maxprocs=2, g_stack_size=G_STACK):
        gate = threading.Event()
        g = mrt.go(lambda: (gate.wait(WAIT), "ran")[1])
        threading.Timer(0.05, gate.set).start()
    # rt_shutdown returned: every G had exited.
    assert g.done and g.join() == "ran"


def test_exit_with_python_gs_running_is_quiet():
    r = run_py("""
        import threading, mrt
        mrt.init(maxprocs=2, g_stack_size=1 << 20)
        wg = mrt.WaitGroup()
        wg.add(1)
        def body():
            wg.wait()
            return 1
        gs = [mrt.go(body) for _ in range(4)]
        threading.Timer(0.05, wg.done).start()
        print("leaving")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "leaving" and r.stderr == ""


# --------------------------------------------------------------------------- go_ex


def test_go_ex_async_c_body_is_preempted_for_a_python_sleeper(cbodies):
    """On one P, a C body that spins without a call (RT_G_ASYNC_PREEMPT) is preempted
    by signal, so a Python G's 1 ms sleep returns and it can stop the spinner."""
    with fresh_runtime(maxprocs=1, g_stack_size=G_STACK):
        s = Spin()
        wg = mrt.WaitGroup()
        s.wg = wg._wg
        mrt.lib.rt_wg_add(ctypes.byref(s.wg), 1)

        def sleeper():
            mrt.sleep(0.001)
            s.stop = 1

        gid = mrt.go_ex(cbodies.spin_body, ctypes.byref(s), flags=mrt.RT_G_ASYNC_PREEMPT,
                        name="spin")
        assert gid > 0
        g = mrt.go(sleeper)
        g.join()
        mrt.lib.rt_wg_wait(ctypes.byref(s.wg))
        assert s.stop == 1


def test_checkpoint_loop_shares_one_p_with_a_sleeper():
    """On one P, a Python G that computes in a loop calling mrt.checkpoint() (and nothing
    else of the runtime) gives the P up once sysmon marks it, so a sleeping Python G
    wakes and can stop it. Outside a G checkpoint() is False."""
    assert mrt.checkpoint() is False
    with fresh_runtime(maxprocs=1, g_stack_size=G_STACK):
        state = {"stop": False, "yields": 0, "n": 0}

        def looper():
            while not state["stop"]:
                state["n"] += 1
                if mrt.checkpoint():
                    state["yields"] += 1

        def sleeper():
            mrt.sleep(0.01)
            state["stop"] = True

        a = mrt.go(looper)
        b = mrt.go(sleeper)
        b.join()
        a.join()
        assert state["stop"] and state["n"] > 0
        # The sleeper could only run because the looper yielded at a checkpoint.
        assert state["yields"] >= 1


def test_go_ex_name_in_dump_and_bad_input(grt, cbodies, tmp_path):
    wg = mrt.WaitGroup()
    wg.add(1)
    release = threading.Event()

    def body():
        wg.done()
        while not release.is_set():
            mrt.gosched()

    g = mrt.go_ex(body, name="py-worker")
    wg.wait()
    path = tmp_path / "dump.txt"
    with open(path, "w") as f:
        mrt.dump(f)
    release.set()
    g.join()
    assert 'name="py-worker"' in path.read_text()
    pending = len(mrt.g._pending)
    with pytest.raises(ValueError):
        mrt.go_ex(body, flags=mrt.RT_G_ASYNC_PREEMPT)
    assert len(mrt.g._pending) == pending  # the refused body is not kept
    with pytest.raises(mrt.InvalidArgument):
        mrt.go_ex(cbodies.count_body, None, flags=0x2)
    with pytest.raises(mrt.InvalidArgument):
        mrt.go_ex(None, flags=mrt.RT_G_ASYNC_PREEMPT)


def test_python_g_named_after_its_function(grt, tmp_path):
    """A Python G's start function is the binding's ctypes entry, the same for every
    Python G: the dump names it after the Python function instead (go and go_ex)."""
    wg = mrt.WaitGroup()
    wg.add(2)
    release = threading.Event()

    def worker_fn():
        wg.done()
        while not release.is_set():
            mrt.gosched()

    class Job:
        def run_the_job_with_a_rather_long_method_name(self):
            worker_fn()

    gs = [mrt.go(worker_fn), mrt.go_ex(Job().run_the_job_with_a_rather_long_method_name)]
    wg.wait()
    path = tmp_path / "dump.txt"
    with open(path, "w") as f:
        mrt.dump(f)
    release.set()
    for g in gs:
        g.join()
    text = path.read_text()
    assert 'name="test_python_g_named_after_its_function.worker_fn"' not in text  # 50 bytes: cut
    assert 'name="\u2026_after_its_function.worker_fn"' in text, text
    assert 'name="\u2026ith_a_rather_long_method_name"' in text, text
    assert mrt.g.body_name(worker_fn) == "\u2026_after_its_function.worker_fn"
    assert mrt.g.body_name(print) == "print"


def test_preempt_signal_config():
    with pytest.raises(mrt.InvalidArgument):
        mrt.init(preempt_signal=9)  # SIGKILL
    with fresh_runtime(maxprocs=1, preempt_signal=-1):
        assert mrt.gomaxprocs() == 1
