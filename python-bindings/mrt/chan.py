"""Channels, select, sleep, poll_fd and PollFd (docs/api.md "Channels and
synchronisation", ``rt_sleep``, ``rt_poll_fd``, "Registered fds").

``Chan(ctype, cap=0)`` is an ``rt_chan`` of ``ctypes.sizeof(ctype)``-byte elements:
``send`` copies a value in, ``recv`` copies one out (a plain ``int``/``float``/... for
simple ctypes types, an instance of ``ctype`` for structures and arrays). Both work
from Python threads and Python Gs alike: ctypes releases the GIL around every call, a
G parks and a thread blocks on a futex while it waits.

    with mrt.Chan(ctypes.c_int64, 8) as ch:     # closed on exit
        mrt.go(lambda: [ch.send(i) for i in range(3)] and ch.close())
        print(list(ch))                          # recv until closed: [0, 1, 2]

The channel is freed when the object is garbage-collected (silently kept if someone
still waits on it), or explicitly with ``free()``, which raises ``mrt.Busy`` then.
"""

from __future__ import annotations

import ctypes
from typing import Any, Iterator, Optional, Sequence, Tuple

from . import _ffi, _wait
from .errors import RT_ECLOSED, Closed, check

RT_ETIMEDOUT = -110

lib = _ffi.lib

RT_POLLIN = 0x1
RT_POLLOUT = 0x4
RT_SEND = 1
RT_RECV = 2


def _ns(seconds: Optional[float]) -> int:
    """A timeout in seconds (None: forever) as rt_* nanoseconds (< 0: forever)."""
    if seconds is None:
        return -1
    if seconds < 0:
        return -1
    return int(seconds * 1e9)


