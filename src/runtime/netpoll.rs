//! The netpoller (Go's netpoll_epoll.go): one epoll instance for the process, an
//! eventfd to break a blocked poll, and per-fd descriptors with a reader and a
//! writer slot.
//!
//! An fd is registered edge-triggered for input and output on first use and re-armed
//! with EPOLL_CTL_MOD by each wait (which also re-reports a level that is already
//! there, and notices an fd number that the host closed and reused: MOD then fails
//! and we ADD). That MOD is the one system call a wait makes: a G does not look
//! with poll(2) before parking (only the first wait of the process does, before it
//! makes the poller, and a wait on an fd epoll refuses, such as a regular file or a
//! closed fd). A waiting G parks with its waiter in the fd's slot; the registration
//! happens in the park callback, on g0, after the G is marked waiting, so an event
//! can always ready it. A timeout is a timer that races the event for the waiter's
//! state word; the loser does nothing.
//!
//! Who polls: findRunnable polls without blocking when fds are waited on; an M that
//! finds nothing to run may block in netpoll until the soonest timer, if no other M
//! does already (`LASTPOLL` is 0 while one blocks: Go's lastpoll protocol); sysmon
//! polls when nobody has for 10 ms.
//!
//! # Waiting for timers without a poller
//! Timers do not need the poller: it is made by the first rt_poll_fd of a G, and a
//! process out of fds may never have one. Until it exists, the M that holds the
//! LASTPOLL token (the one M that waits for the soonest timer; the others park on
//! their idle notes as usual) sleeps with a timeout on `TIMER_NOTE` instead of in
//! epoll_wait, and `netpoll_break` wakes that note instead of writing the eventfd:
//! whoever adds an earlier timer (wake_netpoller), hands out a P (startm) or shuts
//! down reaches the sleeper through it, exactly as with the poller. No wakeup is
//! lost because the note stands in for the eventfd all the way: a break is sticky.
//! It is one futex word: a breaker raises it (only the one that finds it down calls
//! futex_wake; later ones merge), and it stays raised until the sleeper, awake,
//! lowers it. A break that comes after the sleeper took LASTPOLL but before it
//! reaches the futex makes its wait return at once (FUTEX_WAIT compares the word);
//! one that comes after it lowered the word cuts the next sleep short at worst: a
//! spurious wakeup, after which the M looks for work again, as after a stale eventfd
//! write. When the poller is made it breaks the note too, so a timer sleeper goes
//! back to poll for fds.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, Ordering};
use std::collections::HashMap;

use super::atomic::StaticAtomicU32;
use super::error::{Error, Result};
use super::g::{self, GQueue, G};
use super::note::{futex_wait, futex_wake, Lock};
use super::time::nanotime;
use super::{sched, timer};

/// rt_poll_fd's event bits: poll(2)'s values.
pub const POLLIN: u32 = libc::POLLIN as u32;
pub const POLLOUT: u32 = libc::POLLOUT as u32;

#[derive(Clone, Copy)]
struct Poller {
    epfd: i32,
    /// An eventfd in the epoll set: a write breaks a blocked epoll_wait.
    breakfd: i32,
}

/// The poller's fds, -1 until it is made. BREAKFD is stored before EPFD (Release),
/// so whoever sees EPFD >= 0 (Acquire) sees BREAKFD too. A fork child closes both and
/// makes its own poller (`reset_after_fork`): an epoll instance is an open file
/// description, shared with the parent across fork, so waiting on it or changing its
/// interest list from the child would steal the parent's events.
static EPFD: AtomicI32 = AtomicI32::new(-1);
static BREAKFD: AtomicI32 = AtomicI32::new(-1);
/// Serialises the making of the poller.
static MAKING: Lock<()> = Lock::new(());

fn poller_get() -> Option<Poller> {
    let epfd = EPFD.load(Ordering::Acquire);
    (epfd >= 0).then(|| Poller {
        epfd,
        breakfd: BREAKFD.load(Ordering::Relaxed),
    })
}
/// Whether `fd` is one of the poller's own fds. A host never owns such a number (it
/// can only name it by waiting on an fd it closed, which the poller then took), and a
/// wait on the eventfd would re-arm it under the waiter's registration: the waiter
/// would take the runtime's wake-ups for readiness, and netpoll would no longer know
/// its wake-up event (t_np_poller_fds_refused).
pub(crate) fn is_poller_fd(fd: i32) -> bool {
    fd == EPFD.load(Ordering::Relaxed) || fd == BREAKFD.load(Ordering::Relaxed)
}

