//! The goroutine dump (rt_dump, the SIGQUIT dump, a fatal error's dump and the
//! deadlock report): every M and P, then every G grouped by identical stacks, as Go's
//! `debug=1` goroutine profile groups them, each group with its Gs' ids, names, wait
//! reasons and times, creators and wired threads.
//!
//! Async-signal-safe, so that a signal handler may call it:
//! - nothing allocates: the text goes out through a fixed buffer on the stack
//!   ([`FdOut`]), and the records grouped by stack live in an anonymous mapping made
//!   for the dump (mmap and munmap are system calls); without that mapping the Gs are
//!   listed one by one, ungrouped;
//! - the runtime's locks are only tried: a thread that holds a runtime lock (a signal
//!   handler may have interrupted it there) tries each once; any other thread tries
//!   for up to about 100 ms. A lock not had skips its part with a line that says so
//!   (the sched lock: the M and P lines; the G list: the Gs);
//! - a G's stack is read through process_vm_readv, which fails instead of faulting
//!   if a G exits and its stack is unmapped while the dump reads it.
//!
//! Not async-signal-safe: naming code addresses with dladdr, which takes the
//! dynamic linker's lock. A signal that interrupts a thread inside dlopen, dlclose or
//! dladdr and dumps from that thread would wait for ever ([`Symbols::No`] prints
//! bare addresses instead).
//!
//! Backtraces follow frame pointers from a parked G's saved context (asm/x86_64.S:
//! the saved rbp and return address sit at the top of the frame mrt_swap pushed).
//! libmrt keeps frame pointers (.cargo/config.toml); host code compiled without them
//! loses frames (the walk skips from the last frame that kept one), and host
//! functions are named only if the dynamic linker knows them (a shared library, or
//! an executable linked with -rdynamic); otherwise as `module+0xoffset`, for
//! addr2line. Frames inside libmrt that have no exported name are left out, as Go
//! leaves out the runtime's frames; a G that runs on another thread is listed without
//! a stack (it changes under the reader).

use core::fmt::Write;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::g::{GStatus, WaitReason, G};
use super::m::{MKind, MState, M};
use super::note::{Guard, Lock};
use super::stats::{goid_of, mid_of, pid_of};
use super::{arch, time, SCHED};

/// Frames kept per G.
const MAX_FRAMES: usize = 32;

/// How long a dump waits for a lock when it may wait at all.
const LOCK_TRIES: u32 = 200;

/// Whether code addresses are named (dladdr) or printed bare.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Symbols {
    Yes,
    No,
}

/// Text to a file descriptor through a fixed buffer: formatting with `write!` into
/// it neither allocates nor locks.
pub struct FdOut {
    fd: i32,
    buf: [u8; 2048],
    n: usize,
    /// A write failed (the fd is bad or its reader gone): the rest is dropped.
    pub failed: bool,
}

impl FdOut {
    pub fn new(fd: i32) -> FdOut {
        FdOut {
            fd,
            buf: [0; 2048],
            n: 0,
            failed: false,
        }
    }

    pub fn flush(&mut self) {
        let mut b = &self.buf[..self.n];
        while !b.is_empty() && !self.failed {
            // SAFETY: b is a valid slice of our buffer.
            let r = unsafe { libc::write(self.fd, b.as_ptr().cast(), b.len()) };
            if r < 0 {
                // SAFETY: errno right after the failing call.
                if unsafe { *libc::__errno_location() } == libc::EINTR {
                    continue;
                }
                self.failed = true;
            } else if r == 0 {
                self.failed = true;
            } else {
                b = &b[r as usize..];
            }
        }
        self.n = 0;
    }
}

impl Write for FdOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &c in s.as_bytes() {
            if self.n == self.buf.len() {
                self.flush();
            }
            self.buf[self.n] = c;
            self.n += 1;
        }
        if self.failed {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Takes `l`, trying only (see the file comment).
fn take<T>(l: &Lock<T>) -> Option<Guard<'_, T>> {
    let patient = super::note::locks_held() == 0;
    let mut tries = 0;
    loop {
        if let Some(g) = l.try_lock() {
            return Some(g);
        }
        tries += 1;
        if !patient || tries >= LOCK_TRIES {
            return None;
        }
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 500_000,
        };
        // SAFETY: nanosleep is async-signal-safe; a valid timespec.
        unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
    }
}

