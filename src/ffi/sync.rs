//! rt_mutex and rt_wg: statically initialisable blocking objects.

use super::boundary;
use super::types::{rt_mutex, rt_wg};
use crate::runtime::sanitizer as san;
use crate::runtime::sync::{self, Obj};

fn obj<T>(p: *mut T) -> Option<&'static Obj> {
    // SAFETY: rt_mutex and rt_wg are 32 aligned bytes the host owns; Obj is the
    // runtime's view of them (checked sizes in runtime::sync).
    (!p.is_null()).then(|| unsafe { &*(p as *const Obj) })
}

/// Locks `mu`. A G parks while it waits (its M runs other Gs); an M's g0 or a
/// foreign thread blocks on a futex. NULL is ignored. Any context.
#[no_mangle]
pub extern "C" fn rt_mutex_lock(mu: *mut rt_mutex) {
    boundary(|| {
        if let Some(o) = obj(mu) {
            sync::mutex_lock(o);
            // TSan: after what the last holder did (a no-op without it).
            san::acquire(san::Edge::Sync, mu.cast());
        }
    })
}

/// Locks `mu` if it is free; returns whether it did. Never blocks. Any context.
#[no_mangle]
pub extern "C" fn rt_mutex_trylock(mu: *mut rt_mutex) -> bool {
    boundary(|| {
        let got = obj(mu).is_some_and(sync::mutex_trylock);
        if got {
            san::acquire(san::Edge::Sync, mu.cast());
        }
        got
    })
}

/// Unlocks `mu` and wakes one waiter. Any context (the unlocker need not be the
/// locker). Unlocking an unlocked mutex is a fatal usage error, as in Go.
#[no_mangle]
pub extern "C" fn rt_mutex_unlock(mu: *mut rt_mutex) {
    boundary(|| {
        if let Some(o) = obj(mu) {
            san::release(san::Edge::Sync, mu.cast());
            sync::mutex_unlock(o)
        }
    })
}

/// Adds `delta` to the wait group's counter (a 32-bit count, as Go's); at zero every
/// waiter is released. A negative counter, or a delta outside int32, is a fatal
/// usage error, as in Go. The wait group may be reused or freed as soon as
/// rt_wg_wait returned. Any context.
#[no_mangle]
pub extern "C" fn rt_wg_add(wg: *mut rt_wg, delta: i64) {
    boundary(|| {
        if let Some(o) = obj(wg) {
            if delta < 0 {
                // TSan: a done comes before the wait it ends.
                san::release(san::Edge::Sync, wg.cast());
            }
            sync::wg_add(o, delta)
        }
    })
}

/// rt_wg_add(wg, -1). Any context.
#[no_mangle]
pub extern "C" fn rt_wg_done(wg: *mut rt_wg) {
    boundary(|| {
        if let Some(o) = obj(wg) {
            san::release(san::Edge::Sync, wg.cast());
            sync::wg_add(o, -1)
        }
    })
}

/// Waits until the counter is zero. A G parks; an M's g0 or a foreign thread blocks
/// on a futex. Any context.
#[no_mangle]
pub extern "C" fn rt_wg_wait(wg: *mut rt_wg) {
    boundary(|| {
        if let Some(o) = obj(wg) {
            sync::wg_wait(o);
            san::acquire(san::Edge::Sync, wg.cast());
        }
    })
}
