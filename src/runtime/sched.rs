//! The scheduler (Go's proc.go): schedule, findRunnable, execute, the global queue,
//! stealing, spinning Ms, wakep/startm/stopm/handoffp, locked Gs, rt_main and
//! rt_schedule.
//!
//! # Vocabulary
//! An M runs Gs only while it holds a P. Each P has a local run queue (`runq.rs`) and
//! a runnext slot; a global queue takes what does not fit and what foreign threads
//! submit. An M with a P and nothing to run looks in the global queue, then steals
//! half of another P's queue; failing that it gives its P back to the idle pool and
//! parks on its note (stopm).
//!
//! # Worker parking (the protocol of proc.go)
//! We want enough running Ms to use the Ps, but we do not want to wake an M for every
//! new G, nor park Ms eagerly only to wake them again. Designs that fail:
//! 1. Keep all scheduler state in one place (the global queue, under one lock): every
//!    spawn and every steal then contends on one lock.
//! 2. Hand a new G straight to an idle P and wake an M for it on every spawn: threads
//!    thrash, since the spawner would often have run the G itself a moment later.
//! 3. Wake an M on spawn only when there is an idle P and nobody is *already*
//!    waking, but without a spinning state: an M that finds nothing may park at the
//!    very moment work arrives, and nobody is woken for it.
//!
//! What we do: an M that looks for work holds the "spinning" state (counted in
//! `NMSPINNING`). New work wakes an M only if there is an idle P and no spinning M
//! (`wakep`). A spinning M that finds work leaves the state and, if it was the last
//! spinner, wakes another one (`resetspinning`), so bursts fan out one M at a time.
//! A spinning M that finds nothing first decrements `NMSPINNING` and then re-checks
//! every run queue before it parks. The submitter does the mirror image: it publishes
//! the work and then reads `NMSPINNING`. Both sides have a store followed by a load
//! (#StoreLoad); with a full fence between them on each side, at least one of the two
//! sees the other: either the submitter sees a spinner (who then finds the work), or
//! the parking M sees the work. The decisions of both sides live in `spinning.rs`,
//! whose `loom_wakeup_is_never_lost` model-checks them.
//!
//! Spinning Ms are bounded by busy Ps: an M starts spinning only if
//! 2 * spinning < gomaxprocs - idle Ps.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crossbeam_queue::SegQueue;
use once_cell::sync::Lazy;

use super::atomic::StaticAtomicI32;
use super::g::{self, gdestroy, switch_to, Action, GPtr, GStatus, G};
use super::m::{MKind, MState, M};
use super::p::{self, PStatus, ALLP, GOMAXPROCS, NPIDLE, P};
use super::spinning::Spinning;
use super::stats::{bump, total};
use super::time::nanotime;
use super::{netpoll, timer, tls, Sched, SCHED};
use crate::ffi::consts::{RT_SCHED_FOREVER, RT_SCHED_ONCE};
use crate::ffi::errors::*;

/// An idle runtime-created M exits after this long without work (API.md: 60 s).
pub(crate) const IDLE_M_RETIRE_NS: i64 = 60_000_000_000;

/// Ms spinning for work (Go's sched.nmspinning).
pub static NMSPINNING: StaticAtomicI32 = StaticAtomicI32::new(0);

/// The spinning-M protocol over the scheduler's counters (see spinning.rs).
fn spin() -> Spinning<'static> {
    Spinning {
        nmspinning: &NMSPINNING,
        npidle: &NPIDLE,
    }
}

/// The global run queue and its length (Go's sched.runq / runqsize).
static GLOBRUNQ: Lazy<SegQueue<GPtr>> = Lazy::new(SegQueue::new);
pub static GLOBRUNQ_SIZE: AtomicI64 = AtomicI64::new(0);

/// MRT_DEBUG=migrate: every yield moves the G to the global queue, so that another M
/// resumes it where one can.
pub static DEBUG_MIGRATE: AtomicBool = AtomicBool::new(false);

/// Puts a G on the global queue.
pub fn globrunqput(gp: *mut G) {
    GLOBRUNQ.push(GPtr(gp));
    GLOBRUNQ_SIZE.fetch_add(1, Ordering::AcqRel);
}

