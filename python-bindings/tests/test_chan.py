"""Channels, select, sleep and poll_fd (issue 4 item 5) from Python: Python threads on
both ends of a channel, a Python G and a Python thread on opposite ends, close
semantics, try-variants, free while waited on, sleeping and polling from Gs and
threads, and bad input."""

from __future__ import annotations

import ctypes
import os
import threading
import time

import pytest

import mrt
from conftest import NPROCS, WAIT, fresh_runtime, wait_for

G_STACK = 1 << 20
N = 2000


@pytest.fixture
def grt():
    """A runtime whose G stacks fit Python bodies."""
    with fresh_runtime(maxprocs=NPROCS, g_stack_size=G_STACK) as r:
        yield r


def start_thread(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def join(t):
    t.join(WAIT)
    assert not t.is_alive(), "thread did not finish"


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int32), ("b", ctypes.c_double)]


# ------------------------------------------------------------------ basics


def test_make_len_cap_repr(rt):
    ch = mrt.Chan(ctypes.c_int64, 4)
    assert ch.cap == 4 and ch.len() == 0 and len(ch) == 0
    ch.send(7)
    ch.send(ctypes.c_int64(8))
    assert ch.len() == 2
    assert "cap=4" in repr(ch)
    assert ch.recv() == 7 and ch.recv() == 8
    ch.free()
    assert ch.handle is None and "freed" in repr(ch)
    ch.free()  # idempotent
    with pytest.raises(ValueError):
        ch.send(1)
    assert mrt.Chan(ctypes.c_int8).cap == 0


def test_structure_elements(rt):
    ch = mrt.Chan(Pair, 2)
    ch.send(Pair(3, 2.5))
    got = ch.recv()
    assert isinstance(got, Pair) and (got.a, got.b) == (3, 2.5)


def test_bad_ctype():
    with pytest.raises(TypeError):
        mrt.Chan(int)
    with pytest.raises(ValueError):
        mrt.Chan(ctypes.c_int, -1)


def test_capacity_overflow_is_named(rt):
    with pytest.raises((mrt.InvalidArgument, mrt.NoMemory)):
        mrt.Chan(ctypes.c_int64 * 1024, 2**62)


# ------------------------------------------------------------------ threads and Gs


@pytest.mark.parametrize("cap", [0, 1, 64])
def test_threads_on_both_ends(rt, cap):
    ch = mrt.Chan(ctypes.c_int64, cap)
    got = []

    def producer():
        for i in range(N):
            ch.send(i)
        ch.close()

    def consumer():
        got.extend(ch)

    ts = [start_thread(consumer), start_thread(producer)]
    for t in ts:
        join(t)
    assert got == list(range(N))


def test_many_thread_senders_and_receivers(rt):
    ch = mrt.Chan(ctypes.c_int64, 0)
    sums = []
    lock = threading.Lock()

    def producer(base):
        for i in range(200):
            ch.send(base + i)

    def consumer():
        s = sum(ch)
        with lock:
            sums.append(s)

    cons = [start_thread(consumer) for _ in range(3)]
    prods = [start_thread(producer, k * 1000) for k in range(4)]
    for t in prods:
        join(t)
    ch.close()
    for t in cons:
        join(t)
    assert sum(sums) == sum(k * 1000 + i for k in range(4) for i in range(200))


@pytest.mark.parametrize("cap", [0, 8])
def test_g_sends_thread_receives(grt, cap):
    ch = mrt.Chan(ctypes.c_int64, cap)

    def body():
        for i in range(N):
            ch.send(i * 3)
        ch.close()
        return "sent"

    g = mrt.go(body)
    assert list(ch) == [i * 3 for i in range(N)]
    assert g.join(WAIT) == "sent"


@pytest.mark.parametrize("cap", [0, 8])
def test_thread_sends_g_receives(grt, cap):
    ch = mrt.Chan(ctypes.c_int64, cap)
    g = mrt.go(lambda: sum(ch))
    for i in range(N):
        ch.send(i)
    ch.close()
    assert g.join(WAIT) == sum(range(N))


def test_g_to_g(grt):
    a = mrt.Chan(ctypes.c_int64)
    b = mrt.Chan(ctypes.c_int64)

    def square():
        for v in a:
            b.send(v * v)
        b.close()

    g1 = mrt.go(square)
    g2 = mrt.go(lambda: sum(b))
    for i in range(100):
        a.send(i)
    a.close()
    g1.join(WAIT)
    assert g2.join(WAIT) == sum(i * i for i in range(100))


# ------------------------------------------------------------------ close semantics


def test_close_semantics(rt):
    ch = mrt.Chan(ctypes.c_int32, 3)
    ch.send(1)
    ch.send(2)
    ch.close()
    with pytest.raises(mrt.Closed):
        ch.send(3)
    with pytest.raises(mrt.Closed):
        ch.try_send(3)
    with pytest.raises(mrt.Closed):
        ch.close()
    # buffered elements drain, then Closed
    assert ch.recv() == 1
    assert list(ch) == [2]
    with pytest.raises(mrt.Closed):
        ch.recv()
    with pytest.raises(mrt.Closed):
        ch.try_recv()


