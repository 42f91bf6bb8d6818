//! The atomics the lock-free parts use: `core`'s normally, loom's under `--cfg loom`
//! so that `make loom` model-checks the same code.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