/// Go's globrunqget: takes a fair share of the global queue into `pp`'s local queue
/// and returns one G. `max` 0 means no limit beyond the fair share.
///
/// # Safety
/// The caller holds `pp`.
unsafe fn globrunqget(pp: *mut P, max: i64) -> Option<*mut G> {
    let size = GLOBRUNQ_SIZE.load(Ordering::Acquire);
    if size <= 0 {
        return None;
    }
    if DEBUG_MIGRATE.load(Ordering::Relaxed) {
        return globrunqget_migrating(size);
    }
    let procs = GOMAXPROCS.load(Ordering::Relaxed).max(1) as i64;
    let mut n = (size / procs + 1).min(size);
    if max > 0 {
        n = n.min(max);
    }
    n = n.min((p::RUNQ_SIZE / 2) as i64);
    let first = GLOBRUNQ.pop()?;
    GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
    for _ in 1..n {
        match GLOBRUNQ.pop() {
            Some(GPtr(gp)) => {
                GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
                // SAFETY: the caller holds pp.
                unsafe { runqput(pp, gp, false) };
            }
            None => break,
        }
    }
    Some(first.0)
}

/// MRT_DEBUG=migrate: one G at a time, preferring one that did not last yield on
/// this M (the others go back to the tail, for another M to take), so that yields
/// move Gs between threads wherever another M is around to take them. If every
/// queued G last ran here, the oldest is taken anyway rather than parking the M.
fn globrunqget_migrating(size: i64) -> Option<*mut G> {
    let me = tls::getm();
    let others = GOMAXPROCS.load(Ordering::Relaxed) > 1;
    let mut first_own: Option<*mut G> = None;
    for _ in 0..size.min(64) {
        let Some(GPtr(gp)) = GLOBRUNQ.pop() else {
            break;
        };
        // SAFETY: a queued G is live; its avoid_m is written only by the M that
        // queued it, before queueing.
        let g = unsafe { &*gp };
        if others && ptr::eq(g.avoid_m.load(Ordering::Relaxed), me) {
            match first_own {
                None => first_own = Some(gp),
                Some(_) => GLOBRUNQ.push(GPtr(gp)),
            }
            continue;
        }
        if let Some(own) = first_own {
            GLOBRUNQ.push(GPtr(own));
        }
        GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
        g.avoid_m.store(ptr::null_mut(), Ordering::Relaxed);
        return Some(gp);
    }
    let gp = first_own?;
    if others {
        // Give a busy M a few microseconds to yield a G of its own for us to take.
        for _ in 0..16 {
            for _ in 0..8 {
                core::hint::spin_loop();
            }
            if let Some(GPtr(other)) = GLOBRUNQ.pop() {
                // SAFETY: as above.
                let o = unsafe { &*other };
                if !ptr::eq(o.avoid_m.load(Ordering::Relaxed), me) {
                    GLOBRUNQ.push(GPtr(gp));
                    GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
                    o.avoid_m.store(ptr::null_mut(), Ordering::Relaxed);
                    return Some(other);
                }
                GLOBRUNQ.push(GPtr(other));
            }
        }
    }
    GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
    // SAFETY: as above.
    unsafe { (*gp).avoid_m.store(ptr::null_mut(), Ordering::Relaxed) };
    Some(gp)
}

/// Go's runqput: `gp` to `pp`'s local queue (runnext with `next`), overflow to the
/// global queue.
///
/// # Safety
/// The caller holds `pp`.
pub unsafe fn runqput(pp: *mut P, gp: *mut G, next: bool) {
    // SAFETY: the caller holds pp, the queue's only producer.
    unsafe {
        (*pp).runq.put(gp, next, &mut |batch| {
            for &g in batch {
                globrunqput(g);
            }
        })
    };
}

/// Whether any G waits in any queue (for the parking re-check).
fn any_work() -> bool {
    if GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 {
        return true;
    }
    let n = GOMAXPROCS.load(Ordering::Acquire);
    (0..n).any(|i| {
        let pp = ALLP[i as usize].load(Ordering::Acquire);
        // SAFETY: Ps in ALLP live until shutdown.
        !pp.is_null() && unsafe { !(*pp).runq.is_empty() }
    })
}

/// wakep after work went to the global queue, where no M of ours is sure to find it:
/// with the #StoreLoad fence of the parking protocol (see the file comment).
pub fn wakep_global() {
    spin().wakep_after_publish(start_spinning_m);
}

/// Go's wakep: if there is an idle P and no spinning M, wake (or start) an M that
/// will spin for the new work. After a submission to the caller's own P no fence is
/// needed (as in Go): if a parking M misses that work, the caller's M still runs it.
pub fn wakep() {
    spin().wakep(start_spinning_m);
}