/// nanotime of the last poll; 0 while an M blocks in netpoll.
pub static LASTPOLL: AtomicI64 = AtomicI64::new(1);
/// When the blocked poller will wake up by itself (0: never).
pub static POLL_UNTIL: AtomicI64 = AtomicI64::new(0);
/// Gs parked in rt_poll_fd.
pub static WAITERS: AtomicI32 = AtomicI32::new(0);
/// A break is on its way (coalesces eventfd writes).
static BREAK_PENDING: AtomicBool = AtomicBool::new(false);
/// What the LASTPOLL holder sleeps on while there is no poller (see the file
/// comment).
static TIMER_NOTE: BreakableNote = BreakableNote::new();

/// A futex word whose wakeups (breaks) are sticky and coalesced, as eventfd writes
/// are: the timer sleeper's stand-in for the poller (see the file comment). One
/// sleeper at a time; any number of breakers.
pub(crate) struct BreakableNote {
    /// 1: broken (a break came and was not consumed yet), else 0.
    word: StaticAtomicU32,
}

impl BreakableNote {
    pub(crate) const fn new() -> BreakableNote {
        BreakableNote {
            word: StaticAtomicU32::new(0),
        }
    }

    /// Breaks the wait, now or, if nobody sleeps yet, the next one. Only the breaker
    /// that raises the word calls futex_wake; later ones merge into its break.
    pub(crate) fn brk(&self) {
        if self.word.load(Ordering::Acquire) == 0 && self.word.swap(1, Ordering::AcqRel) == 0 {
            futex_wake(&self.word, 1);
        }
    }

    /// Sleeps until a break or for `delay` ns (< 0: no limit), then consumes the
    /// break if one came: the sleeper is awake now, which is all a break asks, and one
    /// raised after the consumption stays for the next sleep. Only one thread at a
    /// time may call it.
    pub(crate) fn sleep(&self, delay: i64) {
        let deadline = if delay < 0 {
            -1
        } else {
            nanotime().saturating_add(delay)
        };
        while self.word.load(Ordering::Acquire) == 0 {
            let left = if deadline < 0 {
                -1
            } else {
                deadline - nanotime()
            };
            if deadline >= 0 && left <= 0 {
                break;
            }
            // Returns at once if a break raised the word since our load.
            futex_wait(&self.word, 0, left);
        }
        self.word.store(0, Ordering::Release);
    }
}

/// Waiting states of a poll waiter.
const WAITING: u32 = 0;
const READY: u32 = 1;
const TIMEDOUT: u32 = 2;

/// A G waiting in rt_poll_fd (on its stack).
struct PollWaiter {
    g: *mut G,
    fd: i32,
    events: u32,
    /// WAITING, then READY or TIMEDOUT (first to CAS wins).
    state: AtomicU32,
    /// The readiness seen (poll(2) bits).
    revents: AtomicU32,
    timer: timer::Timer,
    has_timer: bool,
    /// The park callback failed (the G did not wait), or None.
    error: Option<Error>,
    /// The arm sequence of the fd's registration this waiter armed (PollDesc::seq):
    /// only an event collected after that arm wakes it.
    seq: u32,
    /// epoll refused the fd (a bad fd, a regular file): the G did not wait, and
    /// poll(2) answers for the fd instead.
    unpollable: bool,
}

/// An fd's waiters.
#[derive(Default)]
struct PollDesc {
    rg: Option<*mut PollWaiter>,
    wg: Option<*mut PollWaiter>,
    /// The arm sequence of the fd number's registration, carried in the high half
    /// of every event's data (`ev_data`): each wait re-arms the registration under
    /// the next value, in place (EPOLL_CTL_MOD) while the number names the same
    /// file, or, when MOD fails because the number names a file epoll does not
    /// know, by a new registration (ADD).
    ///
    /// An event reports the data its registration had when epoll_wait collected it
    /// (under the epoll instance's lock, which epoll_ctl takes too), and netpoll
    /// applies it to the slots later. A waiter that armed with sequence `s` is woken
    /// only by an event carrying `s` or a later arm's, up to this one ([`news_to`]):
    /// one collected before its arm was this fd's readiness for an earlier wait,
    /// maybe consumed since (the G timed out,
    /// found the data with its own poll(2), read it and waited again), and would
    /// report as ready an fd that is not (a blocking read would then block the M).
    /// The arm itself queues a fresh event if the fd is ready, so nothing is lost.
    /// An older file that lives on through a dup keeps its registration under the
    /// number with an older sequence: its events wake nobody, so a waiter is only
    /// ever woken by the file its number names.
    seq: u32,
}

