"""The execution trace (issue 11): mrt.trace_start / trace_stop from Python, $MRT_TRACE
for a whole run, traces of a channel pipeline (Python host and C host) and of the echo
demo (examples/echo.c under $MRT_TRACE), each checked for structure by mrt.trace.check
(balanced slices per lane and per G, monotonic M lanes, one G per P at a time, flows
resolved), summarised, and rendered to an SVG that is parsed back."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import mrt
import mrt.trace as mt
from conftest import PKG_ROOT, REPO, fresh_runtime

G_STACK = 1 << 20


def whys(t):
    return {e["args"]["why"] for e in t["traceEvents"] if e.get("ph") == "E" and "why" in e.get("args", {})}


def assert_sound(t, complete=False):
    problems = mt.check(t, allow_open=not complete)
    assert problems == [], problems[:10]
    evs = t["traceEvents"]
    assert any(e.get("ph") == "s" for e in evs) and any(e.get("ph") == "f" for e in evs)
    s = mt.summarise(t)
    assert s["gs"] and any(g["run"] > 0 for g in s["gs"])
    svg = mt.render_svg(t)
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    texts = [x.text or "" for x in root.iter(ns + "text")]
    assert any(x.startswith("M") for x in texts) and any(x.startswith("P") for x in texts)
    assert any("top wait sites" in x for x in texts)
    assert len(list(root.iter(ns + "rect"))) > 0
    return s


def test_bad_input_is_a_named_error(tmp_path):
    with pytest.raises(mrt.InvalidArgument):
        mrt.trace_stop()
    with pytest.raises(mrt.InvalidArgument):
        mrt.trace_start(str(tmp_path / "no-such-dir" / "t.json"))
    with pytest.raises(TypeError):
        mrt.trace_start(None)
    p = tmp_path / "t.json"
    mrt.trace_start(p)
    try:
        with pytest.raises(mrt.Already):
            mrt.trace_start(p)
    finally:
        mrt.trace_stop()
    with pytest.raises(mrt.InvalidArgument):
        mrt.trace_stop()
    t = mt.load(str(p))
    assert mt.check(t) == []


def test_python_channel_pipeline(tmp_path):
    path = tmp_path / "pipe.json"
    n = 300
    with fresh_runtime(maxprocs=2, g_stack_size=G_STACK):
        a = mrt.Chan(ctypes.c_int64)
        b = mrt.Chan(ctypes.c_int64, 2)
        out = []
        wg = mrt.WaitGroup()
        wg.add(3)

        def produce():
            try:
                for i in range(n):
                    a.send(i)
                a.close()
            finally:
                wg.done()

        def double():
            try:
                for v in a:
                    b.send(v * 2)
                b.close()
            finally:
                wg.done()

        def consume():
            try:
                for v in b:
                    out.append(v)
            finally:
                wg.done()

        with mrt.tracing(path):
            for f in (produce, double, consume):
                mrt.go(f)
            wg.wait()
        assert out == [2 * i for i in range(n)]
    t = mt.load(str(path))
    assert {"chan send", "chan recv", "exit"} <= whys(t)
    s = assert_sound(t)
    # Python Gs are named after their function (all start at the same ctypes entry).
    names = {e["args"].get("name", "") for e in t["traceEvents"] if e.get("cat") == "g"}
    for f in ("produce", "double", "consume"):
        assert any(n.endswith("pipeline." + f) for n in names), names
    assert any(w["g_fn"].endswith("pipeline.double") and w["why"] == "chan recv" for w in s["top_waits"])


def build_c(tmp_path, src, name, extra=()):
    exe = tmp_path / name
    lib = REPO / "target" / "release"
    subprocess.run(["cc", "-std=c11", "-O1", "-pthread", "-rdynamic", *extra, "-I", str(REPO / "include"),
                    str(src), "-o", str(exe), "-L", str(lib), "-lmrt", "-Wl,-rpath," + str(lib)],
                   check=True)
    return exe


def test_c_pipeline_trace(tmp_path):
    exe = build_c(tmp_path, REPO / "c-tests" / "t_trace.c", "t_trace")
    path = tmp_path / "c.json"
    path2 = tmp_path / "c2.json"
    r = subprocess.run([str(exe)], env=dict(os.environ, MRT_TRACE_KEEP=str(path), MRT_TRACE_KEEP2=str(path2)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    t = mt.load(str(path))
    assert {"chan send", "chan recv", "select", "mutex", "wg", "sleep", "host: host_wait_here"} <= whys(t)
    s = assert_sound(t)
    assert any(w["why"] == "chan recv" and w["g_fn"] == "stage" for w in s["top_waits"])
    # Every G the program made is in the trace with its creator.
    created = [e for e in t["traceEvents"] if e.get("ph") == "i" and e.get("cat") == "g"]
    assert len(created) >= 8 and all("by" in e["args"] for e in created)
    check_ping_pong(t, created, rounds=500)
    # t_trace_restart_no_stale_flow: a trace started while a G woken in the previous
    # one had yet to run; every flow in it starts and finishes in it.
    t2 = mt.load(str(path2))
    assert mt.check(t2, allow_open=True) == []
    assert any(e.get("ph") == "f" for e in t2["traceEvents"])


def test_c_trace_without_membarrier(tmp_path):
    """t_trace_without_membarrier: the last of the traces it stops and starts while
    ping-pongs run on 3 Ps with membarrier(2) denied (emitters fence themselves)."""
    exe = build_c(tmp_path, REPO / "c-tests" / "t_trace_without_membarrier.c", "t_trace_without_membarrier")
    path = tmp_path / "nomb.json"
    r = subprocess.run([str(exe)], env=dict(os.environ, MRT_TRACE_KEEP=str(path)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    t = mt.load(str(path))
    # Started and stopped mid-run: slices open at either end are fine.
    assert mt.check(t, allow_open=True) == []
    w = whys(t)
    assert w & {"chan send", "chan recv"}, w
    # The G the stopper made right after the start (through the shared buffer of
    # threads that are no M), at least.
    assert any(e.get("ph") == "i" and e.get("cat") == "g" for e in t["traceEvents"])
    assert t["otherData"]["lost_events"] == 0


def check_ping_pong(t, created, rounds):
    """t_trace's ping-pong on 1 P (the trace writes most of its switches as ShortSwitch
    records, which leave out the P, the Gs and the wait object): every wake of one of
    its two Gs by the other is there, with its flow to the woken G's next run on the
    same M lane; and each park names the channel it was on: one object for each G and
    reason throughout (the first switches are written whole, so a short one decoded
    with the wrong object shows), pa for the pinger's sends and the ponger's
    receives, pb for the others."""
    evs = t["traceEvents"]
    fn = {e["args"]["g"]: e["args"].get("fn") for e in created}
    pp = {g for g, f in fn.items() if f in ("pp_pinger", "pp_ponger")}
    assert len(pp) == 2
    readies = [e for e in evs if e.get("cat") == "ready" and e["args"]["g"] in pp and e["args"].get("by") in pp]
    assert all(e["args"]["by"] != e["args"]["g"] for e in readies)
    # Two hand-overs a round trip, give or take the first and the last.
    assert 2 * rounds - 2 <= len(readies) <= 2 * rounds + 2, len(readies)
    starts = {(e["pid"], e["tid"], e["ts"], e["args"]["g"]): e for e in evs if e.get("ph") == "s"}
    ends = {e["id"]: e for e in evs if e.get("ph") == "f"}
    for r in readies:
        s = starts[(r["pid"], r["tid"], r["ts"], r["args"]["g"])]
        f = ends[s["id"]]
        assert f["args"]["g"] == r["args"]["g"] and f["ts"] >= r["ts"]
        assert (f["pid"], f["tid"]) == (r["pid"], r["tid"])  # 1 P: the same M
    objs = {}
    parks = 0
    for e in evs:
        a = e.get("args", {})
        if e.get("ph") == "E" and e.get("pid") == 1 and a.get("g") in pp and a.get("why") in ("chan send", "chan recv"):
            objs.setdefault((fn[a["g"]], a["why"]), set()).add(a["obj"])
            parks += 1
    assert parks >= 2 * rounds - 2, parks
    assert all(len(v) == 1 for v in objs.values()), objs
    obj = {k: next(iter(v)) for k, v in objs.items()}
    pa = {obj[k] for k in (("pp_pinger", "chan send"), ("pp_ponger", "chan recv")) if k in obj}
    pb = {obj[k] for k in (("pp_pinger", "chan recv"), ("pp_ponger", "chan send")) if k in obj}
    assert len(pa) == 1 and len(pb) == 1 and pa != pb, obj


def test_echo_demo_trace(tmp_path):
    path = tmp_path / "echo.json"
    r = subprocess.run(["bash", str(REPO / "examples" / "run_echo.sh"), "8", "65536"],
                       env=dict(os.environ, ECHO_TRACE=str(path)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    t = mt.load(str(path))
    assert "fd" in whys(t)
    assert any(e.get("name") == "netpoll" for e in t["traceEvents"])
    assert any(e.get("args", {}).get("src") == "netpoll" for e in t["traceEvents"])
    assert_sound(t)


def test_mrt_trace_whole_python_run_and_cli(tmp_path):
    path = tmp_path / "run.json"
    code = ("import ctypes, mrt\n"
            "with mrt.Runtime(maxprocs=2, g_stack_size=1 << 20):\n"
            "    c = mrt.Chan(ctypes.c_int64)\n"
            "    g = mrt.go(lambda: c.send(5))\n"
            "    assert mrt.go(lambda: c.recv()).join() == 5\n"
            "    g.join()\n")
    env = dict(os.environ, MRT_TRACE=str(path), PYTHONPATH=str(PKG_ROOT))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    t = mt.load(str(path))
    assert_sound(t, complete=True)
    for cmd in (["check", "--complete", str(path)], ["summary", str(path)],
                ["svg", str(path), "-o", str(tmp_path / "run.svg")]):
        r = subprocess.run([sys.executable, "-m", "mrt.trace", *cmd], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    ET.parse(str(tmp_path / "run.svg"))


def test_check_finds_broken_traces():
    """The checker is not vacuous: each defect it looks for is reported."""
    def ev(ph, pid, tid, ts, g, **kw):
        e = {"ph": ph, "pid": pid, "tid": tid, "ts": ts, "name": "G%d" % g, "cat": "run", "args": {"g": g}}
        e.update(kw)
        return e
    ok = [ev("B", 1, 1, 1, 5), ev("E", 1, 1, 2, 5), ev("B", 2, 0, 1, 5), ev("E", 2, 0, 2, 5)]
    assert mt.check(ok) == []
    assert mt.check([ev("B", 1, 1, 2, 5), ev("E", 1, 1, 1, 5)])  # time goes back on an M
    assert mt.check([ev("E", 1, 1, 1, 5)])  # end without begin
    assert mt.check([ev("B", 2, 0, 1, 5), ev("B", 2, 0, 2, 6)])  # two Gs on one P
    assert mt.check([ev("B", 1, 1, 1, 5), ev("B", 1, 2, 2, 5)])  # one G on two Ms at once
    assert mt.check([ev("B", 1, 1, 1, 5), ev("E", 1, 1, 2, 6)])  # end of another G
    assert mt.check(ok + [{"ph": "f", "pid": 1, "tid": 1, "ts": 3, "id": 9, "args": {"g": 5}}])  # no start
    assert mt.check(ok[:2] + [{"ph": "s", "pid": 1, "tid": 1, "ts": 0.5, "id": 9, "args": {"g": 5}}])  # ran, no finish
    assert mt.check([ev("B", 1, 1, 1, 5)], allow_open=False)
