//! M: an OS thread that runs Gs (Go's `m`), and how one comes to life and leaves:
//! allocm, newm, newm1, newosproc, mstart (entered from the assembly mstart_stub),
//! mexit and the freem list; the adoption of foreign threads (Go's extra M).
//!
//! Life of a runtime-created M:
//! 1. `allocm` reserves its stacks (g0 and signal stack, with guards), allocates the
//!    M and its g0, records the creating call stack and links it on `allm`.
//! 2. `m_launch` (newm1 + newosproc) reserves its `nextp` and creates a detached
//!    pthread whose entry is `mstart_stub`, under the read side of the exec lock so
//!    that no thread is cloned while the host forks.
//! 3. `mstart` sets up the thread (TLS slot, signal mask, signal stack), runs the start
//!    function on g0, then loops in the scheduler ([`super::sched::mloop`]).
//! 4. `mexit` unlinks it from `allm` and pushes it on the freem list. Its memory is
//!    freed by the next `allocm` or `rt_shutdown` once the kernel reports the thread
//!    gone, because glibc's thread descriptor lives on the g0 stack to the very end.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

use once_cell::sync::Lazy;

use super::error::{Error, Result};
use super::g::G;
use super::note::{futex_wake, Lock, Note};
use super::p::{self, HeldP, P};
use super::stack::{MStack, Mapping, ALTSTACK_SIZE, GUARD_SIZE};
use super::time::{nanotime, os_sleep};
use super::{arch, free_box, sched, signal, tls, try_box, Sched, SCHED};

/// A C start function: `void (*)(void *)`.
pub type RtFn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// How many return addresses `createstack` keeps.
pub(crate) const CREATESTACK: usize = 16;

/// The life of an M. Each state says who may touch it and whether a thread runs it.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MState {
    /// From allocm: on allm, no thread. rt_m_free may free it, rt_m_launch start it.
    Allocated = 0,
    /// rt_m_launch is creating its thread. Neither free nor launch may start.
    Launching = 1,
    /// Its thread runs: start function, scheduler or host code (adopted Ms).
    Running = 2,
    /// Parked on its note on the idle-M list; a waker takes it off the list first.
    Idle = 3,
    /// Its thread left the runtime: off allm, on the freem list until the kernel
    /// reports the thread gone.
    Exited = 4,
}

/// Who made the M.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MKind {
    /// allocm: the runtime owns its thread and stacks.
    Runtime = 0,
    /// A foreign thread adopted by rt_acquirep: its own stack is g0; it stays an M
    /// until the thread exits (a pthread key destructor gives it back).
    Adopted = 1,
}

/// An M. `#[repr(C)]`: mstart_stub reads `g0` (offset asserted in `arch`).
///
/// Who may touch each field: "fixed" ones are set before the M is published on allm
/// (or before its thread starts) and only read afterwards; "own thread" ones only by
/// the M's own thread; "sched lock" ones under it; atomics say who writes them.
#[repr(C)]
pub struct M {
    /// The G standing for this M's own stack. Fixed.
    pub g0: *mut G,
    /// The start function run on g0 when the thread starts, and its argument. Fixed.
    pub mstartfn: RtFn,
    pub mstartarg: *mut c_void,
    /// The G it runs (null while on g0). Written by its own thread; read by anyone.
    pub curg: AtomicPtr<G>,
    /// The P it holds, if any: published for other threads (rt_dump, sysmon,
    /// allocm's check). Written only by its own thread, as it wins or gives up a P
    /// (`p::wire` / `p::unwire`), and by rt_shutdown for adopted Ms; the value that
    /// proves the holding is `held`.
    pub p: AtomicPtr<P>,
    /// The [`HeldP`] of `p` while it rests in the M: while a G runs, and between
    /// scheduler steps. The scheduler takes it out ([`M::take_p`]) to use it by
    /// `&mut`, so two users of one P's core cannot exist. Own thread.
    held: core::cell::Cell<Option<HeldP>>,
    /// The P it must acquire when it starts or wakes: written by its waker before
    /// the wakeup (under the sched lock, or by startlockedm), taken by the M.
    pub nextp: AtomicPtr<P>,
    /// Fixed once on allm.
    pub id: i64,
    /// Link on `allm`. Sched lock.
    pub alllink: *mut M,
    /// Link on the idle-M list. Sched lock.
    pub schedlink: *mut M,
    /// Return addresses of the call that created it (for rt_dump). Fixed.
    pub createstack: [usize; CREATESTACK],
    pub ncreatestack: usize,
    /// Link on the freem list. The freem list's lock.
    pub freelink: *mut M,
    /// OS thread id (gettid), 0 before launch. Written once by its own thread.
    pub procid: AtomicI64,
    /// Where it sleeps while idle (Go's m.park): slept on by its own thread, woken by
    /// whoever took it off the idle list (one wakeup per sleep).
    pub park: Note,
    /// When it last went idle for want of work (nanotime; runtime-created Ms). Set by
    /// its own thread under the sched lock, read under it.
    pub idle_since: AtomicI64,
    /// Set (under the sched lock) by whoever takes it off the idle list to make it
    /// the idle-M watcher (see `sched::stopm`): woken with no nextp, it goes back to
    /// sleep rather than exit.
    pub rewatch: AtomicBool,
    /// Inside rt_schedule(RT_SCHED_FOREVER), a host's scheduling loop, which runs
    /// until rt_shutdown: such an M never retires for idleness (its host's call
    /// would return while the runtime runs). Written by its own thread, read by it
    /// and, under the sched lock, by `sched::retire_idle_ms`.
    pub host_loop: AtomicBool,
    /// MState: changed by its own thread, or under the sched lock by whoever takes it
    /// off the idle list.
    pub state: AtomicU32,
    /// Fixed.
    pub kind: MKind,
    /// Made by the host's rt_allocm, so the host's to launch or free (fixed). An M
    /// the runtime makes and launches itself (rt_newm, the scheduler's, sysmon's) is
    /// on allm before its launch, and a host's stale handle may name it (an M handle
    /// is its address, reused by later Ms): rt_m_free and rt_m_launch refuse such an
    /// M, which would otherwise be freed, or launched, under its maker.
    pub host_alloc: bool,
    /// Its stacks (runtime-created Ms only). Fixed until freed.
    pub stack: Option<MStack>,
    /// A signal stack libmrt installed on an adopted thread that had none. Fixed
    /// until freed.
    pub altstack: Option<Mapping>,
    /// The G wired to it by rt_lockosthread (null if none). Written by that G on
    /// this M (or by g0 as it exits); read by anyone.
    pub lockedg: AtomicPtr<G>,
    /// Looking for work without a G to run (Go's m.spinning). Written by its own
    /// thread, or by its waker before the wakeup (startm); counted in NMSPINNING.
    pub spinning: AtomicBool,
    /// The P it gave up for a system call (Go's m.oldp). Own thread.
    pub oldp: AtomicPtr<P>,
    /// What the G that just switched to g0 asked g0 to do (Go's mcall argument).
    /// Own thread.
    pub action: core::cell::Cell<super::g::Action>,
    /// rt_main: set when the main G this M waits for has exited (by the M that ran
    /// its gdestroy, under the sched lock).
    pub main_done: AtomicBool,
    /// A runtime-created M that must exit after its current G (its locked G
    /// exited). Own thread.
    pub exiting: AtomicBool,
    /// Its locked G, handed over by startlockedm together with a P (before the
    /// wakeup), taken by the M.
    pub locked_next: AtomicPtr<G>,
    /// State of the random victim order for stealing. Own thread.
    pub steal_seed: core::cell::Cell<u32>,
    /// A G that switched straight to the current one (gosched's and gopark_direct's
    /// fast paths), whose context was not saved yet when it chose: the current G
    /// finishes its yield or park once running (`g::finish_switch`). Null: none.
    /// Own thread.
    pub pending_g: core::cell::Cell<*mut G>,
    /// G runs on this M that ended with an exit or a park (rt_schedule(RT_SCHED_ONCE)
    /// reports how many). Own thread.
    pub runs_ended: core::cell::Cell<u64>,
    /// What `pending_g` left to finish. Yield whenever nothing else is pending (a
    /// park or an exit sets it, finish_switch resets it). Own thread.
    pub pending: core::cell::Cell<super::g::Pending>,
    /// True while g0 runs a G's park callback (mid-park: the scheduler holds the P
    /// and resumes with it), when rt_releasep and rt_schedule refuse. Own thread.
    pub in_park_cb: core::cell::Cell<bool>,
    /// sysmon sent this M's thread the preemption signal and its handler has not
    /// run yet (Go's m.signalPending): set by sysmon before tgkill, taken by the
    /// handler, which treats the signal as the runtime's only then.
    pub preempt_sig_pending: AtomicBool,
    /// The first 64 bits of the signal mask the thread runs Gs with (the kernel's
    /// whole mask): written by its own thread in minit or at adoption, read by the
    /// preemption handler, which leaves a G alone when the interrupted mask differs.
    pub sigmask_word: AtomicU64,
    /// The mask its thread sets in minit (the runtime's `Sched::sigmask`, copied by
    /// allocm so that a starting thread does not take the sched lock for it). Fixed.
    pub sigmask: libc::sigset_t,
    /// Its thread started with `sigmask` already set (glibc applied it from the
    /// thread attributes), so minit does not set it again. Written by the launcher
    /// before pthread_create, read by the M's thread.
    pub mask_at_start: AtomicBool,
    /// Its buffer of execution-trace events (`trace`): own thread, and whoever
    /// stops the trace under the protocol described there.
    pub trace: super::trace::MTrace,
}

