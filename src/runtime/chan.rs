//! Channels and select (Go's chan.go and select.go).
//!
//! A channel is Go's hchan: a lock, a ring buffer of `cap` elements, and two queues
//! of waiters (sudogs): senders blocked with an element to give, receivers blocked
//! with a slot to fill. A send to a waiting receiver copies the element straight
//! into the receiver's slot; a receive from a full buffer with a waiting sender
//! takes the head element and moves the sender's element into the freed tail slot.
//!
//! Waiters are Gs (they park; the channel lock is released on g0 after the G is
//! marked waiting) or threads outside any G (they block on a futex in their
//! sudog). A sudog lives on the waiter's stack. A select enqueues one sudog per case
//! and all of them share a `done` word: whoever sets it first (a counterpart, a
//! close, the timeout) owns the select's outcome; the others find it set and pass
//! over that sudog.

use super::atomic::{AtomicU32, Ordering};
use core::ffi::c_void;
use core::ptr;

use super::error::{Error, Result};
use super::g::{self, G};
use super::note::{futex_wait, futex_wake, unlock_raw, Guard, Lock, Mutex};
use super::scratch::Scratch;
use super::time::nanotime;
use super::{sched, timer, tls};

/// A select case's direction (the values of rt_select_case's `dir`).
pub(crate) const SEND: i32 = 1;
pub(crate) const RECV: i32 = 2;

/// A blocked sender or receiver (Go's sudog).
pub struct Sudog {
    next: *mut Sudog,
    prev: *mut Sudog,
    /// The parked G, or null for a blocked thread.
    g: *mut G,
    /// The element to send, or the slot to receive into (null for elem_size 0).
    elem: *mut u8,
    /// For selects: the shared outcome word (0: undecided), else null.
    done: *const AtomicU32,
    /// Which select case this sudog stands for.
    case: u32,
    /// Set by the counterpart: true if a value moved, false if the channel closed.
    success: bool,
    /// A thread waiter blocks on this word until it is 1 (all sudogs of a thread's
    /// select share one).
    key: *const AtomicU32,
}

impl Sudog {
    fn new(
        g: *mut G,
        elem: *mut u8,
        done: *const AtomicU32,
        case: u32,
        key: *const AtomicU32,
    ) -> Sudog {
        Sudog {
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            g,
            elem,
            done,
            case,
            success: false,
            key,
        }
    }
}

/// `done` values of a select: undecided, decided by case i (i + CASE0), timed out,
/// or given up because its timer could not be queued (no memory).
const UNDECIDED: u32 = 0;
const TIMEDOUT: u32 = 1;
const NOTIMER: u32 = 2;
const CASE0: u32 = 3;

#[derive(Default)]
struct WaitQ {
    first: *mut Sudog,
    last: *mut Sudog,
}

impl WaitQ {
    fn is_empty(&self) -> bool {
        self.first.is_null()
    }

    fn enqueue(&mut self, s: *mut Sudog) {
        // SAFETY: s is a live sudog not on any queue; queued ones are live.
        unsafe {
            (*s).next = ptr::null_mut();
            (*s).prev = self.last;
            if self.last.is_null() {
                self.first = s;
            } else {
                (*self.last).next = s;
            }
        }
        self.last = s;
    }

    fn unlink(&mut self, s: *mut Sudog) {
        // SAFETY: s is on this queue.
        unsafe {
            let (p, n) = ((*s).prev, (*s).next);
            if p.is_null() {
                self.first = n;
            } else {
                (*p).next = n;
            }
            if n.is_null() {
                self.last = p;
            } else {
                (*n).prev = p;
            }
            (*s).next = ptr::null_mut();
            (*s).prev = ptr::null_mut();
        }
    }

    /// Removes `s` if it is on this queue.
    fn remove(&mut self, s: *mut Sudog) {
        let mut x = self.first;
        while !x.is_null() {
            if x == s {
                self.unlink(s);
                return;
            }
            // SAFETY: queued sudogs are live.
            x = unsafe { (*x).next };
        }
    }

    /// The first waiter that can still proceed; select waiters whose select was
    /// decided elsewhere are dropped on the way (Go's dequeue).
    fn dequeue(&mut self) -> *mut Sudog {
        loop {
            let s = self.first;
            if s.is_null() {
                return s;
            }
            self.unlink(s);
            // SAFETY: s was queued, hence live.
            let done = unsafe { (*s).done };
            if done.is_null() {
                return s;
            }
            // SAFETY: a select's done word lives on its stack while it waits.
            let case = unsafe { (*s).case };
            if unsafe { &*done }
                .compare_exchange(UNDECIDED, CASE0 + case, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return s;
            }
        }
    }
}