class Chan:
    """An rt_chan carrying values of the ctypes type ``ctype``."""

    __slots__ = ("_h", "ctype", "__weakref__")

    def __init__(self, ctype: Any, cap: int = 0) -> None:
        self._h: Optional[int] = None
        try:
            size = ctypes.sizeof(ctype)
        except TypeError:
            raise TypeError("Chan: expected a ctypes type, got %r" % (ctype,)) from None
        if not isinstance(ctype, type):
            raise TypeError("Chan: expected a ctypes type, got %r" % (ctype,))
        if cap < 0:
            raise ValueError("Chan: negative capacity %d" % cap)
        self.ctype = ctype
        h = ctypes.c_void_p()
        check(lib.rt_chan_make(size, cap, ctypes.byref(h)), "rt_chan_make")
        self._h = h.value

    # -- handle
    def _live(self) -> int:
        if self._h is None:
            raise ValueError("Chan: used after free()")
        return self._h

    @property
    def _as_parameter_(self) -> int:
        return self._live()

    @property
    def handle(self) -> Optional[int]:
        """The rt_chan * as an int (None once freed)."""
        return self._h

    def _box(self, value: Any) -> Any:
        if isinstance(value, self.ctype):
            return value
        return self.ctype(value)

    def _unbox(self, buf: Any) -> Any:
        if isinstance(buf, ctypes._SimpleCData):
            return buf.value
        return buf

    # -- operations
    def send(self, value: Any) -> None:
        """rt_chan_send: waits for room or a receiver. Closed if closed. On the main
        thread, Ctrl-C interrupts the wait (KeyboardInterrupt)."""
        buf = self._box(value)
        if _wait.interruptible():
            self._wait_sliced(RT_SEND, buf, "rt_chan_send")
            return
        with _wait.note("Chan.send", self):
            check(lib.rt_chan_send(self._live(), ctypes.byref(buf)), "rt_chan_send")

    def recv(self) -> Any:
        """rt_chan_recv: waits for a value. Closed once closed and drained. On the
        main thread, Ctrl-C interrupts the wait (KeyboardInterrupt)."""
        buf = self.ctype()
        if _wait.interruptible():
            self._wait_sliced(RT_RECV, buf, "rt_chan_recv")
        else:
            with _wait.note("Chan.recv", self):
                check(lib.rt_chan_recv(self._live(), ctypes.byref(buf)), "rt_chan_recv")
        return self._unbox(buf)

    def _wait_sliced(self, d: int, buf: Any, func: str) -> None:
        # A one-case rt_select with a short timeout, repeated: same result as the
        # plain call, but Python gets control (and raises a pending
        # KeyboardInterrupt) between slices. A waiter re-queues at each slice, so
        # it may lose its place among other waiters on the same channel.
        case = _ffi.rt_select_case(self._live(), d, ctypes.addressof(buf), 0)

        def attempt(ns: int) -> Optional[int]:
            rc = lib.rt_select(ctypes.byref(case), 1, ns)
            return None if rc == RT_ETIMEDOUT else rc

        check(_wait.sliced(attempt, -1), func)  # type: ignore[arg-type]
        check(case.result, func)

    def try_send(self, value: Any) -> None:
        """rt_chan_trysend: Again if it would wait."""
        buf = self._box(value)
        check(lib.rt_chan_trysend(self._live(), ctypes.byref(buf)), "rt_chan_trysend")

    def try_recv(self) -> Any:
        """rt_chan_tryrecv: Again if it would wait."""
        buf = self.ctype()
        check(lib.rt_chan_tryrecv(self._live(), ctypes.byref(buf)), "rt_chan_tryrecv")
        return self._unbox(buf)

    def close(self) -> None:
        """rt_chan_close: Closed if already closed."""
        check(lib.rt_chan_close(self._live()), "rt_chan_close")

    def len(self) -> int:
        """rt_chan_len: buffered elements."""
        return int(lib.rt_chan_len(self._live()))

    def __len__(self) -> int:
        return self.len()

    @property
    def cap(self) -> int:
        """rt_chan_cap."""
        return int(lib.rt_chan_cap(self._live()))

    def free(self) -> None:
        """rt_chan_free: Busy while someone waits on it. Idempotent once freed."""
        if self._h is None:
            return
        check(lib.rt_chan_free(self._h), "rt_chan_free")
        self._h = None

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None:
            try:
                if lib.rt_chan_free(h) == 0:
                    self._h = None
            except Exception:  # interpreter shutting down
                pass

    # -- protocols
    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.recv()
            except Closed:
                return

    def __enter__(self) -> "Chan":
        return self

    def __exit__(self, *exc) -> None:
        if self._h is not None:
            rc = lib.rt_chan_close(self._h)
            if rc != RT_ECLOSED:
                check(rc, "rt_chan_close")

    def __repr__(self) -> str:
        if self._h is None:
            return "<mrt.Chan %s freed>" % self.ctype.__name__
        return "<mrt.Chan %s len=%d cap=%d at %#x>" % (
            self.ctype.__name__, self.len(), self.cap, self._h)


def select(cases: Sequence[Tuple], timeout: Optional[float] = None) -> Tuple[int, Any, bool]:
    """rt_select over ``cases``, each ``(mrt.RT_SEND, chan, value)`` or
    ``(mrt.RT_RECV, chan)`` (``chan`` None: the case never proceeds).

    Returns ``(index, value, ok)``: the case that proceeded, the value received
    (None for a send) and ok False when its channel was closed (a receive then gives
    the zero value). ``timeout`` None waits forever; 0 raises Again if no case is
    ready; otherwise TimedOut when the time is up."""
    n = len(cases)
    arr = (_ffi.rt_select_case * max(n, 1))()
    bufs = []
    for i, case in enumerate(cases):
        d, ch = case[0], case[1]
        if d not in (RT_SEND, RT_RECV):
            raise ValueError("select: case %d: bad direction %r" % (i, d))
        if ch is not None and not isinstance(ch, Chan):
            raise TypeError("select: case %d: expected a Chan or None" % i)
        buf = None
        if ch is not None:
            if d == RT_SEND:
                if len(case) != 3:
                    raise ValueError("select: case %d: a send needs a value" % i)
                buf = ch._box(case[2])
            else:
                buf = ch.ctype()
            arr[i].chan = ch._live()
            arr[i].elem = ctypes.addressof(buf)
        arr[i].dir = d
        bufs.append(buf)
    ns = _ns(timeout)
    if _wait.interruptible() and n and (ns < 0 or ns > _wait.SLICE_NS):
        # Main thread: wait in slices so that Ctrl-C raises KeyboardInterrupt.
        def attempt(slice_ns: int) -> Optional[int]:
            rc = lib.rt_select(arr, n, slice_ns)
            return None if rc == RT_ETIMEDOUT else rc

        rc = _wait.sliced(attempt, ns)
        idx = check(RT_ETIMEDOUT if rc is None else rc, "rt_select")
    else:
        with _wait.note("select", [c[1] for c in cases]):
            idx = check(lib.rt_select(arr if n else None, n, ns), "rt_select")
    ok = arr[idx].result == 0
    val = None
    if cases[idx][0] == RT_RECV and bufs[idx] is not None:
        val = cases[idx][1]._unbox(bufs[idx])
    return idx, val, ok


