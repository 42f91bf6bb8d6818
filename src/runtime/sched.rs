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
//! # Holding a P
//! A P's shared part (status, the steal side of its run queue, its timers under
//! their lock) may be touched by any M; its core (the caches, the producer side of
//! its run queue, the fairness streak) only by the M that holds it. Holding is a
//! value, [`HeldP`], of which one exists per held P: the scheduler passes it by
//! value where a P changes hands (startm, handoffp, stopm, find_runnable) and by
//! `&mut` where it is only used (runqput, globrunqget, stealing, newproc). While a
//! G runs, the value rests in its M (`M::take_p`/`put_p`); code running on the G
//! (gosched, newproc, goready) takes it from there for the length of one call. A P
//! reaches another M only as a raw pointer in a hand-over (nextp, the idle pool, a
//! system call), and whoever receives it makes the next HeldP.
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
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicI64, AtomicU32, Ordering};

use super::atomic::StaticAtomicI32;
use super::error::{Error, Result};
use super::g::{self, gdestroy, switch_to, Action, GQueue, GRing, GStatus, ParkFn, G, G_HOT_LINES};
use super::m::RtFn;
use super::m::{MKind, MState, M};
use super::note::futex_wake;
use super::p::{self, bump, total, HeldP, PStatus, ALLP, GOMAXPROCS, NPIDLE, P};
use super::spinning::Spinning;
use super::time::nanotime;
use super::{arch, netpoll, timer, tls, Sched, SCHED};

/// An idle runtime-created M exits after this long without work (docs/api.md: 60 s).
pub(crate) const IDLE_M_RETIRE_NS: i64 = 60_000_000_000;
/// The retirement time in force: [`IDLE_M_RETIRE_NS`], or `MRT_DEBUG=idlemretire=<ms>`
/// (read by rt_init; for tests of retirement, which cannot wait a minute).
pub static IDLE_M_RETIRE: AtomicI64 = AtomicI64::new(IDLE_M_RETIRE_NS);

/// rt_init: the retirement time from `$MRT_DEBUG` (`idlemretire=<ms>`, ms > 0).
pub fn configure_idle_m_retire(debug: &str) {
    let ns = debug
        .split(',')
        .filter_map(|w| w.trim().strip_prefix("idlemretire="))
        .filter_map(|v| v.parse::<i64>().ok())
        .find(|&ms| ms > 0 && ms <= 3_600_000)
        .map_or(IDLE_M_RETIRE_NS, |ms| ms * 1_000_000);
    IDLE_M_RETIRE.store(ns, Ordering::Relaxed);
}

/// Ms spinning for work (Go's sched.nmspinning).
pub static NMSPINNING: StaticAtomicI32 = StaticAtomicI32::new(0);

/// The spinning-M protocol over the scheduler's counters (see spinning.rs).
fn spin() -> Spinning<'static> {
    Spinning {
        nmspinning: &NMSPINNING,
        npidle: &NPIDLE,
    }
}

/// The global run queue (Go's sched.runq): G pointers in one array under a leaf lock
/// (nothing else is locked while it is held), whose room for every G there is was
/// reserved when the G was made (`globrunq_reserve`), so putting a G on it never
/// allocates and cannot fail. Its length is mirrored in `GLOBRUNQ_SIZE`, read
/// without the lock by the parking protocol: it is raised after a push is complete
/// and lowered after a pop, so a positive size means a G can be had.
static GLOBRUNQ: super::note::Lock<GRing> = super::note::Lock::new(GRing::new());
pub static GLOBRUNQ_SIZE: AtomicI64 = AtomicI64::new(0);

/// Makes room on the global queue for `total` Gs in all (called as a G is made, under
/// ALLGS's lock); false if the memory is not there.
pub fn globrunq_reserve(total: usize) -> bool {
    GLOBRUNQ.lock().reserve_total(total)
}

/// MRT_DEBUG=migrate: every yield moves the G to the global queue, so that another M
/// resumes it where one can.
pub static DEBUG_MIGRATE: AtomicBool = AtomicBool::new(false);

/// Puts a G on the global queue. Allocates nothing.
pub fn globrunqput(gp: *mut G) {
    GLOBRUNQ.lock().push_back(gp);
    GLOBRUNQ_SIZE.fetch_add(1, Ordering::AcqRel);
}

/// Puts a batch of Gs on the global queue with one lock hold (a netpoll list).
/// Allocates nothing.
pub fn globrunqputbatch(batch: &mut GQueue) {
    let n = batch.len() as i64;
    if n == 0 {
        return;
    }
    GLOBRUNQ.lock().append(batch);
    GLOBRUNQ_SIZE.fetch_add(n, Ordering::AcqRel);
}

/// Puts a local queue's overflow on the global queue with one lock hold, without
/// touching the Gs. Allocates nothing.
pub fn globrunqput_slice(batch: &[*mut G]) {
    if batch.is_empty() {
        return;
    }
    GLOBRUNQ.lock().append_slice(batch);
    GLOBRUNQ_SIZE.fetch_add(batch.len() as i64, Ordering::AcqRel);
}

/// Takes the first G off the global queue (the caller adjusts `GLOBRUNQ_SIZE`).
fn globrunqpop() -> Option<*mut G> {
    GLOBRUNQ.lock().pop_front()
}

/// Go's globrunqget: takes a fair share of the global queue into `pp`'s local queue
/// and returns one G. `max` 0 means no limit beyond the fair share.
fn globrunqget(pp: &mut HeldP, max: i64) -> Option<*mut G> {
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
    // Take the batch with one lock hold, then fill the local queue outside it (an
    // overflow there goes back to the global queue, which takes the lock again).
    let mut batch = [ptr::null_mut::<G>(); p::RUNQ_SIZE / 2];
    let got = GLOBRUNQ.lock().take_front(&mut batch[..n as usize]);
    GLOBRUNQ_SIZE.fetch_sub(got as i64, Ordering::AcqRel);
    let (&first, rest) = batch[..got].split_first()?;
    for &gp in rest {
        pp.runqput(gp, false);
    }
    Some(first)
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
        let Some(gp) = globrunqpop() else {
            break;
        };
        // SAFETY: a queued G is live; its avoid_m is written only by the M that
        // queued it, before queueing.
        let g = unsafe { &*gp };
        if others && ptr::eq(g.avoid_m.load(Ordering::Relaxed), me) {
            match first_own {
                None => first_own = Some(gp),
                Some(_) => GLOBRUNQ.lock().push_back(gp),
            }
            continue;
        }
        if let Some(own) = first_own {
            GLOBRUNQ.lock().push_back(own);
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
            if let Some(other) = globrunqpop() {
                // SAFETY: `other` was just popped from the global queue, so a live G;
                // only the M that queued it wrote avoid_m, before queueing.
                let o = unsafe { &*other };
                if !ptr::eq(o.avoid_m.load(Ordering::Relaxed), me) {
                    GLOBRUNQ.lock().push_back(gp);
                    GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
                    o.avoid_m.store(ptr::null_mut(), Ordering::Relaxed);
                    return Some(other);
                }
                GLOBRUNQ.lock().push_back(other);
            }
        }
    }
    GLOBRUNQ_SIZE.fetch_sub(1, Ordering::AcqRel);
    // SAFETY: `gp` was popped from the global queue by us and not put back, so it is a
    // live G that no other M can take.
    unsafe { (*gp).avoid_m.store(ptr::null_mut(), Ordering::Relaxed) };
    Some(gp)
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
    match p::pidleget_live(true) {
        Some(pp) => {
            startm(pp, true);
            true
        }
        None => false,
    }
}

/// A new timer fires at `when`: make sure somebody will be awake then (Go's
/// wakeNetPoller).
pub fn wake_netpoller(when: i64) {
    if netpoll::LASTPOLL.load(Ordering::Acquire) == 0 {
        let until = netpoll::POLL_UNTIL.load(Ordering::Acquire);
        if until == 0 || until > when {
            netpoll::netpoll_break();
        }
    } else {
        wakep();
    }
}