/// The epoll data of fd `fd`'s registration armed with sequence `seq` (the break
/// eventfd's is u64::MAX, which no fd has: fds are below 2^31).
fn ev_data(fd: i32, seq: u32) -> u64 {
    (u64::from(seq) << 32) | u64::from(fd as u32)
}

/// Whether an event carrying arm sequence `ev` is news to a waiter that armed with
/// sequence `armed`, the fd's latest arm being `latest` (PollDesc::seq): the event
/// was collected at or after that arm, so its sequence lies in `armed..=latest`.
///
/// Sequences wrap, so the range is taken as distances from `armed`, not as a sign:
/// an older file's registration that lives on through a dup keeps the sequence it
/// had, and with a signed distance it would count as "after" every arm once the
/// number's waits had gone 2^31 past it (hours for a busy fd), waking waiters with
/// that file's readiness until 2^31 more; in the range it matches only while a
/// waiter's few arms straddle it, once in 2^32 arms.
fn news_to(armed: u32, latest: u32, ev: u32) -> bool {
    ev.wrapping_sub(armed) <= latest.wrapping_sub(armed)
}

struct Descs(HashMap<i32, PollDesc>);
// SAFETY: the waiters are touched only under the lock.
unsafe impl Send for Descs {}

static DESCS: Lock<Option<Descs>> = Lock::new(None);
/// Descriptor tables of parents, dropped by fork children: kept, never read.
static PARENT_DESCS: Lock<Vec<Descs>> = Lock::new(Vec::new());

/// Bumped by each fork child's `reset_after_fork`: the poller's generation. A
/// registered fd (pollfd) remembers the epoch it was registered under, and registers
/// again once it differs (the child's poller does not know the parent's fds).
static EPOCH: AtomicU32 = AtomicU32::new(1);

/// The poller's epoch (see EPOCH).
pub(crate) fn epoch() -> u32 {
    EPOCH.load(Ordering::Acquire)
}

/// The poller's epoll fd, making the poller if need be (rt_pollfd_open).
pub(crate) fn poller_epfd() -> Result<i32> {
    poller().map(|p| p.epfd)
}

/// The poller's epoll fd if it is made.
pub(crate) fn poller_epfd_if_made() -> Option<i32> {
    poller_get().map(|p| p.epfd)
}

/// The poller, made by the first call (rt_poll_fd from a G, rt_pollfd_open).
fn poller() -> Result<Poller> {
    if let Some(p) = poller_get() {
        return Ok(p);
    }
    let _making = MAKING.lock();
    if let Some(p) = poller_get() {
        return Ok(p);
    }
    let p = make_poller()?;
    BREAKFD.store(p.breakfd, Ordering::Relaxed);
    EPFD.store(p.epfd, Ordering::Release);
    // An M waiting for timers on TIMER_NOTE would not see fd events: wake it, so that
    // it polls from now on (the break is sticky: a sleeper on its way is cut short).
    break_note();
    Ok(p)
}

fn make_poller() -> Result<Poller> {
    // SAFETY: plain syscalls creating fds we own until the process ends or forks.
    unsafe {
        let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        if epfd < 0 {
            return Err(Error::NoMem);
        }
        let breakfd = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
        if breakfd < 0 {
            libc::close(epfd);
            return Err(Error::NoMem);
        }
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: u64::MAX,
        };
        if libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, breakfd, &mut ev) != 0 {
            libc::close(epfd);
            libc::close(breakfd);
            return Err(Error::NoMem);
        }
        Ok(Poller { epfd, breakfd })
    }
}