/// A channel (Go's hchan). What never changes after make is outside the lock;
/// everything else is in [`ChanState`], reachable only through the lock, so that two
/// senders can never both hold a `&mut` of it.
///
/// Invariants (under the lock), as Go's: at least one of `sendq` and `recvq` is
/// empty, except for a select that waits on both sides of one channel; a buffered
/// channel with waiting receivers has an empty buffer, one with waiting senders a
/// full buffer; once `closed`, no sudog is enqueued and both queues drain.
///
/// The host never sees a Chan's address: it holds a handle of the channel registry
/// (`chanreg`), which is how a bad handle is told apart without reading it.
///
/// Cache-line aligned, the lock first: the lock word and the hot part of the state
/// share the first line wherever the allocator places the channel (before, the
/// compiler's field order and malloc's placement decided whether an operation moved
/// one line between two cores or two).
#[repr(C, align(64))]
pub struct Chan {
    state: Lock<ChanState>,
    /// Fixed at make.
    cap: usize,
    elem_size: usize,
}

/// A channel's changing state, guarded by its lock.
///
/// Laid out for a sender and a receiver on two cores (see [`Chan`]): what every
/// operation writes or tests (the counts and indices, the buffer, the queue heads)
/// first, so that with the lock word it fills the channel's first cache line and an
/// operation moves one line between the cores, not two; what is only read (the
/// sizes, `closed`) or written when a waiter queues (`sendq.last`) after it.
#[repr(C)]
struct ChanState {
    /// Elements in the buffer, next slot to send into, next to receive from.
    qcount: usize,
    sendx: usize,
    recvx: usize,
    buf: *mut u8,
    recvq: WaitQ,
    sendq: WaitQ,
    elem_size: usize,
    cap: usize,
    closed: bool,
    /// Selects between enqueueing on this channel and removing their sudogs again:
    /// they touch it after being woken, so rt_chan_free refuses meanwhile.
    refs: usize,
}

// SAFETY: the buffer and the sudogs it points at are touched only under the lock.
unsafe impl Send for ChanState {}

// The hot part of the state (up to `sendq.first`) shares the channel's first cache
// line with the lock word, which takes the first 8 bytes of the Lock (loom's
// mutex is larger; the layout does not matter there).
#[cfg(not(loom))]
const _: () =
    assert!(8 + core::mem::offset_of!(ChanState, sendq) + core::mem::size_of::<*mut Sudog>() <= 64);

/// rt_chan_make.
///
/// Error::Inval if `elem_size * cap` overflows (no such buffer can exist); any other
/// size is asked of the allocator, and a buffer it cannot give is Error::NoMem.
pub fn make(elem_size: usize, cap: usize) -> Result<*mut Chan> {
    let bytes = elem_size.checked_mul(cap).ok_or(Error::Inval)?;
    if bytes > isize::MAX as usize {
        // No allocation can be that large (Rust's and glibc's limit): memory, not
        // arithmetic, is what is missing.
        return Err(Error::NoMem);
    }
    let buf = if bytes == 0 {
        ptr::null_mut()
    } else {
        // SAFETY: a plain allocation; null on failure.
        let p = unsafe { libc::calloc(1, bytes) } as *mut u8;
        if p.is_null() {
            return Err(Error::NoMem);
        }
        p
    };
    let c = Chan {
        cap,
        elem_size,
        state: Lock::new(ChanState {
            elem_size,
            cap,
            buf,
            qcount: 0,
            sendx: 0,
            recvx: 0,
            closed: false,
            recvq: WaitQ::default(),
            sendq: WaitQ::default(),
            refs: 0,
        }),
    };
    match super::try_box(c) {
        Ok(p) => Ok(p),
        Err(e) => {
            // SAFETY: ours, unshared.
            unsafe { libc::free(buf.cast()) };
            Err(e)
        }
    }
}

/// rt_chan_free: refuses while anyone waits.
///
/// # Safety
/// `c` came from `make` and is not used after a successful free.
pub unsafe fn free(c: *mut Chan) -> Result<()> {
    // SAFETY: `c` came from `make` (the # Safety contract), so it is a live boxed Chan;
    // it is freed only at the end, after the last use of `ch`.
    let ch = unsafe { &*c };
    let buf = {
        let st = ch.state.lock();
        if !st.recvq.is_empty() || !st.sendq.is_empty() || st.refs != 0 {
            return Err(Error::Busy);
        }
        st.buf
    };
    // SAFETY: nobody waits and the caller gives the channel up.
    unsafe {
        libc::free(buf.cast());
        super::free_box(c);
    }
    Ok(())
}

impl Chan {
    pub fn len(&self) -> usize {
        self.state.lock().qcount
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The element size, fixed at make (read without the lock).
    pub fn elem_size(&self) -> usize {
        self.elem_size
    }
}

impl ChanState {
    /// The ring index after `i` (< cap): a compare, not a division, which would
    /// lengthen every buffered operation's time under the lock.
    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.cap {
            0
        } else {
            i + 1
        }
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // SAFETY: i < cap, inside the buffer.
        unsafe { self.buf.add(i * self.elem_size) }
    }

    /// Copies one element. The common sizes (a word, two words) are one load and one
    /// store in line rather than a call to memcpy, which would cost more than the
    /// copy on the hand-off path.
    #[inline(always)]
    fn copy(&self, dst: *mut u8, src: *const u8) {
        if dst.is_null() || src.is_null() {
            return;
        }
        // SAFETY: both point at elem_size bytes (caller's element, buffer slot), which
        // do not overlap; no alignment is assumed.
        unsafe {
            match self.elem_size {
                0 => {}
                8 => dst
                    .cast::<u64>()
                    .write_unaligned(src.cast::<u64>().read_unaligned()),
                16 => dst
                    .cast::<u128>()
                    .write_unaligned(src.cast::<u128>().read_unaligned()),
                n => ptr::copy_nonoverlapping(src, dst, n),
            }
        }
    }

