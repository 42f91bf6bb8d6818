//! The machinery, in Go's vocabulary. Each file says what it owns and which Go
//! function it mirrors:
//! - [`sched`]: the scheduler (proc.go): schedule, findRunnable, execute, the run
//!   queues, spinning Ms, wakep/startm/stopm/handoffp, newproc, gosched, gopark,
//!   goready, wakeNetPoller, locked Gs, rt_main and rt_schedule.
//! - [`p`]: P (processor): the shared part, the owned [`p::PCore`] behind a
//!   [`p::HeldP`], allp, procresize, the idle-P pool, acquirep/releasep.
//! - [`m`]: M (OS thread): allocm, newm, newm1, newosproc, mstart, mexit, freem, allm,
//!   and adoption of foreign threads (Go's extra M).
//! - [`g`]: G: its states, the free-G and stack caches, the switch (switch_to,
//!   mcall, the G-to-G fast path), goexit and gdestroy, rt_lockosthread.
//! - [`runq`]: the per-P ring with runnext and stealing.
//! - [`syscall`], [`sysmon`]: entersyscall/exitsyscall; retake and the idle poll.
//! - [`timer`], [`netpoll`], [`chan`], [`sync`]: what Gs park on.
//! - [`spinning`]: the spinning-M protocol's counters and decisions (wakep,
//!   resetspinning, the re-check before parking), which loom checks.
//! - [`stack`]: stack mappings and guard regions.
//! - [`note`]: futex sleep/wake (Go's note) and the runtime's lock.
//! - [`init`]: rt_init / rt_shutdown, lazy initialisation, fork.
//! - [`preempt`]: asynchronous preemption by signal (Go's preemptM / asyncPreempt)
//!   for Gs that opted in.
//! - [`signal`]: alternate signal stacks, the fault handler, the M signal mask.
//! - [`tls`]: getg/getm through the TLS slot that mstart_stub writes.
//! - [`stats`]: rt_getstats and rt_dump.
//! - [`trace`]: the execution trace (rt_trace_start / rt_trace_stop, `$MRT_TRACE`).
//! - [`error`]: the runtime's error type (the C ABI maps it to RT_* codes).
//! - [`sanitizer`]: what a sanitized host's ASan / TSan is told about the switches and
//!   hand-offs (fibers, happens-before edges), found at load time.
//! - [`arch`]: the per-architecture assembly and TLS access.
//!
//! Nothing here imports `crate::ffi`: the C ABI depends on the runtime, not the
//! other way round.

pub mod arch;
pub mod atomic;
pub mod chan;
pub mod chanreg;
pub mod deadlock;
pub mod dump;
pub mod error;
pub mod g;
pub mod greg;
pub mod init;
pub mod m;
pub mod netpoll;
pub mod note;
pub mod p;
pub mod pollfd;
pub mod preempt;
pub mod runq;
pub mod sanitizer;
pub mod sched;
pub mod scratch;
pub mod signal;
pub mod spinning;
pub mod stack;
pub mod stats;
pub mod sync;
pub mod syscall;
pub mod sysmon;
pub mod time;
pub mod timer;
pub mod tls;
pub mod trace;

use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use error::{Error, Result};
use note::Lock;

