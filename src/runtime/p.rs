//! P: the right to run Gs (Go's `p`): allp, procresize (rt_gomaxprocs), the idle-P
//! pool (pidleput/pidleget), acquirep/releasep and the host-facing hand-over rules.
//!
//! Every transition happens under the sched lock, and every handle from the host is
//! looked up in `allp` before it is dereferenced, so a foreign or stale pointer is
//! an RT_EINVAL (Error::Inval), never a crash.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::error::{Error, Result};
use super::g::G;
use super::m::M;
use super::runq::{Runq, StealGate};
use super::{free_box, tls, try_box, Sched, SCHED};

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
pub(crate) const RUNQ_SIZE: usize = 256;

/// A P: the part any M may touch. What only the M holding it may touch is its
/// [`PCore`], reached through a [`HeldP`].
#[repr(C)]
pub struct P {
    /// Fixed for the P's life.
    pub id: i32,
    /// PStatus. Changed under the sched lock, except Running -> Syscall by the holder
    /// (entersyscall) and Syscall -> Running / Reserved by whoever wins the CAS
    /// (exitsyscall, sysmon's retake). Read by anyone.
    pub status: AtomicU32,
    /// The M running it (null unless Running). Written with `status`; read by anyone.
    pub m: AtomicPtr<M>,
    /// Link in the idle pool. Guarded by the sched lock.
    pub link: *mut P,
    /// Incremented on every scheduler round (Go's schedtick). Written only by the
    /// holder; an atomic because sysmon and rt_dump read it.
    pub schedtick: AtomicU32,
    /// Incremented on every system call (Go's syscalltick). Written only by the M in
    /// the call; read by sysmon.
    pub syscalltick: AtomicU32,
    /// The ring and runnext. Anyone may take from it (a thief's steal, `get`) or read
    /// its length; only the holder produces into it, through [`HeldP`].
    pub runq: Runq<G, RUNQ_SIZE>,
    /// Event counters: written only by the holder (plain load + store, see
    /// `bump`), read by anyone (rt_getstats).
    pub counters: Counters,
    /// Its timers, under their own lock (any M may add to, delete from or run them).
    pub timers: super::timer::PTimers,
    /// Only the holder: see [`HeldP::core`].
    core: UnsafeCell<PCore>,
}

/// What only the M holding a P touches (Go's p fields "owned by the M running this
/// P"): the caches that keep newproc and goexit off shared locks, and the scheduler's
/// fairness state.
#[derive(Default)]
pub struct PCore {
    /// Free Gs, free G stacks and a batch of goids.
    pub local: PLocal,
    /// Gs run from runnext in a row (see sched::fair).
    pub runnext_streak: u32,
}

/// The P-local caches of a [`PCore`]: most newproc/goexit traffic stays here.
#[derive(Default)]
pub struct PLocal {
    pub gfree: super::g::GCache,
    pub stacks: super::stack::StackList,
    /// The goids of the batch taken from the global counter: [goid_next, goid_end).
    pub goid_next: i64,
    pub goid_end: i64,
}

/// Holding a P, as a value: the right to touch the P's [`PCore`] and to produce into
/// its run queue (Go's "the M running this P"; the `Core` a tokio worker owns).
///
/// Exactly one exists per P that is held. It is made only where a P is won: taken
/// from the idle pool or promised to an M as its nextp under the sched lock, or won
/// by the CAS that ends a system call or retakes the P from one. It is given up by
/// moving it: into the pool ([`release_to_pool`]), to another M (as its nextp,
/// through [`HeldP::into_raw`]), or into a system call. So `&mut HeldP` proves that
/// nobody else uses the core, and the compiler checks every function that needs one.
///
/// Not `Send`: it changes threads only through those hand-overs, as a raw pointer.
/// An M keeps its HeldP in `M::held` while a G runs (see `M::take_p`).
pub struct HeldP {
    p: NonNull<P>,
    _not_send: PhantomData<*mut ()>,
}

impl HeldP {
    /// Takes ownership of `pp`.
    ///
    /// # Safety
    /// The caller won `pp` (see the type's comment): no other HeldP of it exists, and
    /// none will until this one is given up.
    pub unsafe fn from_raw(pp: *mut P) -> HeldP {
        match NonNull::new(pp) {
            Some(p) => HeldP {
                p,
                _not_send: PhantomData,
            },
            None => super::throw("HeldP::from_raw: null P"),
        }
    }