/// In a fork child (its only thread, from the atfork handler): forgets the parent's
/// poller. Its epoll and eventfd fds are closed (closing our copies leaves the
/// parent's instance and its registrations untouched: they belong to the open file
/// description, which the parent still holds), the descriptor table, whose waiters
/// are Gs of the parent, is dropped without being read, and the lastpoll state
/// starts over. The child's first wait makes a fresh poller.
pub fn reset_after_fork() {
    let epfd = EPFD.swap(-1, Ordering::AcqRel);
    let breakfd = BREAKFD.swap(-1, Ordering::AcqRel);
    // SAFETY: closing the child's copies of fds that only this module uses; no
    // other thread exists in the child to be waiting on them.
    unsafe {
        if epfd >= 0 {
            libc::close(epfd);
        }
        if breakfd >= 0 {
            libc::close(breakfd);
        }
    }
    // SAFETY: the child's only thread: a parent's thread that held these locks at the
    // fork does not exist here.
    unsafe {
        MAKING.get_after_fork();
        // The table may be mid-update (its lock was held): keep it, never walk it.
        if let Some(old) = DESCS.get_after_fork().take() {
            let kept = PARENT_DESCS.get_after_fork();
            if kept.try_reserve(1).is_ok() {
                kept.push(old);
            } else {
                // No memory to keep it reachable: leak it rather than walk it.
                core::mem::forget(old);
            }
        }
    }
    EPOCH.fetch_add(1, Ordering::AcqRel);
    LASTPOLL.store(1, Ordering::Release);
    POLL_UNTIL.store(0, Ordering::Release);
    WAITERS.store(0, Ordering::Release);
    BREAK_PENDING.store(false, Ordering::Release);
}

/// Whether the poller exists (any fd or timer was ever waited on).
pub fn inited() -> bool {
    poller_get().is_some()
}

/// Wakes an M blocked in netpoll, or waiting for timers on TIMER_NOTE (Go's
/// netpollBreak).
pub fn netpoll_break() {
    break_note();
    let Some(p) = poller_get() else { return };
    if BREAK_PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let one: u64 = 1;
    // SAFETY: writing 8 bytes to our eventfd.
    unsafe { libc::write(p.breakfd, &one as *const u64 as *const c_void, 8) };
}

/// Set once epoll_pwait2 turned out to be missing (Linux < 5.11, or valgrind, which
/// does not know it): from then on epoll_wait is called directly.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

/// epoll_pwait2 (Linux 5.11: a timespec, so timers get nanosecond rather than
/// millisecond resolution), else epoll_wait with the delay rounded up to whole
/// milliseconds. `delay` < 0 waits without limit. Returns the event count, or -1
/// with errno set.
fn epoll_wait_ns(epfd: i32, events: &mut [libc::epoll_event], delay: i64) -> i32 {
    let max = events.len().min(i32::MAX as usize) as i32;
    if !NO_PWAIT2.load(Ordering::Relaxed) {
        let ts = libc::timespec {
            tv_sec: (delay.max(0) / 1_000_000_000) as libc::time_t,
            tv_nsec: (delay.max(0) % 1_000_000_000) as libc::c_long,
        };
        let tsp = if delay < 0 {
            ptr::null()
        } else {
            &ts as *const libc::timespec
        };
        // SAFETY: events has room for `max` entries; the timespec and null sigmask
        // are valid for the call.
        let n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                epfd,
                events.as_mut_ptr(),
                max,
                tsp,
                ptr::null::<libc::sigset_t>(),
                0usize,
            )
        } as i32;
        // SAFETY: errno of the call just made.
        if n >= 0 || unsafe { *libc::__errno_location() } != libc::ENOSYS {
            return n;
        }
        NO_PWAIT2.store(true, Ordering::Relaxed);
    }
    let ms = if delay < 0 {
        -1
    } else {
        ((delay + 999_999) / 1_000_000).min(i32::MAX as i64) as i32
    };
    // SAFETY: `events` has room for `max` entries (max <= events.len()), the only
    // memory the kernel writes.
    unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), max, ms) }
}

/// Breaks the wait on TIMER_NOTE, now or, if nobody sleeps there yet, the next one
/// (see the file comment).
fn break_note() {
    TIMER_NOTE.brk();
}

