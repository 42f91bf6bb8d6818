//! sysmon (Go's sysmon): an M without a P that wakes every 20 us (backing off to
//! 10 ms while there is nothing to do, sleeping deeply while every P is idle) and
//! retakes the P of an M that has sat in a system call for more than one tick, so the
//! other Gs keep running.
//!
//! It also gives back the memory of G stack arenas that went unused for a while
//! (`stack::scavenge`, every 100 ms while there is any to give back), and returns the
//! global stack cache's unused stacks to their arenas (`g::stacks_trim`).
//!
//! It also prints `$MRT_SCHEDTRACE` (Go's GODEBUG=schedtrace=<ms>): every <ms> one
//! `SCHED` line on stderr, and with `$MRT_SCHEDDETAIL=1` (scheddetail=1) a line per
//! P, M and G after it.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use super::error::Error;
use super::note::Note;
use super::p::{HeldP, PStatus, ALLP, COUNTERS, GOMAXPROCS, MAX_PROCS, NALLP, NPIDLE};
use super::sched::{handoffp, NMSPINNING};
use super::time::nanotime;
use super::{netpoll, preempt, sched, stack, timer};

static STARTED: AtomicBool = AtomicBool::new(false);
static NOTE: Note = Note::new();
/// sysmon sleeps deeply (until woken) while this is set.
static WAITING: AtomicBool = AtomicBool::new(false);
/// Bumped to stop it (rt_shutdown).
static STOP: AtomicU32 = AtomicU32::new(0);

/// $MRT_SCHEDTRACE's period in ns (0: off), $MRT_SCHEDDETAIL, and the time rt_init
/// read them (the lines count milliseconds from there).
static SCHEDTRACE_NS: AtomicI64 = AtomicI64::new(0);
static SCHEDDETAIL: AtomicBool = AtomicBool::new(false);
static SCHEDTRACE_EPOCH: AtomicI64 = AtomicI64::new(0);

/// rt_init: reads $MRT_SCHEDTRACE and $MRT_SCHEDDETAIL; with a period, starts sysmon
/// now (it prints even before the first G). A value that is not a positive number of
/// milliseconds is refused with a one-line warning.
pub fn configure_schedtrace() {
    SCHEDTRACE_EPOCH.store(nanotime(), Ordering::Relaxed);
    let v = super::env_str(c"MRT_SCHEDTRACE").trim();
    let ms = match v.parse::<i64>() {
        _ if v.is_empty() => 0,
        Ok(ms) if ms > 0 && ms <= 3_600_000 => ms,
        Ok(0) => 0,
        _ => {
            use core::fmt::Write;
            let mut msg = super::TryText::default();
            let _ = writeln!(
                msg,
                "libmrt: MRT_SCHEDTRACE={v:?} ignored: expected a number of milliseconds (1 to 3600000)"
            );
            if let Some(msg) = msg.text() {
                super::write_stderr(msg.as_bytes());
            }
            0
        }
    };
    SCHEDTRACE_NS.store(ms * 1_000_000, Ordering::Relaxed);
    let detail = super::env_str(c"MRT_SCHEDDETAIL").trim() == "1";
    SCHEDDETAIL.store(detail, Ordering::Relaxed);
    if ms > 0 {
        ensure_started();
    }
}

/// Prints the schedtrace lines if they are due at `now`; returns how long until the
/// next ones (i64::MAX: schedtrace is off).
fn schedtrace_tick(next: &mut i64, now: i64) -> i64 {
    let period = SCHEDTRACE_NS.load(Ordering::Relaxed);
    if period <= 0 {
        return i64::MAX;
    }
    if *next == 0 {
        *next = now;
    }
    if now >= *next {
        let epoch = SCHEDTRACE_EPOCH.load(Ordering::Relaxed);
        // Without memory for the text, no lines this time.
        if let Some(text) = super::stats::schedtrace_text(
            (now - epoch) / 1_000_000,
            SCHEDDETAIL.load(Ordering::Relaxed),
        ) {
            super::write_stderr(text.as_bytes());
        }
        *next = now + period;
    }
    *next - now
}

