//! System calls (Go's entersyscall/exitsyscall): a G about to block in the OS lets
//! its P go, so that sysmon can hand it to another M if the call takes long; on the
//! way out the G takes its P back, or another idle one, or queues itself and its M
//! parks.

use core::ptr;
use core::sync::atomic::Ordering;

use super::g::{curg, mcall, Action, GStatus};
use super::p::{self, PStatus};
use super::{sysmon, SCHED};
use crate::ffi::errors::*;

/// rt_entersyscall.
pub fn entersyscall() -> Result<()> {
    let gp = curg();
    if gp.is_null() {
        return Err(RT_EPERM);
    }
    // SAFETY: the running G and its M; the M holds its P.
    unsafe {
        let g = &*gp;
        let m = &*g.m;
        if g.status() != GStatus::Running {
            return Err(RT_EALREADY);
        }
        let pp = m.p.swap(ptr::null_mut(), Ordering::AcqRel);
        if pp.is_null() {
            super::throw("entersyscall: running G without a P");
        }
        (*pp).syscalltick.fetch_add(1, Ordering::Relaxed);
        (*pp).m.store(ptr::null_mut(), Ordering::Release);
        m.oldp.store(pp, Ordering::Release);
        g.set_status(GStatus::Syscall);
        // From here sysmon may take the P (Syscall -> Idle by CAS).
        (*pp).set(PStatus::Syscall);
    }
    sysmon::wake_if_sleeping();
    Ok(())
}

/// rt_exitsyscall.
pub fn exitsyscall() -> Result<()> {
    let gp = curg();
    if gp.is_null() {
        return Err(RT_EPERM);
    }
    // SAFETY: the running G and its M.
    unsafe {
        let g = &*gp;
        let m = &*g.m;
        if g.status() != GStatus::Syscall {
            return Err(RT_EINVAL);
        }
        let oldp = m.oldp.swap(ptr::null_mut(), Ordering::AcqRel);
        // Fast path: our P is still ours (sysmon did not retake it).
        if !oldp.is_null()
            && (*oldp)
                .status
                .compare_exchange(
                    PStatus::Syscall as u32,
                    PStatus::Running as u32,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            if (*oldp).id < p::GOMAXPROCS.load(Ordering::Acquire) {
                p::wire(m, &*oldp);
                (*oldp).syscalltick.fetch_add(1, Ordering::Relaxed);
                g.set_status(GStatus::Running);
                return Ok(());
            }
            // rt_gomaxprocs shrank below it meanwhile: it dies.
            let mut s = SCHED.lock();
            p::release_to_pool(&mut s, oldp);
        }
        // Second chance: any idle P.
        let pp = p::pidleget_live(false);
        if !pp.is_null() {
            p::acquire_nextp(m, pp);
            g.set_status(GStatus::Running);
            return Ok(());
        }
    }
    // Slow path: on g0, queue the G and park the M until a P frees up.
    mcall(Action::ExitSyscall);
    Ok(())
}