    #[inline(always)]
    fn zero(&self, dst: *mut u8) {
        if dst.is_null() {
            return;
        }
        // SAFETY: dst points at elem_size writable bytes; no alignment is assumed.
        unsafe {
            match self.elem_size {
                0 => {}
                8 => dst.cast::<u64>().write_unaligned(0),
                n => ptr::write_bytes(dst, 0, n),
            }
        }
    }

    /// A send that does not block. Some(result, waiter to wake) if it completed.
    #[inline(always)]
    fn try_send(&mut self, elem: *const u8) -> Option<(Result<()>, *mut Sudog)> {
        if self.closed {
            return Some((Err(Error::Closed), ptr::null_mut()));
        }
        let r = self.recvq.dequeue();
        if !r.is_null() {
            // SAFETY: a dequeued receiver is live until woken.
            unsafe {
                self.copy((*r).elem, elem);
                (*r).success = true;
            }
            return Some((Ok(()), r));
        }
        if self.qcount < self.cap {
            self.copy(self.slot(self.sendx), elem);
            self.sendx = self.next(self.sendx);
            self.qcount += 1;
            return Some((Ok(()), ptr::null_mut()));
        }
        None
    }

    /// A receive that does not block.
    #[inline(always)]
    fn try_recv(&mut self, elem: *mut u8) -> Option<(Result<()>, *mut Sudog)> {
        let s = self.sendq.dequeue();
        if !s.is_null() {
            // SAFETY: a dequeued sender is live until woken.
            unsafe {
                if self.cap == 0 {
                    self.copy(elem, (*s).elem);
                } else {
                    // Full buffer: take the head, put the sender's element at the tail
                    // (which is the same slot).
                    self.copy(elem, self.slot(self.recvx));
                    self.copy(self.slot(self.recvx), (*s).elem);
                    self.recvx = self.next(self.recvx);
                    self.sendx = self.recvx;
                }
                (*s).success = true;
            }
            return Some((Ok(()), s));
        }
        if self.qcount > 0 {
            self.copy(elem, self.slot(self.recvx));
            self.zero(self.slot(self.recvx));
            self.recvx = self.next(self.recvx);
            self.qcount -= 1;
            return Some((Ok(()), ptr::null_mut()));
        }
        if self.closed {
            self.zero(elem);
            return Some((Err(Error::Closed), ptr::null_mut()));
        }
        None
    }

    /// `dir`'s operation without blocking.
    #[inline]
    fn try_op(&mut self, dir: i32, elem: *mut u8) -> Option<(Result<()>, *mut Sudog)> {
        if dir == SEND {
            self.try_send(elem)
        } else {
            self.try_recv(elem)
        }
    }

    /// The queue of waiters for `dir`.
    #[inline]
    fn waitq(&mut self, dir: i32) -> &mut WaitQ {
        if dir == SEND {
            &mut self.sendq
        } else {
            &mut self.recvq
        }
    }
}

/// Wakes a waiter whose outcome has been written. After this its sudog may be gone.
fn wake(s: *mut Sudog) {
    if s.is_null() {
        return;
    }
    // SAFETY: the sudog is live until its owner sees the wakeup.
    unsafe {
        let g = (*s).g;
        if g.is_null() {
            let key = &*(*s).key;
            key.store(1, Ordering::Release);
            // The waiter may return (and the word die) right after the store;
            // waking a futex address nobody waits on is harmless.
            futex_wake(key, 1);
        } else if sched::ready_dequeued(g).is_err() {
            super::throw("chan: woken G was not parked");
        }
    }
}

/// Blocks the caller (G `g`, or the thread if null, on `key`) until a counterpart
/// wakes it. The channel locks in `locks` are held on entry and released once the
/// caller can no longer miss its wakeup. `deadline` (nanotime, < 0: none) bounds the
/// wait; `done` (a select's outcome word) then decides between the timeout and a
/// counterpart. Returns false if the timeout won.
fn block(
    g: *mut G,
    key: &AtomicU32,
    locks: &[*const Mutex],
    deadline: i64,
    done: *const AtomicU32,
) -> bool {
    if g.is_null() {
        for &l in locks {
            // SAFETY: the caller holds these locks (Guard::into_raw on this thread).
            unsafe { unlock_raw(l) };
        }
        loop {
            if key.load(Ordering::Acquire) != 0 {
                return true;
            }
            let left = if deadline < 0 {
                -1
            } else {
                deadline - nanotime()
            };
            if deadline >= 0 && left <= 0 {
                // SAFETY: a deadline comes with a select's done word.
                let d = unsafe { &*done };
                if d.compare_exchange(UNDECIDED, TIMEDOUT, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    return false;
                }
                // A counterpart won the race: its wakeup is on the way.
                while key.load(Ordering::Acquire) == 0 {
                    futex_wait(key, 0, -1);
                }
                return true;
            }
            futex_wait(key, 0, left);
        }
    }
    let mut park = ParkArgs {
        locks,
        timer: None,
        deadline,
        done,
        g,
    };
    let arg = (&mut park as *mut ParkArgs).cast();
    if deadline < 0 {
        // Without a timer the callback only releases the locks: it may run on the G
        // this one switches to directly.
        sched::gopark_direct(park_commit, arg);
    } else {
        sched::gopark(Some(park_commit), arg);
    }
    if let Some(t) = park.timer.as_mut() {
        // SAFETY: our timer (maybe still in a heap).
        unsafe { timer::del(t) };
    }
    // SAFETY: `done` is non-null here, so it is the calling select's outcome word,
    // which lives in that select's frame until block returns.
    done.is_null() || unsafe { (*done).load(Ordering::Acquire) } != TIMEDOUT
}

