//! Signals: the M's alternate signal stack, and the fault handler that reports a
//! stack overflow (a fault in the guard region of a G's stack or of an M's g0) and
//! chains every other fault to the handler the host had before libmrt.
//!
//! The handler is installed lazily by rt_init with SA_ONSTACK, for SIGSEGV and SIGBUS.
//! It reads the current G through the TLS slot, which is async-signal-safe, and
//! allocates nothing.

use core::cell::UnsafeCell;
use core::ptr;
use std::sync::Once;

use super::tls;

const FAULT_SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The host's handlers, saved once before ours is installed and read only after.
struct OldActions(UnsafeCell<[libc::sigaction; 2]>);
// SAFETY: written once inside INSTALL before the handler can run, read-only after.
unsafe impl Sync for OldActions {}
// SAFETY: sigaction is plain data; all-zero is SIG_DFL with no flags.
static OLD: OldActions = OldActions(UnsafeCell::new(unsafe { core::mem::zeroed() }));
static INSTALL: Once = Once::new();

/// Installs the fault handler (once per process).
pub fn install_fault_handler() {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with valid structs; OLD is written before any fault can
        // reach our handler because sigaction stores it before switching.
        unsafe {
            let old = &mut *OLD.0.get();
            for (i, &sig) in FAULT_SIGNALS.iter().enumerate() {
                let mut sa: libc::sigaction = core::mem::zeroed();
                sa.sa_sigaction = fault_handler as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, ptr::null(), &mut old[i]);
                libc::sigaction(sig, &sa, ptr::null_mut());
            }
        }
    });
}

extern "C" fn fault_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let g = tls::getg();
    if !g.is_null() {
        // SAFETY: a non-null slot points at a live G whose M is live.
        unsafe {
            let m = (*g).m;
            let g0 = (*m).g0;
            if (*g0).in_guard(addr) {
                report_overflow(b"g0 of M ", (*m).id, addr);
            }
            if g != g0 && (*g).in_guard(addr) {
                report_overflow(b"goroutine ", (*g).goid, addr);
            }
        }
    }
    chain(sig, info, ctx);
}

/// Calls the handler the host had installed for `sig`, in the shape its flags say
/// (three arguments with SA_SIGINFO, one without).
///
/// # Safety
/// `old` is the host's saved disposition for `sig`, whose `sa_sigaction` is a handler
/// (neither SIG_DFL nor SIG_IGN), and the caller runs in that signal's handler with
/// the kernel's `info` and `ctx`.
pub(crate) unsafe fn call_host_handler(
    old: &libc::sigaction,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let h = old.sa_sigaction;
    // SAFETY: as the caller promises, h is a handler the host installed for sig with
    // these flags, so it has the shape they say.
    unsafe {
        if old.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                core::mem::transmute(h);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = core::mem::transmute(h);
            f(sig);
        }
    }
}

/// Passes a fault on as if libmrt were not there.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let i = FAULT_SIGNALS.iter().position(|&s| s == sig).unwrap_or(0);
    // SAFETY: OLD is read-only once the handler is installed.
    let old = unsafe { &(*OLD.0.get())[i] };
    let h = old.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // Restore the default action and let the fault happen again (or, for a
        // signal sent by kill, raise it again): the process dies as it would have.
        // SAFETY: plain signal calls.
        unsafe {
            let mut dfl: libc::sigaction = core::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, ptr::null_mut());
            if (*info).si_code <= 0 {
                libc::raise(sig);
            }
        }
        return;
    }
    // SAFETY: `old` is the host's own disposition for `sig` (not default or ignore),
    // saved when ours was installed; we are in that signal's handler.
    unsafe { super::signal::call_host_handler(old, sig, info, ctx) };
}

/// The host's SIGQUIT action, saved once before the dump handler is installed.
struct OldAction(UnsafeCell<libc::sigaction>);
// SAFETY: written once inside QUIT_INSTALL before the handler can run, read-only after.
unsafe impl Sync for OldAction {}
// SAFETY: sigaction is plain data; all-zero is SIG_DFL with no flags.
static OLD_QUIT: OldAction = OldAction(UnsafeCell::new(unsafe { core::mem::zeroed() }));
static QUIT_INSTALL: Once = Once::new();

