//! Registered fds (rt_pollfd_*): Go's pollDesc model for hosts that own their fds.
//!
//! rt_poll_fd re-arms its fd with EPOLL_CTL_MOD on every wait, because the runtime
//! never hears of a close: the MOD is how it notices a reused fd number, and the arm
//! sequence it carries keeps stale readiness out. A host that opens a handle for an
//! fd, and closes the handle before the fd, tells the runtime both ends of the fd's
//! life, so the fd is registered once (edge-triggered, in, out and RDHUP) and a wait
//! makes no system call: netpoll records each edge in the descriptor, and a wait that
//! finds an unconsumed edge returns at once; otherwise the G parks until the next
//! edge. An edge says the fd *became* ready; the host may have read the data since,
//! so readiness can be stale: the host uses non-blocking I/O and waits again on
//! EAGAIN (as Go's net package does).
//!
//! # Descriptors and handles
//! Descriptors live in a table of slots that are never freed (chunks allocated on
//! demand, as in `chanreg`, whose scheme this follows), and are reused through a free
//! list. An epoll event names its slot and the generation of the handle that
//! registered it, so netpoll reads only this table: an event for a closed handle
//! finds another generation and is dropped, and nothing it touches is ever freed. A
//! handle is `generation << 32 | PFD_TAG | (index + 1)`; the generation is odd while
//! the handle is open. A made-up, NULL or closed handle decodes to an even or another
//! generation, an index beyond the table, or a missing chunk: RT_EINVAL, having read
//! only the table. PFD_TAG (bit 30) tells these apart from channel handles (low word
//! below 2^24), G handles (bit 31) and rt_poll_fd's epoll data (an fd number, below
//! 2^30: Linux caps fs.nr_open there).
//!
//! # A direction's word
//! Each direction (in, out) has one word: NIL, READY (an edge nobody consumed), or
//! the address of the waiter of the one G that waits (its frame). Transitions:
//! - an edge (netpoll): NIL -> READY; waiter -> NIL, the waiter woken "ready" (the
//!   edge is consumed by it); READY stays;
//! - a wait: READY -> NIL (consumed: returns at once, no system call); NIL -> waiter,
//!   then it parks; a word holding another waiter is RT_EBUSY;
//! - the wait's timer: waiter -> NIL, the waiter woken "timed out";
//! - close: anything -> NIL, a waiter woken "closed".
//!
//! Whoever moves the word off a waiter owns the waiter's wake-up: it writes the
//! result and then moves the waiter's state to WOKEN; only if the state was PARKED
//! (the G is parked) does it ready the G. The G's park callback moves the state from
//! RUNNING to PARKED, and does not park if it finds WOKEN: a wake-up that comes between
//! publishing the waiter and parking is not lost, and none is delivered twice (each
//! step is one compare-and-swap or swap, and exactly one party moves the word off the
//! waiter). The G reads the result only once the state is WOKEN, and the waker does
//! not touch the waiter after that store, so the frame is free to go. The loom model
//! at the end of this file runs these functions against each other.
//!
//! # Close
//! Close retires the generation first and then empties both words (SeqCst on both
//! sides): a G that publishes its waiter re-reads the generation after, so either
//! close sees the waiter and wakes it "closed", or the G sees the new generation and
//! takes its waiter back. Foreign threads block in poll(2) on the fd and an eventfd
//! of their own that close writes. The slot goes back to the free list only after
//! that; a host using a handle on another thread while it closes it breaks the
//! contract, but touches only this table's memory.
//!
//! # Fork
//! A fork child makes its own poller, which knows none of the parent's
//! registrations. Each descriptor remembers the poller epoch it registered under; a
//! wait that finds an older epoch registers the fd again with the child's poller and
//! forgets the parent's waiters (Gs and threads that do not exist in the child),
//! reporting both directions ready once, since what happened meanwhile is unknown.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::AtomicPtr as StaticAtomicPtr;
use core::sync::atomic::AtomicU32 as StaticAtomicU32;

// The words loom checks are loom's under `--cfg loom` (atomic.rs); the table itself
// (statics, zeroed chunks) is never used by a model.
use super::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use super::error::{Error, Result};
use super::g::{self, GQueue, G};
use super::netpoll::{self, POLLIN, POLLOUT};
use super::note::Mutex;
use super::time::nanotime;
use super::{sched, timer};

/// Set in every pollfd handle's low word, and so in its epoll data.
pub(crate) const PFD_TAG: u32 = 1 << 30;

/// Slots per chunk, and chunks: at most 2^20 (1 Mi) handles open at once.
const CHUNK_SHIFT: u32 = 10;
const CHUNK_SLOTS: usize = 1 << CHUNK_SHIFT;
const NCHUNKS: usize = 1 << 10;
const NSLOTS: usize = CHUNK_SLOTS * NCHUNKS;

/// A direction's word (see the file comment): besides these, a waiter's address.
const NIL: usize = 0;
const READY: usize = 1;

