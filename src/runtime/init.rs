//! The runtime's life: rt_init (explicit or lazy), rt_shutdown, and fork.
//!
//! `INIT` serialises init and shutdown. [`super::STATE`] is the lock-free view that
//! every API call reads; the `running`/`stopping` flags in [`super::Sched`] are the
//! authoritative ones, checked under the sched lock by each operation.

use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use super::error::{Error, Result};
use super::m::{self, MKind, MState};
use super::note::Mutex;
use super::time::nanotime;
use super::{g, p, run_state, sched, signal, sysmon, tls, Cfg, RunState, SCHED, STATE};

/// Serialises rt_init and rt_shutdown.
static INIT: Mutex = Mutex::new();

/// Default usable g0 stack of a runtime-created M.
pub(crate) const DEFAULT_G0_STACK: usize = 512 << 10;
/// Default G stack.
pub(crate) const DEFAULT_G_STACK: usize = 64 << 10;
/// Smallest accepted stack sizes (a start function, or a G, needs some room).
pub(crate) const MIN_G0_STACK: usize = 64 << 10;
pub(crate) const MIN_G_STACK: usize = 16 << 10;
/// Largest accepted stack size, g0 or G (1 TiB: more than any thread or G could use,
/// far below where rounding up to pages could overflow).
pub(crate) const MAX_STACK: usize = 1 << 40;
/// How long rt_shutdown waits for exited threads to be gone before it gives up
/// freeing their stacks (they stay on the freem list for later).
const REAP_WAIT_NS: i64 = 2_000_000_000;
/// How long rt_shutdown gives idle Ms to exit beyond a shorter timeout.
const M_EXIT_GRACE_NS: i64 = 2_000_000_000;

/// rt_config.flags bits (RT_CFG_* in mrt.h).
pub(crate) const CFG_DEADLOCK_DETECT: u32 = 0x1;
pub(crate) const CFG_SIGQUIT_DUMP: u32 = 0x2;

/// What the host asked for (rt_config with its zeros still in place).
#[derive(Clone, Copy, Default, Debug)]
pub struct Request {
    pub maxprocs: i32,
    pub g0_stack_size: usize,
    pub g_stack_size: usize,
    pub flags: u32,
    /// rt_config.preempt_signal: 0 = SIGURG, -1 = none, else that signal.
    pub preempt_signal: i32,
}

/// Number of CPUs the process may run on.
fn ncpu() -> i32 {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let n = libc::CPU_COUNT(&set);
            if n > 0 {
                return n;
            }
        }
        let n = libc::sysconf(libc::_SC_NPROCESSORS_ONLN);
        if n > 0 {
            n as i32
        } else {
            1
        }
    }
}

/// $MRT_MAXPROCS if it is a valid count.
fn env_maxprocs() -> Option<i32> {
    let n: i32 = super::env_str(c"MRT_MAXPROCS").trim().parse().ok()?;
    (n > 0 && n <= p::MAX_PROCS).then_some(n)
}

/// What glibc takes from a thread stack beyond the usable part: its minimum stack,
/// which includes the process's static TLS (`__pthread_get_minstack`, as Rust's std
/// uses it).
fn glibc_minstack() -> usize {
    type MinStack = unsafe extern "C" fn(*const libc::pthread_attr_t) -> libc::size_t;
    // SAFETY: dlsym with a NUL-terminated name; the symbol, when present, has this
    // signature in every glibc that exports it.
    unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"__pthread_get_minstack".as_ptr());
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        let n = if !f.is_null() && libc::pthread_attr_init(&mut attr) == 0 {
            let f: MinStack = core::mem::transmute(f);
            let n = f(&attr);
            libc::pthread_attr_destroy(&mut attr);
            n
        } else {
            libc::PTHREAD_STACK_MIN + (64 << 10)
        };
        n.max(libc::PTHREAD_STACK_MIN)
    }
}