/// Polls for ready fds, waiting up to `delay` ns (< 0: until an event or a break;
/// 0: not at all). Appends the Gs made ready to `out`, linked through the Gs
/// themselves (nothing is allocated). Without a poller, a wait (`delay` != 0) sleeps
/// on TIMER_NOTE instead (see the file comment).
pub fn netpoll(delay: i64, out: &mut GQueue) {
    let Some(p) = poller_get() else {
        if delay != 0 {
            // Only the LASTPOLL holder waits, so one M at most sleeps on the note.
            TIMER_NOTE.sleep(delay);
        }
        return;
    };
    let mut events: [libc::epoll_event; 128] = [libc::epoll_event { events: 0, u64: 0 }; 128];
    let n = loop {
        let n = epoll_wait_ns(p.epfd, &mut events, delay);
        if n < 0 {
            // SAFETY: errno of the failed call.
            let e = unsafe { *libc::__errno_location() };
            if e == libc::EINTR && delay <= 0 {
                continue;
            }
            // EINTR with a timeout: let the caller recompute its deadline.
            return;
        }
        break n;
    };
    if n == 0 {
        return;
    }
    // Taken at the first rt_poll_fd event: registered fds' (pollfd) need no lock.
    let mut d = None;
    for ev in &events[..n as usize] {
        if ev.u64 == u64::MAX {
            let mut buf = 0u64;
            // SAFETY: draining our eventfd.
            unsafe { libc::read(p.breakfd, &mut buf as *mut u64 as *mut c_void, 8) };
            BREAK_PENDING.store(false, Ordering::Release);
            continue;
        }
        // rt_poll_fd's data is an fd number (below 2^30: fs.nr_open's limit) in the
        // low word; a pollfd handle's has PFD_TAG.
        if ev.u64 as u32 & super::pollfd::PFD_TAG != 0 {
            super::pollfd::netpoll_event(ev.u64, ev.events, out);
            continue;
        }
        let d = d.get_or_insert_with(|| DESCS.lock());
        let fd = ev.u64 as u32 as i32;
        let Some(pd) = d.as_mut().and_then(|d| d.0.get_mut(&fd)) else {
            continue;
        };
        let seq = (ev.u64 >> 32) as u32;
        let e = ev.events;
        let err = e & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        let mut revents = 0u32;
        if e & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
            revents |= POLLIN;
        }
        if e & libc::EPOLLOUT as u32 != 0 {
            revents |= POLLOUT;
        }
        if err {
            revents |= POLLIN | POLLOUT;
        }
        let latest = pd.seq;
        for slot in [&mut pd.rg, &mut pd.wg] {
            if let Some(w) = *slot {
                // SAFETY: a waiter in a slot is live until it is taken out under
                // this lock.
                let wr = unsafe { &*w };
                // Collected before this waiter armed: an earlier wait's readiness
                // (or another file's, once behind the number), not news to it.
                if wr.events & revents != 0 && news_to(wr.seq, latest, seq) {
                    *slot = None;
                    if wr
                        .state
                        .compare_exchange(WAITING, READY, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                    {
                        wr.revents.store(wr.events & revents, Ordering::Release);
                        // SAFETY: winning the CAS from WAITING made the parked G
                        // ours to wake; a parked G is on no list.
                        unsafe { out.push_back(wr.g) };
                    }
                }
            }
        }
    }
}

/// rt_poll_fd: waits for `events` on `fd` (see mrt.h).
pub fn poll_fd(fd: i32, events: u32, timeout_ns: i64) -> Result<u32> {
    if fd < 0 || events & !(POLLIN | POLLOUT) != 0 || events == 0 || is_poller_fd(fd) {
        return Err(Error::Inval);
    }
    let gp = g::curg();
    if timeout_ns == 0 || gp.is_null() {
        // A check without waiting: answers at once for a ready or a bad fd.
        match poll_now(fd, events, 0)? {
            0 => {}
            r => return Ok(r),
        }
        if timeout_ns == 0 {
            return Err(Error::Again);
        }
        // Foreign thread or g0: block this thread in poll(2).
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
            let r = poll_now(fd, events, left)?;
            if r != 0 {
                return Ok(r);
            }
            if deadline >= 0 && nanotime() >= deadline {
                return Err(Error::TimedOut);
            }
        }
    }
    // Once the poller exists a G parks without looking first (no poll(2)): the
    // registration in the park callback (EPOLL_CTL_MOD, or ADD) re-reports a level
    // that is already there as an event, so a ready fd wakes its G through the poller
    // like one that becomes ready later. Hosts wait after a read or write said
    // EAGAIN, when the fd is almost never ready: the look cost a system call on every
    // wait for nothing. An fd epoll refuses (a bad one, a regular file) is looked at
    // with poll(2) after all (see park_on_fd).
    if poller_get().is_none() {
        // The first wait looks before making the poller: a ready or bad fd is
        // answered without it (a process out of fds may never have one), and the
        // poller's two fds cannot take the number of a bad fd before it is checked.
        match poll_now(fd, events, 0)? {
            0 => {}
            r => return Ok(r),
        }
        poller()?;
    }
    let deadline = if timeout_ns > 0 {
        nanotime().saturating_add(timeout_ns)
    } else {
        -1
    };
    // An event names the fd number and the arm sequence of its registration (see
    // PollDesc::seq): events of another file once behind the number, and events
    // collected before this wait armed, wake nobody, so readiness reported here is
    // this file's and news to this wait, with no poll(2) to confirm it.
    park_on_fd(gp, fd, events, deadline)
}