struct ParkArgs<'a> {
    locks: &'a [*const Mutex],
    timer: Option<timer::Timer>,
    deadline: i64,
    done: *const AtomicU32,
    g: *mut G,
}

/// Once the G is marked waiting (on g0, or without a deadline on the G it switched to):
/// arm the timeout, then release the channels.
///
/// Once the timer is in a heap it may fire on another M and resume the G, whose
/// frame holds the ParkArgs: so everything needed later is read out first. The lock
/// list itself stays valid: a select resumed by its timeout takes every one of these
/// locks again before it returns, so it waits for the last unlock below, and the
/// list is not read after that unlock. (A plain send or receive has no timer and is
/// only woken by a counterpart holding its one lock.)
unsafe extern "C" fn park_commit(_g: *mut G, arg: *mut c_void) -> bool {
    let a = arg as *mut ParkArgs;
    // SAFETY: arg is the parked G's ParkArgs; nothing can resume the G yet.
    let (locks, deadline) = unsafe { ((*a).locks as *const [*const Mutex], (*a).deadline) };
    if deadline >= 0 {
        // SAFETY: `a` is the parked G's ParkArgs, and nothing can resume the G before
        // the timer is added below, so this write to its `timer` is the only access.
        let t: *mut timer::Timer = unsafe {
            (*a).timer
                .insert(timer::Timer::new(deadline, select_timeout, arg))
        };
        let m = tls::getm();
        // SAFETY: g0 of an M holding a P; the timer lives in the parked G's frame.
        let queued = unsafe { timer::add((*m).p(), t) };
        if !queued {
            // No memory for the heap: the select gives up with RT_ENOMEM. We hold
            // every channel lock, so no counterpart has touched the done word; decide
            // it now, and any counterpart that finds a sudog after the unlocks loses
            // its race and leaves the G alone (it resumes at once, not through
            // ready). The select then dequeues its sudogs as after a timeout.
            // SAFETY: `a` is the parked G's ParkArgs (as above), and `done` is its
            // select's outcome word (a deadline comes only with one), live in that
            // frame while the G stays parked, which it does until we return.
            unsafe { (*(*a).done).store(NOTIMER, Ordering::Release) };
        }
        if queued {
            super::sched::wake_netpoller(deadline);
        }
        // SAFETY: `locks` is the list the parking G holds on this M (read above).
        unsafe { unlock_all(locks) };
        return queued;
    }
    // SAFETY: `locks` is the list of channel locks the parking G holds on this M,
    // read out of its ParkArgs above while nothing could resume it.
    unsafe { unlock_all(locks) };
    true
}

/// Releases the locks a parking G held (park_commit's last step).
///
/// # Safety
/// `locks` points at the list of mutexes the parking G holds on this M; it is read
/// only while the lock its entry names is held.
unsafe fn unlock_all(locks: *const [*const Mutex]) {
    for i in 0..locks.len() {
        // SAFETY: the parking G held them (Guard::into_raw on this M, whose g0 we
        // are: our contract); entry i is read while lock i is held.
        unsafe { unlock_raw(*(locks as *const *const Mutex).add(i)) };
    }
}

/// The timeout of a select: wins its done word; then its G is to be readied.
unsafe fn select_timeout(t: *mut timer::Timer) -> *mut G {
    // SAFETY: the timer's arg is the ParkArgs of a G parked in select.
    let a = unsafe { &*((*t).arg as *const ParkArgs) };
    // SAFETY: the done word lives in the parked select's frame.
    if unsafe { &*a.done }
        .compare_exchange(UNDECIDED, TIMEDOUT, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        a.g
    } else {
        ptr::null_mut()
    }
}

/// rt_chan_send / rt_chan_trysend.
///
/// # Safety
/// `c` is a live channel; `elem` points at elem_size readable bytes (or is null for
/// elem_size 0).
pub unsafe fn send(c: *mut Chan, elem: *const u8, block_ok: bool) -> Result<()> {
    // SAFETY: our contract is op's for SEND: `c` is live and `elem` is readable for
    // elem_size; op only reads through `elem` for a send (try_send takes *const).
    unsafe { op(c, elem as *mut u8, SEND, block_ok) }
}

