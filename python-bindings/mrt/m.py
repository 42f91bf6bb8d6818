"""M: an OS thread of the runtime (docs/api.md "M"). Python callables as start functions.

``newm(fn, arg, p)`` creates and launches an M whose start function ``fn`` runs on the
M's g0 (its own OS thread, its own stack), holding the GIL while it runs Python code:
``fn(arg)`` if ``arg`` was given, else ``fn()``. What ``fn`` returns or raises is kept on
the ``M`` object (``M.wait()`` returns it or re-raises); nothing is printed.

Every Python start function goes through one C callback, ``_TRAMPOLINE``, created once
and never freed, so no ctypes callback object can be collected while an M may still
call it; the per-M callable is found through the ``arg`` pointer, a key into
``_starts``. A ctypes function pointer (e.g. a ``mrt.rt_fn`` or a symbol of a C library)
may be passed instead of a Python callable: it is called directly with ``arg`` as its
``void *`` (an int, a ctypes pointer, or None) and kept alive until ``mrt.shutdown``.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import weakref
from collections import namedtuple
from typing import Any, Callable, Dict, List, Optional

from . import _ffi
from .errors import check

lib = _ffi.lib

MInfo = namedtuple("MInfo", [n for n, _ in _ffi.rt_m_info._fields_ if n != "size"])  # type: ignore[misc]
MInfo.__module__ = "mrt"
MInfo.__doc__ = ("rt_m_getinfo(): id, tid (0 before launch), p (-1 if none), curg, "
                 "g0_lo/g0_hi (g0 stack bounds, [lo, hi)), lockedg.")

_NOARG: Any = object()


class _Start:
    """A Python start function waiting to run, then what it returned or raised."""

    __slots__ = ("key", "fn", "args", "done", "result", "exception")

    def __init__(self, key: int, fn: Callable, args: tuple):
        self.key = key
        self.fn = fn
        self.args = args
        self.done = threading.Event()
        self.result: Any = None
        self.exception: Optional[BaseException] = None


_lock = threading.Lock()
_keys = itertools.count(1)
_starts: Dict[int, _Start] = {}  # key -> start record, until its M picks it up
_objects: "weakref.WeakValueDictionary[int, M]" = weakref.WeakValueDictionary()
_keepalive: List[Any] = []  # C function pointers handed to Ms, kept until shutdown


def _trampoline(key: Optional[int]) -> None:
    # Runs on the new M's g0, inside ctypes' callback thunk (which took the GIL).
    with _lock:
        st = _starts.pop(key or 0, None)
    if st is None:
        return
    handle = lib.rt_getm()
    me = _wrap(handle, st) if handle else None  # so getm() inside fn is the M object
    try:
        st.result = st.fn(*st.args)
    except BaseException as e:  # noqa: B902 - kept for M.wait(), never printed
        st.exception = e
    finally:
        st.done.set()
        del me


_TRAMPOLINE = _ffi.rt_fn(_trampoline)


def _forget_all() -> None:
    """After rt_shutdown: every M handle and pending start function is gone."""
    with _lock:
        _starts.clear()
        _objects.clear()
        del _keepalive[:]


def _wrap(handle: int, start: Optional[_Start] = None) -> "M":
    with _lock:
        m = _objects.get(handle)
        if m is None:
            m = M(handle)
            _objects[handle] = m
        if start is not None and m._start is None:
            m._start = start
        return m


def _prepare(fn, arg):
    """(C function, C arg, _Start or None) for a start function."""
    if fn is None:
        if arg is not _NOARG:
            raise TypeError("arg given without a start function")
        return None, None, None
    if isinstance(fn, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        with _lock:
            _keepalive.append(fn)
        return fn, (None if arg is _NOARG else arg), None
    if not callable(fn):
        raise TypeError("start function must be callable, a ctypes function pointer or None")
    st = _Start(next(_keys), fn, () if arg is _NOARG else (arg,))
    with _lock:
        _starts[st.key] = st
    return _TRAMPOLINE, st.key, st


def _discard(st: Optional[_Start]) -> None:
    if st is not None:
        with _lock:
            _starts.pop(st.key, None)


class M(_ffi.Handle):
    """An M handle (rt_m *). Compare with ==; pass it straight to raw ``mrt.lib`` calls."""

    _kind = "M"

    def __init__(self, handle: int):
        super().__init__(handle)
        self._start: Optional[_Start] = None

    def __repr__(self) -> str:
        try:
            ident = "id=%d" % self.id
        except Exception as e:  # a dead handle: say so rather than fail in repr
            ident = "error=%s" % getattr(e, "name", e)
        return "<mrt.M %s handle=%#x>" % (ident, self._handle)

    @property
    def id(self) -> int:
        """rt_m_id(): small, unique among live Ms."""
        return check(lib.rt_m_id(self), "rt_m_id")

    def info(self) -> MInfo:
        """rt_m_getinfo(): an MInfo snapshot."""
        out = _ffi.rt_m_info()
        out.size = ctypes.sizeof(out)
        check(lib.rt_m_getinfo(self, ctypes.byref(out)), "rt_m_getinfo")
        return MInfo(*(getattr(out, f) for f in MInfo._fields))

    def launch(self, nextp=None) -> None:
        """rt_m_launch(): start the OS thread of an M from allocm, with an optional P
        (idle in the pool, or held after releasep) to take after its start function.
        Raises Already if launched before, Busy if nextp is running on an M."""
        check(lib.rt_m_launch(self, nextp), "rt_m_launch")

    def free(self) -> None:
        """rt_m_free(): free an M that was never launched (Busy once launched)."""
        check(lib.rt_m_free(self), "rt_m_free")
        _discard(self._start)
        with _lock:
            if _objects.get(self._handle) is self:
                del _objects[self._handle]

    # The Python start function, if this M was created with one.
    @property
    def done(self) -> bool:
        """True once the Python start function has returned (or raised)."""
        return self._start is not None and self._start.done.is_set()

    @property
    def exception(self) -> Optional[BaseException]:
        """What the Python start function raised, if it has raised."""
        return self._start.exception if self._start is not None else None

    def wait(self, timeout: Optional[float] = None) -> Any:
        """Wait until the Python start function has run; return its result or re-raise
        its exception. Raises TimeoutError after ``timeout`` seconds."""
        if self._start is None:
            raise ValueError("this M has no Python start function")
        if not self._start.done.wait(timeout):
            raise TimeoutError("start function of %r still running" % self)
        if self._start.exception is not None:
            raise self._start.exception
        return self._start.result


def allocm(fn: Optional[Callable] = None, arg: Any = _NOARG, p=None) -> M:
    """rt_allocm(): an M not yet running (launch() starts it, free() discards it).
    If the calling M holds no P and ``p`` is given, ``p`` is borrowed for the
    allocation (it must be idle: Busy otherwise)."""
    cfn, carg, st = _prepare(fn, arg)
    out = ctypes.c_void_p()
    rc = lib.rt_allocm(p, cfn, carg, ctypes.byref(out))
    if rc < 0:
        _discard(st)
        check(rc, "rt_allocm")
    return _wrap(out.value, st)  # type: ignore[arg-type]


def newm(fn: Optional[Callable] = None, arg: Any = _NOARG, p=None) -> M:
    """rt_newm(): create and launch an M running ``fn(arg)`` (or ``fn()``) on its g0;
    then, if ``p`` is given, it takes ``p`` (idle in the pool, or held after releasep).
    On failure nothing leaks and ``p`` is back where it was."""
    cfn, carg, st = _prepare(fn, arg)
    out = ctypes.c_void_p()
    rc = lib.rt_newm(cfn, carg, p, ctypes.byref(out))
    if rc < 0:
        _discard(st)
        check(rc, "rt_newm")
    return _wrap(out.value, st)  # type: ignore[arg-type]


def getm() -> Optional[M]:
    """rt_getm(): the calling thread's M, or None on a thread the runtime neither
    created nor adopted."""
    handle = lib.rt_getm()
    return _wrap(handle) if handle else None
