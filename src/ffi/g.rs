//! G calls: rt_go, rt_go_ex, rt_gosched, rt_goexit, rt_goid, rt_getg, rt_park, rt_ready,
//! rt_lockosthread, rt_unlockosthread, rt_entersyscall, rt_exitsyscall, rt_main, rt_main_ex.

use core::ffi::{c_char, c_int, c_void};
use core::mem::{offset_of, size_of};

use super::consts::RT_G_ASYNC_PREEMPT;
use super::errors::*;
use super::types::{rt_fn, rt_g, rt_go_attr, rt_parkfn};
use super::{boundary, code, rc};
use crate::runtime::g;
use crate::runtime::greg;
use crate::runtime::{self, sched, syscall};

/// Reads a host's rt_go_attr (NULL: the defaults) for rt_go_ex and rt_main_ex.
/// RT_EINVAL for a size that does not cover `flags` or unknown flag bits.
///
/// # Safety
/// `attr` is NULL or points at least `attr->size` readable bytes; `attr->name` (if
/// the size covers it) is NULL or a NUL-terminated string. The name is borrowed: the
/// GAttr must be used before the host's call returns.
unsafe fn read_attr<'a>(attr: *const rt_go_attr, caller: usize) -> Result<g::GAttr<'a>, c_int> {
    let mut ga = g::GAttr {
        caller,
        ..g::GAttr::default()
    };
    if attr.is_null() {
        return Ok(ga);
    }
    // SAFETY: the caller passes at least attr->size readable bytes.
    let size = unsafe { (*attr).size } as usize;
    if size < offset_of!(rt_go_attr, flags) + size_of::<u32>() {
        return Err(RT_EINVAL);
    }
    // SAFETY: flags is within the caller's size.
    let flags = unsafe { (*attr).flags };
    if flags & !RT_G_ASYNC_PREEMPT != 0 {
        return Err(RT_EINVAL);
    }
    ga.async_preempt = flags & RT_G_ASYNC_PREEMPT != 0;
    if size >= offset_of!(rt_go_attr, name) + size_of::<*const c_char>() {
        // SAFETY: name is within the caller's size; NULL or a C string.
        let name = unsafe { (*attr).name };
        if !name.is_null() {
            // Only what is kept is read (one byte more tells that it was cut).
            // SAFETY: the caller's `name` is a NUL-terminated string (this function's
            // # Safety); strnlen stops at the NUL or after G_NAME_MAX + 1 bytes,
            // whichever comes first, so it reads only that string.
            let n = unsafe { libc::strnlen(name, g::G_NAME_MAX + 1) };
            // SAFETY: the n bytes before the NUL (or the limit) are readable.
            ga.name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), n) };
        }
    }
    Ok(ga)
}

/// Starts a new G running fn(arg) and returns its id (> 0), or an error.
///
/// From a G: the new G goes to runnext of the current P (it runs when the caller
/// next yields or blocks, Go's newproc). From an M's g0 or a foreign thread: to the
/// global queue. Either way an idle P is woken if there is one. The G's stack
/// (rt_config.g_stack_size) comes from a cache when it first runs.
///
/// Any context. Errors: RT_EINVAL for a NULL fn; RT_ENOMEM when no stack can be
/// mapped; RT_EAGAIN (RT_ENOMEM) from outside a G while the runtime has no M and
/// can make no thread, not even sysmon's: nothing is made; RT_ESHUTDOWN.
#[no_mangle]
pub extern "C" fn rt_go(f: rt_fn, arg: *mut c_void) -> i64 {
    // Where the host called from, for rt_dump's "created by" line.
    let caller = crate::runtime::arch::caller_pc();
    boundary(|| {
        if f.is_none() {
            return RT_EINVAL as i64;
        }
        if let Err(e) = runtime::ensure_running() {
            return code(e) as i64;
        }
        let ga = g::GAttr {
            caller,
            ..g::GAttr::default()
        };
        match sched::newproc_attr(f, arg, &ga) {
            Ok(id) => id,
            Err(e) => code(e) as i64,
        }
    })
}

