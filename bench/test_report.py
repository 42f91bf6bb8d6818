#!/usr/bin/env python3
"""Checks bench/report.py on the canned log bench/testdata/report_sample.log: a table
row with every field for each RESULT line (vsgo, newm_latency, getstats_1m, http, a
one-sided one), one SVG per family that parses as XML, a median bar per side and a
min-max whisker exactly where the samples spread, bars scaled to their values, and a
family without results reported as such. `make test` runs it (test-report)."""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

here = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(here, "testdata", "report_sample.log")
NS = "{http://www.w3.org/2000/svg}"

# key -> (family, libmrt cell, peer, peer cell, ratio cell, goal, met cell, whiskers)
EXPECTED = {
    "newm_latency": ("newm_latency", "322", "pthread_create", "109", "2.96×", "ratio<=1.10", "**no**", 0),
    "spawn_1p": ("spawn", "214 [200–230]", "Go", "870 [850–900]", "0.246×", "ratio<=0.2", "**no**", 2),
    "spawn_2p": ("spawn", "197 [190–205]", "Go", "228 [220–240]", "0.864×", "ratio<=0.5", "**no**", 2),
    "getstats_1m": ("getstats_1m", "0.9", "-", "-", "-", "max<=1000us", "yes", 0),
    "parked_1m_maps": ("parked_1m", "2100", "Go", "-", "-", "max<=65530", "yes", 0),
    "http_100c_rps": ("http_hello", "56537 [42799–70276]", "Go", "42518 [31613–53424]", "1.33×",
                      "ratio>=1.0", "yes", 2),
    "http_100c_p99": ("http_hello", "21010 [12090–29930]", "Go", "15950 [11740–20160]", "1.32×",
                      "ratio<=1.0", "**no**", 2),
}


def main():
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, os.path.join(here, "report.py"), SAMPLE, out], check=True)
        md = open(os.path.join(out, "report.md")).read()
        assert "QUICK (reduced sizes)" in md and "go1.27.3" in md, "run information missing"
        assert "7 goals: 3 met, 4 missed." in md, re.findall(r"\d+ goals.*", md)

        table = md.split("## All results", 1)[1].split("\n## ", 1)[0]
        rows = [ln for ln in table.splitlines() if ln.startswith("| ") and not ln.startswith("| bench")]
        got = {}
        for ln in rows:
            cells = [c.strip() for c in ln.strip("|").split("|")]
            assert len(cells) == 9, ln
            got[cells[1]] = cells
        assert set(got) == set(EXPECTED), (sorted(got), sorted(EXPECTED))
        for key, (fam, mrt, peer, peer_val, ratio, goal, met, _) in EXPECTED.items():
            want = [fam, key, None, mrt, peer, peer_val, ratio, goal, met]
            for i, w in enumerate(want):
                assert w is None or got[key][i] == w, (key, i, got[key][i], w)

        assert "## broken" in md and "(no RESULT line" in md.split("## broken", 1)[1]
        assert not os.path.exists(os.path.join(out, "broken.svg"))

        families = sorted({v[0] for v in EXPECTED.values()})
        assert sorted(f for f in os.listdir(out) if f.endswith(".svg")) == [f + ".svg" for f in families]
        for fam in families:
            assert "](%s.svg)" % fam in md, fam
            root = ET.parse(os.path.join(out, fam + ".svg")).getroot()
            assert root.tag == NS + "svg", root.tag
            metrics = [g for g in root.iter(NS + "g") if g.get("class") == "metric"]
            keys = [k for k, v in EXPECTED.items() if v[0] == fam]
            assert sorted(g.get("data-key") for g in metrics) == sorted(keys), fam
            for g in metrics:
                key = g.get("data-key")
                exp = EXPECTED[key]
                bars = {r.get("class").split()[1]: r for r in g.iter(NS + "rect")
                        if (r.get("class") or "").startswith("bar ")}
                mrt_v = float(exp[1].split()[0])
                assert "mrt" in bars, key
                has_peer = exp[3] != "-"
                assert ("peer" in bars) == has_peer, key
                whiskers = [w for w in g.iter(NS + "g") if (w.get("class") or "").startswith("whisker")]
                assert len(whiskers) == exp[7], (key, len(whiskers))
                for w in whiskers:
                    lines = list(w.iter(NS + "line"))
                    assert len(lines) == 3, key  # the span and its two caps
                    x1, x2 = float(lines[0].get("x1")), float(lines[0].get("x2"))
                    assert x1 < x2, key
                    side = w.get("class").split()[1]
                    bar = bars[side]
                    end = float(bar.get("x")) + float(bar.get("width"))
                    assert x1 <= end <= x2, (key, side, x1, end, x2)  # median within min-max
                if has_peer:
                    peer_v = float(exp[3].split()[0])
                    wm, wp = float(bars["mrt"].get("width")), float(bars["peer"].get("width"))
                    assert (wm < wp) == (mrt_v < peer_v), (key, wm, wp)
                    assert abs(wm / wp - mrt_v / peer_v) < 0.01, (key, wm, wp)
    print("bench/report.py: all checks passed")


if __name__ == "__main__":
    main()
