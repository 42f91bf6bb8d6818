//! P: the right to run Gs (Go's `p`): allp, procresize (rt_gomaxprocs), the idle-P
//! pool (pidleput/pidleget), acquirep/releasep and the host-facing hand-over rules.
//!
//! Every transition happens under the sched lock, and every handle from the host is
//! looked up in `allp` before it is dereferenced, so a foreign or stale pointer is
//! an RT_EINVAL, never a crash.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};

use super::g::{PLocal, G};
use super::m::M;
use super::runq::Runq;
use super::{free_box, tls, try_box, Sched, SCHED};
use crate::ffi::errors::*;

/// Upper bound of rt_gomaxprocs (Go's _MaxGomaxprocs is 1024 too).
pub(crate) const MAX_PROCS: i32 = 1024;

/// The life of a P. Each state says who owns it, whether it is in the idle pool and
/// whether an M runs it.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PStatus {
    /// In the idle pool, owned by the scheduler; no M. (RT_P_IDLE)
    Idle = 0,
    /// Associated with an M that runs Gs or host code on it. (RT_P_RUNNING)
    Running = 1,
    /// Its M is in a system call; sysmon may retake it. (RT_P_SYSCALL)
    Syscall = 2,
    /// Beyond gomaxprocs and released: unusable until rt_gomaxprocs grows again.
    /// (RT_P_DEAD)
    Dead = 3,
    /// Released by rt_releasep: idle, not in the pool, owned by the host, which may
    /// hand it to any thread. (RT_P_IDLE)
    Held = 4,
    /// Promised to an M as its nextp, or borrowed by allocm: idle, not in the pool,
    /// owned by that M or call. (RT_P_IDLE)
    Reserved = 5,
}

/// Slots in a P's local run queue (Go's 256).
pub const RUNQ_SIZE: usize = 256;

/// A P.
#[repr(C)]
pub struct P {
    pub id: i32,
    /// PStatus.
    pub status: AtomicU32,
    /// The M running it (null unless Running).
    pub m: AtomicPtr<M>,
    /// Link in the idle pool.
    pub link: *mut P,
    /// Incremented on every scheduler round (Go's schedtick).
    pub schedtick: AtomicU32,
    /// Incremented on every system call (Go's syscalltick); sysmon watches it.
    pub syscalltick: AtomicU32,
    /// Its local run queue and runnext.
    pub runq: Runq<G, RUNQ_SIZE>,
    /// Caches only its holder touches.
    pub local: UnsafeCell<PLocal>,
    /// Event counters written by its holder (see stats::bump).
    pub counters: super::stats::Counters,
    /// Its timers.
    pub timers: super::timer::PTimers,
    /// Gs run from runnext in a row (see sched::fair).
    pub runnext_streak: AtomicU32,
}

impl P {
    fn new(id: i32) -> P {
        P {
            id,
            status: AtomicU32::new(PStatus::Dead as u32),
            m: AtomicPtr::new(ptr::null_mut()),
            link: ptr::null_mut(),
            schedtick: AtomicU32::new(0),
            syscalltick: AtomicU32::new(0),
            runq: Runq::new(),
            local: UnsafeCell::new(PLocal::default()),
            counters: super::stats::Counters::new(),
            timers: super::timer::PTimers::default(),
            runnext_streak: AtomicU32::new(0),
        }
    }
}

/// allp for lock-free readers (stealing, sysmon): every P made in this run, by id.
/// Ps live until rt_shutdown, which runs when no M does.
pub static ALLP: [AtomicPtr<P>; MAX_PROCS as usize] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_PROCS as usize];
/// gomaxprocs and the number of idle Ps, for lock-free readers (written under the
/// sched lock).
pub static GOMAXPROCS: AtomicI32 = AtomicI32::new(0);
pub static NPIDLE: super::atomic::StaticAtomicI32 = super::atomic::StaticAtomicI32::new(0);

