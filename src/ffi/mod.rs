//! The exported C ABI. Every `rt_*` function lives here and nowhere else; each one
//! checks its arguments, calls into `runtime`, maps the result to an `RT_*` code, and
//! runs inside [`boundary`], the one place that catches panics (and aborts on them:
//! a panic is a bug in libmrt).
//!
//! cbindgen reads these files to write `include/mrt.h`: the `///` comments here are
//! the header's documentation.

pub mod chan;
pub mod consts;
pub mod errors;
pub mod g;
pub mod m;
pub mod p;
pub mod pollfd;
pub mod runtime;
pub mod sync;
pub mod types;

use crate::runtime::error::{Error, Result};

/// The FFI boundary: runs `f`. A panic inside is a libmrt bug: it is reported as
/// `libmrt: fatal error: panic: ...` with the state dump, and the process aborts (Go's
/// `throw`); it never unwinds into C and never becomes an error code. Under TSan the
/// call runs as runtime code (`sanitizer::runtime_call`).
///
/// It also marks the calling G as inside libmrt for the call (a count on the G), so
/// that the asynchronous preemption signal never stops a G inside the runtime,
/// wherever its PC is (libc, a sanitizer's hooks): see `runtime::preempt`.
#[inline]
pub fn boundary<R>(f: impl FnOnce() -> R) -> R {
    let _mark = crate::runtime::preempt::RuntimeMark::enter();
    crate::runtime::no_unwind(|| crate::runtime::sanitizer::runtime_call(f))
}

/// [`boundary`] for the entry points that hide their runtime work from TSan
/// themselves (the channel operations, whose TSan path annotates the hand-off around
/// it): one test of the sanitizer flag on their path, not two. Marks the G as inside
/// libmrt as [`boundary`] does.
#[inline]
pub fn boundary_annotated<R>(f: impl FnOnce() -> R) -> R {
    let _mark = crate::runtime::preempt::RuntimeMark::enter();
    crate::runtime::no_unwind(f)
}

pub use errors::{code, rc};

/// Writes `val` into a caller's size-versioned struct (`size` is its first field,
/// a u32): at most `out->size` bytes, never fewer than `min` (the end of the first
/// field after `size`). A larger size than we know is accepted.
///
/// # Safety
/// `out` is null or points at least `out->size` writable bytes.
pub unsafe fn write_sized<T>(out: *mut T, val: &T, min: usize) -> Result<()> {
    if out.is_null() {
        return Err(Error::Inval);
    }
    // SAFETY: out points at a struct whose first field is the u32 size.
    let size = unsafe { (out as *const u32).read_unaligned() } as usize;
    if size < min {
        return Err(Error::Inval);
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

#[cfg(test)]
mod tests {
    use super::boundary;

    /// Runs `f` in a forked child with stderr on a pipe; returns the child's wait
    /// status and what it wrote to stderr.
    fn in_child(f: fn()) -> (i32, String) {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two fds.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child only runs `f` and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: in the child: point stderr at the pipe, run, leave.
            unsafe {
                libc::dup2(fds[1], 2);
                f();
                libc::_exit(0);
            }
        }
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(fds[1]) };
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a local buffer.
            let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe {
            libc::close(fds[0]);
            libc::waitpid(pid, &mut status, 0);
        }
        (status, String::from_utf8_lossy(&out).into_owned())
    }

    /// The boundary used to turn a panic inside the runtime into RT_EINTERNAL and
    /// carry on with whatever state the panic left half-changed (a timer heap's bounds
    /// check became a SIGSEGV in the host that way). A panic is a bug: it must print
    /// the fatal line and abort.
    #[test]
    fn panic_inside_the_runtime_aborts_with_a_fatal_error_not_an_error_code() {
        let (status, err) = in_child(|| {
            let rc: i32 = boundary(|| panic!("index out of bounds in a test"));
            // Only reached if the panic became an error code.
            // SAFETY: leaves the forked child at once, as it would after the abort.
            unsafe { libc::_exit(if rc == 0 { 3 } else { 4 }) };
        });
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
            "child status {status:#x}, stderr: {err}"
        );
        assert!(
            err.contains("libmrt: fatal error: panic: index out of bounds in a test"),
            "stderr: {err}"
        );
    }

    /// The negative control: a call that does not panic returns its value.
    #[test]
    fn boundary_returns_the_value_when_nothing_panics() {
        assert_eq!(boundary(|| 7), 7);
        let (status, _) = in_child(|| {
            let _: i32 = boundary(|| 0);
        });
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
