//! x86-64 Linux: assembles `asm/x86_64.S` with the structure offsets it uses, and
//! reads/writes the TLS slot through `%fs` on every access.

use core::arch::{asm, global_asm};
use core::mem::offset_of;

use crate::runtime::g::{Gobuf, G};
use crate::runtime::m::M;

/// Offsets used by the assembly, checked here against the expected layout so that a
/// reordering of the structs is a compile error rather than a corrupted register.
pub const M_G0: usize = offset_of!(M, g0);
pub const GOBUF_SP: usize = offset_of!(Gobuf, sp);
const _: () = assert!(M_G0 == 0x00);
const _: () = assert!(GOBUF_SP == 0x00);

global_asm!(
    include_str!("../../../asm/x86_64.S"),
    M_G0 = const M_G0,
    GOBUF_SP = const GOBUF_SP,
    MSTART = sym crate::runtime::m::mstart,
    GENTRY = sym crate::runtime::g::gentry,
    ASYNC_PREEMPT_PARK = sym crate::runtime::preempt::async_preempt_park,
    options(att_syntax)
);

extern "C" {
    /// The pthread entry point of runtime-created Ms (see asm/x86_64.S).
    pub fn mstart_stub(m: *mut libc::c_void) -> *mut libc::c_void;
    /// Saves the current context into `save`, resumes `load` as `newg`.
    pub fn mrt_swap(save: *mut Gobuf, load: *const Gobuf, newg: *mut libc::c_void);
    /// Saves the current context into `save`, starts `newg` at gentry on a fresh
    /// stack whose top is `stack_top` (16-byte aligned).
    pub fn mrt_gostart(save: *mut Gobuf, stack_top: usize, newg: *mut libc::c_void);
}

extern "C" {
    /// The routine a preempted G is sent into by the signal handler (see
    /// asm/x86_64.S): not callable, only its address and its end are used.
    pub fn mrt_async_preempt();
    pub fn mrt_async_preempt_end();
    /// The save area's parameters, set by `preempt::install` before any signal.
    pub static mut mrt_preempt_xmask: u64;
    pub static mut mrt_preempt_xsize: u64;
    pub static mut mrt_preempt_xsave: u64;
}

/// Reads the TLS slot: the current G, or null on a foreign thread.
///
/// Not `pure`: the compiler must re-execute it after every call that may switch
/// threads, so the `%fs`-relative load is never hoisted or merged.
#[inline(always)]
pub fn tls_load() -> *mut G {
    let g: *mut G;
    // SAFETY: reads 8 bytes of this thread's static TLS block, which the dynamic
    // linker sized and initialised (to zero) for every thread.
    unsafe {
        asm!(
            "movq mrt_tls_g@GOTTPOFF(%rip), {g}",
            "movq %fs:({g}), {g}",
            g = out(reg) g,
            options(att_syntax, nostack, readonly, preserves_flags)
        );
    }
    g
}

/// Writes the TLS slot of the calling thread.
#[inline(always)]
pub fn tls_store(g: *mut G) {
    // SAFETY: writes this thread's own slot; nothing else aliases it.
    unsafe {
        asm!(
            "movq mrt_tls_g@GOTTPOFF(%rip), {t}",
            "movq {g}, %fs:({t})",
            g = in(reg) g,
            t = out(reg) _,
            options(att_syntax, nostack, preserves_flags)
        );
    }
}

/// Adds `d` (wrapping: -1 is `u32::MAX`) to the calling thread's count of held
/// runtime locks (`mrt_tls_locks` in the assembly).
#[inline(always)]
#[cfg_attr(loom, allow(dead_code))] // under loom nothing is counted (note.rs)
pub fn tls_locks_add(d: u32) {
    // SAFETY: one read-modify-write instruction on this thread's own 4-byte static TLS
    // variable, which the dynamic linker sized and zeroed for every thread.
    unsafe {
        asm!(
            "movq mrt_tls_locks@GOTTPOFF(%rip), {t}",
            "addl {d:e}, %fs:({t})",
            d = in(reg) d,
            t = out(reg) _,
            options(att_syntax, nostack)
        );
    }
}

/// The calling thread's count of held runtime locks.
#[inline(always)]
#[cfg_attr(loom, allow(dead_code))]
pub fn tls_locks() -> u32 {
    let n: u32;
    // SAFETY: reads this thread's own 4-byte static TLS variable (see tls_locks_add).
    unsafe {
        asm!(
            "movq mrt_tls_locks@GOTTPOFF(%rip), {t}",
            "movl %fs:({t}), {n:e}",
            n = out(reg) n,
            t = out(reg) _,
            options(att_syntax, nostack, readonly, preserves_flags)
        );
    }
    n
}

/// The current stack pointer.
#[inline(always)]
pub fn getsp() -> usize {
    let sp: usize;
    // SAFETY: copies rsp into a register.
    unsafe {
        asm!("movq %rsp, {}", out(reg) sp, options(att_syntax, nomem, nostack, preserves_flags));
    }
    sp
}

/// The CPU's time-stamp counter (Go's cputicks): a few nanoseconds where
/// clock_gettime costs tens. Constant-rate and synchronised across CPUs where the
/// kernel uses it as its clocksource; the trace converts it to nanoseconds against
/// nanotime read at its start and stop.
#[inline(always)]
pub fn cputicks() -> i64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: rdtsc reads the counter into edx:eax and touches nothing else.
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    ((hi as u64) << 32 | lo as u64) as i64
}
