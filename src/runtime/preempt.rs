//! Asynchronous preemption (Go's preemptM, sigctxt.pushCall and asyncPreempt), for
//! Gs created with RT_G_ASYNC_PREEMPT.
//!
//! sysmon marks a G that has run a whole time slice (`sysmon::preemptone`). A G that
//! opted in is also sent the preemption signal (rt_config.preempt_signal, SIGURG by
//! default) on its M's thread, with tgkill. The handler here decides whether the
//! interrupted instruction is a safe place to stop the G:
//!
//! 1. the signal is ours: sent by this process with tgkill while sysmon had marked
//!    the M (`M::preempt_sig_pending`); any other delivery goes to the host's handler
//!    for that signal, as if libmrt were not there;
//! 2. the thread runs a user G (the TLS slot), Running, opted in, still marked;
//! 3. the G is not inside a call into libmrt (`G::in_runtime`, counted by the FFI
//!    boundary and set around a G's first and last runtime steps) and the thread
//!    holds no runtime lock (`mrt_tls_locks`);
//! 4. the PC is not in libmrt, the C library or the dynamic linker (their executable
//!    segments, found with dl_iterate_phdr when the handler is installed: malloc's
//!    locks, stdio's and the lazy binder's must never be held by a parked G), nor in
//!    the routine below;
//! 5. the interrupted code runs with the M's usual signal mask (it is not itself a
//!    signal handler of the host's, nor a stretch where the host blocked signals);
//! 6. the handler runs on the alternate signal stack, and the G's stack has room,
//!    above its guard, for the red zone, the saved state and the park.
//!
//! If anything fails, the signal does nothing and sysmon sends another one at its
//! next look (the G stays marked). Otherwise the handler does not switch stacks: it
//! rewrites the interrupted context so that, after sigreturn, the G "calls"
//! `mrt_async_preempt` (asm/x86_64.S) at the interrupted instruction. That routine
//! saves every register (xsave), calls [`async_preempt_park`], which parks the G on
//! the global run queue as rt_checkpoint does, and on resumption restores every
//! register and returns exactly to the interrupted instruction.
//!
//! Disabled under valgrind (it neither delivers a rewritten context faithfully nor
//! knows every xsave component) and with MRT_DEBUG=asyncpreemptoff.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{compiler_fence, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use super::error::{Error, Result};
use super::g::{Action, GStatus, G};
use super::note::Lock;
use super::{arch, g, tls};

/// The signal configured by rt_init (already mapped: 0 = none).
static CONFIGURED: AtomicI32 = AtomicI32::new(libc::SIGURG);
/// The signal sysmon sends: the configured one once its handler is installed
/// (the first RT_G_ASYNC_PREEMPT G), 0 until then or when disabled.
static ACTIVE: AtomicI32 = AtomicI32::new(0);
/// This process's id, for tgkill and for telling our signals from others without
/// a getpid(2) in the handler: set by rt_init (which a fork child must call again).
static PID: AtomicI32 = AtomicI32::new(0);
/// How many times a G was preempted by signal (for rt_dump and the tests' figures).
pub static ASYNC_PREEMPTS: AtomicU64 = AtomicU64::new(0);
/// How many of libmrt's preemption signals found the G at an unsafe moment, by
/// reason ([`Decline`]), for rt_dump.
pub static DECLINED: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

/// Why a preemption signal did nothing (indexes [`DECLINED`]).
#[derive(Clone, Copy)]
enum Decline {
    /// Not a running G that opted in and is still marked (it moved on meanwhile).
    NotMarked = 0,
    /// Inside a call into libmrt, or holding a runtime lock.
    InRuntime = 1,
    /// The PC in libmrt, libc or ld.so.
    ExcludedPc = 2,
    /// Another signal mask than the M's usual one (a host handler, blocked signals).
    SigMask = 3,
    /// Not on the alternate signal stack, or too little room on the G's stack.
    Stack = 4,
}

fn decline(why: Decline) -> bool {
    DECLINED[why as usize].fetch_add(1, Ordering::Relaxed);
    false
}

const NSIG: usize = 65;

