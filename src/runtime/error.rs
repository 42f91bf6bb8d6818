//! The runtime's errors: what bad input and resource exhaustion can cause. A bug
//! inside the runtime is never one of these: it throws (see `throw`). The C ABI maps
//! each to its `RT_*` code in `ffi::errors`; the runtime itself knows no C codes.

/// Why a runtime operation did not happen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// Not allowed in this thread context (a G-only call from a plain thread...).
    Perm,
    /// Would block (a try-variant), or the OS refused a thread.
    Again,
    /// Memory or address space exhausted.
    NoMem,
    /// Owned or in use by someone else.
    Busy,
    /// A bad argument: null, not a handle of this runtime, a dead P, a bad size.
    Inval,
    /// The channel is closed.
    Closed,
    /// The runtime is not running (after rt_shutdown, in a fork child).
    Shutdown,
    /// The time given ran out.
    TimedOut,
    /// The caller holds it already, or it is done already.
    Already,
    /// Every G is asleep and nothing can wake one (RT_CFG_DEADLOCK_DETECT).
    Deadlk,
}

pub type Result<T> = core::result::Result<T, Error>;
