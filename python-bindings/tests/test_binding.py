"""The binding itself: the library is found, every function of mrt.h is declared with
the header's signature, the structs have the header's layout, and the error table
matches the header and rt_err_name/rt_strerror."""

from __future__ import annotations

import ctypes
import os
import re
from ctypes import POINTER

import pytest

import mrt
from mrt import _ffi
from conftest import HEADER, run_py

# What issue 2 must export (G and channel functions join later).
CORE = [
    "rt_init", "rt_shutdown", "rt_gomaxprocs", "rt_version", "rt_strerror", "rt_err_name",
    "rt_allocm", "rt_m_launch", "rt_m_free", "rt_newm", "rt_getm", "rt_m_id", "rt_m_getinfo",
    "rt_p_get", "rt_p_id", "rt_p_status", "rt_getp", "rt_acquirep", "rt_releasep", "rt_p_put",
    "rt_getstats", "rt_trace_start", "rt_trace_stop",
]

# --------------------------------------------------------------------------- header parsing

_SCALARS = {
    "void": None, "bool": ctypes.c_bool, "char": ctypes.c_char,
    "int": ctypes.c_int, "unsigned": ctypes.c_uint,
    "int8_t": ctypes.c_int8, "uint8_t": ctypes.c_uint8,
    "int16_t": ctypes.c_int16, "uint16_t": ctypes.c_uint16,
    "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t, "uintptr_t": ctypes.c_size_t, "intptr_t": ctypes.c_ssize_t,
}
_HANDLES = {"rt_m", "rt_p", "rt_g", "rt_chan", "rt_pollfd"}


def _header_text() -> str:
    if not HEADER.exists():
        pytest.skip("include/mrt.h not generated yet")
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _ctype(decl: str, is_param: bool = True):
    """ctypes type for a C declaration such as 'const rt_m *m' or 'uint32_t size'."""
    decl = re.sub(r"\b(const|struct|volatile)\b", " ", decl).strip()
    stars = decl.count("*")
    words = decl.replace("*", " ").split()
    base = words[0]
    if stars == 0:
        if base in _ffi.CALLBACKS:
            return _ffi.CALLBACKS[base]
        assert base in _SCALARS, "unknown C type %r" % decl
        return _SCALARS[base]
    if stars == 2 and base in _HANDLES:
        return POINTER(ctypes.c_void_p)
    assert stars == 1, "unexpected declarator %r" % decl
    if base in _HANDLES or base == "void":
        return ctypes.c_void_p
    if base == "char":
        return ctypes.c_char_p
    if base in _ffi.STRUCTS:
        return POINTER(_ffi.STRUCTS[base])
    if base in _SCALARS:
        return POINTER(_SCALARS[base])
    raise AssertionError("unknown pointer type %r" % decl)


def header_functions() -> dict:
    text = _header_text()
    out = {}
    for m in re.finditer(r"([A-Za-z_][\w \t\*]*?)\b(rt_\w+)\s*\(([^;{}()]*)\)\s*;", text):
        ret, name, params = m.group(1), m.group(2), m.group(3).strip()
        if "typedef" in ret:
            continue
        ret = ret.strip()
        restype = _ctype(ret + (" x" if "*" not in ret else ""), is_param=False)
        argtypes = []
        if params and params != "void":
            argtypes = [_ctype(p) for p in params.split(",")]
        out[name] = (restype, argtypes)
    return out


def header_structs() -> dict:
    text = _header_text()
    out = {}
    for m in re.finditer(r"struct\s+(rt_\w+)\s*\{(.*?)\}", text, flags=re.S):
        fields = []
        for decl in m.group(2).split(";"):
            decl = decl.strip()
            if not decl:
                continue
            arr = re.search(r"\[(\d+)\]$", decl)
            decl = re.sub(r"\[\d+\]$", "", decl).strip()
            ty = _ctype(decl)
            if arr:
                ty = ty * int(arr.group(1))
            for name in decl.replace("*", " ").split()[-1:]:
                fields.append((name, ty))
        out[m.group(1)] = fields
    return out


def header_defines() -> dict:
    text = _header_text()
    out = {}
    for m in re.finditer(r"#define\s+((?:RT|MRT)_\w+)\s+([^\n]+)", text):
        value = re.sub(r"\(\s*(?:u?int\d+_t|int|unsigned)\s*\)", "", m.group(2))
        value = value.replace("(", "").replace(")", "").strip()
        value = re.sub(r"(?<=[0-9a-fA-F])[uUlL]+$", "", value)
        try:
            out[m.group(1)] = int(value, 0)
        except ValueError:
            out[m.group(1)] = value.strip('"')
    return out


def _same(a, b) -> bool:
    return a is b or (a is not None and b is not None and ctypes.sizeof(a) == ctypes.sizeof(b)
                      and getattr(a, "_type_", None) == getattr(b, "_type_", None))


# --------------------------------------------------------------------------- tests


def test_library_found():
    assert os.path.exists(mrt.LIB_PATH) or mrt.LIB_FOUND_BY == "loader search path"
    assert mrt.LIB_FOUND_BY in ("MRT_LIB", "package data", "repository build",
                                "loader search path")


def test_core_functions_exported_and_declared():
    missing = [f for f in CORE if not _ffi.has(f)]
    assert missing == [], "libmrt does not export %s" % missing
    for name in CORE:
        fn = getattr(mrt.lib, name)
        assert fn.argtypes is not None, name