/// rt_chan_recv / rt_chan_tryrecv.
///
/// # Safety
/// `c` is a live channel; `elem` points at elem_size writable bytes (or is null for
/// elem_size 0).
pub unsafe fn recv(c: *mut Chan, elem: *mut u8, block_ok: bool) -> Result<()> {
    // SAFETY: our contract is op's for RECV: `c` is live and `elem` is writable for
    // elem_size.
    unsafe { op(c, elem, RECV, block_ok) }
}

/// A send or a receive: at once if a counterpart or the buffer allows, else (if
/// allowed) queued as a sudog until a counterpart or a close completes it.
///
/// # Safety
/// As `send` / `recv` for `dir`.
unsafe fn op(c: *mut Chan, elem: *mut u8, dir: i32, block_ok: bool) -> Result<()> {
    sched::preempt_point();
    // SAFETY: `c` is a live channel (send/recv's contract, which op inherits), so it is
    // a valid Chan for this call.
    let ch = unsafe { &*c };
    let mut st = ch.state.lock();
    if let Some((r, s)) = st.try_op(dir, elem) {
        drop(st);
        wake(s);
        return r;
    }
    if !block_ok {
        return Err(Error::Again);
    }
    let key = AtomicU32::new(0);
    let gp = g::curg();
    let mut s = Sudog::new(gp, elem, ptr::null(), 0, &key);
    st.waitq(dir).enqueue(&mut s);
    let why = if dir == SEND {
        g::WaitReason::ChanSend
    } else {
        g::WaitReason::ChanRecv
    };
    g::set_wait(gp, why, c as u64);
    // The lock stays held until the waiter cannot miss its wakeup (see block).
    block(gp, &key, &[st.into_raw()], -1, ptr::null());
    // Once woken, the channel may already be freed: only our sudog tells the
    // outcome (a close zeroed a receiver's element before waking it).
    if s.success {
        Ok(())
    } else {
        Err(Error::Closed)
    }
}

/// rt_chan_close: wakes every waiter (receivers get zero and Error::Closed, senders
/// Error::Closed).
///
/// # Safety
/// `c` is a live channel.
pub unsafe fn close(c: *mut Chan) -> Result<()> {
    // SAFETY: `c` is a live channel (the # Safety contract), so it is a valid Chan for
    // this call.
    let ch = unsafe { &*c };
    let mut st = ch.state.lock();
    if st.closed {
        return Err(Error::Closed);
    }
    st.closed = true;
    // Detach every waiter that can still be woken; wake them after unlocking.
    let mut list: *mut Sudog = ptr::null_mut();
    for dir in [RECV, SEND] {
        loop {
            let s = st.waitq(dir).dequeue();
            if s.is_null() {
                break;
            }
            // SAFETY: a dequeued waiter is live until woken.
            unsafe {
                if dir == RECV {
                    st.zero((*s).elem);
                }
                (*s).success = false;
                (*s).next = list;
            }
            list = s;
        }
    }
    drop(st);
    while !list.is_null() {
        // SAFETY: read the link before waking (the sudog may vanish).
        let next = unsafe { (*list).next };
        wake(list);
        list = next;
    }
    Ok(())
}

/// One case of a select, as the runtime sees rt_select_case.
#[repr(C)]
pub struct Case {
    pub chan: *mut Chan,
    pub dir: i32,
    pub elem: *mut c_void,
    /// The outcome, for the C caller: written by the C ABI, never by the runtime.
    pub result: i32,
}

