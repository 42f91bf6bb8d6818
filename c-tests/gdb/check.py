# Run by c-tests/gdb/run.sh as `gdb -batch -x check.py stuck`: libmrt's gdb extension
# must have been auto-loaded from the library's .debug_gdb_scripts, list the parked
# Gs, and unwind each from its saved context through the function it parked in down
# to gentry (the outermost frame); stepping through mrt_swap, every backtrace must end
# cleanly (CFI). Prints PASS/FAIL lines and `gdb-check: N passed, M failed` last.
import re

import gdb

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS  " + what)
    else:
        failed += 1
        print("FAIL  " + what + ("\n" + detail if detail else ""))


gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("break gdb_here")
gdb.execute("run")

try:
    gs = gdb.execute("info goroutines", to_string=True)
except gdb.error as e:
    gs = "error: %s" % e
print(gs)
check("ds_stuck_recv" in gs, "info goroutines works (the extension was auto-loaded)", gs)
recv = re.findall(r"^\s+(\d+)\s+waiting chan receive\s+start ds_stuck_recv", gs, re.M)
check(len(recv) == 3, "three Gs wait in chan receive from ds_stuck_recv", gs)
for fn, why in [("ds_stuck_send", "chan send"), ("ds_stuck_mutex", "sync.Mutex.Lock"),
                ("ds_stuck_wg", "sync.WaitGroup.Wait"), ("ds_stuck_fd", "IO wait"),
                ("ds_stuck_select", "select"), ("ds_stuck_park", "rt_park")]:
    check(re.search(r"waiting %s\s+start %s" % (re.escape(why), fn), gs) is not None,
          "%s waits in %s" % (fn, why), gs)
check('"parker-7"' in gs, "the rt_go_ex name is shown", gs)
check(re.search(r"running\s+start stuck_main.* on thread", gs) is not None,
      "the running main G is shown on its thread", gs)


def goid_of(fn):
    m = re.search(r"^\s+(\d+)\s+\S.*start %s\b" % fn, gs, re.M)
    return int(m.group(1)) if m else None


pc_before = int(gdb.parse_and_eval("$pc"))
for fn, parked_in in [("ds_stuck_recv", "rt_chan_recv"), ("ds_stuck_send", "rt_chan_send"),
                      ("ds_stuck_mutex", "rt_mutex_lock"), ("ds_stuck_wg", "rt_wg_wait"),
                      ("ds_stuck_fd", "rt_poll_fd"), ("ds_stuck_select", "rt_select"),
                      ("ds_stuck_park", "rt_park"), ("ds_stuck_sleep", "rt_sleep")]:
    goid = goid_of(fn)
    if goid is None:
        check(False, "a G runs " + fn, gs)
        continue
    try:
        bt = gdb.execute("goroutine %d bt" % goid, to_string=True)
    except gdb.error as e:
        bt = "error: %s" % e
    frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+)", bt, re.M)
    # The G's first frames: gentry, called by mrt_gostart, whose return address is
    # undefined (CFI): the outermost frame.
    names = [f.split("::")[-1] for f in frames]
    ok = (parked_in in names and fn in names and len(frames) >= 2
          and frames[-1] == "mrt_gostart" and frames[-2].endswith("gentry")
          and "Backtrace stopped" not in bt)
    check(ok, "goroutine %d bt: %s -> %s ... gentry, mrt_gostart" % (goid, parked_in, fn), bt)
    if fn == "ds_stuck_recv":
        print(bt)
check(int(gdb.parse_and_eval("$pc")) == pc_before, "the registers are restored afterwards")

# Step through a switch: every backtrace inside mrt_swap ends at an outermost frame.
gdb.execute("break mrt_swap")
gdb.execute("continue")
ends = set()
bad = []
for i in range(40):
    bt = gdb.execute("bt", to_string=True)
    frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+)", bt, re.M)
    if not frames or "Backtrace stopped" in bt or frames[-1] == "??":
        bad.append(bt)
    else:
        ends.add(frames[-1])
    if not frames or frames[0] != "mrt_swap":
        break
    gdb.execute("stepi", to_string=True)
check(not bad and len(ends) >= 1, "backtraces through mrt_swap end cleanly (%s)" % sorted(ends),
      "\n---\n".join(bad[:3]))
print("backtrace ends seen while stepping through mrt_swap: %s" % sorted(ends))
gdb.execute("delete")
gdb.execute("continue")
print("gdb-check: %d passed, %d failed" % (passed, failed))