impl M {
    pub fn state(&self) -> MState {
        match self.state.load(Ordering::Acquire) {
            0 => MState::Allocated,
            1 => MState::Launching,
            2 => MState::Running,
            3 => MState::Idle,
            _ => MState::Exited,
        }
    }

    pub fn set_state(&self, s: MState) {
        self.state.store(s as u32, Ordering::Release);
    }

    fn blank(kind: MKind, f: RtFn, arg: *mut c_void) -> M {
        M {
            host_alloc: false,
            g0: ptr::null_mut(),
            mstartfn: f,
            mstartarg: arg,
            curg: AtomicPtr::new(ptr::null_mut()),
            p: AtomicPtr::new(ptr::null_mut()),
            held: core::cell::Cell::new(None),
            nextp: AtomicPtr::new(ptr::null_mut()),
            id: 0,
            alllink: ptr::null_mut(),
            schedlink: ptr::null_mut(),
            createstack: [0; CREATESTACK],
            ncreatestack: 0,
            freelink: ptr::null_mut(),
            procid: AtomicI64::new(0),
            park: Note::new(),
            idle_since: AtomicI64::new(0),
            rewatch: AtomicBool::new(false),
            host_loop: AtomicBool::new(false),
            state: AtomicU32::new(MState::Allocated as u32),
            kind,
            stack: None,
            altstack: None,
            lockedg: AtomicPtr::new(ptr::null_mut()),
            spinning: AtomicBool::new(false),
            oldp: AtomicPtr::new(ptr::null_mut()),
            action: core::cell::Cell::new(super::g::Action::None),
            main_done: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            locked_next: AtomicPtr::new(ptr::null_mut()),
            steal_seed: core::cell::Cell::new(0),
            pending_g: core::cell::Cell::new(ptr::null_mut()),
            pending: core::cell::Cell::new(super::g::Pending::Yield),
            preempt_sig_pending: AtomicBool::new(false),
            sigmask_word: AtomicU64::new(0),
            // SAFETY: sigset_t is plain data; all-zero is the empty set.
            sigmask: unsafe { core::mem::zeroed() },
            mask_at_start: AtomicBool::new(false),
            runs_ended: core::cell::Cell::new(0),
            in_park_cb: core::cell::Cell::new(false),
            trace: super::trace::MTrace::new(),
        }
    }

    /// The P it holds, if any (the shared part only: see `take_p` for the rest).
    pub fn p(&self) -> *mut P {
        self.p.load(Ordering::Relaxed)
    }

    /// Takes the M's [`HeldP`] out, for the caller to use by `&mut` and then give
    /// back with [`M::put_p`] or give up. None if the M holds no P, or if the value
    /// is out already (its user is up the stack). Only on the M's own thread.
    #[inline(always)]
    pub fn take_p(&self) -> Option<HeldP> {
        let pp = self.held.take()?;
        if self.p().is_null() {
            // rt_shutdown unwired this adopted M and freed the Ps: the value names a
            // P that is gone. (A value left from before a shutdown is found here or
            // forgotten by `wire` before the M publishes a P of the next run: the
            // M's published P is never non-null with a stale value behind it.)
            core::mem::forget(pp);
            return None;
        }
        Some(pp)
    }

