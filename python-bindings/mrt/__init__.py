"""mrt: Python bindings (ctypes) for libmrt, Go's M:P:G scheduler as a C library.

    import mrt

    with mrt.Runtime(maxprocs=4):
        m = mrt.newm(lambda: print("hello from M", mrt.getm().id))
        m.wait()
        p = mrt.P.get(0)
        p.acquire()            # this thread is adopted as an M and holds P 0
        mrt.releasep()         # P 0 is now held by us, idle, not in the pool
        p.put()                # back to the pool

    with mrt.Runtime(maxprocs=4, g_stack_size=1 << 20):
        wg = mrt.WaitGroup()
        def body(i):
            try:
                mrt.gosched()      # a Python body stays on its M (it is wired)
                return i * i
            finally:
                wg.done()
        wg.add(8)
        gs = [mrt.go(body, i) for i in range(8)]
        wg.wait()              # parks a G; blocks a thread (GIL released)
        print([g.join() for g in gs])

The names mirror the C API (docs/api.md, include/mrt.h): ``mrt.lib`` is the loaded library
with argtypes/restype declared for every function, for calls this layer does not wrap.
Failing calls raise ``mrt.MrtError`` subclasses (``mrt.InvalidArgument`` for RT_EINVAL,
``mrt.Busy``, ``mrt.Already``, ...) carrying ``.code`` and ``.name``.
"""

from __future__ import annotations

from . import _ffi
from ._ffi import (LIB_FOUND_BY, LIB_PATH, MISSING, lib, rt_config, rt_fn, rt_go_attr,
                   rt_m_info, rt_stats)
from .errors import *  # noqa: F401,F403 - MrtError, one class per code, RT_E* constants
from .errors import ERRORS, MrtError, check, err_name, error_class, strerror
from .g import (
    RT_G_ASYNC_PREEMPT,
    GoExit,
    Goroutine,
    entersyscall,
    exitsyscall,
    getg,
    go,
    go_ex,
    goexit,
    goid,
    gosched,
    checkpoint,
    lockosthread,
    main,
    park,
    ready,
    syscall,
    unlockosthread,
)
from .m import M, MInfo, allocm, getm, newm
from .p import (
    RT_P_DEAD,
    RT_P_IDLE,
    RT_P_RUNNING,
    RT_P_SYSCALL,
    P,
    PStatus,
    acquirep,
    getp,
    releasep,
)
from .sync import Mutex, WaitGroup
from .chan import Chan, PollFd, poll_fd, select, sleep
from .runtime import (RT_CFG_DEADLOCK_DETECT, RT_CFG_SIGQUIT_DUMP, RT_STATS_EXACT, Runtime, Stats, dump,
                      gomaxprocs, init, shutdown, stats, trace_start, trace_stop, tracing, version)

__version__ = "0.1.0"

RT_SCHED_ONCE = 1
RT_SCHED_FOREVER = 2
RT_POLLIN = 0x1
RT_POLLOUT = 0x4
POLLIN = RT_POLLIN
POLLOUT = RT_POLLOUT
RT_SEND = 1
RT_RECV = 2

__all__ = [
    "lib", "LIB_PATH", "LIB_FOUND_BY", "MISSING", "rt_config", "rt_fn", "rt_go_attr", "rt_m_info", "rt_stats",
    "MrtError", "ERRORS", "check", "err_name", "error_class", "strerror",
    "M", "MInfo", "allocm", "getm", "newm",
    "go", "go_ex", "RT_G_ASYNC_PREEMPT", "main", "Goroutine", "GoExit", "gosched", "checkpoint", "goexit", "goid", "getg",
    "park", "ready",
    "lockosthread", "unlockosthread", "entersyscall", "exitsyscall", "syscall",
    "Mutex", "WaitGroup", "Chan", "select", "sleep", "poll_fd", "PollFd",
    "P", "PStatus", "acquirep", "getp", "releasep",
    "RT_P_IDLE", "RT_P_RUNNING", "RT_P_SYSCALL", "RT_P_DEAD",
    "RT_SCHED_ONCE", "RT_SCHED_FOREVER", "RT_STATS_EXACT", "RT_POLLIN", "RT_POLLOUT", "POLLIN", "POLLOUT", "RT_SEND", "RT_RECV",
    "Runtime", "Stats", "dump", "gomaxprocs", "init", "shutdown", "stats", "version",
    "RT_CFG_DEADLOCK_DETECT", "RT_CFG_SIGQUIT_DUMP",
    "trace_start", "trace_stop", "tracing",
] + [cname for cname, _, _, _ in ERRORS] + [pyname for _, _, pyname, _ in ERRORS] + ["RT_OK"]