/// RT_CFG_SIGQUIT_DUMP / MRT_DEBUG=sigquit: installs (once per process) a SIGQUIT
/// handler that writes the goroutine dump to stderr, then passes the signal on to the
/// handler the host had: its own function, or the default action (the process ends
/// with a core dump, as Go's does), or nothing if it ignored SIGQUIT.
pub fn install_sigquit_dump() {
    QUIT_INSTALL.call_once(|| {
        // SAFETY: sigaction with valid structs; OLD_QUIT is written before our
        // handler is installed, so before it can run.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = quit_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGQUIT, ptr::null(), OLD_QUIT.0.get());
            libc::sigaction(libc::SIGQUIT, &sa, ptr::null_mut());
        }
    });
}

extern "C" fn quit_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: errno is saved and restored around the dump's system calls, so the
    // interrupted code sees its own.
    let errno = unsafe { *libc::__errno_location() };
    {
        // A broken stderr loses the dump, never kills the host (see NoSigpipe; its
        // calls are async-signal-safe).
        let _nopipe = NoSigpipe::new();
        super::write_stderr(b"SIGQUIT: quit\n");
        super::dump::dump(&mut super::dump::FdOut::new(2), super::dump::Symbols::Yes);
    }
    // SAFETY: __errno_location points at this thread's errno, always valid to write;
    // the interrupted code gets back the value it had.
    unsafe { *libc::__errno_location() = errno };
    // SAFETY: OLD_QUIT is read-only once the handler is installed.
    let old = unsafe { &*OLD_QUIT.0.get() };
    let h = old.sa_sigaction;
    if h == libc::SIG_IGN {
        return;
    }
    if h == libc::SIG_DFL {
        // The default action, as if we were not there: it takes effect when the
        // handler returns (SIGQUIT is blocked while it runs).
        // SAFETY: plain signal calls.
        unsafe {
            let mut dfl: libc::sigaction = core::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, ptr::null_mut());
            libc::raise(sig);
        }
        return;
    }
    // SAFETY: `old` is the host's own disposition for `sig` (not default or ignore),
    // saved when ours was installed; we are in that signal's handler.
    unsafe { super::signal::call_host_handler(old, sig, info, ctx) };
}

/// Writes "libmrt: fatal error: stack overflow on <what><id> ..." and aborts.
fn report_overflow(what: &[u8], id: i64, addr: usize) -> ! {
    let mut buf = [0u8; 160];
    let mut n = 0;
    let mut put = |b: &[u8]| {
        for &c in b {
            if n < buf.len() {
                buf[n] = c;
                n += 1;
            }
        }
    };
    put(b"libmrt: fatal error: stack overflow on ");
    put(what);
    put(fmt_dec(id).as_bytes_trimmed());
    put(b" (fault address 0x");
    put(fmt_hex(addr as u64).as_bytes_trimmed());
    put(b")\n");
    super::write_stderr(&buf[..n]);
    // SAFETY: abort is async-signal-safe and never returns.
    unsafe { libc::abort() }
}

/// A number formatted into a fixed buffer (no allocation in a signal handler).
struct Digits {
    buf: [u8; 24],
    start: usize,
}