/// rt_go with attributes: starts a new G running fn(arg) and returns its id (> 0) or
/// an error. `attr` NULL is rt_go. `attr->size` = sizeof(rt_go_attr) (a smaller size
/// that covers `flags` is accepted: the name is then absent).
///
/// RT_G_ASYNC_PREEMPT: after the G has kept its P for a whole 10 ms time slice,
/// sysmon interrupts it with rt_config.preempt_signal (SIGURG by default) and, if the
/// interrupted instruction is a safe place, the G is parked on the global run queue
/// with every register saved (general, flags, x87, MXCSR, SSE/AVX/AVX-512 state) and
/// later resumes exactly there, maybe on another M. The G's code must then keep this
/// contract between any two instructions, not only at calls:
///  - it holds no lock that another G or thread could wait for (a mutex of its own,
///    a spinlock, a lock inside a library it called: those of malloc, stdio and the
///    dynamic linker are safe only because the G is never stopped inside libc or
///    ld.so);
///  - it keeps no thread-local address (errno's included) and assumes nothing about
///    the OS thread it runs on, unless wired with rt_lockosthread;
///  - it does not run on a stack of its own (a coroutine switch inside the G): the G
///    is only stopped while its stack pointer lies in its libmrt stack.
///
/// It is never stopped inside libmrt (any rt_* call, its own start and exit), the C
/// library or the dynamic linker, nor while a signal handler of the host runs on it
/// or the host blocked signals in its thread (the interrupted signal mask must be the
/// M's usual one), nor when its stack lacks room for the saved state (a few KiB);
/// then the signal does nothing and sysmon tries again at its next look. Without the
/// flag (and with preempt_signal -1, MRT_DEBUG=asyncpreemptoff, or under valgrind,
/// where asynchronous preemption is off) a G is preempted only at calls into libmrt
/// and rt_checkpoint. The handler is installed when the first such G is made; a
/// signal that is not libmrt's goes to the handler the host had before.
///
/// Any context. Errors: as rt_go; RT_EINVAL for a bad size or unknown flag bits.
///
/// # Safety
/// `attr` is NULL or points at least `attr->size` readable bytes; `attr->name` (if
/// the size covers it) is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rt_go_ex(f: rt_fn, arg: *mut c_void, attr: *const rt_go_attr) -> i64 {
    let caller = crate::runtime::arch::caller_pc();
    boundary(|| {
        // SAFETY: rt_go_ex's # Safety is read_attr's.
        let ga = match unsafe { read_attr(attr, caller) } {
            Ok(ga) => ga,
            Err(rc) => return rc as i64,
        };
        if f.is_none() {
            return RT_EINVAL as i64;
        }
        if let Err(e) = runtime::ensure_running() {
            return code(e) as i64;
        }
        if ga.async_preempt {
            runtime::preempt::enable();
        }
        match sched::newproc_attr(f, arg, &ga) {
            Ok(id) => id,
            Err(e) => code(e) as i64,
        }
    })
}

/// G: yields the P to other runnable Gs; the caller goes to the tail of its P's
/// queue (Go's goyield) and may resume on another M. M's g0 or foreign thread:
/// sched_yield(2).
#[no_mangle]
#[unsafe(naked)]
pub extern "C" fn rt_gosched() {
    // The switch's own return: see return_by_jump (the host's caller of one G is not
    // the other G's).
    crate::runtime::arch::return_by_jump!(gosched_body)
}

/// rt_gosched's work.
extern "C" fn gosched_body() {
    if sched::gosched_fast() {
        return;
    }
    boundary(|| {
        if g::curg().is_null() {
            // SAFETY: no memory effects.
            unsafe { libc::sched_yield() };
        } else {
            sched::gosched();
        }
    })
}

/// G: a preemption point (what an interpreter calls at loop back-edges and calls).
/// If sysmon marked the calling G for preemption (it has run for a whole 10 ms time
/// slice without giving up its P), the G goes to the global run queue, other Gs get
/// the P, and 1 is returned once it runs again; otherwise returns 0 at once (a load
/// and a compare). M's g0 or foreign thread: 0.
#[no_mangle]
pub extern "C" fn rt_checkpoint() -> c_int {
    if !sched::preempt_requested() {
        return 0;
    }
    checkpoint_slow()
}

/// rt_checkpoint's marked path, out of line so that the fast path saves no register.
#[cold]
#[inline(never)]
fn checkpoint_slow() -> c_int {
    boundary(|| c_int::from(sched::checkpoint()))
}

/// G: ends the calling G now (it never returns; a G wired with rt_lockosthread
/// takes a runtime-created M's thread with it). Elsewhere: does nothing.
#[no_mangle]
pub extern "C" fn rt_goexit() {
    boundary(|| {
        if !g::curg().is_null() {
            g::goexit1();
        }
    })
}

/// The calling G's id; 0 outside a G.
#[no_mangle]
pub extern "C" fn rt_goid() -> i64 {
    boundary(|| {
        let gp = g::curg();
        if gp.is_null() {
            0
        } else {
            // SAFETY: the running G.
            unsafe { (*gp).goid }
        }
    })
}

