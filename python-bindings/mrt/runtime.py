"""The runtime as a whole: init/shutdown, Runtime (a context manager), gomaxprocs,
stats, version. Mirrors docs/api.md "Runtime" and "Observability".

Any libmrt call made before ``init`` starts the runtime with defaults (the library does
this itself). ``shutdown`` joins every runtime-created M; afterwards calls that need the
runtime raise ``mrt.Shutdown`` until ``init`` runs again. Importing ``mrt`` registers an
``atexit`` hook that shuts the runtime down, so that no M thread is left running while
the interpreter tears down. It waits ``atexit_timeout_ns`` (2 s by default) for Gs to
finish; if some are still parked then (on a channel nobody will send to, say), it says
on stderr how many and on what, and lets the interpreter exit without them.
"""

from __future__ import annotations

import atexit
import ctypes
from collections import namedtuple

from . import _ffi
from .errors import Shutdown, TimedOut, check  # type: ignore[attr-defined]

lib = _ffi.lib

# Snapshot of rt_stats, one field per struct field (except size).
Stats = namedtuple("Stats", [n for n, _ in _ffi.rt_stats._fields_ if n != "size"])  # type: ignore[misc]
Stats.__module__ = "mrt"
Stats.__doc__ = "rt_getstats(): a snapshot of the runtime's counters (see docs/api.md)."


def _config(maxprocs: int = 0, g0_stack_size: int = 0, g_stack_size: int = 0,
            flags: int = 0, preempt_signal: int = 0) -> _ffi.rt_config:
    return _ffi.rt_config(ctypes.sizeof(_ffi.rt_config), maxprocs, g0_stack_size,
                          g_stack_size, flags, preempt_signal)


def init(maxprocs: int = 0, g0_stack_size: int = 0, g_stack_size: int = 0,
         flags: int = 0, preempt_signal: int = 0) -> None:
    """rt_init: start the runtime. 0 means default for every field (preempt_signal:
    0 = SIGURG, -1 = no asynchronous preemption, else that signal number).
    Raises Already if it is running, InvalidArgument for a bad value."""
    cfg = _config(maxprocs, g0_stack_size, g_stack_size, flags, preempt_signal)
    check(lib.rt_init(ctypes.byref(cfg)), "rt_init")


def shutdown(timeout_ns: int = -1) -> None:
    """rt_shutdown: wait (timeout_ns < 0: forever) for all Gs, stop and join every
    runtime-created M, free Ps. Raises Shutdown if not running, TimedOut (runtime left
    running), Permission from an M's start function or a G."""
    check(lib.rt_shutdown(timeout_ns), "rt_shutdown")
    _after_shutdown()


def _after_shutdown() -> None:
    from . import g, m  # the registries hold handles that are gone now

    m._forget_all()
    g._forget_all()


def gomaxprocs(n: int = 0) -> int:
    """rt_gomaxprocs: n > 0 sets the number of Ps and returns the previous value;
    n <= 0 only queries."""
    return check(lib.rt_gomaxprocs(n), "rt_gomaxprocs")


def version() -> str:
    """rt_version(): "MAJOR.MINOR.PATCH" of the loaded library."""
    return lib.rt_version().decode()


RT_STATS_EXACT = 1  # rt_getstats_ex flag: count resident stack pages with mincore

# rt_config.flags (init(flags=...), Runtime(flags=...)):
RT_CFG_DEADLOCK_DETECT = 0x1  # "all goroutines are asleep - deadlock!": main() raises Deadlock
RT_CFG_SIGQUIT_DUMP = 0x2  # SIGQUIT writes the goroutine dump to stderr, then the old handler


def stats(exact: bool = False) -> Stats:
    """rt_getstats(): a Stats snapshot. ``exact=True`` is rt_getstats_ex with
    RT_STATS_EXACT: stack_resident_bytes counted with mincore (slow with many Gs)
    instead of the cheap estimate."""
    st = _ffi.rt_stats()
    st.size = ctypes.sizeof(st)
    check(lib.rt_getstats_ex(ctypes.byref(st), RT_STATS_EXACT if exact else 0), "rt_getstats_ex")
    return Stats(*(getattr(st, f) for f in Stats._fields))