    /// Puts the M's [`HeldP`] back (it must be the P the M holds).
    #[inline(always)]
    pub fn put_p(&self, pp: HeldP) {
        // SAFETY: only the M's own thread touches `held`, and no reference into it
        // lives across this call (take_p/put_p move the value in and out).
        let slot = unsafe { &mut *self.held.as_ptr() };
        if ptr::eq(self.p(), pp.as_ptr()) && slot.is_none() {
            *slot = Some(pp);
            return;
        }
        self.put_p_slow(pp);
    }

    /// put_p when the value is not simply the M's P going back into an empty slot:
    /// a P gone with an rt_shutdown, a value left from an earlier run, or a bug.
    #[cold]
    #[inline(never)]
    fn put_p_slow(&self, pp: HeldP) {
        if !ptr::eq(self.p(), pp.as_ptr()) {
            if self.p().is_null()
                && (super::run_state() != super::RunState::Running
                    || super::sched::SHUTTING_DOWN.load(Ordering::Acquire))
            {
                // rt_shutdown unwired this adopted M: the P is gone with the runtime.
                core::mem::forget(pp);
                return;
            }
            super::throw("put_p: not the P this M holds");
        }
        if let Some(other) = self.held.replace(Some(pp)) {
            core::mem::forget(other);
            super::throw("put_p: the M's P is back twice");
        }
    }

    /// Forgets a HeldP left at rest in this M by an rt_shutdown (which unwired the
    /// M and freed the Ps). Only on the M's own thread, while it holds no P (`wire`
    /// calls it before publishing the next one).
    pub fn forget_stale_p(&self) {
        if self.p().is_null() {
            if let Some(stale) = self.held.take() {
                core::mem::forget(stale);
            }
        }
    }

    /// The M's P, borrowed in place (None: it holds none or the value is out), for
    /// the hot paths where moving the value out and back costs more than the work
    /// (gosched, finish_switch, goready, newproc, execute's bookkeeping). Each use
    /// is a short, leaf-like borrow: the contract below is what take_p/put_p would
    /// check by moving.
    ///
    /// # Safety
    /// Only on the M's own thread, and only for code that cannot reach another
    /// borrow or move of the M's P (no take_p/put_p/held_mut, no G switch)
    /// while the returned reference lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // the `# Safety` contract makes the borrow unique
    pub unsafe fn held_mut(&self) -> Option<&mut HeldP> {
        // SAFETY: by the # Safety contract we are on the M's own thread (the only one
        // that touches `held`) and nothing borrows or moves it while this one lives.
        let slot = unsafe { &mut *self.held.as_ptr() };
        slot.as_mut()
    }
}

/// M ids: small, unique for the life of the process (adopted Ms outlive a
/// shutdown/init cycle, so ids are never reset).
static NEXT_MID: AtomicI64 = AtomicI64::new(1);

/// Runtime-created Ms whose thread is being created or runs runtime code: rt_shutdown
/// waits for this to reach zero. A futex word.
pub static NMLIVE: AtomicU32 = AtomicU32::new(0);

/// Exited Ms waiting for their thread to be gone (Go's sched.freem). Outlives a
/// shutdown/init cycle.
pub static FREEM: Lock<FreeList> = Lock::new(FreeList(ptr::null_mut()));

pub struct FreeList(pub *mut M);
// SAFETY: the Ms on the list are owned by it and touched only under its lock.
unsafe impl Send for FreeList {}

/// Finds `m` on `allm`: the only way a handle from the host is trusted.
pub fn lookup(s: &Sched, m: *const M) -> Result<&'static M> {
    if m.is_null() {
        return Err(Error::Inval);
    }
    let mut x = s.allm;
    while !x.is_null() {
        if ptr::eq(x, m) {
            // SAFETY: every M on allm is live while the sched lock is held.
            return Ok(unsafe { &*x });
        }
        // SAFETY: `x` is on allm, and the sched lock that `s` was borrowed from keeps
        // every M on allm live.
        x = unsafe { (*x).alllink };
    }
    Err(Error::Inval)
}

fn allm_add(s: &mut Sched, m: *mut M) {
    // SAFETY: m is a live M not yet on any list.
    unsafe { (*m).alllink = s.allm };
    s.allm = m;
}

/// Unlinks `m` from allm.
pub fn allm_remove(s: &mut Sched, m: *mut M) {
    let mut link: *mut *mut M = &mut s.allm;
    // SAFETY: walking live Ms under the sched lock.
    unsafe {
        while !(*link).is_null() {
            if *link == m {
                *link = (*m).alllink;
                (*m).alllink = ptr::null_mut();
                return;
            }
            link = &mut (**link).alllink;
        }
    }
}

/// Whether allocm records the whole call stack of each M's creation
/// (`MRT_DEBUG=createstack`), not just the call site.
pub static FULL_CREATESTACK: AtomicBool = AtomicBool::new(false);

/// Records where M `m` was made, for rt_dump's "created by" lines (Go's
/// mp.createstack). By default that is `caller`, the call site of the host's rt_newm
/// or rt_allocm (or of the runtime's own request for a thread), as rt_go records it
/// for a G: a frame-pointer read, nothing more. The whole stack needs the C library's
/// unwinder (backtrace: libgcc's DWARF unwinder, about a microsecond for a shallow
/// host stack here, a sizeable share of what a thread costs), so it is taken only
/// with `MRT_DEBUG=createstack`.
fn record_createstack(m: &mut M, caller: usize) {
    if !FULL_CREATESTACK.load(Ordering::Relaxed) {
        if caller != 0 {
            m.createstack[0] = caller;
            m.ncreatestack = 1;
        }
        return;
    }
    extern "C" {
        fn backtrace(buf: *mut *mut c_void, size: libc::c_int) -> libc::c_int;
    }
    let mut buf = [ptr::null_mut::<c_void>(); CREATESTACK + 2];
    // SAFETY: buf has room for the count given.
    let n = unsafe { backtrace(buf.as_mut_ptr(), buf.len() as libc::c_int) }.max(0) as usize;
    // Skip this function and allocm itself.
    let skip = n.min(2);
    for (i, a) in buf[skip..n].iter().enumerate().take(CREATESTACK) {
        m.createstack[i] = *a as usize;
        m.ncreatestack = i + 1;
    }
}

