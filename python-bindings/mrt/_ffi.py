"""The raw C surface of libmrt: finding the library, its types, and one table of functions.

Everything here mirrors ``include/mrt.h`` one to one; the friendlier objects (``M``,
``P``, ``Runtime``, exceptions) live in the other modules and call through ``lib``.

Finding the library, first match wins:
  1. ``$MRT_LIB`` (a path to ``libmrt.so``; an error if set but not loadable);
  2. package data: ``mrt/libmrt.so`` next to this file (built and bundled by
     ``pip install ./python-bindings``, see setup.py);
  3. the repository's own build: ``../target/release/libmrt.so`` relative to the
     directory that holds the ``mrt`` package source (``python-bindings/``);
  4. the dynamic loader's search path (``libmrt.so.0``, as installed system-wide).

Adding functions: append a row to ``FUNCTIONS`` below. Rows whose symbol the loaded
library does not export are skipped (listed in ``MISSING``), so the table may run
ahead of the library; ``tests/test_binding.py`` checks every row against the header.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

# --------------------------------------------------------------------------- library


def _candidates() -> List[Tuple[str, str]]:
    """(how it was found, path or soname) in search order."""
    here = Path(__file__).resolve().parent
    out = [
        ("package data", str(here / "libmrt.so")),
        ("repository build", str(here.parent.parent / "target" / "release" / "libmrt.so")),
    ]
    return out


def _load() -> Tuple[ctypes.CDLL, str, str]:
    env = os.environ.get("MRT_LIB")
    if env:
        try:
            return ctypes.CDLL(env), env, "MRT_LIB"
        except OSError as e:
            raise ImportError("mrt: cannot load $MRT_LIB=%r: %s" % (env, e)) from e
    tried = []
    for how, path in _candidates():
        if os.path.exists(path):
            try:
                return ctypes.CDLL(path), path, how
            except OSError as e:
                tried.append("%s (%s): %s" % (path, how, e))
        else:
            tried.append("%s (%s): not found" % (path, how))
    try:
        return ctypes.CDLL("libmrt.so.0"), "libmrt.so.0", "loader search path"
    except OSError as e:
        tried.append("libmrt.so.0 (loader search path): %s" % e)
    raise ImportError(
        "mrt: libmrt.so not found; build it with `make lib` in the repository or set "
        "MRT_LIB=/path/to/libmrt.so. Tried:\n  " + "\n  ".join(tried)
    )


lib, LIB_PATH, LIB_FOUND_BY = _load()

# --------------------------------------------------------------------------- types

# Opaque handles (rt_m *, rt_p *, rt_g *, rt_chan *) are plain void pointers here: a
# handle comes back as an int (None for NULL) and goes in as anything with
# ``_as_parameter_`` (the M and P objects), an int, or None.
rt_m_p = c_void_p
rt_p_p = c_void_p
rt_g_p = c_void_p
rt_chan_p = c_void_p
rt_pollfd_p = c_void_p


class Handle:
    """A runtime object known by its C pointer (rt_m *, rt_p *): passed straight to
    ctypes calls, equal to and hashed like another object of its class with the same
    pointer."""

    _kind = "handle"

    def __init__(self, handle: int):
        if not handle:
            raise ValueError("NULL %s handle" % self._kind)
        self._handle = handle

    @property
    def handle(self) -> int:
        """The C pointer as an int."""
        return self._handle

    @property
    def _as_parameter_(self) -> c_void_p:
        return c_void_p(self._handle)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and other._handle == self._handle

    def __hash__(self) -> int:
        return hash((self._kind, self._handle))


def _callback_type(name: str, restype, argtypes, doc: str):
    """A CFUNCTYPE-like class whose from_param also takes None (a NULL function
    pointer) and other ctypes function pointers (cast)."""

    @classmethod  # type: ignore[misc]
    def from_param(cls, obj):
        if obj is None:
            return cls()  # NULL
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, ctypes._CFuncPtr):  # type: ignore[attr-defined]
            return ctypes.cast(obj, cls)
        raise TypeError("expected a %s function pointer or None, got %r" % (cls.__name__, obj))

    return type(ctypes._CFuncPtr)(name, (ctypes._CFuncPtr,), {  # type: ignore[attr-defined]
        "_flags_": ctypes._FUNCFLAG_CDECL,  # type: ignore[attr-defined]
        "_restype_": restype,
        "_argtypes_": tuple(argtypes),
        "from_param": from_param,
        "__doc__": doc,
        "__module__": "mrt",
    })


rt_fn = _callback_type("rt_fn", None, [c_void_p], "typedef void (*rt_fn)(void *arg);")
rt_parkfn = _callback_type("rt_parkfn", c_bool, [c_void_p, c_void_p],
                           "typedef bool (*rt_parkfn)(rt_g *g, void *arg);")


class rt_config(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("maxprocs", c_int32),
        ("g0_stack_size", c_size_t),
        ("g_stack_size", c_size_t),
        ("flags", c_uint32),
        ("preempt_signal", c_int32),
    ]


class rt_go_attr(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("flags", c_uint32),
        ("name", c_char_p),
    ]


class rt_m_info(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("id", c_int64),
        ("tid", c_int64),
        ("p", c_int32),
        ("curg", c_int64),
        ("g0_lo", c_size_t),  # uintptr_t
        ("g0_hi", c_size_t),
        ("lockedg", c_int64),
    ]


class rt_stats(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("maxprocs", c_int32),
        ("idle_procs", c_int32),
        ("threads", c_int64),
        ("idle_threads", c_int64),
        ("spinning_threads", c_int64),
        ("goroutines", c_int64),
        ("runnable", c_int64),
        ("global_runq", c_int64),
        ("gs_created", c_uint64),
        ("gs_exited", c_uint64),
        ("switches", c_uint64),
        ("steals", c_uint64),
        ("parks", c_uint64),
        ("handoffs", c_uint64),
        ("stack_reserved_bytes", c_uint64),
        ("stack_resident_bytes", c_uint64),
    ]


class rt_select_case(Structure):
    _fields_ = [
        ("chan", c_void_p),
        ("dir", c_int),
        ("elem", c_void_p),
        ("result", c_int),
    ]


class rt_mutex(Structure):
    _fields_ = [("opaque", c_uint64 * 4)]


class rt_wg(Structure):
    _fields_ = [("opaque", c_uint64 * 4)]


STRUCTS = {
    "rt_config": rt_config,
    "rt_go_attr": rt_go_attr,
    "rt_m_info": rt_m_info,
    "rt_stats": rt_stats,
    "rt_select_case": rt_select_case,
    "rt_mutex": rt_mutex,
    "rt_wg": rt_wg,
}
CALLBACKS = {"rt_fn": rt_fn, "rt_parkfn": rt_parkfn}

# --------------------------------------------------------------------------- functions

# name: (restype, argtypes). One row per function of mrt.h, grouped as in docs/api.md.
FUNCTIONS: Dict[str, Tuple[Optional[type], Sequence[type]]] = {
    # Runtime
    "rt_init": (c_int, [POINTER(rt_config)]),
    "rt_shutdown": (c_int, [c_int64]),
    "rt_gomaxprocs": (c_int, [c_int]),
    "rt_main": (c_int, [rt_fn, c_void_p]),
    "rt_version": (c_char_p, []),
    "rt_strerror": (c_char_p, [c_int]),
    "rt_err_name": (c_char_p, [c_int]),
    # M
    "rt_allocm": (c_int, [rt_p_p, rt_fn, c_void_p, POINTER(rt_m_p)]),
    "rt_m_launch": (c_int, [rt_m_p, rt_p_p]),
    "rt_m_free": (c_int, [rt_m_p]),
    "rt_newm": (c_int, [rt_fn, c_void_p, rt_p_p, POINTER(rt_m_p)]),
    "rt_getm": (rt_m_p, []),
    "rt_m_id": (c_int64, [rt_m_p]),
    "rt_m_getinfo": (c_int, [rt_m_p, POINTER(rt_m_info)]),
    # P
    "rt_p_get": (rt_p_p, [c_int]),
    "rt_p_id": (c_int, [rt_p_p]),
    "rt_p_status": (c_int, [rt_p_p]),
    "rt_getp": (rt_p_p, []),
    "rt_acquirep": (c_int, [rt_p_p]),
    "rt_releasep": (rt_p_p, []),
    "rt_p_put": (c_int, [rt_p_p]),
    "rt_schedule": (c_int, [c_int]),
    # G (bound once the library exports them)
    "rt_go": (c_int64, [rt_fn, c_void_p]),
    "rt_go_ex": (c_int64, [rt_fn, c_void_p, POINTER(rt_go_attr)]),
    "rt_main_ex": (c_int, [rt_fn, c_void_p, POINTER(rt_go_attr)]),
    "rt_gosched": (None, []),
    "rt_checkpoint": (c_int, []),
    "rt_goexit": (None, []),
    "rt_goid": (c_int64, []),
    "rt_getg": (rt_g_p, []),
    "rt_park": (c_int, [rt_parkfn, c_void_p]),
    "rt_ready": (c_int, [rt_g_p]),
    "rt_lockosthread": (c_int, []),
    "rt_unlockosthread": (c_int, []),
    "rt_entersyscall": (c_int, []),
    "rt_exitsyscall": (c_int, []),
    "rt_sleep": (c_int, [c_int64]),
    "rt_poll_fd": (c_int, [c_int, c_uint32, c_int64]),
    "rt_pollfd_open": (c_int, [c_int, POINTER(rt_pollfd_p)]),
    "rt_pollfd_wait": (c_int, [rt_pollfd_p, c_uint32, c_int64]),
    "rt_pollfd_reset": (c_int, [rt_pollfd_p, c_uint32]),
    "rt_pollfd_close": (c_int, [rt_pollfd_p]),
    # Channels and synchronisation
    "rt_chan_make": (c_int, [c_size_t, c_size_t, POINTER(rt_chan_p)]),
    "rt_chan_free": (c_int, [rt_chan_p]),
    "rt_chan_send": (c_int, [rt_chan_p, c_void_p]),
    "rt_chan_recv": (c_int, [rt_chan_p, c_void_p]),
    "rt_chan_trysend": (c_int, [rt_chan_p, c_void_p]),
    "rt_chan_tryrecv": (c_int, [rt_chan_p, c_void_p]),
    "rt_chan_close": (c_int, [rt_chan_p]),
    "rt_chan_len": (c_size_t, [rt_chan_p]),
    "rt_chan_cap": (c_size_t, [rt_chan_p]),
    "rt_select": (c_int, [POINTER(rt_select_case), c_size_t, c_int64]),
    "rt_mutex_lock": (None, [POINTER(rt_mutex)]),
    "rt_mutex_trylock": (c_bool, [POINTER(rt_mutex)]),
    "rt_mutex_unlock": (None, [POINTER(rt_mutex)]),
    "rt_wg_add": (None, [POINTER(rt_wg), c_int64]),
    "rt_wg_done": (None, [POINTER(rt_wg)]),
    "rt_wg_wait": (None, [POINTER(rt_wg)]),
    # Observability
    "rt_getstats": (c_int, [POINTER(rt_stats)]),
    "rt_getstats_ex": (c_int, [POINTER(rt_stats), c_int]),
    "rt_dump": (c_int, [c_int]),
    "rt_trace_start": (c_int, [c_char_p]),
    "rt_trace_stop": (c_int, []),
}

MISSING: List[str] = []


def _bind() -> None:
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            MISSING.append(name)
            continue
        fn.restype = restype
        fn.argtypes = list(argtypes)


_bind()


def has(name: str) -> bool:
    """True if the loaded library exports ``name`` (and it is declared above)."""
    return name in FUNCTIONS and name not in MISSING