impl P {
    pub fn status(&self) -> PStatus {
        match self.status.load(Ordering::Acquire) {
            0 => PStatus::Idle,
            1 => PStatus::Running,
            2 => PStatus::Syscall,
            3 => PStatus::Dead,
            4 => PStatus::Held,
            _ => PStatus::Reserved,
        }
    }

    pub fn set(&self, st: PStatus) {
        self.status.store(st as u32, Ordering::Release);
    }
}

/// Finds `pp` in allp: the only way a P handle from the host is trusted.
pub fn lookup(s: &Sched, pp: *const P) -> Result<&'static P> {
    if pp.is_null() {
        return Err(RT_EINVAL);
    }
    match s.allp.iter().find(|&&x| ptr::eq(x, pp)) {
        // SAFETY: Ps in allp live until shutdown, which needs the sched lock.
        Some(&x) => Ok(unsafe { &*x }),
        None => Err(RT_EINVAL),
    }
}

/// Like [`lookup`] but also refuses dead Ps.
fn lookup_live(s: &Sched, pp: *const P) -> Result<&'static P> {
    let p = lookup(s, pp)?;
    if p.status() == PStatus::Dead {
        return Err(RT_EINVAL);
    }
    Ok(p)
}

/// Puts an idle P in the pool (Go's pidleput).
pub fn pidleput(s: &mut Sched, pp: *mut P) {
    // SAFETY: pp is a live P in allp, not in the pool.
    unsafe {
        (*pp).set(PStatus::Idle);
        (*pp).link = s.pidle;
    }
    s.pidle = pp;
    s.npidle += 1;
    NPIDLE.store(s.npidle, Ordering::Release);
}

/// Takes any P from the pool (Go's pidleget), reserved for the caller to hand to
/// an M or to acquire.
pub fn pidleget(s: &mut Sched) -> *mut P {
    let pp = s.pidle;
    if !pp.is_null() {
        // SAFETY: Ps in the pool are live.
        unsafe {
            s.pidle = (*pp).link;
            (*pp).link = ptr::null_mut();
            (*pp).set(PStatus::Reserved);
        }
        s.npidle -= 1;
        NPIDLE.store(s.npidle, Ordering::Release);
    }
    pp
}

/// pidleget under the sched lock, unless the runtime is shut down or, with
/// `unless_stopping`, being stopped: null then, as for an empty pool.
pub fn pidleget_live(unless_stopping: bool) -> *mut P {
    let mut s = SCHED.lock();
    if !s.running || (unless_stopping && s.stopping) {
        return ptr::null_mut();
    }
    pidleget(&mut s)
}

/// Takes a given P out of the pool.
fn pidleremove(s: &mut Sched, pp: *mut P) {
    let mut link: *mut *mut P = &mut s.pidle;
    // SAFETY: walking live Ps in the pool under the lock.
    unsafe {
        while !(*link).is_null() {
            if *link == pp {
                *link = (*pp).link;
                (*pp).link = ptr::null_mut();
                s.npidle -= 1;
                NPIDLE.store(s.npidle, Ordering::Release);
                return;
            }
            link = &mut (**link).link;
        }
    }
    super::throw("pidleremove: P marked idle is not in the pool");
}

/// An idle P that nobody runs goes back to the pool, or dies if rt_gomaxprocs shrank
/// below it.
pub fn release_to_pool(s: &mut Sched, pp: *mut P) {
    // SAFETY: pp is a live P in allp.
    let p = unsafe { &*pp };
    p.m.store(ptr::null_mut(), Ordering::Release);
    if p.id >= s.gomaxprocs {
        // Its timers go to P0, which always lives.
        if let Some(&p0) = s.allp.first() {
            super::timer::move_all(pp, p0);
        }
        p.set(PStatus::Dead);
    } else {
        pidleput(s, pp);
    }
}

