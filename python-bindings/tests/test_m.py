"""Ms (docs/api.md "M"): Python start functions on g0, info, allocm/launch/free, nextp, and
every bad input of issue 2 that concerns Ms."""

from __future__ import annotations

import ctypes
import threading

import pytest

import mrt
from mrt import osutil
from conftest import NPROCS, WAIT, foreign_buffer, fresh_runtime, wait_for

DEFAULT_G0_MIN = 256 * 1024


def _report():
    """What a start function sees of its own thread."""
    me = mrt.getm()
    return {
        "m": me,
        "id": me.id,
        "info": me.info(),
        "tid": osutil.gettid(),
        "sp": osutil.current_sp(),
        "stack": osutil.thread_stack(),
        "p": mrt.getp(),
    }


def _check_report(m: mrt.M, r: dict, min_g0: int = DEFAULT_G0_MIN) -> None:
    info = r["info"]
    assert r["m"] is m  # getm() on the M is the object newm returned
    assert r["id"] == m.id == info.id > 0
    assert info.tid == r["tid"] != osutil.gettid()
    assert info.p == -1 and r["p"] is None  # no P inside a start function (nextp comes after)
    assert info.curg == 0 and info.lockedg == 0
    assert info.g0_lo < info.g0_hi
    assert info.g0_lo <= r["sp"] < info.g0_hi, "start function's sp outside g0 bounds"
    lo, hi = r["stack"]
    assert lo <= info.g0_lo and info.g0_hi <= hi, "g0 bounds outside the thread's stack"
    assert info.g0_hi - info.g0_lo >= min_g0


def test_eight_ms_with_python_start_functions(rt):
    n = 8
    before = mrt.stats()
    ms = [mrt.newm(_report) for _ in range(n)]
    reports = [m.wait(WAIT) for m in ms]
    for m, r in zip(ms, reports):
        _check_report(m, r)
    assert len({r["id"] for r in reports}) == n
    assert len({r["tid"] for r in reports}) == n
    bounds = sorted((r["info"].g0_lo, r["info"].g0_hi) for r in reports)
    for (_, hi), (lo, _) in zip(bounds, bounds[1:]):
        assert hi <= lo, "g0 stacks overlap"
    assert mrt.stats().threads >= before.threads + n
    # After their start functions the Ms park on the idle list, still alive.
    wait_for(lambda: mrt.stats().idle_threads >= before.idle_threads + n, "8 idle Ms")
    for m, r in zip(ms, reports):
        info = m.info()
        assert (info.id, info.tid, info.g0_lo, info.g0_hi) == \
            (r["id"], r["tid"], r["info"].g0_lo, r["info"].g0_hi)
        assert info.p == -1


def test_g0_stack_size_is_honoured():
    size = 1 << 20
    with fresh_runtime(maxprocs=2, g0_stack_size=size):
        ms = [mrt.newm(_report) for _ in range(2)]
        for m in ms:
            _check_report(m, m.wait(WAIT), min_g0=size)


def test_start_function_argument_and_result(rt):
    assert mrt.newm(lambda x: x * 2, 21).wait(WAIT) == 42
    assert mrt.newm(lambda x: x, None).wait(WAIT) is None  # an explicit None is passed
    assert mrt.newm(lambda: "no arg").wait(WAIT) == "no arg"
    obj = object()
    assert mrt.newm(lambda x: x, arg=obj).wait(WAIT) is obj


def test_start_function_exception_is_kept_not_printed(rt, capfd):
    def boom():
        raise ZeroDivisionError("from an M")

    m = mrt.newm(boom)
    with pytest.raises(ZeroDivisionError, match="from an M"):
        m.wait(WAIT)
    assert isinstance(m.exception, ZeroDivisionError) and m.done
    assert mrt.newm(lambda: 5).wait(WAIT) == 5  # the runtime is fine
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_start_function_runs_with_the_gil_while_main_waits(rt):
    go = threading.Event()
    seen = []

    def start():
        seen.append(osutil.gettid())
        go.wait(WAIT)  # releases the GIL: the main thread must keep running
        return len(seen)

    m = mrt.newm(start)
    wait_for(lambda: seen, "start function running")
    assert not m.done
    go.set()
    assert m.wait(WAIT) == 1


def test_newm_without_start_function(rt):
    m = mrt.newm()
    assert m.id > 0
    wait_for(lambda: m.info().tid != 0, "M thread started")
    with pytest.raises(ValueError):
        m.wait(0)
    with pytest.raises(TypeError):
        mrt.newm(None, 1)
    with pytest.raises(TypeError):
        mrt.newm(42)


