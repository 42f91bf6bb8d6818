//! Observability: the rt_getstats snapshot (rt_dump is `dump.rs`).

use core::sync::atomic::Ordering;

use super::g::G;
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