def test_close_wakes_waiting_receiver_thread(rt):
    ch = mrt.Chan(ctypes.c_int32)
    out = []

    def rx():
        try:
            ch.recv()
        except mrt.Closed as e:
            out.append(e)

    t = start_thread(rx)
    ch.close()
    join(t)
    assert len(out) == 1 and out[0].code == mrt.RT_ECLOSED


def test_close_wakes_waiting_sender_g(grt):
    ch = mrt.Chan(ctypes.c_int32)

    def tx():
        try:
            ch.send(1)
            ch.send(2)  # nobody receives: waits until closed
        except mrt.Closed:
            return "closed"

    g = mrt.go(tx)
    assert ch.recv() == 1
    ch.close()
    assert g.join(WAIT) == "closed"


def test_context_manager_closes(rt):
    with mrt.Chan(ctypes.c_int64, 2) as ch:
        ch.send(5)
    with pytest.raises(mrt.Closed):
        ch.send(6)
    assert ch.recv() == 5
    # closing inside the block is fine too
    with mrt.Chan(ctypes.c_int64) as ch2:
        ch2.close()
    ch.free()
    ch2.free()


# ------------------------------------------------------------------ try-variants


def test_try_variants(rt):
    ch = mrt.Chan(ctypes.c_int64, 1)
    with pytest.raises(mrt.Again):
        ch.try_recv()
    ch.try_send(1)
    with pytest.raises(mrt.Again):
        ch.try_send(2)
    assert ch.try_recv() == 1
    un = mrt.Chan(ctypes.c_int64)
    with pytest.raises(mrt.Again):
        un.try_send(1)
    with pytest.raises(mrt.Again):
        un.try_recv()


def test_unbuffered_try_send_to_waiting_receiver(rt):
    ch = mrt.Chan(ctypes.c_int64)
    out = []
    t = start_thread(lambda: out.append(ch.recv()))

    def delivered():
        try:
            ch.try_send(42)
            return True
        except mrt.Again:
            return False

    wait_for(delivered, "a waiting receiver")
    join(t)
    assert out == [42]


# ------------------------------------------------------------------ free


def test_free_while_waited_is_busy(grt):
    ch = mrt.Chan(ctypes.c_int64)
    parks = mrt.stats().parks
    g = mrt.go(lambda: ch.recv())
    wait_for(lambda: mrt.stats().parks > parks, "the receiver to park")
    with pytest.raises(mrt.Busy) as ei:
        ch.free()
    assert ei.value.code == mrt.RT_EBUSY
    assert ch.handle is not None
    ch.send(9)
    assert g.join(WAIT) == 9
    ch.free()
    assert ch.handle is None


def test_garbage_collected_channel_is_freed(rt):
    import gc
    import weakref

    ch = mrt.Chan(ctypes.c_int64, 4)
    ch.send(1)  # buffered elements are dropped on free
    ref = weakref.ref(ch)
    del ch
    gc.collect()
    assert ref() is None


# ------------------------------------------------------------------ select


def test_select(rt):
    a = mrt.Chan(ctypes.c_int64, 1)
    b = mrt.Chan(ctypes.c_int64, 1)
    with pytest.raises(mrt.Again):
        mrt.select([(mrt.RT_RECV, a), (mrt.RT_RECV, b)], timeout=0)
    with pytest.raises(mrt.TimedOut):
        mrt.select([(mrt.RT_RECV, a), (mrt.RT_RECV, None)], timeout=0.01)
    b.send(5)
    assert mrt.select([(mrt.RT_RECV, a), (mrt.RT_RECV, b)]) == (1, 5, True)
    i, v, ok = mrt.select([(mrt.RT_RECV, None), (mrt.RT_SEND, a, 11)])
    assert (i, v, ok) == (1, None, True) and a.recv() == 11
    a.close()
    assert mrt.select([(mrt.RT_RECV, a), (mrt.RT_RECV, b)], timeout=0) == (0, 0, False)
    with pytest.raises(mrt.InvalidArgument):
        mrt.select([])
    with pytest.raises(ValueError):
        mrt.select([(99, a)])


def test_select_between_thread_and_g(grt):
    data = mrt.Chan(ctypes.c_int64)
    quit_ = mrt.Chan(ctypes.c_int8)

    def body():
        total = 0
        while True:
            i, v, ok = mrt.select([(mrt.RT_RECV, data), (mrt.RT_RECV, quit_)])
            if i == 1:
                return total
            total += v

    g = mrt.go(body)
    for i in range(100):
        data.send(i)
    quit_.send(1)
    assert g.join(WAIT) == sum(range(100))


# ------------------------------------------------------------------ sleep