/// Go's allocm: a new M with its stacks, not yet running. If the calling M holds no
/// P and `p` is given, `p` is borrowed for the allocation and given back. `caller`:
/// where the M was asked for (see [`record_createstack`]; 0: unknown).
pub fn allocm(pp: *mut P, f: RtFn, arg: *mut c_void, caller: usize, host: bool) -> Result<*mut M> {
    let me = tls::getm();
    // SAFETY: getm returns the live M of this thread or null.
    let caller_has_p = !me.is_null() && unsafe { !(*me).p.load(Ordering::Relaxed).is_null() };
    let borrowed = if !pp.is_null() && !caller_has_p {
        Some(p::borrow(pp)?)
    } else {
        if !pp.is_null() {
            p::lookup(&SCHED.lock(), pp)?;
        }
        None
    };
    let r = allocm_inner(f, arg, caller, host);
    if let Some(b) = borrowed {
        p::unborrow(pp, b);
    }
    r
}

fn allocm_inner(f: RtFn, arg: *mut c_void, caller: usize, host: bool) -> Result<*mut M> {
    reap_freem(0);
    let (usable, glibc_part, sigmask) = {
        let s = SCHED.lock();
        s.check_running()?;
        (s.cfg.g0_stack_size, s.minstack, s.sigmask)
    };
    let stack = MStack::get(usable, glibc_part)?;
    let (g0_lo, g0_hi) = (stack.g0_lo, stack.g0_lo + usable);
    let (guard_lo, guard_hi) = stack.g0_guard();
    let mut mm = M::blank(MKind::Runtime, f, arg);
    mm.host_alloc = host;
    mm.stack = Some(stack);
    mm.sigmask = sigmask;
    record_createstack(&mut mm, caller);
    let m = try_box(mm)?;
    let g0 = match try_box(G::new_g0(m, g0_lo, g0_hi, guard_lo, guard_hi)) {
        Ok(g) => g,
        Err(e) => {
            // SAFETY: m was just allocated and is not shared.
            unsafe { free_box(m) };
            return Err(e);
        }
    };
    // The M owns its g0 from here on, so that every failure below frees both.
    // SAFETY: m was just allocated and is not shared.
    unsafe { (*m).g0 = g0 };
    let mut s = SCHED.lock();
    if let Err(e) = s.check_running() {
        drop(s);
        // SAFETY: not shared with anyone yet.
        unsafe { free_m(m) };
        return Err(e);
    }
    // SAFETY: m is ours until it is on allm, which happens under this lock.
    unsafe { (*m).id = NEXT_MID.fetch_add(1, Ordering::Relaxed) };
    allm_add(&mut s, m);
    Ok(m)
}

/// Frees an M's memory: its g0, its stacks, itself.
///
/// # Safety
/// No thread runs on `m` or its stacks, and no list links it.
pub unsafe fn free_m(m: *mut M) {
    // SAFETY: no thread runs on `m` or its stacks and no list links it (the # Safety
    // contract), so nobody else can reach m or its g0.
    unsafe {
        // A stale M of a fork child may still name a P of the parent's runtime:
        // that P is gone with it, not handed over.
        core::mem::forget((*m).held.take());
        let g0 = (*m).g0;
        if !g0.is_null() {
            free_box(g0);
        }
        if let Some(st) = (*m).stack.take() {
            st.put();
        }
        free_box(m);
    }
}

/// rt_m_free: frees an M that was never launched.
pub fn m_free(m: *mut M) -> Result<()> {
    free_unlaunched(m, true)
}

/// Frees `m` if it was never launched; with `host`, only an M of the host's
/// rt_allocm (see `M::host_alloc`), else also one its caller made to launch itself.
fn free_unlaunched(m: *mut M, host: bool) -> Result<()> {
    let mut s = SCHED.lock();
    let mm = lookup(&s, m)?;
    if mm.kind != MKind::Runtime || mm.state() != MState::Allocated || (host && !mm.host_alloc) {
        return Err(Error::Busy);
    }
    allm_remove(&mut s, m);
    drop(s);
    // SAFETY: off allm, never launched: nobody else can reach it.
    unsafe { free_m(m) };
    Ok(())
}

/// rt_m_launch (Go's newm after allocm): give `m` its nextp and start its thread.
pub fn m_launch(m: *mut M, nextp: *mut P) -> Result<()> {
    launch(m, nextp, false, None)
}

/// m_launch for the scheduler: `nextp` is already reserved for the new M.
///
/// `made_in`: the runtime generation in which the caller itself made `m` with
/// allocm (newm, startm). While the runtime is still running that generation, `m` is
/// live (rt_m_free refuses it, even through a host's stale handle that names it: see
/// `M::host_alloc`; only the shutdown that ends the generation frees it, or our
/// caller), so it is not looked up on allm: a walk
/// of every M under the scheduler lock made each new M slower than the last.
fn launch(m: *mut M, nextp: *mut P, reserved: bool, made_in: Option<u64>) -> Result<()> {
    let prev = {
        let mut s = SCHED.lock();
        s.check_running()?;
        let mm = match made_in {
            Some(gen) if super::GENERATION.load(Ordering::Acquire) == gen => {
                // SAFETY: made by our caller in this generation, which has not ended
                // (checked under the lock every shutdown takes): still live.
                unsafe { &*m }
            }
            _ => lookup(&s, m)?,
        };
        if mm.kind != MKind::Runtime || mm.state() != MState::Allocated {
            return Err(Error::Already);
        }
        if made_in.is_none() && !mm.host_alloc {
            // The host's rt_m_launch of an M the runtime is launching itself (a
            // stale handle that names it): that M is as good as launched.
            return Err(Error::Already);
        }
        let prev = if nextp.is_null() || reserved {
            None
        } else {
            Some(p::reserve(&mut s, nextp)?)
        };
        mm.nextp.store(nextp, Ordering::Relaxed);
        mm.set_state(MState::Launching);
        // Counted under the lock: a shutdown that stops the Ms after this point
        // waits for this one too.
        NMLIVE.fetch_add(1, Ordering::AcqRel);
        prev
    };
    if let Err(e) = newm1(m) {
        let mut s = SCHED.lock();
        // SAFETY: m is still on allm (Launching Ms cannot be freed) and has no thread.
        let mm = unsafe { &*m };
        mm.nextp.store(ptr::null_mut(), Ordering::Relaxed);
        mm.set_state(MState::Allocated);
        if let Some(prev) = prev {
            p::unreserve(&mut s, nextp, prev);
        }
        drop(s);
        mlive_done();
        return Err(e);
    }
    Ok(())
}