/// wakep's action: an idle P for an M that will spin (false: no P is idle).
fn start_spinning_m() -> bool {
    let pp = p::pidleget_live(true);
    if pp.is_null() {
        return false;
    }
    startm(pp, true);
    true
}

/// Go's startm: runs `pp` (reserved) on an idle M, or on a new one.
pub fn startm(pp: *mut P, spinning: bool) {
    let mut s = SCHED.lock();
    let m = mget(&mut s, pp, spinning);
    if !m.is_null() {
        // Wake it outside the lock: the futex call is a syscall.
        drop(s);
        // SAFETY: mget returned a live M that sleeps until this wakeup.
        unsafe { (*m).park.wakeup() };
        return;
    }
    if netpoll::LASTPOLL.load(Ordering::Acquire) == 0 {
        // No idle M, but one sleeps in netpoll: break its wait and let it take the
        // P, rather than make a new thread.
        if spinning {
            NMSPINNING.fetch_sub(1, Ordering::SeqCst);
        }
        p::release_to_pool(&mut s, pp);
        drop(s);
        netpoll::netpoll_break();
        return;
    }
    drop(s);
    if super::m::newm_for_sched(pp, spinning).is_err() {
        // No thread: the P goes back to the pool; the work stays queued for the Ms
        // that exist.
        if spinning {
            NMSPINNING.fetch_sub(1, Ordering::SeqCst);
        }
        let mut s = SCHED.lock();
        p::release_to_pool(&mut s, pp);
    }
}

/// Takes an M off the idle list and promises it `nextp` (null: to exit); the caller
/// wakes it, after dropping the sched lock if it likes (Go's mget + notewakeup). Until
/// then the M stays asleep: even one whose idle timeout ran out waits for the wakeup
/// once it sees it was taken off the list (see `stopm`).
fn mget(s: &mut Sched, nextp: *mut P, spinning: bool) -> *mut M {
    let m = s.midle;
    if m.is_null() {
        return m;
    }
    // SAFETY: Ms on the idle list are live and parked.
    let mm = unsafe { &*m };
    s.midle = mm.schedlink;
    s.nmidle -= 1;
    mm.spinning.store(spinning, Ordering::Relaxed);
    mm.nextp.store(nextp, Ordering::Release);
    mm.set_state(MState::Running);
    m
}

/// Takes an M off the idle list and wakes it with `nextp` (null: to exit).
pub fn mwake(s: &mut Sched, nextp: *mut P, spinning: bool) -> bool {
    let m = mget(s, nextp, spinning);
    if m.is_null() {
        return false;
    }
    // SAFETY: mget returned a live M that sleeps until this wakeup.
    unsafe { (*m).park.wakeup() };
    true
}

/// Wakes every idle M so that it exits (rt_shutdown).
pub fn wake_all_idle(s: &mut Sched) {
    while mwake(s, ptr::null_mut(), false) {}
}

/// Go's handoffp: a P whose M is going away (syscall, locked wait, exit) goes to an M
/// if there is work for it, else to the pool.
pub fn handoffp(pp: *mut P) {
    if stopping() {
        let mut s = SCHED.lock();
        p::release_to_pool(&mut s, pp);
        return;
    }
    // SAFETY: pp is live; we own it (reserved or just released).
    let has_local = unsafe { !(*pp).runq.is_empty() };
    if has_local || GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 {
        set_reserved(pp);
        startm(pp, false);
        return;
    }
    // No local work: start a spinning M only if nobody else looks for work.
    if NMSPINNING.load(Ordering::SeqCst) + NPIDLE.load(Ordering::SeqCst) == 0
        && NMSPINNING
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    {
        set_reserved(pp);
        startm(pp, true);
        return;
    }
    let mut s = SCHED.lock();
    if GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 && s.running && !s.stopping {
        // SAFETY: live P.
        unsafe { (*pp).set(PStatus::Reserved) };
        drop(s);
        startm(pp, false);
        return;
    }
    p::release_to_pool(&mut s, pp);
}

fn set_reserved(pp: *mut P) {
    // SAFETY: the caller owns pp.
    unsafe {
        (*pp).m.store(ptr::null_mut(), Ordering::Release);
        (*pp).set(PStatus::Reserved);
    }
}

/// The calling M gives up its P (Go's releasep) and returns it, reserved.
pub fn releasep_reserved(m: &M) -> *mut P {
    let pp = m.p.swap(ptr::null_mut(), Ordering::AcqRel);
    if !pp.is_null() {
        set_reserved(pp);
    }
    pp
}