/// The host's handlers, one per signal we installed ours for: written under
/// `INSTALLED` before our handler is installed for that signal, read-only after.
struct OldActions(UnsafeCell<[libc::sigaction; NSIG]>);
// SAFETY: each entry is written once, before the handler that reads it exists.
unsafe impl Sync for OldActions {}
// SAFETY: sigaction is plain data; all-zero is SIG_DFL with no flags.
static OLD: OldActions = OldActions(UnsafeCell::new(unsafe { core::mem::zeroed() }));
/// Which signals have our handler, and whether the one-time setup (CPU state size,
/// text ranges) ran.
static INSTALLED: Lock<([bool; NSIG], bool)> = Lock::new(([false; NSIG], false));

/// Executable ranges where a G is never stopped: [lo, hi) pairs, `NRANGES` used.
const MAX_RANGES: usize = 16;
static RANGES: [(AtomicUsize, AtomicUsize); MAX_RANGES] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX_RANGES];
static NRANGES: AtomicUsize = AtomicUsize::new(0);

/// Stack the park itself needs below the saved state (mcall's frame and what runs on
/// resumption before the registers come back), with a wide margin.
const PARK_ROOM: usize = 4096;
/// The red zone (128) and the pushed return address (8): see asm/x86_64.S.
const ENTRY_DROP: usize = 136;
/// Flags, rbp, 14 general registers, the alignment slack, the scratch.
const FRAME_FIXED: usize = 8 + 8 + 14 * 8 + 64 + 64;

/// Checks rt_config.preempt_signal and maps it to the signal to use (0: none).
/// 0 = SIGURG, -1 = no asynchronous preemption; else a signal a handler can be
/// installed for that is neither a synchronous fault nor one of glibc's own.
pub fn check_signal(s: i32) -> Result<i32> {
    match s {
        -1 => Ok(0),
        0 => Ok(libc::SIGURG),
        s if s >= 1
            && s <= libc::SIGRTMAX()
            && (s < 32 || s >= libc::SIGRTMIN())
            && ![
                libc::SIGKILL,
                libc::SIGSTOP,
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGFPE,
                libc::SIGILL,
                libc::SIGTRAP,
                libc::SIGABRT,
                libc::SIGSYS,
            ]
            .contains(&s) =>
        {
            Ok(s)
        }
        _ => Err(Error::Inval),
    }
}

/// rt_init: the signal to use from now on (as mapped by [`check_signal`]). Off
/// under valgrind and with MRT_DEBUG=asyncpreemptoff.
pub fn configure(sig: i32, debug_off: bool) {
    let sig = if debug_off || running_on_valgrind() {
        0
    } else {
        sig
    };
    CONFIGURED.store(sig, Ordering::Relaxed);
    // SAFETY: getpid has no memory effects.
    PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    // A handler installed for this signal by an earlier run is still in place.
    let ins = INSTALLED.lock();
    let active = if sig > 0 && ins.0[sig as usize] {
        sig
    } else {
        0
    };
    ACTIVE.store(active, Ordering::Release);
}

/// The signal rt_init configured (0: none), whether or not a G opted in yet.
pub fn configured_signal() -> i32 {
    CONFIGURED.load(Ordering::Relaxed)
}

/// The process id rt_init saw (for sysmon's tgkill).
#[inline]
pub fn pid() -> i32 {
    PID.load(Ordering::Relaxed)
}

/// The signal sysmon sends to preempt an opted-in G, or 0 (none).
#[inline]
pub fn active_signal() -> i32 {
    ACTIVE.load(Ordering::Acquire)
}

/// A G opts in (rt_go_ex): installs the handler for the configured signal if it is
/// not yet. Nothing to do when asynchronous preemption is off.
pub fn enable() {
    let sig = CONFIGURED.load(Ordering::Relaxed);
    if sig <= 0 || ACTIVE.load(Ordering::Acquire) == sig {
        return;
    }
    let mut ins = INSTALLED.lock();
    if !ins.1 {
        setup_cpu();
        find_ranges();
        ins.1 = true;
    }
    if !ins.0[sig as usize] {
        // SAFETY: sigaction with valid structs; OLD[sig] is stored by the first call,
        // before the second installs the handler that reads it.
        unsafe {
            let old = &mut (*OLD.0.get())[sig as usize];
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = preempt_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, ptr::null(), old) != 0
                || libc::sigaction(sig, &sa, ptr::null_mut()) != 0
            {
                return;
            }
        }
        ins.0[sig as usize] = true;
    }
    if CONFIGURED.load(Ordering::Relaxed) == sig {
        ACTIVE.store(sig, Ordering::Release);
    }
}