/// Set by the first fatal error: a second one (a panic while dumping, another M
/// failing at the same moment) prints its line but no second dump.
#[cfg_attr(loom, allow(dead_code))]
static DYING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Reports a broken runtime invariant and aborts the process (Go's `throw`): one line
/// `libmrt: fatal error: <msg>`, then the state of every M, P and G, then abort.
/// Only for states that correct use of the API cannot reach: bad input and resource
/// exhaustion are named errors, never this.
#[cold]
pub fn throw(msg: &str) -> ! {
    // Under loom a panic fails the model with the interleaving that led here.
    #[cfg(loom)]
    panic!("libmrt: fatal error: {msg}");
    #[cfg(not(loom))]
    {
        let mut line = [0u8; 256];
        let mut n = 0;
        for part in [b"libmrt: fatal error: ".as_slice(), msg.as_bytes(), b"\n"] {
            for &b in part {
                if n < line.len() {
                    line[n] = b;
                    n += 1;
                }
            }
        }
        write_stderr(&line[..n]);
        if !DYING.swap(true, Ordering::AcqRel) {
            // Best effort: the dump only tries the locks (the caller may hold one),
            // and a panic inside it is caught so that the abort below still happens.
            let _ = std::panic::catch_unwind(|| {
                dump::dump(&mut dump::FdOut::new(2), dump::Symbols::Yes)
            });
        }
        // SAFETY: abort never returns and is async-signal-safe.
        unsafe { libc::abort() }
    }
}

/// A panic caught inside the runtime is a bug: report it as a fatal error (with the
/// panic's message) and abort. Unwinding into the host, or turning the panic into an
/// error code, would let it carry on with whatever state the panic left half-changed.
#[cold]
pub fn fatal_panic(payload: &(dyn core::any::Any + Send)) -> ! {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "(no message)"
    };
    let mut line = String::new();
    // A failed allocation here leaves the line empty; the fixed prefix still shows.
    if line.try_reserve(msg.len() + 8).is_ok() {
        line.push_str("panic: ");
        line.push_str(msg);
    }
    throw(&line)
}

/// Runs `f`, aborting with [`fatal_panic`] if it panics: for code entered from
/// assembly or C (an M's start, a G's first frame, the FFI boundary), where an
/// unwind must never leave Rust.
#[inline]
pub fn no_unwind<R>(f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(core::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => fatal_panic(&*payload),
    }
}

/// The value of environment variable `name` ("" if it is unset or not UTF-8), read
/// with getenv: no allocation, so rt_init can read its settings with the heap
/// exhausted (std::env::var copies into a String, whose failure aborts).
///
/// The text is the environment's own, valid until the variable is changed: the
/// library reads its settings once, in rt_init (as a C library's getenv caller
/// would, a host that changes the environment concurrently is outside POSIX).
pub fn env_str(name: &core::ffi::CStr) -> &'static str {
    // SAFETY: getenv with a NUL-terminated name only reads the environment.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return "";
    }
    // SAFETY: getenv returned a non-null pointer to the variable's NUL-terminated
    // value, which lives in the environment until the variable is changed (see
    // above: the caller uses it at once).
    unsafe { core::ffi::CStr::from_ptr(v) }
        .to_str()
        .unwrap_or("")
}

/// A line of text built without aborting when memory runs out: the fmt::Write of a
/// String that reserves fallibly (std's String panics, and so aborts the host, when
/// it cannot grow). `text()` is None if any part could not be added.
#[derive(Default)]
pub struct TryText {
    s: String,
    failed: bool,
}

impl TryText {
    pub fn text(self) -> Option<String> {
        (!self.failed).then_some(self.s)
    }
}

impl core::fmt::Write for TryText {
    fn write_str(&mut self, part: &str) -> core::fmt::Result {
        if self.failed || self.s.try_reserve(part.len()).is_err() {
            self.failed = true;
            return Err(core::fmt::Error);
        }
        self.s.push_str(part);
        Ok(())
    }
}

/// Writes bytes to fd 2 with write(2) only (safe in a signal handler). A stderr
/// that is a pipe or socket whose reader is gone loses the text: the write's
/// SIGPIPE never reaches the host (see [`signal::NoSigpipe`]).
pub fn write_stderr(mut b: &[u8]) {
    let _nopipe = signal::NoSigpipe::new();
    while !b.is_empty() {
        // SAFETY: b is a valid slice for the length given.
        let r = unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
        if r <= 0 {
            return;
        }
        b = &b[r as usize..];
    }
}

/// Allocates `v` on the heap, returning `Error::NoMem` instead of aborting when the
/// allocator fails. Free with [`free_box`].
pub fn try_box<T>(v: T) -> Result<*mut T> {
    let layout = core::alloc::Layout::new::<T>();
    // SAFETY: T is not zero-sized in any use here (all are runtime structs).
    let p = unsafe { std::alloc::alloc(layout) } as *mut T;
    if p.is_null() {
        return Err(Error::NoMem);
    }
    // SAFETY: p is freshly allocated with T's layout.
    unsafe { p.write(v) };
    Ok(p)
}