def test_c_function_pointer_as_start_function(rt):
    got = []
    done = threading.Event()

    @mrt.rt_fn
    def cfn(arg):
        got.append((arg, osutil.gettid(), mrt.getm() is not None))
        done.set()

    mrt.newm(cfn, 1234)
    assert done.wait(WAIT)
    arg, tid, on_m = got[0]
    assert arg == 1234 and tid != osutil.gettid() and on_m


def test_raw_newm_with_null_out(rt):
    done = threading.Event()
    cb = mrt.rt_fn(lambda arg: done.set())
    assert mrt.lib.rt_newm(cb, None, None, None) == 0
    assert done.wait(WAIT)


def test_getm_on_foreign_thread_is_none(rt):
    out = []
    t = threading.Thread(target=lambda: out.append(mrt.getm()))
    t.start()
    t.join(WAIT)
    assert out == [None]


def test_allocm_then_launch(rt):
    m = mrt.allocm(_report)
    info = m.info()
    assert info.id == m.id > 0
    assert info.tid == 0 and info.p == -1  # not launched: no thread yet
    assert not m.done
    m.launch()
    _check_report(m, m.wait(WAIT))


def test_launch_twice_is_already(rt):
    m = mrt.allocm(lambda: None)
    m.launch()
    with pytest.raises(mrt.Already):
        m.launch()
    m.wait(WAIT)
    with pytest.raises(mrt.Already):
        m.launch()
    with pytest.raises(mrt.Already):
        m.launch(mrt.P.get(0))
    assert mrt.P.get(0).status == mrt.PStatus.IDLE  # the refused nextp was not taken


def test_free_launched_is_busy(rt):
    m = mrt.newm(lambda: None)
    with pytest.raises(mrt.Busy):
        m.free()
    m.wait(WAIT)
    with pytest.raises(mrt.Busy):
        m.free()
    assert m.info().tid != 0


def test_free_unlaunched(rt):
    ran = []
    m = mrt.allocm(lambda: ran.append(1))
    m.free()
    assert not m.done and ran == []
    m2 = mrt.allocm()
    m2.free()


def test_m_null_and_foreign_handles(rt):
    lib = mrt.lib
    assert lib.rt_m_free(None) == mrt.RT_EINVAL
    assert lib.rt_m_launch(None, None) == mrt.RT_EINVAL
    assert lib.rt_m_id(None) == mrt.RT_EINVAL
    info = mrt.rt_m_info()
    info.size = ctypes.sizeof(info)
    assert lib.rt_m_getinfo(None, ctypes.byref(info)) == mrt.RT_EINVAL
    buf = foreign_buffer()
    assert lib.rt_m_id(ctypes.addressof(buf)) == mrt.RT_EINVAL
    p = mrt.P.get(0)
    assert lib.rt_m_id(p) == mrt.RT_EINVAL  # a P is not an M
    with pytest.raises(mrt.InvalidArgument):
        mrt.M(ctypes.addressof(buf)).id


def test_null_out_pointers(rt):
    lib = mrt.lib
    assert lib.rt_allocm(None, None, None, None) == mrt.RT_EINVAL
    m = mrt.newm(lambda: None)
    assert lib.rt_m_getinfo(m, None) == mrt.RT_EINVAL
    assert lib.rt_getstats(None) == mrt.RT_EINVAL
    m.wait(WAIT)


def test_info_and_stats_struct_sizes(rt):
    lib = mrt.lib
    m = mrt.newm(lambda: None)
    m.wait(WAIT)
    info = mrt.rt_m_info()
    for size in (0, 4):  # 0, and smaller than the first field the library fills
        info.size = size
        assert lib.rt_m_getinfo(m, ctypes.byref(info)) == mrt.RT_EINVAL, size
    st = mrt.rt_stats()
    for size in (0, 4):
        st.size = size
        assert lib.rt_getstats(ctypes.byref(st)) == mrt.RT_EINVAL, size

    # Larger than the library knows: accepted, the known part filled in.
    class BigInfo(ctypes.Structure):
        _fields_ = [("info", mrt.rt_m_info), ("future", ctypes.c_uint64 * 8)]

    class BigStats(ctypes.Structure):
        _fields_ = [("st", mrt.rt_stats), ("future", ctypes.c_uint64 * 8)]

    bi = BigInfo()
    bi.info.size = ctypes.sizeof(bi)
    assert lib.rt_m_getinfo(m, ctypes.byref(bi.info)) == 0
    assert bi.info.id == m.id and bi.info.tid != 0
    bs = BigStats()
    bs.st.size = ctypes.sizeof(bs)
    assert lib.rt_getstats(ctypes.byref(bs.st)) == 0
    assert bs.st.maxprocs == NPROCS and bs.st.threads >= 1


