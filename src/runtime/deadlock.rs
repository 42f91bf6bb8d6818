//! Deadlock detection (RT_CFG_DEADLOCK_DETECT, opt-in): Go's checkdead, "all
//! goroutines are asleep - deadlock!", for a library that other threads may call.
//!
//! Go turns the check off in c-shared mode because a host thread may wake a G at any
//! time. libmrt keeps it, but reports only when no thread exists that could: sysmon,
//! finding every P idle, looks (under the sched lock) for this state:
//! - every P idle and the global run queue empty (no G runnable or running);
//! - no timer pending on any P (a sleep, a select or poll timeout would wake a G)
//!   and no G waiting on an fd (the netpoller could);
//! - every thread of the process, counted by the kernel (/proc/self/stat), is either
//!   sysmon itself, an M parked on the idle list, or an M parked in stoplockedm for
//!   its wired G that waits. So no G is in a system call (its M would be running),
//!   no M runs a host's start function, and no foreign thread exists at all: not one
//!   blocked in a libmrt call (rt_chan_send from a plain thread), nor one that might
//!   call rt_chan_send, rt_wg_done or rt_ready later. A host with any thread of its
//!   own (a logger, a Python helper thread) therefore never gets a report.
//! - at least one G is alive; every G alive is parked (Waiting or HostWaiting).
//!
//! Gs parked with rt_park (HostWaiting) count as asleep: only rt_ready wakes them,
//! and the state above has no thread left to call it (their park callback has run).
//! A signal handler that calls rt_ready or a channel operation could, and is not
//! seen: hosts that do that should not enable the check.
//!
//! No thread can leave that state by itself (idle Ms are woken only by a running
//! thread, a timer or the poller), so once seen it is final: sysmon prints the message
//! and the dump to stderr, and if rt_main waits for its G, rt_main returns
//! RT_EDEADLK; that G stays parked (it is forgotten by rt_main). The check runs only
//! with the flag, at most every 10 ms while everything is idle, and reports a given
//! deadlock once.

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use super::g::GStatus;
use super::m::{MState, M};
use super::p::{total, GOMAXPROCS, NPIDLE};
use super::{netpoll, sched, timer, SCHED};

static ENABLED: AtomicBool = AtomicBool::new(false);
/// The M of the rt_main whose G was found deadlocked, for rt_main to see.
static DEADLOCKED: AtomicPtr<M> = AtomicPtr::new(core::ptr::null_mut());
/// The switch count at the last report (one report per deadlock).
static REPORTED_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// How often sysmon looks while everything is idle and the check is on.
pub(crate) const PERIOD_NS: i64 = 10_000_000;

/// rt_init: whether the host asked for the check.
pub fn configure(on: bool) {
    ENABLED.store(on, Ordering::Release);
    DEADLOCKED.store(core::ptr::null_mut(), Ordering::Release);
    REPORTED_AT.store(u64::MAX, Ordering::Release);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

/// rt_main, once its scheduler loop ended: whether it ended because its G was found
/// deadlocked.
pub fn take(m: *mut M) -> bool {
    DEADLOCKED
        .compare_exchange(
            m,
            core::ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// Whether `m` is the M of an rt_main whose G was found deadlocked (stoplockedm,
/// where the M of a wired main G waits, gives up on it).
pub fn is_deadlocked(m: &M) -> bool {
    core::ptr::eq(DEADLOCKED.load(Ordering::Acquire), m)
}

/// The number of threads in the process, from /proc/self/stat (field 20), read
/// without allocating. None if it cannot be read (then no report is ever made).
fn process_threads() -> Option<i64> {
    let mut buf = [0u8; 1024];
    // SAFETY: a NUL-terminated path; a fresh fd, read into our buffer and closed.
    let n = unsafe {
        let fd = libc::open(
            c"/proc/self/stat".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    if n <= 0 {
        return None;
    }
    let text = &buf[..n as usize];
    // The command name (field 2) is in parentheses and may hold anything: count
    // fields from the last ')'. Field 3 (state) follows it.
    let close = text.iter().rposition(|&c| c == b')')?;
    let rest = core::str::from_utf8(&text[close + 1..]).ok()?;
    rest.split_ascii_whitespace().nth(20 - 3)?.parse().ok()
}

/// Run by sysmon when every P looked idle. Reports and returns true if the runtime
/// is deadlocked (see the file comment).
pub fn check() -> bool {
    if !enabled() {
        return false;
    }
    let quiet = || {
        timer::earliest() == 0
            && !(netpoll::inited() && netpoll::WAITERS.load(Ordering::Acquire) > 0)
            && sched::GLOBRUNQ_SIZE.load(Ordering::Acquire) == 0
    };
    if !quiet() {
        return false;
    }
    let switches = total(|c| &c.switches);
    if REPORTED_AT.load(Ordering::Acquire) == switches {
        return false;
    }
    {
        let s = SCHED.lock();
        if !s.running || s.stopping {
            return false;
        }
        let procs = GOMAXPROCS.load(Ordering::Acquire);
        if procs <= 0 || NPIDLE.load(Ordering::Acquire) != procs || s.npidle != procs {
            return false;
        }
        // Ms asleep for good: on the idle list, or waiting for a wired G that waits.
        let mut asleep = s.nmidle as i64;
        let mut x = s.allm;
        while !x.is_null() {
            // SAFETY: Ms on allm are live under the sched lock.
            let m = unsafe { &*x };
            let lg = m.lockedg.load(Ordering::Acquire);
            if !lg.is_null()
                && m.state() == MState::Running
                && m.p.load(Ordering::Acquire).is_null()
                && m.curg.load(Ordering::Acquire).is_null()
                // SAFETY: a wired G is live while its M is.
                && matches!(
                    unsafe { (*lg).status() },
                    GStatus::Waiting | GStatus::HostWaiting
                )
            {
                asleep += 1;
            }
            x = m.alllink;
        }
        // Every thread but sysmon (this one) must be one of those. Read under the
        // lock: no M can leave the idle list meanwhile.
        match process_threads() {
            Some(t) if t == asleep + 1 => {}
            _ => return false,
        }
        if !quiet() {
            return false;
        }
    }
    // From here nothing can run: no thread is left to change the state.
    let mut mainm: *mut M = core::ptr::null_mut();
    let mut alive = 0;
    {
        let Some(all) = super::g::ALLGS.try_lock() else {
            return false;
        };
        for gp in all.iter() {
            // SAFETY: Gs on ALLGS live while we hold its lock.
            let g = unsafe { &mut *gp.0 };
            match g.status() {
                GStatus::Idle | GStatus::Dead | GStatus::System => {}
                GStatus::Waiting | GStatus::HostWaiting => {
                    alive += 1;
                    if !g.mainm.is_null() {
                        // rt_main gives up on it: if it ever woke and exited, it must
                        // not end a later rt_main of that thread.
                        mainm = core::mem::replace(&mut g.mainm, core::ptr::null_mut());
                    }
                }
                _ => return false,
            }
        }
    }
    if alive == 0 {
        return false;
    }
    REPORTED_AT.store(switches, Ordering::Release);
    // A broken stderr loses the report, never kills the host (see NoSigpipe).
    let nopipe = super::signal::NoSigpipe::new();
    super::write_stderr(b"libmrt: all goroutines are asleep - deadlock!\n\n");
    super::dump::dump(&mut super::dump::FdOut::new(2), super::dump::Symbols::Yes);
    drop(nopipe);
    if !mainm.is_null() {
        DEADLOCKED.store(mainm, Ordering::Release);
        sched::main_deadlocked(mainm);
    }
    true
}