fn running_on_valgrind() -> bool {
    extern "C" {
        fn mrt_valgrind_request(args: *const usize, dflt: usize) -> usize;
    }
    const RUNNING_ON_VALGRIND: usize = 0x1001;
    let args = [RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0];
    // SAFETY: the assembly only hands the array to valgrind (or does nothing).
    unsafe { mrt_valgrind_request(args.as_ptr(), 0) != 0 }
}

/// The save area: xsave with every enabled feature among x87, SSE, AVX and AVX-512
/// (cpuid leaf 0xD gives each one's place in the standard format; XCR0 says which the
/// OS enabled), else fxsave. Left out on purpose: MPX (gone from CPUs), PKRU (the
/// thread's protection keys, not the G's) and AMX tiles (8 KiB, and off unless the
/// process asks the kernel for them).
fn setup_cpu() {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    const WANTED: u64 = 0b1110_0111; // x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
    let l1 = __cpuid(1);
    let has_xsave = l1.ecx & (1 << 26) != 0 && l1.ecx & (1 << 27) != 0;
    let (mode, mask, size) = if has_xsave {
        let xcr0 = xgetbv0();
        let mask = (xcr0 & WANTED) | 0b11;
        let mut size = 576u64; // legacy area and header
        for i in 2..8 {
            if mask & (1 << i) != 0 {
                // Leaf 0xD exists where OSXSAVE is set.
                let c = __cpuid_count(0xd, i);
                size = size.max(u64::from(c.ebx) + u64::from(c.eax));
            }
        }
        (1, mask, (size + 63) & !63)
    } else {
        (0, 0, 512)
    };
    // SAFETY: written once, under INSTALLED, before any handler can send a G into
    // the routine that reads them.
    unsafe {
        ptr::addr_of_mut!(arch::mrt_preempt_xmask).write_volatile(mask);
        ptr::addr_of_mut!(arch::mrt_preempt_xsize).write_volatile(size);
        ptr::addr_of_mut!(arch::mrt_preempt_xsave).write_volatile(mode);
    }
}

fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: called only where CPUID says the OS enabled XSAVE (OSXSAVE).
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi,
            options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The executable segments of libmrt, the C library and the dynamic linker, each
/// found by an address known to lie in it. The main program is never one of them:
/// where libmrt is linked statically into it, the in-runtime mark alone guards it.
fn find_ranges() {
    let mut anchors = [0usize; 4];
    anchors[0] = arch::mrt_async_preempt as *const () as usize;
    anchors[1] = libc::malloc as *const () as usize;
    for (i, name) in [c"__tls_get_addr", c"pthread_mutex_lock"]
        .iter()
        .enumerate()
    {
        // SAFETY: dlsym with a NUL-terminated name.
        anchors[2 + i] = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
    }
    // SAFETY: the callback only reads what dl_iterate_phdr hands it.
    unsafe {
        libc::dl_iterate_phdr(
            Some(each_object),
            (&anchors as *const [usize; 4]).cast_mut().cast(),
        )
    };
}

unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid info, and our anchors.
    let (info, anchors) = unsafe { (&*info, &*(data as *const [usize; 4])) };
    // SAFETY: dlpi_name is a NUL-terminated string (empty for the main program).
    if info.dlpi_name.is_null() || unsafe { *info.dlpi_name } == 0 {
        return 0;
    }
    // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
    let phdrs = unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let exec = |ph: &&libc::Elf64_Phdr| ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0;
    let range = |ph: &libc::Elf64_Phdr| {
        let lo = info.dlpi_addr as usize + ph.p_vaddr as usize;
        (lo, lo + ph.p_memsz as usize)
    };
    let hit = phdrs.iter().filter(exec).any(|ph| {
        let (lo, hi) = range(ph);
        anchors.iter().any(|&a| a >= lo && a < hi)
    });
    if hit {
        for ph in phdrs.iter().filter(exec) {
            let n = NRANGES.load(Ordering::Relaxed);
            if n == MAX_RANGES {
                break;
            }
            let (lo, hi) = range(ph);
            RANGES[n].0.store(lo, Ordering::Relaxed);
            RANGES[n].1.store(hi, Ordering::Relaxed);
            NRANGES.store(n + 1, Ordering::Release);
        }
    }
    0
}