/// The time-stamp counter's rate against nanotime, measured from the first dump or
/// rt_init (`note_clock`), for wait durations.
static BASE_TICKS: AtomicU64 = AtomicU64::new(0);
static BASE_NS: AtomicI64 = AtomicI64::new(0);

/// Notes a (ticks, nanotime) pair for the rate (rt_init).
pub fn note_clock() {
    if BASE_NS.load(Ordering::Relaxed) == 0 {
        BASE_TICKS.store(arch::ticks(), Ordering::Relaxed);
        BASE_NS.store(time::nanotime(), Ordering::Relaxed);
    }
}

/// Ticks per microsecond (as a ratio ticks/ns, scaled by 1024).
fn ticks_per_ns_x1024() -> u64 {
    note_clock();
    let mut t0 = BASE_TICKS.load(Ordering::Relaxed);
    let mut n0 = BASE_NS.load(Ordering::Relaxed);
    let mut dn = time::nanotime() - n0;
    if dn < 2_000_000 {
        // Too short a base: measure 2 ms here (busy; nanotime is the vDSO).
        t0 = arch::ticks();
        n0 = time::nanotime();
        while time::nanotime() - n0 < 2_000_000 {
            core::hint::spin_loop();
        }
        dn = time::nanotime() - n0;
    }
    let dt = arch::ticks().wrapping_sub(t0);
    ((dt as u128 * 1024) / dn.max(1) as u128).max(1) as u64
}

fn write_duration(out: &mut impl Write, ns: u64) {
    let _ = if ns >= 60_000_000_000 {
        write!(out, "{} minutes", ns / 60_000_000_000)
    } else if ns >= 1_000_000_000 {
        write!(out, "{}.{:03}s", ns / 1_000_000_000, ns / 1_000_000 % 1000)
    } else if ns >= 1_000_000 {
        write!(out, "{}ms", ns / 1_000_000)
    } else {
        write!(out, "{}us", ns / 1000)
    };
}

/// Reads one word of memory that may be unmapped meanwhile (a G's stack).
fn peek(addr: usize) -> Option<usize> {
    let mut v: usize = 0;
    let local = libc::iovec {
        iov_base: (&mut v as *mut usize).cast(),
        iov_len: 8,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: 8,
    };
    // SAFETY: reads 8 bytes of our own address space into `v`; the kernel checks the
    // source and fails with EFAULT rather than faulting.
    let r = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (r == 8).then_some(v)
}

/// Our own load address, to tell libmrt's frames from the host's.
fn own_base() -> usize {
    // SAFETY: dladdr only reads loader data.
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        if libc::dladdr(own_base as *const libc::c_void, &mut info) != 0 {
            return info.dli_fbase as usize;
        }
    }
    0
}

/// Names a code address: "symbol+0xoff", else "module+0xoff", else "?".
fn symbolize(out: &mut impl Write, addr: usize, syms: Symbols) {
    if syms == Symbols::Yes {
        // SAFETY: dladdr only reads loader data; the strings it returns are the
        // loader's and outlive this call.
        unsafe {
            let mut info: libc::Dl_info = core::mem::zeroed();
            if libc::dladdr(addr as *const _, &mut info) != 0 {
                if !info.dli_sname.is_null() {
                    let name = core::ffi::CStr::from_ptr(info.dli_sname).to_bytes();
                    write_bytes(out, name);
                    let _ = write!(out, "+{:#x}", addr - info.dli_saddr as usize);
                    return;
                }
                if !info.dli_fname.is_null() {
                    let path = core::ffi::CStr::from_ptr(info.dli_fname).to_bytes();
                    let base = match path.iter().rposition(|&c| c == b'/') {
                        Some(i) => &path[i + 1..],
                        None => path,
                    };
                    write_bytes(out, if base.is_empty() { b"?" } else { base });
                    let _ = write!(out, "+{:#x}", addr - info.dli_fbase as usize);
                    return;
                }
            }
        }
    }
    let _ = write!(out, "{addr:#x}");
}

