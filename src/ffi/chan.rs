//! Channels and select: rt_chan_*, rt_select. They work from Gs (which park) and
//! from any other thread (which blocks on a futex), in any combination.

use core::ffi::{c_int, c_void};

use super::errors::*;
use super::types::{rt_chan, rt_select_case};
use super::{boundary, boundary_annotated, code, rc};
use crate::runtime::chan::{self, Case, Chan};
use crate::runtime::chanreg;
use crate::runtime::error::{Error, Result};
use crate::runtime::sanitizer as san;

/// The channel a host handle names, looked up in the channel registry, which reads
/// only its own table: a made-up, stale or freed handle is None, never dereferenced.
#[inline]
fn live(c: *const rt_chan) -> Option<*mut Chan> {
    chanreg::lookup(c.cast())
}

/// A send with a NULL element on a channel whose elements have a size: there is
/// nothing to send (the old code sent whatever the slot held).
#[inline]
fn no_elem(c: *mut Chan, elem: *const c_void) -> bool {
    // SAFETY: `c` is a live channel (from `live`); elem_size is fixed at make.
    elem.is_null() && unsafe { (*c).elem_size() } != 0
}

/// Makes a channel of `cap` elements of `elem_size` bytes (cap 0: unbuffered;
/// elem_size 0 is allowed, like chan struct{}, and element pointers may then be
/// NULL). Any context.
///
/// # Safety
/// `out` is NULL or writable.
///
/// The handle is checked by every call that takes it: one that is not a live channel
/// of this library (made up, or freed) gives RT_EINVAL (0 from rt_chan_len and
/// rt_chan_cap), and is never dereferenced.
///
/// Errors: RT_EINVAL for a NULL `out` or elem_size * cap overflowing size_t;
/// RT_ENOMEM if the buffer (however large) or the channel cannot be allocated.
#[no_mangle]
pub unsafe extern "C" fn rt_chan_make(
    elem_size: usize,
    cap: usize,
    out: *mut *mut rt_chan,
) -> c_int {
    boundary(|| {
        if out.is_null() {
            return RT_EINVAL;
        }
        let c = match chan::make(elem_size, cap) {
            Ok(c) => c,
            Err(e) => return code(e),
        };
        match chanreg::register(c) {
            Ok(h) => {
                // SAFETY: `out` is non-null (checked above) and writable (our # Safety).
                unsafe { *out = h.cast() };
                RT_OK
            }
            Err(e) => {
                // SAFETY: just made, never published: nobody else has it.
                let _ = unsafe { chan::free(c) };
                code(e)
            }
        }
    })
}

/// Frees a channel nobody waits on (buffered elements are dropped). Any context.
/// Its handle is retired: any later call with it, even after a new channel reused the
/// channel's memory, gives RT_EINVAL (handles carry a generation that comes back only
/// after 2^31 reuses of one registry slot). Using a handle while another thread frees
/// it is the caller's bug and is not detected.
///
/// Errors: RT_EINVAL for NULL, not a channel, or already freed; RT_EBUSY while a
/// sender or receiver waits on it.
#[no_mangle]
pub extern "C" fn rt_chan_free(c: *mut rt_chan) -> c_int {
    boundary(|| {
        // SAFETY: the registry hands `free` only the live channel the handle names, under
        // its lock (so no second free of the handle runs meanwhile); the caller gives
        // the channel up, and chan::free refuses while anyone waits on it.
        rc(chanreg::unregister(c.cast(), |ch| unsafe {
            chan::free(ch)
        }))
    })
}

/// Sends the element at `elem` (elem_size bytes, copied): to a waiting receiver
/// directly, else into the buffer, else waits (a G parks, any other thread blocks).
///
/// # Safety
/// `elem` is NULL or points at elem_size readable bytes.
///
/// Errors: RT_EINVAL for a bad channel, or a NULL `elem` when elem_size is not 0;
/// RT_ECLOSED if it is or gets closed.
#[no_mangle]
pub unsafe extern "C" fn rt_chan_send(c: *mut rt_chan, elem: *const c_void) -> c_int {
    boundary_annotated(|| match live(c) {
        Some(c) if no_elem(c, elem) => RT_EINVAL,
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel;
        // `elem` is readable for elem_size (our # Safety), as chan::send requires.
        Some(c) => rc(san_send(c, || unsafe { chan::send(c, elem.cast(), true) })),
        None => RT_EINVAL,
    })
}