/// A waiter's state.
const RUNNING: u32 = 0;
const PARKED: u32 = 1;
const WOKEN: u32 = 2;

/// A waiter's result, written by whoever woke it.
const R_NONE: u32 = 0;
const R_READY: u32 = 1;
const R_TIMEDOUT: u32 = 2;
const R_CLOSED: u32 = 3;
const R_NOMEM: u32 = 4;

/// One registered fd. All-zero is a free slot that never held a handle.
pub(crate) struct Slot {
    /// The handle's generation: odd while open. Changed under [`REG`]; read anywhere.
    gen: AtomicU32,
    /// Next free slot + 1 (0: none). Only under REG.
    next_free: AtomicU32,
    /// The fd. Written under REG while the slot is free.
    fd: AtomicI32,
    /// The poller epoch the fd is registered under (netpoll::epoch). Under REG.
    epoch: AtomicU32,
    /// The in and out words (see the file comment).
    words: [AtomicUsize; 2],
    /// Foreign threads blocked in a wait on this handle. Only under REG.
    fwait: AtomicPtr<FWait>,
}

type Chunk = [Slot; CHUNK_SLOTS];

static CHUNKS: [StaticAtomicPtr<Chunk>; NCHUNKS] =
    [const { StaticAtomicPtr::new(ptr::null_mut()) }; NCHUNKS];

/// Serialises open, close, foreign waits' lists and re-registration after fork.
static REG: Mutex = Mutex::new();
/// Under REG: the free list's head (slot + 1, 0: empty) and how many slots have been
/// handed out at least once.
static FREE_HEAD: StaticAtomicU32 = StaticAtomicU32::new(0);
static USED: StaticAtomicU32 = StaticAtomicU32::new(0);

fn slot(idx: usize) -> Option<&'static Slot> {
    let chunk = CHUNKS.get(idx >> CHUNK_SHIFT)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a published chunk is never freed, and idx & mask is within it.
    Some(unsafe { &(*chunk)[idx & (CHUNK_SLOTS - 1)] })
}

fn handle(idx: usize, gen: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(PFD_TAG) | (idx as u64 + 1)
}

/// The slot and generation a handle names, if it is open. Reads only the table.
fn lookup(h: u64) -> Option<(&'static Slot, u32)> {
    let gen = (h >> 32) as u32;
    let lo = h as u32;
    if gen & 1 == 0 || lo & (PFD_TAG | 1 << 31) != PFD_TAG {
        return None;
    }
    let idx = (lo & !PFD_TAG).wrapping_sub(1) as usize;
    let s = slot(idx)?;
    (s.gen.load(Ordering::Acquire) == gen).then_some((s, gen))
}

/// Allocates chunk `k` if it is not there yet. Under REG.
fn ensure_chunk(k: usize) -> Result<()> {
    if !CHUNKS[k].load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    let layout = core::alloc::Layout::new::<Chunk>();
    // SAFETY: a non-zero-sized layout; all-zero bytes are a valid Chunk (atomics and
    // pointers at zero: a free slot that never held a handle).
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Chunk;
    if p.is_null() {
        return Err(Error::NoMem);
    }
    CHUNKS[k].store(p, Ordering::Release);
    Ok(())
}

/// Takes a slot off the free list or a fresh one. Under REG.
fn take_slot() -> Result<usize> {
    let head = FREE_HEAD.load(Ordering::Relaxed);
    if head != 0 {
        let idx = head as usize - 1;
        let Some(s) = slot(idx) else {
            super::throw("pollfd registry: a free slot has no chunk");
        };
        FREE_HEAD.store(s.next_free.load(Ordering::Relaxed), Ordering::Relaxed);
        return Ok(idx);
    }
    let idx = USED.load(Ordering::Relaxed) as usize;
    if idx >= NSLOTS {
        return Err(Error::NoMem);
    }
    ensure_chunk(idx >> CHUNK_SHIFT)?;
    USED.store(idx as u32 + 1, Ordering::Relaxed);
    Ok(idx)
}

/// Puts slot `idx` (generation even) back on the free list. Under REG.
fn free_slot(idx: usize, s: &Slot) {
    s.next_free
        .store(FREE_HEAD.load(Ordering::Relaxed), Ordering::Relaxed);
    FREE_HEAD.store(idx as u32 + 1, Ordering::Relaxed);
}

fn errno() -> i32 {
    // SAFETY: errno of the calling thread.
    unsafe { *libc::__errno_location() }
}