/// The calling G; NULL outside a G. The value is a handle, not an address: hosts
/// compare it and pass it to rt_ready, never dereference it. The handle of a G that
/// exited is never that of a later G.
#[no_mangle]
pub extern "C" fn rt_getg() -> *mut rt_g {
    boundary(|| {
        let gp = g::curg();
        if gp.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: the running G, ours; its handle was set before it first ran.
        unsafe { (*gp).handle as *mut rt_g }
    })
}

/// gopark: marks the calling G waiting, switches to its M's g0 and calls
/// unlock(g, arg) there (unlock may be NULL); if unlock returns false the G resumes
/// at once. Otherwise returns after rt_ready(g) made it runnable again, maybe on
/// another M. unlock runs on g0: it must not block or call G-only functions, and
/// the M's P is the scheduler's there (rt_releasep returns NULL, rt_schedule
/// RT_EPERM).
///
/// Context: G. Errors: RT_EPERM outside a G.
#[no_mangle]
pub extern "C" fn rt_park(unlock: rt_parkfn, arg: *mut c_void) -> c_int {
    boundary(|| {
        if g::curg().is_null() {
            return RT_EPERM;
        }
        // SAFETY: rt_g is opaque: a callback taking an rt_g * and one taking a void *
        // have the same ABI, and the runtime passes it the handle rt_getg gives.
        let f = unsafe { core::mem::transmute::<rt_parkfn, g::HostParkFn>(unlock) };
        g::set_wait(
            g::curg(),
            g::WaitReason::HostPark,
            f.map_or(0, |f| f as usize as u64),
        );
        sched::gopark_host(f, arg);
        // TSan: after what its waker did before rt_ready (a no-op without it).
        crate::runtime::sanitizer::acquire(crate::runtime::sanitizer::Edge::Park, g::curg().cast());
        RT_OK
    })
}

/// goready: makes G `g`, parked by rt_park, runnable (on runnext of the caller's P
/// if the caller holds one, else on the global queue) and wakes an idle P.
///
/// Any context. Errors: RT_EINVAL if `g` is NULL, not a G handle (from rt_getg or a
/// park callback) of a live G, or not parked by rt_park: a G that runs or is queued,
/// and a G waiting inside the library (a channel operation, select, rt_sleep,
/// rt_poll_fd, rt_mutex, rt_wg), which only that wait's own wake-up ends. The handle
/// is checked in a runtime table; nothing it points at is read.
#[no_mangle]
pub extern "C" fn rt_ready(g: *mut rt_g) -> c_int {
    boundary(|| match greg::lookup(g.cast()) {
        Some(gp) => {
            crate::runtime::sanitizer::release(crate::runtime::sanitizer::Edge::Park, gp.cast());
            rc(sched::ready_host(gp))
        }
        None => RT_EINVAL,
    })
}

/// Wires the calling G to its M: the G runs only on this M and the M runs only this
/// G until as many rt_unlockosthread calls. Nests. A wired G that exits takes a
/// runtime-created M's thread with it (unless the M runs a host's
/// rt_schedule(RT_SCHED_FOREVER): then it is only unwired).
///
/// Context: G. Errors: RT_EPERM outside a G.
#[no_mangle]
pub extern "C" fn rt_lockosthread() -> c_int {
    boundary(|| rc(g::lockosthread()))
}

/// Undoes one rt_lockosthread (nothing if the G is not wired).
///
/// Context: G. Errors: RT_EPERM outside a G.
#[no_mangle]
pub extern "C" fn rt_unlockosthread() -> c_int {
    boundary(|| rc(g::unlockosthread()))
}

/// G: about to block in the OS. The P stays attached for a fast return, but sysmon
/// hands it to another M if the call lasts longer than a scheduler tick (20 us to
/// 10 ms), so other Gs keep running. Pair it with rt_exitsyscall.
///
/// Context: G. Errors: RT_EPERM outside a G; RT_EALREADY if already in a syscall.
#[no_mangle]
pub extern "C" fn rt_entersyscall() -> c_int {
    boundary(|| rc(syscall::entersyscall()))
}

/// G: back from the OS: takes the old P back, or another idle one, or queues the G
/// until a P is free (the G may resume on another M).
///
/// Context: G. Errors: RT_EPERM outside a G; RT_EINVAL without rt_entersyscall.
#[no_mangle]
pub extern "C" fn rt_exitsyscall() -> c_int {
    boundary(|| rc(syscall::exitsyscall()))
}