    /// Gives up the value for a hand-over; whoever receives the pointer makes a new
    /// one with [`HeldP::from_raw`].
    #[inline]
    pub fn into_raw(self) -> *mut P {
        let pp = self.p.as_ptr();
        core::mem::forget(self);
        pp
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut P {
        self.p.as_ptr()
    }

    /// `self` reached through another copy of its pointer, `p`, for the duration of
    /// the borrow: code given the alias loads the P from `p`'s register rather than
    /// from wherever `self` lives (rt_gosched's fast path walks the run queue from a
    /// guess kept in TLS, one load from the thread pointer, instead of from `M::held`).
    ///
    /// # Safety
    /// `p == self.as_ptr()`. (The caller compares; `p` must come from somewhere the
    /// compiler cannot equate with `self`, or it may use either.)
    #[inline(always)]
    pub unsafe fn alias(&mut self, p: *mut P) -> HeldAlias<'_> {
        debug_assert_eq!(p, self.as_ptr());
        HeldAlias {
            // SAFETY: p is self's P (the contract), so non-null; the alias stands in for
            // `self`, which the borrow keeps unused, and is never dropped, so there is
            // still one HeldP of the P to hand over.
            v: core::mem::ManuallyDrop::new(HeldP {
                p: unsafe { NonNull::new_unchecked(p) },
                _not_send: PhantomData,
            }),
            _borrow: PhantomData,
        }
    }

    /// The shared part. Ps live until rt_shutdown, which runs when no M holds one.
    #[inline]
    pub fn p(&self) -> &'static P {
        // SAFETY: we hold this P, and Ps live until rt_shutdown, which runs when no M
        // holds one; the shared part is used only via atomics, locks and field rules.
        unsafe { &*self.p.as_ptr() }
    }

    /// The owned core.
    #[inline]
    pub fn core(&mut self) -> &mut PCore {
        // SAFETY: this value is the only HeldP of the P, and `&mut self` makes the
        // borrow unique.
        unsafe { &mut *self.p().core.get() }
    }

    /// Go's runqput: `gp` to the local queue (runnext with `next`), overflow (half
    /// the ring) to the global queue.
    #[inline]
    pub fn runqput(&mut self, gp: *mut G, next: bool) {
        // SAFETY: the holder is the queue's only producer.
        unsafe {
            self.p().runq.put(gp, next, &RUNQ_GATE, &mut |batch| {
                super::sched::globrunqput_slice(batch)
            })
        };
    }

    /// Go's runqget: runnext first (the bool: it inherits the time slice), then the
    /// ring's head.
    #[inline]
    pub fn runqget(&mut self) -> Option<(*mut G, bool)> {
        // SAFETY: the holder is the queue's owner; every queue uses RUNQ_GATE.
        unsafe { self.p().runq.take(&RUNQ_GATE) }
    }

    /// Go's runqsteal: half of `victim`'s queue into ours, one of them to run now.
    pub fn runqsteal(
        &mut self,
        victim: &P,
        steal_next: bool,
        let_owner_run: &dyn Fn(),
    ) -> Option<*mut G> {
        // SAFETY: the holder is our queue's only producer.
        unsafe {
            self.p()
                .runq
                .steal(&victim.runq, &RUNQ_GATE, steal_next, let_owner_run)
        }
    }
}

/// [`HeldP::alias`]: the HeldP it borrows, under another copy of its pointer.
pub struct HeldAlias<'a> {
    v: core::mem::ManuallyDrop<HeldP>,
    _borrow: PhantomData<&'a mut HeldP>,
}

impl core::ops::Deref for HeldAlias<'_> {
    type Target = HeldP;
    #[inline(always)]
    fn deref(&self) -> &HeldP {
        &self.v
    }
}

impl core::ops::DerefMut for HeldAlias<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut HeldP {
        &mut self.v
    }
}