/// Go's stopm: park on the idle-M list until startm hands over a P (acquired here:
/// true) or the M must leave (false: shutdown, retirement, rt_main finished).
pub fn stopm(m: &M) -> bool {
    debug_assert!(m.p().is_null());
    {
        let mut s = SCHED.lock();
        if !s.running || s.stopping || m.main_done.load(Ordering::Acquire) {
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
    let np = m.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
    if np.is_null() {
        return false;
    }
    p::acquire_nextp(m, np);
    true
}

fn midle_remove(s: &mut Sched, m: &M) -> bool {
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

/// The main G of rt_main exited: tell its M (waking it if it is parked).
pub fn main_exited(mainm: *mut M) {
    let mut s = SCHED.lock();
    // SAFETY: an M waiting in rt_main is live.
    let mm = unsafe { &*mainm };
    mm.main_done.store(true, Ordering::Release);
    if mm.state() == MState::Idle && midle_remove(&mut s, mm) {
        mm.nextp.store(ptr::null_mut(), Ordering::Release);
        mm.set_state(MState::Running);
        mm.park.wakeup();
    }
}

fn become_spinning(m: &M) {
    m.spinning.store(true, Ordering::Relaxed);
    NMSPINNING.fetch_add(1, Ordering::SeqCst);
}

/// Go's resetspinning: the M found work; if it was the last spinner, wake another.
fn resetspinning(m: &M) {
    m.spinning.store(false, Ordering::Relaxed);
    spin().resetspinning(start_spinning_m);
}

/// A small xorshift per call site, seeded from the M: victim order for stealing.
fn cheaprand(m: &M) -> u32 {
    let t = m.steal_seed.get();
    let mut x = if t == 0 {
        (m.id as u32).wrapping_mul(0x9E37_79B9) | 1
    } else {
        t
    };
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m.steal_seed.set(x);
    x
}

/// Go's stealWork: four passes over the other Ps in random order; runnext only on
/// the last pass.
fn steal_work(m: &M, pp: *mut P) -> Option<*mut G> {
    const STEAL_TRIES: u32 = 4;
    let n = GOMAXPROCS.load(Ordering::Acquire) as u32;
    if n <= 1 {
        return None;
    }
    for i in 0..STEAL_TRIES {
        let steal_next = i == STEAL_TRIES - 1;
        // A random start and a stride coprime with n visit every P once.
        let start = cheaprand(m) % n;
        let stride = coprime_stride(n, cheaprand(m));
        for k in 0..n {
            let id = (start + k * stride) % n;
            let p2 = ALLP[id as usize].load(Ordering::Acquire);
            if p2.is_null() || p2 == pp {
                continue;
            }
            // SAFETY: Ps in ALLP live until shutdown; we hold pp.
            unsafe {
                if steal_next {
                    // Run the victim's expired timers too (Go steals timers along
                    // with work): their Gs land on our P.
                    let t0 = (*p2).timers.timer0.load(Ordering::Acquire);
                    if t0 != 0 && t0 <= nanotime() {
                        timer::check(p2, nanotime());
                        if let Some((gp, _)) = (*pp).runq.get() {
                            return Some(gp);
                        }
                    }
                }
                if !steal_next && (*p2).runq.is_empty() {
                    continue;
                }
                let owner_running = || {
                    if (*p2).status() == PStatus::Running {
                        // Let the owner schedule its runnext itself (Go sleeps 3us).
                        super::time::os_sleep(3_000);
                    }
                };
                if let Some(gp) = (*pp).runq.steal(&(*p2).runq, steal_next, &owner_running) {
                    bump(pp, |c| &c.steals);
                    return Some(gp);
                }
            }
        }
    }
    None
}

fn coprime_stride(n: u32, r: u32) -> u32 {
    fn gcd(mut a: u32, mut b: u32) -> u32 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    let mut s = 1 + r % n;
    while gcd(s, n) != 1 {
        s = 1 + (s % n);
    }
    s
}

/// How findRunnable may wait.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Park the M (giving up its P) until work comes.
    Block,
    /// Return None when there is nothing (rt_schedule(RT_SCHED_ONCE)).
    Poll,
}

/// Go's findRunnable: the next G for the M's P, in Go's order. Returns the G and
/// whether it inherits the time slice (runnext). None: the M must leave (Block), or
/// nothing was found (Poll).
fn find_runnable(m: &M, wait: Wait) -> Option<(*mut G, bool)> {
    'top: loop {
        let pp = m.p();
        if pp.is_null() {
            return None;
        }
        if stopping() {
            return None;
        }
        // rt_gomaxprocs shrank below our P: its Gs go to the global queue and the
        // P dies (release_to_pool) instead of taking more work.
        // SAFETY: we hold pp.
        if unsafe { (*pp).id } >= GOMAXPROCS.load(Ordering::Acquire) {
            retire_surplus_p(m);
            if wait == Wait::Poll || !stopm(m) {
                return None;
            }
            continue 'top;
        }
        // Our P's expired timers make their Gs runnable first.
        // SAFETY: we hold pp.
        let t0 = unsafe { (*pp).timers.timer0.load(Ordering::Acquire) };
        if t0 != 0 && t0 <= nanotime() {
            timer::check(pp, nanotime());
        }
        // SAFETY: we hold pp.
        unsafe {
            // Every 61st round, the global queue first, so that it cannot starve.
            if (*pp).schedtick.load(Ordering::Relaxed).is_multiple_of(61)
                && GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0
            {
                if let Some(gp) = globrunqget(pp, 1) {
                    return Some((gp, false));
                }
            }
            if let Some(x) = (*pp).runq.get() {
                return Some(fair(pp, x));
            }
            if let Some(gp) = globrunqget(pp, 0) {
                return Some((gp, false));
            }
        }
        // A poll that does not block, if Gs wait on fds and nobody is polling.
        if netpoll::inited()
            && netpoll::WAITERS.load(Ordering::Acquire) > 0
            && netpoll::LASTPOLL.load(Ordering::Acquire) != 0
        {
            let mut list = Vec::new();
            netpoll::netpoll(0, &mut list);
            if !list.is_empty() {
                g::inject(&list);
                // SAFETY: we hold pp; inject queued them on it.
                if let Some(x) = unsafe { (*pp).runq.get() } {
                    return Some(x);
                }
            }
        }
        // Steal, if not too many Ms are at it already.
        let procs = GOMAXPROCS.load(Ordering::Relaxed);
        if m.spinning.load(Ordering::Relaxed)
            || 2 * NMSPINNING.load(Ordering::SeqCst) < procs - NPIDLE.load(Ordering::SeqCst)
        {
            if !m.spinning.load(Ordering::Relaxed) {
                become_spinning(m);
            }
            if let Some(gp) = steal_work(m, pp) {
                return Some((gp, false));
            }
        }
        if wait == Wait::Poll {
            if m.spinning.load(Ordering::Relaxed) {
                m.spinning.store(false, Ordering::Relaxed);
                NMSPINNING.fetch_sub(1, Ordering::SeqCst);
            }
            return None;
        }
        // Nothing: give the P back and park.
        {
            let mut s = SCHED.lock();
            if GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 {
                drop(s);
                // SAFETY: we still hold pp.
                if let Some(gp) = unsafe { globrunqget(pp, 0) } {
                    return Some((gp, false));
                }
                continue 'top;
            }
            let pp = m.p.swap(ptr::null_mut(), Ordering::AcqRel);
            p::release_to_pool(&mut s, pp);
        }
        if m.spinning.load(Ordering::Relaxed) {
            m.spinning.store(false, Ordering::Relaxed);
            // #StoreLoad (see the file comment): now that we no longer count as
            // spinning, look at every queue once more before parking.
            if spin().stop_then_recheck(any_work) {
                let pp = p::pidleget_live(true);
                if !pp.is_null() {
                    p::acquire_nextp(m, pp);
                    become_spinning(m);
                    continue 'top;
                }
            }
        }
        // Before parking: if Gs wait on fds or timers, one M blocks in netpoll until
        // the soonest timer (Go's lastpoll protocol: LASTPOLL is 0 while it does).
        let poll_until = timer::earliest();
        if netpoll::inited()
            && (netpoll::WAITERS.load(Ordering::Acquire) > 0 || poll_until != 0)
            && netpoll::LASTPOLL.swap(0, Ordering::AcqRel) != 0
        {
            let now = nanotime();
            let delay = if poll_until == 0 {
                -1
            } else {
                (poll_until - now).max(0)
            };
            netpoll::POLL_UNTIL.store(poll_until, Ordering::Release);
            let mut list = Vec::new();
            if !stopping() {
                netpoll::netpoll(delay, &mut list);
            }
            netpoll::POLL_UNTIL.store(0, Ordering::Release);
            netpoll::LASTPOLL.store(nanotime(), Ordering::Release);
            let pp = p::pidleget_live(true);
            if pp.is_null() {
                g::inject(&list);
            } else {
                p::acquire_nextp(m, pp);
                g::inject(&list);
                // Timers of any P may be due: look as a spinning M (stealing runs
                // other Ps' timers).
                become_spinning(m);
                continue 'top;
            }
        } else if poll_until != 0 && netpoll::inited() {
            // Somebody else polls: make sure it wakes up for our timer.
            let until = netpoll::POLL_UNTIL.load(Ordering::Acquire);
            if until == 0 || until > poll_until {
                netpoll::netpoll_break();
            }
        }
        if !stopm(m) {
            return None;
        }
    }
}

/// Most Gs that runnext hands on in a row within one time slice. Two Gs that wake
/// each other (a channel ping-pong) would otherwise keep the slice between them
/// for ever; Go ends a slice by preemption after 10 ms, which libmrt does not have.
const RUNNEXT_STREAK_MAX: u32 = 64;

/// Ends a long runnext streak: the G goes to the tail, and the ring's head runs.
///
/// # Safety
/// The caller holds `pp`.
unsafe fn fair(pp: *mut P, x: (*mut G, bool)) -> (*mut G, bool) {
    // SAFETY: per the contract; only the holder touches the streak.
    let streak = unsafe { &(*pp).runnext_streak };
    if !x.1 {
        streak.store(0, Ordering::Relaxed);
        return x;
    }
    let n = streak.load(Ordering::Relaxed) + 1;
    // SAFETY: as above.
    if n < RUNNEXT_STREAK_MAX || unsafe { (*pp).runq.len() } == 0 {
        streak.store(n, Ordering::Relaxed);
        return x;
    }
    streak.store(0, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe {
        runqput(pp, x.0, false);
        match (*pp).runq.get() {
            Some((g, _)) => (g, false),
            None => x,
        }
    }
}

/// Gives up a P beyond gomaxprocs: its queued Gs go to the global queue.
fn retire_surplus_p(m: &M) {
    if m.spinning.swap(false, Ordering::Relaxed) {
        // Without a P it is no longer looking for work.
        NMSPINNING.fetch_sub(1, Ordering::SeqCst);
    }
    let pp = m.p.swap(ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: we held pp until the swap; nobody else produces into its queue.
    unsafe {
        while let Some((gp, _)) = (*pp).runq.get() {
            globrunqput(gp);
        }
    }
    {
        let mut s = SCHED.lock();
        p::release_to_pool(&mut s, pp);
    }
    wakep_global();
}

fn stopping() -> bool {
    // Lock-free view; the authoritative check happens under the lock in stopm.
    super::run_state() != super::RunState::Running || SHUTTING_DOWN.load(Ordering::Acquire)
}

/// Set by rt_shutdown while it stops the Ms.
pub static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Runs `gp` on this M until it switches back, then does what it asked. Returns a G
/// to run right away (a park whose unlock callback refused), if any.
fn execute(m: &M, gp: *mut G, inherit: bool) -> Option<*mut G> {
    let pp = m.p();
    // SAFETY: gp came off a run queue: Runnable, ours now; we hold pp.
    let g = unsafe { &mut *gp };
    if g.needs_stack() && g::bind_stack(pp, g).is_err() {
        // No memory for a stack now: try again later.
        globrunqput(gp);
        return None;
    }
    g.m = m as *const M as *mut M;
    g.set_status(GStatus::Running);
    m.curg.store(gp, Ordering::Release);
    if !inherit {
        // SAFETY: we hold pp; only its holder writes schedtick.
        let t = unsafe { &(*pp).schedtick };
        t.store(t.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
    bump(pp, |c| &c.switches);
    // SAFETY: on m's g0, gp Running and bound to m.
    unsafe { switch_to(m, gp) };
    // Back on g0: the context of the G that switched here is saved. It may not be
    // `gp`: gp may have yielded straight to another G (see g::gosched).
    let gp = m.curg.swap(ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: the G that just switched to g0 is ours until we act on it.
    let g = unsafe { &mut *gp };
    let action = m.action.replace(Action::None);
    match action {
        Action::Yield | Action::YieldGlobal => {
            g.m = ptr::null_mut();
            g.set_status(GStatus::Runnable);
            let pp = m.p();
            if matches!(action, Action::YieldGlobal) || pp.is_null() {
                if matches!(action, Action::YieldGlobal) {
                    g.avoid_m.store(m as *const M as *mut M, Ordering::Relaxed);
                }
                globrunqput(gp);
                wakep_global();
            } else {
                // SAFETY: we hold pp.
                unsafe { runqput(pp, gp, false) };
            }
            None
        }
        Action::Park(unlock, arg) => {
            g.m = ptr::null_mut();
            g.set_status(GStatus::Waiting);
            bump(m.p(), |c| &c.parks);
            if let Some(f) = unlock {
                // SAFETY: the host's callback, called as rt_park documents.
                if !unsafe { f(gp, arg) } {
                    g.set_status(GStatus::Runnable);
                    return Some(gp);
                }
            }
            None
        }
        Action::Exit => {
            gdestroy(m, gp);
            None
        }
        Action::ExitSyscall => exitsyscall0(m, gp),
        Action::None => super::throw("execute: G switched to g0 without an action"),
    }
}

/// The slow path of rt_exitsyscall, on g0: find a P for the G or queue it.
fn exitsyscall0(m: &M, gp: *mut G) -> Option<*mut G> {
    // SAFETY: the G is ours (it switched to us).
    let g = unsafe { &mut *gp };
    g.m = ptr::null_mut();
    g.set_status(GStatus::Runnable);
    let pp = p::pidleget_live(false);
    if !pp.is_null() {
        p::acquire_nextp(m, pp);
        return Some(gp);
    }
    if !m.lockedg.load(Ordering::Relaxed).is_null() {
        // Our locked G waits for a P that someone hands to us (stoplockedm).
        globrunqput(gp);
        return None;
    }
    globrunqput(gp);
    wakep_global();
    None
}

/// Go's stoplockedm: this M runs only its locked G; hand off the P and sleep until
/// someone hands it back with the G runnable.
fn stoplockedm(m: &M) -> bool {
    let pp = releasep_reserved(m);
    if !pp.is_null() {
        handoffp(pp);
    }
    loop {
        m.park.sleep();
        m.park.clear();
        let np = m.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
        if !np.is_null() {
            p::acquire_nextp(m, np);
            return true;
        }
        if stopping() {
            return false;
        }
    }
}

/// Go's startlockedm: `gp` is wired to another M: give that M our P and park.
fn startlockedm(m: &M, gp: *mut G) -> bool {
    // SAFETY: gp is runnable and its locked M is live (it waits in stoplockedm).
    let lm = unsafe { &*(*gp).lockedm.load(Ordering::Acquire) };
    let pp = releasep_reserved(m);
    lm.locked_next.store(gp, Ordering::Release);
    lm.nextp.store(pp, Ordering::Release);
    lm.park.wakeup();
    stopm(m)
}

/// Go's schedule loop: runs Gs on this M (which holds a P) until it must leave
/// (shutdown, retirement, its locked G exited, rt_main's G exited).
pub fn schedule(m: &M) {
    let mut next: Option<(*mut G, bool)> = None;
    loop {
        if m.exiting.load(Ordering::Acquire) || m.main_done.load(Ordering::Acquire) {
            break;
        }
        let lg = m.lockedg.load(Ordering::Acquire);
        let (gp, inherit) = if let Some(x) = next.take() {
            x
        } else if !lg.is_null() {
            // This M runs only its locked G: hand off the P and wait until whoever
            // finds the G runnable hands it over with a P (each handover is one
            // wakeup of our note, consumed here).
            if !stoplockedm(m) {
                break;
            }
            if m.locked_next.swap(ptr::null_mut(), Ordering::AcqRel) != lg {
                super::throw("stoplockedm: woken without the locked G");
            }
            (lg, false)
        } else if m.p().is_null() {
            if !stopm(m) {
                break;
            }
            continue;
        } else {
            match find_runnable(m, Wait::Block) {
                Some(x) => x,
                None => break,
            }
        };
        if m.spinning.load(Ordering::Relaxed) {
            resetspinning(m);
        }
        // SAFETY: gp is a live runnable G.
        let lm = unsafe { (*gp).lockedm.load(Ordering::Acquire) };
        if !lm.is_null() && !ptr::eq(lm, m) {
            if !startlockedm(m, gp) {
                break;
            }
            continue;
        }
        if let Some(again) = execute(m, gp, inherit) {
            next = Some((again, true));
        }
    }
    if m.spinning.swap(false, Ordering::Relaxed) {
        // Left while spinning (shutdown): stop counting as a spinner.
        NMSPINNING.fetch_sub(1, Ordering::SeqCst);
    }
    let pp = releasep_reserved(m);
    if !pp.is_null() {
        handoffp(pp);
    }
}

/// The loop of a runtime-created M after its start function.
pub fn mloop(m: *mut M) {
    // SAFETY: called on m's own thread.
    let mm = unsafe { &*m };
    let np = mm.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
    if !np.is_null() {
        if mm.p().is_null() {
            p::acquire_nextp(mm, np);
        } else {
            // The start function acquired a P of its own: keep that one.
            let mut s = SCHED.lock();
            p::release_to_pool(&mut s, np);
        }
    }
    if mm.p().is_null() && !stopm(mm) {
        return;
    }
    schedule(mm);
}

/// rt_schedule: run the scheduler on the calling M with its P.
pub fn rt_schedule(flags: i32) -> Result<i32> {
    let m = tls::getm();
    if m.is_null() {
        return Err(RT_EINVAL);
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    if !g::curg().is_null() {
        return Err(RT_EPERM);
    }
    if mm.p().is_null() {
        return Err(RT_EINVAL);
    }
    match flags {
        RT_SCHED_ONCE => {
            let mut ran = 0;
            let mut next = None;
            loop {
                let x = match next.take() {
                    Some(x) => x,
                    None => match find_runnable(mm, Wait::Poll) {
                        Some(x) => x,
                        None => return Ok(ran),
                    },
                };
                // SAFETY: a live runnable G.
                let lm = unsafe { (*x.0).lockedm.load(Ordering::Acquire) };
                if !lm.is_null() && !ptr::eq(lm, mm) {
                    // Wired elsewhere: give it our P and stop here.
                    // SAFETY: a locked G's M is live (it waits in stoplockedm).
                    let lmm = unsafe { &*lm };
                    let pp = releasep_reserved(mm);
                    lmm.locked_next.store(x.0, Ordering::Release);
                    lmm.nextp.store(pp, Ordering::Release);
                    lmm.park.wakeup();
                    return Ok(ran);
                }
                ran += 1;
                next = execute(mm, x.0, x.1).map(|g| (g, true));
                if mm.p().is_null() {
                    return Ok(ran);
                }
            }
        }
        RT_SCHED_FOREVER => {
            let before = total(|c| &c.switches);
            schedule(mm);
            Ok((total(|c| &c.switches).saturating_sub(before)).min(i32::MAX as u64) as i32)
        }
        _ => Err(RT_EINVAL),
    }
}

/// rt_main: run fn(arg) as a G, the calling thread working as an M until it exits.
pub fn rt_main(f: super::m::RtFn, arg: *mut c_void) -> Result<()> {
    if f.is_none() {
        return Err(RT_EINVAL);
    }
    if !g::curg().is_null() {
        return Err(RT_EPERM);
    }
    let mut m = tls::getm();
    if m.is_null() {
        m = super::m::adopt()?;
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    if !mm.p().is_null() {
        return Err(RT_EALREADY);
    }
    mm.main_done.store(false, Ordering::Release);
    // The calling thread works as an M with a P: take an idle one, waiting while
    // every P is busy (a spinning M may hold one for a moment), then queue the main
    // G on it, so that this thread runs it.
    let mut tries = 0u32;
    let pp = loop {
        let pp = {
            let mut s = SCHED.lock();
            s.check_running()?;
            p::pidleget(&mut s)
        };
        if !pp.is_null() {
            break pp;
        }
        tries += 1;
        if tries < 100 {
            // SAFETY: no memory effects.
            unsafe { libc::sched_yield() };
        } else {
            super::time::os_sleep(50_000);
        }
    };
    p::acquire_nextp(mm, pp);
    if let Err(e) = g::newproc1(f, arg, m) {
        let pp = releasep_reserved(mm);
        if !pp.is_null() {
            handoffp(pp);
        }
        return Err(e);
    }
    schedule(mm);
    let done = mm.main_done.swap(false, Ordering::AcqRel);
    if done {
        Ok(())
    } else {
        Err(RT_ESHUTDOWN)
    }
}

/// For rt_getstats.
pub fn runnable_counts() -> (i64, i64) {
    let global = GLOBRUNQ_SIZE.load(Ordering::Acquire);
    let n = GOMAXPROCS.load(Ordering::Acquire);
    let mut local = 0i64;
    for i in 0..n {
        let pp = ALLP[i as usize].load(Ordering::Acquire);
        if !pp.is_null() {
            // SAFETY: Ps in ALLP live until shutdown.
            local += unsafe { (*pp).runq.len() } as i64;
        }
    }
    (local + global, global)
}

/// Drops whatever is left in the global queue (rt_shutdown, after all Gs exited).
pub fn clear_globrunq() {
    while GLOBRUNQ.pop().is_some() {}
    GLOBRUNQ_SIZE.store(0, Ordering::Release);
}
