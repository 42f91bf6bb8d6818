//! Registered fds: rt_pollfd_open, rt_pollfd_wait, rt_pollfd_close (Go's pollDesc
//! model, for hosts that own their fds; rt_poll_fd is the call for any fd).

use core::ffi::c_int;

use super::errors::*;
use super::types::rt_pollfd;
use super::{boundary, code, rc};
use crate::runtime::pollfd;

/// Registers `fd` with the runtime's netpoller once (edge-triggered, for input and
/// output) and writes its handle to `*out`. Any context. A server that opens a
/// handle for each connection and waits through it makes no system call to wait:
/// the netpoller records each edge (the fd became readable or writable) in the
/// handle, and a wait that finds one it has not consumed returns at once.
///
/// The contract (docs/api.md, "Registered fds"): use the fd in non-blocking mode and
/// wait only after a read or write said EAGAIN; readiness can be stale (an edge
/// whose data was read since), so after a wait, retry the I/O and wait again on
/// EAGAIN. Close the handle (rt_pollfd_close) before closing the fd, and do not wait
/// on the fd with rt_poll_fd while the handle is open. One handle per fd.
///
/// # Safety
/// `out` is NULL or writable.
///
/// Errors: RT_EINVAL for a NULL `out`, a negative, closed or unpollable fd (a regular
/// file, a directory) or one of the runtime's own fds; RT_ENOMEM if the poller, the
/// registration (the kernel's memory or fs.epoll.max_user_watches) or the table of
/// handles cannot grow (the poller needs two fds: RT_ENOMEM without them too).
#[no_mangle]
pub unsafe extern "C" fn rt_pollfd_open(fd: c_int, out: *mut *mut rt_pollfd) -> c_int {
    boundary(|| {
        if out.is_null() {
            return RT_EINVAL;
        }
        match pollfd::open(fd) {
            Ok(h) => {
                // SAFETY: `out` is non-null (checked above) and writable (# Safety).
                unsafe { *out = h as usize as *mut rt_pollfd };
                RT_OK
            }
            Err(e) => code(e),
        }
    })
}

/// Waits until the handle's fd is ready for `events` (exactly one of RT_POLLIN and
/// RT_POLLOUT) or the timeout passes (< 0: forever; 0: don't wait). Returns `events`
/// (> 0) when ready.
///
/// From a G: an edge recorded since the last wait in that direction is consumed and
/// returned at once, with no system call; otherwise the G parks on the netpoller
/// until the next edge (its M runs other Gs); a look (timeout 0) that finds no
/// recorded edge polls the netpoller once without blocking (one system call), so
/// that it sees an edge the fd made while nobody waited. Errors and hang-ups are
/// edges in both directions (the host's read or write then reports them). One G at
/// a time may wait in each direction. From any other thread: blocks in poll(2) on
/// the fd (recorded edges are neither used nor consumed).
///
/// Readiness may be stale: retry the I/O, and wait again if it says EAGAIN.
///
/// Errors: RT_EINVAL for a bad handle (NULL, made up, closed) or bad events;
/// RT_EAGAIN for timeout 0 with nothing ready; RT_ETIMEDOUT; RT_EBUSY if another G
/// already waits in that direction; RT_ECLOSED if rt_pollfd_close closed the handle
/// during the wait; RT_ENOMEM (no memory for the timeout; from a foreign thread, no
/// fd for its wake-up eventfd; in a fork child, its re-registration failed).
#[no_mangle]
pub extern "C" fn rt_pollfd_wait(pd: *mut rt_pollfd, events: u32, timeout_ns: i64) -> c_int {
    boundary(
        || match pollfd::wait(pd as usize as u64, events, timeout_ns) {
            Ok(r) => r as c_int,
            Err(e) => code(e),
        },
    )
}

/// Forgets the edges the handle recorded so far for `events` (RT_POLLIN and/or
/// RT_POLLOUT), as Go's net package does before each read or write. Call it just
/// before the read (write) that a wait follows on EAGAIN: edges announcing data that
/// read is about to get are dropped, so the wait after an EAGAIN parks instead of
/// returning stale readiness (an extra read per wait otherwise). An edge that comes
/// during the read is kept: nothing is lost. No system call. Any context; optional.
///
/// Errors: RT_EINVAL for a bad handle or events.
#[no_mangle]
pub extern "C" fn rt_pollfd_reset(pd: *mut rt_pollfd, events: u32) -> c_int {
    boundary(|| rc(pollfd::reset(pd as usize as u64, events)))
}

/// Closes a handle: removes the fd from the netpoller, wakes the G and the threads
/// waiting on it (their waits return RT_ECLOSED) and retires the handle (any later
/// call with it is RT_EINVAL, even once a new handle reuses its slot). Any context.
/// The host closes the fd afterwards. A handle opened before fork() works in the
/// child too (its first wait there registers the fd with the child's poller), and
/// is closed there on its own.
///
/// Errors: RT_EINVAL for NULL, a made-up handle or one already closed.
#[no_mangle]
pub extern "C" fn rt_pollfd_close(pd: *mut rt_pollfd) -> c_int {
    boundary(|| rc(pollfd::close(pd as usize as u64)))
}
