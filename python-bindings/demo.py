#!/usr/bin/env python3
"""libmrt from Python: Ms whose start functions are Python callables, and a P moved
between Python threads.

Each M runs its start function on its own OS thread, on its g0 stack, holding the GIL;
it reports its tid, its M id and the g0 stack bounds libmrt recorded, and checks that
its own stack pointer lies inside them. Then two Python threads pass P 0 back and forth:
each call to P.acquire() adopts the calling thread as an M. Last, Python callables as
Gs under mrt.main: each is wired to its M (CPython's thread state never migrates), so
the M and OS thread it reports stay the same across yields while its P may change.

Usage: demo.py [number of Ms, default 8]
"""

from __future__ import annotations

import os
import queue
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mrt  # noqa: E402
from mrt import osutil  # noqa: E402


def report(n: int):
    """Start function of M number n: what this M sees of itself."""
    me = mrt.getm()
    info = me.info()
    sp = osutil.current_sp()
    return n, osutil.gettid(), me.id, info.g0_lo, info.g0_hi, info.g0_lo <= sp < info.g0_hi


def ms_demo(count: int) -> None:
    print("== %d Ms with Python start functions (main thread tid %d)"
          % (count, osutil.gettid()))
    ms = [mrt.newm(report, i) for i in range(count)]
    row = "  %3s  %-8s %4s  %-34s %9s  %s"
    print(row % ("#", "tid", "M", "g0 stack [lo, hi)", "g0 size", "sp inside g0"))
    for m in ms:
        n, tid, mid, lo, hi, inside = m.wait(10)
        print(row % (n, tid, mid, "[%#x, %#x)" % (lo, hi), "%d KiB" % ((hi - lo) // 1024),
                     "yes" if inside else "NO"))
    st = mrt.stats()
    print("   stats: %d Ps (%d idle), %d Ms alive (%d idle)"
          % (st.maxprocs, st.idle_procs, st.threads, st.idle_threads))


def p_handoff_demo(rounds: int = 3) -> None:
    print("== P 0 handed between two Python threads")
    p = mrt.P.get(0)
    inbox = {"A": queue.Queue(), "B": queue.Queue()}
    lines = []

    def player(name: str, other: str, first: bool) -> None:
        for r in range(rounds):
            if not (first and r == 0):
                got = inbox[name].get(timeout=10)
                assert got == p
            p.acquire()
            me = mrt.getm()
            lines.append("   thread %s (tid %d, M %d) runs P %d: status %s"
                         % (name, osutil.gettid(), me.id, mrt.getp().id, p.status.name))
            try:
                mrt.P.get(0).acquire()
            except mrt.Already as e:
                lines.append("     a second acquire on this M: %s" % e.name)
            mrt.releasep()
            inbox[other].put(p)
        if not first:
            return
        inbox[name].get(timeout=10)  # the last hand-back
        p.put()
        lines.append("   thread %s put P %d back in the pool: status %s"
                     % (name, p.id, p.status.name))

    a = threading.Thread(target=player, args=("A", "B", True))
    b = threading.Thread(target=player, args=("B", "A", False))
    a.start()
    b.start()
    a.join()
    b.join()
    print("\n".join(lines))


def gs_demo(count: int = 4, yields: int = 3) -> None:
    print("== %d Python Gs under mrt.main (main thread tid %d)" % (count, osutil.gettid()))

    def where():
        p = mrt.getp()
        return "M %d/P %s/tid %d" % (mrt.getm().id, p.id if p else "-", osutil.gettid())

    def body(n):
        steps = [where()]
        for _ in range(yields):
            mrt.gosched()
            steps.append(where())
        if n == count - 1:
            raise RuntimeError("G %d raised this; join() re-raises it" % mrt.goid())
        return mrt.goid(), steps

    def main_g():
        gs = [mrt.go(body, n) for n in range(count)]
        rows = []
        for g in gs:
            try:
                gid, steps = g.join()
                rows.append("   G %d: %s" % (gid, " -> ".join(steps)))
            except RuntimeError as e:
                rows.append("   G %d: %s" % (g.id, e))
        return mrt.goid(), where(), rows

    gid, at, rows = mrt.main(main_g)
    print("   main G %d ran on %s and joined the others (parking on their wait groups)"
          % (gid, at))
    print("\n".join(rows))
    print("   mrt.main returned; this thread holds no P: %s" % (mrt.getp() is None))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    print("libmrt %s loaded from %s (%s)" % (mrt.version(), mrt.LIB_PATH, mrt.LIB_FOUND_BY))
    # Python G bodies recurse through C now and then: bigger G stacks than the 64 KiB
    # default (reserved, not committed).
    with mrt.Runtime(maxprocs=2, g_stack_size=1 << 20):
        ms_demo(count)
        p_handoff_demo()
        gs_demo()
    print("== runtime shut down; every M joined")


if __name__ == "__main__":
    main()