/// Go's newm: allocm + nextp + newm1. On failure nothing is left behind and `pp` is
/// back where it was. `caller`: as for [`allocm`].
pub fn newm(f: RtFn, arg: *mut c_void, pp: *mut P, caller: usize) -> Result<*mut M> {
    let gen = super::GENERATION.load(Ordering::Acquire);
    let m = allocm(pp, f, arg, caller, false)?;
    if let Err(e) = launch(m, pp, false, Some(gen)) {
        if super::GENERATION.load(Ordering::Acquire) != gen {
            // A shutdown freed the M (and maybe the P) between the two steps; its
            // address may even belong to a new M by now, so leave it alone.
            return Err(Error::Shutdown);
        }
        let _ = free_unlaunched(m, false);
        return Err(e);
    }
    Ok(m)
}

/// startm's newm: an M with no start function that takes the reserved `pp` and
/// schedules, spinning if asked. On failure `pp` is still reserved for the caller.
///
/// While the scheduler is backing off after a failure (see [`NEWM_BACKOFF_UNTIL`])
/// this fails at once without trying, if another M holds a P: the work stays queued
/// for it. With every other P idle no M would ever look at that work, so it tries
/// anyway (a host thread that queued Gs while no M could be made must not leave them
/// stranded once threads can be made again).
pub fn newm_for_sched(pp: HeldP, spinning: bool) -> core::result::Result<(), HeldP> {
    if newm_backing_off() && other_ps_busy() {
        return Err(pp);
    }
    let gen = super::GENERATION.load(Ordering::Acquire);
    let Ok(m) = allocm_inner(None, ptr::null_mut(), arch::caller_pc(), false) else {
        newm_failed();
        return Err(pp);
    };
    // SAFETY: just allocated, not launched: ours.
    unsafe { (*m).spinning.store(spinning, Ordering::Relaxed) };
    let raw = pp.into_raw();
    if launch(m, raw, true, Some(gen)).is_err() {
        let _ = free_unlaunched(m, false);
        newm_failed();
        // SAFETY: the M that was to take it never started: the P is still ours.
        return Err(unsafe { HeldP::from_raw(raw) });
    }
    Ok(())
}

/// Thread creation by the scheduler backs off after a failure (the OS refused a
/// thread, or no memory for an M): until this deadline (nanotime; 0: no backoff)
/// wakep / handoffp do not try to make an M, so that under RLIMIT_NPROC or a full
/// thread table each rt_go costs a couple of loads, not a failing mmap and
/// pthread_create, and the Gs run on the Ms that exist. The delay starts at
/// [`NEWM_BACKOFF_MIN_NS`] and doubles with each failure up to
/// [`NEWM_BACKOFF_MAX_NS`]; any successful thread creation (the scheduler's or
/// the host's rt_newm / rt_m_launch) ends the backoff. The host's own calls never
/// wait for it: they try, and report RT_EAGAIN or RT_ENOMEM at once.
static NEWM_BACKOFF_UNTIL: AtomicI64 = AtomicI64::new(0);
/// The delay the next failure sets (0: none yet).
static NEWM_BACKOFF_NS: AtomicI64 = AtomicI64::new(0);
const NEWM_BACKOFF_MIN_NS: i64 = 1_000_000;
const NEWM_BACKOFF_MAX_NS: i64 = 100_000_000;

/// Whether a P other than the one the caller reserved is not idle (an M holds it,
/// or it is promised to one).
fn other_ps_busy() -> bool {
    p::GOMAXPROCS.load(Ordering::Acquire) - p::NPIDLE.load(Ordering::Acquire) > 1
}

/// Whether the scheduler should not try to make a thread now.
#[inline]
pub fn newm_backing_off() -> bool {
    let until = NEWM_BACKOFF_UNTIL.load(Ordering::Acquire);
    until != 0 && nanotime() < until
}

/// Whether some M can run a G from the global queue with no thread to make: the
/// calling thread's own M if it holds a P (an adopted M that runs rt_schedule), or a
/// runtime-created M that lives (starting, running, or idle for a wakep to wake).
pub fn any_runtime_m() -> bool {
    let me = tls::getm();
    // SAFETY: the calling thread's own live M, if any.
    if !me.is_null() && !unsafe { (*me).p.load(Ordering::Acquire) }.is_null() {
        return true;
    }
    let s = SCHED.lock();
    let mut x = s.allm;
    while !x.is_null() {
        // SAFETY: Ms on allm are live under the sched lock.
        let m = unsafe { &*x };
        if m.kind == MKind::Runtime
            && matches!(
                m.state(),
                MState::Launching | MState::Running | MState::Idle
            )
        {
            return true;
        }
        x = m.alllink;
    }
    false
}

/// The scheduler (or sysmon's start) failed to make a thread: back off for the
/// current delay, and double it for the next failure.
pub fn newm_failed() {
    let d = NEWM_BACKOFF_NS
        .load(Ordering::Relaxed)
        .max(NEWM_BACKOFF_MIN_NS);
    NEWM_BACKOFF_NS.store((d * 2).min(NEWM_BACKOFF_MAX_NS), Ordering::Relaxed);
    NEWM_BACKOFF_UNTIL.store(nanotime() + d, Ordering::Release);
}

/// A thread was made: thread creation works again.
fn newm_succeeded() {
    if NEWM_BACKOFF_UNTIL.load(Ordering::Relaxed) != 0 {
        NEWM_BACKOFF_NS.store(0, Ordering::Relaxed);
        NEWM_BACKOFF_UNTIL.store(0, Ordering::Release);
    }
}

/// rt_init / rt_shutdown / a fork child: a fresh runtime starts without a backoff.
pub fn newm_backoff_reset() {
    NEWM_BACKOFF_NS.store(0, Ordering::Relaxed);
    NEWM_BACKOFF_UNTIL.store(0, Ordering::Release);
}

/// The exec lock (Go's execLock): thread creation holds the read side; fork holds the
/// write side (pthread_atfork), so no thread is half-created in a forked child.
struct ExecLock(core::cell::UnsafeCell<libc::pthread_rwlock_t>);
// SAFETY: pthread rwlocks are made to be shared between threads.
unsafe impl Sync for ExecLock {}
static EXEC_LOCK: ExecLock = ExecLock(core::cell::UnsafeCell::new(
    libc::PTHREAD_RWLOCK_INITIALIZER,
));

