"""Thread creation refused by the OS (issue 2, "Bad input"): under RLIMIT_AS and, as an
unprivileged user, under RLIMIT_NPROC, rt_newm fails with RT_ENOMEM or RT_EAGAIN,
nothing leaks, the P passed in is back where it was, and the runtime works afterwards.
Each case runs in a child process so the limits do not touch the test run."""

from __future__ import annotations

from conftest import run_py

COMMON = """
    import os, resource, sys, threading, traceback, mrt

    def vm_bytes():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    def threads():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])

    def start():
        return mrt.getm().id
"""


def test_rlimit_as_refuses_thread():
    r = run_py(COMMON + """
    G0 = 256 << 20                         # each M's g0 needs this much address space
    with mrt.Runtime(maxprocs=2, g0_stack_size=G0):
        assert mrt.newm(start).wait(10) > 0          # works before
        held = mrt.P.get(0)
        held.acquire()
        mrt.releasep()                               # held by us, not in the pool
        pooled = mrt.P.get(1)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        before = mrt.stats()
        vm_before = vm_bytes()
        resource.setrlimit(resource.RLIMIT_AS, (vm_before + (32 << 20), hard))
        codes = set()
        for p in (None, held, pooled, None, held):
            try:
                mrt.newm(start, p=p)
            except (mrt.NoMemory, mrt.Again) as e:
                codes.add(e.name)
            else:
                raise AssertionError("newm under RLIMIT_AS succeeded")
            try:
                m = mrt.allocm(start, p=p)
            except (mrt.NoMemory, mrt.Again) as e:
                codes.add(e.name)
            else:
                m.free()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        after = mrt.stats()
        assert after.threads == before.threads, (before, after)
        assert after.idle_procs == before.idle_procs, (before, after)
        grown = vm_bytes() - vm_before
        assert grown < (16 << 20), "address space grew by %d bytes" % grown
        assert held.status == mrt.PStatus.IDLE and pooled.status == mrt.PStatus.IDLE
        try:
            pooled.put()
        except mrt.Already:
            pass                                     # still in the pool: right
        else:
            raise AssertionError("the pool P was not in the pool after the failures")
        # the runtime still works, and the held P is still ours to hand out
        ms = [mrt.newm(start) for _ in range(3)]
        assert len({m.wait(10) for m in ms}) == 3
        m = mrt.newm(start, p=held)
        assert m.wait(10) == m.id
    print(" ".join(sorted(codes)))
    """)
    assert r.returncode == 0 and r.stderr == "", r
    codes = r.stdout.split()
    assert codes and set(codes) <= {"RT_ENOMEM", "RT_EAGAIN"}, r.stdout


def test_rlimit_nproc_refuses_thread_as_unprivileged_user():
    r = run_py(COMMON + """
    import pwd
    with mrt.Runtime(maxprocs=2):
        assert mrt.newm(start).wait(10) > 0
        held = mrt.P.get(0)
        held.acquire()
        mrt.releasep()
        nobody = pwd.getpwnam("nobody")
        if os.getuid() == 0:
            try:
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)      # root ignores RLIMIT_NPROC; nobody does not
            except PermissionError:
                print("SKIP cannot drop privileges")
                sys.exit(0)
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        spare = mrt.allocm(start)             # allocated before the limit
        before = mrt.stats()
        resource.setrlimit(resource.RLIMIT_NPROC, (threads(), hard))
        names = set()
        for p in (None, held, None):
            try:
                mrt.newm(start, p=p)
            except (mrt.Again, mrt.NoMemory) as e:
                names.add(e.name)
            else:
                raise AssertionError("newm under RLIMIT_NPROC succeeded")
        try:
            spare.launch(held)                # refused: the M stays allocated, unlaunched
        except (mrt.Again, mrt.NoMemory) as e:
            names.add(e.name)
        else:
            raise AssertionError("launch under RLIMIT_NPROC succeeded")
        assert spare.info().tid == 0
        resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
        after = mrt.stats()
        assert after.threads == before.threads, (before, after)
        assert held.status == mrt.PStatus.IDLE
        ms = [mrt.newm(start) for _ in range(3)]
        assert len({m.wait(10) for m in ms}) == 3
        spare.free()                          # never launched: freeable
        held.put()                            # was still held by us: not Already
    print(" ".join(sorted(names)))
    """)
    if r.stdout.startswith("SKIP"):
        import pytest

        pytest.skip(r.stdout.strip())
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.split() == ["RT_EAGAIN"], r.stdout