def test_stats_snapshot(rt):
    s = mrt.stats()
    assert s.maxprocs == NPROCS
    assert s.idle_procs == NPROCS
    assert s.threads >= 0 and s.goroutines == 0
    assert s._fields[0] == "maxprocs"


def _drain_pool_check():
    """Every P is back in the idle pool."""
    return mrt.stats().idle_procs == NPROCS


def test_newm_with_pool_p_as_nextp(rt):
    p = mrt.P.get(1)
    m = mrt.newm(_report, p=p)
    _check_report(m, m.wait(WAIT))  # no P during the start function
    # Then the M takes its nextp, finds nothing to run, puts it back and parks.
    wait_for(_drain_pool_check, "the nextp back in the pool")
    wait_for(lambda: m.info().p == -1, "the M to let go of its nextp")
    with pytest.raises(mrt.Already):
        p.put()  # it is in the pool


def test_newm_with_held_p_as_nextp(rt):
    p = mrt.P.get(2)
    p.acquire()
    assert mrt.releasep() == p  # held by us, not in the pool
    assert mrt.stats().idle_procs == NPROCS - 1
    m = mrt.newm(lambda: None, p=p)
    m.wait(WAIT)
    wait_for(_drain_pool_check, "the held nextp in the pool")
    with pytest.raises(mrt.Already):
        p.put()


def test_launch_with_own_running_p_is_busy(rt):
    p = mrt.P.get(0)
    p.acquire()
    m = mrt.allocm(lambda: "ran")
    with pytest.raises(mrt.Busy):
        m.launch(p)
    with pytest.raises(mrt.Busy):
        mrt.newm(lambda: None, p=p)
    assert mrt.getp() == p and p.status == mrt.PStatus.RUNNING
    mrt.releasep()
    m.launch(p)  # held now: fine
    assert m.wait(WAIT) == "ran"
    wait_for(_drain_pool_check, "P back in the pool")


def _hold_p_in_thread(p: mrt.P):
    """Run ``p`` on a Python thread (adopted as an M) until the returned event is set."""
    have, release, errors = threading.Event(), threading.Event(), []

    def body():
        try:
            p.acquire()
            have.set()
            release.wait(WAIT)
            assert mrt.releasep() == p
            p.put()
        except BaseException as e:
            errors.append(e)
            have.set()

    t = threading.Thread(target=body)
    t.start()
    assert have.wait(WAIT) and not errors, errors
    return t, release, errors


def test_p_running_elsewhere_is_busy_for_ms(rt):
    p = mrt.P.get(3)
    t, release, errors = _hold_p_in_thread(p)
    try:
        assert p.status == mrt.PStatus.RUNNING
        before = mrt.stats()
        with pytest.raises(mrt.Busy):
            mrt.newm(lambda: None, p=p)
        m = mrt.allocm()
        with pytest.raises(mrt.Busy):
            m.launch(p)
        m.free()
        with pytest.raises(mrt.Busy):
            mrt.allocm(p=p)  # this thread holds no P: p would be borrowed, but it is busy
        after = mrt.stats()
        assert after.threads == before.threads  # nothing created, nothing leaked
    finally:
        release.set()
        t.join(WAIT)
    assert not errors, errors


def test_allocm_borrows_an_idle_p(rt):
    assert mrt.getp() is None
    p = mrt.P.get(2)
    m = mrt.allocm(lambda: "ok", p=p)
    assert mrt.getp() is None  # borrowed and released again
    assert p.status == mrt.PStatus.IDLE
    with pytest.raises(mrt.Already):
        p.put()  # back in the pool where it was
    assert mrt.stats().idle_procs == NPROCS
    m.launch()
    assert m.wait(WAIT) == "ok"
    # A held P can be borrowed too, and stays held.
    p.acquire()
    mrt.releasep()
    m2 = mrt.allocm(p=p)
    p.put()  # still held by us: this succeeds
    m2.free()


def test_start_function_takes_ps_second_is_already(rt):
    p0, p1 = mrt.P.get(0), mrt.P.get(1)

    def start():
        p0.acquire()
        assert mrt.getp() == p0
        assert mrt.getm().info().p == 0
        with pytest.raises(mrt.Already):
            p1.acquire()
        with pytest.raises(mrt.Already):
            p0.acquire()
        assert mrt.releasep() == p0
        p0.put()
        assert mrt.getm().info().p == -1
        return True

    assert mrt.newm(start).wait(WAIT) is True
    assert mrt.stats().idle_procs == NPROCS