/// Registers `fd` with the poller under handle `h` (edge-triggered, in, out, RDHUP).
/// A registration of the number left by rt_poll_fd (which never removes its own) is
/// taken over.
/// The poller's own fds are refused: the poller may be made by the very call that
/// registers (rt_pollfd_open, a fork child's first wait) and take the number the
/// host passed, a closed fd, and the ADD's EEXIST would then have the MOD take over
/// its wake-up registration (t_pollfd_open_poller_fd_before_poller,
/// t_pollfd_fork_child_poller_fd).
fn register(epfd: i32, fd: i32, h: u64) -> Result<()> {
    if netpoll::is_poller_fd(fd) {
        return Err(Error::Inval);
    }
    let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
    let mut ev = libc::epoll_event { events, u64: h };
    // SAFETY: a valid epoll fd and event.
    let mut r = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if r != 0 && errno() == libc::EEXIST {
        ev = libc::epoll_event { events, u64: h };
        // SAFETY: epfd is the poller's epoll fd and `ev` a valid epoll_event that
        // lives across the call.
        r = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, &mut ev) };
    }
    if r == 0 {
        return Ok(());
    }
    match errno() {
        // No memory for the registration, or max_user_watches reached.
        libc::ENOMEM | libc::ENOSPC => Err(Error::NoMem),
        // Closed, never opened, a regular file or directory, an epoll fd...
        _ => Err(Error::Inval),
    }
}

/// rt_pollfd_open: registers `fd` and returns its handle.
pub fn open(fd: i32) -> Result<u64> {
    if fd < 0 {
        return Err(Error::Inval);
    }
    // The poller's own fds are refused by `register`, once the poller is made.
    let epfd = netpoll::poller_epfd()?;
    REG.lock();
    let r = open_locked(fd, epfd);
    REG.unlock();
    r
}

fn open_locked(fd: i32, epfd: i32) -> Result<u64> {
    let idx = take_slot()?;
    let Some(s) = slot(idx) else {
        super::throw("pollfd registry: a slot has no chunk");
    };
    s.fd.store(fd, Ordering::Relaxed);
    s.epoch.store(netpoll::epoch(), Ordering::Relaxed);
    s.fwait.store(ptr::null_mut(), Ordering::Relaxed);
    for w in &s.words {
        // An edge of the previous handle that netpoll applied after its close.
        let _ = w.compare_exchange(READY, NIL, Ordering::AcqRel, Ordering::Relaxed);
    }
    // Open the handle before registering: the registration reports the fd's present
    // readiness as an edge at once, and netpoll drops events of a closed generation.
    let gen = s.gen.load(Ordering::Relaxed).wrapping_add(1);
    s.gen.store(gen, Ordering::SeqCst);
    let h = handle(idx, gen);
    if let Err(e) = register(epfd, fd, h) {
        s.gen.store(gen.wrapping_add(1), Ordering::SeqCst);
        free_slot(idx, s);
        return Err(e);
    }
    Ok(h)
}

/// Wakes waiter `w`, which the caller just moved a word off (and so owns), with
/// `res`. Returns its G if it was parked (the caller readies it), else null (its G has
/// not parked yet and will not). Does not touch the waiter afterwards.
///
/// # Safety
/// `w` was in a word, and the caller's compare-and-swap or swap took it out.
unsafe fn wake(w: *const Waiter, res: u32) -> *mut G {
    // SAFETY: the waiter's G does not return before its state is WOKEN (below).
    let w = unsafe { &*w };
    let gp = w.g;
    w.result.store(res, Ordering::Relaxed);
    if w.state.swap(WOKEN, Ordering::AcqRel) == PARKED {
        gp
    } else {
        ptr::null_mut()
    }
}

/// An edge on `word`. Returns the G to ready, or null.
fn edge(word: &AtomicUsize) -> *mut G {
    let mut cur = word.load(Ordering::Acquire);
    loop {
        if cur == READY {
            return ptr::null_mut();
        }
        let new = if cur == NIL { READY } else { NIL };
        match word.compare_exchange_weak(cur, new, Ordering::SeqCst, Ordering::Acquire) {
            // SAFETY: we moved the word off the waiter `cur`.
            Ok(_) if cur != NIL => return unsafe { wake(cur as *const Waiter, R_READY) },
            Ok(_) => return ptr::null_mut(),
            Err(c) => cur = c,
        }
    }
}

/// After a wait (or reset) on handle generation `gen` took an edge from `word`, or
/// was woken by one: None if the handle is still open. Else close retired it
/// meanwhile, and the slot may be a new handle's already and the edge that
/// handle's (the wait looked its handle up just before a close and a reopen of the
/// slot): the edge is given back, and Some(the G that takes it, or null)
/// (loom_pollfd_stale_wait_gives_back_edge).
fn edge_if_stale(cur_gen: &AtomicU32, gen: u32, word: &AtomicUsize) -> Option<*mut G> {
    if cur_gen.load(Ordering::SeqCst) == gen {
        None
    } else {
        Some(edge(word))
    }
}

/// A wait's edge (see [`edge_if_stale`]): `events`, or RT_ECLOSED once given back.
fn took_edge(s: &Slot, gen: u32, word: &AtomicUsize, events: u32) -> Result<u32> {
    match edge_if_stale(&s.gen, gen, word) {
        None => Ok(events),
        Some(gp) => {
            if !gp.is_null() && sched::ready(gp).is_err() {
                super::throw("rt_pollfd_wait: a parked waiter's G was not waiting");
            }
            Err(Error::Closed)
        }
    }
}