/// Starts sysmon on first use (when the first G is made).
pub fn ensure_started() {
    if STARTED.load(Ordering::Acquire) {
        return;
    }
    // While thread creation backs off, do not try on every rt_go.
    if super::m::newm_backing_off() {
        return;
    }
    start_now();
}

/// Starts sysmon now unless it runs, backoff or not: for a G that nothing else
/// could run (see `sched::newproc1`).
pub fn start_now() {
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    STOP.store(0, Ordering::Release);
    if let Err(e) = super::m::newm(
        Some(sysmon_main),
        ptr::null_mut(),
        ptr::null_mut(),
        super::arch::caller_pc(),
    ) {
        // No thread for it now: try again with a G made after the backoff.
        START_NOMEM.store(e == Error::NoMem, Ordering::Relaxed);
        STARTED.store(false, Ordering::Release);
        super::m::newm_failed();
    }
}

/// Whether sysmon's last start failed for want of memory (else the OS refused the
/// thread): what a G that cannot be run without sysmon is refused with.
static START_NOMEM: AtomicBool = AtomicBool::new(false);

/// Why sysmon is not running after [`ensure_started`] failed (or backs off): the
/// error of its last start.
pub fn start_error() -> Error {
    if START_NOMEM.load(Ordering::Relaxed) {
        Error::NoMem
    } else {
        Error::Again
    }
}

/// Whether sysmon runs (or is starting), so that time slices end by preemption.
pub fn running() -> bool {
    STARTED.load(Ordering::Relaxed)
}

/// Stops sysmon (rt_shutdown): it returns from its loop and its M exits.
pub fn stop() {
    STOP.store(1, Ordering::Release);
    wake();
}

/// After rt_shutdown finished: the next run starts a new sysmon.
pub fn reset() {
    STARTED.store(false, Ordering::Release);
}

fn wake() {
    // Only one waker may wake a note: serialise through WAITING where it matters.
    if !NOTE_ARMED.swap(false, Ordering::AcqRel) {
        return;
    }
    NOTE.wakeup();
}

/// Whether NOTE is armed (cleared and not yet woken).
static NOTE_ARMED: AtomicBool = AtomicBool::new(false);

/// entersyscall, or a P taken from the idle pool: a deep-sleeping sysmon must watch
/// the new system call or the newly busy P (to preempt its Gs).
pub fn wake_if_sleeping() {
    if WAITING.load(Ordering::Acquire) {
        WAITING.store(false, Ordering::Release);
        wake();
    }
}

/// Sleeps until a P leaves the idle pool (`wake_if_sleeping` from pidleget), a
/// system call begins, or `ns` pass. The idle check is repeated under the sched lock
/// and WAITING set there, with the note already armed, so that a P taken from the
/// pool after the check always wakes us (as Go's sysmonwait under sched.lock).
fn deep_sleep(ns: i64) {
    NOTE.clear();
    NOTE_ARMED.store(true, Ordering::Release);
    let still_idle = {
        let _s = super::SCHED.lock();
        let idle = NPIDLE.load(Ordering::Acquire) == GOMAXPROCS.load(Ordering::Acquire)
            && sched::GLOBRUNQ_SIZE.load(Ordering::Acquire) == 0;
        if idle {
            WAITING.store(true, Ordering::Release);
        }
        idle
    };
    if still_idle && STOP.load(Ordering::Acquire) == 0 {
        NOTE.tsleep(ns);
    }
    WAITING.store(false, Ordering::Release);
    if !NOTE_ARMED.swap(false, Ordering::AcqRel) {
        // A waker claimed the note: wait for its wakeup so the note is quiet.
        NOTE.sleep();
    }
}

