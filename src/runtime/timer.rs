//! Timers (Go's timers): each P keeps a 4-ary min-heap of timers under its own lock.
//! Timers run from findRunnable on their P, are run by stealing Ms on other Ps
//! (stolen along with work), and bound how long an idle M blocks in netpoll.
//!
//! A timer's callback runs with its heap's lock held. Deleting a timer takes the
//! same lock, so once `del` returns the callback has either run to completion or
//! will never run: a timer may therefore live on the stack of the G it wakes.

use core::ptr;
use core::sync::atomic::{AtomicI64, AtomicPtr, Ordering};

use super::g::G;
use super::note::Lock;
use super::p::{ALLP, GOMAXPROCS, P};

/// What a timer does when it fires (runs with the heap lock held: it must not
/// block or touch timers). Returns the G that the firing makes runnable, if any
/// (null: none): the timer code reports it, and the scheduler that ran the timers
/// readies it on its own P.
pub type TimerFn = unsafe fn(t: *mut Timer) -> *mut G;

/// A timer. Owned by whoever made it; linked into at most one heap.
pub struct Timer {
    /// When it fires (nanotime).
    pub when: i64,
    pub f: TimerFn,
    /// The callback's argument.
    pub arg: *mut core::ffi::c_void,
    /// The P whose heap holds it (null: in no heap).
    heap: AtomicPtr<P>,
    /// Its index in that heap.
    idx: usize,
}

impl Timer {
    pub fn new(when: i64, f: TimerFn, arg: *mut core::ffi::c_void) -> Timer {
        Timer {
            when,
            f,
            arg,
            heap: AtomicPtr::new(ptr::null_mut()),
            idx: 0,
        }
    }
}

/// A P's timers: a 4-ary min-heap on `when`.
#[derive(Default)]
pub struct TimerHeap {
    heap: Vec<*mut Timer>,
}

// SAFETY: the timers are touched only under the heap's lock.
unsafe impl Send for TimerHeap {}

/// Per-P timer state.
pub struct PTimers {
    pub heap: Lock<TimerHeap>,
    /// The earliest `when` in the heap, 0 if empty (read without the lock).
    pub timer0: AtomicI64,
}

impl Default for PTimers {
    fn default() -> Self {
        PTimers {
            heap: Lock::new(TimerHeap::default()),
            timer0: AtomicI64::new(0),
        }
    }
}

impl TimerHeap {
    fn when(&self, i: usize) -> i64 {
        // SAFETY: timers in the heap are live (their owners delete them first).
        unsafe { (*self.heap[i]).when }
    }

    fn set(&mut self, i: usize, t: *mut Timer) {
        self.heap[i] = t;
        // SAFETY: as above.
        unsafe { (*t).idx = i };
    }

    fn sift_up(&mut self, mut i: usize) {
        let t = self.heap[i];
        // SAFETY: as above.
        let w = unsafe { (*t).when };
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.when(parent) <= w {
                break;
            }
            let pt = self.heap[parent];
            self.set(i, pt);
            i = parent;
        }
        self.set(i, t);
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let t = self.heap[i];
        // SAFETY: as above.
        let w = unsafe { (*t).when };
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + 4).min(n) {
                if self.when(c) < self.when(best) {
                    best = c;
                }
            }
            if self.when(best) >= w {
                break;
            }
            let bt = self.heap[best];
            self.set(i, bt);
            i = best;
        }
        self.set(i, t);
    }

    fn push(&mut self, t: *mut Timer) -> bool {
        if self.heap.try_reserve(1).is_err() {
            return false;
        }
        self.heap.push(t);
        let i = self.heap.len() - 1;
        self.sift_up(i);
        true
    }

    fn remove(&mut self, i: usize) -> *mut Timer {
        let t = self.heap[i];
        let last = self.heap.pop().expect("remove from an empty heap");
        if i < self.heap.len() {
            self.set(i, last);
            self.sift_down(i);
            // SAFETY: `last` is in the heap.
            let j = unsafe { (*last).idx };
            self.sift_up(j);
        }
        t
    }

    fn first(&self) -> i64 {
        if self.heap.is_empty() {
            0
        } else {
            self.when(0)
        }
    }
}

/// Adds `t` to `pp`'s heap. Returns false if the heap cannot grow (no memory).
///
/// # Safety
/// `t` stays valid until it fires or is deleted; `pp` is a live P.
pub unsafe fn add(pp: *mut P, t: *mut Timer) -> bool {
    // The M that waits for timers sleeps in the netpoller: make sure it exists.
    if super::netpoll::init().is_err() {
        return false;
    }
    // SAFETY: per the contract.
    let pt = unsafe { &(*pp).timers };
    let mut h = pt.heap.lock();
    // SAFETY: t is ours until it is in the heap.
    unsafe { (*t).heap.store(pp, Ordering::Release) };
    if !h.push(t) {
        // SAFETY: as above.
        unsafe { (*t).heap.store(ptr::null_mut(), Ordering::Release) };
        return false;
    }
    pt.timer0.store(h.first(), Ordering::Release);
    true
}

