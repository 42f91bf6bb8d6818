#!/usr/bin/env python3
"""bench/report.py: turns a bench/run.sh log into bench/out/report.md and one SVG
chart per bench family (bench/out/<name>.svg). Python 3 stdlib only.

    report.py BENCH_LOG OUT_DIR

What it reads from the log (bench/run.sh writes it to bench/out/bench.log):
  bench: ...              information about the run (commit, date, CPUs, Go version)
  == NAME ARGS (KIND)     starts a bench; its family is NAME (spawn -p 1 and -p 2 share one)
  RESULT KEY k=v ...      one compared figure. vsgo/echo/http benches give mrt= go= ratio=
                          unit= goal= met= and the spread mrt_min= mrt_max= go_min= go_max=
                          samples=; newm_latency gives ratio= mrt_median_us=
                          pthread_median_us= (its goal is in its text: "(goal <= X)");
                          getstats_1m gives median_us= ... goal= met= (no peer).
  anything else           the bench's own text, shown under its table.

The report has one table of every RESULT (libmrt, peer, ratio, goal, met) and a section
per family with its chart and its text. Each chart has one row per metric, on its own
scale (units differ within a family): a median bar for libmrt and for its peer, a
whisker from the smallest to the largest sample, the values, the ratio and the goal.
"""
import html
import os
import re
import sys

MRT_COLOUR = "#e4572e"
PEER_COLOUR = "#00add8"


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    return "%.3g" % x


def goal_met(goal, ratio, mrt):
    """met for a goal string (ratio<=X, ratio>=X, max<=X[unit], min>=X[unit]); None if not
    decidable."""
    m = re.match(r"(ratio<=|ratio>=|max<=|min>=)([0-9.eE+-]+)", goal or "")
    if not m:
        return None
    lim = float(m.group(2))
    if m.group(1) == "ratio<=":
        return None if ratio is None else ratio <= lim
    if m.group(1) == "ratio>=":
        return None if ratio is None else ratio >= lim
    if m.group(1) == "min>=":
        return None if mrt is None else mrt >= lim
    return None if mrt is None else mrt <= lim


def parse_log(text):
    """-> (info lines, [section]); a section: name, args, kind, text lines, RESULT dicts."""
    info, sections, cur = [], [], None
    for line in text.splitlines():
        if line.startswith("bench: "):
            info.append(line[len("bench: "):])
            continue
        m = re.match(r"== (\S+)(?: (.*))? \((\w+)\)$", line)
        if m:
            cur = {"name": m.group(1), "args": m.group(2) or "", "kind": m.group(3),
                   "text": [], "results": []}
            sections.append(cur)
            continue
        if cur is None:
            continue
        if line.startswith("RESULT "):
            parts = line.split()
            fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
            cur["results"].append((parts[1], fields))
        elif line.strip():
            cur["text"].append(line)
    return info, sections


def row_of(section, key, f):
    """One comparable row from a RESULT line, whatever bench printed it."""
    row = {"family": section["name"], "args": section["args"], "key": key, "peer": "Go",
           "unit": f.get("unit", ""), "mrt": None, "peer_val": None, "ratio": num(f.get("ratio")),
           "mrt_min": None, "mrt_max": None, "peer_min": None, "peer_max": None,
           "goal": f.get("goal", "-"), "met": f.get("met", "-"), "samples": f.get("samples", "")}
    if "mrt" in f and "go" in f:
        row.update(mrt=num(f["mrt"]), peer_val=num(f["go"]), mrt_min=num(f.get("mrt_min")),
                   mrt_max=num(f.get("mrt_max")), peer_min=num(f.get("go_min")),
                   peer_max=num(f.get("go_max")))
    elif "mrt_median_us" in f and "pthread_median_us" in f:
        row.update(peer="pthread_create", unit="us", mrt=num(f["mrt_median_us"]),
                   peer_val=num(f["pthread_median_us"]))
        if row["goal"] == "-":
            g = [re.search(r"\(goal <= ([0-9.]+)\)", t) for t in section["text"]]
            g = [x for x in g if x]
            if g:
                row["goal"] = "ratio<=" + g[0].group(1)
                met = goal_met(row["goal"], row["ratio"], row["mrt"])
                row["met"] = "-" if met is None else "yes" if met else "no"
    else:
        # Single-sided figures: the worse of getstats_1m's two medians (its goal's
        # subject), else the first field that is a median, else the first number.
        if "median_us" in f and "thread_median_us" in f:
            f = dict(f, median_us=str(max(num(f["median_us"]) or 0, num(f["thread_median_us"]) or 0)))
        for k, v in f.items():
            if k.endswith("median_us") or k == "median":
                row.update(mrt=num(v), unit="us" if k.endswith("_us") else row["unit"])
                break
        else:
            for k, v in f.items():
                if k not in ("ratio", "goal", "met") and num(v) is not None:
                    row.update(mrt=num(v))
                    break
        row["peer"] = "-"
        g = re.match(r"(?:max<=|min>=)([0-9.]+)(\w*)", row["goal"])
        if g and g.group(2) and not row["unit"]:
            row["unit"] = g.group(2)
    return row


