//! The exported C ABI. Every `rt_*` function lives here and nowhere else; each one
//! checks its arguments, calls into `runtime`, maps the result to an `RT_*` code, and
//! runs inside [`boundary`], the one place that catches panics.
//!
//! cbindgen reads these files to write `include/mrt.h`: the `///` comments here are
//! the header's documentation.

pub mod chan;
pub mod consts;
pub mod errors;
pub mod g;
pub mod m;
pub mod p;
pub mod runtime;
pub mod sync;
pub mod types;

use core::panic::AssertUnwindSafe;

use errors::{Result, RT_EINTERNAL, RT_EINVAL};

/// What an exported function returns when a panic (a libmrt bug) is caught.
pub trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for i32 {
    fn on_panic() -> i32 {
        RT_EINTERNAL
    }
}

impl OnPanic for i64 {
    fn on_panic() -> i64 {
        RT_EINTERNAL as i64
    }
}

impl OnPanic for usize {
    fn on_panic() -> usize {
        0
    }
}

impl OnPanic for bool {
    fn on_panic() -> bool {
        false
    }
}

impl OnPanic for () {
    fn on_panic() {}
}

impl<T> OnPanic for *mut T {
    fn on_panic() -> *mut T {
        core::ptr::null_mut()
    }
}

impl<T> OnPanic for *const T {
    fn on_panic() -> *const T {
        core::ptr::null()
    }
}

/// The FFI boundary: runs `f`, turning a panic into the function's error value
/// (never unwinding into C).
#[inline]
pub fn boundary<R: OnPanic>(f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => R::on_panic(),
    }
}

/// `Result<()>` as the C return code.
pub fn rc(r: Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// Writes `val` into a caller's size-versioned struct (`size` is its first field,
/// a u32): at most `out->size` bytes, never fewer than `min` (the end of the first
/// field after `size`). A larger size than we know is accepted.
///
/// # Safety
/// `out` is null or points at least `out->size` writable bytes.
pub unsafe fn write_sized<T>(out: *mut T, val: &T, min: usize) -> Result<()> {
    if out.is_null() {
        return Err(RT_EINVAL);
    }
    // SAFETY: out points at a struct whose first field is the u32 size.
    let size = unsafe { (out as *const u32).read_unaligned() } as usize;
    if size < min {
        return Err(RT_EINVAL);
    }
    let n = size.min(core::mem::size_of::<T>());
    // SAFETY: both ranges are valid for n bytes; the caller's size stays as it was.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (val as *const T as *const u8).add(4),
            (out as *mut u8).add(4),
            n - 4,
        );
    }
    Ok(())
}
