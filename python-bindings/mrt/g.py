"""G: goroutines (docs/api.md "G", ``rt_main``), with C functions or Python callables as bodies.

``go(fn, arg)`` starts a G (``rt_go``):

* ``fn`` a C function pointer -- a ctypes function pointer such as ``mrt.rt_fn``, a
  ``CFUNCTYPE(None, c_void_p)`` or a symbol of a loaded C library, or an ``int``
  address: the G runs ``fn(arg)`` with ``arg`` as its ``void *`` (an int, a ctypes
  pointer or None), exactly as ``rt_go`` does, and ``go`` returns the G's id. The
  memory ``arg`` points to must outlive the G; this layer cannot know when a C body ends.
* ``fn`` a Python callable: the G runs ``fn(arg)`` (or ``fn()`` when no ``arg`` is
  given) and ``go`` returns a ``Goroutine`` handle whose ``join()``/``wait()`` returns
  what it returned or re-raises what it raised (nothing is printed). A ctypes callback
  made from a Python function (``mrt.rt_fn(pyfunc)``) runs Python too and is treated
  the same way (called with ``arg`` as its ``void *``).
* ``fn`` None (or address 0): ``rt_go(NULL)``, which raises ``InvalidArgument``.

A Python body is wired to its M for its whole run (see ``_g_entry``): each Python G that
is alive -- running, runnable, parked or in a syscall -- owns an OS thread, as a Go
goroutine that called ``LockOSThread`` does. Gs with C bodies cost no thread of their own.

Python G bodies run on G stacks (``rt_config.g_stack_size``, 64 KiB by default). Python
calls that recurse through C (a callable calling a builtin calling a callable, ...)
take several hundred bytes of C stack a level, and overflowing a G stack is fatal
(libmrt reports "stack overflow on goroutine N" and aborts). Give a runtime that runs
Python bodies bigger G stacks: ``mrt.Runtime(g_stack_size=1 << 20)`` (the memory is
reserved, not committed: untouched pages cost nothing).

The GIL: ctypes releases it around every call into libmrt, so a G that parks (on a
``Mutex``, a ``WaitGroup``, ``gosched``) or a Python thread blocked in ``rt_wg_wait``
never holds it. A Python body waits for the GIL when it starts and whenever another
thread holds it, like any Python thread. Inside a G, prefer ``Mutex``/``WaitGroup``
(they park the G) to ``threading`` primitives, which block the M and the P with it;
wrap other blocking calls in ``with mrt.syscall():`` so that the P can be handed off.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any, Callable, Dict, Optional, Union

from . import _ffi, _wait
from .errors import check, error_class

lib = _ffi.lib

_NOARG: Any = object()

# The type of the object behind a ctypes callback made from a Python function.
_CThunk = type(_ffi.rt_fn(lambda arg: None)._objects["0"])  # type: ignore[index]


def _runs_python(fn: Any) -> bool:
    """Whether a ctypes function pointer is (or casts) a callback into Python."""
    seen = 0
    todo = [getattr(fn, "_objects", None)]
    while todo and seen < 64:
        obj = todo.pop()
        seen += 1
        if isinstance(obj, _CThunk):
            return True
        if isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, ctypes._CFuncPtr):  # type: ignore[attr-defined]
            todo.append(getattr(obj, "_objects", None))
    return False


class GoExit(BaseException):
    """Raised by ``goexit()`` in a Python G body: it unwinds the body (``finally``
    blocks and ``with`` exits run, as Go runs deferred calls) and the G ends normally."""


class _Body:
    """A Python G body waiting to run, running, then what it returned or raised."""

    __slots__ = ("key", "fn", "args", "id", "result", "exception", "finished", "wg",
                 "userlocks")

    def __init__(self, key: int, fn: Callable, args: tuple):
        self.key = key
        self.fn: Optional[Callable] = fn
        self.args: Optional[tuple] = args
        self.id = 0
        self.result: Any = None
        self.exception: Optional[BaseException] = None
        self.finished = threading.Event()
        # Counts 1 until the body has finished: join() waits on it with rt_wg_wait,
        # which parks a G and futex-blocks a thread (with the GIL released).
        self.wg = _ffi.rt_wg()
        lib.rt_wg_add(ctypes.byref(self.wg), 1)
        self.userlocks = 0  # mrt.lockosthread() calls made by the body itself


_keys = itertools.count(1)
_pending: Dict[int, _Body] = {}  # key -> body, from go()/main() until its G picks it up
_running: Dict[int, _Body] = {}  # goid -> body, while a Python body runs
_c_keepalive: Dict[int, Any] = {}  # address -> ctypes function object given to rt_go


def _g_entry(key: Optional[int]) -> None:
    # The one C entry of every Python G body (``_G_ENTRY``): ctypes' callback thunk has
    # already taken the GIL on the calling OS thread -- the M running this G -- with
    # PyGILState_Ensure, which keys the CPython thread state on that OS thread.
    #
    # Why the G is wired to its M before any Python code runs: a G may resume on
    # another M after any call that can switch Gs (here: every libmrt call that parks
    # or yields). CPython ties a thread state to one OS thread: PyGILState_* find it
    # through a thread-local of the OS thread, ctypes' thunk releases it at return on
    # "this" thread, and threading/locks record the OS thread id. If this G moved, it
    # would resume Python on M2 with a thread state that M1's thread-local still names
    # (a second Python G started on M1 would then push its frames onto the same thread
    # state), and the thunk's PyGILState_Release on M2 would release state M2 never
    # took: CPython aborts or corrupts its frame stacks. rt_lockosthread makes the G
    # run only on this M (and this M only this G) until rt_unlockosthread, so the
    # thread state, the C stack frames of the thunk and the OS thread stay together.
    # No switch can happen before the lock: the thunk makes no libmrt call, and the
    # rt_lockosthread call itself only releases and retakes the GIL.
    rc = lib.rt_lockosthread()
    body = _pending.pop(key or 0, None)
    if body is None:  # cannot happen: every key is registered before rt_go
        if rc >= 0:
            lib.rt_unlockosthread()
        return
    body.id = lib.rt_goid()
    if rc < 0:  # not a G (the entry was misused): report it, run nothing
        body.exception = error_class(rc)(rc, "rt_lockosthread")
    else:
        _running[body.id] = body
        try:
            body.result = body.fn(*body.args)  # type: ignore[misc]
        except GoExit:
            pass
        except BaseException as e:  # noqa: B902 - kept for join(), never printed
            if e.__traceback__ is not None:
                e.__traceback__ = e.__traceback__.tb_next  # start at the body, not here
            body.exception = e
        finally:
            _running.pop(body.id, None)
    # Drop what the body held while still wired: finalizers run here, not unwired.
    body.fn = body.args = None
    unwire = rc >= 0
    body.finished.set()
    lib.rt_wg_done(ctypes.byref(body.wg))
    body = None  # type: ignore[assignment]
    # Undo our wiring last: only the thunk's return (PyGILState_Release, no libmrt
    # call, no switch) follows, so the G ends on the M it started on and the M goes
    # back to running any G. (A G that exits wired would take its M's thread with it.)
    if unwire:
        lib.rt_unlockosthread()


_G_ENTRY = _ffi.rt_fn(_g_entry)  # created once, never freed: Ms may call it any time


def _forget_all() -> None:
    """After rt_shutdown: every G has exited."""
    _pending.clear()
    _running.clear()
    _c_keepalive.clear()


class Goroutine:
    """A G running a Python body (returned by ``go``). ``id`` is its goid."""

    __slots__ = ("id", "_body")

    def __init__(self, goid: int, body: _Body):
        self.id = goid
        self._body = body

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return "<mrt.Goroutine id=%d %s>" % (self.id, state)

    def __int__(self) -> int:
        return self.id

    __index__ = __int__

    @property
    def done(self) -> bool:
        """True once the body has returned or raised."""
        return self._body.finished.is_set()

    @property
    def exception(self) -> Optional[BaseException]:
        """What the body raised (None while running or if it returned)."""
        return self._body.exception

    def join(self, timeout: Optional[float] = None) -> Any:
        """Wait for the body; return its result or re-raise its exception.

        Without a timeout this is ``rt_wg_wait``: from a G it parks the G, from a
        thread it blocks the thread (GIL released); on the main thread it waits so that
        Ctrl-C raises KeyboardInterrupt. With a timeout (seconds) it waits on
        a ``threading.Event``; from a G it does so inside ``rt_entersyscall`` /
        ``rt_exitsyscall`` so that the P can serve other Gs. Raises TimeoutError."""
        b = self._body
        if not b.finished.is_set():
            if lib.rt_goid() == self.id:
                raise RuntimeError("a goroutine cannot join itself")
            if timeout is None and _wait.interruptible():
                _wait.wait_event(b.finished)  # Ctrl-C raises KeyboardInterrupt
            elif timeout is None:
                with _wait.note("join of G %d" % self.id):
                    lib.rt_wg_wait(ctypes.byref(b.wg))
            else:
                in_g = lib.rt_goid() != 0
                if in_g:
                    check(lib.rt_entersyscall(), "rt_entersyscall")
                try:
                    ok = b.finished.wait(timeout)
                finally:
                    if in_g:
                        check(lib.rt_exitsyscall(), "rt_exitsyscall")
                if not ok:
                    raise TimeoutError("%r still running" % self)
        if b.exception is not None:
            raise b.exception
        return b.result

    wait = join


def _prepare_python(fn: Callable, arg: Any, via_ctypes: bool) -> _Body:
    if via_ctypes:
        args = (None if arg is _NOARG else arg,)
    else:
        args = () if arg is _NOARG else (arg,)
    body = _Body(next(_keys), fn, args)
    _pending[body.key] = body
    return body


def _c_function(fn: Any) -> Optional[Any]:
    """The C function pointer to pass to rt_go for ``fn``, or None if ``fn`` runs Python."""
    if fn is None:
        return None
    if isinstance(fn, bool):
        raise TypeError("a G body must be callable, a C function pointer or an address")
    if isinstance(fn, int):
        if fn == 0:
            return None
        return _ffi.rt_fn(fn)
    if isinstance(fn, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return fn
    raise TypeError(_BAD_BODY % (fn,))


_BAD_BODY = "a G body must be callable, a C function pointer or an address, got %r"


def _python_body(fn: Any, arg: Any) -> Optional[_Body]:
    """The prepared body when ``fn`` runs Python (a callable, or a ctypes callback
    made from one); None when it is C code (a function pointer, an address, None)."""
    is_cfunc = isinstance(fn, ctypes._CFuncPtr)  # type: ignore[attr-defined]
    if fn is None or isinstance(fn, int) or (is_cfunc and not _runs_python(fn)):
        return None
    if not callable(fn):
        raise TypeError(_BAD_BODY % (fn,))
    return _prepare_python(fn, arg, via_ctypes=is_cfunc)


_NAME_MAX = 32  # bytes of a G's name the library keeps (rt_go_attr.name)


def body_name(fn: Any) -> str:
    """The name a Python body's G gets in ``mrt.dump()`` and the execution trace,
    whose start function is otherwise the same ctypes entry for every Python G: the
    callable's qualified name without ``<locals>.`` (``outer.inner``), cut to its last
    32 bytes (after "…") when longer."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) \
        or type(fn).__qualname__
    name = str(name).replace("<locals>.", "")
    b = name.encode("utf-8", "replace")
    if len(b) <= _NAME_MAX:
        return name
    tail = b[len(b) - (_NAME_MAX - 3):]
    while tail and (tail[0] & 0xC0) == 0x80:  # not inside a character
        tail = tail[1:]
    return "\u2026" + tail.decode("utf-8", "replace")


