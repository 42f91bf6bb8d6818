"""P: a processor, the right to run Gs (docs/api.md "P").

A P is idle in the pool, running on an M (an M's start function, a runtime M, or a
Python thread that called ``acquire``: the library adopts such a thread as an M), or
*held*: released by ``releasep()`` and not yet given back, owned by the host, which
may hand it to any thread (``acquire``), to a new M (``newm(p=...)``), or back to the
pool (``put``).
"""

from __future__ import annotations

import enum
from typing import Optional

from . import _ffi
from .errors import check

lib = _ffi.lib


class PStatus(enum.IntEnum):
    IDLE = 0  # RT_P_IDLE: in the pool, or held after releasep
    RUNNING = 1  # RT_P_RUNNING: associated with an M
    SYSCALL = 2  # RT_P_SYSCALL: its M is in a syscall
    DEAD = 3  # RT_P_DEAD: surplus after gomaxprocs shrank


RT_P_IDLE, RT_P_RUNNING, RT_P_SYSCALL, RT_P_DEAD = (int(s) for s in PStatus)


class P(_ffi.Handle):
    """A P handle (rt_p *). Compare with ==; pass it straight to raw ``mrt.lib`` calls."""

    _kind = "P"

    @classmethod
    def get(cls, id: int) -> Optional["P"]:
        """rt_p_get(): allp[id], or None if id is out of range (>= gomaxprocs)."""
        handle = lib.rt_p_get(id)
        return cls(handle) if handle else None

    def __repr__(self) -> str:
        try:
            desc = "id=%d %s" % (self.id, self.status.name)
        except Exception as e:
            desc = "error=%s" % getattr(e, "name", e)
        return "<mrt.P %s handle=%#x>" % (desc, self._handle)

    @property
    def id(self) -> int:
        """rt_p_id()."""
        return check(lib.rt_p_id(self), "rt_p_id")

    @property
    def status(self) -> PStatus:
        """rt_p_status() as a PStatus."""
        return PStatus(check(lib.rt_p_status(self), "rt_p_status"))

    def acquire(self) -> None:
        """rt_acquirep(): associate this P with the calling thread's M (a plain Python
        thread is adopted as an M first). InvalidArgument: not a live P; Busy: running
        on an M; Already: this thread already holds a P."""
        check(lib.rt_acquirep(self), "rt_acquirep")

    def put(self) -> None:
        """rt_p_put(): give a held idle P back to the pool. Already: in the pool;
        Busy: running."""
        check(lib.rt_p_put(self), "rt_p_put")


def acquirep(p: P) -> None:
    """rt_acquirep(p); see P.acquire."""
    check(lib.rt_acquirep(p), "rt_acquirep")


def releasep() -> Optional[P]:
    """rt_releasep(): detach the calling M's P and return it, idle and held by the
    caller (not in the pool); None if this thread holds no P."""
    handle = lib.rt_releasep()
    return P(handle) if handle else None


def getp() -> Optional[P]:
    """rt_getp(): the P held by the calling M, or None."""
    handle = lib.rt_getp()
    return P(handle) if handle else None
