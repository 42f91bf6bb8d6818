//! Observability: the rt_getstats snapshot and the schedtrace text (rt_dump is `dump.rs`).

use core::sync::atomic::Ordering;

use super::g::{GStatus, G};
use super::m::{MKind, MState, M};
use super::p::{total, P};
use super::{Sched, SCHED};

/// Whether an M counts as a live thread.
fn is_thread(m: &M) -> bool {
    m.kind == MKind::Adopted
        || matches!(
            m.state(),
            MState::Launching | MState::Running | MState::Idle
        )
}

fn each_m(s: &Sched, mut f: impl FnMut(&M)) {
    let mut x = s.allm;
    while !x.is_null() {
        // SAFETY: Ms on allm are live under the sched lock.
        let m = unsafe { &*x };
        f(m);
        x = m.alllink;
    }
}

/// A snapshot of the scheduler (what rt_getstats reports; see rt_stats in mrt.h for
/// each field).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub maxprocs: i32,
    pub idle_procs: i32,
    pub threads: i64,
    pub idle_threads: i64,
    pub spinning_threads: i64,
    pub goroutines: i64,
    pub runnable: i64,
    pub global_runq: i64,
    pub gs_created: u64,
    pub gs_exited: u64,
    pub switches: u64,
    pub steals: u64,
    pub parks: u64,
    pub handoffs: u64,
    pub stack_reserved_bytes: u64,
    pub stack_resident_bytes: u64,
}

/// A snapshot of the scheduler (rt_getstats; rt_getstats_ex with `exact` counts the
/// resident stack pages with mincore).
///
/// The scheduler lock is held only for the few fields it guards and the walk of allm
/// (one entry per M): everything else is counters read without it, so that the cost
/// under the lock does not grow with the number of Gs. The exact stack count runs
/// after the lock is released.
pub fn snapshot(exact: bool) -> Stats {
    let (maxprocs, idle_procs, idle_threads, threads) = {
        let s = SCHED.lock();
        let mut threads = 0;
        each_m(&s, |m| threads += is_thread(m) as i64);
        (s.gomaxprocs, s.npidle, s.nmidle as i64, threads)
    };
    let created = total(|c| &c.gs_created);
    let exited = total(|c| &c.gs_exited);
    let (runnable, global_runq) = super::sched::runnable_counts();
    // Resident before reserved: a stack is reserved before any of it counts as
    // touched, and stops counting as touched before it stops being reserved, so the
    // estimate read first never exceeds the reservation read after it.
    let stack_resident_bytes = super::g::stack_resident_bytes(exact);
    let stack_reserved_bytes = super::g::stack_reserved_bytes();
    Stats {
        maxprocs,
        idle_procs,
        threads,
        idle_threads,
        spinning_threads: super::sched::NMSPINNING.load(Ordering::Relaxed) as i64,
        goroutines: super::g::live_gs(),
        runnable,
        global_runq,
        gs_created: created,
        gs_exited: exited,
        switches: total(|c| &c.switches),
        steals: total(|c| &c.steals),
        parks: total(|c| &c.parks),
        handoffs: total(|c| &c.handoffs),
        stack_reserved_bytes,
        stack_resident_bytes,
    }
}

pub(crate) fn pid_of(pp: *mut P) -> i32 {
    if pp.is_null() {
        -1
    } else {
        // SAFETY: a P held by a live M is live.
        unsafe { (*pp).id }
    }
}

pub(crate) fn mid_of(m: *mut M) -> i64 {
    if m.is_null() {
        -1
    } else {
        // SAFETY: an M that runs a P or a G is live.
        unsafe { (*m).id }
    }
}

pub(crate) fn goid_of(gp: *mut G) -> i64 {
    if gp.is_null() {
        0
    } else {
        // SAFETY: Gs live until shutdown (they are only ever cached, never freed).
        unsafe { (*gp).goid }
    }
}