/// Go's startm: runs `pp` (reserved) on an idle M, or on a new one.
pub fn startm(pp: HeldP, spinning: bool) {
    let mut s = SCHED.lock();
    let m = mget(&mut s, spinning);
    if !m.is_null() {
        // SAFETY: mget returned a live M that sleeps until the wakeup below.
        unsafe { (*m).nextp.store(pp.into_raw(), Ordering::Release) };
        // Wake it outside the lock: the futex call is a syscall.
        drop(s);
        // SAFETY: `m` left the idle list in mget and sleeps on its park note until this
        // wakeup, so it cannot exit (and be freed) before we call it.
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
    if let Err(pp) = super::m::newm_for_sched(pp, spinning) {
        // No thread: the P goes back to the pool; the work stays queued for the Ms
        // that exist. Its own queue goes to the global one (release_to_pool), for
        // which sysmon retries thread creation once the backoff is over.
        let moved = !pp.p().runq.is_empty();
        if spinning {
            NMSPINNING.fetch_sub(1, Ordering::SeqCst);
        }
        let mut s = SCHED.lock();
        p::release_to_pool(&mut s, pp);
        drop(s);
        if moved {
            // A sysmon in its deep sleep (every P idle, the global queue empty)
            // looks again now rather than in up to a second.
            super::sysmon::wake_if_sleeping();
        }
    }
}

/// Takes an M off the idle list for the caller to give a nextp (or none: to exit)
/// and wake, after dropping the sched lock if it likes (Go's mget + notewakeup).
/// Until then the M stays asleep: even one whose idle timeout ran out waits for the
/// wakeup once it sees it was taken off the list (see `stopm`).
fn mget(s: &mut Sched, spinning: bool) -> *mut M {
    let m = s.midle;
    if m.is_null() {
        return m;
    }
    // SAFETY: Ms on the idle list are live and parked.
    let mm = unsafe { &*m };
    s.midle = mm.schedlink;
    s.nmidle -= 1;
    mm.spinning.store(spinning, Ordering::Relaxed);
    mm.nextp.store(ptr::null_mut(), Ordering::Release);
    mm.set_state(MState::Running);
    m
}

/// Wakes every idle M with no P, so that it exits (rt_shutdown).
pub fn wake_all_idle(s: &mut Sched) {
    loop {
        let m = mget(s, false);
        if m.is_null() {
            return;
        }
        // SAFETY: mget returned a live M that sleeps until this wakeup.
        unsafe { (*m).park.wakeup() };
    }
}

/// Go's handoffp: a P whose M is going away (syscall, locked wait, exit) goes to an M
/// if there is work for it, else to the pool.
pub fn handoffp(pp: HeldP) {
    if stopping() {
        let mut s = SCHED.lock();
        p::release_to_pool(&mut s, pp);
        return;
    }
    let p = pp.p();
    p.m.store(ptr::null_mut(), Ordering::Release);
    p.set(PStatus::Reserved);
    if !p.runq.is_empty() || GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 {
        startm(pp, false);
        return;
    }
    // No local work: start a spinning M only if nobody else looks for work.
    if NMSPINNING.load(Ordering::SeqCst) + NPIDLE.load(Ordering::SeqCst) == 0
        && NMSPINNING
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    {
        startm(pp, true);
        return;
    }
    let mut s = SCHED.lock();
    if GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 && s.running && !s.stopping {
        drop(s);
        startm(pp, false);
        return;
    }
    p::release_to_pool(&mut s, pp);
}

/// Go's releasep: `m` gives up `pp`, which stays reserved for the caller to hand on.
pub fn releasep(m: &M, pp: HeldP) -> HeldP {
    p::unwire(m, &pp);
    pp.p().set(PStatus::Reserved);
    pp
}

/// releasep of the P resting in `m`, if it holds one.
pub fn releasep_reserved(m: &M) -> Option<HeldP> {
    m.take_p().map(|pp| releasep(m, pp))
}

/// Go's stopm: park on the idle-M list until startm hands over a P (acquired and
/// returned here) or the M must leave (None: shutdown, retirement, rt_main finished).
///
/// An idle runtime-created M retires after [`IDLE_M_RETIRE`]. Only one of them at a
/// time, the watcher (`Sched::mwatch`, the one idle longest), sleeps with that
/// timeout; the others sleep without one. A futex sleep with a timeout is not free:
/// the M that just ran an rt_newm start function goes to sleep here, often on the CPU
/// of the thread made next and before it runs, and a timed sleep made that next
/// thread start 0.3-0.8 us later (bench/newm_latency). When the watcher's time is up
/// it retires with every idle runtime-created M whose time is up too, and makes the
/// one idle longest of the rest the watcher; a watcher woken for work or shutdown
/// hands the role on the same way.
pub fn stopm(m: &M) -> Option<HeldP> {
    if !m.p().is_null() {
        super::throw("stopm: holding a P");
    }
    check_no_locks("stopm: holding locks");
    // Retirement applies to runtime-created Ms, except one that runs a host's
    // rt_schedule(RT_SCHED_FOREVER): that call returns only at rt_shutdown.
    let runtime = m.kind == MKind::Runtime && !m.host_loop.load(Ordering::Relaxed);
    loop {
        let watching;
        {
            let mut s = SCHED.lock();
            if !s.running || s.stopping || m.main_done.load(Ordering::Acquire) {
                return None;
            }
            m.set_state(MState::Idle);
            let mp = m as *const M as *mut M;
            // SAFETY: m is live and on no idle list.
            unsafe { (*mp).schedlink = s.midle };
            s.midle = mp;
            s.nmidle += 1;
            // Made the watcher while awake: it keeps the time it first went idle.
            let rewatch = m.rewatch.swap(false, Ordering::Relaxed);
            if !rewatch {
                m.idle_since.store(nanotime(), Ordering::Relaxed);
            }
            watching = runtime && (ptr::eq(s.mwatch, m) || s.mwatch.is_null());
            if watching {
                s.mwatch = mp;
            }
        }
        let woken = if watching {
            let left = m.idle_since.load(Ordering::Relaxed) + IDLE_M_RETIRE.load(Ordering::Relaxed)
                - nanotime();
            m.park.tsleep(left.max(0))
        } else {
            m.park.sleep();
            true
        };
        if !woken {
            let mut s = SCHED.lock();
            if m.state() == MState::Idle && midle_remove(&mut s, m) {
                m.set_state(MState::Running);
                s.mwatch = ptr::null_mut();
                retire_idle_ms(&mut s, nanotime());
                return None;
            }
            drop(s);
            // A waker took us off the list first: its wakeup is on the way.
            m.park.sleep();
        }
        m.park.clear();
        if watching {
            let mut s = SCHED.lock();
            if ptr::eq(s.mwatch, m) {
                s.mwatch = ptr::null_mut();
                retire_idle_ms(&mut s, nanotime());
            }
        }
        let np = m.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
        if np.is_null() {
            if m.rewatch.load(Ordering::Relaxed) {
                // Made the watcher: back to sleep, with the timeout.
                continue;
            }
            return None;
        }
        return Some(p::acquire_nextp(m, np));
    }
}

/// The watcher left (its time was up, or it was woken): takes every idle
/// runtime-created M idle for [`IDLE_M_RETIRE`] or more off the idle list and
/// wakes it with no P (it exits), then makes the one idle longest of the rest the
/// watcher: off the list, woken with `rewatch` set, it goes back to sleep with the
/// timeout. Each M taken off the list gets exactly one wakeup, as from startm.
fn retire_idle_ms(s: &mut Sched, now: i64) {
    let mut link: *mut *mut M = &mut s.midle;
    let mut oldest: *mut M = ptr::null_mut();
    let retire_ns = IDLE_M_RETIRE.load(Ordering::Relaxed);
    // SAFETY: walking and unlinking live Ms on the idle list under the lock.
    unsafe {
        while !(*link).is_null() {
            let m = &**link;
            if m.kind != MKind::Runtime
                || m.host_loop.load(Ordering::Relaxed)
                || m.state() != MState::Idle
            {
                link = &mut (**link).schedlink;
                continue;
            }
            let since = m.idle_since.load(Ordering::Relaxed);
            if now.saturating_sub(since) >= retire_ns {
                *link = m.schedlink;
                s.nmidle -= 1;
                m.nextp.store(ptr::null_mut(), Ordering::Release);
                m.set_state(MState::Running);
                m.park.wakeup();
                continue;
            }
            if oldest.is_null() || since < (*oldest).idle_since.load(Ordering::Relaxed) {
                oldest = *link;
            }
            link = &mut (**link).schedlink;
        }
        if !oldest.is_null() {
            let w = &*oldest;
            midle_remove(s, w);
            w.nextp.store(ptr::null_mut(), Ordering::Release);
            w.rewatch.store(true, Ordering::Relaxed);
            w.set_state(MState::Running);
            s.mwatch = oldest;
            w.park.wakeup();
        }
    }
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
        return;
    }
    drop(s);
    // It may be the M that waits in netpoll (or on the timer note) for a far timer:
    // break that wait, so that it sees main_done now rather than when the timer fires.
    if netpoll::LASTPOLL.load(Ordering::Acquire) == 0 {
        netpoll::netpoll_break();
    }
}

/// rt_main's Gs that have exited (their exit counted) and whose M has not been told
/// yet. rt_shutdown, once it sees no G, waits for this to reach 0 before it stops the
/// Ms: else rt_main's M could see the shutdown first and return RT_ESHUTDOWN for a G
/// that returned, and its thread could exit and free the M while main_exited still
/// wrote to it (t_main_ok_when_shutdown_waits; valgrind saw that write).
static MAIN_EXITS: AtomicU32 = AtomicU32::new(0);

/// gdestroy of rt_main's G, before its exit is counted (a Release that rt_shutdown's
/// count of the Gs acquires, so it sees this too).
pub fn main_exit_begins() {
    MAIN_EXITS.fetch_add(1, Ordering::Relaxed);
}

/// rt_main's G exited (after [`main_exit_begins`]): tell its M, then let rt_shutdown go on.
fn main_g_exited(mainm: *mut M) {
    main_exited(mainm);
    if MAIN_EXITS.fetch_sub(1, Ordering::AcqRel) == 1 {
        futex_wake(&MAIN_EXITS, i32::MAX);
    }
}

/// rt_shutdown, once it sees no G: waits until every rt_main's M whose G exited has
/// been told, or until `deadline` (nanotime; < 0: none). Whether they all were.
pub fn wait_main_exits(deadline: i64) -> bool {
    super::note::futex_wait_zero(&MAIN_EXITS, deadline)
}