fn sleep(ns: i64) {
    NOTE.clear();
    NOTE_ARMED.store(true, Ordering::Release);
    if STOP.load(Ordering::Acquire) == 0 {
        NOTE.tsleep(ns);
    }
    if !NOTE_ARMED.swap(false, Ordering::AcqRel) {
        // A waker claimed the note: wait for its wakeup so the note is quiet.
        NOTE.sleep();
    }
}

extern "C" fn sysmon_main(_: *mut c_void) {
    // Started as an M's start function, which runs as the host's code under TSan.
    super::sanitizer::runtime_call(sysmon_loop)
}

fn sysmon_loop() {
    let mut idle = 0u32;
    let mut delay_us = 20i64;
    let mut last = [PWatch::default(); MAX_PROCS as usize];
    let mut signalled = false;
    // The earliest moment a watched P's time slice can run out (0: none is watched).
    let mut slice_end = 0i64;
    let mut next_trace = 0i64;
    let mut next_stack_retry = 0i64;
    let mut next_scavenge = 0i64;
    let mut scavenge_ticks = 0u32;
    while STOP.load(Ordering::Acquire) == 0 {
        let trace_in = schedtrace_tick(&mut next_trace, nanotime());
        delay_us = if idle == 0 {
            20
        } else if idle > 50 {
            (delay_us * 2).min(10_000)
        } else {
            delay_us
        };
        let procs = GOMAXPROCS.load(Ordering::Acquire);
        if procs > 0
            && NPIDLE.load(Ordering::Acquire) == procs
            && sched::GLOBRUNQ_SIZE.load(Ordering::Acquire) == 0
        {
            // Everything idle: sleep until a system call begins, or the next timer
            // is due (the M blocked in netpoll should get it; this is a backstop).
            let next = timer::earliest();
            let mut ns = 1_000_000_000;
            if next != 0 {
                ns = (next - nanotime()).clamp(20_000, ns);
            }
            if super::deadlock::enabled() {
                // RT_CFG_DEADLOCK_DETECT: look, and look again soon while idle.
                super::deadlock::check();
                ns = ns.min(super::deadlock::PERIOD_NS);
            }
            if stack::scavenge_pending() || super::g::stacks_cached() {
                // Stack memory to give back once idle: keep the scavenge ticking.
                // That includes stacks in the global cache, which only the trim
                // below gives back to their arenas (every IDLE_TICKS ticks, twice
                // for a cache left full by a burst): with the idle sleep of up to a
                // second between ticks they stayed resident for 5 to 10 s
                // (t_g_stack_arena under valgrind failed about 1 run in 3).
                ns = ns.min((next_scavenge - nanotime()).max(20_000));
            }
            deep_sleep(ns.min(trace_in.max(20_000)));
            idle = 0;
        } else {
            let mut ns = delay_us * 1000;
            if signalled || slice_end != 0 {
                // A G is running (or a preemption signal went out last round and may
                // have found the G at an unsafe moment, in libc say): look again
                // within SLICE_LAG_NS, and at the moment a slice runs out, rather than
                // after a whole backed-off tick. Otherwise a time slice would last
                // anywhere from 10 to 20 ms, and Gs sharing a P would get unequal
                // shares of it (Go's TestPingPongHog).
                ns = ns.min(SLICE_LAG_NS);
                if slice_end != 0 {
                    ns = ns.min((slice_end - nanotime()).max(20_000));
                }
            }
            sleep(ns.min(trace_in.max(20_000)));
        }
        let now = nanotime();
        // Gs waiting for a stack (see g::stack_wait) look again every 10 ms even if
        // no G exits: a free stack may sit in another P's cache.
        if now >= next_stack_retry {
            next_stack_retry = now + 10_000_000;
            super::g::stack_wait_retry(None);
        }
        // G stack memory unused for a while goes back to the kernel here, off the
        // paths that free stacks (see stack::ARENA_BYTES).
        if now >= next_scavenge {
            next_scavenge = now + stack::SCAVENGE_TICK_NS;
            stack::scavenge();
            scavenge_ticks = scavenge_ticks.wrapping_add(1);
            if scavenge_ticks.is_multiple_of(stack::IDLE_TICKS) {
                // Cached stacks no G took for that long go back to their arenas.
                super::g::stacks_trim();
            }
        }
        // Poll the network if nobody has for 10 ms.
        let lastpoll = netpoll::LASTPOLL.load(Ordering::Acquire);
        if netpoll::inited()
            && lastpoll != 0
            && lastpoll + 10_000_000 < now
            && netpoll::LASTPOLL
                .compare_exchange(lastpoll, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let mut list = super::g::GQueue::new();
            netpoll::netpoll(0, &mut list);
            if !list.is_empty() {
                sched::inject(&mut list, None);
                idle = 0;
            }
        }
        // Timers overdue while every M is busy or parked: get an M to run them.
        let next = timer::earliest();
        if next != 0 && next < now {
            sched::wakep_global();
        } else if sched::GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0
            && NPIDLE.load(Ordering::Acquire) > 0
            && !super::m::newm_backing_off()
        {
            // Gs queued with Ps idle: the wakep that queued them found no M it could
            // start (thread creation failed and backed off). Try again now that the
            // backoff is over, or they might wait for the next rt_go.
            sched::wakep_global();
        }
        let (n, sent, end) = retake(&mut last);
        signalled = sent;
        slice_end = end;
        if n > 0 {
            idle = 0;
        } else {
            idle += 1;
        }
    }
}