/// A HeldP is handed over, never dropped: dropping one would leave its P Running
/// with nobody running it.
impl Drop for HeldP {
    fn drop(&mut self) {
        super::throw("a held P was dropped instead of handed over");
    }
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
            counters: Counters::new(),
            timers: super::timer::PTimers::default(),
            core: UnsafeCell::new(PCore::default()),
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
/// How many Ps exist (allp's length: ALLP[..NALLP] are live, those from GOMAXPROCS
/// on beyond it), for sysmon, which must also watch the surplus ones that still run.
/// Written under the sched lock.
pub static NALLP: AtomicI32 = AtomicI32::new(0);

/// The steal gate of every P's run queue: private (owners take without a locked
/// instruction, nobody steals) while gomaxprocs is 1, open otherwise. Changed by
/// procresize alone, under the sched lock (see runq.rs, "Private mode").
pub static RUNQ_GATE: StealGate = StealGate::new();
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
        return Err(Error::Inval);
    }
    match s.allp.iter().find(|&&x| ptr::eq(x, pp)) {
        // SAFETY: Ps in allp live until shutdown, which needs the sched lock.
        Some(&x) => Ok(unsafe { &*x }),
        None => Err(Error::Inval),
    }
}

/// Like [`lookup`] but also refuses dead Ps.
fn lookup_live(s: &Sched, pp: *const P) -> Result<&'static P> {
    let p = lookup(s, pp)?;
    if p.status() == PStatus::Dead {
        return Err(Error::Inval);
    }
    Ok(p)
}

