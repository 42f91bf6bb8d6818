"""rt_mutex and rt_wg (docs/api.md "Channels and synchronisation"): they work between Gs and
threads alike. Waiting parks a G (its M goes on to run other Gs; a Python body, being
wired, hands its P off) and blocks a thread on a futex. ctypes releases the GIL around
each call, so a waiter never holds it.

Misuse is fatal, as in Go: unlocking an unlocked Mutex, or a WaitGroup counter going
negative, makes libmrt abort the process with a message.
"""

from __future__ import annotations

import ctypes
import threading

from . import _ffi, _wait

lib = _ffi.lib


class Mutex:
    """rt_mutex (all-zero: unlocked). ``with mu:`` locks and unlocks. Any thread or G
    may unlock it, not only the locker."""

    __slots__ = ("_mu", "_ref")

    def __init__(self) -> None:
        self._mu = _ffi.rt_mutex()
        self._ref = ctypes.byref(self._mu)

    @property
    def _as_parameter_(self):
        return self._ref

    def lock(self) -> None:
        """rt_mutex_lock."""
        with _wait.note("Mutex.lock", self):
            lib.rt_mutex_lock(self._ref)

    def trylock(self) -> bool:
        """rt_mutex_trylock: lock if free; never blocks."""
        return bool(lib.rt_mutex_trylock(self._ref))

    def unlock(self) -> None:
        """rt_mutex_unlock (fatal if not locked)."""
        lib.rt_mutex_unlock(self._ref)

    def __enter__(self) -> "Mutex":
        self.lock()
        return self

    def __exit__(self, *exc) -> None:
        lib.rt_mutex_unlock(self._ref)

    def __repr__(self) -> str:
        return "<mrt.Mutex at %#x>" % ctypes.addressof(self._mu)


class WaitGroup:
    """rt_wg (all-zero: count 0): ``add(n)`` before starting work, ``done()`` when each
    piece ends, ``wait()`` until the count is zero."""

    __slots__ = ("_wg", "_ref")

    def __init__(self) -> None:
        self._wg = _ffi.rt_wg()
        self._ref = ctypes.byref(self._wg)

    @property
    def _as_parameter_(self):
        return self._ref

    def add(self, delta: int = 1) -> None:
        """rt_wg_add (fatal if the count goes negative)."""
        lib.rt_wg_add(self._ref, delta)

    def done(self) -> None:
        """rt_wg_done: add(-1)."""
        lib.rt_wg_done(self._ref)

    def wait(self) -> None:
        """rt_wg_wait. On the main thread, Ctrl-C interrupts the wait
        (KeyboardInterrupt): the wait then runs in a helper thread, which is left
        waiting if interrupted (it ends when the count reaches zero)."""
        if not _wait.interruptible():
            with _wait.note("WaitGroup.wait", self):
                lib.rt_wg_wait(self._ref)
            return
        done = threading.Event()

        def waiter() -> None:
            lib.rt_wg_wait(self._ref)
            done.set()

        threading.Thread(target=waiter, name="mrt WaitGroup.wait", daemon=True).start()
        _wait.wait_event(done)

    def __repr__(self) -> str:
        return "<mrt.WaitGroup at %#x>" % ctypes.addressof(self._wg)