/// Takes an idle P (pooled or held) out of circulation as `Reserved`, returning what
/// it was so that [`unreserve`] can put it back. RT_EBUSY if someone runs or holds
/// it for an M.
pub fn reserve(s: &mut Sched, pp: *mut P) -> Result<PStatus> {
    let p = lookup_live(s, pp)?;
    let st = p.status();
    match st {
        PStatus::Idle => pidleremove(s, pp),
        PStatus::Held => {}
        _ => return Err(RT_EBUSY),
    }
    p.set(PStatus::Reserved);
    Ok(st)
}

/// Undoes [`reserve`].
pub fn unreserve(s: &mut Sched, pp: *mut P, prev: PStatus) {
    // SAFETY: a reserved P stays in allp.
    let p = unsafe { &*pp };
    if p.id >= s.gomaxprocs {
        p.set(PStatus::Dead);
    } else if prev == PStatus::Idle {
        pidleput(s, pp);
    } else {
        p.set(PStatus::Held);
    }
}

/// allocm's borrow: the P must be idle; it is reserved for the allocation.
pub fn borrow(pp: *mut P) -> Result<PStatus> {
    let mut s = SCHED.lock();
    s.check_running()?;
    reserve(&mut s, pp)
}

pub fn unborrow(pp: *mut P, prev: PStatus) {
    let mut s = SCHED.lock();
    if s.running {
        unreserve(&mut s, pp, prev);
    }
}

/// Associates `pp`, reserved or idle, with `m` (Go's acquirep, under the lock).
pub fn wire(m: &M, p: &P) {
    p.m.store(m as *const M as *mut M, Ordering::Release);
    p.set(PStatus::Running);
    m.p.store(p as *const P as *mut P, Ordering::Release);
}

/// rt_acquirep: associate `pp` with the calling M, adopting a foreign thread first.
pub fn acquirep(pp: *mut P) -> Result<()> {
    {
        let s = SCHED.lock();
        s.check_running()?;
        lookup_live(&s, pp)?;
    }
    let mut m = tls::getm();
    if m.is_null() {
        m = super::m::adopt()?;
    }
    // SAFETY: m is the calling thread's live M.
    let mm = unsafe { &*m };
    let mut s = SCHED.lock();
    s.check_running()?;
    let p = lookup_live(&s, pp)?;
    if !mm.p.load(Ordering::Relaxed).is_null() {
        return Err(RT_EALREADY);
    }
    match p.status() {
        PStatus::Idle => pidleremove(&mut s, pp),
        PStatus::Held => {}
        _ => return Err(RT_EBUSY),
    }
    wire(mm, p);
    Ok(())
}

/// The M takes the P it was promised (its nextp), reserved for it.
pub fn acquire_nextp(m: &M, pp: *mut P) {
    let s = SCHED.lock();
    // SAFETY: a reserved P stays in allp.
    let p = unsafe { &*pp };
    if p.status() != PStatus::Reserved {
        drop(s);
        super::throw("acquire_nextp: nextp is not reserved");
    }
    wire(m, p);
}

/// rt_releasep: the calling M's P, now idle and held by the caller (or dead if
/// rt_gomaxprocs shrank below it). Null if the M holds none.
pub fn releasep() -> *mut P {
    let m = tls::getm();
    if m.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    let s = SCHED.lock();
    let pp = mm.p.swap(ptr::null_mut(), Ordering::AcqRel);
    if pp.is_null() {
        return pp;
    }
    // SAFETY: the M's P is live.
    let p = unsafe { &*pp };
    p.m.store(ptr::null_mut(), Ordering::Release);
    p.set(if p.id >= s.gomaxprocs {
        PStatus::Dead
    } else {
        PStatus::Held
    });
    pp
}

/// rt_p_put: a held P goes back to the pool.
pub fn p_put(pp: *mut P) -> Result<()> {
    let mut s = SCHED.lock();
    s.check_running()?;
    let p = lookup_live(&s, pp)?;
    match p.status() {
        PStatus::Held => {
            release_to_pool(&mut s, pp);
            Ok(())
        }
        PStatus::Idle => Err(RT_EALREADY),
        _ => Err(RT_EBUSY),
    }
}