/// rt_init.
pub fn init(req: Request) -> Result<()> {
    super::note::set_spin(ncpu());
    let n = if req.maxprocs > 0 {
        if req.maxprocs > p::MAX_PROCS {
            return Err(Error::Inval);
        }
        req.maxprocs
    } else if req.maxprocs < 0 {
        return Err(Error::Inval);
    } else {
        env_maxprocs().unwrap_or_else(|| ncpu().min(p::MAX_PROCS))
    };
    // Sizes are bounded before they are rounded up to pages: rounding a size near
    // usize::MAX wraps to 0 (an M or G with no stack at all).
    let pg = super::stack::page_size();
    let g0 = match req.g0_stack_size {
        0 => DEFAULT_G0_STACK,
        x if x > MAX_STACK => return Err(Error::Inval),
        x => super::stack::round_up(x.max(MIN_G0_STACK), pg),
    };
    let gs = match req.g_stack_size {
        0 => DEFAULT_G_STACK,
        x if x > MAX_STACK => return Err(Error::Inval),
        x => super::stack::round_up(x.max(MIN_G_STACK), pg),
    };
    // Unknown RT_CFG_* bits are refused, not ignored.
    if req.flags & !(CFG_DEADLOCK_DETECT | CFG_SIGQUIT_DUMP) != 0 {
        return Err(Error::Inval);
    }
    let psig = super::preempt::check_signal(req.preempt_signal)?;

    INIT.lock();
    let r = init_locked(
        n,
        Cfg {
            g0_stack_size: g0,
            g_stack_size: gs,
        },
        psig,
        req.flags,
    );
    INIT.unlock();
    if r.is_ok() {
        // $MRT_TRACE: after the runtime runs (and outside INIT: a trace is no part of
        // what rt_init sets up, and its failure is no rt_init error).
        super::trace::init_from_env();
        super::sysmon::configure_schedtrace();
    }
    r
}

fn init_locked(n: i32, cfg: Cfg, psig: i32, flags: u32) -> Result<()> {
    let state = run_state();
    if state == RunState::Running {
        return Err(Error::Already);
    }
    register_atfork();
    signal::install_fault_handler();
    let mut cur: libc::sigset_t = unsafe_zeroed_sigset();
    // SAFETY: querying this thread's mask into a valid sigset.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut cur) };
    let minstack = glibc_minstack();

    let mut s = SCHED.lock();
    if state == RunState::Forked {
        // SAFETY: a fork child: no thread of the parent's runtime exists here.
        unsafe {
            // First: freeing the stale Ps and Ms drops G stacks, which take the
            // stack arenas' lock, and the parent may have held it at the fork.
            super::stack::registry_after_fork();
            // Before the stale Ms put their stacks back.
            super::stack::mstack_cache_after_fork();
            m::free_stale_ms(&mut s);
            p::forget_stacks_after_fork(&mut s);
            p::free_all(&mut s);
        }
        s.midle = ptr::null_mut();
        s.nmidle = 0;
        s.mwatch = ptr::null_mut();
        m::NMLIVE.store(0, Ordering::Relaxed);
        // SAFETY: state Forked: a fork child, before rt_init starts the new runtime, as
        // forget_after_fork requires; the G we may be running on keeps its stack.
        unsafe { g::forget_after_fork() };
        // The arenas of the parent's stacks freed above, kept for reuse: the child
        // would hold their copied pages until its sysmon found them idle.
        super::stack::release_empty();
        // SAFETY: the fork child's only thread, before the new runtime starts.
        unsafe { sched::replace_globrunq_after_fork() };
        sched::NMSPINNING.store(0, Ordering::Relaxed);
        sched::forget_schedulers_after_fork();
        sysmon::reset();
    }
    let cfg_g_stack = cfg.g_stack_size;
    s.cfg = cfg;
    m::newm_backoff_reset();
    let debug = super::env_str(c"MRT_DEBUG");
    warn_unknown_debug_keys(debug);
    let migrate = debug.split(',').any(|w| w.trim() == "migrate");
    sched::DEBUG_MIGRATE.store(migrate, Ordering::Relaxed);
    sched::set_switch_slow(sched::SLOW_MIGRATE, migrate);
    sched::configure_idle_m_retire(debug);
    m::FULL_CREATESTACK.store(
        debug.split(',').any(|w| w.trim() == "createstack"),
        Ordering::Relaxed,
    );
    // Before any G exists: a sanitized host's ASan or TSan is told about every one.
    super::sanitizer::detect(debug);
    sched::set_switch_slow(sched::SLOW_SANITIZER, super::sanitizer::on() != 0);
    super::stack::configure(debug, cfg_g_stack);
    let asyncpreemptoff = debug.split(',').any(|w| w.trim() == "asyncpreemptoff");
    super::deadlock::configure(flags & CFG_DEADLOCK_DETECT != 0);
    if flags & CFG_SIGQUIT_DUMP != 0 || debug.split(',').any(|w| w.trim() == "sigquit") {
        signal::install_sigquit_dump();
    }
    super::dump::note_clock();
    super::preempt::configure(psig, asyncpreemptoff);
    s.sigmask = signal::m_sigmask(cur, super::preempt::configured_signal());
    s.minstack = minstack;
    s.stopping = false;
    s.running = true;
    if let Err(e) = p::procresize(&mut s, n) {
        s.running = false;
        return Err(e);
    }
    super::p::reset_counters();
    // No M runs: nobody spins (a count left by Ms that stopped mid-search would
    // otherwise silence wakep for the whole run).
    sched::NMSPINNING.store(0, Ordering::Relaxed);
    super::GENERATION.fetch_add(1, Ordering::AcqRel);
    STATE.store(RunState::Running as u32, Ordering::Release);
    Ok(())
}