/// A time slice: a G that has kept its P this long without the P's schedule tick
/// moving is asked to give it up (Go's forcePreemptNS).
const FORCE_PREEMPT_NS: i64 = 10_000_000;
/// While a P runs Gs and others wait, sysmon looks at it at least this often, so
/// that a time slice starts being measured at most this late (Go's sysmon may back
/// off to 10 ms here).
const SLICE_LAG_NS: i64 = 1_000_000;

/// What sysmon last saw of one P (Go's sysmontick).
#[derive(Clone, Copy, Default)]
struct PWatch {
    schedtick: u32,
    schedwhen: i64,
    syscalltick: u32,
    syscallwhen: i64,
}

/// Go's retake: asks a G that has run a whole time slice to give up its P, and hands
/// off Ps whose M has been in a system call since the last tick, or whose time slice
/// ran out inside a stream of short system calls. Returns how many Ps were handed off,
/// whether a preemption signal was sent, and when the earliest time slice still being
/// watched runs out (0: none).
///
/// Ps beyond gomaxprocs that an M still runs (a shrink passed them) are watched too,
/// their time slice over at once: the P is to die when its G gives it up, and until
/// then its queued Gs are nobody else's (no thief looks beyond gomaxprocs). Before,
/// a G that kept such a P kept its queue from running for as long as it computed
/// (t_shrink_past_running_p_preempts), and a G entering a system call on one kept
/// it for as long as the call.
fn retake(last: &mut [PWatch]) -> (u32, bool, i64) {
    let now = nanotime();
    let mut n = 0;
    let mut sent = false;
    let mut slice_end = 0i64;
    let procs = GOMAXPROCS.load(Ordering::Acquire);
    let nallp = NALLP.load(Ordering::Acquire).clamp(procs.max(0), MAX_PROCS);
    for i in 0..nallp as usize {
        let pp = ALLP[i].load(Ordering::Acquire);
        if pp.is_null() {
            continue;
        }
        let surplus = i as i32 >= procs;
        // SAFETY: Ps in ALLP live until shutdown, which stops sysmon first.
        let p = unsafe { &*pp };
        let w = &mut last[i];
        let status = p.status();
        let mut slice_over = false;
        if status == PStatus::Running || status == PStatus::Syscall {
            let t = p.schedtick.load(Ordering::Acquire);
            if w.schedtick != t {
                w.schedtick = t;
                w.schedwhen = now;
            }
            let end = w.schedwhen + FORCE_PREEMPT_NS;
            if end > now && !surplus {
                // Watched closely only while other Gs wait for a P (a G alone gets
                // preempted all the same, only less punctually, and sysmon stays
                // asleep for longer: it costs the G's CPU nothing then).
                if !p.runq.is_empty() || sched::GLOBRUNQ_SIZE.load(Ordering::Relaxed) > 0 {
                    slice_end = if slice_end == 0 {
                        end
                    } else {
                        slice_end.min(end)
                    };
                }
            } else {
                if status == PStatus::Running {
                    sent |= preemptone(pp);
                }
                // In a system call: the slice is over however often the count moves.
                slice_over = true;
            }
        }
        if status != PStatus::Syscall {
            continue;
        }
        let t = p.syscalltick.load(Ordering::Acquire);
        if !slice_over && w.syscalltick != t {
            w.syscalltick = t;
            w.syscallwhen = now;
            continue;
        }
        // Nothing else to run and others around to look: leave it for 10 ms.
        if !slice_over
            && p.runq.is_empty()
            && NMSPINNING.load(Ordering::SeqCst) + NPIDLE.load(Ordering::SeqCst) > 0
            && w.syscallwhen + 10_000_000 > now
        {
            continue;
        }
        if p.status
            .compare_exchange(
                PStatus::Syscall as u32,
                PStatus::Reserved as u32,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            COUNTERS.handoffs.fetch_add(1, Ordering::Relaxed);
            super::trace::handoff(p.id);
            // SAFETY: we won the CAS out of Syscall: the P is ours.
            handoffp(unsafe { HeldP::from_raw(pp) });
            n += 1;
        }
    }
    (n, sent, slice_end)
}

