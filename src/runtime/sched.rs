//! The scheduler loop of an M (Go's schedule/findRunnable/stopm/startm).
//!
//! # Worker parking, so far
//! An M runs Gs while it holds a P. When it finds nothing to run it gives its P back
//! to the idle pool and parks on its own note, on the idle-M list (`stopm`). Whoever
//! has work for it (`startm`) takes it off the list under the sched lock, sets its
//! `nextp` and wakes the note; the M then acquires that P and schedules again.
//! Because the waker removes the M from the list before waking it, every wakeup is
//! for exactly one M and no M is woken twice. An M idle for more than
//! [`IDLE_M_RETIRE_NS`] takes itself off the list and exits (a waker that took it
//! first wins; the M then waits for that wakeup).
//!
//! rt_shutdown sets `stopping`, wakes every idle M with no nextp, and each M leaves
//! its loop and exits through mexit.
//!
//! Gs and run queues are not built yet: `find_runnable` has nothing to return, so an
//! M with a P immediately parks again. The loop is shaped so that the G scheduler
//! fills in `find_runnable` and `execute` without changing the parking protocol.

use core::ptr;
use core::sync::atomic::Ordering;

use super::m::{MKind, MState, M};
use super::p::{self, P};
use super::{tls, SCHED};
use crate::ffi::consts::{RT_SCHED_FOREVER, RT_SCHED_ONCE};
use crate::ffi::errors::*;

/// An idle runtime-created M exits after this long without work (API.md: 60 s).
pub(crate) const IDLE_M_RETIRE_NS: i64 = 60_000_000_000;

/// A runnable G, once Gs exist.
pub enum Work {}

/// Go's findRunnable, non-blocking part: local queue, global queue, stealing.
fn find_runnable(_m: &M, _pp: *mut P) -> Option<Work> {
    None
}

fn execute(_m: &M, w: Work) {
    match w {}
}

/// Runs Gs on the M's P until none is left; returns how many ran. The M keeps its P.
fn schedule_once(m: &M) -> i32 {
    let mut ran = 0;
    loop {
        let pp = m.p.load(Ordering::Acquire);
        if pp.is_null() {
            return ran;
        }
        match find_runnable(m, pp) {
            Some(w) => {
                execute(m, w);
                ran += 1;
            }
            None => return ran,
        }
    }
}

/// The loop of an M after its start function: take nextp, schedule, give the P back
/// when there is no work, park; until shutdown or retirement.
pub fn mloop(m: *mut M) {
    // SAFETY: called on m's own thread.
    let mm = unsafe { &*m };
    loop {
        let np = mm.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
        if !np.is_null() {
            if mm.p.load(Ordering::Relaxed).is_null() {
                p::acquire_nextp(mm, np);
            } else {
                // The start function acquired a P of its own: keep that one.
                let mut s = SCHED.lock();
                p::release_to_pool(&mut s, np);
            }
        }
        if !mm.p.load(Ordering::Relaxed).is_null() {
            schedule_once(mm);
            p::releasep_to_pool(mm);
        }
        if !stopm(mm) {
            return;
        }
    }
}

/// Go's stopm: park on the idle-M list until startm hands over a P (true) or the
/// runtime stops or the M retires (false).
pub fn stopm(m: &M) -> bool {
    {
        let mut s = SCHED.lock();
        if !s.running || s.stopping {
            return false;
        }
        m.set_state(MState::Idle);
        let mp = m as *const M as *mut M;
        // SAFETY: m is live and on no idle list.
        unsafe { (*mp).schedlink = s.midle };
        s.midle = mp;
        s.nmidle += 1;
    }
    let woken = if m.kind == MKind::Runtime {
        m.park.tsleep(IDLE_M_RETIRE_NS)
    } else {
        m.park.sleep();
        true
    };
    if !woken {
        let mut s = SCHED.lock();
        if m.state() == MState::Idle && midle_remove(&mut s, m) {
            m.set_state(MState::Running);
            return false;
        }
        drop(s);
        // A waker took us off the list first: its wakeup is on the way.
        m.park.sleep();
    }
    m.park.clear();
    !m.nextp.load(Ordering::Acquire).is_null()
}

fn midle_remove(s: &mut super::Sched, m: &M) -> bool {
    let mut link: *mut *mut M = &mut s.midle;
    // SAFETY: walking live Ms on the idle list under the lock.
    unsafe {
        while !(*link).is_null() {
            if ptr::eq(*link, m) {
                *link = m.schedlink;
                s.nmidle -= 1;
                return true;
            }
            link = &mut (**link).schedlink;
        }
    }
    false
}

/// Takes an M off the idle list and wakes it with `nextp` (null: to exit).
/// Must be called with the sched lock held (through `s`).
pub fn mwake(s: &mut super::Sched, nextp: *mut P) -> bool {
    let m = s.midle;
    if m.is_null() {
        return false;
    }
    // SAFETY: Ms on the idle list are live and parked.
    let mm = unsafe { &*m };
    s.midle = mm.schedlink;
    s.nmidle -= 1;
    mm.nextp.store(nextp, Ordering::Release);
    mm.set_state(MState::Running);
    mm.park.wakeup();
    true
}

/// Wakes every idle M so that it exits (rt_shutdown).
pub fn wake_all_idle(s: &mut super::Sched) {
    while mwake(s, ptr::null_mut()) {}
}

/// rt_schedule: run the scheduler on the calling M with its P.
pub fn rt_schedule(flags: i32) -> Result<i32> {
    let m = tls::getm();
    if m.is_null() {
        return Err(RT_EINVAL);
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    if !mm.curg.load(Ordering::Relaxed).is_null() {
        return Err(RT_EPERM);
    }
    if mm.p.load(Ordering::Relaxed).is_null() {
        return Err(RT_EINVAL);
    }
    match flags {
        RT_SCHED_ONCE => Ok(schedule_once(mm)),
        RT_SCHED_FOREVER => {
            let mut ran = 0;
            loop {
                if mm.p.load(Ordering::Relaxed).is_null() {
                    let np = mm.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
                    if !np.is_null() {
                        p::acquire_nextp(mm, np);
                    }
                }
                if !mm.p.load(Ordering::Relaxed).is_null() {
                    ran += schedule_once(mm);
                    p::releasep_to_pool(mm);
                }
                if !stopm(mm) {
                    return Ok(ran);
                }
            }
        }
        _ => Err(RT_EINVAL),
    }
}