/// Whether `addr` is in libmrt and has no exported name (an internal frame).
fn internal(addr: usize, base: usize, syms: Symbols) -> bool {
    if syms == Symbols::No || base == 0 {
        return false;
    }
    // SAFETY: dladdr only reads loader data.
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        libc::dladdr(addr as *const _, &mut info) != 0
            && info.dli_fbase as usize == base
            && info.dli_sname.is_null()
    }
}

/// Bytes (a symbol, a module's path) as text; invalid UTF-8 shows as U+FFFD.
fn write_bytes(out: &mut impl Write, b: &[u8]) {
    for c in b.utf8_chunks() {
        let _ = out.write_str(c.valid());
        if !c.invalid().is_empty() {
            let _ = out.write_str("\u{fffd}");
        }
    }
}

/// A host's label between the double quotes of `name="..."`, escaped as Go's `%q`
/// escapes it so that it stays on its G's one line and inside its quotes: `"` and
/// `\` get a backslash; newline, tab and carriage return are `\n`, `\t`, `\r`; other
/// control characters (DEL included) are `\xNN`; invalid UTF-8 shows as U+FFFD, as in
/// [`write_bytes`]. Allocates nothing (rt_dump may run in a signal handler).
fn write_quoted(out: &mut impl Write, b: &[u8]) {
    for c in b.utf8_chunks() {
        let mut rest = c.valid();
        while !rest.is_empty() {
            // The plain run before the next byte that needs escaping, written at once.
            let cut = rest
                .bytes()
                .position(|x| x < 0x20 || x == 0x7f || x == b'"' || x == b'\\')
                .unwrap_or(rest.len());
            let _ = out.write_str(&rest[..cut]);
            let Some(&x) = rest.as_bytes().get(cut) else {
                break;
            };
            let _ = match x {
                b'"' => out.write_str("\\\""),
                b'\\' => out.write_str("\\\\"),
                b'\n' => out.write_str("\\n"),
                b'\t' => out.write_str("\\t"),
                b'\r' => out.write_str("\\r"),
                _ => write!(out, "\\x{x:02x}"),
            };
            rest = &rest[cut + 1..];
        }
        if !c.invalid().is_empty() {
            let _ = out.write_str("\u{fffd}");
        }
    }
}

/// What the dump keeps of one G.
#[derive(Clone, Copy)]
struct Rec {
    goid: i64,
    status: u32,
    reason: u8,
    /// Ticks it has waited (parked Gs only).
    waited: u64,
    start: usize,
    creator: i64,
    create_pc: usize,
    lockedm: i64,
    name: [u8; super::g::G_NAME_MAX],
    name_len: u8,
    npc: u8,
    /// The stack could not be had (running elsewhere, not started).
    nostack: u8,
    /// Made with RT_G_ASYNC_PREEMPT.
    async_preempt: bool,
    /// libmrt's own frames left out of `pcs` (see the file comment). Not part of
    /// the grouping key: which internal path a park took (through g0, or straight to
    /// the next G) does not split a group.
    hidden: u8,
    pcs: [usize; MAX_FRAMES],
}

impl Rec {
    /// What groups Gs: the same state, reason, start and stack.
    fn key(&self) -> (u32, u8, usize, usize, &[usize]) {
        (
            self.status,
            self.reason,
            self.start,
            self.create_pc,
            &self.pcs[..self.npc as usize],
        )
    }
}