/// A tiny xorshift for the poll order (uniform choice among ready cases).
fn fastrand() -> u32 {
    use core::sync::atomic::AtomicU64;
    static SEED: AtomicU64 = AtomicU64::new(0x2545_F491_4F6C_DD1D);
    let mut x = SEED.load(Ordering::Relaxed);
    if x == 0x2545_F491_4F6C_DD1D {
        x ^= nanotime() as u64;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    SEED.store(x, Ordering::Relaxed);
    (x >> 32) as u32
}

/// Most cases of one select (Go's limit too: selectgo takes at most 1 << 16).
pub(crate) const MAX_SELECT_CASES: usize = 1 << 16;
/// Cases whose bookkeeping a select keeps on its own stack (more go to the heap).
const SELECT_INLINE: usize = 8;

/// rt_select (Go's selectgo). Returns the index of the case that proceeded and
/// whether it did so because its channel was closed.
///
/// A case's `chan` is what the caller names the channel by: `resolve` turns it into
/// the channel (the C ABI's handles go through the registry), or None for a bad one.
/// Every case's count, direction and channel are checked before anything else.
///
/// # Safety
/// `cases` points at `n` cases whose elems are valid for their channel's element
/// size, and the channels `resolve` returns stay live for the call.
pub unsafe fn select(
    cases: *mut Case,
    n: usize,
    timeout_ns: i64,
    resolve: &dyn Fn(*mut Chan) -> Option<*mut Chan>,
) -> Result<(usize, bool)> {
    sched::preempt_point();
    // The count first: nothing of the array is read before it is known to be sane.
    if cases.is_null() || n == 0 || n > MAX_SELECT_CASES {
        return Err(Error::Inval);
    }
    // SAFETY: `cases` is non-null (checked above) and, by the contract, points at `n`
    // cases that the caller lends us for the call.
    let cs = unsafe { core::slice::from_raw_parts_mut(cases, n) };
    // Each case's channel, resolved (null for a NULL channel). The bookkeeping below
    // lives on this stack for up to SELECT_INLINE cases: no allocation, no NoMem.
    let mut chan_of = Scratch::<*mut Chan, SELECT_INLINE>::with_capacity(n)?;
    for c in cs.iter() {
        // A bad direction is refused even on a NULL channel's case.
        if c.dir != SEND && c.dir != RECV {
            return Err(Error::Inval);
        }
        if c.chan.is_null() {
            chan_of.push(ptr::null_mut());
        } else {
            let ch = resolve(c.chan).ok_or(Error::Inval)?;
            // A send needs an element to send (a receive may discard it: NULL).
            // SAFETY: `resolve` gave a live channel; elem_size is fixed at make.
            if c.dir == SEND && c.elem.is_null() && unsafe { (*ch).elem_size() } != 0 {
                return Err(Error::Inval);
            }
            chan_of.push(ch);
        }
    }
    // Poll order: a random permutation. Lock order: by channel address.
    let mut order = Scratch::<usize, SELECT_INLINE>::with_capacity(n)?;
    let mut lockorder = Scratch::<usize, SELECT_INLINE>::with_capacity(n)?;
    for (i, ch) in chan_of.iter().enumerate() {
        if ch.is_null() {
            continue; // a NULL channel never proceeds
        }
        let j = fastrand() as usize % (order.len() + 1);
        order.push(i);
        let last = order.len() - 1;
        order.swap(j, last);
        lockorder.push(i);
    }
    lockorder.sort_by_key(|&i| chan_of[i] as usize);
    // One entry per channel (a channel named by several cases is locked once).
    let mut kept = 0;
    for k in 0..lockorder.len() {
        if kept == 0 || chan_of[lockorder[k]] != chan_of[lockorder[kept - 1]] {
            lockorder[kept] = lockorder[k];
            kept += 1;
        }
    }
    lockorder.truncate(kept);
    // Each case's channel, as an index into the locks (taken in lockorder).
    let mut lockof = Scratch::<usize, SELECT_INLINE>::with_capacity(n)?;
    let mut guards = Scratch::<Guard<'_, ChanState>, SELECT_INLINE>::with_capacity(kept)?;
    let mut raw = Scratch::<*const Mutex, SELECT_INLINE>::with_capacity(kept)?;
    for &ch in chan_of.iter() {
        // (A NULL channel's case never looks at its entry.)
        let at = lockorder.binary_search_by_key(&(ch as usize), |&j| chan_of[j] as usize);
        lockof.push(at.unwrap_or(usize::MAX));
    }
    let mut chans = Scratch::<&Chan, SELECT_INLINE>::with_capacity(kept)?;
    for &i in lockorder.iter() {
        // SAFETY: lockorder lists only the cases with a channel, which `resolve`
        // returned and this function's # Safety requires to stay live for the call.
        chans.push(unsafe { &*chan_of[i] });
    }
    let lock_all = |guards: &mut Scratch<Guard<'_, ChanState>, SELECT_INLINE>| {
        for ch in chans.iter() {
            guards.push(ch.state.lock());
        }
    };
    let deadline = if timeout_ns < 0 {
        -1
    } else {
        nanotime().saturating_add(timeout_ns)
    };

    lock_all(&mut guards);
    // Pass 1: anything ready right now?
    for &i in order.iter() {
        if let Some((r, s)) = guards[lockof[i]].try_op(cs[i].dir, cs[i].elem.cast()) {
            guards.clear();
            wake(s);
            return Ok((i, r.is_err()));
        }
    }
    if timeout_ns == 0 {
        return Err(Error::Again);
    }
    // Pass 2: enqueue on every channel and wait.
    let done = AtomicU32::new(UNDECIDED);
    let key = AtomicU32::new(0);
    let gp = g::curg();
    let mut sgs = Scratch::<Sudog, SELECT_INLINE>::with_capacity(n)?;
    for (i, c) in cs.iter().enumerate() {
        sgs.push(Sudog::new(gp, c.elem.cast(), &done, i as u32, &key));
    }
    for &i in order.iter() {
        // The sudogs do not move (reserved above).
        let s: *mut Sudog = &mut sgs[i];
        guards[lockof[i]].waitq(cs[i].dir).enqueue(s);
    }
    for st in guards.iter_mut() {
        // Held until our last look below.
        st.refs += 1;
    }
    // The locks stay held until the waiter cannot miss its wakeup (see block).
    guards.drain_each(|g| raw.push(g.into_raw()));
    g::set_wait(gp, g::WaitReason::Select, 0);
    let woken = block(gp, &key, &raw, deadline, &done);
    // Dequeue the sudogs that did not fire.
    lock_all(&mut guards);
    for &i in order.iter() {
        let s: *mut Sudog = &mut sgs[i];
        guards[lockof[i]].waitq(cs[i].dir).remove(s);
    }
    for st in guards.iter_mut() {
        // Live until here: our reference kept rt_chan_free away.
        st.refs -= 1;
    }
    drop(guards);
    let d = done.load(Ordering::Acquire);
    if d == NOTIMER {
        // The timeout could not be armed (park_commit): nothing happened.
        return Err(Error::NoMem);
    }
    if !woken || d == TIMEDOUT {
        return Err(Error::TimedOut);
    }
    let i = (d - CASE0) as usize;
    // A close zeroed a receive's element before waking us.
    Ok((i, !sgs[i].success))
}