/// Parks the calling G until `fd` reports one of `events` or `deadline` (nanotime,
/// < 0: none) passes.
fn park_on_fd(gp: *mut G, fd: i32, events: u32, deadline: i64) -> Result<u32> {
    let mut w = PollWaiter {
        g: gp,
        fd,
        events,
        state: AtomicU32::new(WAITING),
        revents: AtomicU32::new(0),
        timer: timer::Timer::new(deadline.max(0), poll_timeout, ptr::null_mut()),
        has_timer: deadline >= 0,
        error: None,
        seq: 0,
        unpollable: false,
    };
    let wp: *mut PollWaiter = &mut w;
    w.timer.arg = wp.cast();
    WAITERS.fetch_add(1, Ordering::AcqRel);
    super::g::set_wait(gp, super::g::WaitReason::Fd, fd as u64);
    sched::gopark(Some(poll_commit), wp.cast());
    WAITERS.fetch_sub(1, Ordering::AcqRel);
    if w.has_timer {
        // SAFETY: our timer, maybe still in a heap.
        unsafe { timer::del(&mut w.timer) };
    }
    if let Some(e) = w.error {
        return Err(e);
    }
    if w.unpollable {
        // A closed or never-opened fd is RT_EINVAL (POLLNVAL); a regular file is
        // always ready, as poll(2) says; anything else epoll cannot wait for is
        // RT_EINVAL too.
        return match poll_now(fd, events, 0)? {
            0 => Err(Error::Inval),
            r => Ok(r),
        };
    }
    match w.state.load(Ordering::Acquire) {
        READY => Ok(w.revents.load(Ordering::Acquire)),
        _ => {
            // Timed out: leave the fd's slot empty (the event may still come).
            take_slot(fd, wp);
            Err(Error::TimedOut)
        }
    }
}

/// poll(2) on one fd for up to `ns` (< 0: forever). 0 if nothing is ready.
fn poll_now(fd: i32, events: u32, ns: i64) -> Result<u32> {
    let mut pfd = [libc::pollfd {
        fd,
        events: events as i16,
        revents: 0,
    }];
    let r = ppoll(&mut pfd, ns)?;
    if r == 0 {
        return Ok(0);
    }
    revents(&pfd[0], events)
}

/// ppoll(2) for up to `ns` (< 0: forever). EINTR is 0 ready.
pub(crate) fn ppoll(pfd: &mut [libc::pollfd], ns: i64) -> Result<i32> {
    let ts = libc::timespec {
        tv_sec: (ns.max(0) / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns.max(0) % 1_000_000_000) as libc::c_long,
    };
    let tsp = if ns < 0 {
        ptr::null()
    } else {
        &ts as *const libc::timespec
    };
    // SAFETY: valid pollfds and a valid (or null) timespec.
    let r = unsafe {
        libc::ppoll(
            pfd.as_mut_ptr(),
            pfd.len() as libc::nfds_t,
            tsp,
            ptr::null(),
        )
    };
    if r < 0 {
        // SAFETY: errno of the failed call, on this thread.
        let e = unsafe { *libc::__errno_location() };
        return if e == libc::EINTR {
            Ok(0)
        } else {
            Err(Error::Inval)
        };
    }
    Ok(r)
}