/// Unwinds G `g` from its saved context (or, for the calling G itself, from here)
/// into `pcs`; returns how many frames.
fn unwind(g: &G, pcs: &mut [usize; MAX_FRAMES], own: bool) -> usize {
    let (lo, hi) = (g.stack_lo, g.stack_hi);
    let (mut fp, mut pc);
    if own {
        let f: usize;
        // SAFETY: copies rbp into a register.
        unsafe {
            core::arch::asm!("movq %rbp, {}", out(reg) f, options(att_syntax, nomem, nostack, preserves_flags));
        }
        fp = f;
        pc = match peek(fp + 8) {
            Some(p) => p,
            None => return 0,
        };
        fp = peek(fp).unwrap_or(0);
    } else {
        // The frame mrt_swap pushed: FP control word, r15 .. rbx, rbp, return address.
        let sp = g.sched.sp;
        if sp < lo || sp >= hi {
            return 0;
        }
        fp = match peek(sp + 48) {
            Some(v) => v,
            None => return 0,
        };
        pc = match peek(sp + 56) {
            Some(v) => v,
            None => return 0,
        };
    }
    let preempt = arch::mrt_async_preempt as *const () as usize;
    let preempt_end = arch::mrt_async_preempt_end as *const () as usize;
    let mut n = 0;
    while pc != 0 && n < MAX_FRAMES {
        pcs[n] = pc;
        n += 1;
        if fp < lo || fp + 16 > hi || !fp.is_multiple_of(8) {
            break;
        }
        let (next_fp, next_pc) = if pc >= preempt && pc < preempt_end {
            // The asynchronous preemption frame (asm/x86_64.S): the interrupted
            // instruction is 144 bytes above its frame pointer.
            (peek(fp), peek(fp + 144))
        } else {
            (peek(fp), peek(fp + 8))
        };
        let (Some(nf), Some(np)) = (next_fp, next_pc) else {
            break;
        };
        if nf != 0 && nf <= fp {
            // Frames go up the stack; anything else is not a frame chain.
            pcs[n] = np;
            n += (np != 0 && n < MAX_FRAMES) as usize;
            break;
        }
        fp = nf;
        pc = np;
    }
    n
}

fn record(gp: *mut G, me: *mut G, rate: u64, syms: Symbols, base: usize) -> Option<Rec> {
    // SAFETY: G descriptors live until rt_shutdown, which frees them under the ALLGS
    // lock that the dump holds. Their fields may change while we read them (a torn
    // value garbles one line of the dump, never memory).
    let g = unsafe { &*gp };
    let st = g.status();
    if matches!(st, GStatus::Idle | GStatus::Dead | GStatus::System) {
        return None;
    }
    let (why, stamp) = g.wait_info();
    let parked = matches!(st, GStatus::Waiting | GStatus::HostWaiting);
    let mut r = Rec {
        goid: g.goid,
        status: st as u32,
        reason: if parked { why as u8 } else { 0 },
        waited: if parked {
            ((G::ticks_since(stamp) as u128 * 1024) / rate as u128) as u64
        } else {
            0
        },
        start: g.start_fn(),
        creator: g.creator,
        create_pc: g.create_pc,
        lockedm: mid_of(g.lockedm.load(Ordering::Relaxed)).max(0),
        name: [0; super::g::G_NAME_MAX],
        name_len: 0,
        npc: 0,
        nostack: 0,
        async_preempt: g.async_preempt.load(Ordering::Relaxed),
        hidden: 0,
        pcs: [0; MAX_FRAMES],
    };
    let name = g.name();
    r.name[..name.len()].copy_from_slice(name);
    r.name_len = name.len() as u8;
    let own = gp == me;
    let stable = parked || (st == GStatus::Runnable && g.has_started());
    if own || stable {
        let n = unwind(g, &mut r.pcs, own);
        let mut kept = 0;
        for i in 0..n {
            let pc = r.pcs[i];
            if internal(pc, base, syms) {
                r.hidden += 1;
            } else {
                r.pcs[kept] = pc;
                kept += 1;
            }
        }
        r.pcs[kept..].fill(0);
        r.npc = kept as u8;
    } else {
        r.nostack = 1;
    }
    Some(r)
}

fn status_name(st: u32, reason: u8, own: bool) -> &'static str {
    match st {
        1 => "runnable",
        2 if own => "running (this dump)",
        2 => "running",
        4 => "syscall",
        3 | 7 => {
            let w = WaitReason::from_u8(reason).name();
            if w.is_empty() {
                "waiting"
            } else {
                w
            }
        }
        _ => "?",
    }
}