pub fn exec_lock_write() {
    // SAFETY: a statically initialised rwlock.
    unsafe { libc::pthread_rwlock_wrlock(EXEC_LOCK.0.get()) };
}

/// In a fork child: the forking thread held the write side, but glibc records the
/// holder by thread id and the child's thread has a new one, so an unlock would be
/// taken for a reader's. Start the lock afresh instead.
pub fn exec_lock_reinit_after_fork() {
    // SAFETY: the child has one thread; nobody else can touch the lock.
    unsafe { EXEC_LOCK.0.get().write(libc::PTHREAD_RWLOCK_INITIALIZER) };
}

pub fn exec_unlock() {
    // SAFETY: the caller holds the lock (read or write side).
    unsafe { libc::pthread_rwlock_unlock(EXEC_LOCK.0.get()) };
}

/// Go's newm1: newosproc under the read side of the exec lock.
fn newm1(m: *mut M) -> Result<()> {
    // SAFETY: a statically initialised rwlock.
    unsafe { libc::pthread_rwlock_rdlock(EXEC_LOCK.0.get()) };
    let r = newosproc(m);
    exec_unlock();
    r
}

/// How often newosproc tries a pthread_create refused with EAGAIN: a thread that
/// just exited may still count against RLIMIT_NPROC for a moment, so it yields the
/// CPU between tries, but it never sleeps: a refusal is reported (RT_EAGAIN from
/// rt_newm) or, for the scheduler, starts the backoff of [`NEWM_BACKOFF_UNTIL`].
const NEWOSPROC_TRIES: u32 = 3;

/// Go's newosproc: a detached pthread on the M's own stack, entered at mstart_stub,
/// created with every signal blocked (the M sets its own mask in mstart).
fn newosproc(m: *mut M) -> Result<()> {
    // SAFETY: m is a live, Launching M: its stack is not in use.
    let (lo, len) = unsafe {
        (*m).stack
            .as_ref()
            .expect("runtime M has a stack")
            .thread_stack()
    };
    // SAFETY: plain pthread/signal calls on local, initialised objects.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_attr_init(&mut attr) != 0 {
            return Err(Error::NoMem);
        }
        let mut rc = libc::pthread_attr_setstack(&mut attr, lo as *mut c_void, len);
        if rc == 0 {
            rc = libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        }
        if rc != 0 {
            libc::pthread_attr_destroy(&mut attr);
            return Err(Error::Inval);
        }
        // Where glibc can be told the new thread's mask (pthread_attr_setsigmask_np,
        // glibc 2.32), the thread starts with the mask it runs with, which glibc
        // sets anyway as the thread starts: minit need not set it again, and the
        // creator's own mask stays as it is (three system calls fewer per M, one of
        // them before the clone). Until minit installs the M's signal stack, and
        // until mstart_stub sets the TLS slot, a signal handled there finds a thread
        // like any host thread (no G: the handlers pass the signal on) or an M on g0
        // with no G to preempt (the old order in minit, mask before signal stack,
        // had that window too). Else the creator blocks every signal around the
        // call, the thread inherits that, and minit sets the M's mask.
        let mut all: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        let own_mask = match attr_setsigmask() {
            Some(set) if set(&mut attr, &(*m).sigmask) == 0 => false,
            _ => {
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
                true
            }
        };
        (*m).mask_at_start.store(!own_mask, Ordering::Relaxed);
        let mut tries = 0;
        let rc = loop {
            let mut tid: libc::pthread_t = 0;
            let rc = libc::pthread_create(&mut tid, &attr, start_routine(), m.cast());
            if rc == 0 {
                // The thread also stores its pthread in mstart; the value is the same.
                break 0;
            }
            tries += 1;
            if rc != libc::EAGAIN || tries >= NEWOSPROC_TRIES {
                break rc;
            }
            libc::sched_yield();
        };
        if own_mask {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut());
        }
        libc::pthread_attr_destroy(&mut attr);
        match rc {
            0 => {
                newm_succeeded();
                Ok(())
            }
            libc::ENOMEM => Err(Error::NoMem),
            libc::EINVAL => Err(Error::Inval),
            _ => Err(Error::Again),
        }
    }
}

type AttrSetSigmask =
    unsafe extern "C" fn(*mut libc::pthread_attr_t, *const libc::sigset_t) -> libc::c_int;

/// glibc's pthread_attr_setsigmask_np, looked up once (the libc crate does not bind
/// it, and a glibc older than 2.32 lacks it). 0: not looked up yet; 1: absent.
static ATTR_SETSIGMASK: AtomicUsize = AtomicUsize::new(0);

fn attr_setsigmask() -> Option<AttrSetSigmask> {
    let mut f = ATTR_SETSIGMASK.load(Ordering::Relaxed);
    if f == 0 {
        // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the global
        // scope.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"pthread_attr_setsigmask_np".as_ptr()) };
        f = if p.is_null() { 1 } else { p as usize };
        // Racing lookups store the same value.
        ATTR_SETSIGMASK.store(f, Ordering::Relaxed);
    }
    // SAFETY: a non-null result of that lookup is glibc's function, whose signature
    // is AttrSetSigmask in every glibc that exports it.
    (f != 1).then(|| unsafe { core::mem::transmute::<usize, AttrSetSigmask>(f) })
}

type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;

fn start_routine() -> StartRoutine {
    // SAFETY: mstart_stub follows the C calling convention of a pthread entry.
    unsafe {
        core::mem::transmute::<unsafe extern "C" fn(*mut c_void) -> *mut c_void, StartRoutine>(
            arch::mstart_stub,
        )
    }
}