def test_sleep_from_thread(rt):
    t0 = time.monotonic()
    mrt.sleep(0.05)
    assert time.monotonic() - t0 >= 0.05
    mrt.sleep(0)
    mrt.sleep(-1)


def test_sleep_from_gs(grt):
    def body(i):
        t0 = time.monotonic()
        mrt.sleep(0.05)
        return time.monotonic() - t0

    gs = [mrt.go(body, i) for i in range(8)]
    for g in gs:
        assert g.join(WAIT) >= 0.05


# ------------------------------------------------------------------ poll_fd


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def test_poll_fd_from_thread(rt, pipe):
    r, w = pipe
    with pytest.raises(mrt.Again):
        mrt.poll_fd(r, mrt.POLLIN, timeout=0)
    with pytest.raises(mrt.TimedOut):
        mrt.poll_fd(r, mrt.POLLIN, timeout=0.01)
    assert mrt.poll_fd(w, mrt.POLLOUT) & mrt.POLLOUT
    start_thread(lambda: (time.sleep(0.02), os.write(w, b"x")))
    assert mrt.poll_fd(r, mrt.POLLIN) & mrt.POLLIN
    assert os.read(r, 1) == b"x"


def test_poll_fd_from_g(grt, pipe):
    r, w = pipe
    os.set_blocking(r, False)

    def body():
        with pytest.raises(mrt.Again):
            mrt.poll_fd(r, mrt.POLLIN, timeout=0)
        with pytest.raises(mrt.TimedOut):
            mrt.poll_fd(r, mrt.POLLIN, timeout=0.01)
        ev = mrt.poll_fd(r, mrt.POLLIN)
        return ev, os.read(r, 16)

    g = mrt.go(body)
    time.sleep(0.05)
    os.write(w, b"hello")
    ev, data = g.join(WAIT)
    assert ev & mrt.POLLIN and data == b"hello"


def test_poll_fd_file_object(rt, pipe):
    r, w = pipe
    with os.fdopen(os.dup(w), "wb") as f:
        assert mrt.poll_fd(f, mrt.POLLOUT) & mrt.POLLOUT


def test_poll_fd_bad_input(rt, pipe):
    r, w = pipe
    with pytest.raises(mrt.InvalidArgument):
        mrt.poll_fd(-1, mrt.POLLIN)
    with pytest.raises(mrt.InvalidArgument):
        mrt.poll_fd(r, 0)
    fd = os.dup(r)
    os.close(fd)
    with pytest.raises(mrt.InvalidArgument):
        mrt.poll_fd(fd, mrt.POLLIN, timeout=1)


def test_poll_fd_bad_input_from_g(grt):
    def body():
        with pytest.raises(mrt.InvalidArgument):
            mrt.poll_fd(-1, mrt.POLLIN)
        fd = os.open(os.devnull, os.O_RDONLY)
        os.close(fd)
        with pytest.raises(mrt.InvalidArgument):
            mrt.poll_fd(fd, mrt.POLLIN, timeout=1)
        return True

    assert mrt.go(body).join(WAIT)


# ------------------------------------------------------------------ PollFd


def test_pollfd_from_g(grt, pipe):
    r, w = pipe
    os.set_blocking(r, False)

    def body():
        with mrt.PollFd(r) as pd:
            with pytest.raises(mrt.Again):
                pd.wait(mrt.POLLIN, timeout=0)
            with pytest.raises(mrt.TimedOut):
                pd.wait(mrt.POLLIN, timeout=0.01)
            ev = pd.wait(mrt.POLLIN)
            return ev, os.read(r, 16)

    g = mrt.go(body)
    time.sleep(0.05)
    os.write(w, b"hello")
    ev, data = g.join(WAIT)
    assert ev == mrt.POLLIN and data == b"hello"


def test_pollfd_from_thread_and_close(rt, pipe):
    r, w = pipe
    pd = mrt.PollFd(r)
    with pytest.raises(mrt.Again):
        pd.wait(mrt.POLLIN, timeout=0)
    os.write(w, b"x")
    assert pd.wait(mrt.POLLIN) == mrt.POLLIN
    assert os.read(r, 1) == b"x"
    pd.reset(mrt.POLLIN | mrt.POLLOUT)
    with pytest.raises(mrt.InvalidArgument):
        pd.reset(0)
    res = []

    def waiter():
        try:
            pd.wait(mrt.POLLIN)
        except (mrt.Closed, ValueError, mrt.MrtError) as e:
            res.append(e)

    t = start_thread(waiter)
    time.sleep(0.05)  # usually blocked in the wait by now; a close first is fine too
    pd.close()
    join(t)
    # Woken by the close (Closed), or it came after it (the handle is gone).
    assert len(res) == 1 and isinstance(res[0], (mrt.Closed, ValueError, mrt.MrtError))
    with pytest.raises(ValueError):
        pd.wait(mrt.POLLIN)