/// Whether `pc` is somewhere a G must never be stopped.
fn pc_excluded(pc: usize) -> bool {
    let lo = arch::mrt_async_preempt as *const () as usize;
    let hi = arch::mrt_async_preempt_end as *const () as usize;
    if pc >= lo && pc < hi {
        return true;
    }
    let n = NRANGES.load(Ordering::Acquire);
    RANGES[..n]
        .iter()
        .any(|(lo, hi)| pc >= lo.load(Ordering::Relaxed) && pc < hi.load(Ordering::Relaxed))
}

/// Bytes of the G's stack the preemption uses below the interrupted rsp.
fn stack_need() -> usize {
    // SAFETY: a plain read of a value written once before the handler was installed.
    let x = unsafe { ptr::addr_of!(arch::mrt_preempt_xsize).read_volatile() } as usize;
    ENTRY_DROP + FRAME_FIXED + x + PARK_ROOM
}

/// Marks the calling G as inside libmrt for the duration of a call (the FFI
/// boundary): while marked, the preemption signal leaves it alone wherever its PC is.
pub struct RuntimeMark(*mut G);

impl RuntimeMark {
    #[inline(always)]
    pub fn enter() -> RuntimeMark {
        let gp = tls::getg();
        if !gp.is_null() {
            // SAFETY: a non-null slot points at a live G; only its own thread writes
            // the count (the signal handler, on this thread, only reads it).
            let c = unsafe { &(*gp).in_runtime };
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
        }
        RuntimeMark(gp)
    }
}

impl Drop for RuntimeMark {
    #[inline(always)]
    fn drop(&mut self) {
        // The same G as at entry (maybe on another thread); a thread that was foreign
        // and became an M during the call (or the reverse) counted nothing.
        if !self.0.is_null() && tls::getg() == self.0 {
            compiler_fence(Ordering::SeqCst);
            // SAFETY: the running G, as at entry.
            let c = unsafe { &(*self.0).in_runtime };
            c.store(c.load(Ordering::Relaxed).wrapping_sub(1), Ordering::Relaxed);
        }
    }
}

extern "C" fn preempt_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: errno is this thread's; restored before returning.
    let errno = unsafe { *libc::__errno_location() };
    let gp = tls::getg();
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; a non-null
    // slot points at a live G whose M is live.
    let ours = !gp.is_null()
        && unsafe {
            !(*gp).m.is_null()
                && (*info).si_code == libc::SI_TKILL
                && (*info).si_pid() == PID.load(Ordering::Relaxed)
                && (*(*gp).m).preempt_sig_pending.swap(false, Ordering::AcqRel)
        };
    if ours {
        // SAFETY: gp is the G this thread runs; ctx is the interrupted ucontext.
        unsafe { try_preempt(gp, ctx.cast()) };
    } else {
        chain(sig, info, ctx);
    }
    // SAFETY: __errno_location is this thread's own errno slot; writing back the
    // value read on entry makes the handler invisible to the interrupted code.
    unsafe { *libc::__errno_location() = errno };
}

