"""Reading libmrt execution traces (rt_trace_start / $MRT_TRACE).

The trace is Chrome trace-event JSON (ui.perfetto.dev and chrome://tracing open it).
This module answers the questions a reader without Perfetto at hand asks first, and
checks a trace's structure::

    python -m mrt.trace summary trace.json          # per-G run/wait time, top wait sites
    python -m mrt.trace svg trace.json -o out.svg   # a self-contained SVG timeline
    python -m mrt.trace check trace.json            # structural checks (exit 1 if broken)

Layout of the trace (see src/runtime/trace.rs): pid 1 has one lane per M (tid = M
id, 0 = threads that are no M), pid 2 one lane per P. A G's run is a B/E slice
"G<id>" on its M's lane and its P's lane; the E's ``why`` says why it ended (yield,
preempted, exit, syscall, or a wait reason: chan send, chan recv, select, sleep, fd,
mutex, wg, "host: <fn>"). A wake is an X slice "ready G<id>" plus a flow start
("s"), whose finish ("f") follows the B of the G's next run.
"""

import argparse
import html
import json
import sys
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["load", "check", "summarise", "format_summary", "render_svg", "main"]

# Reasons after which a G is runnable (waits for a P), not blocked.
RUNNABLE_WHY = {"yield", "preempted", "syscall (no P)"}


def load(path: str) -> Dict[str, Any]:
    """The trace file as a dict (``traceEvents`` and the rest)."""
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def _events(trace: Any) -> List[Dict[str, Any]]:
    return trace["traceEvents"] if isinstance(trace, dict) else trace


def _lanes(evs: List[Dict[str, Any]]) -> Dict[Tuple[int, int], List[Tuple[int, Dict[str, Any]]]]:
    lanes: Dict[Tuple[int, int], List[Tuple[int, Dict[str, Any]]]] = defaultdict(list)
    for i, e in enumerate(evs):
        if e.get("ph") == "M":
            continue
        lanes[(e["pid"], e["tid"])].append((i, e))
    return lanes


