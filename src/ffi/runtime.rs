//! Runtime-wide calls: rt_init, rt_shutdown, rt_gomaxprocs, version and error
//! strings, rt_getstats(_ex), rt_dump.

use core::ffi::{c_char, c_int};
use core::mem::{offset_of, size_of};

use super::consts::RT_STATS_EXACT;
use super::errors::{self, *};
use super::types::{rt_config, rt_stats};
use super::{boundary, code, rc, write_sized};
use crate::runtime::{self, dump, init, p, stats, SCHED};

/// Initialises the runtime: creates the Ps and installs the fault handler.
///
/// `cfg` may be NULL for defaults; `cfg->size` must be set (at least up to
/// `maxprocs`). Callable from any thread context. Any other call made before
/// rt_init initialises the runtime with defaults on its own; after rt_shutdown, and
/// in the child of fork(), calls that need the runtime return RT_ESHUTDOWN until
/// rt_init runs again. Captures the calling thread's signal mask for every M.
///
/// Errors: RT_EALREADY if the runtime already runs (a bad `cfg` is checked first);
/// RT_EINVAL for a bad `cfg`
/// (size 0, maxprocs < 0 or > 1024, g0_stack_size or g_stack_size above 1 TiB,
/// (size_t)-1 included, non-zero flags, a bad preempt_signal); RT_ENOMEM.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_init(cfg: *const rt_config) -> c_int {
    boundary(|| {
        let mut req = init::Request::default();
        if !cfg.is_null() {
            // SAFETY: the caller passes a valid rt_config of at least cfg->size bytes.
            let size = unsafe { (*cfg).size } as usize;
            if size < offset_of!(rt_config, maxprocs) + size_of::<i32>() {
                return RT_EINVAL;
            }
            // SAFETY: read only the fields the caller's size covers.
            unsafe {
                req.maxprocs = (*cfg).maxprocs;
                if size >= offset_of!(rt_config, g0_stack_size) + size_of::<usize>() {
                    req.g0_stack_size = (*cfg).g0_stack_size;
                }
                if size >= offset_of!(rt_config, g_stack_size) + size_of::<usize>() {
                    req.g_stack_size = (*cfg).g_stack_size;
                }
                if size >= offset_of!(rt_config, flags) + size_of::<u32>() {
                    req.flags = (*cfg).flags;
                }
                if size >= offset_of!(rt_config, preempt_signal) + size_of::<i32>() {
                    req.preempt_signal = (*cfg).preempt_signal;
                }
            }
        }
        rc(init::init(req))
    })
}

/// Stops the runtime: waits (timeout_ns < 0: forever) for every G to finish, wakes and
/// joins every runtime-created M, frees Ps, stacks and queues. Afterwards rt_init may
/// run again. Foreign threads adopted by rt_acquirep stay Ms but lose their P.
///
/// The timeout bounds the wait for Gs; Ms on their way out get up to two more
/// seconds, so RT_ETIMEDOUT means a G still runs or an M is still busy in its start
/// function (the runtime then keeps running).
///
/// Contexts: a foreign thread or an adopted M. Errors: RT_EPERM from a G or from a
/// runtime-created M's own thread (it would wait for itself); RT_ETIMEDOUT;
/// RT_ESHUTDOWN if it was not running.
#[no_mangle]
pub extern "C" fn rt_shutdown(timeout_ns: i64) -> c_int {
    boundary(|| rc(init::shutdown(timeout_ns)))
}

/// n > 0: sets the number of Ps and returns the previous number. Growing takes effect
/// at once; shrinking lazily: idle surplus Ps and those whose M is in a system call
/// die now, running ones when their M releases them (rt_releasep then returns a dead
/// P); the timers of every surplus P move to P0 now. n <= 0: returns the number only.
///
/// Any context. Errors: RT_EINVAL for n > 1024; RT_ENOMEM; RT_ESHUTDOWN.
#[no_mangle]
pub extern "C" fn rt_gomaxprocs(n: c_int) -> c_int {
    boundary(|| {
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        let mut s = SCHED.lock();
        if let Err(e) = s.check_running() {
            return code(e);
        }
        if n <= 0 {
            return s.gomaxprocs;
        }
        let r = p::procresize(&mut s, n);
        drop(s);
        // A shrink may have moved Gs queued on idle or host-held Ps to the global
        // queue: someone must run them.
        if runtime::sched::GLOBRUNQ_SIZE.load(core::sync::atomic::Ordering::Acquire) > 0 {
            runtime::sched::wakep_global();
        }
        match r {
            Ok(old) => old,
            Err(e) => code(e),
        }
    })
}

/// The library version, "MAJOR.MINOR.PATCH" (a static string). Any context.
#[no_mangle]
pub extern "C" fn rt_version() -> *const c_char {
    boundary(|| c"0.1.0".as_ptr())
}

/// A static description of an error code ("unknown error" for others). Any context.
#[no_mangle]
pub extern "C" fn rt_strerror(err: c_int) -> *const c_char {
    boundary(|| errors::strerror(err).as_ptr())
}

/// The constant's name of an error code, e.g. "RT_EINVAL" ("unknown error" for
/// others). Any context.
#[no_mangle]
pub extern "C" fn rt_err_name(err: c_int) -> *const c_char {
    boundary(|| errors::err_name(err).as_ptr())
}

/// Writes a snapshot of the scheduler into `out`; the caller sets
/// `out->size = sizeof(rt_stats)`. Any context.
///
/// Errors: RT_EINVAL for NULL or a size too small for `maxprocs`; RT_ESHUTDOWN.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_getstats(out: *mut rt_stats) -> c_int {
    // SAFETY: the caller's contract is this function's.
    unsafe { rt_getstats_ex(out, 0) }
}

