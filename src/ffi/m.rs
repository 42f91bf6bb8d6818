//! M calls: rt_allocm, rt_m_launch, rt_m_free, rt_newm, rt_getm, rt_m_id,
//! rt_m_getinfo.

use core::ffi::{c_int, c_void};
use core::mem::offset_of;
use core::sync::atomic::Ordering;

use super::errors::*;
use super::types::{rt_fn, rt_m, rt_m_info, rt_p};
use super::{boundary, code, rc, write_sized};
use crate::runtime::m::{self, M};
use crate::runtime::{self, tls, SCHED};

/// Allocates an M not yet tied to a thread: its g0 stack (rt_config.g0_stack_size
/// usable bytes, guarded), its signal stack and bookkeeping; records `fn(arg)` as
/// its start function (fn may be NULL) and the creating call stack, and links it on
/// allm. If the calling M holds no P and `p` is non-NULL, `p` is borrowed for the
/// allocation and put back where it was (Go's allocm); it must then be idle.
///
/// Any context. Errors: RT_EINVAL for a NULL `out` or a `p` that is not a live P;
/// RT_EBUSY if a borrowed `p` is not idle; RT_ENOMEM; RT_ESHUTDOWN.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_allocm(
    p: *mut rt_p,
    f: rt_fn,
    arg: *mut c_void,
    out: *mut *mut rt_m,
) -> c_int {
    // Where the host called from, for rt_dump's "created by" line.
    let caller = crate::runtime::arch::caller_pc();
    boundary(|| {
        if out.is_null() {
            return RT_EINVAL;
        }
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        match m::allocm(p.cast(), f, arg, caller, true) {
            Ok(mp) => {
                // SAFETY: out was checked non-null; the caller gives a writable slot.
                unsafe { *out = mp.cast() };
                RT_OK
            }
            Err(e) => code(e),
        }
    })
}

/// Starts an M from rt_allocm (Go's newm1 + newosproc): sets its nextp, then creates a
/// detached OS thread entered at the assembly mstart_stub, with every signal blocked
/// across the create. The M runs its start function on g0; then, with a nextp, takes
/// it and schedules; without, parks on the idle-M list.
///
/// The start function may end the thread with pthread_exit (CPython does so to a
/// thread that wants the GIL while the interpreter finalizes): the thread ends, and
/// the M, never back from its start function, keeps rt_shutdown from finishing
/// (RT_ETIMEDOUT), and `nextp`, if given, stays promised to it.
///
/// `nextp` may be NULL; else it must be idle: in the pool, or held by the caller after
/// rt_releasep. A refused thread is retried a few times with backoff. On failure the
/// M stays allocated (free it with rt_m_free) and `nextp` is back where it was.
///
/// Any context. Errors: RT_EINVAL for a NULL or unknown M, or a `nextp` that is not a
/// live P; RT_EALREADY if already launched; RT_EBUSY if `nextp` runs on an M (the
/// caller's own included) or is promised to another; RT_EAGAIN if the OS refused the
/// thread; RT_ENOMEM; RT_ESHUTDOWN.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_m_launch(m: *mut rt_m, nextp: *mut rt_p) -> c_int {
    boundary(|| {
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        rc(m::m_launch(m.cast(), nextp.cast()))
    })
}

/// Frees an M that was never launched. Any context. An M handle is the M's address:
/// once freed, a later M (the runtime makes them as it needs) may be given the same
/// memory, and the old handle then names that M.
/// Errors: RT_EINVAL for NULL or an unknown M; RT_EBUSY once launched (or adopted), or
/// for an M that the runtime or rt_newm made and is launching itself.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_m_free(m: *mut rt_m) -> c_int {
    boundary(|| rc(m::m_free(m.cast())))
}

/// rt_allocm + rt_m_launch(m, p): a new running M. `out` may be NULL. On failure
/// nothing leaks and `p` (if any) is back where it was.
///
/// Any context. Errors: those of rt_allocm and rt_m_launch.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_newm(
    f: rt_fn,
    arg: *mut c_void,
    p: *mut rt_p,
    out: *mut *mut rt_m,
) -> c_int {
    // Where the host called from, for rt_dump's "created by" line.
    let caller = crate::runtime::arch::caller_pc();
    boundary(|| {
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        match m::newm(f, arg, p.cast(), caller) {
            Ok(mp) => {
                if !out.is_null() {
                    // SAFETY: the caller gives a writable slot when non-null.
                    unsafe { *out = mp.cast() };
                }
                RT_OK
            }
            Err(e) => code(e),
        }
    })
}

/// The calling thread's M: a runtime-created M, or an adopted foreign thread; NULL on
/// a foreign thread.
#[no_mangle]
pub extern "C" fn rt_getm() -> *mut rt_m {
    boundary(|| tls::getm().cast())
}

/// An M's id: small, unique, never reused while the M lives. Any context.
/// Returns RT_EINVAL for NULL or a handle that is not a live M.
#[no_mangle]
pub extern "C" fn rt_m_id(m: *const rt_m) -> i64 {
    boundary(|| {
        let mp = m as *const M;
        if !mp.is_null() && core::ptr::eq(mp, tls::getm()) {
            // SAFETY: the calling thread's own M is live.
            return unsafe { (*mp).id };
        }
        let s = SCHED.lock();
        match m::lookup(&s, mp) {
            Ok(mm) => mm.id,
            Err(e) => code(e) as i64,
        }
    })
}

/// Fills `out` with what the library knows about M `m`; the caller sets
/// `out->size = sizeof(rt_m_info)`. Any context.
///
/// Errors: RT_EINVAL for NULL `m` or `out`, a handle that is not a live M, or a size
/// too small for `id`.
///
/// # Safety
/// Pointer arguments are NULL or valid for the access described (out-pointers
/// writable, size-versioned structs at least `size` bytes). Handles are checked.
#[no_mangle]
pub unsafe extern "C" fn rt_m_getinfo(m: *const rt_m, out: *mut rt_m_info) -> c_int {
    boundary(|| {
        let s = SCHED.lock();
        let mm = match m::lookup(&s, m.cast()) {
            Ok(mm) => mm,
            Err(e) => return code(e),
        };
        // SAFETY: a live M's g0 is live.
        let g0 = unsafe { &*mm.g0 };
        let pp = mm.p.load(Ordering::Acquire);
        let g_id = |g: *mut crate::runtime::g::G| {
            if g.is_null() {
                0
            } else {
                // SAFETY: a G referenced by a live M is live.
                unsafe { (*g).goid }
            }
        };
        let info = rt_m_info {
            size: core::mem::size_of::<rt_m_info>() as u32,
            id: mm.id,
            tid: mm.procid.load(Ordering::Acquire),
            p: if pp.is_null() {
                -1
            } else {
                // SAFETY: a P held by a live M is live.
                unsafe { (*pp).id }
            },
            curg: g_id(mm.curg.load(Ordering::Acquire)),
            g0_lo: g0.stack_lo,
            g0_hi: g0.stack_hi,
            lockedg: g_id(mm.lockedg.load(Ordering::Acquire)),
        };
        drop(s);
        // SAFETY: the caller passes a struct of at least out->size bytes.
        rc(unsafe { write_sized(out, &info, offset_of!(rt_m_info, id) + 8) })
    })
}