def collect(sections):
    rows, seen = [], set()
    for s in sections:
        for key, f in s["results"]:
            r = row_of(s, key, f)
            label = key
            if (s["name"], key) in seen:
                label = "%s (%s)" % (key, s["args"])
            seen.add((s["name"], key))
            r["label"] = label
            rows.append(r)
    return rows


def cell_spread(v, lo, hi):
    if v is None:
        return "-"
    if lo is not None and hi is not None and fmt(lo) != fmt(hi):
        return "%s [%s–%s]" % (fmt(v), fmt(lo), fmt(hi))
    return fmt(v)


def met_cell(met):
    return {"yes": "yes", "no": "**no**"}.get(met, "-")


def svg_chart(family, rows):
    """One SVG: a row per metric (own scale), libmrt and peer median bars + min-max whiskers."""
    width, left, right = 780, 260, 120
    bar_h, gap, row_h, top = 14, 3, 58, 46
    plot_w = width - left - right
    height = top + row_h * len(rows) + 10
    e = html.escape
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">' % (width, height, width, height),
           '<title>%s: libmrt vs its peer (median bars, min–max whiskers)</title>' % e(family),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-size="14" font-weight="bold">%s</text>' % e(family),
           '<text x="10" y="34" fill="#555">median of every sample; whiskers: min–max; '
           'each row on its own scale; ratio = libmrt / peer</text>']
    peers = sorted({r["peer"] for r in rows if r["peer"] != "-"})
    lx = width - right - 10 - 90 * (1 + len(peers))
    for i, (name, colour) in enumerate([("libmrt", MRT_COLOUR)] + [(p, PEER_COLOUR) for p in peers]):
        x = lx + 90 * i
        out.append('<rect class="legend" x="%d" y="9" width="10" height="10" fill="%s"/>' % (x, colour))
        out.append('<text x="%d" y="18">%s</text>' % (x + 14, e(name)))
    for i, r in enumerate(rows):
        y = top + i * row_h
        vals = [v for v in (r["mrt"], r["peer_val"], r["mrt_max"], r["peer_max"]) if v is not None]
        scale = max(vals) if vals and max(vals) > 0 else 1.0
        out.append('<g class="metric" data-key="%s">' % e(r["key"]))
        out.append('<text x="10" y="%d" font-weight="bold">%s</text>' % (y + 12, e(r["label"])))
        out.append('<text x="10" y="%d" fill="#555">%s%s</text>' % (
            y + 26, e(r["unit"]), e("; samples %s (libmrt/%s)" % (r["samples"], r["peer"])) if r["samples"] else ""))
        met = r["met"]
        verdict = {"yes": "met", "no": "MISSED"}.get(met, "")
        out.append('<text x="10" y="%d" fill="%s">%s</text>' % (
            y + 40, "#a00" if met == "no" else "#070" if met == "yes" else "#555",
            e("ratio %s%s" % (fmt(r["ratio"]) + "x" if r["ratio"] is not None else "-",
                              "; goal %s %s" % (r["goal"], verdict) if r["goal"] != "-" else ""))))
        bars = [("mrt", "libmrt", r["mrt"], r["mrt_min"], r["mrt_max"], MRT_COLOUR)]
        if r["peer"] != "-":
            bars.append(("peer", r["peer"], r["peer_val"], r["peer_min"], r["peer_max"], PEER_COLOUR))
        for j, (cls, name, v, lo, hi, colour) in enumerate(bars):
            by = y + 4 + j * (bar_h + gap)
            if v is None or v < 0:
                out.append('<text x="%d" y="%d" fill="#555">%s: n/a</text>' % (left, by + 11, e(name)))
                continue
            w = plot_w * v / scale
            out.append('<rect class="bar %s" x="%d" y="%d" width="%.1f" height="%d" fill="%s">'
                       '<title>%s %s %s</title></rect>' % (cls, left, by, w, bar_h, colour,
                                                          e(name), fmt(v), e(r["unit"])))
            end = w
            if lo is not None and hi is not None and hi > lo:
                x1, x2, cy = left + plot_w * lo / scale, left + plot_w * hi / scale, by + bar_h / 2
                out.append('<g class="whisker %s" stroke="#222" stroke-width="1.2">'
                           '<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                           '<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                           '<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>'
                           '<title>min %s, max %s</title></g>' % (
                               cls, x1, cy, x2, cy, x1, by + 2, x1, by + bar_h - 2,
                               x2, by + 2, x2, by + bar_h - 2, fmt(lo), fmt(hi)))
                end = max(end, plot_w * hi / scale)
            out.append('<text x="%.1f" y="%d">%s</text>' % (left + end + 5, by + 11, e(fmt(v))))
        out.append('</g>')
    out.append('</svg>')
    return "\n".join(out) + "\n"