def test_every_header_function_declared_with_header_signature():
    funcs = header_functions()
    assert set(CORE) <= set(funcs), "header lacks %s" % sorted(set(CORE) - set(funcs))
    for name, (restype, argtypes) in funcs.items():
        assert name in _ffi.FUNCTIONS, "%s is in mrt.h but not in mrt._ffi.FUNCTIONS" % name
        assert _ffi.has(name), "%s is in mrt.h but libmrt does not export it" % name
        my_res, my_args = _ffi.FUNCTIONS[name]
        assert _same(my_res, restype), "%s returns %r in mrt.h, %r here" % (name, restype, my_res)
        assert len(my_args) == len(argtypes), "%s: arity differs from mrt.h" % name
        for i, (mine, theirs) in enumerate(zip(my_args, argtypes)):
            assert mine is theirs or _same(mine, theirs), \
                "%s arg %d: %r in mrt.h, %r here" % (name, i, theirs, mine)


def test_structs_match_header_layout():
    structs = header_structs()
    for name in ("rt_config", "rt_m_info", "rt_stats"):
        assert name in structs, "mrt.h lacks struct %s" % name
    for name, fields in structs.items():
        if name not in _ffi.STRUCTS:
            continue
        mine = _ffi.STRUCTS[name]
        theirs = type(name, (ctypes.Structure,), {"_fields_": fields})
        assert [f for f, _ in mine._fields_] == [f for f, _ in fields], name
        assert ctypes.sizeof(mine) == ctypes.sizeof(theirs), name
        for f, _ in fields:
            assert getattr(mine, f).offset == getattr(theirs, f).offset, "%s.%s" % (name, f)
            assert getattr(mine, f).size == getattr(theirs, f).size, "%s.%s" % (name, f)


def test_constants_match_header():
    defs = header_defines()
    codes = {c: v for c, v, _, _ in mrt.ERRORS}
    header_codes = {k: v for k, v in defs.items() if re.match(r"RT_E[A-Z]+$", k)}
    assert header_codes == codes
    assert defs.get("RT_OK") == 0
    for name in ("RT_P_IDLE", "RT_P_RUNNING", "RT_P_SYSCALL", "RT_P_DEAD",
                 "RT_SCHED_ONCE", "RT_SCHED_FOREVER", "RT_STATS_EXACT", "RT_G_ASYNC_PREEMPT"):
        assert name in defs, name
        assert getattr(mrt, name) == defs[name], name
    for name in ("RT_POLLIN", "RT_POLLOUT", "RT_SEND", "RT_RECV"):
        if name in defs:
            assert getattr(mrt, name) == defs[name], name


def test_version_matches_header():
    v = mrt.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", v), v
    defs = header_defines()
    assert v == "%d.%d.%d" % (defs["MRT_VERSION_MAJOR"], defs["MRT_VERSION_MINOR"],
                              defs["MRT_VERSION_PATCH"])


def test_error_names_and_strings():
    for cname, code, pyname, _ in mrt.ERRORS:
        assert mrt.err_name(code) == cname
        s = mrt.strerror(code)
        assert s and s != "unknown error", (cname, s)
        cls = getattr(mrt, pyname)
        assert issubclass(cls, mrt.MrtError) and cls.code == code
        assert mrt.error_class(code) is cls
        assert getattr(mrt, cname) == code
    assert mrt.err_name(0) == "RT_OK"
    for bad in (5, -2, -9999, 2**31 - 1, -2**31):
        assert mrt.err_name(bad) == "unknown error"
        assert mrt.strerror(bad) == "unknown error"


def test_error_objects():
    e = mrt.MrtError(-22, "rt_acquirep")
    assert type(e) is mrt.InvalidArgument and isinstance(e, mrt.MrtError)
    assert (e.code, e.name, e.errno, e.func) == (-22, "RT_EINVAL", 22, "rt_acquirep")
    assert "RT_EINVAL" in str(e) and "rt_acquirep" in str(e)
    u = mrt.MrtError(-9999)
    assert type(u) is mrt.MrtError and u.name == "unknown error"
    with pytest.raises(mrt.Busy) as ei:
        mrt.check(-16, "rt_p_put")
    assert ei.value.code == mrt.RT_EBUSY
    assert mrt.check(3, "x") == 3
    import pickle

    assert type(pickle.loads(pickle.dumps(e))) is mrt.InvalidArgument


def test_mrt_lib_env_overrides_and_bad_env_fails():
    r = run_py("import mrt; print(mrt.LIB_FOUND_BY)")
    assert r.returncode == 0 and r.stdout.strip() == "MRT_LIB", r.stderr
    r = run_py("import mrt", env={"MRT_LIB": "/nonexistent/libmrt.so"})
    assert r.returncode != 0 and "MRT_LIB" in r.stderr


def test_repository_build_is_found_without_env():
    repo_lib = _ffi.Path(_ffi.__file__).resolve().parent.parent.parent / "target/release/libmrt.so"
    if not repo_lib.exists():
        pytest.skip("no repository build")
    r = run_py("import mrt; print(mrt.LIB_FOUND_BY, mrt.LIB_PATH)", env={"MRT_LIB": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(("package data", "repository build")), r.stdout