/// Puts an idle P in the pool (Go's pidleput). `pp` is held by nobody.
fn pidleput(s: &mut Sched, pp: *mut P) {
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
pub fn pidleget(s: &mut Sched) -> Option<HeldP> {
    let pp = s.pidle;
    if pp.is_null() {
        return None;
    }
    // SAFETY: Ps in the pool are live.
    unsafe {
        s.pidle = (*pp).link;
        (*pp).link = ptr::null_mut();
        (*pp).set(PStatus::Reserved);
    }
    s.npidle -= 1;
    NPIDLE.store(s.npidle, Ordering::Release);
    // A P is busy again: sysmon must not sleep through its time slices.
    super::sysmon::wake_if_sleeping();
    // SAFETY: taken off the pool under the sched lock: nobody else has it.
    Some(unsafe { HeldP::from_raw(pp) })
}

/// pidleget under the sched lock, unless the runtime is shut down or, with
/// `unless_stopping`, being stopped: None then, as for an empty pool.
pub fn pidleget_live(unless_stopping: bool) -> Option<HeldP> {
    let mut s = SCHED.lock();
    if !s.running || (unless_stopping && s.stopping) {
        return None;
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

/// A P that nobody runs any more goes back to the pool, or dies if rt_gomaxprocs
/// shrank below it: then its work moves first ([`shed`]). A caller that may release
/// a P with queued Gs wakes an M for them once the sched lock is dropped
/// (`sched::wakep_global`): a dead P's queue is nobody's to run.
///
/// An idle P's queue is nobody's to run either (as in Go, whose pidleput refuses a
/// P with queued Gs): its Gs go to the global queue, where every M that looks for
/// work finds them, and for which sysmon retries thread creation when no M could be
/// made (a P handed off while no thread could be made kept them, and with no other
/// M they never ran: t_handoff_no_thread_keeps_local_gs).
pub fn release_to_pool(s: &mut Sched, mut pp: HeldP) {
    let p = pp.p();
    p.m.store(ptr::null_mut(), Ordering::Release);
    if p.id >= s.gomaxprocs {
        shed(&mut pp);
        let _ = pp.into_raw();
        p.set(PStatus::Dead);
    } else {
        if !p.runq.is_empty() {
            while let Some((gp, _)) = pp.runqget() {
                super::sched::globrunqput(gp);
            }
        }
        pidleput(s, pp.into_raw());
    }
}

/// A P beyond gomaxprocs gives its work away: queued Gs to the global queue, timers
/// to P0 (which always lives). Nothing looks at a dead P's queue or timers, so this
/// runs before every death. Returns whether Gs moved (someone must be woken for
/// them). Lock-free apart from the two heap locks: callable under the sched lock.
pub fn shed(pp: &mut HeldP) -> bool {
    let mut moved = false;
    while let Some((gp, _)) = pp.runqget() {
        super::sched::globrunqput(gp);
        moved = true;
    }
    let p0 = ALLP[0].load(Ordering::Acquire);
    if !p0.is_null() && p0 != pp.as_ptr() {
        super::timer::move_all(pp.as_ptr(), p0);
    }
    moved
}

/// Takes an idle P (pooled or held) out of circulation as `Reserved`, returning what
/// it was so that [`unreserve`] can put it back. Error::Busy if someone runs or holds
/// it for an M.
pub fn reserve(s: &mut Sched, pp: *mut P) -> Result<PStatus> {
    let p = lookup_live(s, pp)?;
    let st = p.status();
    match st {
        PStatus::Idle => pidleremove(s, pp),
        PStatus::Held => {}
        _ => return Err(Error::Busy),
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

/// `m` runs `pp` from now on (the heart of Go's acquirep): published in both.
pub fn wire(m: &M, pp: &HeldP) {
    // An M that holds no P has no HeldP at rest either, except one that rt_shutdown
    // left behind in an adopted M (it unwired the M and freed the Ps): forget it.
    m.forget_stale_p();
    let p = pp.p();
    p.m.store(m as *const M as *mut M, Ordering::Release);
    p.set(PStatus::Running);
    m.p.store(pp.as_ptr(), Ordering::Release);
}

/// `m` no longer runs `pp` (the heart of Go's releasep); its status is the
/// caller's to set.
pub fn unwire(m: &M, pp: &HeldP) {
    // (Null: rt_shutdown unwired an adopted M already.)
    if !m.p().is_null() && !ptr::eq(m.p(), pp.as_ptr()) {
        super::throw("releasep: not the P this M holds");
    }
    m.p.store(ptr::null_mut(), Ordering::Release);
    pp.p().m.store(ptr::null_mut(), Ordering::Release);
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
    if !mm.p().is_null() {
        return Err(Error::Already);
    }
    match p.status() {
        PStatus::Idle => pidleremove(&mut s, pp),
        PStatus::Held => {}
        _ => return Err(Error::Busy),
    }
    // SAFETY: idle or held by the host, which gives it to us: nobody else has it.
    let pp = unsafe { HeldP::from_raw(pp) };
    wire(mm, &pp);
    mm.put_p(pp);
    Ok(())
}

/// The M takes the P it was promised (its nextp), reserved for it.
pub fn acquire_nextp(m: &M, pp: *mut P) -> HeldP {
    let s = SCHED.lock();
    // SAFETY: a reserved P stays in allp.
    let p = unsafe { &*pp };
    if p.status() != PStatus::Reserved {
        drop(s);
        super::throw("acquire_nextp: nextp is not reserved");
    }
    // SAFETY: reserved for this M by whoever set its nextp: nobody else has it.
    let pp = unsafe { HeldP::from_raw(pp) };
    wire(m, &pp);
    pp
}

/// rt_releasep: the calling M's P, now idle and held by the caller (or dead if
/// rt_gomaxprocs shrank below it). Null if the M holds none, and from a G: the P a G
/// runs on rests in its M only while the G runs, and the scheduler takes it back when
/// the G switches out; given away, the next switch would find it gone.
pub fn releasep() -> *mut P {
    if !super::g::curg().is_null() {
        return ptr::null_mut();
    }
    let m = tls::getm();
    if m.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: the calling thread's live M.
    let mm = unsafe { &*m };
    if mm.in_park_cb.get() {
        // A park callback: the scheduler, mid-park, holds this P and resumes with it.
        return ptr::null_mut();
    }
    let s = SCHED.lock();
    let Some(mut pp) = mm.take_p() else {
        return ptr::null_mut();
    };
    unwire(mm, &pp);
    let p = pp.p();
    let mut moved = false;
    if p.id >= s.gomaxprocs {
        // It dies in the host's hands: its work goes where it will run.
        moved = shed(&mut pp);
        p.set(PStatus::Dead);
    } else {
        p.set(PStatus::Held);
    }
    drop(s);
    if moved {
        super::sched::wakep_global();
    }
    // The host holds it now, outside any HeldP, until it hands it back.
    pp.into_raw()
}

/// rt_p_put: a held P goes back to the pool.
pub fn p_put(pp: *mut P) -> Result<()> {
    let mut s = SCHED.lock();
    s.check_running()?;
    let p = lookup_live(&s, pp)?;
    match p.status() {
        PStatus::Held => {
            // Work waiting for a P (Gs left on this one's queue, or in the global
            // queue, such as a G wired to an M that waits for a P) gets an M for it.
            let work =
                !p.runq.is_empty() || super::sched::GLOBRUNQ_SIZE.load(Ordering::Acquire) > 0;
            // SAFETY: held by the host, which gives it back: nobody else has it.
            release_to_pool(&mut s, unsafe { HeldP::from_raw(pp) });
            drop(s);
            if work {
                super::sched::wakep_global();
            }
            Ok(())
        }
        PStatus::Idle => Err(Error::Already),
        _ => Err(Error::Busy),
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
        return Err(Error::Inval);
    }
    Ok(f(lookup(&s, pp)?))
}

/// Go's procresize: grow at once (new or revived Ps go to the pool), shrink lazily
/// (idle, host-held and in-a-system-call surplus Ps die now, their queued Gs moved to
/// the global queue for the caller to wake an M for; running ones die when released,
/// but their timers move to P0 now). Returns the old count.
pub fn procresize(s: &mut Sched, n: i32) -> Result<i32> {
    if n <= 0 || n > MAX_PROCS {
        return Err(Error::Inval);
    }
    let old = s.gomaxprocs;
    // Allocate first so that a failure leaves everything as it was.
    let mut fresh = Vec::new();
    if fresh.try_reserve(n as usize).is_err() || s.allp.try_reserve(n as usize).is_err() {
        return Err(Error::NoMem);
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
    NALLP.store(s.allp.len() as i32, Ordering::Release);
    if n > 1 {
        // Before any P beyond the first can be run (so before anyone steals): every
        // owner takes by CAS from now on.
        // SAFETY: under the sched lock (every transition is), and allp holds every
        // queue.
        unsafe { RUNQ_GATE.share(s.allp.iter().map(|&pp| &(*pp).runq)) };
    }
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
            // Ours to kill now: an idle P, one the host holds, and one whose M is in
            // a system call, taken out of it as sysmon's retake does (whoever wins
            // the CAS out of Syscall owns the P; the M's exitsyscall then finds it
            // lost and looks for another). Left in Syscall, nothing would release
            // it before the call returned: sysmon, the thieves and
            // timer::earliest look only below gomaxprocs, so its queued Gs and
            // timers waited as long as the call (t_shrink_past_syscall_p).
            let ours = match st {
                PStatus::Idle => {
                    pidleremove(s, pp);
                    true
                }
                PStatus::Held => true,
                PStatus::Syscall => p
                    .status
                    .compare_exchange(
                        PStatus::Syscall as u32,
                        PStatus::Reserved as u32,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok(),
                _ => false, // dies when released
            };
            if !ours && matches!(p.status(), PStatus::Running | PStatus::Syscall) {
                // Its M still runs it (a P in a system call included, if its M won
                // it back just before our CAS): sysmon asks its G to yield, or takes
                // it out of a later call, at its next look (retake watches surplus
                // Ps too). Look soon.
                super::sysmon::wake_if_sleeping();
            }
            if ours {
                p.m.store(ptr::null_mut(), Ordering::Release);
                p.set(PStatus::Dead);
                // It may still have Gs queued (rt_releasep leaves them there for
                // whoever runs the P next, and so does a G entering a system call;
                // a pooled P has none since release_to_pool moves them); nobody runs
                // a dead one, so they go to the global queue.
                // SAFETY: under the sched lock, an idle P (just taken from the pool),
                // one the host holds or one just won out of Syscall is run by no M
                // and reachable only through calls that take this lock first (or,
                // for the M back from its call, a CAS out of Syscall that now
                // fails): we own it for this step. (The caller wakes an M for them
                // once the sched lock is dropped.)
                let mut held = unsafe { HeldP::from_raw(pp) };
                shed(&mut held);
                let _ = held.into_raw();
            }
            // The timers of every surplus P go to P0 now, whatever its state: those
            // of a P that dies move with it (shed above), and a P that its M still
            // runs would keep them out of sight until released (timer::earliest
            // and the thieves look only below gomaxprocs), which a G that never
            // gives up its P may never do (t_shrink_past_running_p_timers). Its M
            // may still add timers to it: timer::add sends those after them.
            super::timer::move_all(pp, s.allp[0]);
        }
    }
    if n == 1 {
        // Nobody steals with one P (steal_work: GOMAXPROCS is 1 from above): once the
        // thieves still at it are done, owners take without a locked instruction.
        // SAFETY: as for share above.
        unsafe { RUNQ_GATE.privatize(s.allp.iter().map(|&pp| &(*pp).runq)) };
    }
    Ok(old)
}

/// In a fork child, before [`free_all`]: forgets the stacks cached by the parent's Ps
/// without walking their lists (see `stack::rebuild_after_fork`, which frees them).
///
/// # Safety
/// The only thread of a fork child, before the new runtime starts.
pub unsafe fn forget_stacks_after_fork(s: &mut Sched) {
    for &pp in &s.allp {
        // SAFETY: a live boxed P on allp; no M of the parent exists in the child (our
        // # Safety), so its core is nobody's.
        unsafe { (*(*pp).core.get()).local.stacks.forget_after_fork() };
    }
}

/// Frees every P (shutdown, or a fork child's stale runtime).
///
/// # Safety
/// No M may use any P any more.
pub unsafe fn free_all(s: &mut Sched) {
    for pp in s.allp.drain(..) {
        // SAFETY: `pp` is on allp, so a live boxed P, and no M uses any P any more
        // (our # Safety), so clearing its ALLP slot and freeing it races with nothing.
        unsafe {
            ALLP[(*pp).id as usize].store(ptr::null_mut(), Ordering::Release);
            free_box(pp);
        }
    }
    s.pidle = ptr::null_mut();
    s.npidle = 0;
    s.gomaxprocs = 0;
    GOMAXPROCS.store(0, Ordering::Release);
    NALLP.store(0, Ordering::Release);
    NPIDLE.store(0, Ordering::Release);
    RUNQ_GATE.reset();
}

// ---- event counters (rt_getstats reads them) ----

/// Event counters, bumped where the events happen.
pub struct Counters {
    pub gs_created: AtomicU64,
    pub gs_exited: AtomicU64,
    pub switches: AtomicU64,
    pub steals: AtomicU64,
    pub parks: AtomicU64,
    pub handoffs: AtomicU64,
}

impl Counters {
    pub const fn new() -> Counters {
        Counters {
            gs_created: AtomicU64::new(0),
            gs_exited: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
        }
    }
}

/// Counts one event: on the P's own counters when the caller holds a P (no shared
/// cache line, no atomic read-modify-write: only the holder writes them), else on
/// the global ones.
#[inline]
pub fn bump(pp: Option<&mut HeldP>, which: fn(&Counters) -> &AtomicU64) {
    match pp {
        None => {
            which(&COUNTERS).fetch_add(1, Ordering::Relaxed);
        }
        Some(pp) => {
            let c = which(&pp.p().counters);
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}

/// [`bump`] with a release store: whoever reads the new count with an acquire load
/// (`total_acquire`) also sees what the caller did before.
#[inline]
pub fn bump_release(pp: Option<&mut HeldP>, which: fn(&Counters) -> &AtomicU64) {
    match pp {
        None => {
            which(&COUNTERS).fetch_add(1, Ordering::Release);
        }
        Some(pp) => {
            let c = which(&pp.p().counters);
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Release);
        }
    }
}

/// [`total`] with acquire loads (pairs with [`bump_release`]).
pub fn total_acquire(which: fn(&Counters) -> &AtomicU64) -> u64 {
    let mut n = which(&COUNTERS).load(Ordering::Acquire);
    for slot in ALLP.iter() {
        let pp = slot.load(Ordering::Acquire);
        if !pp.is_null() {
            // SAFETY: Ps in ALLP live until shutdown.
            n += which(unsafe { &(*pp).counters }).load(Ordering::Acquire);
        }
    }
    n
}

/// A counter summed over the global and every P's counters.
pub fn total(which: fn(&Counters) -> &AtomicU64) -> u64 {
    let mut n = which(&COUNTERS).load(Ordering::Relaxed);
    for slot in ALLP.iter() {
        let pp = slot.load(Ordering::Acquire);
        if !pp.is_null() {
            // SAFETY: Ps in ALLP live until shutdown.
            n += which(unsafe { &(*pp).counters }).load(Ordering::Relaxed);
        }
    }
    n
}

/// Zeroes the global counters: each run of the runtime counts from zero (the per-P
/// ones start at zero with their Ps).
pub fn reset_counters() {
    let c = &COUNTERS;
    for x in [
        &c.gs_created,
        &c.gs_exited,
        &c.switches,
        &c.steals,
        &c.parks,
        &c.handoffs,
    ] {
        x.store(0, Ordering::Relaxed);
    }
}

pub static COUNTERS: Counters = Counters::new();
