//! G: goroutines. Their states, the G entry and goexit, the switch (from g0, to g0
//! with mcall, and G to G for gosched's fast path), the free-G and stack caches, goid
//! batches, rt_lockosthread. What the scheduler does with Gs (newproc, gosched,
//! gopark, goready) is in `sched.rs`, as in Go's proc.go.
//!
//! A G gets its stack when it first runs, not when it is made: a G that waits in a
//! run queue costs only its descriptor, and the stack of a G that exited goes
//! straight to the next G to start (the per-P stack cache), so spawning and running
//! short Gs never enters the kernel. `newproc` still makes sure a stack can be had
//! when every cache is empty (`galloc`), so that running out of memory is an RT_ENOMEM from
//! rt_go, as the API promises. That promise is per cache, not per G: Gs made faster
//! than they start share the cached stacks, and one that finds none left when it is
//! to run, with the arenas exhausted, waits for a stack to be freed (`stack_wait`).

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

use super::error::{Error, Result};
use super::m::{MKind, RtFn, M};
use super::note::{futex_wait, futex_wake, Lock};
use super::p::{bump_release, HeldP, PLocal};
use super::stack::{GStack, StackList};
use super::{arch, greg, sanitizer, tls};

/// The saved context of a switched-out G (or of a g0 that switched to a G). The
/// registers themselves are on the G's stack; see asm/x86_64.S.
#[repr(C)]
pub struct Gobuf {
    pub sp: usize,
}

/// The life of a G. Each state answers: who owns the stack, is the G on a queue,
/// does it have an M or a P.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GStatus {
    /// On a free list: no stack in use (it may hold none), on no run queue, no M.
    Idle = 0,
    /// On a run queue (a P's ring or runnext, or the global queue), or being moved
    /// to one: its stack (if it has started) holds its saved context; no M.
    Runnable = 1,
    /// An M runs it on its own stack; that M holds a P.
    Running = 2,
    /// Parked by the library itself (a channel operation, select, sleep, poll,
    /// rt_mutex, rt_wg): its stack holds its saved context; on no run queue; no M.
    /// The waker that library code registered makes it Runnable; rt_ready refuses it.
    Waiting = 3,
    /// In a system call (between rt_entersyscall and rt_exitsyscall): an M runs it
    /// on its stack, but the M has given up its P, which sysmon may hand off.
    Syscall = 4,
    /// Exited; being recycled by its M's g0.
    Dead = 5,
    /// The g0 of an M: it owns the M's system stack, is never queued, and has its M
    /// for life.
    System = 6,
    /// Parked by the host's rt_park: as Waiting, but only rt_ready makes it
    /// Runnable. A separate state, so that a host's rt_ready (a stale, guessed or
    /// mistaken handle included) can never wake a G out of a wait the library owns,
    /// whose waiter record the library would later use.
    HostWaiting = 7,
}

/// What a G asks its M's g0 to do once the G's context is saved (Go's mcall).
#[derive(Clone, Copy, Debug)]
pub enum Action {
    None,
    /// rt_gosched: the G goes to the tail of the P's queue (Go's goyield).
    Yield,
    /// rt_gosched under MRT_DEBUG=migrate: the G goes to the global queue.
    YieldGlobal,
    /// rt_checkpoint of a G marked for preemption: to the global queue (Go's
    /// gopreempt_m).
    Preempt,
    /// A runtime primitive's park: mark the G waiting, then call unlock(g, arg).
    Park(ParkFn, *mut c_void),
    /// rt_park: the same, but unlock gets the G's handle (`greg`), not its address.
    ParkHost(HostParkFn, *mut c_void),
    /// The G's function returned, or it called rt_goexit.
    Exit,
    /// rt_exitsyscall found no P: queue the G and look for one.
    ExitSyscall,
}

/// A park's unlock callback: runs on g0 (for gopark_direct, maybe on the G switched
/// to); returning false resumes the G.
pub type UnlockFn = unsafe extern "C" fn(g: *mut G, arg: *mut c_void) -> bool;
/// What a G that switched straight to another (M::pending_g) left for that one to
/// finish once its context is saved.
#[derive(Clone, Copy)]
pub enum Pending {
    /// gosched: queue it at the tail of the P's queue.
    Yield,
    /// gopark_direct: mark it waiting and run its unlock callback.
    Park(UnlockFn, *mut c_void),
    /// goexit: recycle it (gdestroy).
    Exit,
}

/// An optional unlock callback (None: the park needs none).
pub type ParkFn = Option<UnlockFn>;
/// rt_park's unlock callback (the host's rt_parkfn): as ParkFn, given the G's handle.
pub type HostParkFn = Option<unsafe extern "C" fn(g: *mut c_void, arg: *mut c_void) -> bool>;

/// A G. `#[repr(C)]`: the assembly reads `sched.sp` at an offset asserted in `arch`.
///
/// Who may touch it follows its status (see [`GStatus`]): a Running or Syscall G
/// belongs to the M that runs it, a Runnable one to whoever took it off its queue,
/// a Waiting one to nobody until the one waker that wins the Waiting -> Runnable CAS
/// (`set_runnable`); an Idle one to the cache that holds it. Fields marked otherwise
/// are atomics read by anyone (rt_dump, rt_ready's checks).
///
/// Aligned to a cache line: in a descriptor block (`GBlocks`) every G then starts a
/// line and covers exactly the [`G_HOT_LINES`] lines that a spawn or a start
/// prefetches.
#[repr(C, align(64))]
pub struct G {
    // Ordered so that making, queueing, picking and starting a G touches as few of
    // its cache lines as can be: those fields first, the rarely used ones last.
    /// GStatus. Changed by the owner, or by the CAS that readies a Waiting G.
    pub status: AtomicU32,
    /// Asked to give up its P at the next checkpoint (Go's gp.preempt): set by sysmon
    /// when it has run for a whole time slice, cleared when it is next scheduled or
    /// honours the request (rt_checkpoint).
    pub preempt: AtomicBool,
    /// Created with RT_G_ASYNC_PREEMPT: its code may be interrupted at any instruction
    /// outside libmrt, so sysmon preempts it by signal (`preempt.rs`). Set by
    /// `prepare` before the G is published; read by sysmon and the signal handler.
    pub async_preempt: AtomicBool,
    started: bool,
    name_len: u8,
    /// How deep the G is in calls into libmrt (the FFI boundary counts them): while
    /// non-zero the preemption signal leaves it alone, wherever its PC is (libc,
    /// a sanitizer's hooks). Written only by the G itself, one store at a time with
    /// a signal fence around it, read by the signal handler on the same thread.
    pub in_runtime: AtomicU32,
    /// The M running this G (for g0: its owner, fixed). Owner.
    pub m: *mut M,
    /// Its saved context while it is not running. Owner (the switch writes it).
    pub sched: Gobuf,
    /// Link on the one list that holds the G, if any: the global run queue, a netpoll
    /// ready list, a free list (Go's g.schedlink). The G carries its own link, so
    /// queueing it never allocates. Whoever holds the list that holds the G.
    schedlink: *mut G,
    /// The M it is wired to by rt_lockosthread, and the nesting depth. Written by
    /// the G itself (and by gdestroy); lockedm read by the scheduler.
    pub lockedm: AtomicPtr<M>,
    /// Its slot in the G registry (`greg`) and the slot's index: None for g0s.
    /// Set once, before the descriptor is first used.
    hslot: Option<&'static greg::Slot>,
    hidx: u32,
    pub lockcount: u32,
    /// The host's handle for the G it runs now (`greg`), set by `prepare`; before
    /// the descriptor's first G, no G's handle but the slot's generation in the high
    /// word (`greg::register`). Owner.
    pub handle: usize,
    /// 0 for g0s. Set by newproc, before the G is published.
    pub goid: i64,
    /// The execution trace's flow id of the wake that made it runnable (0: none):
    /// set by its waker, taken when it next starts (`trace`). Beside `goid`, which
    /// every trace event of the G reads: a start reads it too, and a line of the G
    /// that nothing else touches there would be a cache miss per start.
    pub trace_flow: AtomicU64,
    /// What it runs. Owner, set by newproc.
    fnc: RtFn,
    arg: *mut c_void,
    /// rt_main: the M waiting for this G to exit. Set by newproc; taken by gdestroy.
    pub mainm: *mut M,
    /// Usable stack: [stack_lo, stack_hi). Owner (set when the stack is bound).
    pub stack_lo: usize,
    pub stack_hi: usize,
    /// Its stack once it has started. Owner.
    stack: Option<GStack>,
    /// The guard region below the stack: [guard_lo, guard_hi). A fault there is a
    /// stack overflow. Empty (0, 0) when unknown. Owner; read by the fault handler
    /// on the M that runs the G.
    pub guard_lo: usize,
    pub guard_hi: usize,
    /// MRT_DEBUG=migrate: the M it last yielded on, which should not resume it.
    /// Written by that M before it queues the G; read by the M that dequeues it.
    pub avoid_m: AtomicPtr<M>,
    /// The label rt_go_ex gave it (NUL-padded; `name_len` bytes), for rt_dump.
    /// Owner, set by `set_name` before the G is published.
    name: [u8; G_NAME_MAX],
    /// What a sanitized host's ASan or TSan is told about it (`sanitizer`).
    pub san: sanitizer::GSan,
    /// Why it waits and since when, for rt_dump: [`WaitReason`] in the top byte, the
    /// low 56 bits of the time-stamp counter at the park below (see [`set_wait`]).
    /// Written by the G itself just before it parks, one plain store; read by anyone
    /// (a stale value is only a stale line of a dump).
    pub wait: AtomicU64,
    /// The G that made it (0: a foreign thread or an M's g0) and the return address
    /// of the rt_go / rt_go_ex call that did (0: unknown). Set by newproc before the
    /// G is published; read by rt_dump.
    pub creator: i64,
    pub create_pc: usize,
}

