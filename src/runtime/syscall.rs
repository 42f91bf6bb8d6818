//! System calls (Go's entersyscall/exitsyscall): a G about to block in the OS lets
//! its P go, so that sysmon can hand it to another M if the call takes long; on the
//! way out the G takes its P back, or another idle one, or queues itself and its M
//! parks.

use core::ptr;
use core::sync::atomic::Ordering;

use super::error::{Error, Result};
use super::g::{curg, mcall, Action, GStatus};
use super::p::{self, HeldP, PStatus};
use super::{sysmon, SCHED};

/// rt_entersyscall.
pub fn entersyscall() -> Result<()> {
    let gp = curg();
    if gp.is_null() {
        return Err(Error::Perm);
    }
    // SAFETY: the running G and its M; the M holds its P.
    unsafe {
        let g = &*gp;
        let m = &*g.m;
        if g.status() != GStatus::Running {
            return Err(Error::Already);
        }
        let Some(pp) = m.take_p() else {
            super::throw("entersyscall: running G without a P");
        };
        p::unwire(m, &pp);
        let p = pp.p();
        p.syscalltick.fetch_add(1, Ordering::Relaxed);
        super::trace::syscall_enter(m, gp, p.id);
        // The HeldP dissolves into the Syscall status: whoever wins the CAS out of
        // it (exitsyscall below, or sysmon's retake) makes the next one.
        m.oldp.store(pp.into_raw(), Ordering::Release);
        g.set_status(GStatus::Syscall);
        // From here sysmon may take the P (Syscall -> Reserved by CAS).
        p.set(PStatus::Syscall);
    }
    sysmon::wake_if_sleeping();
    Ok(())
}

/// rt_exitsyscall.
pub fn exitsyscall() -> Result<()> {
    let gp = curg();
    if gp.is_null() {
        return Err(Error::Perm);
    }
    // SAFETY: the running G and its M.
    unsafe {
        let g = &*gp;
        let m = &*g.m;
        if g.status() != GStatus::Syscall {
            return Err(Error::Inval);
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
            // We won the CAS: the P is ours again.
            let pp = HeldP::from_raw(oldp);
            if pp.p().id < p::GOMAXPROCS.load(Ordering::Acquire) {
                p::wire(m, &pp);
                pp.p().syscalltick.fetch_add(1, Ordering::Relaxed);
                m.put_p(pp);
                g.set_status(GStatus::Running);
                super::trace::syscall_exit(m, gp, 1);
                return Ok(());
            }
            // rt_gomaxprocs shrank below it meanwhile: it dies, and the Gs queued
            // on it need another M.
            let mut s = SCHED.lock();
            p::release_to_pool(&mut s, pp);
            drop(s);
            super::sched::wakep_global();
        }
        // Second chance: any idle P.
        if let Some(pp) = p::pidleget_live(false) {
            p::wire(m, &pp);
            m.put_p(pp);
            g.set_status(GStatus::Running);
            super::trace::syscall_exit(m, gp, 2);
            return Ok(());
        }
        super::trace::syscall_exit(m, gp, 3);
    }
    // Slow path: on g0, queue the G and park the M until a P frees up.
    mcall(Action::ExitSyscall);
    Ok(())
}