/// Go's status numbers (runtime2.go) for the schedtrace detail lines.
fn go_pstatus(p: &P) -> u32 {
    use super::p::PStatus;
    match p.status() {
        PStatus::Idle | PStatus::Held => 0,
        PStatus::Running | PStatus::Reserved => 1,
        PStatus::Syscall => 2,
        PStatus::Dead => 4,
    }
}

fn go_gstatus(st: GStatus) -> u32 {
    match st {
        GStatus::Idle => 0,
        GStatus::Runnable => 1,
        GStatus::Running | GStatus::System => 2,
        GStatus::Syscall => 3,
        GStatus::Waiting | GStatus::HostWaiting => 4,
        GStatus::Dead => 6,
    }
}

/// The `$MRT_SCHEDTRACE` text (sysmon prints it): Go's SCHED line, `ms` after
/// rt_init, and with `detail` ($MRT_SCHEDDETAIL=1) one line per P, M and live G in
/// Go's scheddetail format (status numbers as runtime2.go's).
/// None if there was no memory for the text (the lines are then skipped).
pub fn schedtrace_text(ms: i64, detail: bool) -> Option<String> {
    use std::fmt::Write;
    let mut out = super::TryText::default();
    let s = SCHED.lock();
    let mut threads = 0i64;
    each_m(&s, |m| threads += is_thread(m) as i64);
    let global = super::sched::GLOBRUNQ_SIZE.load(Ordering::Relaxed);
    let _ = write!(
        out,
        "SCHED {ms}ms: gomaxprocs={} idleprocs={} threads={threads} spinningthreads={} idlethreads={} runqueue={global}",
        s.gomaxprocs,
        s.npidle,
        super::sched::NMSPINNING.load(Ordering::Relaxed),
        s.nmidle,
    );
    if detail {
        let _ = writeln!(out, " stopping={}", s.stopping);
        for &pp in &s.allp {
            // SAFETY: Ps in allp are live under the lock.
            let p = unsafe { &*pp };
            let timers = p.timers.heap.try_lock().map_or(-1, |h| h.len() as i64);
            let _ = writeln!(
                out,
                "  P{}: status={} schedtick={} syscalltick={} m={} runqsize={} timerslen={}",
                p.id,
                go_pstatus(p),
                p.schedtick.load(Ordering::Relaxed),
                p.syscalltick.load(Ordering::Relaxed),
                mid_of(p.m.load(Ordering::Relaxed)),
                p.runq.len(),
                timers
            );
        }
        each_m(&s, |m| {
            let curg = m.curg.load(Ordering::Relaxed);
            let lockedg = m.lockedg.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "  M{}: p={} curg={} spinning={} blocked={} lockedg={}",
                m.id,
                pid_of(m.p.load(Ordering::Relaxed)),
                if curg.is_null() { -1 } else { goid_of(curg) },
                m.spinning.load(Ordering::Relaxed),
                m.state() == MState::Idle,
                if lockedg.is_null() {
                    -1
                } else {
                    goid_of(lockedg)
                },
            );
        });
        drop(s);
        let all = super::g::ALLGS.lock();
        for gp in all.iter() {
            // SAFETY: Gs on ALLGS live until shutdown.
            let g = unsafe { &*gp.0 };
            let st = g.status();
            if st == GStatus::Idle || st == GStatus::System {
                continue;
            }
            let lm = g.lockedm.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "  G{}: status={}({:?}) m={} lockedm={}",
                g.goid,
                go_gstatus(st),
                st,
                mid_of(g.m),
                mid_of(lm),
            );
        }
    } else {
        let _ = out.write_str(" [");
        for (i, &pp) in s.allp.iter().enumerate() {
            // SAFETY: Ps in allp are live under the lock.
            let n = unsafe { (*pp).runq.len() };
            let _ = write!(out, "{}{n}", if i > 0 { " " } else { "" });
        }
        let _ = out.write_str("]\n");
    }
    out.text()
}
