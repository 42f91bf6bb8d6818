# mrt-gdb.py: gdb support for libmrt's goroutines (as Go's runtime-gdb.py).
#
# Loaded by gdb when libmrt is (the library carries it in .debug_gdb_scripts; gdb's
# `auto-load safe-path` must cover the library, e.g.
#   gdb -iex 'add-auto-load-safe-path /usr/local/lib' ./prog
# ), or by hand with `source tools/gdb/mrt-gdb.py`.
#
# Commands:
#   info goroutines            every live G: id, status and wait reason, start
#                              function, where a parked G resumes, its M if running
#   goroutine <id> <command>   run a gdb command (bt, info frame, ...) in G <id>'s
#                              context: for a parked or runnable G, the registers are
#                              switched to its saved context for the command and
#                              restored afterwards; for a running G, its thread.
#
# It needs no Rust debug info: the library's hidden `mrt_gdb_info` table (a symbol of
# .symtab or the split debug file) gives the G registry's address and the offsets it
# reads (src/runtime/arch/x86_64.rs). Works on live processes; on a core file the
# registers cannot be written, so `goroutine <id> bt` falls back to a frame-pointer
# walk.

import re
import struct

import gdb

STATUS = {
    0: "idle", 1: "runnable", 2: "running", 3: "waiting", 4: "syscall",
    5: "dead", 6: "system", 7: "waiting",
}
# WaitReason in src/runtime/g.rs.
REASONS = {
    1: "chan send", 2: "chan receive", 3: "select", 4: "sleep", 5: "IO wait",
    6: "sync.Mutex.Lock", 7: "sync.WaitGroup.Wait", 8: "rt_park",
}
# The frame mrt_swap leaves at a switched-out G's gobuf.sp (asm/x86_64.S).
SAVED = {"r15": 8, "r14": 16, "r13": 24, "r12": 32, "rbx": 40, "rbp": 48}
PC_AT, FRAME_SIZE = 56, 64


def _u64(b, off):
    return struct.unpack_from("<Q", b, off)[0]


def _read(addr, n):
    return bytes(gdb.selected_inferior().read_memory(addr, n))


class Info:
    """The mrt_gdb_info table of the process's libmrt."""

    def __init__(self):
        out = gdb.execute("info address mrt_gdb_info", to_string=True)
        m = re.search(r"is at (0x[0-9a-fA-F]+)", out)
        if not m:
            raise gdb.GdbError("libmrt is not loaded (no mrt_gdb_info symbol)")
        b = _read(int(m.group(1), 16), 8 + 8 * 22)
        if b[:8] != b"MRTGDB01":
            raise gdb.GdbError("mrt_gdb_info: unknown table version")
        q = [_u64(b, 8 + 8 * i) for i in range(22)]
        self.chunks, self.shift, self.nchunks, self.slot_size, self.slot_g = q[1:6]
        (self.o_status, self.o_goid, self.o_sp, self.o_lo, self.o_hi, self.o_wait,
         self.o_fnc, self.o_name, self.o_namelen, self.o_m, self.o_lockedm,
         self.o_creator, self.o_createpc, self.o_started) = q[6:20]
        self.m_id, self.m_procid = q[20:22]
        self.gsize = max(q[6:20]) + 64


class G:
    def __init__(self, info, addr):
        b = _read(addr, info.gsize)
        self.addr = addr
        self.status = struct.unpack_from("<I", b, info.o_status)[0]
        self.goid = struct.unpack_from("<q", b, info.o_goid)[0]
        self.sp = _u64(b, info.o_sp)
        self.lo, self.hi = _u64(b, info.o_lo), _u64(b, info.o_hi)
        wait = _u64(b, info.o_wait)
        self.reason = REASONS.get(wait >> 56, "") if self.status in (3, 7) else ""
        self.fnc = _u64(b, info.o_fnc)
        n = b[info.o_namelen]
        self.name = b[info.o_name:info.o_name + n].decode("utf-8", "replace")
        self.m = _u64(b, info.o_m)
        self.lockedm = _u64(b, info.o_lockedm)
        self.creator = struct.unpack_from("<q", b, info.o_creator)[0]
        self.started = b[info.o_started] != 0

    def parked(self):
        """Its context is saved on its stack (it is not on a thread)."""
        return self.status in (1, 3, 7) and self.started and self.lo <= self.sp < self.hi