/// Deadlock detection gave up on rt_main's G: wake its M, parked on the idle list
/// (as for an exited G) or, when the G is wired to it, in stoplockedm.
pub fn main_deadlocked(mainm: *mut M) {
    // SAFETY: an M waiting in rt_main is live.
    let mm = unsafe { &*mainm };
    if !mm.lockedg.load(Ordering::Acquire).is_null() && mm.state() == MState::Running {
        mm.park.wakeup();
    } else {
        main_exited(mainm);
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

/// Runs the expired timers of `of` (our P's or a victim's): the Gs they wake go to
/// our P (Go steals timers along with work). Returns the next `when` of `of`.
fn run_timers(pp: &mut HeldP, of: &P, now: i64) -> i64 {
    let mut fired = 0usize;
    let next = timer::check(of, now, &mut |gp| {
        fired += 1;
        ready_on(pp, gp, true);
    });
    if fired > 0 {
        super::trace::timers(of.id, fired);
        wakep_global();
    }
    next
}

/// Go's stealWork: four passes over the other Ps in random order; runnext only on
/// the last pass.
fn steal_work(m: &M, pp: &mut HeldP) -> Option<*mut G> {
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
            if p2.is_null() || p2 == pp.as_ptr() {
                continue;
            }
            // SAFETY: Ps in ALLP live until shutdown.
            let victim = unsafe { &*p2 };
            if steal_next {
                // Run the victim's expired timers too: their Gs land on our P.
                let t0 = victim.timers.timer0.load(Ordering::Acquire);
                if t0 != 0 && t0 <= nanotime() {
                    run_timers(pp, victim, nanotime());
                    if let Some((gp, _)) = pp.runqget() {
                        return Some(gp);
                    }
                }
            }
            if !steal_next && victim.runq.is_empty() {
                continue;
            }
            let owner_running = || {
                if victim.status() == PStatus::Running {
                    // Let the owner schedule its runnext itself (Go sleeps 3us).
                    super::time::os_sleep(3_000);
                }
            };
            if let Some(gp) = pp.runqsteal(victim, steal_next, &owner_running) {
                bump(Some(pp), |c| &c.steals);
                super::trace::steal(pp.p().id, victim.id, gp);
                return Some(gp);
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

/// Go's findRunnable: the next G for the M, which holds `pp`, in Go's order. Returns
/// the P the M holds now (maybe another: it may park and be handed one), the G, and
/// whether the G inherits the time slice (runnext). None: the M must leave (Block;
/// any P it still holds rests in it), or nothing was found (Poll; `pp` rests in it).
fn find_runnable(m: &M, mut pp: HeldP, wait: Wait) -> Option<(HeldP, *mut G, bool)> {
    'top: loop {
        if stopping()
            || (m.main_done.load(Ordering::Acquire) && m.lockedg.load(Ordering::Acquire).is_null())
        {
            // rt_main's G exited: its M leaves the loop (schedule hands off the P),
            // unless a G wired to it still lives (see schedule).
            m.put_p(pp);
            return None;
        }
        // rt_gomaxprocs shrank below our P: its Gs go to the global queue and the
        // P dies (release_to_pool) instead of taking more work.
        if pp.p().id >= GOMAXPROCS.load(Ordering::Acquire) {
            if wait == Wait::Poll {
                // rt_schedule(RT_SCHED_ONCE): the host keeps the P it holds (it
                // dies when released) but runs nothing more on it.
                stop_spinning(m);
                shed_surplus(&mut pp);
                m.put_p(pp);
                return None;
            }
            retire_surplus_p(m, pp);
            pp = stopm(m)?;
            continue 'top;
        }
        // Our P's expired timers make their Gs runnable first.
        let t0 = pp.p().timers.timer0.load(Ordering::Acquire);
        if t0 != 0 && t0 <= nanotime() {
            let me = pp.p();
            run_timers(&mut pp, me, nanotime());
        }
        // Every 61st round, the global queue first, so that it cannot starve.
        if pp.p().schedtick.load(Ordering::Relaxed).is_multiple_of(61)
            && GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0
        {
            if let Some(gp) = globrunqget(&mut pp, 1) {
                return Some((pp, gp, false));
            }
        }
        if let Some(x) = pp.runqget() {
            let (gp, inherit) = fair(&mut pp, x);
            return Some((pp, gp, inherit));
        }
        if let Some(gp) = globrunqget(&mut pp, 0) {
            return Some((pp, gp, false));
        }
        // A poll that does not block, if Gs wait on fds and nobody is polling.
        if netpoll::inited()
            && netpoll::WAITERS.load(Ordering::Acquire) > 0
            && netpoll::LASTPOLL.load(Ordering::Acquire) != 0
        {
            let mut list = GQueue::new();
            netpoll::netpoll(0, &mut list);
            if !list.is_empty() {
                inject(&mut list, Some(&mut pp));
                if let Some((gp, inherit)) = pp.runqget() {
                    return Some((pp, gp, inherit));
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
            if let Some(gp) = steal_work(m, &mut pp) {
                return Some((pp, gp, false));
            }
        }
        if wait == Wait::Poll {
            stop_spinning(m);
            m.put_p(pp);
            return None;
        }
        // Nothing: give the P back and park.
        {
            let mut s = SCHED.lock();
            if GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0 {
                drop(s);
                if let Some(gp) = globrunqget(&mut pp, 0) {
                    return Some((pp, gp, false));
                }
                continue 'top;
            }
            p::unwire(m, &pp);
            p::release_to_pool(&mut s, pp);
        }
        if m.spinning.load(Ordering::Relaxed) {
            m.spinning.store(false, Ordering::Relaxed);
            // #StoreLoad (see the file comment): now that we no longer count as
            // spinning, look at every queue once more before parking.
            if spin().stop_then_recheck(any_work) {
                if let Some(np) = p::pidleget_live(true) {
                    p::wire(m, &np);
                    pp = np;
                    become_spinning(m);
                    continue 'top;
                }
            }
        }
        // Before parking: if Gs wait on fds or timers, one M blocks in netpoll until
        // the soonest timer (Go's lastpoll protocol: LASTPOLL is 0 while it does).
        // Without a poller it sleeps on a note instead (see netpoll.rs: timers
        // work without fds).
        let poll_until = timer::earliest();
        if (poll_until != 0 || (netpoll::inited() && netpoll::WAITERS.load(Ordering::Acquire) > 0))
            && netpoll::LASTPOLL.swap(0, Ordering::AcqRel) != 0
        {
            let now = nanotime();
            let delay = if poll_until == 0 {
                -1
            } else {
                (poll_until - now).max(0)
            };
            netpoll::POLL_UNTIL.store(poll_until, Ordering::Release);
            let mut list = GQueue::new();
            if !stopping() {
                netpoll::netpoll(delay, &mut list);
            }
            netpoll::POLL_UNTIL.store(0, Ordering::Release);
            netpoll::LASTPOLL.store(nanotime(), Ordering::Release);
            match p::pidleget_live(true) {
                None => inject(&mut list, None),
                Some(mut np) => {
                    p::wire(m, &np);
                    inject(&mut list, Some(&mut np));
                    pp = np;
                    // Timers of any P may be due: look as a spinning M (stealing
                    // runs other Ps' timers).
                    become_spinning(m);
                    continue 'top;
                }
            }
        } else if poll_until != 0 {
            // Somebody else polls: make sure it wakes up for our timer.
            let until = netpoll::POLL_UNTIL.load(Ordering::Acquire);
            if until == 0 || until > poll_until {
                netpoll::netpoll_break();
            }
        }
        pp = stopm(m)?;
    }
}

/// Most Gs that runnext hands on in a row within one time slice while sysmon is not
/// running (it could not get a thread). Two Gs that wake each other (a channel
/// ping-pong) would otherwise keep the slice between them for ever. With sysmon, as in
/// Go, the slice ends by preemption after 10 ms instead: cutting it sooner would give
/// such a pair a far smaller share of the P than a G that computes (TestPingPongHog).
const RUNNEXT_STREAK_MAX: u32 = 64;

/// Ends a long runnext streak when no preemption will: the G goes to the tail, and
/// the ring's head runs. Inlined into every pick (a store or an increment); the end
/// of a streak is cold.
#[inline(always)]
fn fair(pp: &mut HeldP, x: (*mut G, bool)) -> (*mut G, bool) {
    if !x.1 {
        pp.core().runnext_streak = 0;
        return x;
    }
    let n = pp.core().runnext_streak + 1;
    if n < RUNNEXT_STREAK_MAX {
        pp.core().runnext_streak = n;
        return x;
    }
    end_streak(pp, x, n)
}

#[cold]
#[inline(never)]
fn end_streak(pp: &mut HeldP, x: (*mut G, bool), n: u32) -> (*mut G, bool) {
    if super::sysmon::running() {
        // Preemption ends the slice: count afresh (so that this is not called again
        // on every pick of a long streak).
        pp.core().runnext_streak = 0;
        return x;
    }
    if pp.p().runq.is_empty() {
        pp.core().runnext_streak = n;
        return x;
    }
    pp.core().runnext_streak = 0;
    pp.runqput(x.0, false);
    match pp.runqget() {
        Some((g, _)) => (g, false),
        None => x,
    }
}

/// Gives up a P beyond gomaxprocs: its queued Gs go to the global queue.
fn retire_surplus_p(m: &M, mut pp: HeldP) {
    stop_spinning(m);
    p::unwire(m, &pp);
    shed_surplus(&mut pp);
    let mut s = SCHED.lock();
    p::release_to_pool(&mut s, pp);
}

/// A P beyond gomaxprocs gives away its work: queued Gs to the global queue (with a
/// wakeup for them), timers to P0, which always lives.
fn shed_surplus(pp: &mut HeldP) {
    p::shed(pp);
    // Always: besides the Gs just moved, the global queue may hold work this M was
    // about to take; it stops looking now, so another M must (a wakeup dropped here
    // once left 256 queued Gs with every M parked).
    wakep_global();
}

/// The M stops counting as a spinner (it found work, or gives up looking).
fn stop_spinning(m: &M) {
    if m.spinning.swap(false, Ordering::Relaxed) && NMSPINNING.fetch_sub(1, Ordering::SeqCst) <= 0 {
        super::throw("stop_spinning: negative nmspinning");
    }
}

fn stopping() -> bool {
    // Lock-free view; the authoritative check happens under the lock in stopm.
    super::run_state() != super::RunState::Running || SHUTTING_DOWN.load(Ordering::Acquire)
}

/// Set by rt_shutdown while it stops the Ms.
pub static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Host threads (adopted Ms) inside rt_schedule or rt_main, where they may hold and
/// hand back a P at any moment. rt_shutdown waits for them to leave before it frees
/// the Ps: an M that saw the shutdown could otherwise still be putting its P back in
/// the pool, under the sched lock, after the Ps were freed (valgrind saw that write).
static IN_SCHEDULER: AtomicU32 = AtomicU32::new(0);

/// Bumped in a fork child, where IN_SCHEDULER starts again from 0: the parent's
/// threads that it counted do not exist there, and a stay that began before the fork
/// (the forking thread's own) must not be taken off the child's count.
static IN_SCHEDULER_EPOCH: AtomicU32 = AtomicU32::new(0);

/// An adopted M's stay in rt_schedule or rt_main (see [`IN_SCHEDULER`]); holds the
/// epoch it was counted in.
struct InScheduler(u32);

impl InScheduler {
    /// Error::Shutdown if rt_shutdown has begun: then the caller must not start.
    fn enter() -> Result<InScheduler> {
        let stay = InScheduler(IN_SCHEDULER_EPOCH.load(Ordering::Relaxed));
        // SeqCst, with rt_shutdown's fence between its SHUTTING_DOWN store and its
        // load of the count: either it sees us counted, or we see it stopping.
        IN_SCHEDULER.fetch_add(1, Ordering::SeqCst);
        if SHUTTING_DOWN.load(Ordering::SeqCst) {
            return Err(Error::Shutdown);
        }
        Ok(stay)
    }
}

impl Drop for InScheduler {
    fn drop(&mut self) {
        if self.0 == IN_SCHEDULER_EPOCH.load(Ordering::Relaxed)
            && IN_SCHEDULER.fetch_sub(1, Ordering::AcqRel) == 1
        {
            futex_wake(&IN_SCHEDULER, i32::MAX);
        }
    }
}

/// In a fork child (its only thread, before rt_init starts the new runtime): no
/// host thread is inside the scheduler any more, nor making a G.
pub fn forget_schedulers_after_fork() {
    IN_SCHEDULER_EPOCH.fetch_add(1, Ordering::Relaxed);
    IN_SCHEDULER.store(0, Ordering::Relaxed);
    MAKING_G.store(0, Ordering::Relaxed);
    NO_NEW_GS.store(false, Ordering::Relaxed);
    MAIN_EXITS.store(0, Ordering::Relaxed);
}

/// Calls that are making a G from outside any G (rt_go on a foreign thread or an
/// M's g0, rt_main's G). A G's own rt_go needs no count: rt_shutdown waits for that
/// G, which is alive until its rt_go returned. Outside a G, the new G is counted as
/// live only once it is queued, so rt_shutdown could see no G, free every G (the
/// half-made one too) and let the caller queue freed memory, which a later runtime
/// then ran (t_shutdown_racing_foreign_go). rt_shutdown now closes the door to such
/// calls ([`NO_NEW_GS`]), waits for this count to reach 0 and looks for Gs again.
static MAKING_G: AtomicU32 = AtomicU32::new(0);

/// Set by rt_shutdown once it saw no G: calls outside a G may not make one now.
/// Cleared if a G was made meanwhile (rt_shutdown then waits for it) and at the end
/// of the shutdown, after the state says Stopped.
pub static NO_NEW_GS: AtomicBool = AtomicBool::new(false);

/// A call counted in [`MAKING_G`], with the epoch it was counted in (as
/// [`InScheduler`]).
struct MakingG(u32);

impl MakingG {
    /// Error::Shutdown if rt_shutdown has closed the door or finished: no G may be
    /// made now.
    fn enter() -> Result<MakingG> {
        let stay = MakingG(IN_SCHEDULER_EPOCH.load(Ordering::Relaxed));
        // SeqCst, with rt_shutdown's fence between its NO_NEW_GS store and its load
        // of the count: either it sees us counted, or we see the door closed. A
        // NO_NEW_GS cleared by the end of a shutdown is read with the Stopped state
        // stored before it.
        MAKING_G.fetch_add(1, Ordering::SeqCst);
        if NO_NEW_GS.load(Ordering::SeqCst) || super::run_state() != super::RunState::Running {
            return Err(Error::Shutdown);
        }
        Ok(stay)
    }
}

impl Drop for MakingG {
    fn drop(&mut self) {
        if self.0 == IN_SCHEDULER_EPOCH.load(Ordering::Relaxed)
            && MAKING_G.fetch_sub(1, Ordering::AcqRel) == 1
        {
            futex_wake(&MAKING_G, i32::MAX);
        }
    }
}

/// rt_shutdown, once NO_NEW_GS is set: waits until no call is making a G from
/// outside any G, or until `deadline` (nanotime; < 0: none). Whether they all left.
pub fn wait_no_g_makers(deadline: i64) -> bool {
    core::sync::atomic::fence(Ordering::SeqCst);
    super::note::futex_wait_zero(&MAKING_G, deadline)
}

/// rt_shutdown, once SHUTTING_DOWN is set: waits until no host thread is inside
/// rt_schedule or rt_main, or until `deadline` (nanotime; < 0: none). Whether they
/// all left.
pub fn wait_schedulers_gone(deadline: i64) -> bool {
    core::sync::atomic::fence(Ordering::SeqCst);
    super::note::futex_wait_zero(&IN_SCHEDULER, deadline)
}

/// The rare conditions that keep a G-to-G switch off its fast path, one bit each, so
/// that rt_gosched tests them with one load: MRT_DEBUG=migrate ([`DEBUG_MIGRATE`]),
/// rt_shutdown at work ([`SHUTTING_DOWN`]), a sanitized host (`sanitizer::on`). Each
/// bit mirrors its own flag, which stays the authority for everyone else; it is set
/// (or cleared) wherever the flag is.
pub static SWITCH_SLOW: AtomicU32 = AtomicU32::new(0);
pub(crate) const SLOW_MIGRATE: u32 = 1;
pub(crate) const SLOW_SHUTDOWN: u32 = 2;
pub(crate) const SLOW_SANITIZER: u32 = 4;

/// Sets or clears one [`SWITCH_SLOW`] bit.
pub fn set_switch_slow(bit: u32, on: bool) {
    if on {
        SWITCH_SLOW.fetch_or(bit, Ordering::Release);
    } else {
        SWITCH_SLOW.fetch_and(!bit, Ordering::Release);
    }
}

/// Runs `gp` on this M, which holds `pp`, until it switches back, then does what it
/// asked. While the G runs, `pp` rests in the M (the G's own calls into the runtime
/// use it there); afterwards it stays there, unless the G gave it up. Returns a G to
/// run right away (a park whose unlock callback refused, a G back from a system
/// call), if any.
fn execute(m: &M, mut pp: HeldP, gp: *mut G, inherit: bool) -> Option<*mut G> {
    // SAFETY: gp came off a run queue: Runnable, ours now.
    let g = unsafe { &mut *gp };
    if g.status() != GStatus::Runnable {
        // A G queued twice, or run while parked: its stack would be used twice.
        super::throw("execute: bad g status (not runnable)");
    }
    if g.needs_stack() && g::bind_stack(&mut pp, g).is_err() {
        // No stack can be had now: the G waits for one to be freed (a G's exit, or
        // sysmon's next look) rather than going straight back to the queue, where
        // this M would take it again at once, for as long as none is freed.
        g::stack_wait(gp);
        m.put_p(pp);
        return None;
    }
    g.m = m as *const M as *mut M;
    g.set_status(GStatus::Running);
    g.preempt.store(false, Ordering::Relaxed);
    m.curg.store(gp, Ordering::Release);
    if !inherit {
        let t = &pp.p().schedtick;
        t.store(t.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
    bump(Some(&mut pp), |c| &c.switches);
    m.put_p(pp);
    super::trace::go_start(m, gp);
    // SAFETY: on m's g0, gp Running and bound to m.
    unsafe { switch_to(m, gp) };
    // Back on g0: the context of the G that switched here is saved. It may not be
    // `gp`: gp may have yielded straight to another G (see g::gosched).
    let gp = m.curg.swap(ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: the G that just switched to g0 is ours until we act on it.
    let g = unsafe { &mut *gp };
    let action = m.action.replace(Action::None);
    super::trace::go_stop_action(m, gp, &action);
    match action {
        Action::Yield | Action::YieldGlobal | Action::Preempt => {
            g.m = ptr::null_mut();
            g.set_status(GStatus::Runnable);
            let global = !matches!(action, Action::Yield);
            if matches!(action, Action::YieldGlobal) {
                g.avoid_m.store(m as *const M as *mut M, Ordering::Relaxed);
            }
            // SAFETY: on the M's own thread; runqput reaches no other use of its P.
            let queued = !global
                && unsafe { m.held_mut() }
                    .map(|pp| pp.runqput(gp, false))
                    .is_some();
            if !queued {
                globrunqput(gp);
                wakep_global();
            }
            None
        }
        Action::Park(unlock, arg) => park(m, g, GStatus::Waiting, |g| match unlock {
            // SAFETY: the callback a channel or sync primitive passed for this park,
            // called on g0 with the parking G once it is marked waiting.
            Some(f) => unsafe { f(g, arg) },
            None => true,
        }),
        Action::ParkHost(unlock, arg) => {
            // Read while the G is still ours: once it is waiting, a waker may resume it.
            let h = g.handle as *mut c_void;
            park(m, g, GStatus::HostWaiting, |_| match unlock {
                // SAFETY: the host's rt_parkfn, called on g0 with the parking G's
                // handle once it is marked waiting, as rt_park documents.
                Some(f) => super::sanitizer::host_call(|| unsafe { f(h, arg) }),
                None => true,
            })
        }
        Action::Exit => {
            // SAFETY: on the M's own thread; gdestroy only fills the P's caches.
            let mainm = gdestroy(m, unsafe { m.held_mut() }, gp);
            if !mainm.is_null() {
                main_g_exited(mainm);
            }
            None
        }
        Action::ExitSyscall => exitsyscall0(m, gp),
        Action::None => super::throw("execute: G switched to g0 without an action"),
    }
}

/// execute's part of a park: see [`park_commit_on`]. Returns the G to resume at once
/// if the callback refused the park.
#[inline]
fn park(m: &M, g: &mut G, st: GStatus, unlock: impl FnOnce(*mut G) -> bool) -> Option<*mut G> {
    let gp: *mut G = g;
    if park_commit_on(m, g, st, unlock) {
        None
    } else {
        Some(gp)
    }
}

/// The second half of every park, once the G's context is saved (on g0, or on the G
/// it switched to directly): marks it waiting (`st`: Waiting for the library's own
/// parks, HostWaiting for rt_park, which only rt_ready wakes) and runs its unlock
/// callback, with `in_park_cb` set so that rt_releasep and rt_schedule refuse
/// meanwhile. Returns false, with the G Runnable again, if the callback refused the
/// park.
#[inline]
pub fn park_commit_on(m: &M, g: &mut G, st: GStatus, unlock: impl FnOnce(*mut G) -> bool) -> bool {
    let gp: *mut G = g;
    g.m = ptr::null_mut();
    g.set_status(st);
    m.runs_ended.set(m.runs_ended.get() + 1);
    // SAFETY: on the M's own thread; the borrow ends before the callback.
    if let Some(pp) = unsafe { m.held_mut() } {
        bump(Some(pp), |c| &c.parks);
    }
    // The P rests in the M: the callback may ready Gs onto it.
    m.in_park_cb.set(true);
    let keep = unlock(gp);
    m.in_park_cb.set(false);
    if !keep {
        g.set_status(GStatus::Runnable);
    }
    keep
}

/// The slow path of rt_exitsyscall, on g0: find a P for the G or queue it.
fn exitsyscall0(m: &M, gp: *mut G) -> Option<*mut G> {
    // SAFETY: the G is ours (it switched to us).
    let g = unsafe { &mut *gp };
    g.m = ptr::null_mut();
    g.set_status(GStatus::Runnable);
    if let Some(pp) = p::pidleget_live(false) {
        p::wire(m, &pp);
        m.put_p(pp);
        return Some(gp);
    }
    globrunqput(gp);
    if m.lockedg.load(Ordering::Relaxed).is_null() {
        wakep_global();
    }
    // else our locked G waits for a P that someone hands to us (stoplockedm).
    None
}

/// Go's stoplockedm: this M runs only its locked G; hand off the P and sleep until
/// someone hands one back with the G runnable (returned; None: shutdown).
fn stoplockedm(m: &M) -> Option<HeldP> {
    if let Some(pp) = releasep_reserved(m) {
        handoffp(pp);
    }
    loop {
        m.park.sleep();
        m.park.clear();
        let np = m.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
        if !np.is_null() {
            return Some(p::acquire_nextp(m, np));
        }
        // Shutting down, or rt_main's wired G was found deadlocked (its rt_main
        // returns RT_EDEADLK).
        if stopping() || super::deadlock::is_deadlocked(m) {
            return None;
        }
    }
}

/// Hands `gp`, wired to another M that waits for it in stoplockedm, to that M
/// together with `pp`.
fn handoff_locked(gp: *mut G, pp: HeldP) {
    // SAFETY: gp is runnable and its locked M is live (it waits in stoplockedm).
    let lm = unsafe { &*(*gp).lockedm.load(Ordering::Acquire) };
    lm.locked_next.store(gp, Ordering::Release);
    lm.nextp.store(pp.into_raw(), Ordering::Release);
    lm.park.wakeup();
}

/// Go's startlockedm: `gp` is wired to another M: give that M our P and park.
fn startlockedm(m: &M, pp: HeldP, gp: *mut G) -> Option<HeldP> {
    handoff_locked(gp, releasep(m, pp));
    stopm(m)
}

/// Go's entry check of schedule and stopm: an M that switches Gs or parks while it
/// holds a runtime lock would deadlock the next M that takes it.
fn check_no_locks(what: &str) {
    if super::note::locks_held() != 0 {
        super::throw(what);
    }
}

/// Go's schedule loop: runs Gs on this M (which holds a P) until it must leave
/// (shutdown, retirement, its locked G exited, rt_main's G exited).
pub fn schedule(m: &M) {
    let mut next: Option<*mut G> = None;
    loop {
        check_no_locks("schedule: holding locks");
        let lg = m.lockedg.load(Ordering::Acquire);
        // rt_main's M leaves once its G is done, but not while a G wired to it
        // (rt_lockosthread) still lives: that G runs only on this thread, so the
        // thread serves it until it unlocks or exits (else it would wait forever
        // for a thread that went back to the host, or exited).
        if m.exiting.load(Ordering::Acquire)
            || (m.main_done.load(Ordering::Acquire) && lg.is_null())
        {
            // A G handed back to us to run next (its park callback said resume, or
            // it left a system call with a P) is queued, not dropped: the P we give
            // up below (handoffp) goes to an M that runs it.
            if let Some(gp) = next.take() {
                globrunqput(gp);
                wakep_global();
            }
            break;
        }
        let (pp, gp, inherit) = if let Some(gp) = next.take() {
            match m.take_p() {
                Some(pp) => (pp, gp, true),
                None => {
                    // No P to run it with: another M will. A host's park callback
                    // used to cause this with rt_releasep, which now refuses there
                    // (in_park_cb); kept so that losing the P is never fatal.
                    globrunqput(gp);
                    wakep_global();
                    continue;
                }
            }
        } else if !lg.is_null() {
            // This M runs only its locked G: hand off the P and wait until whoever
            // finds the G runnable hands it over with a P (each handover is one
            // wakeup of our note, consumed here).
            let Some(pp) = stoplockedm(m) else {
                break;
            };
            if m.locked_next.swap(ptr::null_mut(), Ordering::AcqRel) != lg {
                super::throw("stoplockedm: woken without the locked G");
            }
            (pp, lg, false)
        } else {
            let pp = match m.take_p() {
                Some(pp) => pp,
                None => match stopm(m) {
                    Some(pp) => pp,
                    None => break,
                },
            };
            match find_runnable(m, pp, Wait::Block) {
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
            match startlockedm(m, pp, gp) {
                Some(np) => m.put_p(np),
                None => break,
            }
            continue;
        }
        next = execute(m, pp, gp, inherit);
    }
    // Left while spinning (shutdown): stop counting as a spinner.
    stop_spinning(m);
    if let Some(pp) = releasep_reserved(m) {
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
            let pp = p::acquire_nextp(mm, np);
            mm.put_p(pp);
        } else {
            // The start function acquired a P of its own: keep that one.
            // SAFETY: np was reserved for this M, which does not take it.
            let np = unsafe { HeldP::from_raw(np) };
            let mut s = SCHED.lock();
            p::release_to_pool(&mut s, np);
        }
    }
    if mm.p().is_null() {
        match stopm(mm) {
            Some(pp) => mm.put_p(pp),
            None => return,
        }
    }
    schedule(mm);
}

/// How rt_schedule runs the scheduler.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SchedMode {
    /// Run the runnable Gs until none is left for this P; the M keeps its P.
    Once,
    /// Loop like a runtime-created M until rt_shutdown.
    Forever,
}

/// rt_schedule: run the scheduler on the calling M with its P. Returns how many G
/// runs ended on this M (Once: an exit or a park each, a yield not counted) or how
/// many switches its Ps made (Forever).
pub fn rt_schedule(mode: SchedMode) -> Result<i32> {
    let m = tls::getm();
    if m.is_null() {
        return Err(Error::Inval);
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    if !g::curg().is_null() || mm.in_park_cb.get() {
        return Err(Error::Perm);
    }
    // Counted first: rt_shutdown takes an adopted M's P only once no host thread is
    // inside (wait_schedulers_gone), so a P seen below stays ours for the call.
    let _stay = InScheduler::enter()?;
    if mm.p().is_null() {
        // rt_shutdown may have taken it between the caller's rt_acquirep and now
        // (it unwires adopted Ms before it marks the runtime stopped): that is the
        // shutdown's doing, not a call on an M without a P
        // (t_schedule_shutdown_takes_p).
        // Acquire: seeing the P gone, we see the SHUTTING_DOWN set before it, or its
        // clearing, after which the Stopped state (stored before that) shows.
        core::sync::atomic::fence(Ordering::Acquire);
        if SHUTTING_DOWN.load(Ordering::Acquire) || super::run_state() != super::RunState::Running {
            return Err(Error::Shutdown);
        }
        return Err(Error::Inval);
    }
    match mode {
        SchedMode::Once => {
            // Counted as G runs that ended here (an exit or a park; not a yield),
            // whether through g0 or straight into the next G.
            let before = mm.runs_ended.get();
            let ran = || (mm.runs_ended.get() - before).min(i32::MAX as u64) as i32;
            let mut next = None;
            loop {
                let Some(pp) = mm.take_p() else {
                    // The M lost its P: a G left a system call on this M after
                    // sysmon had handed the P on (a park callback cannot give it
                    // away: rt_releasep refuses there). The host still gets a P
                    // back: the first that frees up, or the one handed over with
                    // its locked G, which runs first.
                    if let Some(gp) = next.take() {
                        globrunqput(gp);
                        wakep_global();
                    }
                    next = regain_p(mm)?;
                    if next.is_none() {
                        return Ok(ran());
                    }
                    continue;
                };
                let (pp, gp, inherit) = match next.take() {
                    Some(gp) => (pp, gp, true),
                    None => match find_runnable(mm, pp, Wait::Poll) {
                        Some(x) => x,
                        None => return Ok(ran()),
                    },
                };
                if mm.spinning.load(Ordering::Relaxed) {
                    resetspinning(mm);
                }
                // SAFETY: a live runnable G.
                let lm = unsafe { (*gp).lockedm.load(Ordering::Acquire) };
                if !lm.is_null() && !ptr::eq(lm, mm) {
                    // Wired elsewhere: its M needs a P, but the host keeps ours.
                    // Hand it an idle one, or leave the G to an M that can.
                    match p::pidleget_live(true) {
                        Some(np) => handoff_locked(gp, np),
                        None => {
                            globrunqput(gp);
                            wakep_global();
                        }
                    }
                    mm.put_p(pp);
                    return Ok(ran());
                }
                next = execute(mm, pp, gp, inherit);
                let lg = mm.lockedg.load(Ordering::Acquire);
                if next.is_none() && !lg.is_null() {
                    // The G wired itself to this M (rt_lockosthread) and parked. It
                    // runs only on this thread, so the host's M waits for it, as a
                    // runtime M would (stoplockedm: our P goes to work elsewhere,
                    // and a P comes back with the G), until it unlocks or exits;
                    // returning now would leave it to a thread that went back to
                    // the host, or exited: it would never run again.
                    let Some(pp) = stoplockedm(mm) else {
                        return Err(Error::Shutdown);
                    };
                    if mm.locked_next.swap(ptr::null_mut(), Ordering::AcqRel) != lg {
                        super::throw("rt_schedule: woken without the locked G");
                    }
                    mm.put_p(pp);
                    next = Some(lg);
                }
            }
        }
        SchedMode::Forever => {
            let before = total(|c| &c.switches);
            // Until rt_shutdown: an rt_newm start function's loop must not end when
            // its M has been idle for the retirement time (t_sched_forever_not_retired).
            let was = mm.host_loop.swap(true, Ordering::Relaxed);
            schedule(mm);
            mm.host_loop.store(was, Ordering::Relaxed);
            Ok((total(|c| &c.switches).saturating_sub(before)).min(i32::MAX as u64) as i32)
        }
    }
}

/// The calling M (holding no P) takes an idle P, waiting while every P is busy (a
/// spinning M may hold one only for a moment). Error::Shutdown if the runtime stops.
fn acquire_idle_p(m: &M) -> Result<()> {
    match regain_p(m)? {
        None => Ok(()),
        // Only an M with a locked G is handed one (rt_main's M has none yet).
        Some(_) => super::throw("acquire_idle_p: handed a locked G"),
    }
}

/// The calling M (holding no P) gets one back: an idle P from the pool, or the P
/// that another M hands it together with its locked G (startlockedm), which is then
/// returned to be run next. Waits while every P is busy. Error::Shutdown if the
/// runtime stops.
fn regain_p(m: &M) -> Result<Option<*mut G>> {
    let mut tries = 0u32;
    loop {
        let np = m.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
        if !np.is_null() {
            // Handed over with our locked G: the waker stored both before waking our
            // note; consume that wakeup so the next sleep on the note is not cut short.
            m.park.sleep();
            m.park.clear();
            let pp = p::acquire_nextp(m, np);
            m.put_p(pp);
            let lg = m.locked_next.swap(ptr::null_mut(), Ordering::AcqRel);
            return Ok((!lg.is_null()).then_some(lg));
        }
        let pp = {
            let mut s = SCHED.lock();
            s.check_running()?;
            p::pidleget(&mut s)
        };
        if let Some(pp) = pp {
            p::wire(m, &pp);
            m.put_p(pp);
            return Ok(None);
        }
        tries += 1;
        if tries < 100 {
            // SAFETY: no memory effects.
            unsafe { libc::sched_yield() };
        } else {
            super::time::os_sleep(50_000);
        }
    }
}

/// rt_main: run fn(arg) as a G, the calling thread working as an M until it exits.
pub fn rt_main(f: super::m::RtFn, arg: *mut c_void, attr: &g::GAttr) -> Result<()> {
    if f.is_none() {
        return Err(Error::Inval);
    }
    if !g::curg().is_null() {
        return Err(Error::Perm);
    }
    let mut m = tls::getm();
    if m.is_null() {
        m = super::m::adopt()?;
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    if !mm.p().is_null() {
        return Err(Error::Already);
    }
    let _stay = InScheduler::enter()?;
    mm.main_done.store(false, Ordering::Release);
    // The calling thread works as an M with a P: take an idle one, then queue the
    // main G on it, so that this thread runs it.
    acquire_idle_p(mm)?;
    let gp = match newproc1(f, arg, m, attr) {
        Ok((gp, _)) => gp,
        Err(e) => {
            if let Some(pp) = releasep_reserved(mm) {
                handoffp(pp);
            }
            return Err(e);
        }
    };
    schedule(mm);
    let done = mm.main_done.swap(false, Ordering::AcqRel);
    if super::deadlock::take(m) {
        return Err(Error::Deadlk);
    }
    if done {
        // TSan: everything the main G did happens before rt_main returns.
        super::sanitizer::acquire(super::sanitizer::Edge::Go, gp.cast());
        Ok(())
    } else {
        Err(Error::Shutdown)
    }
}

// ---- proc.go's G operations: newproc, gosched, gopark, goready ----

/// Go's newproc: a new runnable G running fn(arg). From a G it goes to runnext of
/// the current P; from anywhere else to the global queue. Then an idle P is woken.
#[cfg(test)]
pub fn newproc(f: RtFn, arg: *mut c_void) -> Result<*mut G> {
    newproc1(f, arg, ptr::null_mut(), &g::GAttr::default()).map(|(gp, _)| gp)
}

/// newproc with rt_go_ex's attributes, set before the G is queued. Returns the G's
/// id, read before the G was queued: by the time the caller looks, the G may have
/// run, exited and been freed by an rt_shutdown or reused for another G (rt_go read
/// the id from the descriptor after newproc: t_shutdown_racing_foreign_go under
/// valgrind saw it read freed memory, and a reused descriptor gives another G's id).
pub fn newproc_attr(f: RtFn, arg: *mut c_void, attr: &g::GAttr) -> Result<i64> {
    newproc1(f, arg, ptr::null_mut(), attr).map(|(_, id)| id)
}

/// newproc for rt_main: the G goes to runnext of the caller's P (`mainm` holds it),
/// which waits for it. The G and its id (see [`newproc_on`]).
pub fn newproc1(
    f: RtFn,
    arg: *mut c_void,
    mainm: *mut M,
    attr: &g::GAttr,
) -> Result<(*mut G, i64)> {
    if f.is_none() {
        return Err(Error::Inval);
    }
    preempt_point();
    // The calling G (null: a foreign thread or an M's g0), read once: the TLS slot
    // stays ours for this call (a preemption above has come and gone).
    let cur = g::curg();
    // Outside any G nothing keeps rt_shutdown's wait for the Gs from ending while
    // this G is being made: such a call is counted (see [`MAKING_G`]).
    let _making = if cur.is_null() {
        Some(MakingG::enter()?)
    } else {
        if SHUTTING_DOWN.load(Ordering::Acquire) {
            return Err(Error::Shutdown);
        }
        None
    };
    // From a G (or rt_main's M on g0) the new G goes to the caller's P; from a
    // foreign thread or an M without a P, to the global queue.
    let m = if !cur.is_null() {
        // SAFETY: the running G's M is live while it runs.
        unsafe { (*cur).m }
    } else if mainm.is_null() {
        ptr::null_mut()
    } else {
        tls::getm()
    };
    if m.is_null() && !super::sysmon::running() {
        // A G from outside any G waits in the global queue for an M, and when its
        // wakep cannot make one (thread creation failed and backs off), only sysmon
        // tries again. Without sysmon (its own thread could not be made) and without
        // any M to wake, such a G would wait for ever, and so would rt_shutdown for
        // it: then sysmon's thread is tried at once, backoff or not, and if it still
        // cannot be made the G is refused, before anything is made. (A cold path:
        // sysmon runs from the first G on.)
        super::sysmon::ensure_started();
        if !super::sysmon::running() && !super::m::any_runtime_m() {
            super::sysmon::start_now();
            if !super::sysmon::running() {
                return Err(super::sysmon::start_error());
            }
        }
    }
    let made = if m.is_null() {
        newproc_on(None, ptr::null(), cur, f, arg, mainm, attr)?
    } else {
        // SAFETY: the calling thread's live M. Its P is borrowed in place: newproc_on
        // only queues the G and may wake or start another M, none of which touches
        // this M's P.
        newproc_on(unsafe { (*m).held_mut() }, m, cur, f, arg, mainm, attr)?
    };
    super::sysmon::ensure_started();
    Ok(made)
}

/// newproc with the caller's P, if it holds one, from the calling G `cur` (null:
/// none) on M `m` (the calling thread's, null: none): the G and its goid.
#[inline]
fn newproc_on(
    mut pp: Option<&mut HeldP>,
    m: *const M,
    cur: *mut G,
    f: RtFn,
    arg: *mut c_void,
    mainm: *mut M,
    attr: &g::GAttr,
) -> Result<(*mut G, i64)> {
    let gp = g::galloc(pp.as_deref_mut().map(|pp| &mut pp.core().local))?;
    // SAFETY: a free G, exclusively ours until queued.
    let g = unsafe { &mut *gp };
    g.prepare(
        f,
        arg,
        mainm,
        pp.as_deref_mut().map(|pp| &mut pp.core().local),
    );
    g.set_attr(attr.async_preempt, attr.name);
    g.creator = super::stats::goid_of(cur);
    g.create_pc = attr.caller;
    super::trace::go_create(m, cur, gp);
    // Once queued, the G is no longer ours to read (unless `mainm` waits for it).
    let id = g.goid;
    match pp {
        Some(pp) => {
            bump(Some(&mut *pp), |c| &c.gs_created);
            pp.runqput(gp, true);
            wakep();
        }
        None => {
            bump(None, |c| &c.gs_created);
            globrunqput(gp);
            wakep_global();
        }
    }
    Ok((gp, id))
}

/// rt_gosched's whole path in the common case: a user G, not wired, none of the
/// rare conditions of [`SWITCH_SLOW`]. It marks the G as inside libmrt (as the FFI
/// boundary would, see `preempt::RuntimeMark`) and yields as [`gosched`] does.
/// Returns false, having done nothing, when the call needs the general path
/// (`boundary` + [`gosched`]): a foreign thread or g0, MRT_DEBUG=migrate, a
/// sanitizer, rt_shutdown, a wired G.
#[inline(always)]
pub fn gosched_fast() -> bool {
    let gp = tls::getg();
    if gp.is_null() {
        return false;
    }
    // SAFETY: a non-null slot points at a live G; a user G is the one running here
    // (its M is live and holds a P), and it is ours while it runs.
    let g = unsafe { &mut *gp };
    if !g.is_user()
        || SWITCH_SLOW.load(Ordering::Relaxed) != 0
        || !g.lockedm.load(Ordering::Relaxed).is_null()
    {
        return false;
    }
    // Inside libmrt until the G returns to its caller: the preemption signal leaves
    // it alone (only this thread writes the count; the handler, on this thread,
    // reads it). The G comes back as itself, maybe on another thread.
    g.in_runtime
        .store(g.in_runtime.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    compiler_fence(Ordering::SeqCst);
    let done = super::no_unwind(|| {
        // SAFETY: g is the running G (its TLS slot), whose M is live while it runs;
        // this closure runs on that G before any switch.
        let m = unsafe { &*g.m };
        // SAFETY: on the M's own thread; the borrow ends at the switch (the slow
        // path lets go of it first).
        let Some(held) = (unsafe { m.held_mut() }) else {
            super::throw("gosched: running G without a P");
        };
        // The P, from the thread's guess (arch::tls_p_load): the chain of loads that
        // finds the next G then starts at the thread pointer, not at g and g.m. A
        // wrong guess (the first call on this M, or after the M changed P) is fixed
        // and the call takes the general path.
        let guess = arch::tls_p_load();
        if guess != held.as_ptr() {
            arch::tls_p_store(held.as_ptr());
            return false;
        }
        // SAFETY: guess is held's P (just compared), and arch::tls_p_load's value is
        // opaque to the compiler.
        let mut alias = unsafe { held.alias(guess) };
        let pp = &mut *alias;
        match pick_local_running(m, pp) {
            Pick::Empty => {}
            Pick::Slow => g::mcall(Action::Yield),
            Pick::Run(n, inherit) => switch_direct::<false>(m, pp, g, n, inherit),
        }
        true
    });
    compiler_fence(Ordering::SeqCst);
    // SAFETY: gp runs again (this is its own stack), so it is ours, as at entry.
    let c = unsafe { &(*gp).in_runtime };
    c.store(c.load(Ordering::Relaxed).wrapping_sub(1), Ordering::Relaxed);
    done
}

/// rt_gosched from a G: yield to the other runnable Gs (Go's goyield; under
/// MRT_DEBUG=migrate, through the global queue so that another M resumes it).
///
/// The common case switches straight to the next G of the local queue without
/// passing through g0: the yielding G is queued by the G that resumes
/// (`finish_switch`), once its context is saved, so no other M can pick it up
/// half-saved. Anything unusual (wired Gs, the global queue's turn, a G that needs a
/// stack) takes the general path through g0.
pub fn gosched() {
    if DEBUG_MIGRATE.load(Ordering::Relaxed) {
        g::mcall(Action::YieldGlobal);
        return;
    }
    let gp = tls::getg();
    // SAFETY: called from a running G: it and its M are live; the M holds a P.
    let (g, m) = unsafe { (&mut *gp, &*(*gp).m) };
    // The M's P, borrowed in place for the fast path: nothing below until the
    // switch reaches another use of it (the slow paths let go of it first).
    // SAFETY: on the M's own thread, per the above.
    let Some(pp) = (unsafe { m.held_mut() }) else {
        super::throw("gosched: running G without a P");
    };
    if !g.lockedm.load(Ordering::Relaxed).is_null() {
        g::mcall(Action::Yield);
        return;
    }
    match pick_local(m, pp) {
        // Nothing else to run: keep going.
        Pick::Empty => {}
        Pick::Slow => g::mcall(Action::Yield),
        Pick::Run(n, inherit) => switch_direct::<true>(m, pp, g, n, inherit),
    }
}

/// rt_checkpoint's fast path: whether the calling thread runs a G that sysmon asked
/// to give up its P. A TLS load, a null check, a load and a compare (g0's flag is
/// never set: sysmon marks the G an M runs, never its g0).
#[inline(always)]
pub fn preempt_requested() -> bool {
    let gp = tls::getg();
    // SAFETY: a non-null slot points at a live G (descriptors live until rt_shutdown).
    !gp.is_null() && unsafe { (*gp).preempt.load(Ordering::Relaxed) }
}

/// A preemption point inside the runtime's own G-side entry points (channel
/// operations, select, rt_go, rt_mutex_lock, rt_wg_wait, rt_ready), as Go checks at function
/// calls: a G marked for preemption goes to the global queue before it does anything,
/// so that a pair of Gs handing work to each other through runnext cannot keep their
/// P beyond a time slice.
#[inline(always)]
pub fn preempt_point() {
    if preempt_requested() {
        preempt_point_slow();
    }
}

#[cold]
#[inline(never)]
fn preempt_point_slow() {
    checkpoint();
}

/// rt_checkpoint once a request is seen: the G goes to the global queue and another
/// G gets the P (Go's gopreempt_m). Returns whether it yielded.
pub fn checkpoint() -> bool {
    let gp = g::curg();
    if gp.is_null() {
        return false;
    }
    // SAFETY: the running G is ours.
    if !unsafe { &*gp }.preempt.swap(false, Ordering::Relaxed) {
        return false;
    }
    g::mcall(Action::Preempt);
    true
}

/// What the fast paths of gosched and gopark_direct may run next on their P.
enum Pick {
    /// This G, straight from the running one; whether it inherits the time slice.
    Run(*mut G, bool),
    /// Nothing is runnable: not here, nor in the global queue.
    Empty,
    /// Something needs g0's scheduler: expired timers, the global queue's turn, a
    /// surplus P, a wired G, a G that cannot get a stack, or the M must leave its
    /// loop (rt_main's G exited elsewhere, rt_shutdown).
    Slow,
}

/// The fast paths' pick: the head of the P's own queue, in find_runnable's order,
/// when find_runnable would take it too; anything else is left to the scheduler.
#[inline(always)]
fn pick_local(m: &M, pp: &mut HeldP) -> Pick {
    if SHUTTING_DOWN.load(Ordering::Relaxed) {
        return Pick::Slow;
    }
    pick_local_running(m, pp)
}

/// pick_local once the caller has seen [`SWITCH_SLOW`] clear (so rt_shutdown is not
/// at work).
#[inline(always)]
fn pick_local_running(m: &M, pp: &mut HeldP) -> Pick {
    // schedule's own exit checks: an M that only ever switched straight from G to G
    // would otherwise never see them (rt_main would not return while a ping-pong pair
    // kept its M busy).
    if pp.p().id >= GOMAXPROCS.load(Ordering::Relaxed) || m.main_done.load(Ordering::Relaxed) {
        return Pick::Slow;
    }
    let t0 = pp.p().timers.timer0.load(Ordering::Acquire);
    if t0 != 0 && t0 <= nanotime() {
        return Pick::Slow;
    }
    if pp.p().schedtick.load(Ordering::Relaxed).is_multiple_of(61)
        && GLOBRUNQ_SIZE.load(Ordering::Relaxed) > 0
    {
        return Pick::Slow;
    }
    let Some(x) = pp.runqget() else {
        return if GLOBRUNQ_SIZE.load(Ordering::Relaxed) == 0 {
            Pick::Empty
        } else {
            Pick::Slow
        };
    };
    let (next, inherit) = fair(pp, x);
    // SAFETY: a queued G is runnable and ours now.
    let n = unsafe { &mut *next };
    if !n.lockedm.load(Ordering::Relaxed).is_null()
        || n.needs_stack() && g::bind_stack(pp, n).is_err()
    {
        // Not for the fast path: back at the head (runnext), so that g0, which hands a
        // wired G to its M, takes it next.
        pp.runqput(next, true);
        return Pick::Slow;
    }
    Pick::Run(next, inherit)
}

/// The switch of the fast paths: runs `next` (from pick_local) on this M in place of
/// the running `g`, which `next` finishes yielding or parking (g::finish_switch, as
/// set up by the caller in `m.pending`).
#[inline(always)]
fn switch_direct<const SAN: bool>(m: &M, pp: &mut HeldP, g: &mut G, next: *mut G, inherit: bool) {
    if !inherit {
        let t = &pp.p().schedtick;
        t.store(t.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
    bump(Some(pp), |c| &c.switches);
    // SAFETY: pick_local's G: runnable, ours, with a stack.
    let n = unsafe { &mut *next };
    n.m = g.m;
    n.set_status(GStatus::Running);
    n.preempt.store(false, Ordering::Relaxed);
    m.curg.store(next, Ordering::Release);
    m.pending_g.set(g);
    super::trace::go_switch(m, g, next);
    // SAFETY: g runs (on its own stack); n is Running, bound to this M, with a stack.
    unsafe { g::switch_g_to_g::<SAN>(g, n) };
}

/// How many exits ahead goexit_direct prefetches the G an exit will switch to.
const EXIT_AHEAD: u32 = 8;

/// goexit's fast path: when the P's own queue has a G to run, switches straight to it,
/// which recycles this G (gdestroy) once running; returns (to goexit's path through
/// g0) otherwise, or for a G whose exit is more than recycling (a wired G takes its
/// thread with it, rt_main's G wakes its M).
pub fn goexit_direct() {
    if DEBUG_MIGRATE.load(Ordering::Relaxed) {
        return;
    }
    let gp = tls::getg();
    // SAFETY: called from a running G: it and its M are live.
    let (g, m) = unsafe { (&mut *gp, &*(*gp).m) };
    if !g.lockedm.load(Ordering::Relaxed).is_null() || !g.mainm.is_null() {
        return;
    }
    // SAFETY: on the M's own thread; the borrow ends at the switch.
    let Some(pp) = (unsafe { m.held_mut() }) else {
        super::throw("goexit: running G without a P");
    };
    if let Pick::Run(n, inherit) = pick_local(m, pp) {
        // The Gs after the next one were likely queued long ago in a burst (a spawn
        // loop), their descriptors out of the cache: start fetching them while `n`
        // runs, EXIT_AHEAD exits ahead (a leaf G's run is shorter than a miss to
        // memory; the ones in between were fetched by the previous exits, usually),
        // and the one right after `n` (not fetched yet if the queue was just filled).
        // (Only here: a G that yields or parks hands over to Gs that ran lately.)
        let q = &pp.p().runq;
        arch::prefetch_lines(q.peek_hint() as *const u8, G_HOT_LINES);
        arch::prefetch_lines(q.peek_hint_at(EXIT_AHEAD - 1) as *const u8, G_HOT_LINES);
        // And what `n` reads first if it is new: its argument (the host's data).
        // SAFETY: pick_local's G: runnable and ours.
        let a = unsafe { &*n }.start_arg_hint();
        if !a.is_null() {
            arch::prefetch_lines(a, 1);
        }
        m.pending.set(g::Pending::Exit);
        switch_direct::<true>(m, pp, g, n, inherit);
        super::throw("goexit: a dead G was resumed");
    }
}

/// gopark: parks the current G; `unlock(g, arg)` runs on g0 once the G is marked
/// waiting; if it returns false the G resumes at once.
pub fn gopark(unlock: ParkFn, arg: *mut c_void) {
    g::mcall(Action::Park(unlock, arg));
}

/// gopark for an unlock callback that is short and needs no particular stack (it
/// releases a lock): when the P's own queue has a G to run, switches straight to it,
/// which runs the callback once this G's context is saved; else as gopark. If the
/// callback refuses the park, the G runs next on this P rather than at once.
pub fn gopark_direct(unlock: g::UnlockFn, arg: *mut c_void) {
    // One load for MRT_DEBUG=migrate, rt_shutdown and the sanitizers: the switch
    // below then skips their tests.
    let slow = SWITCH_SLOW.load(Ordering::Relaxed);
    if slow & SLOW_MIGRATE != 0 {
        return gopark(Some(unlock), arg);
    }
    let gp = tls::getg();
    // SAFETY: called from a running G: it and its M are live; the M holds a P.
    let (g, m) = unsafe { (&mut *gp, &*(*gp).m) };
    if !g.lockedm.load(Ordering::Relaxed).is_null() {
        return gopark(Some(unlock), arg);
    }
    // SAFETY: on the M's own thread; the borrow ends at the switch.
    let Some(pp) = (unsafe { m.held_mut() }) else {
        super::throw("gopark: running G without a P");
    };
    if slow != 0 {
        // A sanitizer or rt_shutdown: the general checks.
        return match pick_local(m, pp) {
            Pick::Run(n, inherit) => {
                m.pending.set(g::Pending::Park(unlock, arg));
                switch_direct::<true>(m, pp, g, n, inherit);
            }
            Pick::Empty | Pick::Slow => gopark(Some(unlock), arg),
        };
    }
    match pick_local_running(m, pp) {
        Pick::Run(n, inherit) => {
            m.pending.set(g::Pending::Park(unlock, arg));
            switch_direct::<false>(m, pp, g, n, inherit);
        }
        Pick::Empty | Pick::Slow => gopark(Some(unlock), arg),
    }
}

/// rt_park: gopark with the host's callback, which gets the G's handle.
pub fn gopark_host(unlock: g::HostParkFn, arg: *mut c_void) {
    g::mcall(Action::ParkHost(unlock, arg));
}

/// goready: makes a G the library parked (Waiting) runnable, on runnext of the
/// caller's P if it has one. `gp` is a live G; Error::Inval if it is not Waiting.
pub fn ready(gp: *mut G) -> Result<()> {
    // SAFETY: `gp` is a live G (our contract): descriptors live until rt_shutdown.
    if !set_runnable(unsafe { &*gp }) {
        return Err(Error::Inval);
    }
    queue_readied(gp);
    Ok(())
}

/// [`ready`] for a G whose waker is decided by a lock it parked under: a channel's
/// sudog, dequeued by the one counterpart (or close) that holds the channel's lock,
/// after the G, marked Waiting, released that lock (park_commit). Nobody else can
/// change its status meanwhile, so Waiting -> Runnable is a check and a release store,
/// not a locked compare-and-swap (one fewer per hand-off). Error::Inval if the G is
/// not Waiting (a runtime bug for the caller).
pub fn ready_dequeued(gp: *mut G) -> Result<()> {
    // SAFETY: `gp` is a live G (our contract): descriptors live until rt_shutdown.
    let g = unsafe { &*gp };
    if g.status.load(Ordering::Acquire) != GStatus::Waiting as u32 {
        return Err(Error::Inval);
    }
    g.set_status(GStatus::Runnable);
    queue_readied(gp);
    Ok(())
}

/// rt_ready: makes a G that the host parked with rt_park (HostWaiting) runnable.
/// `gp` is a live G (the host's handle was looked up in `greg`); Error::Inval if it
/// is not parked by rt_park: running, queued, or parked by the library itself (in a
/// channel, select, sleep, poll, rt_mutex or rt_wg), whose waker alone may wake it.
pub fn ready_host(gp: *mut G) -> Result<()> {
    // A preemption point, as the other G-side entry points: a G that loops readying
    // others must not keep them waiting on its own P for ever.
    preempt_point();
    // SAFETY: `gp` is a live G (our contract): descriptors live until rt_shutdown.
    let woke = unsafe { &*gp }
        .status
        .compare_exchange(
            GStatus::HostWaiting as u32,
            GStatus::Runnable as u32,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok();
    if !woke {
        return Err(Error::Inval);
    }
    queue_readied(gp);
    Ok(())
}

/// Queues a G just made Runnable by a waker, and wakes a P for it.
#[inline]
fn queue_readied(gp: *mut G) {
    super::trace::go_unblock(gp, super::trace::Src::Waker);
    if queue_runnable(gp, true) {
        wakep();
    } else {
        wakep_global();
    }
}

/// Waiting -> Runnable; false if the G was not parked by the library.
#[inline]
fn set_runnable(g: &G) -> bool {
    g.status
        .compare_exchange(
            GStatus::Waiting as u32,
            GStatus::Runnable as u32,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// Queues a runnable G on the caller's P (runnext with `next`) if the calling
/// thread is an M holding one (returns true), else on the global queue.
#[inline]
fn queue_runnable(gp: *mut G, next: bool) -> bool {
    let m = tls::getm();
    // SAFETY: the calling thread's M; runqput reaches no other use of its P.
    let local = !m.is_null()
        && unsafe { (*m).held_mut() }
            .map(|pp| pp.runqput(gp, next))
            .is_some();
    if !local {
        globrunqput(gp);
    }
    local
}

/// goready onto a P the caller holds by value (a timer the scheduler ran): the G
/// must be parked.
pub fn ready_on(pp: &mut HeldP, gp: *mut G, next: bool) {
    // SAFETY: the scheduler readies only Gs that parked waiting for the event.
    if !set_runnable(unsafe { &*gp }) {
        super::throw("goready: the G to wake is not parked");
    }
    super::trace::go_unblock(gp, super::trace::Src::Timer);
    pp.runqput(gp, next);
}

/// Makes a list of Gs readied by netpoll runnable: onto `pp` if the caller holds
/// one, else the global queue (in one batch); then wakes Ms for them (Go's
/// injectglist). Allocates nothing.
pub fn inject(list: &mut GQueue, pp: Option<&mut HeldP>) {
    if list.is_empty() {
        return;
    }
    super::trace::netpoll(list.len());
    let mut ready = GQueue::new();
    while let Some(gp) = list.pop_front() {
        // SAFETY: netpoll hands over parked Gs whose waiter it won.
        if !set_runnable(unsafe { &*gp }) {
            super::throw("netpoll: the G to wake is not parked");
        }
        super::trace::go_unblock(gp, super::trace::Src::Netpoll);
        // SAFETY: just taken off `list`: ours, on no list.
        unsafe { ready.push_back(gp) };
    }
    match pp {
        Some(pp) => {
            while let Some(gp) = ready.pop_front() {
                pp.runqput(gp, false);
            }
        }
        None => globrunqputbatch(&mut ready),
    }
    wakep_global();
}

/// rt_sleep: a G parks on a timer (its M runs other Gs); elsewhere nanosleep.
pub fn sleep(ns: i64) -> Result<()> {
    if ns <= 0 {
        return Ok(());
    }
    let gp = g::curg();
    if gp.is_null() {
        super::time::os_sleep(ns);
        return Ok(());
    }
    let mut t = timer::Timer::new(
        super::time::nanotime().saturating_add(ns),
        sleep_fire,
        gp.cast(),
    );
    g::set_wait(gp, g::WaitReason::Sleep, 0);
    gopark(Some(sleep_commit), (&mut t as *mut timer::Timer).cast());
    // Returns once the callback is done (see `del`).
    // SAFETY: our timer.
    unsafe { timer::del(&mut t) };
    Ok(())
}

/// On g0 after the G is marked waiting: arm its timer on this M's P.
unsafe extern "C" fn sleep_commit(_g: *mut G, arg: *mut c_void) -> bool {
    let t = arg as *mut timer::Timer;
    // Read before arming: once in a heap the timer may fire on another M and the G
    // resume, ending the frame that holds it.
    // SAFETY: the timer lives in the parked G's frame; nothing can resume it yet.
    let when = unsafe { (*t).when };
    let m = super::tls::getm();
    // SAFETY: we run on the g0 of the M that parked the G (execute's park step),
    // which holds its P; the timer is in the parked G's frame, in no heap, and
    // nothing can resume that G until the timer is added.
    if unsafe { !timer::add((*m).p(), t) } {
        // No memory to queue the timer: resume at once (a short sleep).
        return false;
    }
    wake_netpoller(when);
    true
}

unsafe fn sleep_fire(t: *mut timer::Timer) -> *mut G {
    // SAFETY: the arg of a sleep timer is its parked G.
    unsafe { (*t).arg.cast() }
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

/// Drops whatever is left in the global queue (rt_shutdown, after all Gs exited: the
/// Gs themselves are freed with ALLGS).
pub fn clear_globrunq() {
    GLOBRUNQ.lock().forget();
    GLOBRUNQ_SIZE.store(0, Ordering::Release);
}

/// In a fork child: a fresh, empty global queue. The parent's queue is neither
/// drained nor walked: a thread that held its lock at the fork (a push or pop half
/// done) does not exist here, so the lock is reset and the list forgotten. Its Gs
/// are the parent's and are dropped with the rest (g::forget_after_fork).
///
/// # Safety
/// The fork child's only thread, before the new runtime starts.
pub unsafe fn replace_globrunq_after_fork() {
    // SAFETY: no other thread exists (our # Safety), so nobody holds or takes the
    // lock; forgetting the list touches none of its Gs.
    unsafe { GLOBRUNQ.get_after_fork() }.forget();
    GLOBRUNQ_SIZE.store(0, Ordering::Release);
}