/// Why a G waits: shown by rt_dump as Go shows a goroutine's wait reason, and by the
/// execution trace as the reason a G's run ended. Each park site of the library (and
/// rt_park for the host's own parks) states it once, through [`set_wait`].
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WaitReason {
    None = 0,
    ChanSend = 1,
    ChanRecv = 2,
    Select = 3,
    Sleep = 4,
    Fd = 5,
    Mutex = 6,
    WaitGroup = 7,
    HostPark = 8,
}

impl WaitReason {
    /// Go's spelling where Go has the same wait.
    pub fn name(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Fd => "IO wait",
            WaitReason::Mutex => "sync.Mutex.Lock",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
            WaitReason::HostPark => "rt_park",
        }
    }

    /// The execution trace's shorter spelling (its `why`; a host park is named by
    /// the trace after the host's function instead).
    pub fn trace_name(self) -> &'static str {
        match self {
            WaitReason::None => "park",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan recv",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Fd => "fd",
            WaitReason::Mutex => "mutex",
            WaitReason::WaitGroup => "wg",
            WaitReason::HostPark => "host",
        }
    }

    pub fn from_u8(v: u8) -> WaitReason {
        match v {
            1 => WaitReason::ChanSend,
            2 => WaitReason::ChanRecv,
            3 => WaitReason::Select,
            4 => WaitReason::Sleep,
            5 => WaitReason::Fd,
            6 => WaitReason::Mutex,
            7 => WaitReason::WaitGroup,
            8 => WaitReason::HostPark,
            _ => WaitReason::None,
        }
    }
}

pub(crate) const WAIT_TSC_MASK: u64 = (1 << 56) - 1;

/// Notes why the running G `gp` is about to park, on what (`obj`: a channel, mutex
/// or wait group address, an fd, a host park's rt_parkfn; 0 for none), and when: one
/// store into its descriptor (the time is the CPU's time-stamp counter, read in one
/// instruction; rt_dump turns it into a duration, and the execution trace stamps the
/// end of the G's run with it rather than reading the counter again). Called by the G
/// itself before it parks: the one place a park site states its reason.
#[inline(always)]
pub fn set_wait(gp: *mut G, why: WaitReason, obj: u64) {
    if gp.is_null() {
        return;
    }
    let w = ((why as u64) << 56) | (arch::ticks() & WAIT_TSC_MASK);
    // SAFETY: a non-null `gp` is the caller's own running G (our contract), live.
    unsafe { (*gp).wait.store(w, Ordering::Relaxed) };
    super::trace::wait(gp, why, obj);
}

impl G {
    /// The reason and time-stamp of its last park (see [`set_wait`]).
    pub fn wait_info(&self) -> (WaitReason, u64) {
        let w = self.wait.load(Ordering::Relaxed);
        (WaitReason::from_u8((w >> 56) as u8), w & WAIT_TSC_MASK)
    }

    /// Ticks since a stamp taken by [`set_wait`] (modulo 2^56).
    pub fn ticks_since(stamp: u64) -> u64 {
        (arch::ticks().wrapping_sub(stamp)) & WAIT_TSC_MASK
    }

    /// The address of the function it runs (0 if none), for rt_dump and the trace.
    pub fn start_fn(&self) -> usize {
        self.fnc.map(|f| f as usize).unwrap_or(0)
    }

    /// Whether it has run (its saved context is on its stack once it is not running).
    pub fn has_started(&self) -> bool {
        self.started
    }

    /// For a prefetch hint only: the argument a G that has not started yet will hand
    /// its function (the host's data, which the function reads first thing; made
    /// long ago by a G spawned in a burst, so out of the cache), or null.
    #[inline(always)]
    pub fn start_arg_hint(&self) -> *const u8 {
        if self.started {
            ptr::null()
        } else {
            self.arg as *const u8
        }
    }
}

// SAFETY: Gs are handed between threads by the scheduler, which serialises access.
unsafe impl Send for G {}

impl G {
    /// A g0 for `m` with its stack bounds.
    pub fn new_g0(m: *mut M, lo: usize, hi: usize, guard_lo: usize, guard_hi: usize) -> G {
        let mut g = G::blank();
        g.stack_lo = lo;
        g.stack_hi = hi;
        g.guard_lo = guard_lo;
        g.guard_hi = guard_hi;
        g.m = m;
        g.status = AtomicU32::new(GStatus::System as u32);
        g
    }

    fn blank() -> G {
        G {
            stack_lo: 0,
            stack_hi: 0,
            guard_lo: 0,
            guard_hi: 0,
            m: ptr::null_mut(),
            goid: 0,
            status: AtomicU32::new(GStatus::Idle as u32),
            preempt: AtomicBool::new(false),
            async_preempt: AtomicBool::new(false),
            in_runtime: AtomicU32::new(0),
            name: [0; G_NAME_MAX],
            name_len: 0,
            sched: Gobuf { sp: 0 },
            hslot: None,
            hidx: 0,
            handle: 0,
            fnc: None,
            arg: ptr::null_mut(),
            stack: None,
            started: false,
            lockedm: AtomicPtr::new(ptr::null_mut()),
            lockcount: 0,
            mainm: ptr::null_mut(),
            avoid_m: AtomicPtr::new(ptr::null_mut()),
            schedlink: ptr::null_mut(),
            san: sanitizer::GSan::new(),
            wait: AtomicU64::new(0),
            creator: 0,
            create_pc: 0,
            trace_flow: AtomicU64::new(0),
        }
    }

    /// Whether `addr` lies in this G's guard region.
    pub fn in_guard(&self, addr: usize) -> bool {
        self.guard_lo < self.guard_hi && addr >= self.guard_lo && addr < self.guard_hi
    }

    pub fn status(&self) -> GStatus {
        match self.status.load(Ordering::Acquire) {
            0 => GStatus::Idle,
            1 => GStatus::Runnable,
            2 => GStatus::Running,
            3 => GStatus::Waiting,
            4 => GStatus::Syscall,
            5 => GStatus::Dead,
            7 => GStatus::HostWaiting,
            _ => GStatus::System,
        }
    }

    pub fn set_status(&self, s: GStatus) {
        self.status.store(s as u32, Ordering::Release);
    }

    pub fn is_user(&self) -> bool {
        // One compare: status() maps nothing but System to 6 (no other value is ever
        // stored).
        self.status.load(Ordering::Acquire) != GStatus::System as u32
    }

    /// Whether it must be given a stack before it can run.
    pub fn needs_stack(&self) -> bool {
        self.stack.is_none()
    }

    /// Called by the running G itself as it switches out: how deep its stack has
    /// been, for the resident-stack estimate (see `stack::GSTACK_TOUCHED`).
    #[inline]
    fn note_stack_depth(&mut self) {
        if let Some(st) = self.stack.as_mut() {
            st.note_sp(arch::getsp());
        }
    }
}

/// What rt_go_ex asks of a new G.
#[derive(Default)]
pub struct GAttr<'a> {
    /// RT_G_ASYNC_PREEMPT.
    pub async_preempt: bool,
    /// Its label (copied, truncated to [`G_NAME_MAX`] bytes).
    pub name: &'a [u8],
    /// The return address of the host's rt_go / rt_go_ex call (0: unknown), shown
    /// by rt_dump as where the G was created.
    pub caller: usize,
}

/// Longest G name kept (rt_go_ex copies at most this many bytes of it).
pub(crate) const G_NAME_MAX: usize = 32;

impl G {
    /// Sets what rt_go_ex asked for: the async-preemption opt-in and the name
    /// (truncated to [`G_NAME_MAX`] bytes, at a UTF-8 boundary). Before the G is
    /// published.
    pub fn set_attr(&mut self, async_preempt: bool, name: &[u8]) {
        self.async_preempt.store(async_preempt, Ordering::Relaxed);
        if name.is_empty() {
            // rt_go's G: no call to memcpy for nothing (it was one per spawn).
            self.name_len = 0;
            return;
        }
        let mut n = name.len().min(G_NAME_MAX);
        while n > 0 && n < name.len() && (name[n] & 0xc0) == 0x80 {
            n -= 1;
        }
        self.name[..n].copy_from_slice(&name[..n]);
        self.name_len = n as u8;
    }

    /// The name rt_go_ex gave it ("" if none).
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }
}

/// The current user G, or null (foreign thread or g0).
#[inline]
pub fn curg() -> *mut G {
    let g = tls::getg();
    // SAFETY: a non-null slot points at a live G.
    if g.is_null() || unsafe { !(*g).is_user() } {
        return ptr::null_mut();
    }
    g
}

/// Gs alive (made by newproc, not yet recycled): the per-P counts of Gs made minus
/// those of Gs gone, summed (no shared counter that every spawn and exit would bounce
/// between cores). Exits are read first: a G's creation is counted before it can run,
/// and its exit is counted with a release store, so every exit read has its creation
/// in the sum read after, and the result is never below the true count at some
/// moment during the call; 0 means no G was alive at that moment.
pub fn live_gs() -> i64 {
    let exited = super::p::total_acquire(|c| &c.gs_exited);
    let created = super::p::total_acquire(|c| &c.gs_created);
    created as i64 - exited as i64
}

/// Set while rt_shutdown waits for the Gs to finish: each exit then bumps `GS_GONE`
/// and wakes it to count again (a wake-up missed in a race costs the waiter one
/// poll interval, never a hang: it sleeps at most 1 ms at a time).
static WAITING_FOR_GS: AtomicBool = AtomicBool::new(false);
static GS_GONE: AtomicU32 = AtomicU32::new(0);

