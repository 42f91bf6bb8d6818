//! P calls: rt_p_get, rt_p_id, rt_p_status, rt_getp, rt_acquirep, rt_releasep,
//! rt_p_put, rt_schedule.

use core::ffi::c_int;
use core::sync::atomic::Ordering;

use super::consts::*;
use super::errors::RT_EINVAL;
use super::types::rt_p;
use super::{boundary, code, rc};
use crate::runtime::p::{self, PStatus, P};
use crate::runtime::sched::SchedMode;
use crate::runtime::{self, sched, tls};

/// The public status code of a P's internal state.
fn public_status(st: PStatus) -> c_int {
    match st {
        PStatus::Idle | PStatus::Held | PStatus::Reserved => RT_P_IDLE,
        PStatus::Running => RT_P_RUNNING,
        PStatus::Syscall => RT_P_SYSCALL,
        PStatus::Dead => RT_P_DEAD,
    }
}

/// allp[id]: the P with this id, or NULL if id is out of range [0, rt_gomaxprocs) or
/// the runtime is not running. Any context.
#[no_mangle]
pub extern "C" fn rt_p_get(id: c_int) -> *mut rt_p {
    boundary(|| {
        if runtime::ensure_running().is_err() {
            return core::ptr::null_mut();
        }
        p::p_get(id).cast()
    })
}

/// A P's id (0-based). Any context. RT_EINVAL for NULL or a handle that is not a P.
#[no_mangle]
pub extern "C" fn rt_p_id(p: *const rt_p) -> c_int {
    boundary(|| match p::with_p(p.cast(), |p| p.id) {
        Ok(id) => id,
        Err(e) => code(e),
    })
}

/// A P's status: RT_P_IDLE (in the pool or held by the host), RT_P_RUNNING,
/// RT_P_SYSCALL or RT_P_DEAD. Any context. RT_EINVAL for NULL or a handle that is not
/// a P.
#[no_mangle]
pub extern "C" fn rt_p_status(p: *const rt_p) -> c_int {
    boundary(
        || match p::with_p(p.cast(), |p| public_status(p.status())) {
            Ok(st) => st,
            Err(e) => code(e),
        },
    )
}

/// The P held by the calling M, or NULL (foreign thread, or an M without a P).
#[no_mangle]
pub extern "C" fn rt_getp() -> *mut rt_p {
    boundary(|| {
        let m = tls::getm();
        if m.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: the calling thread's live M.
        unsafe { (*m).p.load(Ordering::Acquire) }.cast()
    })
}

/// Associates `p` with the calling M. A foreign thread is first adopted as an M (its
/// own stack serves as g0; it stays an M until it exits, when a thread-exit
/// destructor gives the M and any P it holds back). `p` must be idle: in the pool,
/// or held after rt_releasep (a held P belongs to the host, which may hand it to any
/// thread).
///
/// Contexts: foreign thread (adopted), M's g0. Errors: RT_EINVAL for NULL, not a P,
/// or dead; RT_EALREADY if this M already holds a P; RT_EBUSY if `p` runs on an M,
/// is in a syscall or is promised to an M; RT_ENOMEM; RT_ESHUTDOWN.
#[no_mangle]
pub extern "C" fn rt_acquirep(p: *mut rt_p) -> c_int {
    boundary(|| {
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        rc(p::acquirep(p.cast::<P>()))
    })
}

/// Disassociates the calling M's P and returns it, idle and held by the caller: it is
/// NOT put back in the pool; hand it to rt_acquirep, rt_newm or rt_m_launch, or give
/// it back with rt_p_put. If rt_gomaxprocs shrank below it, it is returned dead (as a
/// held P dies when a shrink passes it). A dead P is no longer the holder's: a later
/// rt_gomaxprocs that grows past it revives it into the idle pool, where any M may take
/// it (rt_p_put through the old handle then answers RT_EALREADY or RT_EBUSY).
/// NULL if the M holds none (or on a foreign thread).
///
/// Context: M's g0. From a G it returns NULL and changes nothing: a G cannot give
/// away the P it runs on (its M needs that P to switch to the next G). From an
/// rt_park unlock callback likewise NULL: it runs on g0 mid-park, and the scheduler
/// holds that M's P to run the next G.
#[no_mangle]
pub extern "C" fn rt_releasep() -> *mut rt_p {
    boundary(|| p::releasep().cast())
}

/// Returns a held idle P to the pool, where the scheduler may give it to an M.
/// Any context. Errors: RT_EINVAL for NULL, not a P, or dead; RT_EALREADY if it is
/// already in the pool; RT_EBUSY if an M runs it or it is promised to one;
/// RT_ESHUTDOWN.
#[no_mangle]
pub extern "C" fn rt_p_put(p: *mut rt_p) -> c_int {
    boundary(|| {
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        rc(p::p_put(p.cast()))
    })
}

/// Runs the scheduler on the calling M with its P. RT_SCHED_ONCE: runs runnable Gs
/// until none is left for this P and returns how many G runs ended on this M (a G
/// that exits or parks counts once each time; rt_gosched does not end a run) (the M
/// keeps its P: if
/// rt_gomaxprocs shrank below it, it runs nothing more and dies when released; a G
/// wired to another M by rt_lockosthread is left for that M to run with an idle P,
/// so while the host holds the only P such a G waits; if a G's system call lost the
/// P, the M waits for one to come back; a G that wires itself to this thread and
/// waits keeps the call from returning until it has unlocked or exited, and the M
/// returns holding whichever P came back with it).
/// RT_SCHED_FOREVER: loops like a runtime-created M (giving the P back and parking on
/// the idle-M list when there is no work, taking whatever P it is woken with) until
/// rt_shutdown, then returns how many Gs ran.
///
/// Context: M's g0. Errors: RT_EPERM from a G or an rt_park unlock callback; RT_EINVAL
/// on a foreign thread, on an M with no P, or for bad flags; RT_ESHUTDOWN.
#[no_mangle]
pub extern "C" fn rt_schedule(flags: c_int) -> c_int {
    boundary(|| {
        if let Err(e) = runtime::ensure_running() {
            return code(e);
        }
        let mode = match flags {
            RT_SCHED_ONCE => SchedMode::Once,
            RT_SCHED_FOREVER => SchedMode::Forever,
            _ => return RT_EINVAL,
        };
        match sched::rt_schedule(mode) {
            Ok(n) => n,
            Err(e) => code(e),
        }
    })
}
