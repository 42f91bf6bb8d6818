"""libmrt error codes as Python exceptions.

One table, ``ERRORS``, lists every code: its C constant, value, and the exception class
raised for it. Each class derives from ``MrtError``, which carries ``code`` (the negative
value), ``name`` (``rt_err_name(code)``, e.g. ``"RT_EINVAL"``), ``errno`` (``-code``) and
``func`` (the C function that returned it). A code outside the table raises plain
``MrtError``.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from . import _ffi

RT_OK = 0

# (C constant, value, exception class name, what it means). Values as in mrt.h.
ERRORS = (
    ("RT_EPERM", -1, "Permission", "call not allowed in this thread context"),
    ("RT_EAGAIN", -11, "Again", "would block, or the OS refused a thread"),
    ("RT_ENOMEM", -12, "NoMemory", "memory or address space exhausted"),
    ("RT_EBUSY", -16, "Busy", "object owned or in use by someone else"),
    ("RT_EINVAL", -22, "InvalidArgument", "bad argument"),
    ("RT_ECLOSED", -32, "Closed", "channel closed"),
    ("RT_EDEADLK", -35, "Deadlock", "every G is asleep and nothing can wake one"),
    ("RT_ESHUTDOWN", -108, "Shutdown", "runtime not running"),
    ("RT_ETIMEDOUT", -110, "TimedOut", "timed out"),
    ("RT_EALREADY", -114, "Already", "caller already holds it / already done"),
    ("RT_EINTERNAL", -131, "Internal", "internal error (a bug in libmrt)"),
)


def err_name(code: int) -> str:
    """rt_err_name(code): "RT_EINVAL", ..., or "unknown error"."""
    if _ffi.has("rt_err_name"):
        return _ffi.lib.rt_err_name(code).decode()
    return _C_NAMES.get(code, "unknown error")


def strerror(code: int) -> str:
    """rt_strerror(code): a static description, or "unknown error"."""
    if _ffi.has("rt_strerror"):
        return _ffi.lib.rt_strerror(code).decode()
    return _DOCS.get(code, "unknown error")


class MrtError(Exception):
    """A libmrt call returned a negative error code."""

    code: int = 0  # set per subclass; instances carry the actual code

    def __new__(cls, code: Optional[int] = None, func: Optional[str] = None):
        if cls is MrtError and code in _BY_CODE:
            cls = _BY_CODE[code]  # MrtError(-22) is an InvalidArgument
        return super().__new__(cls)

    def __init__(self, code: Optional[int] = None, func: Optional[str] = None):
        if code is None:
            code = type(self).code
        self.code = code
        self.func = func
        self.name = err_name(code)
        self.errno = -code
        where = "%s: " % func if func else ""
        super().__init__("%s%s (%d): %s" % (where, self.name, code, strerror(code)))

    def __reduce__(self):
        return (MrtError, (self.code, self.func))


_BY_CODE: Dict[int, Type[MrtError]] = {}
_C_NAMES: Dict[int, str] = {}
_DOCS: Dict[int, str] = {}
__all__ = ["MrtError", "ERRORS", "RT_OK", "check", "error_class", "err_name", "strerror"]

for _cname, _code, _pyname, _doc in ERRORS:
    _cls = type(_pyname, (MrtError,), {"code": _code, "__doc__": "%s: %s." % (_cname, _doc)})
    _cls.__module__ = "mrt"
    _BY_CODE[_code] = _cls
    _C_NAMES[_code] = _cname
    _DOCS[_code] = _doc
    globals()[_pyname] = _cls
    globals()[_cname] = _code
    __all__ += [_pyname, _cname]
MrtError.__module__ = "mrt"


def error_class(code: int) -> Type[MrtError]:
    """The exception class for ``code`` (MrtError itself for unknown codes)."""
    return _BY_CODE.get(code, MrtError)


def check(rc: int, func: str) -> int:
    """Return ``rc`` if it is >= 0, else raise the matching MrtError subclass."""
    if rc < 0:
        raise error_class(rc)(rc, func)
    return rc