/// Removes `t` from whatever heap holds it. Returns true if it was removed before it
/// fired. After this returns, its callback is not running and will not run.
///
/// # Safety
/// `t` is a live timer.
pub unsafe fn del(t: *mut Timer) -> bool {
    loop {
        // SAFETY: per the contract.
        let pp = unsafe { (*t).heap.load(Ordering::Acquire) };
        if pp.is_null() {
            // Fired or never added. The firing side clears `heap` only after the
            // callback returned, under the lock, so nothing runs any more.
            return false;
        }
        // SAFETY: Ps live until shutdown; a timer in a heap keeps its P alive.
        let pt = unsafe { &(*pp).timers };
        let mut h = pt.heap.lock();
        // SAFETY: as above.
        if unsafe { (*t).heap.load(Ordering::Acquire) } != pp {
            continue; // fired meanwhile; re-check
        }
        // SAFETY: in this heap at its idx.
        let i = unsafe { (*t).idx };
        h.remove(i);
        // SAFETY: as above.
        unsafe { (*t).heap.store(ptr::null_mut(), Ordering::Release) };
        pt.timer0.store(h.first(), Ordering::Release);
        return true;
    }
}

/// Runs the expired timers of `p` (any P: its heap lock serialises the runners),
/// handing each G that a firing makes runnable to `wake` (called with the heap lock
/// held: it must only queue the G). Returns the next `when` (0: none left).
pub fn check(p: &P, now: i64, wake: &mut dyn FnMut(*mut G)) -> i64 {
    let pt = &p.timers;
    let t0 = pt.timer0.load(Ordering::Acquire);
    if t0 == 0 || t0 > now {
        return t0;
    }
    let mut h = pt.heap.lock();
    while !h.heap.is_empty() && h.when(0) <= now {
        let t = h.remove(0);
        // SAFETY: the timer is live until its callback ran (we hold the lock, and
        // `heap` still names this P, so a concurrent del waits for the lock).
        let gp = unsafe {
            let gp = ((*t).f)(t);
            (*t).heap.store(ptr::null_mut(), Ordering::Release);
            gp
        };
        if !gp.is_null() {
            wake(gp);
        }
    }
    let next = h.first();
    pt.timer0.store(next, Ordering::Release);
    next
}

/// The earliest timer over every P (0: none).
pub fn earliest() -> i64 {
    let n = GOMAXPROCS.load(Ordering::Acquire);
    let mut best = 0i64;
    for slot in ALLP.iter().take(n as usize) {
        let pp = slot.load(Ordering::Acquire);
        if pp.is_null() {
            continue;
        }
        // SAFETY: Ps in ALLP live until shutdown.
        let w = unsafe { (*pp).timers.timer0.load(Ordering::Acquire) };
        if w != 0 && (best == 0 || w < best) {
            best = w;
        }
    }
    best
}

/// Moves every timer of `from` (a P going away) to `to`.
pub fn move_all(from: *mut P, to: *mut P) {
    if from == to {
        return;
    }
    // SAFETY: both Ps are live.
    let list = {
        let pt = unsafe { &(*from).timers };
        let mut h = pt.heap.lock();
        pt.timer0.store(0, Ordering::Release);
        core::mem::take(&mut h.heap)
    };
    for t in list {
        // SAFETY: the timers are live; each is re-added exactly once.
        unsafe {
            (*t).heap.store(ptr::null_mut(), Ordering::Release);
            if !add(to, t) {
                super::throw("timer: no memory to move timers");
            }
        }
    }
}

/// rt_sleep: a G parks on a timer (its M runs other Gs); elsewhere nanosleep.
pub fn sleep(ns: i64) -> super::error::Result<()> {
    if ns <= 0 {
        return Ok(());
    }
    let gp = super::g::curg();
    if gp.is_null() {
        super::time::os_sleep(ns);
        return Ok(());
    }
    // The M that will wait for this timer sleeps in epoll_wait.
    super::netpoll::init()?;
    let mut t = Timer::new(
        super::time::nanotime().saturating_add(ns),
        sleep_fire,
        gp.cast(),
    );
    super::sched::gopark(Some(sleep_commit), (&mut t as *mut Timer).cast());
    // Returns once the callback is done (see `del`).
    // SAFETY: our timer.
    unsafe { del(&mut t) };
    Ok(())
}

/// On g0 after the G is marked waiting: arm its timer on this M's P.
unsafe extern "C" fn sleep_commit(_g: *mut super::g::G, arg: *mut core::ffi::c_void) -> bool {
    let t = arg as *mut Timer;
    // Read before arming: once in a heap the timer may fire on another M and the G
    // resume, ending the frame that holds it.
    // SAFETY: the timer lives in the parked G's frame; nothing can resume it yet.
    let when = unsafe { (*t).when };
    let m = super::tls::getm();
    // SAFETY: g0 of an M holding a P; the timer is live as above.
    if unsafe { !add((*m).p(), t) } {
        // No memory to queue the timer: resume at once (a short sleep).
        return false;
    }
    super::sched::wake_netpoller(when);
    true
}

unsafe fn sleep_fire(t: *mut Timer) -> *mut G {
    // SAFETY: the arg of a sleep timer is its parked G.
    unsafe { (*t).arg.cast() }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe fn nop(_: *mut Timer) -> *mut G {
        ptr::null_mut()
    }

    #[test]
    fn heap_orders_and_removes_anywhere() {
        let mut h = TimerHeap::default();
        let mut ts: Vec<Box<Timer>> = (0..200)
            .map(|i| {
                Box::new(Timer::new(
                    ((i * 7919) % 1000) as i64 + 1,
                    nop,
                    ptr::null_mut(),
                ))
            })
            .collect();
        for t in ts.iter_mut() {
            assert!(h.push(&mut **t));
        }
        // Remove every third from the middle of the heap.
        for t in ts.iter_mut().step_by(3) {
            let i = t.idx;
            assert_eq!(h.heap[i], &mut **t as *mut Timer);
            h.remove(i);
        }
        let mut last = 0;
        while !h.heap.is_empty() {
            let t = h.remove(0);
            let w = unsafe { (*t).when };
            assert!(w >= last);
            last = w;
        }
    }
}