def safe_name(family):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", family)


def write_report(info, sections, rows, out_dir):
    families = []
    for s in sections:
        if s["name"] not in families:
            families.append(s["name"])
    goals = [r for r in rows if r["met"] in ("yes", "no")]
    md = ["# libmrt benchmarks", ""]
    md += ["- " + line for line in info]
    md += ["", "Generated by `bench/report.py` from `bench/out/bench.log` (`make bench`). "
           "Each figure is the median over every sample of alternating runs, each a fresh "
           "process; [min–max] is the spread of the same samples. Ratio = libmrt / peer "
           "(below 1 is better for times and latencies, above 1 for rates). "
           "%d goals: %d met, %d missed." % (len(goals), sum(r["met"] == "yes" for r in goals),
                                            sum(r["met"] == "no" for r in goals)), ""]
    md += ["## All results", "",
           "| bench | metric | unit | libmrt | peer | peer value | ratio | goal | met |",
           "|---|---|---|---:|---|---:|---:|---|---|"]
    for r in rows:
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["family"], r["label"], r["unit"] or "-", cell_spread(r["mrt"], r["mrt_min"], r["mrt_max"]),
            r["peer"], cell_spread(r["peer_val"], r["peer_min"], r["peer_max"]),
            fmt(r["ratio"]) + "×" if r["ratio"] is not None else "-", r["goal"], met_cell(r["met"])))
    charts = {}
    for fam in families:
        frows = [r for r in rows if r["family"] == fam]
        md += ["", "## %s" % fam, ""]
        if frows:
            fname = safe_name(fam) + ".svg"
            charts[fname] = svg_chart(fam, frows)
            md += ["![%s: libmrt vs %s](%s)" % (fam, "/".join(sorted({r["peer"] for r in frows})), fname), ""]
        else:
            md += ["(no RESULT line: the bench failed or printed none)", ""]
        text = [t for s in sections if s["name"] == fam for t in ["== %s %s" % (s["name"], s["args"])] + s["text"]]
        md += ["```"] + text + ["```"]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write("\n".join(md) + "\n")
    for fname, svg in charts.items():
        with open(os.path.join(out_dir, fname), "w") as fh:
            fh.write(svg)
    return sorted(charts)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as fh:
        info, sections = parse_log(fh.read())
    if not sections:
        sys.stderr.write("report.py: no bench in %s\n" % argv[1])
        return 1
    rows = collect(sections)
    write_report(info, sections, rows, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
