//! G: a goroutine's descriptor. So far only the g0 of each M exists: the G that
//! stands for the M's own (system) stack while it runs runtime code.

use core::sync::atomic::AtomicU32;

use super::m::M;

/// The life of a G. Each state answers: who owns the stack, is the G on a queue,
/// does it have an M or a P.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GStatus {
    /// The g0 of an M: it owns the M's system stack, is never queued, and has its M
    /// for life (a P only through that M).
    System = 1,
}

/// A G. `#[repr(C)]`: the assembly reads fields through offsets asserted in
/// `arch`.
#[repr(C)]
pub struct G {
    /// Usable stack: [stack_lo, stack_hi).
    pub stack_lo: usize,
    pub stack_hi: usize,
    /// The guard region below the stack: [guard_lo, guard_hi). A fault there is a
    /// stack overflow. Empty (0, 0) when unknown.
    pub guard_lo: usize,
    pub guard_hi: usize,
    /// The M running this G (for g0: its owner, fixed).
    pub m: *mut M,
    /// 0 for g0s.
    pub goid: i64,
    pub status: AtomicU32,
}

impl G {
    /// A g0 for `m` with its stack bounds.
    pub fn new_g0(m: *mut M, lo: usize, hi: usize, guard_lo: usize, guard_hi: usize) -> G {
        G {
            stack_lo: lo,
            stack_hi: hi,
            guard_lo,
            guard_hi,
            m,
            goid: 0,
            status: AtomicU32::new(GStatus::System as u32),
        }
    }

    /// Whether `addr` lies in this G's guard region.
    pub fn in_guard(&self, addr: usize) -> bool {
        self.guard_lo < self.guard_hi && addr >= self.guard_lo && addr < self.guard_hi
    }
}