def _go_python(body: _Body, fn: Any, what: str, flags: int = 0,
               name: Optional[str] = None) -> Goroutine:
    """Starts the G of a prepared Python body through rt_go_ex, named after ``fn``
    unless ``name`` is given (rt_go where the library has no rt_go_ex)."""
    if _ffi.has("rt_go_ex"):
        label = body_name(fn) if name is None else name
        attr = _ffi.rt_go_attr(ctypes.sizeof(_ffi.rt_go_attr), flags, label.encode())
        goid = lib.rt_go_ex(_G_ENTRY, body.key, ctypes.byref(attr))
    else:
        goid = lib.rt_go(_G_ENTRY, body.key)
    if goid < 0:
        _pending.pop(body.key, None)
        check(goid, what)
    return Goroutine(goid, body)


def go(fn: Union[Callable, int, None], arg: Any = _NOARG) -> Union[int, Goroutine]:
    """rt_go: start a G. For a C function pointer (or address) return its id; for a
    Python callable return a ``Goroutine`` (``.id``, ``.join()``), its G named after
    the callable (``body_name``; through rt_go_ex). From a G the new G goes to the
    current P's runnext; from anywhere else to the global queue.
    Raises InvalidArgument for None, NoMemory, Shutdown."""
    body = _python_body(fn, arg)
    if body is not None:
        return _go_python(body, fn, "rt_go")
    cfn = _c_function(fn)
    carg = None if arg is _NOARG else arg
    goid = lib.rt_go(cfn, carg)
    check(goid, "rt_go")
    if cfn is not None:
        # The function object only holds a pointer to code that stays mapped; keep it
        # anyway (one per address) so nothing it owns can go while the G may run.
        _c_keepalive.setdefault(ctypes.cast(cfn, ctypes.c_void_p).value or 0, cfn)
    return goid