def sleep(seconds: float) -> None:
    """rt_sleep: a G parks on a timer (its M runs other Gs); a thread nanosleeps (on
    the main thread in slices, so that Ctrl-C raises KeyboardInterrupt)."""
    ns = int(seconds * 1e9)
    if _wait.interruptible() and ns > _wait.SLICE_NS:
        def attempt(slice_ns: int) -> None:
            check(lib.rt_sleep(slice_ns), "rt_sleep")  # never done early: sleep on

        _wait.sliced(attempt, ns)
        return
    with _wait.note("sleep"):
        check(lib.rt_sleep(ns), "rt_sleep")


def poll_fd(fd: Any, events: int, timeout: Optional[float] = None) -> int:
    """rt_poll_fd: wait until ``fd`` (an int or an object with ``fileno()``) is ready
    for ``events`` (RT_POLLIN | RT_POLLOUT); returns the ready events. ``timeout``
    None waits forever; 0 raises Again if not ready; else TimedOut."""
    if not isinstance(fd, int):
        fd = fd.fileno()
    with _wait.note("poll_fd(%d)" % fd):
        return check(lib.rt_poll_fd(fd, events, _ns(timeout)), "rt_poll_fd")


class PollFd:
    """A registered fd (rt_pollfd_open): for an fd this program opens and closes
    itself. ``wait`` consumes the edge the netpoller recorded, if any, without a
    system call (from a G), else waits for the next one. Readiness may be stale: use
    the fd non-blocking and wait again when the I/O says EAGAIN. Close the PollFd
    (``close()``, or leave the ``with`` block) before the fd."""

    __slots__ = ("_h", "fd", "__weakref__")

    def __init__(self, fd: Any) -> None:
        self._h: Optional[int] = None
        if not isinstance(fd, int):
            fd = fd.fileno()
        self.fd = fd
        h = ctypes.c_void_p()
        check(lib.rt_pollfd_open(fd, ctypes.byref(h)), "rt_pollfd_open")
        self._h = h.value

    def _live(self) -> int:
        if self._h is None:
            raise ValueError("PollFd: used after close()")
        return self._h

    def wait(self, events: int, timeout: Optional[float] = None) -> int:
        """rt_pollfd_wait for one direction (RT_POLLIN or RT_POLLOUT); returns it.
        ``timeout`` None waits forever; 0 raises Again without an edge; else
        TimedOut. Closed while waiting: Closed."""
        h = self._live()
        with _wait.note("pollfd_wait(%d)" % self.fd):
            return check(lib.rt_pollfd_wait(h, events, _ns(timeout)), "rt_pollfd_wait")

    def reset(self, events: int) -> None:
        """rt_pollfd_reset: forget the edges recorded so far (call before the I/O)."""
        check(lib.rt_pollfd_reset(self._live(), events), "rt_pollfd_reset")

    def close(self) -> None:
        """rt_pollfd_close: wakes the waiters (Closed) and retires the handle."""
        h, self._h = self._live(), None
        check(lib.rt_pollfd_close(h), "rt_pollfd_close")

    def __enter__(self) -> "PollFd":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._h is not None:
            self.close()
