"""Ps (docs/api.md "P"): the pool, acquire/release/put from Python threads, gomaxprocs
shrinking, and every bad input of issue 2 that concerns Ps."""

from __future__ import annotations

import ctypes
import queue
import threading

import pytest

import mrt
from conftest import NPROCS, WAIT, foreign_buffer

IDLE, RUNNING, DEAD = mrt.PStatus.IDLE, mrt.PStatus.RUNNING, mrt.PStatus.DEAD


def _in_thread(fn):
    """Run fn on a new Python thread; return what it returned or re-raise."""
    out = []

    def body():
        try:
            out.append((True, fn()))
        except BaseException as e:
            out.append((False, e))

    t = threading.Thread(target=body)
    t.start()
    t.join(WAIT)
    assert out, "thread did not finish"
    ok, v = out[0]
    if not ok:
        raise v
    return v


def test_p_get_range_and_ids(rt):
    ps = [mrt.P.get(i) for i in range(NPROCS)]
    assert all(p is not None for p in ps)
    assert [p.id for p in ps] == list(range(NPROCS))
    assert all(p.status == IDLE for p in ps)
    assert len({p.handle for p in ps}) == NPROCS
    assert mrt.P.get(NPROCS) is None
    assert mrt.P.get(-1) is None
    assert mrt.P.get(2**31 - 1) is None
    assert mrt.P.get(1) == mrt.P.get(1)


def test_acquire_release_put_cycle(rt):
    assert mrt.getp() is None
    assert mrt.releasep() is None  # holds none
    p = mrt.P.get(0)
    p.acquire()  # this thread is adopted as an M
    assert mrt.getp() == p and p.status == RUNNING
    me = mrt.getm()
    assert me is not None and me.info().p == 0 and me.info().tid == threading.get_native_id()
    assert mrt.stats().idle_procs == NPROCS - 1
    with pytest.raises(mrt.Busy):
        p.put()  # running
    assert mrt.releasep() == p
    assert mrt.getp() is None and p.status == IDLE
    assert mrt.stats().idle_procs == NPROCS - 1  # held, not in the pool
    p.acquire()  # a held P can be taken again
    assert mrt.releasep() == p
    p.put()
    assert mrt.stats().idle_procs == NPROCS
    with pytest.raises(mrt.Already):
        p.put()  # already in the pool
    assert mrt.getm() == me  # the thread stays an M


def test_second_p_on_one_m_is_already(rt):
    p0, p1 = mrt.P.get(0), mrt.P.get(1)
    p0.acquire()
    with pytest.raises(mrt.Already) as ei:
        p1.acquire()
    assert ei.value.code == mrt.RT_EALREADY
    with pytest.raises(mrt.Already):
        p0.acquire()  # the same one again
    with pytest.raises(mrt.Already):
        mrt.acquirep(p1)
    assert mrt.getp() == p0 and p1.status == IDLE


def test_null_foreign_p_is_einval(rt):
    lib = mrt.lib
    buf = foreign_buffer()
    m = mrt.newm(lambda: None)
    m.wait(WAIT)
    for bad in (None, ctypes.addressof(buf), m.handle):  # NULL, foreign memory, an M
        assert lib.rt_acquirep(bad) == mrt.RT_EINVAL, bad
        assert lib.rt_p_id(bad) == mrt.RT_EINVAL, bad
        assert lib.rt_p_status(bad) == mrt.RT_EINVAL, bad
        assert lib.rt_p_put(bad) == mrt.RT_EINVAL, bad
    fake = mrt.P(ctypes.addressof(buf))
    with pytest.raises(mrt.InvalidArgument):
        fake.acquire()
    with pytest.raises(mrt.InvalidArgument):
        fake.id
    with pytest.raises(mrt.InvalidArgument):
        fake.status
    assert mrt.getp() is None  # nothing was acquired
    with pytest.raises(mrt.InvalidArgument):
        mrt.newm(lambda: None, p=fake)
    assert bytes(buf) == bytes(4096)  # nothing wrote into it