/// Go's mstart, called by mstart_stub on the new thread with the TLS slot already
/// pointing at g0. `entry_sp` is the top of the part of the stack that is ours.
///
/// The host's start function runs outside the runtime's panic catchers, between two
/// of them: it may end its thread with pthread_exit (CPython does so to every thread
/// that wants the GIL while the interpreter finalizes), and the forced unwind that
/// does it must reach glibc's thread start through frames that let it pass. Caught
/// by `no_unwind`, it aborted the process ("FATAL: exception not rethrown"). The M
/// is then lost as a thread that never came back from its start function
/// (rt_shutdown says RT_ETIMEDOUT), which is what the host asked for. `C-unwind`
/// because that unwind leaves through this frame into mstart_stub, whose CFI
/// continues it; a panic of the runtime's own never gets here (`no_unwind`).
pub extern "C-unwind" fn mstart(m: *mut M, entry_sp: usize) {
    // A panic must not unwind into mstart_stub: it is a bug, reported and fatal.
    // Under TSan the M's own code is the runtime's (`sanitizer::runtime_call`).
    super::no_unwind(|| super::sanitizer::runtime_call(|| mstart1(m, entry_sp)));
    // SAFETY: the M is Running and owned by this thread.
    let mm = unsafe { &*m };
    if let Some(f) = mm.mstartfn {
        // SAFETY: the host gave this function for exactly this call. The same
        // function seen with the C-unwind ABI (the same calling convention): the
        // host's forced unwind may leave through it (see above); no Rust frame with
        // a catcher lies between it and mstart_stub.
        unsafe {
            let f = core::mem::transmute::<
                unsafe extern "C" fn(*mut c_void),
                unsafe extern "C-unwind" fn(*mut c_void),
            >(f);
            f(mm.mstartarg);
        }
    }
    super::no_unwind(|| {
        super::sanitizer::runtime_call(|| {
            sched::mloop(m);
            mexit(m);
        })
    });
}

/// mstart up to the host's start function: the M's thread, stack and signal setup.
fn mstart1(m: *mut M, entry_sp: usize) {
    // SAFETY: the M is Launching and owned by this thread from here on.
    let mm = unsafe { &*m };
    // SAFETY: g0 is set by allocm; its stack bounds are ours to refine.
    unsafe {
        (*mm.g0).stack_hi = entry_sp;
    }
    // SAFETY: gettid has no memory effects.
    mm.procid
        .store(unsafe { libc::gettid() } as i64, Ordering::Release);
    mm.set_state(MState::Running);
    minit(mm);
}

/// Go's minit: the M's signal mask and alternate signal stack.
fn minit(m: &M) {
    if !m.mask_at_start.load(Ordering::Relaxed) {
        // SAFETY: a valid sigset for this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &m.sigmask, ptr::null_mut()) };
    }
    m.sigmask_word
        .store(signal::mask_word(&m.sigmask), Ordering::Relaxed);
    if let Some(st) = &m.stack {
        // A new thread never has a signal stack (POSIX: not inherited).
        signal::install_altstack(st.alt_lo, ALTSTACK_SIZE);
    }
}

/// Go's mexit: the thread is leaving the runtime for good.
fn mexit(m: *mut M) {
    // SAFETY: this thread runs m.
    let mm = unsafe { &*m };
    // A P it still holds or was promised goes to an M if work waits on it (Go's
    // handoffp), else to the pool.
    if let Some(pp) = sched::releasep_reserved(mm) {
        sched::handoffp(pp);
    }
    let np = mm.nextp.swap(ptr::null_mut(), Ordering::AcqRel);
    if !np.is_null() {
        // SAFETY: reserved for this M, which will never take it now.
        sched::handoffp(unsafe { HeldP::from_raw(np) });
    }
    super::trace::m_exit(mm);
    allm_remove(&mut SCHED.lock(), m);
    signal::disable_altstack_if(mm.stack.as_ref().map(|s| s.alt_lo));
    tls::setg(ptr::null_mut());
    mm.set_state(MState::Exited);
    {
        let mut f = FREEM.lock();
        // SAFETY: m is off allm; only the freem list links it now.
        unsafe { (*m).freelink = f.0 };
        f.0 = m;
    }
    mlive_done();
}

fn mlive_done() {
    if NMLIVE.fetch_sub(1, Ordering::AcqRel) == 1 {
        futex_wake(&NMLIVE, i32::MAX);
    }
}

/// Waits until no runtime-created M runs runtime code, or until `deadline`
/// (nanotime; < 0: no limit). Returns whether they all left.
pub fn wait_mlive_zero(deadline: i64) -> bool {
    super::note::futex_wait_zero(&NMLIVE, deadline)
}

/// Whether the kernel no longer knows thread `tid` of this process.
fn thread_gone(tid: i64) -> bool {
    // SAFETY: signal 0 only checks that the thread exists.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) };
    // SAFETY: reading errno right after the call.
    r == -1 && unsafe { *libc::__errno_location() } == libc::ESRCH
}

/// Frees the Ms on the freem list whose threads are gone. Waits for stragglers until
/// `deadline` (nanotime; 0: don't wait).
pub fn reap_freem(deadline: i64) {
    loop {
        let mut list = core::mem::replace(&mut FREEM.lock().0, ptr::null_mut());
        let mut keep: *mut M = ptr::null_mut();
        while !list.is_null() {
            let m = list;
            // SAFETY: Ms on the freem list are owned by it.
            unsafe {
                list = (*m).freelink;
                if thread_gone((*m).procid.load(Ordering::Acquire)) {
                    free_m(m);
                } else {
                    (*m).freelink = keep;
                    keep = m;
                }
            }
        }
        if keep.is_null() {
            return;
        }
        {
            let mut f = FREEM.lock();
            let mut tail = keep;
            // SAFETY: walking our private list before relinking it.
            unsafe {
                while !(*tail).freelink.is_null() {
                    tail = (*tail).freelink;
                }
                (*tail).freelink = f.0;
            }
            f.0 = keep;
        }
        if deadline == 0 || nanotime() >= deadline {
            return;
        }
        os_sleep(20_000);
    }
}

/// The key whose destructor gives an adopted thread's M back when the thread exits.
static EXTRAM_KEY: Lazy<libc::pthread_key_t> = Lazy::new(|| {
    let mut k: libc::pthread_key_t = 0;
    // SAFETY: k is a valid out-pointer; the destructor has the required signature.
    if unsafe { libc::pthread_key_create(&mut k, Some(extram_exit)) } != 0 {
        super::throw("pthread_key_create failed for the adopted-M key");
    }
    k
});