/// The words `$MRT_DEBUG` understands (comma-separated).
pub const DEBUG_KEYS: &[&str] = &[
    "migrate",
    "asyncpreemptoff",
    "nosan",
    "nosan-go",
    "nosan-chan",
    "nosan-sync",
    "nosan-park",
    "sigquit",
    "guardmprotect",
    "guarddeferslow",
    "gstackvmas=<n>",
    "createstack",
    "idlemretire=<n>",
];

/// Whether `w`, a word of `$MRT_DEBUG`, is one of [`DEBUG_KEYS`] (empty words are).
fn known_debug_key(w: &str) -> bool {
    w.is_empty()
        || DEBUG_KEYS.iter().any(|k| match k.strip_suffix("<n>") {
            // A key that takes a value: "name=" and anything after it.
            Some(prefix) => w.starts_with(prefix),
            None => *k == w,
        })
}

/// The words of `debug` that are no [`DEBUG_KEYS`] (empty words are ignored).
pub fn unknown_debug_keys(debug: &str) -> impl Iterator<Item = &str> {
    debug
        .split(',')
        .map(str::trim)
        .filter(|w| !known_debug_key(w))
}

/// One line on stderr naming the unknown words of `$MRT_DEBUG` and the known ones,
/// once per process (a mistyped key would otherwise be ignored without a word).
/// Without memory for the line, no line.
fn warn_unknown_debug_keys(debug: &str) {
    use core::fmt::Write;
    static WARNED: AtomicBool = AtomicBool::new(false);
    if unknown_debug_keys(debug).next().is_none() || WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    let mut msg = super::TryText::default();
    let _ = msg.write_str("libmrt: MRT_DEBUG: unknown key(s) ");
    for (i, w) in unknown_debug_keys(debug).enumerate() {
        let _ = write!(msg, "{}{w}", if i > 0 { "," } else { "" });
    }
    let _ = msg.write_str(" ignored; known keys: ");
    for (i, k) in DEBUG_KEYS.iter().enumerate() {
        let _ = write!(msg, "{}{k}", if i > 0 { "," } else { "" });
    }
    let _ = msg.write_str("\n");
    if let Some(msg) = msg.text() {
        super::write_stderr(msg.as_bytes());
    }
}

fn unsafe_zeroed_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data.
    unsafe { core::mem::zeroed() }
}

/// The first API call of a process that never called rt_init.
pub fn lazy_init() -> Result<()> {
    match init(Request::default()) {
        Ok(()) | Err(Error::Already) => Ok(()),
        Err(e) => Err(e),
    }
}

/// rt_shutdown.
pub fn shutdown(timeout_ns: i64) -> Result<()> {
    let m = tls::getm();
    if !m.is_null() {
        // SAFETY: the calling thread's live M.
        let mm = unsafe { &*m };
        if !mm.curg.load(Ordering::Relaxed).is_null() || mm.kind == MKind::Runtime {
            // A G, or an M's own thread: it would wait for itself.
            return Err(Error::Perm);
        }
    }
    let deadline = if timeout_ns < 0 {
        -1
    } else {
        nanotime().saturating_add(timeout_ns)
    };
    INIT.lock();
    let r = shutdown_locked(deadline);
    INIT.unlock();
    r
}