def test_busy_p_running_on_another_thread(rt):
    p = mrt.P.get(2)
    have, release = threading.Event(), threading.Event()
    errors = []

    def holder():
        try:
            p.acquire()
            have.set()
            release.wait(WAIT)
            mrt.releasep()
            p.put()
        except BaseException as e:
            errors.append(e)
            have.set()

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert have.wait(WAIT) and not errors
        assert p.status == RUNNING
        with pytest.raises(mrt.Busy) as ei:
            p.acquire()
        assert ei.value.code == mrt.RT_EBUSY
        with pytest.raises(mrt.Busy):
            p.put()
        assert mrt.getp() is None
        with pytest.raises(mrt.Busy):  # and from an M's start function
            mrt.newm(p.acquire).wait(WAIT)
    finally:
        release.set()
        t.join(WAIT)
    assert not errors, errors
    assert p.status == IDLE
    assert mrt.stats().idle_procs == NPROCS


def test_python_threads_move_a_p_between_them(rt):
    """Thread A takes P1, releases it and hands it to B; B runs it while A is refused;
    B hands it back; A returns it to the pool. Each step is an Event handshake."""
    p = mrt.P.get(1)
    to_b, to_a = queue.Queue(), queue.Queue()
    log, errors = [], []

    def a():
        try:
            p.acquire()
            log.append(("A has", mrt.getp().id, mrt.getm().id))
            held = mrt.releasep()
            assert held == p and mrt.getp() is None
            to_b.put(held)
            step = to_a.get(timeout=WAIT)  # B is running it now
            assert step == "B running"
            with pytest.raises(mrt.Busy):
                p.acquire()
            to_b.put("A refused")
            back = to_a.get(timeout=WAIT)
            back.acquire()  # B released it: held, so A may take it
            log.append(("A has again", mrt.getp().id, mrt.getm().id))
            assert mrt.releasep() == p
            p.put()
        except BaseException as e:
            errors.append(e)
            to_b.put(None)

    def b():
        try:
            got = to_b.get(timeout=WAIT)
            got.acquire()
            assert mrt.getp() == p and p.status == RUNNING
            log.append(("B has", mrt.getp().id, mrt.getm().id))
            to_a.put("B running")
            assert to_b.get(timeout=WAIT) == "A refused"
            assert mrt.releasep() == p
            to_a.put(p)
        except BaseException as e:
            errors.append(e)
            to_a.put(None)

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start()
    tb.start()
    ta.join(WAIT)
    tb.join(WAIT)
    assert not errors, errors
    assert [e[0] for e in log] == ["A has", "B has", "A has again"]
    assert {e[1] for e in log} == {1}
    assert log[0][2] == log[2][2] != log[1][2]  # two threads, two Ms
    assert p.status == IDLE and mrt.stats().idle_procs == NPROCS


def test_p_moves_between_many_threads(rt):
    """A P passed along a chain of 8 Python threads, each running it in turn."""
    p = mrt.P.get(3)
    p.acquire()
    mrt.releasep()
    ms = []

    def step():
        p.acquire()
        ms.append(mrt.getm().id)
        assert mrt.releasep() == p

    for _ in range(8):
        _in_thread(step)
    assert len(ms) == 8
    p.put()
    assert mrt.stats().idle_procs == NPROCS


def test_shrink_kills_surplus_p_on_release(rt):
    p3 = mrt.P.get(3)
    p3.acquire()
    assert mrt.gomaxprocs(2) == NPROCS
    assert mrt.gomaxprocs() == 2 and mrt.stats().maxprocs == 2
    assert mrt.P.get(2) is None and mrt.P.get(3) is None
    assert mrt.getp() == p3 and p3.status == RUNNING  # shrinking is lazy
    assert mrt.releasep() == p3
    assert p3.status == DEAD
    with pytest.raises(mrt.InvalidArgument):
        p3.acquire()  # a dead P
    assert mrt.lib.rt_acquirep(p3) == mrt.RT_EINVAL
    assert mrt.getp() is None
    with pytest.raises(mrt.InvalidArgument):
        mrt.newm(lambda: None, p=p3)
    # The live Ps still work.
    p1 = mrt.P.get(1)
    p1.acquire()
    assert mrt.releasep() == p1
    p1.put()
    # Growing again brings P 3 back as a live, idle P.
    assert mrt.gomaxprocs(NPROCS) == 2
    p3b = mrt.P.get(3)
    assert p3b is not None and p3b.status == IDLE and p3b.id == 3
    p3b.acquire()
    mrt.releasep()
    p3b.put()