/// Receives into `elem` (elem_size bytes): from the buffer, else from a waiting
/// sender, else waits. Once the channel is closed and drained: RT_ECLOSED with
/// `elem` zeroed.
///
/// `elem` may be NULL: the element is received and dropped (Go's `<-c`).
///
/// # Safety
/// `elem` is NULL or points at elem_size writable bytes.
///
/// Errors: RT_EINVAL for a bad channel; RT_ECLOSED.
#[no_mangle]
pub unsafe extern "C" fn rt_chan_recv(c: *mut rt_chan, elem: *mut c_void) -> c_int {
    boundary_annotated(|| match live(c) {
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel;
        // `elem` is writable for elem_size (our # Safety), as chan::recv requires.
        Some(c) => rc(san_recv(c, || unsafe { chan::recv(c, elem.cast(), true) })),
        None => RT_EINVAL,
    })
}

/// rt_chan_send that never waits: RT_EAGAIN if it would.
///
/// # Safety
/// As rt_chan_send.
#[no_mangle]
pub unsafe extern "C" fn rt_chan_trysend(c: *mut rt_chan, elem: *const c_void) -> c_int {
    boundary_annotated(|| match live(c) {
        Some(c) if no_elem(c, elem) => RT_EINVAL,
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel; `elem` is
        // readable for elem_size (our # Safety, as rt_chan_send's).
        Some(c) => rc(san_send(c, || unsafe { chan::send(c, elem.cast(), false) })),
        None => RT_EINVAL,
    })
}

/// rt_chan_recv that never waits: RT_EAGAIN if it would.
///
/// # Safety
/// As rt_chan_recv.
#[no_mangle]
pub unsafe extern "C" fn rt_chan_tryrecv(c: *mut rt_chan, elem: *mut c_void) -> c_int {
    boundary_annotated(|| match live(c) {
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel; `elem` is
        // writable for elem_size (our # Safety, as rt_chan_recv's).
        Some(c) => rc(san_recv(c, || unsafe { chan::recv(c, elem.cast(), false) })),
        None => RT_EINVAL,
    })
}

/// Closes the channel: waiting receivers get a zeroed element and RT_ECLOSED,
/// waiting senders RT_ECLOSED; buffered elements can still be received. Any context.
///
/// Errors: RT_EINVAL for a bad channel; RT_ECLOSED if already closed.
#[no_mangle]
pub extern "C" fn rt_chan_close(c: *mut rt_chan) -> c_int {
    boundary_annotated(|| match live(c) {
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel.
        Some(c) => {
            // TSan: a receive that sees the close comes after what closed it; the
            // zeroing of the waiting receivers' elements is hidden, as a send's copy.
            san::release(san::Edge::Chan, san::chan_send_key(c.cast()));
            san::ignore_begin();
            // SAFETY: `live` found `c` in the registry: a live channel.
            let r = unsafe { chan::close(c) };
            san::ignore_end();
            rc(r)
        }
        None => RT_EINVAL,
    })
}

/// Elements in the buffer (0 for NULL or not a channel). Any context.
#[no_mangle]
pub extern "C" fn rt_chan_len(c: *const rt_chan) -> usize {
    boundary(|| match live(c) {
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel.
        Some(c) => unsafe { (*c).len() },
        None => 0,
    })
}

/// The buffer's capacity (0 for NULL or not a channel). Any context.
#[no_mangle]
pub extern "C" fn rt_chan_cap(c: *const rt_chan) -> usize {
    boundary(|| match live(c) {
        // SAFETY: `live` found `c` in the channel registry, so it is a live channel.
        Some(c) => unsafe { (*c).cap() },
        None => 0,
    })
}