/// One G's own line (its id, name, wait, creator, wired thread).
fn write_g(out: &mut impl Write, r: &Rec, syms: Symbols, me: i64) {
    let _ = write!(
        out,
        "  goroutine {} [{}",
        r.goid,
        status_name(r.status, r.reason, r.goid == me)
    );
    if r.status == GStatus::Waiting as u32 || r.status == GStatus::HostWaiting as u32 {
        let _ = out.write_str(", ");
        write_duration(out, r.waited);
    }
    if r.lockedm > 0 {
        let _ = write!(out, ", locked to thread M{}", r.lockedm);
    }
    let _ = out.write_str("]");
    if r.async_preempt {
        let _ = out.write_str(" async-preempt");
    }
    if r.name_len > 0 {
        let _ = out.write_str(" name=\"");
        write_quoted(out, &r.name[..r.name_len as usize]);
        let _ = out.write_str("\"");
    }
    if r.creator > 0 {
        let _ = write!(out, " created by goroutine {}", r.creator);
    } else {
        let _ = out.write_str(" created by a thread");
    }
    if r.create_pc != 0 {
        let _ = out.write_str(" at ");
        symbolize(out, r.create_pc, syms);
    }
    let _ = out.write_str("\n");
}

/// A group's shared part: start function and stack.
fn write_stack(out: &mut impl Write, r: &Rec, syms: Symbols) {
    let _ = out.write_str("    start ");
    if r.start != 0 {
        symbolize(out, r.start, syms);
    } else {
        let _ = out.write_str("?");
    }
    let _ = out.write_str("\n");
    if r.nostack != 0 {
        let _ =
            out.write_str("    (stack unavailable: running on another thread, or not started)\n");
        return;
    }
    for (i, &pc) in r.pcs[..r.npc as usize].iter().enumerate() {
        let _ = write!(out, "    #{i:<2} {pc:#014x} ");
        symbolize(out, pc, syms);
        let _ = out.write_str("\n");
    }
    if r.hidden > 0 {
        let _ = writeln!(out, "    ({} libmrt frames not shown)", r.hidden);
    }
}

/// Writes the whole dump to `out`.
pub fn dump(out: &mut FdOut, syms: Symbols) {
    write_ms_ps(out, syms);
    write_gs(out, syms);
    out.flush();
}

/// The runtime's summary line, then one line per P and per M.
fn write_ms_ps(out: &mut FdOut, syms: Symbols) {
    let Some(s) = take(&SCHED) else {
        let _ = out.write_str("libmrt: (Ms and Ps skipped: the sched lock is held)\n");
        return;
    };
    let _ = writeln!(
        out,
        "libmrt: gomaxprocs={} idleprocs={} idlethreads={} running={} g0stack={} gstack={}",
        s.gomaxprocs, s.npidle, s.nmidle, s.running, s.cfg.g0_stack_size, s.cfg.g_stack_size
    );
    let d = |i: usize| super::preempt::DECLINED[i].load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "libmrt: async preemptions={} declined: not-marked={} in-runtime={} pc={} sigmask={} stack={}",
        super::preempt::ASYNC_PREEMPTS.load(Ordering::Relaxed),
        d(0),
        d(1),
        d(2),
        d(3),
        d(4)
    );
    for &pp in &s.allp {
        // SAFETY: Ps in allp are live under the lock.
        let p = unsafe { &*pp };
        let _ = writeln!(
            out,
            "  P{}: status={:?} m={} runq={} schedtick={} syscalltick={}",
            p.id,
            p.status(),
            mid_of(p.m.load(Ordering::Relaxed)),
            p.runq.len(),
            p.schedtick.load(Ordering::Relaxed),
            p.syscalltick.load(Ordering::Relaxed)
        );
    }
    let mut x = s.allm;
    while !x.is_null() {
        // SAFETY: Ms on allm are live under the sched lock.
        let m = unsafe { &*x };
        write_m(out, m, syms);
        x = m.alllink;
    }
}

fn mstate_name(m: &M) -> &'static str {
    if m.kind == MKind::Adopted {
        return "adopted";
    }
    match m.state() {
        MState::Allocated => "allocated",
        MState::Launching => "launching",
        MState::Running => "running",
        MState::Idle => "idle",
        MState::Exited => "exited",
    }
}