/// rt_p_get: allp[id] for 0 <= id < gomaxprocs.
pub fn p_get(id: i32) -> *mut P {
    let s = SCHED.lock();
    if !s.running || id < 0 || id >= s.gomaxprocs {
        return ptr::null_mut();
    }
    s.allp[id as usize]
}

/// rt_p_status / rt_p_id support: the P if it is one of ours.
pub fn with_p<R>(pp: *const P, f: impl FnOnce(&P) -> R) -> Result<R> {
    let s = SCHED.lock();
    if !s.running {
        return Err(RT_EINVAL);
    }
    Ok(f(lookup(&s, pp)?))
}

/// Go's procresize: grow at once (new or revived Ps go to the pool), shrink lazily
/// (idle surplus Ps die now, running ones when released). Returns the old count.
pub fn procresize(s: &mut Sched, n: i32) -> Result<i32> {
    if n <= 0 || n > MAX_PROCS {
        return Err(RT_EINVAL);
    }
    let old = s.gomaxprocs;
    // Allocate first so that a failure leaves everything as it was.
    let mut fresh = Vec::new();
    if fresh.try_reserve(n as usize).is_err() || s.allp.try_reserve(n as usize).is_err() {
        return Err(RT_ENOMEM);
    }
    for id in s.allp.len() as i32..n {
        match try_box(P::new(id)) {
            Ok(pp) => fresh.push(pp),
            Err(e) => {
                for pp in fresh {
                    // SAFETY: never published.
                    unsafe { free_box(pp) };
                }
                return Err(e);
            }
        }
    }
    for &pp in &fresh {
        // SAFETY: just made.
        ALLP[unsafe { (*pp).id } as usize].store(pp, Ordering::Release);
    }
    s.allp.extend(fresh);
    s.gomaxprocs = n;
    GOMAXPROCS.store(n, Ordering::Release);
    for id in 0..s.allp.len() {
        let pp = s.allp[id];
        // SAFETY: Ps in allp are live.
        let p = unsafe { &*pp };
        let st = p.status();
        if (id as i32) < n {
            if st == PStatus::Dead {
                pidleput(s, pp);
            }
        } else {
            match st {
                PStatus::Idle => {
                    pidleremove(s, pp);
                    p.set(PStatus::Dead);
                }
                PStatus::Held => p.set(PStatus::Dead),
                _ => {} // dies when released
            }
            if p.status() == PStatus::Dead {
                // A dead P's timers would never run: P0 takes them (as in
                // release_to_pool). The Gs of an idle P that armed them sleep on them.
                super::timer::move_all(pp, s.allp[0]);
            }
        }
    }
    Ok(old)
}

/// Frees every P (shutdown, or a fork child's stale runtime).
///
/// # Safety
/// No M may use any P any more.
pub unsafe fn free_all(s: &mut Sched) {
    for pp in s.allp.drain(..) {
        // SAFETY: per the contract.
        unsafe {
            ALLP[(*pp).id as usize].store(ptr::null_mut(), Ordering::Release);
            free_box(pp);
        }
    }
    s.pidle = ptr::null_mut();
    s.npidle = 0;
    s.gomaxprocs = 0;
    GOMAXPROCS.store(0, Ordering::Release);
    NPIDLE.store(0, Ordering::Release);
}

/// The public status code of a P.
pub fn public_status(st: PStatus) -> i32 {
    use crate::ffi::consts::*;
    match st {
        PStatus::Idle | PStatus::Held | PStatus::Reserved => RT_P_IDLE,
        PStatus::Running => RT_P_RUNNING,
        PStatus::Syscall => RT_P_SYSCALL,
        PStatus::Dead => RT_P_DEAD,
    }
}