/// The checks of the module's header, then the rewrite of the interrupted context.
///
/// # Safety
/// `gp` is the G the calling thread runs (from the TLS slot), `uc` the ucontext the
/// kernel passed to the handler for this thread.
unsafe fn try_preempt(gp: *mut G, uc: *mut libc::ucontext_t) -> bool {
    // SAFETY: the # Safety contract: `gp` is the G this thread runs (live until
    // rt_shutdown) and `uc` the kernel's ucontext for this signal, valid and ours to
    // change until the handler returns.
    let (g, uc) = unsafe { (&*gp, &mut *uc) };
    if !g.is_user()
        || g.status() != GStatus::Running
        || !g.async_preempt.load(Ordering::Relaxed)
        || !g.preempt.load(Ordering::Relaxed)
    {
        return decline(Decline::NotMarked);
    }
    if g.in_runtime.load(Ordering::Relaxed) != 0 || arch::tls_locks() != 0 {
        return decline(Decline::InRuntime);
    }
    let gregs = &mut uc.uc_mcontext.gregs;
    let pc = gregs[libc::REG_RIP as usize] as usize;
    let sp = gregs[libc::REG_RSP as usize] as usize;
    if pc_excluded(pc) {
        return decline(Decline::ExcludedPc);
    }
    // SAFETY: g.m is this thread's M.
    let m = unsafe { &*g.m };
    // SAFETY: sigset_t starts with the kernel's 64-bit mask word.
    let mask = unsafe { ptr::addr_of!(uc.uc_sigmask).cast::<u64>().read_unaligned() };
    if mask != m.sigmask_word.load(Ordering::Relaxed) {
        return decline(Decline::SigMask);
    }
    let here = arch::getsp();
    if here >= g.stack_lo && here < g.stack_hi {
        // Not on the alternate signal stack: the kernel's signal frame lies just
        // below the red zone, where the return address would go.
        return decline(Decline::Stack);
    }
    if sp > g.stack_hi || sp < g.stack_lo.saturating_add(stack_need()) {
        return decline(Decline::Stack);
    }
    g.in_runtime.store(1, Ordering::Relaxed);
    let new_sp = sp - ENTRY_DROP;
    // SAFETY: [new_sp, new_sp + 8) lies in the G's stack, below its red zone, above
    // the room checked for; nothing of the interrupted code lives there.
    unsafe { (new_sp as *mut usize).write_unaligned(pc) };
    gregs[libc::REG_RSP as usize] = new_sp as i64;
    gregs[libc::REG_RIP as usize] = arch::mrt_async_preempt as *const () as usize as i64;
    true
}

/// Called by mrt_async_preempt on the preempted G's stack, with its registers saved:
/// parks the G on the global run queue (Go's gopreempt_m) and returns once it runs
/// again, maybe on another M.
pub extern "C" fn async_preempt_park() {
    super::no_unwind(|| {
        let gp = tls::getg();
        // SAFETY: the handler sent only a running user G here; it is ours.
        let g = unsafe { &*gp };
        g.preempt.store(false, Ordering::Relaxed);
        ASYNC_PREEMPTS.fetch_add(1, Ordering::Relaxed);
        g::mcall(Action::Preempt);
        compiler_fence(Ordering::SeqCst);
        // Back in the G's own code once the routine has restored its registers.
        g.in_runtime.store(0, Ordering::Relaxed);
    })
}

/// Passes a signal that is not ours to the handler the host had for it.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: OLD[sig] is read-only once our handler is installed for sig.
    let old = unsafe { &(*OLD.0.get())[sig as usize] };
    let h = old.sa_sigaction;
    if h == libc::SIG_IGN {
        return;
    }
    if h == libc::SIG_DFL {
        // SIGURG's default is to ignore it; for any other signal the host chose,
        // the default action happens as it would have without libmrt.
        if sig != libc::SIGURG && sig != libc::SIGCHLD && sig != libc::SIGWINCH {
            // SAFETY: plain signal calls.
            unsafe {
                let mut dfl: libc::sigaction = core::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, ptr::null_mut());
                libc::raise(sig);
            }
        }
        return;
    }
    // SAFETY: `old` is the host's own disposition for `sig` (not default or ignore),
    // saved when ours was installed; we are in that signal's handler.
    unsafe { super::signal::call_host_handler(old, sig, info, ctx) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preempt_signal_values() {
        assert_eq!(check_signal(0).ok(), Some(libc::SIGURG));
        assert_eq!(check_signal(-1).ok(), Some(0));
        assert_eq!(check_signal(libc::SIGUSR2).ok(), Some(libc::SIGUSR2));
        assert_eq!(check_signal(libc::SIGRTMIN()).ok(), Some(libc::SIGRTMIN()));
        for bad in [
            -2,
            65,
            1000,
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            32,
            33,
        ] {
            assert!(check_signal(bad).is_err(), "{bad}");
        }
    }
}