fn write_m(out: &mut FdOut, m: &M, syms: Symbols) {
    // SAFETY: a live M's g0 is live.
    let g0 = unsafe { &*m.g0 };
    let _ = writeln!(
        out,
        "  M{}: {}{} tid={} p={} nextp={} curg={} lockedg={} g0=[{:#x},{:#x})",
        m.id,
        mstate_name(m),
        if m.spinning.load(Ordering::Relaxed) {
            " spinning"
        } else {
            ""
        },
        m.procid.load(Ordering::Relaxed),
        pid_of(m.p.load(Ordering::Relaxed)),
        pid_of(m.nextp.load(Ordering::Relaxed)),
        goid_of(m.curg.load(Ordering::Relaxed)),
        goid_of(m.lockedg.load(Ordering::Relaxed)),
        g0.stack_lo,
        g0.stack_hi
    );
    for &a in &m.createstack[..m.ncreatestack] {
        let _ = write!(out, "      created by {a:#x} ");
        symbolize(out, a, syms);
        let _ = out.write_str("\n");
    }
}

/// An anonymous mapping for the records (freed on drop).
struct Scratch {
    p: *mut Rec,
    cap: usize,
}

impl Scratch {
    fn new(cap: usize) -> Option<Scratch> {
        let bytes = cap.checked_mul(core::mem::size_of::<Rec>())?;
        if bytes == 0 {
            return None;
        }
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        (p != libc::MAP_FAILED).then_some(Scratch { p: p.cast(), cap })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: our own mapping, of this size, which no reference outlives.
        unsafe { libc::munmap(self.p.cast(), self.cap * core::mem::size_of::<Rec>()) };
    }
}

/// Every G, grouped by identical stacks.
fn write_gs(out: &mut FdOut, syms: Symbols) {
    let Some(all) = take(&super::g::ALLGS) else {
        let _ = out.write_str("libmrt: (goroutines skipped: the G list is locked)\n");
        return;
    };
    let rate = ticks_per_ns_x1024();
    let base = own_base();
    let me = super::g::curg();
    let megoid = goid_of(me);
    let live = all
        .iter()
        .filter(|gp| {
            // SAFETY: Gs on ALLGS are live while we hold its lock.
            let st = unsafe { (*gp.0).status() };
            !matches!(st, GStatus::Idle | GStatus::Dead | GStatus::System)
        })
        .count();
    let _ = writeln!(out, "goroutine profile: total {live}");
    let Some(sc) = Scratch::new(all.len()) else {
        // No memory for grouping: one G at a time.
        for gp in all.iter() {
            if let Some(r) = record(gp.0, me, rate, syms, base) {
                let _ = out.write_str("1 goroutine:\n");
                write_g(out, &r, syms, megoid);
                write_stack(out, &r, syms);
            }
        }
        return;
    };
    // SAFETY: the mapping holds `cap` records' worth of zeroed bytes, a valid Rec
    // each (plain integers and arrays), and is ours alone until dropped.
    let recs = unsafe { core::slice::from_raw_parts_mut(sc.p, sc.cap) };
    let mut n = 0;
    for gp in all.iter() {
        if n == recs.len() {
            break;
        }
        if let Some(r) = record(gp.0, me, rate, syms, base) {
            recs[n] = r;
            n += 1;
        }
    }
    drop(all);
    let recs = &mut recs[..n];
    // Same stacks together (key order), by id inside a group.
    recs.sort_unstable_by(|a, b| a.key().cmp(&b.key()).then(a.goid.cmp(&b.goid)));
    let mut groups: usize = 0;
    let mut i = 0;
    while i < recs.len() {
        let mut j = i + 1;
        while j < recs.len() && recs[j].key() == recs[i].key() {
            j += 1;
        }
        let _ = writeln!(
            out,
            "{} goroutine{} [{}]:",
            j - i,
            if j - i == 1 { "" } else { "s" },
            status_name(recs[i].status, recs[i].reason, false)
        );
        for r in &recs[i..j] {
            write_g(out, r, syms, megoid);
        }
        write_stack(out, &recs[i], syms);
        groups += 1;
        i = j;
    }
    let _ = writeln!(out, "libmrt: {n} goroutines in {groups} groups");
}
