"""Small views of the calling OS thread, for demos and tests (x86-64 Linux, glibc).

None of this is libmrt API: it lets Python code check what libmrt reports (an M's tid
and g0 stack bounds) against what the OS and glibc say about the same thread.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Tuple

_libc = ctypes.CDLL(None, use_errno=True)

_getcontext = _libc.getcontext
_getcontext.argtypes = [ctypes.c_void_p]
_getcontext.restype = ctypes.c_int

_pthread_self = _libc.pthread_self
_pthread_self.argtypes = []
_pthread_self.restype = ctypes.c_ulong
_getattr_np = _libc.pthread_getattr_np
_getattr_np.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
_getattr_np.restype = ctypes.c_int
_attr_getstack = _libc.pthread_attr_getstack
_attr_getstack.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                           ctypes.POINTER(ctypes.c_size_t)]
_attr_getstack.restype = ctypes.c_int
_attr_destroy = _libc.pthread_attr_destroy
_attr_destroy.argtypes = [ctypes.c_void_p]
_attr_destroy.restype = ctypes.c_int

# glibc x86-64 ucontext_t: uc_flags (8), uc_link (8), uc_stack (24), then
# uc_mcontext.gregs[23]; REG_RSP is gregs[15].
_UCONTEXT_BYTES = 4096  # sizeof(ucontext_t) is 968 on glibc 2.3x; leave room
_RSP_OFFSET = 40 + 15 * 8


def gettid() -> int:
    """The OS thread id of the calling thread (gettid)."""
    return threading.get_native_id()


def current_sp() -> int:
    """An address on the calling thread's C stack (%rsp inside getcontext)."""
    buf = ctypes.create_string_buffer(_UCONTEXT_BYTES)
    if _getcontext(buf) != 0:
        raise OSError(ctypes.get_errno(), "getcontext failed")
    return ctypes.c_uint64.from_buffer(buf, _RSP_OFFSET).value


def thread_stack() -> Tuple[int, int]:
    """[lo, hi) of the calling thread's stack as glibc knows it (pthread_getattr_np)."""
    attr = ctypes.create_string_buffer(128)  # sizeof(pthread_attr_t) is 56
    rc = _getattr_np(_pthread_self(), attr)
    if rc != 0:
        raise OSError(rc, "pthread_getattr_np failed")
    try:
        addr = ctypes.c_void_p()
        size = ctypes.c_size_t()
        rc = _attr_getstack(attr, ctypes.byref(addr), ctypes.byref(size))
        if rc != 0:
            raise OSError(rc, "pthread_attr_getstack failed")
        return addr.value or 0, (addr.value or 0) + size.value
    finally:
        _attr_destroy(attr)