/// Frees what [`try_box`] allocated.
///
/// # Safety
/// `p` came from `try_box::<T>` and is not used afterwards.
pub unsafe fn free_box<T>(p: *mut T) {
    // SAFETY: try_box allocated with the global allocator and T's layout, which is
    // what Box uses.
    drop(unsafe { Box::from_raw(p) });
}

/// Where the runtime is in its life (the value of [`STATE`]).
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunState {
    /// Never initialised in this process: the first API call initialises it.
    Uninit = 0,
    /// Initialised and running.
    Running = 1,
    /// After rt_shutdown: calls return Error::Shutdown until rt_init.
    Stopped = 2,
    /// In the child of fork(): calls return Error::Shutdown until rt_init.
    Forked = 3,
}

/// The life state, read without a lock on every API call.
pub static STATE: AtomicU32 = AtomicU32::new(RunState::Uninit as u32);

/// Bumped by every rt_init: tells a multi-step call that the runtime it started
/// with was shut down (and maybe restarted) in between.
pub static GENERATION: AtomicU64 = AtomicU64::new(0);

pub fn run_state() -> RunState {
    match STATE.load(Ordering::Acquire) {
        0 => RunState::Uninit,
        1 => RunState::Running,
        2 => RunState::Stopped,
        _ => RunState::Forked,
    }
}

/// Makes sure the runtime runs: initialises it with defaults on first use.
pub fn ensure_running() -> Result<()> {
    match run_state() {
        RunState::Running => Ok(()),
        RunState::Uninit => init::lazy_init(),
        RunState::Stopped | RunState::Forked => Err(Error::Shutdown),
    }
}

/// Settings fixed at rt_init.
#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    pub g0_stack_size: usize,
    pub g_stack_size: usize,
}

/// The scheduler's shared state (Go's `schedt`), guarded by [`SCHED`]'s lock.
pub struct Sched {
    /// Set by init, cleared by shutdown. Checked under the lock by every operation
    /// that changes Ms or Ps, so none slips past a concurrent shutdown.
    pub running: bool,
    /// rt_shutdown is stopping the Ms: no new M, no P handed out.
    pub stopping: bool,
    pub cfg: Cfg,
    /// Every P of this run, indexed by id. Ps beyond `gomaxprocs` are dead or dying.
    pub allp: Vec<*mut p::P>,
    pub gomaxprocs: i32,
    /// The idle-P pool, linked through `P::link`.
    pub pidle: *mut p::P,
    pub npidle: i32,
    /// Every M: launched or not, runtime-created or adopted (linked by `alllink`).
    pub allm: *mut m::M,
    /// Idle Ms parked on their note, linked by `schedlink`.
    pub midle: *mut m::M,
    pub nmidle: i32,
    /// The idle-M watcher: the runtime-created M on the idle list (or on its way back
    /// to it) that sleeps with the retirement timeout for every idle runtime-created M
    /// (see `sched::stopm`); null: none.
    pub mwatch: *mut m::M,
    /// The mask of the thread that initialised the runtime, less the fault signals:
    /// every M runs with it (Go's initSigmask).
    pub sigmask: libc::sigset_t,
    /// What glibc takes from a thread stack for TLS and its own needs.
    pub minstack: usize,
}

// SAFETY: the raw pointers are owned by the runtime and only touched under the lock.
unsafe impl Send for Sched {}

impl Sched {
    const fn empty() -> Sched {
        Sched {
            running: false,
            stopping: false,
            cfg: Cfg {
                g0_stack_size: 0,
                g_stack_size: 0,
            },
            allp: Vec::new(),
            gomaxprocs: 0,
            pidle: ptr::null_mut(),
            npidle: 0,
            allm: ptr::null_mut(),
            midle: ptr::null_mut(),
            nmidle: 0,
            mwatch: ptr::null_mut(),
            // SAFETY: sigset_t is plain data; all-zero is the empty set.
            sigmask: unsafe { core::mem::zeroed() },
            minstack: 0,
        }
    }

    /// Fails with Error::Shutdown unless the runtime runs and is not stopping.
    pub fn check_running(&self) -> Result<()> {
        if self.running && !self.stopping {
            Ok(())
        } else {
            Err(Error::Shutdown)
        }
    }
}

/// The scheduler lock and state (Go's `sched.lock` and `sched`).
pub static SCHED: Lock<Sched> = Lock::new(Sched::empty());