/// Sleeps `ns` nanoseconds (<= 0: returns at once). A G parks on a timer of its P
/// and its M runs other Gs meanwhile; an M's g0 or a foreign thread sleeps with
/// nanosleep(2). Any context. Needs no file descriptors; a G whose timer cannot be
/// queued for lack of memory returns early instead. Errors: RT_ESHUTDOWN from a G
/// after rt_shutdown.
#[no_mangle]
pub extern "C" fn rt_sleep(ns: i64) -> c_int {
    boundary(|| {
        if !crate::runtime::g::curg().is_null() {
            if let Err(e) = runtime::ensure_running() {
                return code(e);
            }
        }
        rc(crate::runtime::sched::sleep(ns))
    })
}

// rt_poll_fd's bits are the runtime's (poll(2)'s) values.
const _: () = assert!(
    super::consts::RT_POLLIN == runtime::netpoll::POLLIN
        && super::consts::RT_POLLOUT == runtime::netpoll::POLLOUT
);

/// Waits until `fd` is ready for `events` (RT_POLLIN and/or RT_POLLOUT) or the
/// timeout passes (< 0: forever; 0: don't wait). A G parks on the runtime's netpoller
/// (epoll) and its M runs other Gs; any other thread blocks in poll(2). Returns the
/// ready events (> 0; errors and hang-ups report every requested event).
///
/// A G that may wait parks without looking first: a level already there is reported
/// through the poller, after a trip through the scheduler. So from a G, try the read
/// or write first and wait when it says EAGAIN.
///
/// One G at a time may wait for reading, and one for writing, on an fd. Closing the
/// fd does not wake a waiting G: use a timeout or wake it another way first.
///
/// A regular file is always ready, as poll(2) says.
///
/// Errors: RT_EINVAL for a negative, closed or unpollable fd, one of the poller's
/// own fds (an fd number the host does not own), or bad events (at once); RT_EAGAIN for timeout 0 with nothing ready; RT_ETIMEDOUT; RT_EBUSY if
/// another G already waits on the fd in that direction; RT_ENOMEM.
#[no_mangle]
pub extern "C" fn rt_poll_fd(fd: c_int, events: u32, timeout_ns: i64) -> c_int {
    boundary(
        || match crate::runtime::netpoll::poll_fd(fd, events, timeout_ns) {
            Ok(r) => r as c_int,
            Err(e) => code(e),
        },
    )
}

/// Runs fn(arg) as a G while the calling thread works as an M (with a P) until that
/// G returns; the thread runs other Gs meanwhile. A foreign thread is adopted first.
/// If one of those Gs wired itself to this thread (rt_lockosthread), rt_main returns
/// only once that G has unlocked or exited: it can run nowhere else.
///
/// Contexts: foreign thread, M's g0 holding no P. Errors: RT_EINVAL for a NULL fn;
/// RT_EPERM from a G; RT_EALREADY if the calling M holds a P; RT_ENOMEM;
/// RT_ESHUTDOWN (also if the runtime was shut down before the G returned).
#[no_mangle]
pub extern "C" fn rt_main(f: rt_fn, arg: *mut c_void) -> c_int {
    let caller = crate::runtime::arch::caller_pc();
    boundary(|| {
        if f.is_none() {
            return RT_EINVAL;
        }
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        let ga = g::GAttr {
            caller,
            ..g::GAttr::default()
        };
        rc(sched::rt_main(f, arg, &ga))
    })
}

/// rt_main with rt_go_ex's attributes for the main G: its name (shown by rt_dump and
/// the execution trace) and RT_G_ASYNC_PREEMPT (rt_go_ex's contract then applies to
/// it). `attr` NULL is rt_main.
///
/// Contexts and errors: as rt_main; RT_EINVAL also for a bad size or unknown flag
/// bits.
///
/// # Safety
/// `attr` is NULL or points at least `attr->size` readable bytes; `attr->name` (if
/// the size covers it) is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rt_main_ex(f: rt_fn, arg: *mut c_void, attr: *const rt_go_attr) -> c_int {
    let caller = crate::runtime::arch::caller_pc();
    boundary(|| {
        // SAFETY: rt_main_ex's # Safety is read_attr's.
        let ga = match unsafe { read_attr(attr, caller) } {
            Ok(ga) => ga,
            Err(rc) => return rc,
        };
        if f.is_none() {
            return RT_EINVAL;
        }
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        if ga.async_preempt {
            runtime::preempt::enable();
        }
        rc(sched::rt_main(f, arg, &ga))
    })
}
