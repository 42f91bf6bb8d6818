"""Waiting that Ctrl-C can interrupt, and a record of what each Python G waits on.

Ctrl-C: CPython runs signal handlers only on the main thread, between bytecodes. A
main thread blocked inside one long libmrt call (a futex wait) never gets there, so
``KeyboardInterrupt`` would wait until the call returns. On the main thread outside any
G, the blocking calls of this package therefore wait in slices of ``SLICE_NS``: each
slice is a libmrt call with a timeout, and between slices Python raises a pending
``KeyboardInterrupt``. Elsewhere (other threads, Gs) they make the one blocking call.

What Gs wait on: while a Python G is blocked in one of those calls, ``waiting`` maps its
goid to a description (``Chan.recv on <mrt.Chan ...>``), so that a shutdown at exit
that times out can say what was left parked.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Iterator, Optional
from contextlib import contextmanager

from . import _ffi

lib = _ffi.lib

SLICE_NS = 50_000_000  # 50 ms: how late a Ctrl-C is noticed, at worst

waiting: Dict[int, str] = {}  # goid -> what the Python G is blocked in


def interruptible() -> bool:
    """On the interpreter's main thread and not in a G: wait in slices."""
    return threading.current_thread() is threading.main_thread() and lib.rt_goid() == 0


@contextmanager
def note(what: str, obj: object = None) -> Iterator[None]:
    """Record, for the calling G (if any), that it is blocked in ``what``."""
    gid = lib.rt_goid()
    if gid == 0:
        yield
        return
    waiting[gid] = what if obj is None else "%s on %r" % (what, obj)
    try:
        yield
    finally:
        waiting.pop(gid, None)


def sliced(attempt: Callable[[int], Optional[int]], timeout_ns: int) -> Optional[int]:
    """Call ``attempt(ns)`` with slices of at most SLICE_NS until it returns a value
    other than None or ``timeout_ns`` (< 0: no limit) has passed; returns the last
    result (None if the time ran out while ``attempt`` kept returning None)."""
    deadline = None if timeout_ns < 0 else time.monotonic_ns() + timeout_ns
    while True:
        if deadline is None:
            ns = SLICE_NS
        else:
            ns = min(SLICE_NS, deadline - time.monotonic_ns())
            if ns <= 0:
                return None
        r = attempt(ns)
        if r is not None:
            return r


def wait_event(ev: threading.Event) -> None:
    """Event.wait() in slices (each slice ends where Python can raise KeyboardInterrupt)."""
    while not ev.wait(SLICE_NS / 1e9):
        pass