RT_G_ASYNC_PREEMPT = 0x1


def go_ex(fn: Union[Callable, int, None], arg: Any = _NOARG, *, flags: int = 0,
          name: Optional[str] = None) -> Union[int, Goroutine]:
    """rt_go_ex: ``go`` with attributes. ``name`` labels the G in ``mrt.dump()`` and
    the trace (copied; 32 bytes kept; a Python body's default is ``body_name(fn)``). ``flags=RT_G_ASYNC_PREEMPT`` lets sysmon preempt the G by
    signal at any instruction (see docs/api.md, "Asynchronous preemption"): only for
    C bodies that keep that contract. A Python body holds the GIL and the
    interpreter's thread state, so asking it of one raises ValueError; a Python body
    is preempted at calls into mrt and at ``checkpoint()``. Raises InvalidArgument
    for unknown flag bits or None, as ``go`` does otherwise."""
    body = _python_body(fn, arg)
    if body is not None:
        if flags & RT_G_ASYNC_PREEMPT:
            _pending.pop(body.key, None)
            raise ValueError("RT_G_ASYNC_PREEMPT needs a C body: a Python body holds the "
                             "GIL and must not be stopped between instructions")
        return _go_python(body, fn, "rt_go_ex", flags, name)
    attr = _ffi.rt_go_attr(ctypes.sizeof(_ffi.rt_go_attr), flags,
                           None if name is None else name.encode())
    cfn = _c_function(fn)
    goid = lib.rt_go_ex(cfn, None if arg is _NOARG else arg, ctypes.byref(attr))
    check(goid, "rt_go_ex")
    if cfn is not None:
        _c_keepalive.setdefault(ctypes.cast(cfn, ctypes.c_void_p).value or 0, cfn)
    return goid