/// The requested events a polled pollfd reports as rt_poll_fd's and
/// rt_pollfd_wait's answer (an error or hang-up: all of them); a closed fd
/// (POLLNVAL) is Error::Inval.
pub(crate) fn revents(p: &libc::pollfd, events: u32) -> Result<u32> {
    let re = p.revents;
    if re & libc::POLLNVAL != 0 {
        return Err(Error::Inval);
    }
    let mut out = 0u32;
    if re & (libc::POLLIN | libc::POLLRDHUP) != 0 {
        out |= POLLIN;
    }
    if re & libc::POLLOUT != 0 {
        out |= POLLOUT;
    }
    if re & (libc::POLLERR | libc::POLLHUP) != 0 {
        out |= events;
    }
    Ok(out & events)
}

/// Runs on g0 once the G is parked: put the waiter in the fd's slots, arm the fd,
/// start the timeout. All of it happens under the descriptor lock: an event (which
/// netpoll handles under that lock) cannot wake the G before its timer is in a
/// heap, and a timeout that wakes it early finds the G blocked in `take_slot`
/// until we are done. After the lock is released the waiter is not touched again.
unsafe extern "C" fn poll_commit(_g: *mut G, arg: *mut c_void) -> bool {
    // SAFETY: arg is the parked G's waiter, live until the G resumes.
    let w = unsafe { &mut *(arg as *mut PollWaiter) };
    let Some(p) = poller_get() else {
        super::throw("poll_commit: no poller (it is made before parking)");
    };
    let mut d = DESCS.lock();
    let descs = d.get_or_insert_with(|| Descs(HashMap::new()));
    // The table grows fallibly: out of memory is RT_ENOMEM, not an abort.
    if !descs.0.contains_key(&w.fd) && descs.0.try_reserve(1).is_err() {
        w.error = Some(Error::NoMem);
        return false;
    }
    let pd = descs.0.entry(w.fd).or_default();
    let wp: *mut PollWaiter = w;
    let (want_r, want_w) = (w.events & POLLIN != 0, w.events & POLLOUT != 0);
    if (want_r && pd.rg.is_some()) || (want_w && pd.wg.is_some()) {
        w.error = Some(Error::Busy);
        return false;
    }
    // Arm the fd first (nothing to undo if it fails), then the timer, then publish
    // the waiter in its slots: events are handled under this lock, after us.
    // MOD re-arms the edge-triggered registration: if the fd is ready now, an event
    // is queued at once (and a poller blocked in epoll_wait woken), so a level that
    // is already there, from before the caller's wait or since its last look, wakes
    // the G like a later event.
    let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
    // A new sequence for this arm (see PollDesc::seq), used by MOD or ADD alike.
    let seq = pd.seq.wrapping_add(1);
    let mut ev = libc::epoll_event {
        events,
        u64: ev_data(w.fd, seq),
    };
    // SAFETY: valid epoll fd and event.
    let mut r = unsafe { libc::epoll_ctl(p.epfd, libc::EPOLL_CTL_MOD, w.fd, &mut ev) };
    if r != 0 {
        // Not registered: a new file behind the number (or its first wait).
        ev = libc::epoll_event {
            events,
            u64: ev_data(w.fd, seq),
        };
        // SAFETY: p.epfd is the poller's epoll fd (POLLER is made before parking) and
        // `ev` is a valid epoll_event for the call.
        r = unsafe { libc::epoll_ctl(p.epfd, libc::EPOLL_CTL_ADD, w.fd, &mut ev) };
    }
    if r != 0 {
        // SAFETY: errno of the failed epoll_ctl.
        let e = unsafe { *libc::__errno_location() };
        if e == libc::ENOMEM || e == libc::ENOSPC {
            // No memory for the registration, or max_user_watches reached.
            w.error = Some(Error::NoMem);
        } else {
            w.unpollable = true;
        }
        return false;
    }
    pd.seq = seq;
    w.seq = seq;
    if w.has_timer {
        let m = super::tls::getm();
        // SAFETY: g0 of an M holding a P; the timer lives in the parked G's frame.
        if unsafe { !timer::add((*m).p(), &mut w.timer) } {
            w.error = Some(Error::NoMem);
            return false;
        }
    }
    if want_r {
        pd.rg = Some(wp);
    }
    if want_w {
        pd.wg = Some(wp);
    }
    let when = if w.has_timer { w.timer.when } else { 0 };
    drop(d);
    if when != 0 {
        super::sched::wake_netpoller(when);
    }
    // A poller blocked in epoll_wait sees the new registration by itself.
    true
}