def all_gs():
    info = Info()
    ptrs = _read(info.chunks, 8 * info.nchunks)
    nslots = 1 << info.shift
    gs = []
    for k in range(info.nchunks):
        chunk = _u64(ptrs, 8 * k)
        if chunk == 0:
            break
        slots = _read(chunk, nslots * info.slot_size)
        for i in range(nslots):
            gp = _u64(slots, i * info.slot_size + info.slot_g)
            if gp:
                g = G(info, gp)
                if g.status not in (0, 5, 6):
                    gs.append(g)
    gs.sort(key=lambda g: g.goid)
    return info, gs


def describe(pc):
    """function+offset for a code address."""
    if not pc:
        return "?"
    try:
        out = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
        m = re.match(r"(\S+) \+ (\d+) in section", out)
        if m:
            return "%s+%d" % (m.group(1), int(m.group(2)))
        m = re.match(r"(\S+) in section", out)
        if m:
            return m.group(1)
    except gdb.error:
        pass
    return "0x%x" % pc


def _thread_of(info, g):
    if not g.m:
        return None
    tid = struct.unpack_from("<q", _read(g.m + info.m_procid, 8))[0]
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == tid:
            return t
    return None


class InfoGoroutines(gdb.Command):
    """info goroutines: list libmrt's live goroutines."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        info, gs = all_gs()
        for g in gs:
            st = STATUS.get(g.status, "?")
            if g.reason:
                st += " " + g.reason
            where = ""
            if g.parked():
                where = " resumes at " + describe(_u64(_read(g.sp + PC_AT, 8), 0))
            elif g.status in (2, 4):
                t = _thread_of(info, g)
                where = " on thread %d (LWP %d)" % (t.num, t.ptid[1]) if t else ""
            name = ' "%s"' % g.name if g.name else ""
            print("  %-5d %-24s start %s%s%s" % (g.goid, st, describe(g.fnc), name, where))


class Goroutine(gdb.Command):
    """goroutine <id> <command>: run a gdb command (e.g. bt) in goroutine <id>'s context."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) < 2:
            raise gdb.GdbError("usage: goroutine <id> <gdb command>")
        goid, cmd = int(parts[0], 0), parts[1]
        info, gs = all_gs()
        g = next((x for x in gs if x.goid == goid), None)
        if g is None:
            raise gdb.GdbError("no goroutine %d" % goid)
        if g.status in (2, 4):
            t = _thread_of(info, g)
            if t is None:
                raise gdb.GdbError("goroutine %d: its thread is not known" % goid)
            cur = gdb.selected_thread()
            t.switch()
            try:
                gdb.execute(cmd, from_tty)
            finally:
                cur.switch()
            return
        if not g.parked():
            raise gdb.GdbError("goroutine %d has not started: no stack yet" % goid)
        frame = _read(g.sp, FRAME_SIZE)
        regs = {r: _u64(frame, off) for r, off in SAVED.items()}
        regs["rip"] = _u64(frame, PC_AT)
        regs["rsp"] = g.sp + FRAME_SIZE
        gdb.newest_frame().select()
        saved = {r: int(gdb.parse_and_eval("$" + r)) for r in regs}
        try:
            for r, v in regs.items():
                gdb.execute("set $%s = 0x%x" % (r, v))
        except gdb.error:
            # A core file: registers cannot be written. Walk the frame pointers.
            self._fp_walk(g, regs)
            return
        try:
            gdb.execute(cmd, from_tty)
        finally:
            gdb.newest_frame().select()
            for r, v in saved.items():
                gdb.execute("set $%s = 0x%x" % (r, v))

    @staticmethod
    def _fp_walk(g, regs):
        pc, fp, n = regs["rip"], regs["rbp"], 0
        while pc and n < 64:
            print("#%-3d 0x%016x in %s" % (n, pc, describe(pc)))
            n += 1
            if not (g.lo <= fp < g.hi - 16):
                break
            nfp, pc = struct.unpack("<QQ", _read(fp, 16))
            if nfp and nfp <= fp:
                break
            fp = nfp


InfoGoroutines()
Goroutine()