def main(fn: Union[Callable, int, None], arg: Any = _NOARG, *,
         name: Optional[str] = None) -> Any:
    """rt_main: run ``fn`` as a G while the calling thread works as an M (with a P,
    adopted first if it is a plain thread), running other Gs too, until that G
    returns. A Python body's result is returned and its exception re-raised; a C body
    (function pointer or address) gets ``arg`` as its ``void *`` and None is returned.
    The G is named (rt_main_ex) as ``go`` names its Gs: ``name``, else a Python
    body's ``body_name(fn)``. Raises InvalidArgument for None, Permission from a G,
    Already if this thread holds a P, Shutdown if the runtime was shut down first."""
    body = _python_body(fn, arg)
    if body is not None:
        rc = _main_ex(_G_ENTRY, body.key, body_name(fn) if name is None else name)
        if rc < 0:
            _pending.pop(body.key, None)
            check(rc, "rt_main")
        return Goroutine(body.id, body).join()
    cfn = _c_function(fn)
    check(_main_ex(cfn, None if arg is _NOARG else arg, name), "rt_main")
    return None


def _main_ex(fn: Any, arg: Any, name: Optional[str]) -> int:
    """rt_main_ex with ``name`` (rt_main where there is no name or no rt_main_ex)."""
    if name is None or not _ffi.has("rt_main_ex"):
        return lib.rt_main(fn, arg)
    attr = _ffi.rt_go_attr(ctypes.sizeof(_ffi.rt_go_attr), 0, name.encode())
    return lib.rt_main_ex(fn, arg, ctypes.byref(attr))