/// Removes `w` from its fd's slots if it is still there.
fn take_slot(fd: i32, w: *mut PollWaiter) {
    let mut d = DESCS.lock();
    if let Some(pd) = d.as_mut().and_then(|d| d.0.get_mut(&fd)) {
        if pd.rg == Some(w) {
            pd.rg = None;
        }
        if pd.wg == Some(w) {
            pd.wg = None;
        }
    }
}

/// The timeout of a poll waiter: wins the state word; then its G is to be readied.
unsafe fn poll_timeout(t: *mut timer::Timer) -> *mut G {
    // SAFETY: the timer's arg is its waiter, live while the timer is armed.
    let w = unsafe { &*((*t).arg as *const PollWaiter) };
    if w.state
        .compare_exchange(WAITING, TIMEDOUT, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        w.g
    } else {
        ptr::null_mut()
    }
}

/// Which events wake a waiter: those of its own arm and later ones up to the fd's
/// latest, across the sequence's wrap; not one collected before its arm, nor one of
/// an older file behind the number (a frozen sequence), however many arms ago.
#[cfg(all(test, not(loom)))]
mod seq_tests {
    use super::news_to;

    #[test]
    fn only_an_event_of_the_waiters_arm_or_later_is_news_to_it() {
        for base in [0u32, 1000, u32::MAX - 2, u32::MAX, 1 << 31] {
            let armed = base;
            let latest = base.wrapping_add(2); // two more arms for the other direction
            for k in 0..=2 {
                assert!(news_to(armed, latest, base.wrapping_add(k)), "{base} +{k}");
            }
            // Collected before the arm: stale.
            assert!(!news_to(armed, latest, base.wrapping_sub(1)), "{base} -1");
            // Beyond the latest arm: no registration carries that yet.
            assert!(!news_to(armed, latest, base.wrapping_add(3)), "{base} +3");
        }
        // An older file behind the number keeps its registration's sequence while
        // the new file's waits go on: its events never become news, even 2^31 or
        // more arms later (a signed distance took them for later arms from then on).
        let old = 7u32;
        for ahead in [1u32 << 31, (1 << 31) + 1, (1 << 31) + 1000, u32::MAX - 5] {
            let armed = old.wrapping_add(ahead);
            assert!(!news_to(armed, armed.wrapping_add(1), old), "{ahead}");
        }
    }
}

/// Model checks (`make loom`) of the timer sleeper's note (BreakableNote): a break is
/// never lost and never wakes the note twice, whatever the interleaving with a sleep
/// and other breaks. (A timed sleep is modelled by its timeout expiring at once: loom
/// has no clock.)
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// A fresh note whose word is created on this thread (see atomic.rs).
    fn note() -> Arc<BreakableNote> {
        let n = Arc::new(BreakableNote::new());
        n.word.load(Ordering::Relaxed);
        n
    }

    /// A sleeper that waits without limit and a breaker: the sleeper always wakes
    /// (a lost break is a deadlock, which loom reports), and the note is re-armed.
    #[test]
    fn loom_timer_note_break_is_never_lost() {
        loom::model(|| {
            let n = note();
            let b = {
                let n = n.clone();
                loom::thread::spawn(move || n.brk())
            };
            n.sleep(-1);
            b.join().unwrap();
            // Whatever order they ran in, the break was consumed exactly once: the
            // next break wakes the next sleep without limit.
            n.brk();
            n.sleep(-1);
        });
    }

    /// A sleep that times out racing two breakers: afterwards the note is
    /// consistent: a break that nobody consumed cuts the next sleep short, and a
    /// fresh break still wakes a sleep without limit.
    #[test]
    fn loom_timer_note_timeout_races_breaks() {
        loom::model(|| {
            let n = note();
            let bs: Vec<_> = (0..2)
                .map(|_| {
                    let n = n.clone();
                    loom::thread::spawn(move || n.brk())
                })
                .collect();
            n.sleep(0);
            for b in bs {
                b.join().unwrap();
            }
            n.sleep(0); // consumes a break left over, if any
            n.brk();
            n.sleep(-1);
        });
    }
}