/// Go's preemptone: marks the G that runs on `pp` for preemption; it gives up the P
/// at its next checkpoint, or at once by signal if it opted in (`preempt.rs`).
/// Returns whether a signal was sent. Under the sched lock, so that the M read from the P
/// cannot exit and be freed meanwhile (an M leaves allm only under that lock, and
/// only after giving up its P).
fn preemptone(pp: *mut super::p::P) -> bool {
    let s = super::SCHED.lock();
    // SAFETY: Ps in ALLP live until shutdown, which stops sysmon first.
    let p = unsafe { &*pp };
    if p.status() != PStatus::Running {
        return false;
    }
    let mp = p.m.load(Ordering::Acquire);
    let mut m = s.allm;
    while !m.is_null() && m != mp {
        // SAFETY: Ms on allm are live while we hold the sched lock.
        m = unsafe { (*m).alllink };
    }
    if m.is_null() {
        return false;
    }
    // SAFETY: `m` is on allm, so live while we hold the lock; a G descriptor lives
    // until rt_shutdown. The G may have switched out since: then the request waits
    // for its next run, which clears it (benign, as in Go).
    unsafe {
        let gp = (*m).curg.load(Ordering::Acquire);
        if gp.is_null() {
            return false;
        }
        (*gp).preempt.store(true, Ordering::Relaxed);
        super::trace::preempt_request(p.id, gp, (*gp).async_preempt.load(Ordering::Relaxed));
        // A G that opted in is also interrupted by signal (Go's preemptM), at most one
        // signal in flight per M: the handler takes the pending mark. Its thread is
        // alive while the M is on allm (an M leaves allm before its thread exits).
        let sig = preempt::active_signal();
        if sig > 0
            && (*gp).async_preempt.load(Ordering::Relaxed)
            && !(*m).preempt_sig_pending.swap(true, Ordering::AcqRel)
        {
            let tid = (*m).procid.load(Ordering::Acquire);
            if tid == 0
                || libc::syscall(libc::SYS_tgkill, preempt::pid(), tid as libc::pid_t, sig) != 0
            {
                (*m).preempt_sig_pending.store(false, Ordering::Release);
                return false;
            }
            return true;
        }
        false
    }
}