/// Model checks (`make loom`) of close racing a blocked select, on the paths that a
/// thread outside any G takes: the production select/close/dequeue code, its futex
/// word and the channel's futex mutex all run on loom's model. (The G path parks
/// through gopark and g0, which loom cannot run; it shares everything with this path
/// up to `block`.)
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// A channel pointer that may cross loom threads.
    #[derive(Clone, Copy)]
    struct Cp(*mut Chan);
    // SAFETY: the channel outlives the model's threads; its lock orders all access.
    unsafe impl Send for Cp {}

    /// A receive case on `c` (elem_size 0: no element).
    fn recv_case(c: *mut Chan) -> Case {
        Case {
            chan: c,
            dir: RECV,
            elem: ptr::null_mut(),
            result: 0,
        }
    }

    /// Blocks in a select over `cases` (live channels, one of which gets closed) and
    /// checks that it returned through a case because of that close.
    fn select_sees_close(cases: &mut [Case]) {
        // SAFETY: the models pass cases on channels they keep live until the select
        // has returned, with elem_size 0 (no element is read or written).
        let (i, closed) = unsafe { select(cases.as_mut_ptr(), cases.len(), -1, &Some) }.unwrap();
        assert!(
            i < cases.len() && closed,
            "the select did not see the close"
        );
    }

    /// A fresh unbuffered channel whose lock word is created on this thread (see
    /// atomic.rs).
    fn chan() -> *mut Chan {
        let c = make(0, 0).unwrap();
        // SAFETY: just made.
        assert_eq!(unsafe { (*c).len() }, 0);
        c
    }

    /// Once the select returned, its sudogs are off every queue and its references
    /// dropped: rt_chan_free accepts the channel.
    fn assert_unlinked_and_free(c: *mut Chan) {
        // SAFETY: nobody else uses the channel any more.
        unsafe {
            let st = (*c).state.lock();
            assert!(
                st.recvq.is_empty() && st.sendq.is_empty(),
                "a wait node stayed linked"
            );
            assert_eq!(st.refs, 0);
            drop(st);
            free(c).unwrap();
        }
    }

    /// Two receive cases on one channel (two sudogs sharing one outcome word) and a
    /// close: the select sees the close exactly once, through one case, whether the
    /// close comes before it polls, while it enqueues, or while it sleeps.
    #[test]
    fn loom_close_races_select_on_one_channel() {
        loom::model(|| {
            let c = chan();
            let selector = {
                let c = Cp(c);
                loom::thread::spawn(move || {
                    let Cp(c) = c;
                    let mut cases = [recv_case(c), recv_case(c)];
                    select_sees_close(&mut cases);
                })
            };
            // SAFETY: live channel.
            unsafe { close(c) }.unwrap();
            selector.join().unwrap();
            // SAFETY: `c` is still live: made by chan() and freed only by
            // assert_unlinked_and_free below; the select has returned.
            assert_eq!(unsafe { close(c) }, Err(Error::Closed));
            assert_unlinked_and_free(c);
        });
    }

    /// A select that receives and sends on one channel (a sudog on each of its
    /// queues) and a close: the close wakes the select through exactly one case and
    /// drops the other sudog, or the select polls the closed channel and returns.
    #[test]
    fn loom_close_races_select_on_both_queues() {
        loom::model(|| {
            let c = chan();
            let selector = {
                let c = Cp(c);
                loom::thread::spawn(move || {
                    let Cp(c) = c;
                    let mut send = recv_case(c);
                    send.dir = SEND;
                    let mut cases = [recv_case(c), send];
                    select_sees_close(&mut cases);
                })
            };
            // SAFETY: live channel.
            unsafe { close(c) }.unwrap();
            selector.join().unwrap();
            assert_unlinked_and_free(c);
        });
    }

    /// A select over two channels and a thread that closes one, then the other: the
    /// select proceeds through exactly one case, and its sudog on the other channel
    /// is unlinked either by the select (woken by the first close) or by the second
    /// close, which then finds the select decided and passes over it.
    #[test]
    fn loom_closes_race_select_on_two_channels() {
        loom::model(|| {
            // Loom replays executions and needs the same operations in the same
            // order each time; select locks by address, so name the lower one c1.
            let (a, b) = (chan(), chan());
            let (c1, c2) = if a < b { (a, b) } else { (b, a) };
            let selector = {
                let (c1, c2) = (Cp(c1), Cp(c2));
                loom::thread::spawn(move || {
                    let (Cp(c1), Cp(c2)) = (c1, c2);
                    let mut cases = [recv_case(c1), recv_case(c2)];
                    select_sees_close(&mut cases);
                })
            };
            // SAFETY: live channels.
            unsafe {
                close(c1).unwrap();
                close(c2).unwrap();
            }
            selector.join().unwrap();
            assert_unlinked_and_free(c1);
            assert_unlinked_and_free(c2);
        });
    }

    /// As above with a closer thread per channel, so that the two closes also race
    /// each other.
    #[test]
    fn loom_two_closers_race_select_on_two_channels() {
        // Four preemptions: 3 s here (unbounded, minutes); the interesting orders
        // (a close between the select's unlock and its relock) need one or two.
        crate::runtime::atomic::loom_builder(4).check(|| {
            let (a, b) = (chan(), chan());
            let (c1, c2) = if a < b { (a, b) } else { (b, a) };
            let closers: Vec<_> = [c1, c2]
                .into_iter()
                .map(|c| {
                    let c = Cp(c);
                    loom::thread::spawn(move || {
                        let Cp(c) = c;
                        // SAFETY: live channel.
                        unsafe { close(c) }.unwrap();
                    })
                })
                .collect();
            let mut cases = [recv_case(c1), recv_case(c2)];
            select_sees_close(&mut cases);
            for t in closers {
                t.join().unwrap();
            }
            assert_unlinked_and_free(c1);
            assert_unlinked_and_free(c2);
        });
    }

    /// A plain blocking receive on a thread and a close: RT_ECLOSED, node unlinked.
    #[test]
    fn loom_close_races_blocking_recv() {
        loom::model(|| {
            let c = chan();
            let receiver = {
                let c = Cp(c);
                loom::thread::spawn(move || {
                    let Cp(c) = c;
                    // SAFETY: live channel; elem_size 0.
                    unsafe { recv(c, ptr::null_mut(), true) }
                })
            };
            // SAFETY: live channel.
            unsafe { close(c) }.unwrap();
            assert_eq!(receiver.join().unwrap(), Err(Error::Closed));
            assert_unlinked_and_free(c);
        });
    }
}