/// rt_getstats with flags: 0 is rt_getstats; RT_STATS_EXACT counts
/// `stack_resident_bytes` exactly with mincore over every G stack instead of the
/// cheap estimate (time proportional to the number of stacks, but without holding
/// any scheduler lock: Gs keep running meanwhile). Any context.
///
/// Errors: RT_EINVAL for NULL, a size too small for `maxprocs`, or unknown flags;
/// RT_ESHUTDOWN.
///
/// # Safety
/// As rt_getstats.
#[no_mangle]
pub unsafe extern "C" fn rt_getstats_ex(out: *mut rt_stats, flags: c_int) -> c_int {
    boundary(|| {
        if out.is_null() || flags & !RT_STATS_EXACT != 0 {
            return RT_EINVAL;
        }
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        let x = stats::snapshot(flags & RT_STATS_EXACT != 0);
        let st = rt_stats {
            size: core::mem::size_of::<rt_stats>() as u32,
            maxprocs: x.maxprocs,
            idle_procs: x.idle_procs,
            threads: x.threads,
            idle_threads: x.idle_threads,
            spinning_threads: x.spinning_threads,
            goroutines: x.goroutines,
            runnable: x.runnable,
            global_runq: x.global_runq,
            gs_created: x.gs_created,
            gs_exited: x.gs_exited,
            switches: x.switches,
            steals: x.steals,
            parks: x.parks,
            handoffs: x.handoffs,
            stack_reserved_bytes: x.stack_reserved_bytes,
            stack_resident_bytes: x.stack_resident_bytes,
        };
        // SAFETY: the caller passes a struct of at least out->size bytes.
        rc(unsafe { write_sized(out, &st, offset_of!(rt_stats, maxprocs) + 4) })
    })
}

/// Writes the state of every M, P and G, human-readable, to file descriptor `fd`:
/// the scheduler's summary, one line per P and per M (with the call stack that
/// created it), then every live G grouped by identical stacks, as Go's
/// `debug=1` goroutine profile: "N goroutines [wait reason]:", one line per G (id,
/// wait reason and how long it has waited, wired thread, rt_go_ex name, the G that
/// created it and the call site), the start function and a backtrace unwound by
/// frame pointers from the G's saved context (a G running on another thread is
/// listed without one). Host functions are named when the dynamic linker knows them
/// (link executables with -rdynamic, compile with -fno-omit-frame-pointer for full
/// stacks), else shown as module+offset for addr2line.
///
/// Any context, a signal handler included: it allocates nothing and only tries the
/// runtime's locks (a thread holding one tries once; others retry for ~100 ms), and
/// a part whose lock it cannot get is replaced by a line saying so. One exception:
/// naming addresses calls dladdr, which takes the dynamic linker's lock, so a
/// handler that interrupted dlopen/dlclose/dladdr on its own thread would hang.
/// A pipe or socket whose reader is gone is an unwritable fd: the SIGPIPE the write
/// raises is blocked and taken back, so it never reaches the host (a SIGPIPE pending
/// before stays pending).
///
/// Errors: RT_EINVAL for a negative or unwritable fd.
#[no_mangle]
pub extern "C" fn rt_dump(fd: c_int) -> c_int {
    boundary(|| {
        if fd < 0 {
            return RT_EINVAL;
        }
        let _guard = runtime::signal::NoSigpipe::new();
        let mut out = dump::FdOut::new(fd);
        dump::dump(&mut out, dump::Symbols::Yes);
        if out.failed {
            return RT_EINVAL;
        }
        RT_OK
    })
}

/// Starts the execution trace: scheduler events (Gs created, running, parked with
/// their wait reason, readied, preempted, system calls, steals, netpoll, timers) are
/// written to the file `path` (created or truncated) as Chrome trace-event JSON,
/// which ui.perfetto.dev and chrome://tracing open, until rt_trace_stop. One lane per
/// M and one per P; a flow arrow goes from each wake to the G's next run.
/// `$MRT_TRACE=path` traces a whole run (from the first rt_init of the process to
/// exit). Events are buffered per M and written a buffer at a time. Any context.
///
/// fork(): the child does not inherit a running trace: tracing is off there and the
/// parent's buffered events are not written by the child (the parent's file is the
/// parent's alone); the child may start its own trace after its rt_init.
///
/// Errors: RT_EINVAL for a NULL path or one that cannot be created or written;
/// RT_EALREADY if a trace is running; RT_EAGAIN if no file descriptor is left;
/// RT_ENOMEM; RT_ESHUTDOWN in a fork child before its rt_init.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rt_trace_start(path: *const c_char) -> c_int {
    boundary(|| {
        if path.is_null() {
            return RT_EINVAL;
        }
        // SAFETY: a NUL-terminated string (our # Safety).
        let p = unsafe { core::ffi::CStr::from_ptr(path) };
        if p.is_empty() {
            return RT_EINVAL;
        }
        rc(runtime::trace::start(p))
    })
}

/// Stops the execution trace: every M's buffered events are written, then the lane
/// names and the end of the JSON document, and the file is closed. Any context.
///
/// Errors: RT_EINVAL if no trace is running, or if writing the file failed (the
/// trace is stopped and the file closed either way); a FIFO whose reader is gone is
/// such a file: the SIGPIPE the write raises is blocked and taken back, as in rt_dump.
/// RT_ENOMEM if memory ran out while converting (stopped and closed all the same,
/// the JSON cut short).
#[no_mangle]
pub extern "C" fn rt_trace_stop() -> c_int {
    boundary(|| rc(runtime::trace::stop()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_string_matches_constants() {
        // SAFETY: rt_version returns a static C string.
        let v = unsafe { core::ffi::CStr::from_ptr(super::rt_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