/// What a wait found in its word.
#[derive(Debug, PartialEq)]
enum Step {
    /// An edge: consumed.
    Ready,
    /// Nothing: the waiter is published (or, with `publish` false, nothing done).
    Published,
    Nothing,
    /// Another G waits in this direction.
    Busy,
}

/// A wait's first step: consume an edge, or publish waiter `wp` (if `publish`).
fn consume_or_publish(word: &AtomicUsize, wp: usize, publish: bool) -> Step {
    let mut cur = word.load(Ordering::Acquire);
    loop {
        if cur == READY {
            match word.compare_exchange(READY, NIL, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Step::Ready,
                Err(c) => cur = c,
            }
        } else if cur == NIL {
            if !publish {
                return Step::Nothing;
            }
            match word.compare_exchange(NIL, wp, Ordering::SeqCst, Ordering::Acquire) {
                Ok(_) => return Step::Published,
                Err(c) => cur = c,
            }
        } else {
            return Step::Busy;
        }
    }
}

/// Takes waiter `wp` out of `word` if it is still there: then the caller owns its
/// wake-up (or, for the waiter itself, it is no longer published).
fn unpublish(word: &AtomicUsize, wp: usize) -> bool {
    word.compare_exchange(wp, NIL, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
}

/// The timeout of waiter `w` in `word`: the G to ready, or null.
///
/// # Safety
/// `w` is a live waiter (its timer is armed).
unsafe fn timeout_word(word: &AtomicUsize, w: *const Waiter) -> *mut G {
    if unpublish(word, w as usize) {
        // SAFETY: we took the word off the waiter.
        unsafe { wake(w, R_TIMEDOUT) }
    } else {
        ptr::null_mut()
    }
}

/// Close's part for one word (after retiring the generation): empties it; the G of
/// a waiter found there is returned to be readied (null if none, or not parked yet).
fn close_word(word: &AtomicUsize) -> *mut G {
    let cur = word.swap(NIL, Ordering::SeqCst);
    if cur != NIL && cur != READY {
        // SAFETY: the swap took the word off the waiter.
        unsafe { wake(cur as *const Waiter, R_CLOSED) }
    } else {
        ptr::null_mut()
    }
}

/// The park callback's decision: park unless a waker came first.
fn may_park(w: &Waiter) -> bool {
    w.state
        .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// After the park: the result, once the waker (which owns the wake-up) published it.
/// A park callback that declined to park may see the waiter taken a few instructions
/// before the waker stores WOKEN: only that window spins.
fn await_result(w: &Waiter) -> u32 {
    #[cfg(not(loom))]
    let mut spins = 0u32;
    while w.state.load(Ordering::Acquire) != WOKEN {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        {
            spins += 1;
            if spins < 100 {
                core::hint::spin_loop();
            } else {
                // SAFETY: a plain system call.
                unsafe { libc::sched_yield() };
            }
        }
    }
    w.result.load(Ordering::Relaxed)
}

/// Called by netpoll for an event whose data has PFD_TAG: records its edges, and
/// appends a G that waited for one to `out`.
pub(crate) fn netpoll_event(data: u64, events: u32, out: &mut GQueue) {
    let Some((s, _)) = lookup(data) else {
        return; // a closed handle's event
    };
    let err = events & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
    let rd = err || events & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0;
    let wr = err || events & libc::EPOLLOUT as u32 != 0;
    for (i, on) in [rd, wr].into_iter().enumerate() {
        if on {
            let gp = edge(&s.words[i]);
            if !gp.is_null() {
                // SAFETY: we won the waiter's wake-up and it was parked: its G is ours
                // to ready and on no list.
                unsafe { out.push_back(gp) };
            }
        }
    }
}

/// A G waiting in rt_pollfd_wait (in its frame). Its address goes in a word, so it is
/// aligned past READY.
#[repr(align(8))]
struct Waiter {
    g: *mut G,
    /// The word it waits in (a slot's: never freed).
    word: *const AtomicUsize,
    /// RUNNING, PARKED (by the park callback), WOKEN (by the waker).
    state: AtomicU32,
    /// R_*, written by the waker before WOKEN.
    result: AtomicU32,
    timer: timer::Timer,
    has_timer: bool,
}

/// rt_pollfd_wait (see mrt.h). `events` is POLLIN or POLLOUT.
pub fn wait(h: u64, events: u32, timeout_ns: i64) -> Result<u32> {
    if events != POLLIN && events != POLLOUT {
        return Err(Error::Inval);
    }
    let (s, gen) = lookup(h).ok_or(Error::Inval)?;
    // A fork child's first wait (from a G or a thread: close wakes this process's
    // foreign waiters only once their list is the child's).
    if s.epoch.load(Ordering::Acquire) != netpoll::epoch() {
        reregister(s, gen, h)?;
    }
    let gp = g::curg();
    if gp.is_null() {
        return wait_thread(s, gen, events, timeout_ns);
    }
    let word = &s.words[(events == POLLOUT) as usize];
    let deadline = if timeout_ns > 0 {
        nanotime().saturating_add(timeout_ns)
    } else {
        -1
    };
    let mut w = Waiter {
        g: gp,
        word,
        state: AtomicU32::new(RUNNING),
        result: AtomicU32::new(R_NONE),
        timer: timer::Timer::new(deadline.max(0), wait_timeout, ptr::null_mut()),
        has_timer: deadline >= 0,
    };
    let wp: *mut Waiter = &mut w;
    w.timer.arg = wp.cast();
    match consume_or_publish(word, wp as usize, timeout_ns != 0) {
        // An unconsumed edge: no system call, no park.
        Step::Ready => return took_edge(s, gen, word, events),
        Step::Nothing => return look_after_poll(s, gen, word, events),
        Step::Busy => return Err(Error::Busy),
        Step::Published => {}
    }
    // A close that retired the handle before it could see us: take the waiter back,
    // unless a waker has it already (then it wakes us, below).
    if s.gen.load(Ordering::SeqCst) != gen && unpublish(word, wp as usize) {
        return Err(Error::Closed);
    }
    netpoll::WAITERS.fetch_add(1, Ordering::AcqRel);
    g::set_wait(gp, g::WaitReason::Fd, s.fd.load(Ordering::Relaxed) as u64);
    sched::gopark(Some(wait_commit), wp.cast());
    netpoll::WAITERS.fetch_sub(1, Ordering::AcqRel);
    let res = await_result(&w);
    if w.has_timer {
        // SAFETY: our timer, maybe still in a heap; returns once a firing callback
        // is done with the waiter.
        unsafe { timer::del(&mut w.timer) };
    }
    match res {
        R_READY => took_edge(s, gen, word, events),
        R_TIMEDOUT => Err(Error::TimedOut),
        R_CLOSED => Err(Error::Closed),
        R_NOMEM => Err(Error::NoMem),
        _ => super::throw("rt_pollfd_wait: woken without a result"),
    }
}

/// A G's look (timeout 0) that found no edge in `word`. Edges reach the words only
/// when the epoll instance is polled, and the scheduler polls it only while a G is
/// parked on an fd: a G that looks between pieces of other work would see RT_EAGAIN
/// for as long as nobody waits (t_pollfd_wait_zero_sees_edge). So poll it once
/// without blocking, as findrunnable does (not while an M is blocked in it: that M
/// records edges as they come), and look again. A system call only on this path.
fn look_after_poll(s: &Slot, gen: u32, word: &AtomicUsize, events: u32) -> Result<u32> {
    if netpoll::inited() && netpoll::LASTPOLL.load(Ordering::Acquire) != 0 {
        let mut list = GQueue::new();
        netpoll::netpoll(0, &mut list);
        sched::inject(&mut list, None);
        if consume_or_publish(word, 0, false) == Step::Ready {
            return took_edge(s, gen, word, events);
        }
    }
    Err(Error::Again)
}

/// Runs on g0 once the G is marked waiting: starts the timeout, then parks unless a
/// waker came first. After the state moves to PARKED the waiter is not touched.
unsafe extern "C" fn wait_commit(_g: *mut G, arg: *mut c_void) -> bool {
    // SAFETY: arg is the parked G's waiter, live until the G resumes.
    let w = unsafe { &mut *(arg as *mut Waiter) };
    let mut when = 0;
    if w.has_timer {
        let m = super::tls::getm();
        // SAFETY: g0 of an M holding a P; the timer lives in the parked G's frame,
        // which is not left before timer::del.
        if unsafe { !timer::add((*m).p(), &mut w.timer) } {
            w.has_timer = false;
            // SAFETY: the word is a slot's, never freed.
            let word = unsafe { &*w.word };
            if unpublish(word, w as *mut Waiter as usize) {
                w.result.store(R_NOMEM, Ordering::Relaxed);
                w.state.store(WOKEN, Ordering::Release);
            }
            // Else a waker has it and sets WOKEN: the G waits for that.
            return false;
        }
        when = w.timer.when;
    }
    let parked = may_park(w);
    if parked && when != 0 {
        sched::wake_netpoller(when);
    }
    parked
}

/// rt_pollfd_reset: forgets the edges recorded so far in the directions of `events`
/// (Go's prepareRead/prepareWrite): called just before the I/O that a wait would
/// follow, it drops edges that I/O is about to consume anyway, so that the wait after
/// its EAGAIN parks instead of returning stale readiness. An edge recorded after the
/// reset (during the I/O) is kept, so no wake-up is lost: either the I/O sees the
/// data, or the edge waits in the word.
pub fn reset(h: u64, events: u32) -> Result<()> {
    if events == 0 || events & !(POLLIN | POLLOUT) != 0 {
        return Err(Error::Inval);
    }
    let (s, gen) = lookup(h).ok_or(Error::Inval)?;
    for (i, bit) in [POLLIN, POLLOUT].into_iter().enumerate() {
        let word = &s.words[i];
        if events & bit != 0
            && word.load(Ordering::Relaxed) == READY
            && word
                .compare_exchange(READY, NIL, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            if let Some(gp) = edge_if_stale(&s.gen, gen, word) {
                if !gp.is_null() && sched::ready(gp).is_err() {
                    super::throw("rt_pollfd_reset: a parked waiter's G was not waiting");
                }
                return Err(Error::Inval);
            }
        }
    }
    Ok(())
}

/// A wait's timeout: takes the waiter out of its word if it is still there.
unsafe fn wait_timeout(t: *mut timer::Timer) -> *mut G {
    // SAFETY: the timer's arg is its waiter, live while the timer is armed (the G
    // deletes it, which waits for this callback, before leaving the frame).
    let w = unsafe { (*t).arg as *const Waiter };
    // SAFETY: the waiter is live while its timer is armed (see above), and its word
    // is a slot's, in a chunk that is never freed.
    let word = unsafe { &*(*w).word };
    // SAFETY: `w` is live with its timer armed (it is firing), as timeout_word needs;
    // `word` is the word it was published in.
    unsafe { timeout_word(word, w) }
}

/// Registers the fd of handle `h` again in a fork child's poller (see the file
/// comment).
fn reregister(s: &Slot, gen: u32, h: u64) -> Result<()> {
    let epfd = netpoll::poller_epfd()?;
    REG.lock();
    let r = (|| {
        if s.gen.load(Ordering::Acquire) != gen {
            return Err(Error::Closed);
        }
        let epoch = netpoll::epoch();
        if s.epoch.load(Ordering::Relaxed) == epoch {
            return Ok(());
        }
        register(epfd, s.fd.load(Ordering::Relaxed), h)?;
        // The parent's waiters do not exist here; what happened meanwhile is
        // unknown, so each direction reports ready once.
        s.fwait.store(ptr::null_mut(), Ordering::Relaxed);
        for w in &s.words {
            w.store(READY, Ordering::SeqCst);
        }
        s.epoch.store(epoch, Ordering::Release);
        Ok(())
    })();
    REG.unlock();
    r
}

/// A foreign thread blocked in a wait (in its frame), on its slot's list under REG.
struct FWait {
    efd: i32,
    next: *mut FWait,
}

/// A wait from a thread that is not running a G: poll(2) on the fd, and on an eventfd
/// that close writes. Edges are not consumed.
fn wait_thread(s: &Slot, gen: u32, events: u32, timeout_ns: i64) -> Result<u32> {
    let fd = s.fd.load(Ordering::Relaxed);
    let mut pfd = [
        libc::pollfd {
            fd,
            events: events as i16,
            revents: 0,
        },
        libc::pollfd {
            fd: -1,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    if timeout_ns == 0 {
        return match netpoll::ppoll(&mut pfd[..1], 0)? {
            0 => Err(Error::Again),
            _ => netpoll::revents(&pfd[0], events),
        };
    }
    // SAFETY: a plain system call making an fd we own.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if efd < 0 {
        return Err(Error::NoMem);
    }
    pfd[1].fd = efd;
    let mut node = FWait {
        efd,
        next: ptr::null_mut(),
    };
    let np: *mut FWait = &mut node;
    REG.lock();
    let open = s.gen.load(Ordering::Acquire) == gen;
    if open {
        // SAFETY: our node; from now on it is only reached through `np` (close and
        // other waiters read or relink it under REG).
        unsafe { (*np).next = s.fwait.load(Ordering::Relaxed) };
        s.fwait.store(np, Ordering::Relaxed);
    }
    REG.unlock();
    let r = if open {
        let deadline = if timeout_ns < 0 {
            -1
        } else {
            nanotime().saturating_add(timeout_ns)
        };
        loop {
            let left = if deadline < 0 {
                -1
            } else {
                (deadline - nanotime()).max(0)
            };
            match netpoll::ppoll(&mut pfd, left) {
                Err(e) => break Err(e),
                Ok(_) if pfd[1].revents != 0 || s.gen.load(Ordering::Acquire) != gen => {
                    break Err(Error::Closed)
                }
                Ok(n) if n > 0 && pfd[0].revents != 0 => break netpoll::revents(&pfd[0], events),
                Ok(_) if deadline >= 0 && nanotime() >= deadline => break Err(Error::TimedOut),
                Ok(_) => {}
            }
        }
    } else {
        Err(Error::Closed)
    };
    if open {
        REG.lock();
        // Unlink the node (close leaves the list alone; a fork child's re-registration
        // empties it, and then the node is not there).
        // SAFETY: the list's nodes are live (their threads unlink them before leaving
        // their frames), and it is only read or changed under REG.
        unsafe {
            let head = s.fwait.load(Ordering::Relaxed);
            if head == np {
                s.fwait.store((*np).next, Ordering::Relaxed);
            } else {
                let mut p = head;
                while !p.is_null() {
                    if (*p).next == np {
                        (*p).next = (*np).next;
                        break;
                    }
                    p = (*p).next;
                }
            }
        }
        REG.unlock();
    }
    // SAFETY: our eventfd, no longer on any list.
    unsafe { libc::close(efd) };
    r
}

/// rt_pollfd_close (see mrt.h).
pub fn close(h: u64) -> Result<()> {
    REG.lock();
    let Some((s, gen)) = lookup(h) else {
        REG.unlock();
        return Err(Error::Inval);
    };
    let idx = ((h as u32) & !PFD_TAG) as usize - 1;
    s.gen.store(gen.wrapping_add(1), Ordering::SeqCst);
    // Registered in a parent's poller (we are a fork child that never waited on it):
    // its waiters are the parent's and its registration is not in our poller.
    let here = s.epoch.load(Ordering::Relaxed) == netpoll::epoch();
    let mut woken = [ptr::null_mut(); 2];
    for (i, word) in s.words.iter().enumerate() {
        if here {
            woken[i] = close_word(word);
        } else {
            word.store(NIL, Ordering::SeqCst);
        }
    }
    if here {
        let mut n = s.fwait.load(Ordering::Relaxed);
        let one: u64 = 1;
        while !n.is_null() {
            // SAFETY: a node on the list is live (see wait_thread); its thread takes
            // REG, which we hold, to unlink it.
            unsafe {
                libc::write(
                    (*n).efd,
                    &one as *const u64 as *const c_void,
                    core::mem::size_of::<u64>(),
                );
                n = (*n).next;
            }
        }
        if let Some(epfd) = netpoll::poller_epfd_if_made() {
            let mut ev = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: valid fds and event. It fails harmlessly if the host closed the
            // fd already (the registration went with the file).
            unsafe {
                libc::epoll_ctl(
                    epfd,
                    libc::EPOLL_CTL_DEL,
                    s.fd.load(Ordering::Relaxed),
                    &mut ev,
                )
            };
        }
    } else {
        s.fwait.store(ptr::null_mut(), Ordering::Relaxed);
    }
    free_slot(idx, s);
    REG.unlock();
    for gp in woken {
        if !gp.is_null() && sched::ready(gp).is_err() {
            super::throw("rt_pollfd_close: a parked waiter's G was not waiting");
        }
    }
    Ok(())
}

/// In the child of fork(): a thread of the parent may have held the lock.
pub fn reset_after_fork() {
    REG.reset_after_fork();
}

/// The state machine of one direction's word, run by loom against itself: an edge,
/// a waiter (publish, park callback, result), a timeout and a close, in every
/// interleaving. A lost wake-up is a waiter that never reaches WOKEN (loom reports
/// the hang); a double wake-up trips the assertions.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    // SAFETY: a model's waiter is shared as a pollfd waiter is (through its atomics),
    // and its G pointer is a made-up value that is only compared.
    unsafe impl Send for Waiter {}
    // SAFETY: the model's threads touch a shared waiter only through its atomics (the
    // word, state and result), and read its G pointer only to compare it.
    unsafe impl Sync for Waiter {}

    const GP: usize = 0x1000;

    fn waiter(word: &AtomicUsize) -> Waiter {
        Waiter {
            g: GP as *mut G,
            word,
            state: AtomicU32::new(RUNNING),
            result: AtomicU32::new(R_NONE),
            timer: timer::Timer::new(0, wait_timeout, ptr::null_mut()),
            has_timer: false,
        }
    }

    /// Counts the Gs a waker readies (null: none).
    fn readies(gp: *mut G, readied: &AtomicUsize) {
        if !gp.is_null() {
            assert_eq!(gp as usize, GP);
            readied.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The G side of `wait` from the first step to the result, with the same
    /// functions: consume or publish, re-read the generation, park callback, result.
    /// Counts a park in `parked`.
    fn g_side(word: &AtomicUsize, w: &Waiter, gen: &AtomicU32, parked: &AtomicUsize) -> u32 {
        let wp = w as *const Waiter as usize;
        match consume_or_publish(word, wp, true) {
            Step::Ready => return R_READY,
            Step::Published => {}
            s => panic!("{s:?}"),
        }
        if gen.load(Ordering::SeqCst) != 1 && unpublish(word, wp) {
            return R_CLOSED;
        }
        if may_park(w) {
            parked.fetch_add(1, Ordering::SeqCst);
        }
        await_result(w)
    }

    struct Model {
        word: Arc<AtomicUsize>,
        gen: Arc<AtomicU32>,
        readied: Arc<AtomicUsize>,
        parked: Arc<AtomicUsize>,
    }

    fn model(word: usize) -> Model {
        Model {
            word: Arc::new(AtomicUsize::new(word)),
            gen: Arc::new(AtomicU32::new(1)),
            readied: Arc::new(AtomicUsize::new(0)),
            parked: Arc::new(AtomicUsize::new(0)),
        }
    }

    impl Model {
        fn edge(&self) -> loom::thread::JoinHandle<()> {
            let (word, readied) = (self.word.clone(), self.readied.clone());
            loom::thread::spawn(move || readies(edge(&word), &readied))
        }
        /// Every G that parked was readied exactly once.
        fn check_wakeups(&self) {
            assert_eq!(
                self.readied.load(Ordering::SeqCst),
                self.parked.load(Ordering::SeqCst)
            );
        }
    }

    /// An edge racing a waiter: the waiter gets it (at once, or woken), and it is
    /// consumed exactly once: the word ends NIL. A lost wake-up hangs the model.
    #[test]
    fn loom_pollfd_edge_is_never_lost() {
        loom::model(|| {
            let m = model(NIL);
            let e = m.edge();
            let w = waiter(&m.word);
            let r = g_side(&m.word, &w, &m.gen, &m.parked);
            e.join().unwrap();
            assert_eq!(r, R_READY);
            assert_eq!(m.word.load(Ordering::SeqCst), NIL);
            m.check_wakeups();
        });
    }

    /// An edge and the wait's timeout race a waiter: it is woken once, by one of
    /// them; an edge the timeout beat stays in the word for the next wait.
    #[test]
    fn loom_pollfd_edge_races_timeout() {
        loom::model(|| {
            let m = model(NIL);
            let w = Arc::new(waiter(&m.word));
            let e = m.edge();
            let t = {
                let (word, readied, w) = (m.word.clone(), m.readied.clone(), w.clone());
                loom::thread::spawn(move || {
                    // SAFETY: the waiter outlives this thread (joined below).
                    readies(unsafe { timeout_word(&word, &*w) }, &readied)
                })
            };
            let r = g_side(&m.word, &w, &m.gen, &m.parked);
            e.join().unwrap();
            t.join().unwrap();
            m.check_wakeups();
            let left = m.word.load(Ordering::SeqCst);
            match r {
                R_READY => assert_eq!(left, NIL),
                R_TIMEDOUT => assert_eq!(left, READY, "the edge the timeout beat is kept"),
                _ => panic!("result {r}"),
            }
        });
    }

    /// A stale wait: it looked handle A (generation 1) up just before A's close and
    /// the slot's reuse by handle B (3), whose fd then makes an edge. Whatever the
    /// wait takes from the word (the edge at once, or a wake-up of the waiter it
    /// published into B's word) is B's: given back, B's next wait finds it (the word
    /// ends READY) and the stale wait ends RT_ECLOSED. `publish`: a wait that may park
    /// (else a look, timeout 0).
    fn stale_wait(publish: bool) {
        loom::model(move || {
            let m = model(NIL);
            let c = {
                let (word, gen, readied) = (m.word.clone(), m.gen.clone(), m.readied.clone());
                loom::thread::spawn(move || {
                    // close A
                    gen.store(2, Ordering::SeqCst);
                    readies(close_word(&word), &readied);
                    // open B (open_locked), then B's fd becomes readable
                    let _ = word.compare_exchange(READY, NIL, Ordering::AcqRel, Ordering::Relaxed);
                    gen.store(3, Ordering::SeqCst);
                    readies(edge(&word), &readied);
                })
            };
            let w = waiter(&m.word);
            let r = if publish {
                g_side(&m.word, &w, &m.gen, &m.parked)
            } else {
                match consume_or_publish(&m.word, 0, false) {
                    Step::Ready => R_READY,
                    Step::Nothing => R_NONE,
                    s => panic!("{s:?}"),
                }
            };
            if r == R_READY {
                match edge_if_stale(&m.gen, 1, &m.word) {
                    Some(gp) => assert!(gp.is_null(), "nobody else waits"),
                    None => panic!("the edge came after A's close"),
                }
            }
            c.join().unwrap();
            m.check_wakeups();
            assert_eq!(m.word.load(Ordering::SeqCst), READY, "B's edge was taken");
        });
    }

    #[test]
    fn loom_pollfd_stale_wait_gives_back_edge() {
        stale_wait(false);
        stale_wait(true);
    }

    /// Close (retire the generation, then close_word) racing a waiter and an edge:
    /// the waiter ends with the edge it consumed before the close or closed; it never
    /// stays parked, and the word ends NIL unless the edge came after the close.
    #[test]
    fn loom_pollfd_close_wakes_waiter() {
        loom::model(|| {
            let m = model(NIL);
            let c = {
                let (word, gen, readied) = (m.word.clone(), m.gen.clone(), m.readied.clone());
                loom::thread::spawn(move || {
                    gen.store(2, Ordering::SeqCst);
                    readies(close_word(&word), &readied);
                })
            };
            let e = m.edge();
            let w = waiter(&m.word);
            let r = g_side(&m.word, &w, &m.gen, &m.parked);
            c.join().unwrap();
            e.join().unwrap();
            assert!(r == R_READY || r == R_CLOSED, "result {r}");
            m.check_wakeups();
        });
    }
}
