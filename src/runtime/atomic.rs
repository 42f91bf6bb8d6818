//! The atomics the model-checked parts use: `core`'s normally, loom's under
//! `--cfg loom` so that `make loom` model-checks the same code.
//!
//! # Integers in statics
//! Loom's atomics have no `const fn new`, but the runtime keeps some of these words
//! in statics (the scheduler's counters, the futex word of every `Mutex` in a static
//! `Lock`). Under loom the integer types are therefore a const-constructible wrapper
//! that creates the loom atomic on first use and then derefs to it, so every method
//! call is loom's. Loom objects belong to one execution of a model: a model must
//! build its own instances and never touch a static (loom then panics on the stale
//! object instead of checking something wrong). Creating the atomic lazily changes
//! nothing a model can observe: nobody can have stored to it before its first use,
//! and `Atomic::new` is not a scheduling point of loom, so the creation cannot be
//! interleaved with another thread's first use.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicPtr, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicI64, AtomicPtr, AtomicU32, Ordering};

#[cfg(loom)]
pub use lazy::{AtomicI64, AtomicU32};

#[cfg(loom)]
mod lazy {
    use std::sync::OnceLock;

    macro_rules! lazy_atomic {
        ($name:ident, $int:ty) => {
            /// Loom's atomic of the same name, created on first use (see the file
            /// comment).
            pub struct $name {
                init: $int,
                cell: OnceLock<loom::sync::atomic::$name>,
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
                type Target = loom::sync::atomic::$name;
                fn deref(&self) -> &Self::Target {
                    self.cell
                        .get_or_init(|| loom::sync::atomic::$name::new(self.init))
                }
            }

            impl Default for $name {
                fn default() -> Self {
                    Self::new(0)
                }
            }
        };
    }

    lazy_atomic!(AtomicU32, u32);
    lazy_atomic!(AtomicI32, i32);
    lazy_atomic!(AtomicI64, i64);
}