/// Every G ever made in this run, for rt_shutdown to free and rt_dump to show.
pub static ALLGS: Lock<Vec<GPtr>> = Lock::new(Vec::new());
/// Free Gs that the per-P caches spilled (Go's sched.gFree). An array of pointers, so
/// that a refill takes a batch without walking the Gs' links one cache miss after
/// another; its capacity is reserved whenever a G is made (`gfget`), never below the
/// number of Gs there are, so a dying G is put here without allocating.
static GFREE: Lock<Vec<GPtr>> = Lock::new(Vec::new());
/// Free stacks the per-P caches spilled: an intrusive list through the stacks' own
/// memory, so a stack is recycled without allocating.
static STACKS: Lock<StackList> = Lock::new(StackList::new());
/// The fewest stacks STACKS held since sysmon last trimmed it (written under its
/// lock): that many at its back went unused all that time ([`stacks_trim`]).
static STACKS_LOW: AtomicUsize = AtomicUsize::new(0);

/// sysmon, every few scavenge ticks: the stacks at the back of the global cache that
/// no refill took since the last trim go back to their arenas (which give the memory
/// to the kernel once idle, see `stack::ARENA_BYTES`), so a burst's 16,384 cached
/// stacks do not keep their pages for ever. Cheap when the cache is empty.
pub fn stacks_trim() {
    let cold = {
        let mut g = STACKS.lock();
        let n = g.len();
        let low = STACKS_LOW.load(Ordering::Relaxed).min(n);
        let warm = g.take_front(n - low);
        let cold = core::mem::replace(&mut *g, warm);
        STACKS_LOW.store(g.len(), Ordering::Relaxed);
        cold
    };
    // Freed to the arenas outside the lock.
    drop(cold);
}

/// Whether the global stack cache holds stacks that [`stacks_trim`] may give back:
/// sysmon keeps its scavenge ticking while it does, even with everything idle.
pub fn stacks_cached() -> bool {
    !STACKS.lock().is_empty()
}

/// Gs due to run that could not get a stack (their P's caches and the global one
/// empty, the arenas unable to give one: `galloc` promised them a cached stack that
/// another G took first). They wait here, off the run queues, until a G exits (its
/// stack is then free) or sysmon looks again, instead of going round the run queues
/// at full speed for as long as no stack is freed.
static STACK_WAIT: Lock<GQueue> = Lock::new(GQueue::new());
/// Set while STACK_WAIT holds a G (written under its lock).
static STACK_WAITING: AtomicBool = AtomicBool::new(false);

/// `gp` (Runnable, ours, on no list) could not get a stack: it waits for one.
pub fn stack_wait(gp: *mut G) {
    let mut q = STACK_WAIT.lock();
    // SAFETY: the caller owns `gp`, which is on no list.
    unsafe { q.push_back(gp) };
    STACK_WAITING.store(true, Ordering::SeqCst);
}

/// A stack may be free now: the Gs waiting for one go back to the global run queue
/// (and a P is woken for them), with `pl`'s cached stacks moved to the global cache
/// so that whichever P runs them finds those. Cheap when no G waits.
pub fn stack_wait_retry(pl: Option<&mut PLocal>) {
    if !STACK_WAITING.load(Ordering::SeqCst) {
        return;
    }
    let mut waiting = {
        let mut q = STACK_WAIT.lock();
        STACK_WAITING.store(false, Ordering::SeqCst);
        core::mem::take(&mut *q)
    };
    if let Some(pl) = pl {
        let mut mine = core::mem::take(&mut pl.stacks);
        STACKS.lock().prepend(&mut mine);
    }
    if waiting.is_empty() {
        return;
    }
    super::sched::globrunqputbatch(&mut waiting);
    super::sched::wakep_global();
}

/// A G pointer that may sit in shared lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GPtr(pub *mut G);
// SAFETY: Gs are owned by the runtime; the lists that hold them are locked.
unsafe impl Send for GPtr {}

/// A FIFO of Gs linked through their `schedlink` (Go's gQueue): pushing and popping
/// never allocate, so a G can always be queued, even with the heap exhausted. A G is
/// on at most one such list at a time, and whoever holds the list owns the links.
pub struct GQueue {
    head: *mut G,
    tail: *mut G,
    len: usize,
}

// SAFETY: the Gs on the list belong to whoever holds it (the list is moved or locked
// as a whole), and a G is on one list at a time.
unsafe impl Send for GQueue {}