impl Digits {
    fn as_bytes_trimmed(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn fmt_dec(v: i64) -> Digits {
    let mut d = Digits {
        buf: [0; 24],
        start: 24,
    };
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        d.start -= 1;
        d.buf[d.start] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        d.start -= 1;
        d.buf[d.start] = b'-';
    }
    d
}

fn fmt_hex(mut u: u64) -> Digits {
    let mut d = Digits {
        buf: [0; 24],
        start: 24,
    };
    loop {
        d.start -= 1;
        d.buf[d.start] = b"0123456789abcdef"[(u & 15) as usize];
        u >>= 4;
        if u == 0 {
            break;
        }
    }
    d
}

/// The base of the calling thread's alternate signal stack, if it has one.
pub fn current_altstack() -> Option<usize> {
    // SAFETY: querying only.
    unsafe {
        let mut old: libc::stack_t = core::mem::zeroed();
        libc::sigaltstack(ptr::null(), &mut old);
        if old.ss_flags & libc::SS_DISABLE != 0 {
            None
        } else {
            Some(old.ss_sp as usize)
        }
    }
}

pub fn has_altstack() -> bool {
    current_altstack().is_some()
}

/// Installs [lo, lo+size) as the thread's signal stack unless it already has one.
pub fn install_altstack_if_none(lo: usize, size: usize) {
    if !has_altstack() {
        install_altstack(lo, size);
    }
}

/// Installs [lo, lo+size) as the thread's signal stack.
pub fn install_altstack(lo: usize, size: usize) {
    let st = libc::stack_t {
        ss_sp: lo as *mut libc::c_void,
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: the region is a live mapping owned by this thread's M.
    unsafe { libc::sigaltstack(&st, ptr::null_mut()) };
}

/// Removes the thread's signal stack if it is the one at `lo` (ours).
pub fn disable_altstack_if(lo: Option<usize>) {
    let Some(lo) = lo else { return };
    if current_altstack() == Some(lo) {
        let st = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling this thread's own signal stack.
        unsafe { libc::sigaltstack(&st, ptr::null_mut()) };
    }
}

/// The mask every M runs with: `base` less the synchronous fault signals and the
/// preemption signal (`preempt_sig`, 0 for none), which must reach Ms running Gs.
pub fn m_sigmask(mut base: libc::sigset_t, preempt_sig: libc::c_int) -> libc::sigset_t {
    for s in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
        // SAFETY: base is a valid sigset.
        unsafe { libc::sigdelset(&mut base, s) };
    }
    if preempt_sig > 0 {
        // SAFETY: base is a valid sigset.
        unsafe { libc::sigdelset(&mut base, preempt_sig) };
    }
    base
}

/// The first 64 bits of a signal set: the whole mask the kernel keeps for a thread
/// (signals 1..=64), as a ucontext's uc_sigmask starts.
pub fn mask_word(set: &libc::sigset_t) -> u64 {
    // SAFETY: glibc's sigset_t is an array of unsigned longs, signal n at bit n-1.
    unsafe {
        (set as *const libc::sigset_t)
            .cast::<u64>()
            .read_unaligned()
    }
}

/// [`mask_word`] of the calling thread's current mask.
pub fn thread_mask_word() -> u64 {
    // SAFETY: querying this thread's mask into a valid sigset.
    unsafe {
        let mut cur: libc::sigset_t = core::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut cur);
        mask_word(&cur)
    }
}

/// SIGPIPE blocked on the calling thread while it lives; on drop, a SIGPIPE that
/// became pending meanwhile (raised by our write to a broken pipe) is taken back
/// and the old mask restored. One that was pending before is left alone. Held around
/// every write to a host's fd (rt_dump, the execution trace's file): a pipe or socket
/// whose reader is gone must give an error, not kill the host.
pub(crate) struct NoSigpipe {
    set: libc::sigset_t,
    old: libc::sigset_t,
    was_pending: bool,
}

impl NoSigpipe {
    pub(crate) fn new() -> NoSigpipe {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset before use;
        // pthread_sigmask and sigpending only write the sets we pass.
        unsafe {
            let mut g: NoSigpipe = core::mem::zeroed();
            libc::sigemptyset(&mut g.set);
            libc::sigaddset(&mut g.set, libc::SIGPIPE);
            libc::pthread_sigmask(libc::SIG_BLOCK, &g.set, &mut g.old);
            let mut pend: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut pend);
            libc::sigpending(&mut pend);
            g.was_pending = libc::sigismember(&pend, libc::SIGPIPE) == 1;
            g
        }
    }
}

impl Drop for NoSigpipe {
    fn drop(&mut self) {
        // SAFETY: as in new; sigtimedwait with a zero timeout only dequeues a
        // pending SIGPIPE (blocked here), never waits.
        unsafe {
            if !self.was_pending {
                let mut pend: libc::sigset_t = core::mem::zeroed();
                libc::sigemptyset(&mut pend);
                libc::sigpending(&mut pend);
                if libc::sigismember(&pend, libc::SIGPIPE) == 1 {
                    let zero = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    libc::sigtimedwait(&self.set, core::ptr::null_mut(), &zero);
                }
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, core::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_without_allocation() {
        assert_eq!(fmt_dec(0).as_bytes_trimmed(), b"0");
        assert_eq!(fmt_dec(-42).as_bytes_trimmed(), b"-42");
        assert_eq!(fmt_dec(i64::MAX).as_bytes_trimmed(), b"9223372036854775807");
        assert_eq!(fmt_hex(0xdead_beef).as_bytes_trimmed(), b"deadbeef");
    }
}