fn shutdown_locked(deadline: i64) -> Result<()> {
    if run_state() != RunState::Running {
        return Err(Error::Shutdown);
    }
    // Every G must finish first; until then nothing is stopped.
    loop {
        if !g::wait_no_gs(deadline) {
            return Err(Error::TimedOut);
        }
        // No G may be made from outside a G now. One that a foreign thread (or
        // rt_main) was making meanwhile is counted as live only once queued: wait
        // for those calls (they are short), and if one made a G, let it run first.
        sched::NO_NEW_GS.store(true, Ordering::SeqCst);
        let made_deadline = if deadline < 0 {
            -1
        } else {
            deadline.max(nanotime() + M_EXIT_GRACE_NS)
        };
        let quiet = sched::wait_no_g_makers(made_deadline);
        if quiet && g::live_gs() == 0 {
            // rt_main's M of a G that just exited must learn it before the Ms stop.
            if !sched::wait_main_exits(made_deadline) {
                sched::NO_NEW_GS.store(false, Ordering::SeqCst);
                return Err(Error::TimedOut);
            }
            break;
        }
        sched::NO_NEW_GS.store(false, Ordering::SeqCst);
        if !quiet {
            return Err(Error::TimedOut);
        }
    }
    // Stop the Ms: no new ones, idle ones woken to exit, busy ones exit when they
    // next look for work; sysmon returns from its loop.
    sched::SHUTTING_DOWN.store(true, Ordering::Release);
    sched::set_switch_slow(sched::SLOW_SHUTDOWN, true);
    sysmon::stop();
    // An M blocked in netpoll is not on the idle list: break its wait.
    super::netpoll::netpoll_break();
    {
        let mut s = SCHED.lock();
        s.stopping = true;
        sched::wake_all_idle(&mut s);
    }
    // The timeout is for the Gs; Ms that are merely on their way out get a grace
    // period, so that Error::TimedOut means an M is busy in host code (its start
    // function), not that an idle M is still waking up.
    let m_deadline = if deadline < 0 {
        -1
    } else {
        deadline.max(nanotime() + M_EXIT_GRACE_NS)
    };
    if !m::wait_mlive_zero(m_deadline) || !sched::wait_schedulers_gone(m_deadline) {
        SCHED.lock().stopping = false;
        sched::NO_NEW_GS.store(false, Ordering::SeqCst);
        sched::SHUTTING_DOWN.store(false, Ordering::Release);
        sched::set_switch_slow(sched::SLOW_SHUTDOWN, false);
        sysmon::reset();
        return Err(Error::TimedOut);
    }
    m::reap_freem(nanotime() + REAP_WAIT_NS);
    // SAFETY: no G is alive and no M runs.
    unsafe { g::free_all() };
    sched::clear_globrunq();
    sysmon::reset();

    let mut s = SCHED.lock();
    // Unlaunched Ms are freed; adopted ones stay Ms (their threads live on) but lose
    // their P; the rest have exited.
    let mut x = s.allm;
    let mut keep: *mut m::M = ptr::null_mut();
    while !x.is_null() {
        // SAFETY: Ms on allm are live under the sched lock.
        unsafe {
            let next = (*x).alllink;
            if (*x).kind == MKind::Adopted {
                (*x).p.store(ptr::null_mut(), Ordering::Release);
                (*x).nextp.store(ptr::null_mut(), Ordering::Release);
                (*x).alllink = keep;
                keep = x;
            } else if (*x).state() == MState::Allocated {
                (*x).alllink = ptr::null_mut();
                m::free_m(x);
            } else {
                super::throw("rt_shutdown: a runtime M is still on allm after all exited");
            }
            x = next;
        }
    }
    s.allm = keep;
    s.midle = ptr::null_mut();
    s.nmidle = 0;
    s.mwatch = ptr::null_mut();
    // SAFETY: no M runs on a P any more (runtime Ms exited; adopted Ms were unwired).
    unsafe { p::free_all(&mut s) };
    // Every G stack is free now: the arenas kept for reuse are unmapped.
    super::stack::release_empty();
    s.running = false;
    s.stopping = false;
    // Stopped before SHUTTING_DOWN clears: an adopted M still leaving the scheduler
    // must never see the runtime running with its P gone (M::put_p).
    STATE.store(RunState::Stopped as u32, Ordering::Release);
    sched::NO_NEW_GS.store(false, Ordering::SeqCst);
    sched::SHUTTING_DOWN.store(false, Ordering::Release);
    sched::set_switch_slow(sched::SLOW_SHUTDOWN, false);
    Ok(())
}

