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

use crate::runtime::{g::GDB_G_OFFSETS as GO, greg::GDB_LAYOUT as GL};

// mrt_gdb_info: what the gdb extension (tools/gdb/mrt-gdb.py) needs to find the Gs
// in a process or core file without Rust debug info: a hidden symbol (in .symtab and
// the split debug file, not exported), a magic, a version, the G registry's address
// and layout, and the offsets of the fields of G and M that it reads.
global_asm!(
    ".pushsection .data.rel.ro.mrt_gdb_info,\"awR\",@progbits",
    ".p2align 3",
    ".globl mrt_gdb_info",
    ".hidden mrt_gdb_info",
    ".type mrt_gdb_info, @object",
    "mrt_gdb_info:",
    ".ascii \"MRTGDB01\"",
    ".quad 1",
    ".quad {CHUNKS}",
    ".quad {CS}, {NC}, {SS}, {SG}",
    ".quad {G0}, {G1}, {G2}, {G3}, {G4}, {G5}, {G6}, {G7}, {G8}, {G9}, {G10}, {G11}, {G12}, {G13}",
    ".quad {M_ID}, {M_PROCID}",
    ".size mrt_gdb_info, .-mrt_gdb_info",
    ".popsection",
    CHUNKS = sym crate::runtime::greg::CHUNKS,
    CS = const GL[0],
    NC = const GL[1],
    SS = const GL[2],
    SG = const GL[3],
    G0 = const GO[0],
    G1 = const GO[1],
    G2 = const GO[2],
    G3 = const GO[3],
    G4 = const GO[4],
    G5 = const GO[5],
    G6 = const GO[6],
    G7 = const GO[7],
    G8 = const GO[8],
    G9 = const GO[9],
    G10 = const GO[10],
    G11 = const GO[11],
    G12 = const GO[12],
    G13 = const GO[13],
    M_ID = const offset_of!(M, id),
    M_PROCID = const offset_of!(M, procid),
    options(att_syntax)
);

// The gdb extension itself, for gdb to auto-load (as Go's runtime-gdb.py): an
// inline Python script in .debug_gdb_scripts (build.rs makes the directives from
// tools/gdb/mrt-gdb.py). gdb runs it when libmrt is loaded if its
// `auto-load safe-path` covers the library.
global_asm!(include_str!(concat!(env!("OUT_DIR"), "/gdb_scripts.s")));