def _ordered(lane: List[Tuple[int, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    # At equal timestamps an end comes before a begin (a P handed from one M to
    # another), otherwise file order.
    return [e for _, e in sorted(lane, key=lambda x: (x[1]["ts"], 0 if x[1]["ph"] == "E" else 1, x[0]))]


def check(trace: Any, allow_open: bool = True) -> List[str]:
    """Structural problems of a trace (empty list: none).

    - every M lane's timestamps never decrease in file order (one M writes it);
    - on every lane, B/E slices nest: an E ends the innermost open slice, of the
      same G; a P lane never has two slices open (a P runs one G at a time);
    - every G's runs, across lanes, never overlap, and each G starts only after it
      was created (if its creation is in the trace);
    - every flow finish has exactly one start, no later than itself; a flow start
      with no finish belongs to a G that never runs again in the trace;
    - slices still open at the end are allowed with ``allow_open`` (a G running when
      the trace stopped), else reported.
    """
    evs = _events(trace)
    problems: List[str] = []
    lanes = _lanes(evs)
    runs: Dict[int, List[Tuple[float, float]]] = defaultdict(list)
    starts: Dict[int, List[float]] = defaultdict(list)
    for (pid, tid), lane in sorted(lanes.items()):
        name = ("M%d" if pid == 1 else "P%d") % tid
        if pid == 1:
            last = None
            for _, e in lane:
                if last is not None and e["ts"] < last:
                    problems.append("%s: timestamp %s after %s" % (name, e["ts"], last))
                    break
                last = e["ts"]
            seq = [e for _, e in lane]
        else:
            seq = _ordered(lane)
        stack: List[Dict[str, Any]] = []
        for e in seq:
            ph = e["ph"]
            if ph == "B":
                if pid == 2 and stack:
                    problems.append("%s: %s begins at %s while %s runs" % (name, e["name"], e["ts"], stack[-1]["name"]))
                stack.append(e)
            elif ph == "E":
                if not stack:
                    problems.append("%s: end at %s with no slice open" % (name, e["ts"]))
                    continue
                b = stack.pop()
                if b.get("args", {}).get("g") != e.get("args", {}).get("g"):
                    problems.append("%s: end of G%s at %s closes %s" % (name, e.get("args", {}).get("g"), e["ts"], b["name"]))
                if pid == 1 and b.get("cat") == "run":
                    g = b["args"]["g"]
                    runs[g].append((b["ts"], e["ts"]))
            if pid == 1 and ph == "B" and e.get("cat") == "run":
                starts[e["args"]["g"]].append(e["ts"])
        if stack and not allow_open:
            problems.append("%s: %d slice(s) open at the end" % (name, len(stack)))
        if pid == 1:
            for b in stack:
                if b.get("cat") == "run":
                    runs[b["args"]["g"]].append((b["ts"], float("inf")))
    for g, rs in runs.items():
        rs.sort()
        for (a0, a1), (b0, _) in zip(rs, rs[1:]):
            if b0 < a1:
                problems.append("G%s runs twice at once (%s-%s and from %s)" % (g, a0, a1, b0))
                break
    created = {}
    for e in evs:
        if e.get("ph") == "i" and e.get("cat") == "g":
            created[e["args"]["g"]] = e["ts"]
    for g, ts in created.items():
        first = min(starts.get(g, [float("inf")]))
        if first < ts:
            problems.append("G%s starts at %s before its creation at %s" % (g, first, ts))
    flow_s: Dict[int, List[Dict[str, Any]]] = defaultdict(list)
    flow_f: Dict[int, List[Dict[str, Any]]] = defaultdict(list)
    for e in evs:
        if e.get("ph") == "s":
            flow_s[e["id"]].append(e)
        elif e.get("ph") == "f":
            flow_f[e["id"]].append(e)
    for fid, fs in flow_f.items():
        ss = flow_s.get(fid, [])
        if len(ss) != 1 or len(fs) != 1:
            problems.append("flow %s: %d start(s), %d finish(es)" % (fid, len(ss), len(fs)))
            continue
        if fs[0]["ts"] < ss[0]["ts"]:
            problems.append("flow %s finishes at %s before it starts at %s" % (fid, fs[0]["ts"], ss[0]["ts"]))
        if fs[0]["args"]["g"] != ss[0]["args"]["g"]:
            problems.append("flow %s joins G%s to G%s" % (fid, ss[0]["args"]["g"], fs[0]["args"]["g"]))
    for fid, ss in flow_s.items():
        if fid in flow_f:
            continue
        g = ss[0]["args"]["g"]
        if any(t > ss[0]["ts"] for t in starts.get(g, [])):
            problems.append("flow %s: G%s ran again after its wake, with no flow finish" % (fid, g))
    return problems


def summarise(trace: Any) -> Dict[str, Any]:
    """Per-G run, runnable and wait time (µs, wait split by reason) and the top wait
    sites (reason, object, G's function), from the M lanes."""
    evs = [e for e in _events(trace) if e.get("ph") != "M" and e.get("pid") == 1]
    evs.sort(key=lambda e: e["ts"])
    gs: Dict[int, Dict[str, Any]] = {}

    def gi(g: int) -> Dict[str, Any]:
        if g not in gs:
            gs[g] = {"g": g, "fn": "?", "name": "", "by": None, "run": 0.0, "runnable": 0.0,
                     "wait": defaultdict(float), "runs": 0, "state": None, "since": None, "why": None, "obj": None}
        return gs[g]

    sites: Dict[Tuple[str, str, str], List[float]] = defaultdict(lambda: [0, 0.0])
    end = evs[-1]["ts"] if evs else 0.0
    for e in evs:
        ph, a = e["ph"], e.get("args", {})
        if ph == "i" and e.get("cat") == "g":
            s = gi(a["g"])
            s["fn"], s["name"], s["by"] = a.get("fn", "?"), a.get("name", ""), a.get("by")
            s["state"], s["since"] = "runnable", e["ts"]
        elif ph == "B" and e.get("cat") == "run":
            s = gi(a["g"])
            if s["state"] == "runnable" and s["since"] is not None:
                s["runnable"] += e["ts"] - s["since"]
            s["state"], s["since"] = "running", e["ts"]
            s["runs"] += 1
        elif ph == "E" and e.get("cat") == "run":
            s = gi(a["g"])
            if s["state"] == "running":
                s["run"] += e["ts"] - s["since"]
            why = a.get("why", "?")
            if why == "exit":
                s["state"], s["since"] = "dead", None
            elif why in RUNNABLE_WHY:
                s["state"], s["since"] = "runnable", e["ts"]
            else:
                s["state"], s["since"], s["why"], s["obj"] = "waiting", e["ts"], why, a.get("obj", "")
        elif ph == "X" and e.get("cat") == "ready":
            s = gi(a["g"])
            if s["state"] == "waiting":
                d = e["ts"] - s["since"]
                s["wait"][s["why"]] += d
                site = sites[(s["why"], s["obj"] or "", s["name"] or s["fn"])]
                site[0] += 1
                site[1] += d
            s["state"], s["since"] = "runnable", e["ts"]
    for s in gs.values():
        # Still in a state at the end of the trace: count it up to there.
        if s["since"] is not None:
            d = end - s["since"]
            if s["state"] == "running":
                s["run"] += d
            elif s["state"] == "runnable":
                s["runnable"] += d
            elif s["state"] == "waiting":
                s["wait"][s["why"] + " (until end)"] += d
        s["wait"] = dict(s["wait"])
        for k in ("state", "since", "why", "obj"):
            s.pop(k)
    top = sorted(({"why": k[0], "obj": k[1], "g_fn": k[2], "count": v[0], "total_us": v[1]}
                  for k, v in sites.items()), key=lambda x: -x["total_us"])
    return {"gs": sorted(gs.values(), key=lambda s: s["g"]), "top_waits": top,
            "duration_us": end - (evs[0]["ts"] if evs else 0.0)}


def format_summary(s: Dict[str, Any], top: int = 10, max_gs: int = 40) -> str:
    lines = ["trace: %.1f ms, %d Gs" % (s["duration_us"] / 1000, len(s["gs"]))]
    lines.append("%-8s %-24s %10s %10s %10s  %s" % ("G", "function", "run ms", "runnable", "wait ms", "wait by reason (ms)"))
    gs = sorted(s["gs"], key=lambda g: -(g["run"] + sum(g["wait"].values())))
    for g in gs[:max_gs]:
        label = g["name"] or g["fn"]
        waits = ", ".join("%s %.2f" % (k, v / 1000) for k, v in sorted(g["wait"].items(), key=lambda x: -x[1]))
        lines.append("%-8s %-24s %10.2f %10.2f %10.2f  %s" % (
            "G%d" % g["g"], label[:24], g["run"] / 1000, g["runnable"] / 1000,
            sum(g["wait"].values()) / 1000, waits))
    if len(gs) > max_gs:
        lines.append("... %d more Gs" % (len(gs) - max_gs))
    lines.append("")
    lines.append("top wait sites (reason, object, G's function): count, total ms")
    for w in s["top_waits"][:top]:
        lines.append("  %-12s %-16s %-24s %8d %10.2f" % (w["why"], w["obj"], w["g_fn"][:24], w["count"], w["total_us"] / 1000))
    return "\n".join(lines)


def _color(g: int) -> str:
    return "hsl(%d,65%%,55%%)" % ((g * 67) % 360)


def render_svg(trace: Any, width: int = 1400) -> str:
    """A self-contained SVG timeline: one row per M and per P, a rectangle per run
    (coloured by G, with a tooltip: G, function, duration, why it ended), system
    calls as hatched bars on M rows, and a summary of the top waits below."""
    evs = _events(trace)
    lanes = _lanes(evs)
    names: Dict[Tuple[int, int], str] = {}
    for e in evs:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    ts = [e["ts"] for e in evs if "ts" in e and e.get("ph") != "M"]
    t0, t1 = (min(ts), max(ts)) if ts else (0.0, 1.0)
    span = max(t1 - t0, 1e-3)
    fns: Dict[int, str] = {}
    for e in evs:
        if e.get("ph") == "i" and e.get("cat") == "g":
            fns[e["args"]["g"]] = e["args"].get("name") or e["args"].get("fn", "?")
    left, row, top = 170, 22, 40
    order = sorted(lanes, key=lambda k: (k[0], k[1]))
    height = top + row * len(order) + 30
    body: List[str] = []
    x = lambda t: left + (t - t0) / span * (width - left - 10)  # noqa: E731
    for r, key in enumerate(order):
        y = top + r * row
        label = names.get(key, ("M%d" if key[0] == 1 else "P%d") % key[1])
        body.append('<text x="4" y="%d" class="l">%s</text>' % (y + 15, html.escape(label)))
        body.append('<line x1="%d" x2="%d" y1="%d" y2="%d" class="g"/>' % (left, width - 10, y + row - 1, y + row - 1))
        seq = [e for _, e in lane_sorted(lanes[key], key[0])]
        stack: List[Dict[str, Any]] = []
        # Runs narrower than a pixel are folded into per-pixel occupancy.
        occ: Dict[int, float] = defaultdict(float)
        for e in seq:
            if e["ph"] == "B":
                stack.append(e)
            elif e["ph"] == "E" and stack:
                b = stack.pop()
                _slice(body, occ, b, e["ts"], e.get("args", {}).get("why", ""), x, y, row, fns, len(stack))
        for b in stack:
            _slice(body, occ, b, t1, "running at the end", x, y, row, fns, 0)
        px_us = span / (width - left - 10)
        for px, busy in sorted(occ.items()):
            body.append('<rect x="%d" y="%d" width="1" height="%d" fill="#4a7" fill-opacity="%.2f"/>'
                        % (px, y + 3, row - 6, min(1.0, busy / px_us)))
    ticks = []
    for i in range(11):
        t = t0 + span * i / 10
        ticks.append('<text x="%.1f" y="%d" class="t">%.1f ms</text>' % (x(t), top - 8, (t - t0) / 1000))
    s = summarise(trace)
    sumlines = format_summary(s, top=8, max_gs=12).splitlines()
    sum_y = height + 10
    total_h = sum_y + 16 * len(sumlines) + 10
    text = "".join('<text x="4" y="%d" class="s">%s</text>' % (sum_y + 16 * i, html.escape(line))
                   for i, line in enumerate(sumlines))
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace">'
            '<style>.l{font-size:12px}.t{font-size:10px;fill:#555}.s{font-size:11px;white-space:pre}'
            '.g{stroke:#ddd}.y{fill:#999;fill-opacity:.5}</style>'
            '<title>libmrt execution trace</title>'
            '<text x="4" y="14" class="l">libmrt execution trace: %.2f ms, %d lanes (M = OS thread, P = processor); '
            'hover a run for its G, function, time and why it ended</text>%s%s%s</svg>\n'
            % (width, total_h, span / 1000, len(order), "".join(ticks), "".join(body), text))


def lane_sorted(lane: List[Tuple[int, Dict[str, Any]]], pid: int) -> List[Tuple[int, Dict[str, Any]]]:
    if pid == 1:
        return lane
    return [(0, e) for e in _ordered(lane)]


def _slice(body: List[str], occ: Dict[int, float], b: Dict[str, Any], end: float, why: str, x: Any,
           y: int, row: int, fns: Dict[int, str], depth: int) -> None:
    x0, x1 = x(b["ts"]), x(end)
    g = b.get("args", {}).get("g", 0)
    if b.get("cat") == "syscall":
        if x1 - x0 >= 1:
            body.append('<rect x="%.1f" y="%d" width="%.1f" height="4" class="y"><title>syscall G%s %.1f us</title></rect>'
                        % (x0, y + row - 6, x1 - x0, g, end - b["ts"]))
        return
    if x1 - x0 < 1:
        occ[int(x0)] += end - b["ts"]
        return
    tip = "G%s %s: %.1f us, then %s" % (g, fns.get(g, "?"), end - b["ts"], why)
    body.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                % (x0, y + 3 + 2 * depth, x1 - x0, row - 6 - 2 * depth, _color(g), html.escape(tip)))
    if x1 - x0 > 40:
        body.append('<text x="%.1f" y="%d" font-size="10">G%s</text>' % (x0 + 2, y + 15, g))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mrt.trace", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("summary", help="per-G run/wait time and top wait sites")
    p.add_argument("trace")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p = sub.add_parser("svg", help="render a self-contained SVG timeline")
    p.add_argument("trace")
    p.add_argument("-o", "--output", default="-")
    p = sub.add_parser("check", help="structural checks; exit 1 if any fails")
    p.add_argument("trace")
    p.add_argument("--complete", action="store_true", help="no slice may be open at the end")
    a = ap.parse_args(argv)
    t = load(a.trace)
    if a.cmd == "summary":
        s = summarise(t)
        print(json.dumps(s, indent=1) if a.json else format_summary(s))
        return 0
    if a.cmd == "svg":
        svg = render_svg(t)
        if a.output == "-":
            sys.stdout.write(svg)
        else:
            with open(a.output, "w", encoding="utf-8") as f:
                f.write(svg)
        return 0
    problems = check(t, allow_open=not a.complete)
    for pr in problems:
        print(pr)
    n = sum(1 for e in _events(t) if e.get("ph") != "M")
    print("%d events, %d problem(s)" % (n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
