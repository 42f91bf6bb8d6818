//! getg/getm: the current G and M, read through the TLS slot on every call.
//!
//! The slot is written by mstart_stub (runtime-created Ms), by adoption of a foreign
//! thread, and by the context switch; it is never cached in a Rust `thread_local!`,
//! whose address the compiler may keep across a call after which the G runs on
//! another thread (docs/design.md).

use super::arch;
use super::g::G;
use super::m::M;

/// The current G (the M's g0 outside user Gs), or null on a foreign thread.
#[inline(always)]
pub fn getg() -> *mut G {
    arch::tls_load()
}

/// The current M, or null on a foreign thread.
#[inline(always)]
pub fn getm() -> *mut M {
    let g = getg();
    if g.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: a non-null slot always points at a live G whose `m` is set before the
    // slot is written.
    unsafe { (*g).m }
}

/// Points the calling thread's slot at `g` (null: the thread is foreign again).
#[inline(always)]
pub fn setg(g: *mut G) {
    arch::tls_store(g)
}