extern "C" {
    /// The pthread entry point of runtime-created Ms (see asm/x86_64.S).
    pub fn mstart_stub(m: *mut libc::c_void) -> *mut libc::c_void;
    /// Saves the current context into `save`, resumes `load` as `newg`. Returns, when
    /// something switches back to `save`, the Gobuf that something saved into.
    pub fn mrt_swap(save: *mut Gobuf, load: *const Gobuf, newg: *mut libc::c_void) -> *mut Gobuf;
    /// Saves the current context into `save`, starts `newg` at gentry on a fresh
    /// stack whose top is `stack_top` (16-byte aligned). Returns as mrt_swap does.
    pub fn mrt_gostart(save: *mut Gobuf, stack_top: usize, newg: *mut libc::c_void) -> *mut Gobuf;
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

/// Reads the calling thread's guess of its M's P (`mrt_tls_p` in the assembly; null
/// until first written). The value is opaque to the compiler: a caller that checked
/// it against the real P keeps using this register, not the real one's.
#[inline(always)]
pub fn tls_p_load() -> *mut super::super::p::P {
    let p: *mut super::super::p::P;
    // SAFETY: reads 8 bytes of this thread's static TLS block, which the dynamic
    // linker sized and initialised (to zero) for every thread.
    unsafe {
        asm!(
            "movq mrt_tls_p@GOTTPOFF(%rip), {p}",
            "movq %fs:({p}), {p}",
            p = out(reg) p,
            options(att_syntax, nostack, readonly, preserves_flags)
        );
    }
    p
}

/// `p`, as a value the compiler cannot relate to any other (no instruction): code
/// that checked it equal to another pointer keeps using this register.
#[inline(always)]
pub fn opaque<T>(p: *mut T) -> *mut T {
    p.map_addr(|mut a| {
        // SAFETY: an empty asm that only claims to change a register (an address;
        // the pointer keeps its provenance).
        unsafe { asm!("/* {0} */", inout(reg) a, options(pure, nomem, nostack, preserves_flags)) };
        a
    })
}

/// Writes the calling thread's guess of its M's P.
#[inline(always)]
pub fn tls_p_store(p: *mut super::super::p::P) {
    // SAFETY: writes this thread's own slot; nothing else aliases it.
    unsafe {
        asm!(
            "movq mrt_tls_p@GOTTPOFF(%rip), {t}",
            "movq {p}, %fs:({t})",
            p = in(reg) p,
            t = out(reg) _,
            options(att_syntax, nostack, preserves_flags)
        );
    }
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

/// Hints the CPU to bring the `lines` cache lines from `p` on into the cache, for a
/// write soon (a G about to be started or reused, picked many Gs after it was last
/// touched). Never faults, whatever `p` is: a prefetch of an unmapped or stale
/// address is dropped by the CPU.
#[inline(always)]
pub fn prefetch_lines(p: *const u8, lines: usize) {
    for i in 0..lines {
        // SAFETY: prefetcht0 only hints the cache; it reads no memory architecturally
        // and cannot fault, so any address (even a dangling one) is fine.
        unsafe {
            asm!(
                "prefetcht0 ({})",
                in(reg) p.wrapping_add(i * 64),
                options(att_syntax, nostack, readonly, preserves_flags)
            );
        }
    }
}

/// The CPU's time-stamp counter (invariant on every x86-64 CPU Linux runs libmrt on
/// in practice): a cheap clock for rt_dump's wait durations, converted to time with
/// the rate `dump` measures against nanotime.
#[inline(always)]
pub fn ticks() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: rdtsc reads the counter into edx:eax; it touches no memory.
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    ((hi as u64) << 32) | lo as u64
}

/// The return address of the function this is inlined into, if that function keeps
/// a frame pointer (libmrt is built with -C force-frame-pointers=yes, see
/// .cargo/config.toml); 0 if rbp does not look like a frame pointer of the current
/// stack (a build without frame pointers), in which case nothing is read from it.
#[inline(always)]
pub fn caller_pc() -> usize {
    let fp: usize;
    // SAFETY: copies rbp into a register.
    unsafe {
        asm!("movq %rbp, {}", out(reg) fp, options(att_syntax, nomem, nostack, preserves_flags));
    }
    let sp = getsp();
    if fp < sp || fp - sp > 4096 || !fp.is_multiple_of(8) {
        return 0;
    }
    // SAFETY: fp lies within 4 KiB above rsp on the current stack, where the frame
    // of the function this is inlined into (and its return address) is.
    unsafe { core::ptr::read_volatile((fp + 8) as *const usize) }
}

/// The time-stamp counter as a signed count (the trace's clock; see [`ticks`]).
#[inline(always)]
pub fn cputicks() -> i64 {
    ticks() as i64
}

/// The body of a naked C entry point (`#[unsafe(naked)] extern "C" fn`) that may
/// switch Gs: calls `$body` (an `extern "C"` function of the same signature) and
/// returns to its caller by an indirect jump instead of `ret`.
///
/// Why: the CPU predicts every `ret` from its return stack buffer, which holds the
/// return addresses of the calls this thread made. A G that switches Gs returns to
/// a caller that another G's calls pushed there (two Gs calling rt_gosched from two
/// loops each return where the other one was called from), so that `ret` is
/// mispredicted on every switch (~15 cycles). An indirect jump is predicted from the
/// branch history instead, which tells the Gs' callers apart. `$body`'s own `ret`
/// comes back here, to the same address for every G, and is predicted right.
///
/// The frame is a normal one (rbp pushed and linked, CFI below), so both
/// frame-pointer and DWARF unwinders see `$body` called from here and this entry
/// point called from the host. Arguments and return value pass through untouched:
/// only for signatures whose arguments all travel in registers (at most six integer
/// or pointer arguments, no structs by value), since the stack arguments would sit
/// 16 bytes further up. Clobbers r11 (caller-saved, never an argument or result).
macro_rules! return_by_jump {
    ($body:path) => {
        core::arch::naked_asm!(
            ".cfi_startproc",
            "pushq %rbp",
            ".cfi_adjust_cfa_offset 8",
            ".cfi_rel_offset rbp, 0",
            "movq %rsp, %rbp",
            ".cfi_def_cfa_register rbp",
            "call {body}",
            "popq %rbp",
            ".cfi_def_cfa rsp, 8",
            ".cfi_restore rbp",
            "popq %r11",
            ".cfi_adjust_cfa_offset -8",
            ".cfi_register rip, r11",
            "jmpq *%r11",
            ".cfi_endproc",
            body = sym $body,
            options(att_syntax)
        )
    };
}
pub(crate) use return_by_jump;