/// A select whose timeout cannot be queued (timer::add fails: no memory) returns
/// Error::NoMem with nothing done and no sudog left on the channel, instead of the
/// abort it was ("select: no memory for a timer", issue 8). In a forked child with a
/// runtime of its own (1 P), the select in the main G, the failure injected through
/// timer::FAIL_ADD.
#[cfg(all(test, not(loom)))]
mod timer_nomem_tests {
    use super::*;
    use core::sync::atomic::AtomicI32;

    /// 0 if every check in the G passed, else the number of the first that failed.
    static FAILED: AtomicI32 = AtomicI32::new(-1);

    fn check(n: i32, ok: bool) -> bool {
        if !ok {
            FAILED.store(n, Ordering::SeqCst);
        }
        ok
    }

    unsafe extern "C" fn body(_: *mut c_void) {
        let c = make(8, 0).unwrap();
        let mut e = 0x1111u64;
        let mut cases = [Case {
            chan: c,
            dir: RECV,
            elem: (&mut e as *mut u64).cast(),
            result: 7,
        }];
        timer::FAIL_ADD.with(|f| f.set(true));
        // SAFETY: a live channel and one valid case.
        let r = unsafe { select(cases.as_mut_ptr(), 1, 1_000_000_000, &Some) };
        // rt_sleep in the same case ends early instead of failing.
        let slept = sched::sleep(1_000_000_000);
        timer::FAIL_ADD.with(|f| f.set(false));
        if !check(1, r == Err(Error::NoMem))
            || !check(2, cases[0].result == 7 && e == 0x1111)
            || !check(3, slept.is_ok())
        {
            return;
        }
        // No sudog was left behind: a send finds no receiver, the channel frees.
        let v = 1u64;
        // SAFETY: a live channel and an 8-byte element.
        let sent = unsafe { send(c, (&v as *const u64).cast(), false) };
        if !check(4, sent == Err(Error::Again)) {
            return;
        }
        // SAFETY: `cases` holds one case on the live channel `c`, with an 8-byte
        // element in this frame.
        let r = unsafe { select(cases.as_mut_ptr(), 1, 1_000_000, &Some) };
        if !check(5, r == Err(Error::TimedOut)) {
            return;
        }
        // SAFETY: live, nobody waits on it.
        if check(6, unsafe { free(c) }.is_ok()) {
            FAILED.store(0, Ordering::SeqCst);
        }
    }

    #[test]
    fn select_whose_timer_cannot_be_queued_returns_nomem() {
        // SAFETY: the child runs its own runtime and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: an alarm in the child (the hang bound); SIGALRM ends it.
            unsafe { libc::alarm(20) };
            let ok = super::super::init::init(super::super::init::Request {
                maxprocs: 1,
                ..Default::default()
            })
            .is_ok()
                && sched::rt_main(Some(body), ptr::null_mut(), &Default::default()).is_ok();
            let code = if ok {
                FAILED.load(Ordering::SeqCst)
            } else {
                100
            };
            // SAFETY: leaves the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child: status {status:#x} (exit code: the failed check; 100: no runtime)"
        );
    }
}