/// Makes the calling foreign thread an M (Go's needm/extra M): its own stack is g0.
pub fn adopt() -> Result<*mut M> {
    let key = *EXTRAM_KEY;
    // SAFETY: pthread calls on this thread's own attributes.
    let (lo, hi, glo, ghi) = unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        let (mut addr, mut size, mut guard) = (ptr::null_mut(), 0usize, 0usize);
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_getguardsize(&attr, &mut guard);
            libc::pthread_attr_destroy(&mut attr);
        }
        let lo = addr as usize;
        (lo, lo + size, lo.saturating_sub(guard), lo)
    };
    let altstack = if signal::has_altstack() {
        None
    } else {
        let map = Mapping::reserve(GUARD_SIZE + ALTSTACK_SIZE)?;
        map.guard(map.base, GUARD_SIZE)?;
        Some(map)
    };
    let mut mm = M::blank(MKind::Adopted, None, ptr::null_mut());
    mm.altstack = altstack;
    mm.sigmask_word = AtomicU64::new(signal::thread_mask_word());
    mm.set_state(MState::Running);
    // SAFETY: gettid and pthread_self have no memory effects.
    unsafe {
        mm.procid.store(libc::gettid() as i64, Ordering::Relaxed);
    }
    let m = try_box(mm)?;
    let g0 = match try_box(G::new_g0(m, lo, hi, glo, ghi)) {
        Ok(g) => g,
        Err(e) => {
            // SAFETY: not shared yet.
            unsafe { free_box(m) };
            return Err(e);
        }
    };
    // The M owns its g0 from here on, so that every failure below frees both.
    // SAFETY: not shared yet.
    unsafe { (*m).g0 = g0 };
    {
        let mut s = SCHED.lock();
        if let Err(e) = s.check_running() {
            drop(s);
            // SAFETY: not shared yet.
            unsafe { free_m(m) };
            return Err(e);
        }
        // SAFETY: m is ours until linked.
        unsafe { (*m).id = NEXT_MID.fetch_add(1, Ordering::Relaxed) };
        allm_add(&mut s, m);
    }
    // SAFETY: m is live; the alt stack lies in its mapping.
    unsafe {
        if let Some(a) = &(*m).altstack {
            signal::install_altstack_if_none(a.base + GUARD_SIZE, ALTSTACK_SIZE);
        }
        libc::pthread_setspecific(key, m.cast());
    }
    tls::setg(g0);
    Ok(m)
}

/// The thread-exit destructor of an adopted M: gives its P back and frees it.
extern "C" fn extram_exit(arg: *mut c_void) {
    super::sanitizer::runtime_call(|| extram_exit1(arg))
}

fn extram_exit1(arg: *mut c_void) {
    let m = arg.cast::<M>();
    tls::setg(ptr::null_mut());
    let mut released = false;
    {
        let mut s = SCHED.lock();
        // SAFETY: the M of this exiting thread is live until freed below.
        let mm = unsafe { &*m };
        if let Some(pp) = mm.take_p() {
            if s.running {
                p::unwire(mm, &pp);
                // Gs left on its queue (or moved off it, if it dies) need an M.
                released = !pp.p().runq.is_empty();
                p::release_to_pool(&mut s, pp);
            } else {
                // rt_shutdown freed the Ps already: this one is gone with them.
                mm.p.store(ptr::null_mut(), Ordering::Release);
                let _ = pp.into_raw();
            }
        }
        allm_remove(&mut s, m);
    }
    if released {
        sched::wakep_global();
    }
    // SAFETY: the M is off every list and its thread is this one, now leaving.
    unsafe {
        signal::disable_altstack_if((*m).altstack.as_ref().map(|a| a.base + GUARD_SIZE));
        free_m(m);
    }
}

/// Forgets the calling thread's adoption in a fork child (its M belongs to the
/// parent's runtime).
pub fn forget_adoption_after_fork() {
    if let Some(&key) = Lazy::get(&EXTRAM_KEY) {
        // SAFETY: clearing this thread's own key value.
        unsafe { libc::pthread_setspecific(key, ptr::null()) };
    }
}

/// Stacks that the thread of a fork child still runs on although their M is gone.
static ORPHANED: Lock<Orphans> = Lock::new(Orphans(Vec::new(), Vec::new()));

/// Kept stacks: M stacks and bare mappings (signal stacks).
struct Orphans(Vec<MStack>, Vec<Mapping>);

/// Frees Ms left over from the parent's runtime in a fork child: none of their
/// threads exist here. The forking thread's M keeps its stacks (its g0 and thread
/// stack, which holds the thread's TCB and TLS, and its signal stack) even when the
/// thread ran on a G's stack at the fork; so does any M whose stack or signal stack
/// the caller is on.
///
/// # Safety
/// Called in a fork child, by rt_init, before the new runtime starts.
pub unsafe fn free_stale_ms(s: &mut Sched) {
    let sp = arch::getsp();
    let alt = signal::current_altstack();
    let forker_g = super::g::forker_after_fork();
    let forker = if forker_g.is_null() {
        ptr::null_mut()
    } else {
        // SAFETY: the G the forking thread ran (or its g0) at the fork: no G or M is
        // freed before this runs, so it is still allocated.
        unsafe { (*forker_g).m }
    };
    let mut m = core::mem::replace(&mut s.allm, ptr::null_mut());
    while !m.is_null() {
        // SAFETY: stale Ms are exclusively ours in the child.
        unsafe {
            let next = (*m).alllink;
            let holds = |lo: usize, hi: usize| {
                (sp >= lo && sp < hi) || alt.is_some_and(|a| a >= lo && a < hi)
            };
            let on_it = m == forker
                || (*m)
                    .stack
                    .as_ref()
                    .is_some_and(|st| holds(st.map.base, st.map.top()))
                || (*m)
                    .altstack
                    .as_ref()
                    .is_some_and(|a| holds(a.base, a.top()));
            if on_it {
                // The calling thread still uses this M's stacks: keep the memory,
                // drop the bookkeeping. Without memory to record them, the
                // stacks are leaked rather than unmapped under the thread.
                let mut o = ORPHANED.lock();
                if let Some(st) = (*m).stack.take() {
                    if o.0.try_reserve(1).is_ok() {
                        o.0.push(st);
                    } else {
                        core::mem::forget(st);
                    }
                }
                if let Some(a) = (*m).altstack.take() {
                    if o.1.try_reserve(1).is_ok() {
                        o.1.push(a);
                    } else {
                        core::mem::forget(a);
                    }
                }
            }
            free_m(m);
            m = next;
        }
    }
    // SAFETY: the freem list is ours in the child too.
    let mut f = unsafe { FREEM.get_after_fork() }.0;
    // SAFETY: we are in a fork child before the new runtime starts (our # Safety), so
    // no other thread exists to hold or take FREEM's lock.
    unsafe { FREEM.get_after_fork() }.0 = ptr::null_mut();
    while !f.is_null() {
        // SAFETY: `f` is on the freem list, detached above; its thread does not exist
        // in the child and no list links it any more, as free_m requires.
        unsafe {
            let next = (*f).freelink;
            free_m(f);
            f = next;
        }
    }
}
