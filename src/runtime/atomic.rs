//! The atomics the model-checked parts use: `core`'s normally, loom's under
//! `--cfg loom` so that `make loom` model-checks the same code.
//!
//! # Words that live in statics
//! Loom's atomics have no `const fn new`, but some words live in statics as well as in
//! runtime objects: the futex word of every `Mutex` and `Note` (`static SCHED: Lock`,
//! ...) and the scheduler's counters. Those use `StaticAtomicU32`/`StaticAtomicI32`:
//! plain `core` atomics normally; under loom a const-constructible wrapper that creates
//! the loom atomic on first use and then derefs to it, so every method call is loom's.
//!
//! Loom counts the creation of an atomic as a write by the creating thread that every
//! later access must happen after. Created lazily, that write is done by whichever
//! thread touches the word first, so a model must touch each such word on the thread
//! that built it before sharing it (if it does not, loom fails the model with a
//! causality violation: loud, never a silent miss). Statics are never touched by a
//! model: loom objects belong to one execution, and a stale one makes loom panic.
//! Creating the atomic lazily is otherwise invisible: nobody can have stored to it
//! before its first use, and `Atomic::new` is not a scheduling point of loom.

#[cfg(loom)]
pub use loom::sync::atomic::{
    fence, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(not(loom))]
pub use core::sync::atomic::{
    fence, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicI32 as StaticAtomicI32, AtomicU32 as StaticAtomicU32};

#[cfg(loom)]
pub use lazy::{StaticAtomicI32, StaticAtomicU32};

#[cfg(loom)]
mod lazy {
    use std::sync::OnceLock;

    macro_rules! lazy_atomic {
        ($name:ident, $loom:ident, $int:ty) => {
            /// Loom's atomic, created on first use (see the file comment).
            pub struct $name {
                init: $int,
                cell: OnceLock<loom::sync::atomic::$loom>,
            }

            impl $name {
                pub const fn new(v: $int) -> Self {
                    $name {
                        init: v,
                        cell: OnceLock::new(),
                    }
                }
            }

            impl core::ops::Deref for $name {
                type Target = loom::sync::atomic::$loom;
                fn deref(&self) -> &Self::Target {
                    self.cell
                        .get_or_init(|| loom::sync::atomic::$loom::new(self.init))
                }
            }
        };
    }

    lazy_atomic!(StaticAtomicU32, AtomicU32, u32);
    lazy_atomic!(StaticAtomicI32, AtomicI32, i32);
}

/// A loom model builder bounded to `preemptions` preemptions per execution unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise (loom reads it; unset means unbounded).
/// Models whose exhaustive run takes minutes use it; each says why its bound is
/// enough.
#[cfg(all(test, loom))]
pub fn loom_builder(preemptions: usize) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(preemptions);
    }
    b
}