impl GQueue {
    pub const fn new() -> GQueue {
        GQueue {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `gp`.
    ///
    /// # Safety
    /// `gp` is a live G that the caller owns and that is on no other list.
    #[inline]
    pub unsafe fn push_back(&mut self, gp: *mut G) {
        // SAFETY: `gp` is live and on no list (the contract); the tail, if any, is a
        // live G on this list, whose link is ours.
        unsafe {
            (*gp).schedlink = ptr::null_mut();
            if self.tail.is_null() {
                self.head = gp;
            } else {
                (*self.tail).schedlink = gp;
            }
        }
        self.tail = gp;
        self.len += 1;
    }

    /// Takes the first G off.
    #[inline]
    pub fn pop_front(&mut self) -> Option<*mut G> {
        let gp = self.head;
        if gp.is_null() {
            return None;
        }
        // SAFETY: a G on the list is live, and its link is the list's.
        unsafe {
            self.head = (*gp).schedlink;
            (*gp).schedlink = ptr::null_mut();
        }
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        self.len -= 1;
        Some(gp)
    }
}

impl Default for GQueue {
    fn default() -> Self {
        GQueue::new()
    }
}

/// A P's cache of free Gs: a stack of pointers in an array of its own, not a list
/// linked through the Gs, so that moving a batch between it and GFREE (an array
/// too) touches no G. Linked, the refill of a spawn burst wrote the link of each of
/// 32 Gs freed long before, a cache miss each, and the GFREE lock's release then
/// waited for those stores: about a fifth of newproc's time in a cold spawn round.
/// The G taken is the last one put (the one most likely still in the cache).
pub struct GCache {
    n: usize,
    gs: [*mut G; GCACHE_CAP],
}

/// Room in a [`GCache`]: PCACHE_MAX Gs and the one whose put makes it spill.
const GCACHE_CAP: usize = PCACHE_MAX + 1;

// SAFETY: the Gs in the cache belong to whoever holds it (the P's holder), and a free
// G is in one cache or list at a time.
unsafe impl Send for GCache {}

impl GCache {
    pub const fn new() -> GCache {
        GCache {
            n: 0,
            gs: [ptr::null_mut(); GCACHE_CAP],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// The G the next [`pop`](GCache::pop) takes (null when empty).
    #[inline]
    pub fn top(&self) -> *mut G {
        self.peek(0)
    }

    /// The G that the `k`+1-th pop from now takes (null if there is none).
    #[inline]
    pub fn peek(&self, k: usize) -> *mut G {
        match self.n.checked_sub(k + 1) {
            Some(i) => self.gs[i],
            None => ptr::null_mut(),
        }
    }

    /// Adds `gp`; false (nothing done) when full.
    #[inline]
    pub fn push(&mut self, gp: *mut G) -> bool {
        match self.gs.get_mut(self.n) {
            Some(slot) => {
                *slot = gp;
                self.n += 1;
                true
            }
            None => false,
        }
    }

    /// Takes the G put last.
    #[inline]
    pub fn pop(&mut self) -> Option<*mut G> {
        let gp = self.top();
        if gp.is_null() {
            return None;
        }
        self.n -= 1;
        Some(gp)
    }

    /// Moves up to `k` Gs from the end of `from` (the last pushed there come out of
    /// this cache first), as many as there is room for.
    pub fn take_from(&mut self, from: &mut Vec<GPtr>, k: usize) {
        let k = k.min(from.len()).min(GCACHE_CAP - self.n);
        let at = from.len() - k;
        for (slot, GPtr(gp)) in self.gs[self.n..self.n + k].iter_mut().zip(from.drain(at..)) {
            *slot = gp;
        }
        self.n += k;
    }

    /// Moves the `k` Gs put first (the coldest) to `to`, by `push`; the others stay,
    /// in order.
    pub fn give_oldest(&mut self, k: usize, mut push: impl FnMut(*mut G)) {
        let k = k.min(self.n);
        for &gp in &self.gs[..k] {
            push(gp);
        }
        self.gs.copy_within(k..self.n, 0);
        self.n -= k;
    }
}

impl Default for GCache {
    fn default() -> Self {
        GCache::new()
    }
}

/// A FIFO of G pointers in one array (the global run queue's storage): taking a
/// batch off it reads consecutive pointers instead of chasing the Gs' links, each a
/// cache miss once many Gs are queued. Pushing never allocates: the capacity is
/// reserved when a G is made (`reserve_total`), never below the number of Gs there
/// are, and a G is on at most one queue at a time.
pub struct GRing {
    q: std::collections::VecDeque<GPtr>,
}

impl GRing {
    pub const fn new() -> GRing {
        GRing {
            q: std::collections::VecDeque::new(),
        }
    }

    /// Makes room for `total` Gs in all; false if the memory is not there.
    pub fn reserve_total(&mut self, total: usize) -> bool {
        self.q
            .try_reserve(total.saturating_sub(self.q.len()))
            .is_ok()
    }

    /// Appends `gp`.
    #[inline]
    pub fn push_back(&mut self, gp: *mut G) {
        if self.q.len() == self.q.capacity() {
            // More queued Gs than Gs: a G queued twice, or one made without its room.
            super::throw("globrunqput: no room reserved for a runnable G");
        }
        self.q.push_back(GPtr(gp));
    }

    /// Appends every G of `batch`, in order.
    pub fn append_slice(&mut self, batch: &[*mut G]) {
        for &gp in batch {
            self.push_back(gp);
        }
    }

    /// Moves every G of `other` to the end, in order.
    pub fn append(&mut self, other: &mut GQueue) {
        while let Some(gp) = other.pop_front() {
            self.push_back(gp);
        }
    }

    /// Takes the first G off.
    #[inline]
    pub fn pop_front(&mut self) -> Option<*mut G> {
        self.q.pop_front().map(|GPtr(gp)| gp)
    }

    /// Moves up to `out.len()` Gs from the front into `out`; returns how many.
    pub fn take_front(&mut self, out: &mut [*mut G]) -> usize {
        let n = out.len().min(self.q.len());
        for (o, GPtr(gp)) in out.iter_mut().zip(self.q.drain(..n)) {
            *o = gp;
        }
        n
    }

    /// Forgets every G on the queue without touching them, keeping the room (rt_shutdown,
    /// and a fork child, whose parent's Gs are dropped wholesale; the room is reserved
    /// only under ALLGS's lock, which a fork holds, so it is not being reallocated).
    pub fn forget(&mut self) {
        self.q.clear();
    }
}

impl Default for GRing {
    fn default() -> Self {
        GRing::new()
    }
}

/// How many cache lines of a G are prefetched ahead of its use by a spawn (gfget:
/// the next free G) or a start (goexit_direct: the G after the next one): all of
/// them. A spawn writes lines 0, 1 and the last one (`wait`, `creator`,
/// `create_pc`), the start of a G without a stack lines 0 to 3 (bind_stack writes
/// `stack` and the guard bounds): with only the first two prefetched, a spawn loop
/// or a run of Gs that waited long in a queue missed the cache on the others, in
/// every round after the first (whose Gs, carved in address order, the hardware
/// prefetcher streamed in).
pub(crate) const G_HOT_LINES: usize = core::mem::size_of::<G>().div_ceil(64);
const _: () = assert!(
    core::mem::offset_of!(G, create_pc) + 8 <= G_HOT_LINES * 64
        && core::mem::offset_of!(G, guard_hi) + 8 <= G_HOT_LINES * 64,
    "the fields a spawn or a start touches no longer fit the prefetched lines"
);

/// Per-P caches: most newproc/goexit traffic stays here.
pub(crate) const PCACHE_MAX: usize = 64;
/// goids are taken from the global counter in batches of this size (Go's _GoidCacheBatch).
const GOID_BATCH: i64 = 16;
static NEXT_GOID: AtomicI64 = AtomicI64::new(1);

fn new_goid(pl: Option<&mut PLocal>) -> i64 {
    match pl {
        Some(pl) => {
            if pl.goid_next == pl.goid_end {
                pl.goid_next = NEXT_GOID.fetch_add(GOID_BATCH, Ordering::Relaxed);
                pl.goid_end = pl.goid_next + GOID_BATCH;
            }
            let id = pl.goid_next;
            pl.goid_next += 1;
            id
        }
        None => NEXT_GOID.fetch_add(1, Ordering::Relaxed),
    }
}

/// How many spawns ahead gfget prefetches the free G a spawn will take.
const GFREE_AHEAD: usize = 8;

/// A free G: from the P's cache, else the global one, else a new one.
#[inline]
fn gfget(pl: Option<&mut PLocal>) -> Result<*mut G> {
    if let Some(pl) = pl {
        let refilled = pl.gfree.is_empty();
        if refilled {
            // Pointers only: no G is touched (see GCache).
            pl.gfree.take_from(&mut GFREE.lock(), PCACHE_MAX / 2);
        }
        if let Some(gp) = pl.gfree.pop() {
            // The next spawns' Gs were freed long ago in a burst: fetch them
            // meanwhile, GFREE_AHEAD ahead (a spawn takes less than a miss to memory;
            // the ones in between were fetched by the previous pops, unless the cache
            // was just refilled: then all of them).
            if refilled {
                for k in 0..GFREE_AHEAD - 1 {
                    arch::prefetch_lines(pl.gfree.peek(k) as *const u8, G_HOT_LINES);
                }
            }
            arch::prefetch_lines(pl.gfree.peek(GFREE_AHEAD - 1) as *const u8, G_HOT_LINES);
            return Ok(gp);
        }
    } else if let Some(GPtr(gp)) = GFREE.lock().pop() {
        return Ok(gp);
    }
    let mut all = ALLGS.lock();
    let idx = all.len();
    // Room for one more G on ALLGS, on GFREE (so that its death never allocates) and
    // on the global run queue (so that queueing it never does),
    // before the registry takes it: nothing after that can fail. GFREE grows only
    // here, under the ALLGS lock, which a fork holds: no reallocation is in flight
    // in a fork child.
    let room = all.try_reserve(1).is_ok()
        && {
            let mut f = GFREE.lock();
            let need = (all.len() + 1).saturating_sub(f.len());
            f.try_reserve(need).is_ok()
        }
        && super::sched::globrunq_reserve(all.len() + 1);
    if !room {
        return Err(Error::NoMem);
    }
    let mut blocks = GBLOCKS.lock();
    let gp = blocks.carve()?;
    let (slot, handle) = match greg::register(idx, gp) {
        Ok(r) => r,
        Err(e) => {
            // SAFETY: carved just now, under this hold of the lock, and never
            // published: not on ALLGS, and no registry slot took it (register
            // stores the G only once nothing can fail).
            unsafe { blocks.uncarve(gp) };
            return Err(e);
        }
    };
    drop(blocks);
    // SAFETY: not published yet: ours alone.
    unsafe {
        (*gp).hslot = Some(slot);
        (*gp).hidx = idx as u32;
        (*gp).handle = handle;
    }
    all.push(GPtr(gp));
    Ok(gp)
}

/// G descriptors come in blocks, carved one G at a time and never freed one by one
/// (a G that exits goes to the free lists, as in Go, which never frees its Gs): a new
/// G costs no malloc of its own, so making a million Gs makes a few hundred
/// allocations instead of a million (and none of the heap growth, each an mprotect
/// or brk, that a million small mallocs cost). Blocks grow from [`GBLOCK_FIRST`] Gs
/// to [`GBLOCK_MAX`], doubling, so a runtime with a handful of Gs keeps a small
/// block; every block is freed by rt_shutdown, or by a fork child's rt_init. Only
/// reached under the ALLGS lock (which a fork holds, so a fork child finds it free).
struct GBlocks {
    /// Every block: its first G and how many Gs it has room for.
    all: Vec<(GPtr, usize)>,
    /// Gs carved from the last block of `all` ([0, carved) are initialised).
    carved: usize,
}

/// Gs in the first block, and most Gs in one (65536 x 320 bytes: 20 MiB). A big
/// block is a mapping of its own (see [`alloc_block`]): few big blocks keep
/// /proc/self/maps short (1.25 MiB blocks added 250 lines for 10^6 Gs); its pages
/// are committed only as Gs are carved from it.
const GBLOCK_FIRST: usize = 16;
const GBLOCK_MAX: usize = 65536;

static GBLOCKS: Lock<GBlocks> = Lock::new(GBlocks {
    all: Vec::new(),
    carved: 0,
});

impl GBlocks {
    /// A fresh idle G (G::blank) from the last block, allocating the next block when
    /// that one is full. Error::NoMem with nothing changed if no block can be had.
    fn carve(&mut self) -> Result<*mut G> {
        let full = match self.all.last() {
            Some(&(_, n)) => self.carved == n,
            None => true,
        };
        if full {
            self.all.try_reserve(1).map_err(|_| Error::NoMem)?;
            let mut n = match self.all.last() {
                Some(&(_, n)) => (n * 2).min(GBLOCK_MAX),
                None => GBLOCK_FIRST,
            };
            let base = loop {
                let p = alloc_block(n);
                if !p.is_null() {
                    break p;
                }
                if n == 1 {
                    return Err(Error::NoMem);
                }
                // A smaller block may still fit where the big one did not.
                n /= 2;
            };
            self.all.push((GPtr(base), n));
            self.carved = 0;
        }
        let Some(&(GPtr(base), _)) = self.all.last() else {
            super::throw("G blocks: no block after allocating one");
        };
        // SAFETY: carved < n, so the slot lies inside the block; it was never handed
        // out (or was given back by uncarve), so nothing else uses its memory.
        let gp = unsafe { base.add(self.carved) };
        // SAFETY: `gp` is inside the block (carved < n) and unused by anyone else (it
        // was never handed out, or uncarve gave it back); alloc_block aligned the block
        // for G and sized it for n Gs, so the write covers one G's memory exactly and
        // overwrites nothing that needs dropping (a fresh slot is uninitialised; an
        // uncarved one holds a blank G, which owns nothing).
        unsafe { gp.write(G::blank()) };
        self.carved += 1;
        Ok(gp)
    }

    /// Takes back the G that [`GBlocks::carve`] just gave, unpublished.
    ///
    /// # Safety
    /// `gp` is the last G carved, on no list, known to nobody else.
    unsafe fn uncarve(&mut self, gp: *mut G) {
        match self.all.last() {
            // SAFETY: carved > 0 when gp came from the last block (our # Safety).
            Some(&(GPtr(base), _))
                if self.carved > 0 && unsafe { base.add(self.carved - 1) } == gp =>
            {
                // A blank G holds nothing (no stack): forgetting it frees nothing.
                self.carved -= 1;
            }
            _ => super::throw("G blocks: uncarve of a G that was not the last carved"),
        }
    }

    /// Frees every block, except (fork child) those holding a G of `keep`, which are
    /// leaked: a thread may still run on its stack. The Gs in them must have been
    /// dropped (or be kept) already.
    ///
    /// # Safety
    /// No G of a freed block is used again.
    unsafe fn free_all(&mut self, keep: &[*mut G]) {
        for (GPtr(base), n) in self.all.drain(..) {
            // SAFETY: a block of n Gs: one past its end is in bounds to compute.
            let end = unsafe { base.add(n) };
            if keep.iter().any(|&k| k >= base && k < end) {
                continue;
            }
            // SAFETY: allocated by alloc_block(n) and no G of it is used again (our
            // # Safety).
            unsafe { free_block(base, n) };
        }
        self.all = Vec::new();
        self.carved = 0;
    }
}

fn block_layout(n: usize) -> core::alloc::Layout {
    match core::alloc::Layout::array::<G>(n) {
        Ok(l) => l,
        Err(_) => super::throw("G blocks: block layout overflows"),
    }
}

#[cfg(test)]
std::thread_local! {
    /// Unit tests: alloc_block on this thread fails for blocks of more than this many
    /// Gs (0: for every block), as if the heap could not grow.
    static FAIL_BLOCK_ABOVE: core::cell::Cell<usize> = const { core::cell::Cell::new(usize::MAX) };
}

/// Blocks of at least this many bytes are mappings of their own ([`alloc_block`]).
const OWN_MAPPING_MIN: usize = 2 << 20;

/// Allocates room for `n` Gs (uninitialised); null if the memory is not there.
///
/// A block of 2 MiB or more is a mapping of its own, whose pages are committed only
/// as Gs are carved from it: not the allocator's, which serves big requests from its
/// heap once glibc's mmap threshold has risen (after a big block was freed), so that
/// a million Gs stay a few lines of /proc/self/maps. Smaller blocks come from the
/// allocator. No `MADV_HUGEPAGE`: it made a spawn burst a little cheaper (one fault
/// per 2 MiB of descriptors), but where the kernel compacts memory for huge pages on
/// fault (THP defrag "madvise", the default) creating 10^6 parked Gs took 12-15%
/// longer, and a host should not meet compaction stalls it never asked for.
fn alloc_block(n: usize) -> *mut G {
    #[cfg(test)]
    if n > FAIL_BLOCK_ABOVE.with(|f| f.get()) {
        return ptr::null_mut();
    }
    let layout = block_layout(n);
    if layout.size() < OWN_MAPPING_MIN {
        // SAFETY: n >= 1 and G is not zero-sized, so the layout is not zero-sized.
        return unsafe { std::alloc::alloc(layout) }.cast();
    }
    let Ok(map) = super::stack::Mapping::reserve(layout.size()) else {
        return ptr::null_mut();
    };
    // The block owns the mapping from here on; free_block unmaps it.
    let base = map.base;
    core::mem::forget(map);
    base as *mut G
}

/// Frees a block that [`alloc_block`]`(n)` returned.
///
/// # Safety
/// `base` came from alloc_block(n) and no G of it is used again.
unsafe fn free_block(base: *mut G, n: usize) {
    let layout = block_layout(n);
    if layout.size() < OWN_MAPPING_MIN {
        // SAFETY: allocated by the allocator with this layout (our # Safety).
        unsafe { std::alloc::dealloc(base.cast(), layout) };
    } else {
        // Rebuilt as alloc_block's Mapping was (the same page-rounded length), and
        // dropped: unmapped.
        drop(super::stack::Mapping {
            base: base as usize,
            len: super::stack::round_up(layout.size(), super::stack::page_size()),
        });
    }
}

/// Returns a dead G to the P's cache (spilling half to the global one). Never
/// allocates: the P's cache has a fixed room and GFREE's was reserved with the G.
///
/// In line: the P's list is the common case of every exit; the rest is out of line.
#[inline(always)]
fn gfput(pl: Option<&mut PLocal>, gp: *mut G) {
    match pl {
        Some(pl) => {
            if !pl.gfree.push(gp) {
                super::throw("gfput: the P's cache of free Gs overflowed");
            }
            if pl.gfree.len() > PCACHE_MAX {
                gfree_spill(pl);
            }
        }
        None => gfree_push(&mut GFREE.lock(), gp),
    }
}

/// gfput's spill of half the P's cache to the global one: the Gs it holds longest
/// (the most recently freed, likeliest in the CPU's cache, stay for the next spawns).
#[cold]
#[inline(never)]
fn gfree_spill(pl: &mut PLocal) {
    let mut g = GFREE.lock();
    pl.gfree
        .give_oldest(PCACHE_MAX / 2, |gp| gfree_push(&mut g, gp));
}

/// Puts a free G on GFREE, whose capacity gfget reserved for every G there is.
fn gfree_push(g: &mut Vec<GPtr>, gp: *mut G) {
    if g.len() == g.capacity() {
        // More free Gs than Gs: a G freed twice, or one made without its room.
        super::throw("gfput: no room reserved for a free G");
    }
    g.push(GPtr(gp));
}

/// The global stack cache keeps at most this many stacks; beyond it, the stacks of
/// exited Gs go back to their arenas, and sysmon's trim sends back those that stay
/// unused, so a burst of Gs does not pin its memory for ever.
const STACKS_MAX: usize = 16384;

/// Returns a stack to the P's cache (spilling half to the global one, and freeing to
/// the arenas what the global one has no room for). Never allocates: the lists are linked
/// through the stacks' own memory.
///
/// In line: the P's cache is the common case of every exit (the stack stays where
/// gdestroy found it, no copy through a call); the rest is out of line.
#[inline(always)]
fn stack_put(pl: Option<&mut PLocal>, st: GStack) {
    match pl {
        Some(pl) => {
            pl.stacks.push(st);
            if pl.stacks.len() > PCACHE_MAX {
                stack_spill(pl.stacks.take_front(PCACHE_MAX / 2));
            }
        }
        None => {
            let mut spill = StackList::new();
            spill.push(st);
            stack_spill(spill);
        }
    }
}

/// stack_put's way to the global cache (and beyond it, the arenas) for `spill`.
#[cold]
#[inline(never)]
fn stack_spill(mut spill: StackList) {
    let mut g = STACKS.lock();
    let mut keep = spill.take_front(STACKS_MAX.saturating_sub(g.len()));
    // At the front, where refills take from: the warmest stacks are reused first.
    g.prepend(&mut keep);
    drop(g);
    // What did not fit goes back to its arenas here, outside the lock.
    drop(spill);
}

///
/// In line: the P's cache is the common case of every start; the rest is out of line.
#[inline(always)]
fn stack_get(pl: Option<&mut PLocal>) -> Option<GStack> {
    if let Some(pl) = pl {
        if let Some(s) = pl.stacks.pop() {
            return Some(s);
        }
        return stack_refill(pl);
    }
    stack_get_global()
}

/// stack_get on an empty P cache: a batch from the global cache.
#[cold]
#[inline(never)]
fn stack_refill(pl: &mut PLocal) -> Option<GStack> {
    let mut batch = {
        let mut g = STACKS.lock();
        let b = g.take_front(PCACHE_MAX / 2);
        STACKS_LOW.fetch_min(g.len(), Ordering::Relaxed);
        b
    };
    pl.stacks.append(&mut batch);
    pl.stacks.pop()
}

/// stack_get without a P: the global cache.
#[cold]
#[inline(never)]
fn stack_get_global() -> Option<GStack> {
    let mut g = STACKS.lock();
    let st = g.pop();
    STACKS_LOW.fetch_min(g.len(), Ordering::Relaxed);
    st
}

/// The configured G stack size: an atomic, not the scheduler lock, since every G
/// that finds the stack caches empty asks.
fn g_stack_size() -> usize {
    super::stack::g_stack_size()
}

/// A free G for newproc, from `pl`'s caches (the caller's P) or the global ones,
/// and the assurance that it will find a stack: only when every cache is empty does
/// this enter the kernel, and a failure is reported here (RT_ENOMEM from rt_go).
#[inline]
pub fn galloc(mut pl: Option<&mut PLocal>) -> Result<*mut G> {
    let gp = gfget(pl.as_deref_mut())?;
    let have_stack = match pl.as_deref_mut() {
        Some(pl) => !pl.stacks.is_empty() || !STACKS.lock().is_empty(),
        None => !STACKS.lock().is_empty(),
    };
    if !have_stack {
        match GStack::alloc(g_stack_size()) {
            Ok(st) => stack_put(pl.as_deref_mut(), st),
            // The arenas are full, but Ps that nobody runs may cache free stacks.
            Err(_) if reclaim_idle_stacks() => {}
            Err(e) => {
                gfput(pl, gp);
                return Err(e);
            }
        }
    }
    Ok(gp)
}

/// Moves the stacks cached by Ps that nobody runs (in the idle pool, or dead since
/// rt_gomaxprocs shrank) to the global cache, for a caller that found every cache it
/// may use empty and the arenas full. Whether it moved any. Without it, a foreign
/// thread's rt_go (which sees only the global cache) failed with RT_ENOMEM for ever
/// once the Gs had exited and left their stacks in their Ps' caches, and a G waiting
/// for a stack waited while idle Ps held some (t_stacks_cached_by_idle_ps).
#[cold]
fn reclaim_idle_stacks() -> bool {
    let mut got = StackList::new();
    {
        let s = super::SCHED.lock();
        for &pp in s.allp.iter() {
            // SAFETY: Ps in allp live until rt_shutdown, which frees them under this lock.
            let st = unsafe { (*pp).status() };
            if st != super::p::PStatus::Idle && st != super::p::PStatus::Dead {
                continue;
            }
            // SAFETY: an Idle P is in the pool and a Dead one is nobody's; either is
            // taken only under the sched lock, which we hold, so this is its only
            // HeldP until we give it back below, unchanged but for its stack cache.
            let mut held = unsafe { HeldP::from_raw(pp) };
            got.prepend(&mut held.core().local.stacks);
            let _ = held.into_raw();
        }
    }
    if got.is_empty() {
        return false;
    }
    STACKS.lock().prepend(&mut got);
    true
}

impl G {
    /// Makes a free G (from [`galloc`]) a new runnable G running fn(arg), with a
    /// goid from `pl`'s batch; the caller queues it.
    #[inline]
    pub fn prepare(&mut self, f: RtFn, arg: *mut c_void, mainm: *mut M, pl: Option<&mut PLocal>) {
        self.fnc = f;
        self.arg = arg;
        self.started = false;
        self.m = ptr::null_mut();
        self.mainm = mainm;
        self.lockcount = 0;
        self.lockedm.store(ptr::null_mut(), Ordering::Relaxed);
        self.async_preempt.store(false, Ordering::Relaxed);
        // A new G starts inside the runtime (mrt_gostart, gentry): gentry clears the
        // mark around the G's own function.
        self.in_runtime.store(1, Ordering::Relaxed);
        self.name_len = 0;
        self.wait.store(0, Ordering::Relaxed);
        self.goid = new_goid(pl);
        // A wake that was never ended by a start in a trace (tracing was off then)
        // is not this new G's.
        self.trace_flow.store(0, Ordering::Relaxed);
        if let Some(s) = self.hslot {
            self.handle = greg::renew(s, self.hidx, self.handle);
        }
        // TSan: what the creator did so far happens before the G starts.
        sanitizer::release(sanitizer::Edge::Go, (self as *const G).cast());
        self.set_status(GStatus::Runnable);
    }
}

/// Gives a G its stack before its first run. Fails only if no stack can be mapped.
pub fn bind_stack(pp: &mut HeldP, g: &mut G) -> Result<()> {
    let pl = &mut pp.core().local;
    let mut st = match stack_get(Some(&mut *pl)) {
        Some(s) => s,
        None => {
            // Every cache is empty: a batch for this P, so the next Gs to start here
            // take theirs without the arenas' lock.
            match GStack::alloc_batch(g_stack_size(), PCACHE_MAX / 2, &mut pl.stacks) {
                Ok(()) => match pl.stacks.pop() {
                    Some(s) => s,
                    None => super::throw("bind_stack: a stack batch came back empty"),
                },
                // The arenas are full: Ps that nobody runs may cache free stacks
                // (another G may take them first: then this one waits for a stack).
                Err(e) => match reclaim_idle_stacks().then(|| stack_get(Some(pl))).flatten() {
                    Some(s) => s,
                    None => return Err(e),
                },
            }
        }
    };
    g.stack_lo = st.lo;
    g.stack_hi = st.hi;
    let (glo, ghi) = st.guard();
    g.guard_lo = glo;
    g.guard_hi = ghi;
    if sanitizer::asan() {
        sanitizer::stack_reused(st.lo, st.hi);
    }
    // It runs next: its first frame goes on the top page.
    st.note_start();
    g.stack = Some(st);
    Ok(())
}

/// Switches from g0 to `gp` (resuming it, or starting it on its stack) and returns
/// when it switches back to this M's g0.
///
/// # Safety
/// Called on `m`'s g0 with `gp` Running and bound to `m`.
pub unsafe fn switch_to(m: &M, gp: *mut G) {
    // SAFETY: we run on m's g0 (the contract), so saving into g0.sched is ours; `gp` is
    // Running and bound to m, so no other M touches its context or stack.
    unsafe {
        let g0 = m.g0;
        let san = sanitizer::on() != 0;
        if san {
            sanitizer::switch_out(g0, gp, false);
        }
        if (*gp).started {
            arch::mrt_swap(&mut (*g0).sched, &(*gp).sched, gp.cast());
        } else {
            (*gp).started = true;
            arch::mrt_gostart(&mut (*g0).sched, (*gp).stack_hi & !15, gp.cast());
        }
        if san {
            sanitizer::switched_in(g0);
        }
    }
}

/// Switches from the running G `g` straight to `n` without passing through g0 (the
/// fast path of gosched), and returns when `g` is resumed, maybe on another M.
///
/// # Safety
/// `g` is the running G (we are on its stack); `n` is Running, bound to this M and
/// has a stack; `g` is queued or parked by `n` once its context is saved
/// (M::pending_g). `SAN`: false only when the caller saw the sanitizers off
/// (`sched::SWITCH_SLOW`), which spares their two tests.
#[inline(always)]
pub unsafe fn switch_g_to_g<const SAN: bool>(g: &mut G, n: &mut G) {
    g.note_stack_depth();
    let next: *mut G = n;
    // SAFETY: `g` runs here, so saving into g.sched is ours; `n` is Running, bound to
    // this M and has a stack (the # Safety clauses): started (context saved) or fresh.
    // Returns (resumed) the Gobuf saved by whoever switched back to g.
    let from = unsafe {
        if SAN && sanitizer::on() != 0 {
            // A G that exits straight into the next one never comes back.
            let exiting = matches!((*g.m).pending.get(), Pending::Exit);
            sanitizer::switch_out(g, next, exiting);
        }
        if n.started {
            arch::mrt_swap(&mut g.sched, &n.sched, next.cast())
        } else {
            n.started = true;
            arch::mrt_gostart(&mut g.sched, n.stack_hi & !15, next.cast())
        }
    };
    finish_switch_inline::<SAN>(from);
}

/// finish_switch for the direct paths, with the yield of the G that switched here
/// done in line: a G resumed by another G's rt_gosched is the common case of a
/// yield loop.
#[inline(always)]
fn finish_switch_inline<const SAN: bool>(from: *mut Gobuf) {
    let gp = tls::getg();
    if SAN && sanitizer::asan() {
        // SAFETY: gp is the G this thread just switched to.
        unsafe { sanitizer::switched_in(gp) };
    }
    // SAFETY: the running G's M is live.
    let m = unsafe { &*(*gp).m };
    let prev = m.pending_g.replace(ptr::null_mut());
    if prev.is_null() {
        return;
    }
    if !matches!(m.pending.get(), Pending::Yield) {
        return finish_pending(m, prev);
    }
    // The G that switched here is prev (pending_g is set only by the direct paths,
    // which switch from that G). Queued as the register mrt_swap returned rather than
    // as the value just loaded from the M, which the other side stored a moment ago:
    // the ring slot written here is what the next switch on this P reads, so the
    // next G's address no longer waits on that store.
    let from = arch::opaque(
        from.cast::<G>()
            .wrapping_byte_sub(core::mem::offset_of!(G, sched)),
    );
    if from != prev {
        super::throw("finish_switch: resumed by a G other than the pending one");
    }
    requeue_yielded(m, from);
}

/// The end of a yield on the direct path: `prev`, whose context is saved, goes to the
/// tail of this M's P's run queue.
#[inline(always)]
fn requeue_yielded(m: &M, prev: *mut G) {
    // SAFETY: prev is ours until queued; its context is saved.
    unsafe {
        (*prev).m = ptr::null_mut();
        (*prev).set_status(GStatus::Runnable);
    }
    // SAFETY: on the M's own thread; runqput reaches no other use of the M's P.
    let Some(held) = (unsafe { m.held_mut() }) else {
        super::throw("finish_switch: running G without a P");
    };
    // Through the thread's guess of its P when it is right (see sched::gosched_fast):
    // the slot's address then does not wait on the loads of the G, its M and the P.
    let guess = arch::tls_p_load();
    if guess != held.as_ptr() {
        return requeue_unguessed(held, prev);
    }
    // SAFETY: guess is held's P (just compared) and opaque to the compiler.
    unsafe { held.alias(guess) }.runqput(prev, false);
}

/// requeue_yielded when the thread's guess of its P was wrong: fixes the guess.
#[cold]
#[inline(never)]
fn requeue_unguessed(held: &mut HeldP, prev: *mut G) {
    arch::tls_p_store(held.as_ptr());
    held.runqput(prev, false);
}

/// The first frame of every G (entered by mrt_gostart on the G's stack).
pub extern "C" fn gentry(gp: *mut G) -> ! {
    // A panic must not unwind off the G's first frame: it is a bug, and fatal.
    super::no_unwind(|| {
        if sanitizer::on() != 0 {
            // SAFETY: gp is the G now running, its stack bound.
            sanitizer::runtime_call(|| unsafe {
                finish_switch();
                sanitizer::g_started(gp)
            });
        } else {
            finish_switch();
        }
        // SAFETY: gp is the G now running; fnc was checked non-null by newproc.
        unsafe {
            if let Some(f) = (*gp).fnc {
                // Out of the runtime for the G's own code: preemptible by signal if it
                // opted in (see preempt.rs), until it is back here.
                core::sync::atomic::compiler_fence(Ordering::SeqCst);
                (*gp).in_runtime.store(0, Ordering::Relaxed);
                f((*gp).arg);
                (*gp).in_runtime.store(1, Ordering::Relaxed);
                core::sync::atomic::compiler_fence(Ordering::SeqCst);
            }
        }
    });
    // Runtime code from here to its end (the fiber goes with it).
    sanitizer::ignore_begin();
    goexit1()
}

/// Ends the calling G (Go's goexit1): the next G of its P recycles it, or its M's g0.
pub fn goexit1() -> ! {
    super::sched::goexit_direct();
    mcall(Action::Exit);
    super::throw("goexit: a dead G was resumed")
}

/// Saves the current G's context and switches to its M's g0, which performs
/// `action` (Go's mcall). Returns when the G is resumed, maybe on another M.
#[inline(always)]
pub fn mcall(action: Action) {
    let gp = tls::getg();
    // SAFETY: called only from a user G, which is ours while it runs; its M is live.
    unsafe {
        (*gp).note_stack_depth();
        let m = &*(*gp).m;
        m.action.set(action);
        if sanitizer::on() != 0 {
            sanitizer::switch_to_g0(gp, m);
        }
        arch::mrt_swap(&mut (*gp).sched, &(*m.g0).sched, m.g0.cast());
    }
    finish_switch();
}

/// Recycles a dead G on g0 (Go's gdestroy): its stack and descriptor to the caches
/// of `pp`, the P of the M it ran on (None: the global ones). Returns the M that
/// waits for it in rt_main (null if none), for the scheduler to tell.
pub fn gdestroy(m: &M, mut pp: Option<&mut HeldP>, gp: *mut G) -> *mut M {
    // SAFETY: the G is dead and its context abandoned; g0 owns it now.
    let g = unsafe { &mut *gp };
    g.set_status(GStatus::Dead);
    m.runs_ended.set(m.runs_ended.get() + 1);
    if sanitizer::on() != 0 {
        // SAFETY: dead, owned by this g0.
        unsafe { sanitizer::g_dead(gp) };
    }
    if !g.lockedm.load(Ordering::Relaxed).is_null() {
        // A G that exits while wired takes its thread with it (Go): a runtime M
        // exits after this; a host's thread is simply unwired, and so is a runtime M
        // that runs a host's rt_schedule(RT_SCHED_FOREVER), which the host's code
        // on its g0 expects to run until rt_shutdown.
        g.lockedm.store(ptr::null_mut(), Ordering::Relaxed);
        g.lockcount = 0;
        m.lockedg.store(ptr::null_mut(), Ordering::Relaxed);
        if m.kind == MKind::Runtime && !m.host_loop.load(Ordering::Relaxed) {
            m.exiting.store(true, Ordering::Release);
        }
    }
    let mainm = core::mem::replace(&mut g.mainm, ptr::null_mut());
    g.m = ptr::null_mut();
    g.fnc = None;
    g.arg = ptr::null_mut();
    if let Some(st) = g.stack.take() {
        stack_put(pp.as_deref_mut().map(|pp| &mut pp.core().local), st);
        if STACK_WAITING.load(Ordering::Relaxed) {
            stack_wait_retry(pp.as_deref_mut().map(|pp| &mut pp.core().local));
        }
    }
    g.stack_lo = 0;
    g.stack_hi = 0;
    g.guard_lo = 0;
    g.guard_hi = 0;
    g.set_status(GStatus::Idle);
    gfput(pp.as_deref_mut().map(|pp| &mut pp.core().local), gp);
    if !mainm.is_null() {
        // Before the exit is counted: rt_shutdown waits for this G, then for its
        // rt_main's M to be told (see sched::main_g_exited).
        super::sched::main_exit_begins();
    }
    bump_release(pp, |c| &c.gs_exited);
    if WAITING_FOR_GS.load(Ordering::Relaxed) {
        GS_GONE.fetch_add(1, Ordering::Release);
        futex_wake(&GS_GONE, i32::MAX);
    }
    // rt_main's M, if it waits for this G: the caller tells it, last (it may look
    // at the statistics as soon as it wakes).
    mainm
}

/// Waits until no G is alive, or until `deadline` (nanotime; < 0: no limit).
pub fn wait_no_gs(deadline: i64) -> bool {
    WAITING_FOR_GS.store(true, Ordering::SeqCst);
    let done = loop {
        let seq = GS_GONE.load(Ordering::Acquire);
        if live_gs() == 0 {
            break true;
        }
        let mut left = 1_000_000;
        if deadline >= 0 {
            let l = deadline - super::time::nanotime();
            if l <= 0 {
                break false;
            }
            left = left.min(l);
        }
        futex_wait(&GS_GONE, seq, left);
    };
    WAITING_FOR_GS.store(false, Ordering::Relaxed);
    done
}

/// Frees every G and cached stack (rt_shutdown, after all Gs exited and Ms stopped).
///
/// # Safety
/// No M runs and no G is alive.
pub unsafe fn free_all() {
    let mut all = ALLGS.lock();
    greg::clear(all.len());
    for GPtr(gp) in all.drain(..) {
        // SAFETY: no M runs and no G is alive (our # Safety), so nothing runs on or
        // reaches `gp`; dropping the G gives back any stack it still holds. Its memory
        // goes with its block, below.
        unsafe { ptr::drop_in_place(gp) };
    }
    // SAFETY: every G carved was on ALLGS and is dropped; none is used again.
    unsafe { GBLOCKS.lock().free_all(&[]) };
    drop(all);
    GFREE.lock().clear();
    // Gs that waited for a stack are freed with the rest.
    *STACK_WAIT.lock() = GQueue::new();
    STACK_WAITING.store(false, Ordering::SeqCst);
    let stacks = core::mem::take(&mut *STACKS.lock());
    // Unmapped outside the lock.
    drop(stacks);
    // A G made by a foreign thread racing with the shutdown (after the wait for Gs)
    // never ran and is gone with the rest (the counts restart with the next rt_init).
}

/// A P's cache of free Gs holds pointers only: it never reads or writes a G (the
/// pointers here point at no G: a touch would fault), takes the last G put first, refills from the end of a Vec in the Vec's
/// pop order, spills the Gs it held longest and keeps the rest in order, and refuses
/// a G beyond its room.
#[cfg(all(test, not(loom)))]
mod gcache_tests {
    use super::*;

    fn g(i: usize) -> *mut G {
        (0x1000 * i) as *mut G
    }

    #[test]
    fn the_cache_moves_pointers_in_order_and_keeps_to_its_room() {
        let mut c = GCache::new();
        assert!(c.is_empty() && c.top().is_null() && c.pop().is_none());
        for i in 1..=3 {
            assert!(c.push(g(i)));
        }
        assert_eq!((c.len(), c.top()), (3, g(3)));
        assert_eq!(c.pop(), Some(g(3)));
        // A refill from GFREE: its last G comes out first, as GFREE's pop would.
        let mut v: Vec<GPtr> = (10..15).map(|i| GPtr(g(i))).collect();
        c.take_from(&mut v, 3);
        let left: Vec<_> = v.iter().map(|p| p.0).collect();
        assert_eq!(left, [g(10), g(11)]);
        assert_eq!(c.len(), 5);
        for want in [14, 13, 12, 2, 1] {
            assert_eq!(c.pop(), Some(g(want)));
        }
        assert!(c.pop().is_none());
        // Full: the put beyond the room is refused; a spill gives the oldest.
        for i in 1..=GCACHE_CAP {
            assert!(c.push(g(i)));
        }
        assert!(!c.push(g(999)));
        let mut out = Vec::new();
        c.give_oldest(PCACHE_MAX / 2, |gp| out.push(gp));
        assert_eq!(out, (1..=PCACHE_MAX / 2).map(g).collect::<Vec<_>>());
        assert_eq!(c.len(), GCACHE_CAP - PCACHE_MAX / 2);
        for i in (PCACHE_MAX / 2 + 1..=GCACHE_CAP).rev() {
            assert_eq!(c.pop(), Some(g(i)));
        }
        // A refill takes no more than there is room for.
        let mut v: Vec<GPtr> = (1..=GCACHE_CAP + 5).map(|i| GPtr(g(i))).collect();
        c.take_from(&mut v, usize::MAX);
        assert_eq!((c.len(), v.len()), (GCACHE_CAP, 5));
    }
}

/// The block allocator on its own (a private `GBlocks`, not the runtime's): blocks
/// grow by doubling, a carve that fails leaves everything as it was, a block too big
/// for the heap gives way to a smaller one, and uncarve hands the same G out again.
#[cfg(all(test, not(loom)))]
mod gblock_tests {
    use super::*;

    /// A big block is a mapping of its own (page-aligned), usable to its last byte;
    /// a small one comes from the allocator. Both are freed by free_block.
    #[test]
    fn big_blocks_are_mappings_of_their_own() {
        let big = OWN_MAPPING_MIN
            .div_ceil(core::mem::size_of::<G>())
            .next_power_of_two();
        for n in [GBLOCK_FIRST, big, GBLOCK_MAX] {
            let p = alloc_block(n);
            assert!(!p.is_null());
            let size = block_layout(n).size();
            if size >= OWN_MAPPING_MIN {
                assert_eq!(p as usize % super::super::stack::page_size(), 0);
            }
            // SAFETY: the block is ours and `size` bytes long; no G of it is used.
            unsafe {
                p.cast::<u8>().write(1);
                p.cast::<u8>().add(size - 1).write(2);
                assert_eq!(p.cast::<u8>().add(size - 1).read(), 2);
                free_block(p, n);
            }
        }
    }

    fn fresh() -> GBlocks {
        GBlocks {
            all: Vec::new(),
            carved: 0,
        }
    }

    fn sizes(b: &GBlocks) -> Vec<usize> {
        b.all.iter().map(|&(_, n)| n).collect()
    }

    #[test]
    fn blocks_double_and_gs_are_distinct_and_aligned() {
        let mut b = fresh();
        let total = GBLOCK_FIRST + 2 * GBLOCK_FIRST + 4 * GBLOCK_FIRST + 3;
        let mut gs = Vec::new();
        for _ in 0..total {
            let gp = b.carve().unwrap();
            assert_eq!(gp as usize % 64, 0, "a G does not start a cache line");
            // SAFETY: carved just now: a blank G.
            unsafe {
                assert_eq!((*gp).status(), GStatus::Idle);
                assert!((*gp).needs_stack());
            }
            gs.push(gp as usize);
        }
        assert_eq!(
            sizes(&b),
            [
                GBLOCK_FIRST,
                2 * GBLOCK_FIRST,
                4 * GBLOCK_FIRST,
                8 * GBLOCK_FIRST
            ]
        );
        assert_eq!(b.carved, 3);
        gs.sort_unstable();
        gs.dedup();
        assert_eq!(gs.len(), total);
        // SAFETY: nothing uses the Gs any more (blank Gs hold nothing to drop).
        unsafe { b.free_all(&[]) };
        assert!(b.all.is_empty());
        assert_eq!(b.carved, 0);
    }

    #[test]
    fn carve_failure_changes_nothing_and_uncarve_reuses_the_g() {
        let mut b = fresh();
        for _ in 0..GBLOCK_FIRST - 1 {
            b.carve().unwrap();
        }
        // The middle of a block: carving needs no allocation at all.
        FAIL_BLOCK_ABOVE.with(|f| f.set(0));
        let last = b.carve().unwrap();
        // SAFETY: the G just carved, unpublished (as gfget after a failed register).
        unsafe { b.uncarve(last) };
        assert_eq!(b.carve().unwrap(), last, "uncarve did not give the G back");
        // The block is full now: the next G needs a block, which cannot be had.
        assert_eq!(b.carve().err(), Some(Error::NoMem));
        assert_eq!(sizes(&b), [GBLOCK_FIRST]);
        assert_eq!(b.carved, GBLOCK_FIRST);
        // Blocks of more than 4 Gs fail: the next block is smaller, not missing.
        FAIL_BLOCK_ABOVE.with(|f| f.set(4));
        b.carve().unwrap();
        assert_eq!(sizes(&b), [GBLOCK_FIRST, 4]);
        FAIL_BLOCK_ABOVE.with(|f| f.set(usize::MAX));
        for _ in 0..4 {
            b.carve().unwrap();
        }
        assert_eq!(sizes(&b), [GBLOCK_FIRST, 4, 8]);
        // SAFETY: nothing uses the Gs any more.
        unsafe { b.free_all(&[]) };
    }

    #[test]
    fn free_all_keeps_the_block_of_a_kept_g() {
        let mut b = fresh();
        let mut gs = Vec::new();
        for _ in 0..GBLOCK_FIRST + 5 {
            gs.push(b.carve().unwrap());
        }
        let kept = gs[GBLOCK_FIRST + 2];
        // SAFETY: no G but `kept` is used again.
        unsafe { b.free_all(&[kept, ptr::null_mut()]) };
        assert!(b.all.is_empty());
        // The kept G's block was not freed: the G is still readable and intact.
        // SAFETY: its block was leaked on purpose, so the G is live.
        unsafe {
            assert_eq!((*kept).status(), GStatus::Idle);
            // Freed here by hand, as nothing else will.
            std::alloc::dealloc(gs[GBLOCK_FIRST].cast(), block_layout(2 * GBLOCK_FIRST));
        }
    }
}

/// The G (or g0) the forking thread ran at the last fork, noted in the child by the
/// atfork handler; null in a process that is no fork child.
static FORKER: AtomicPtr<G> = AtomicPtr::new(ptr::null_mut());

/// In a fork child, from the atfork handler: notes the G the forking thread runs.
pub fn note_forker_after_fork(gp: *mut G) {
    FORKER.store(gp, Ordering::Release);
}

/// The G noted by [`note_forker_after_fork`].
pub fn forker_after_fork() -> *mut G {
    FORKER.load(Ordering::Acquire)
}

/// In a fork child: drops the parent's Gs (none of them can run here), keeping the
/// one the forking thread ran (its stack is the one the thread may still be on) and
/// any whose stack holds the caller's sp.
///
/// # Safety
/// Called by rt_init in a fork child, before the new runtime starts.
pub unsafe fn forget_after_fork() {
    let sp = arch::getsp();
    let forker = FORKER.swap(ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: the child has no other thread of the old runtime; the stacks dropped
    // below take the registry's lock.
    unsafe { super::stack::registry_after_fork() };
    // SAFETY: rt_init in a fork child before the new runtime starts (our # Safety): no
    // other thread exists to hold or take ALLGS's lock.
    let all = core::mem::take(&mut *unsafe { ALLGS.get_after_fork() });
    greg::clear(all.len());
    let mut keep = [ptr::null_mut::<G>(); 2];
    for GPtr(gp) in all {
        // SAFETY: every G on ALLGS is a live descriptor; no thread runs on one in the
        // child but ours, and the G whose stack holds our sp is skipped, not dropped
        // (nor is its block freed, below).
        unsafe {
            if gp == forker || (sp >= (*gp).stack_lo && sp < (*gp).stack_hi) {
                if keep[0].is_null() {
                    keep[0] = gp;
                } else {
                    keep[1] = gp;
                }
                continue;
            }
            // Its stack may be on a P's list too (see stack::rebuild_after_fork).
            if let Some(st) = (*gp).stack.take() {
                st.forget_after_fork();
            }
            ptr::drop_in_place(gp);
        }
    }
    // SAFETY: the child's only thread (our # Safety): nobody holds the lock. The Gs
    // of the blocks freed were dropped above and are on no list any more; the blocks
    // of the kept ones stay, as the kept Gs did before blocks.
    unsafe { GBLOCKS.get_after_fork().free_all(&keep) };
    // SAFETY: this is the child's only thread (our # Safety), so nobody can hold or
    // take the GFREE and STACKS locks.
    unsafe {
        GFREE.get_after_fork().clear();
        STACKS.get_after_fork().forget_after_fork();
        // The parent's Gs that waited for a stack are gone with the rest.
        *STACK_WAIT.get_after_fork() = GQueue::new();
    }
    STACK_WAITING.store(false, Ordering::SeqCst);
    // Every stack of the parent's is let go of now but the kept Gs' (the Ps' caches by
    // rt_init before this): their arenas learn what is free from those alone.
    let mut kept: [Option<&super::stack::GStack>; 2] = [None, None];
    for (slot, &gp) in kept.iter_mut().zip(keep.iter()) {
        if !gp.is_null() {
            // SAFETY: a kept G is live (its block was not freed) and ours alone here.
            *slot = unsafe { (*gp).stack.as_ref() };
        }
    }
    // SAFETY: the fork child's only thread, before the new runtime starts (our
    // # Safety); no stack of the parent's is held any more but the kept Gs'.
    unsafe { super::stack::rebuild_after_fork(&kept) };
}

/// Run by a G right after it is switched to: queues the G that yielded straight to
/// it (see `gosched`), now that its context is saved.
#[inline(always)]
pub fn finish_switch() {
    let gp = tls::getg();
    if sanitizer::asan() {
        // SAFETY: gp is the G this thread just switched to.
        unsafe { sanitizer::switched_in(gp) };
    }
    // SAFETY: the running G's M is live.
    let m = unsafe { &*(*gp).m };
    let prev = m.pending_g.replace(ptr::null_mut());
    if !prev.is_null() {
        finish_pending(m, prev);
    }
}

/// finish_switch's work after a G-to-G switch, out of line so that the common return
/// from a park through g0 stays a few instructions: `prev`'s context is saved now, so
/// it can be queued (a yield) or marked waiting and its unlock callback run (a park),
/// as g0 would have done.
#[inline(never)]
fn finish_pending(m: &M, prev: *mut G) {
    let (unlock, arg) = match m.pending.get() {
        Pending::Yield => return requeue_yielded(m, prev),
        Pending::Park(unlock, arg) => (unlock, arg),
        Pending::Exit => {
            m.pending.set(Pending::Yield);
            // SAFETY: on the M's own thread; gdestroy only fills the P's caches. The
            // dead G's stack is not ours: we run on the G it switched to.
            if !gdestroy(m, unsafe { m.held_mut() }, prev).is_null() {
                super::throw("goexit: rt_main's G exited on the direct path");
            }
            return;
        }
    };
    m.pending.set(Pending::Yield);
    // SAFETY: prev is ours until its callback publishes it as waiting. The callback
    // is the one a runtime primitive passed to gopark_direct for this park, called
    // with the parking G once it is marked waiting, on the M that parked it (it needs
    // no particular stack).
    let keep =
        super::sched::park_commit_on(m, unsafe { &mut *prev }, GStatus::Waiting, |g| unsafe {
            unlock(g, arg)
        });
    if !keep {
        // The callback refused the park: the G runs again, next on this P.
        // SAFETY: on the M's own thread, as above.
        match unsafe { m.held_mut() } {
            Some(pp) => pp.runqput(prev, true),
            None => super::throw("finish_switch: running G without a P"),
        }
    }
}

/// rt_lockosthread: wires the current G to its M (nests).
pub fn lockosthread() -> Result<()> {
    let gp = curg();
    if gp.is_null() {
        return Err(Error::Perm);
    }
    // SAFETY: the running G and its M.
    unsafe {
        let g = &mut *gp;
        g.lockcount += 1;
        if g.lockcount == 1 {
            g.lockedm.store(g.m, Ordering::Release);
            (*g.m).lockedg.store(gp, Ordering::Release);
        }
    }
    Ok(())
}

/// rt_unlockosthread: undoes one rt_lockosthread (no-op when not wired).
pub fn unlockosthread() -> Result<()> {
    let gp = curg();
    if gp.is_null() {
        return Err(Error::Perm);
    }
    // SAFETY: the running G and its M.
    unsafe {
        let g = &mut *gp;
        if g.lockcount > 0 {
            g.lockcount -= 1;
            if g.lockcount == 0 {
                g.lockedm.store(ptr::null_mut(), Ordering::Release);
                (*g.m).lockedg.store(ptr::null_mut(), Ordering::Release);
            }
        }
    }
    Ok(())
}

/// For rt_getstats: bytes of G stacks known touched (a cheap lower bound of what is
/// resident, see `stack::GSTACK_TOUCHED`), or with `exact` counted by mincore.
pub fn stack_resident_bytes(exact: bool) -> u64 {
    if exact {
        super::stack::resident_exact()
    } else {
        super::stack::GSTACK_TOUCHED.load(Ordering::Acquire)
    }
}

/// Counter for rt_getstats: stack bytes reserved.
pub fn stack_reserved_bytes() -> u64 {
    super::stack::GSTACK_RESERVED.load(Ordering::Acquire)
}

/// Field offsets of G for the gdb extension (tools/gdb/mrt-gdb.py), in the order of
/// the `mrt_gdb_info` table (asm/x86_64.S): status, goid, sched.sp, stack_lo,
/// stack_hi, wait, fnc, name, name_len, m, lockedm, creator, create_pc, started.
pub(crate) const GDB_G_OFFSETS: [usize; 14] = [
    core::mem::offset_of!(G, status),
    core::mem::offset_of!(G, goid),
    core::mem::offset_of!(G, sched),
    core::mem::offset_of!(G, stack_lo),
    core::mem::offset_of!(G, stack_hi),
    core::mem::offset_of!(G, wait),
    core::mem::offset_of!(G, fnc),
    core::mem::offset_of!(G, name),
    core::mem::offset_of!(G, name_len),
    core::mem::offset_of!(G, m),
    core::mem::offset_of!(G, lockedm),
    core::mem::offset_of!(G, creator),
    core::mem::offset_of!(G, create_pc),
    core::mem::offset_of!(G, started),
];