static ATFORK: Once = Once::new();

fn register_atfork() {
    ATFORK.call_once(|| {
        // SAFETY: registering handlers with the right signature.
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
    });
}

/// The ALLGS lock, held by the forking thread across fork() (see `fork_prepare`).
static FORK_ALLGS: core::sync::atomic::AtomicPtr<Mutex> =
    core::sync::atomic::AtomicPtr::new(ptr::null_mut());
/// The stack arenas' lock, held across fork() after ALLGS's (see `fork_prepare`).
static FORK_ARENAS: core::sync::atomic::AtomicPtr<Mutex> =
    core::sync::atomic::AtomicPtr::new(ptr::null_mut());

extern "C" fn fork_prepare() {
    m::exec_lock_write();
    // rt_init in the child walks ALLGS to free the parent's Gs, so no other thread
    // may be changing it at the fork: a push that grows the vector reallocates it
    // (glibc moves a large block with mremap, outside its arena locks), and a child
    // forked in between saw the old, unmapped buffer (SIGSEGV) or one reused for
    // something else (garbage G pointers). Critical sections under it are short and
    // take no other lock that fork waits for.
    let mu = g::ALLGS.lock().into_raw();
    FORK_ALLGS.store(mu as *mut Mutex, Ordering::Relaxed);
    // The child frees the parent's stacks into the arenas and unmaps the empty ones,
    // so their lists must not be caught mid-change either: sysmon's scavenge, a G's
    // exit and a batch refill all change them at any time (a free-slot Vec between
    // its realloc and its new pointer would be freed twice in the child). Their
    // critical sections take no other lock (ALLGS is never taken under them).
    let mu = super::stack::lock_for_fork();
    FORK_ARENAS.store(mu as *mut Mutex, Ordering::Relaxed);
}

/// Releases what fork_prepare took (parent and child alike).
fn fork_release_allgs() {
    for held in [&FORK_ARENAS, &FORK_ALLGS] {
        let mu = held.swap(ptr::null_mut(), Ordering::Relaxed);
        if !mu.is_null() {
            // SAFETY: taken by fork_prepare on this thread (the child's only thread
            // is the forking one) with into_raw, and released only here.
            unsafe { super::note::unlock_raw(mu) };
        }
    }
}

extern "C" fn fork_parent() {
    fork_release_allgs();
    m::exec_unlock();
}

/// In the child only the forking thread exists: the runtime is not running there.
extern "C" fn fork_child() {
    fork_release_allgs();
    m::exec_lock_reinit_after_fork();
    if run_state() != RunState::Uninit {
        STATE.store(RunState::Forked as u32, Ordering::Release);
    }
    INIT.reset_after_fork();
    super::chanreg::reset_after_fork();
    super::pollfd::reset_after_fork();
    super::trace::after_fork();
    // SAFETY: the child has a single thread; nothing else can hold these locks.
    unsafe {
        let s = SCHED.get_after_fork();
        s.running = false;
        s.stopping = false;
        m::FREEM.get_after_fork();
    }
    // Before the slot is cleared: rt_init keeps this G's and its M's stacks, which
    // the thread may still run on (m::free_stale_ms, g::forget_after_fork).
    g::note_forker_after_fork(tls::getg());
    tls::setg(ptr::null_mut());
    m::forget_adoption_after_fork();
    // The parent's epoll instance is shared with us: drop our copies at once, so that
    // nothing in the child can wait on it or change its interest list.
    super::netpoll::reset_after_fork();
}