/// Go's select over `n` cases: proceeds with one ready case, chosen uniformly at
/// random among the ready ones, and returns its index, with `result` set on that
/// case (RT_OK, or RT_ECLOSED when its channel was closed: a receive then zeroes
/// `elem`; a send proceeds with RT_ECLOSED instead of Go's panic). If none is ready:
/// timeout 0 returns RT_EAGAIN, else waits (< 0: forever) and returns RT_ETIMEDOUT
/// when the time is up. A case with a NULL channel never proceeds (its `dir` must
/// still be RT_SEND or RT_RECV). A G parks; any other thread blocks.
///
/// `n` is checked before any case is read: at most 65536 cases (Go's limit), else
/// RT_EINVAL. Then every case's direction and channel handle, and that a send case
/// has an element (unless elem_size is 0), are checked before anything happens. A
/// receive case's `elem` may be NULL: the element is dropped.
///
/// # Safety
/// `cases` points at `n` cases (when `n` is within the limit) whose `elem`s are
/// NULL or valid for their channel's element size. Channel handles are checked.
///
/// Errors: RT_EINVAL for NULL cases, n = 0, n > 65536, a bad direction (on any
/// case, a NULL channel's included), a bad channel, or a send case with a NULL
/// `elem` on a channel whose elem_size is not 0; RT_EAGAIN; RT_ETIMEDOUT;
/// RT_ENOMEM (also when a G's timeout cannot be armed for lack of memory: then no
/// case proceeded and nothing is left waiting on the channels). Timeouts need no
/// file descriptors.
#[no_mangle]
pub unsafe extern "C" fn rt_select(cases: *mut rt_select_case, n: usize, timeout_ns: i64) -> c_int {
    boundary_annotated(|| {
        // (chan::select checks `n` before it reads any case, then every case's
        // direction and channel, the channels through the registry.)
        let resolve = |h: *mut Chan| live(h as *const rt_chan);
        let cs = cases.cast::<Case>();
        // SAFETY: as for select below; san_select_before checks n as select does.
        let san = san::tsan() && unsafe { san_select_before(cs, n) };
        // SAFETY: rt_select_case and Case have the same layout (asserted below), so
        // `cases` is `n` Cases as our # Safety describes; `chan` there is a host
        // handle, turned into a channel only by `resolve`, i.e. the registry.
        let r = unsafe { chan::select(cs, n, timeout_ns, &resolve) };
        if san {
            // SAFETY: select accepted `n` (san_select_before did): i < n.
            unsafe { san_select_after(cs, &r) };
        }
        match r {
            Ok((i, closed)) => {
                // SAFETY: i < n: one of the caller's cases.
                unsafe { (*cases.add(i)).result = if closed { RT_ECLOSED } else { RT_OK } };
                i.min(c_int::MAX as usize) as c_int
            }
            Err(e) => code(e),
        }
    })
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<rt_select_case>() == size_of::<Case>());
    assert!(offset_of!(rt_select_case, chan) == offset_of!(Case, chan));
    assert!(offset_of!(rt_select_case, dir) == offset_of!(Case, dir));
    assert!(offset_of!(rt_select_case, elem) == offset_of!(Case, elem));
    assert!(offset_of!(rt_select_case, result) == offset_of!(Case, result));
    assert!(super::consts::RT_SEND == chan::SEND && super::consts::RT_RECV == chan::RECV);
};

// ---- TSan's view of a channel operation (see runtime::sanitizer) ----
// The sending side releases on the channel's send key before it starts, the receiving
// side acquires there once it got a value or saw the close; the other way round on the
// receive key (a receive comes before the completion of the send it takes). The
// copies in between are hidden from TSan: they are the hand-off the edges describe.
// Without TSan each helper is the operation alone.

#[inline(always)]
fn san_send(c: *mut Chan, op: impl FnOnce() -> Result<()>) -> Result<()> {
    if !san::tsan() {
        return op();
    }
    san::release(san::Edge::Chan, san::chan_send_key(c.cast()));
    san::ignore_begin();
    let r = op();
    san::ignore_end();
    if r.is_ok() {
        san::acquire(san::Edge::Chan, san::chan_recv_key(c.cast()));
    }
    r
}

#[inline(always)]
fn san_recv(c: *mut Chan, op: impl FnOnce() -> Result<()>) -> Result<()> {
    if !san::tsan() {
        return op();
    }
    san::release(san::Edge::Chan, san::chan_recv_key(c.cast()));
    san::ignore_begin();
    let r = op();
    san::ignore_end();
    if matches!(r, Ok(()) | Err(Error::Closed)) {
        san::acquire(san::Edge::Chan, san::chan_send_key(c.cast()));
    }
    r
}

/// Before a select: releases on each case's channel as its direction says, then hides
/// the copies. Returns false (and does nothing) for what select refuses unread.
///
/// # Safety
/// As rt_select: `cases` points at `n` cases if `n` passes select's own check.
#[cold]
unsafe fn san_select_before(cases: *mut Case, n: usize) -> bool {
    if cases.is_null() || n == 0 || n > chan::MAX_SELECT_CASES {
        return false;
    }
    for i in 0..n {
        // SAFETY: i < n, a count select accepts: one of the cases the caller lends.
        let (h, dir) = unsafe { ((*cases.add(i)).chan, (*cases.add(i)).dir) };
        if let Some(c) = live(h as *const rt_chan) {
            san::release(
                san::Edge::Chan,
                if dir == chan::SEND {
                    san::chan_send_key(c.cast())
                } else {
                    san::chan_recv_key(c.cast())
                },
            );
        }
    }
    san::ignore_begin();
    true
}

/// After a select that [`san_select_before`] annotated: acquires on the chosen case's
/// channel.
///
/// # Safety
/// `cases` as for san_select_before; `r` is what select returned for them.
#[cold]
unsafe fn san_select_after(cases: *mut Case, r: &Result<(usize, bool)>) {
    san::ignore_end();
    if let Ok((i, _)) = *r {
        // SAFETY: select chose case i < n, one of the caller's.
        let (h, dir) = unsafe { ((*cases.add(i)).chan, (*cases.add(i)).dir) };
        if let Some(c) = live(h as *const rt_chan) {
            san::acquire(
                san::Edge::Chan,
                if dir == chan::SEND {
                    san::chan_recv_key(c.cast())
                } else {
                    san::chan_send_key(c.cast())
                },
            );
        }
    }
}