def gosched() -> None:
    """rt_gosched: in a G, yield to other runnable Gs (the caller goes to the tail of
    its P's queue; a Python body, being wired, stays on its M). Elsewhere sched_yield."""
    lib.rt_gosched()


def checkpoint() -> bool:
    """rt_checkpoint: a preemption point for a G that computes without calling into
    the runtime (call it in long loops). If sysmon marked the G (it kept its P for a
    10 ms time slice), other Gs get the P and True is returned once it runs again;
    otherwise False at once. Elsewhere False."""
    return lib.rt_checkpoint() != 0


def goid() -> int:
    """rt_goid: the calling G's id; 0 outside a G."""
    return lib.rt_goid()


def getg() -> Optional[int]:
    """rt_getg: the calling G (its rt_g handle as an int, not an address), None outside a G."""
    return lib.rt_getg()


def ready(g: int) -> None:
    """rt_ready: make a parked G runnable. InvalidArgument if it is not parked."""
    check(lib.rt_ready(g), "rt_ready")


def park(unlock: Any = None, arg: Any = None) -> None:
    """rt_park: park the calling G until ``ready(getg())``. ``unlock`` runs on the M's
    g0 and must not block, so it must be a C function pointer (``rt_parkfn``) or None:
    Python code there would wait for the GIL. Permission outside a G."""
    if unlock is not None and (not isinstance(unlock, ctypes._CFuncPtr)  # type: ignore[attr-defined]
                               or _runs_python(unlock)):
        raise TypeError("park's unlock must be a C function pointer (rt_parkfn) or None")
    check(lib.rt_park(unlock, arg), "rt_park")


def goexit() -> None:
    """rt_goexit. In a Python G body: raise GoExit, which unwinds the body (``finally``
    blocks run) and ends the G normally -- the C call would skip CPython's unwinding.
    Outside a G: nothing. In Python code called from a C G body: RuntimeError."""
    gid = lib.rt_goid()
    if gid == 0:
        return
    if gid in _running:
        raise GoExit()
    raise RuntimeError("goexit from Python code in a G that mrt.go did not start")


def lockosthread() -> None:
    """rt_lockosthread: wire the calling G to its M (nests). Permission outside a G.
    (Python bodies are wired for their whole run already; a body that ends with locks
    of its own still held takes its M's thread with it, as in Go.)"""
    body = _running.get(lib.rt_goid())
    check(lib.rt_lockosthread(), "rt_lockosthread")
    if body is not None:
        body.userlocks += 1


def unlockosthread() -> None:
    """rt_unlockosthread: undo one lockosthread (nothing if none is in effect).
    Permission outside a G. In a Python body only the body's own lockosthread calls
    are undone, never the wiring that keeps Python on its thread."""
    gid = lib.rt_goid()
    body = _running.get(gid) if gid else None
    if body is not None:
        if body.userlocks == 0:
            return
        body.userlocks -= 1
    check(lib.rt_unlockosthread(), "rt_unlockosthread")


def entersyscall() -> None:
    """rt_entersyscall: the G is about to block in the OS; its P may be handed off.
    Permission outside a G, Already if already in a syscall."""
    check(lib.rt_entersyscall(), "rt_entersyscall")


def exitsyscall() -> None:
    """rt_exitsyscall: back from the OS; reacquire a P. Permission outside a G,
    InvalidArgument without entersyscall."""
    check(lib.rt_exitsyscall(), "rt_exitsyscall")


class syscall:
    """``with mrt.syscall(): blocking_call()`` -- entersyscall on entry, exitsyscall on
    exit (also when the block raises)."""

    __slots__ = ()

    def __enter__(self) -> "syscall":
        entersyscall()
        return self

    def __exit__(self, *exc) -> None:
        exitsyscall()