def dump(file=None) -> None:
    """rt_dump: write the state of every M, P and G, human-readable, to ``file`` (a
    file descriptor or an object with fileno(); default sys.stderr). The Gs come
    grouped by identical stacks, each with its wait reason and time, creator, name
    and backtrace (Python bodies show the interpreter's C frames, not Python's)."""
    import sys

    if file is None:
        file = sys.stderr
    if not isinstance(file, int):
        if hasattr(file, "flush"):
            file.flush()
        file = file.fileno()
    check(lib.rt_dump(file), "rt_dump")


def trace_start(path) -> None:
    """rt_trace_start: write the execution trace (Chrome trace-event JSON, which
    ui.perfetto.dev opens) to ``path`` until ``trace_stop``. ``python -m mrt.trace``
    summarises and renders it. Raises InvalidArgument for a path that cannot be
    written, Already if a trace runs."""
    import os

    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("trace_start: path must be str, bytes or os.PathLike")
    check(lib.rt_trace_start(os.fsencode(path)), "rt_trace_start")


def trace_stop() -> None:
    """rt_trace_stop: flush every buffered event and close the trace file. Raises
    InvalidArgument if no trace runs."""
    check(lib.rt_trace_stop(), "rt_trace_stop")


class tracing:
    """``with mrt.tracing("out.json"):`` traces the block (trace_start / trace_stop)."""

    def __init__(self, path) -> None:
        self.path = path

    def __enter__(self) -> "tracing":
        trace_start(self.path)
        return self

    def __exit__(self, *exc) -> None:
        trace_stop()


class Runtime:
    """``with mrt.Runtime(maxprocs=4) as rt:`` runs rt_init on entry and
    rt_shutdown(shutdown_timeout_ns) on exit. Sizes are in bytes; 0 = default."""

    def __init__(self, maxprocs: int = 0, g0_stack_size: int = 0, g_stack_size: int = 0,
                 flags: int = 0, shutdown_timeout_ns: int = -1, preempt_signal: int = 0):
        self.maxprocs = maxprocs
        self.g0_stack_size = g0_stack_size
        self.g_stack_size = g_stack_size
        self.flags = flags
        self.preempt_signal = preempt_signal
        self.shutdown_timeout_ns = shutdown_timeout_ns

    def __repr__(self) -> str:
        return ("Runtime(maxprocs=%d, g0_stack_size=%d, g_stack_size=%d, flags=%#x)"
                % (self.maxprocs, self.g0_stack_size, self.g_stack_size, self.flags))

    def __enter__(self) -> "Runtime":
        init(self.maxprocs, self.g0_stack_size, self.g_stack_size, self.flags,
             self.preempt_signal)
        return self

    def __exit__(self, *exc) -> None:
        shutdown(self.shutdown_timeout_ns)

    # Convenience views of the running runtime.
    def gomaxprocs(self, n: int = 0) -> int:
        return gomaxprocs(n)

    def stats(self) -> Stats:
        return stats()


# How long the exit hook waits for Gs to finish (ns; < 0 forever). Bounded, so that a G
# parked for good does not hang the interpreter's exit.
atexit_timeout_ns = 2 * 10**9


def _left_behind() -> str:
    """What a timed-out shutdown left running: the live Gs and what the Python ones
    are blocked in (Gs running C code are only counted)."""
    from . import _wait

    waiting = sorted(_wait.waiting.items())
    try:
        alive = stats().goroutines
    except Exception:
        alive = len(waiting)
    if alive == 0:
        return "no G is left, but an M is still in its start function"
    parts = ["G %d in %s" % (gid, what) for gid, what in waiting]
    other = alive - len(waiting)
    if other > 0:
        parts.append("%d more not parked by Python code" % other)
    return "%d G%s still alive: %s" % (alive, "" if alive == 1 else "s", "; ".join(parts))


@atexit.register
def _shutdown_at_exit() -> None:
    import sys

    try:
        shutdown(atexit_timeout_ns)
    except Shutdown:
        pass  # not running: nothing to do
    except TimedOut:
        print("mrt: at exit, gave up waiting after %.1f s: %s; exiting without them"
              % (atexit_timeout_ns / 1e9, _left_behind()), file=sys.stderr)
    except Exception as e:  # the process exits anyway: say why shutdown failed
        print("mrt: shutdown at exit failed: %s" % e, file=sys.stderr)
