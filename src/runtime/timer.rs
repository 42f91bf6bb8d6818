//! Timers (Go's timers): each P keeps a 4-ary min-heap of timers under its own lock.
//! Timers run from findRunnable on their P, are run by stealing Ms on other Ps
//! (stolen along with work), and bound how long an idle M blocks in netpoll (or, with
//! no poller, on a note: timers need no fds; see netpoll.rs).
//!
//! A timer's callback runs with its heap's lock held. Deleting a timer takes the
//! same lock, so once `del` returns the callback has either run to completion or
//! will never run: a timer may therefore live on the stack of the G it wakes.
//!
//! # Which heap holds a timer
//! A timer's `heap` names the heap that holds it, and it changes only while the lock
//! of that heap is held: `add` sets it under the new heap's lock, `del` and `check`
//! clear it under the old one's, and a move between heaps (a P going away on a
//! GOMAXPROCS shrink) rewrites it while holding *both* locks, taking them in address
//! order (the only place that holds two heap locks, so no other order can deadlock
//! with it). Hence whoever holds the lock of heap H and reads `heap == H` knows the
//! timer is in H at `idx`; anyone else may read `heap` only as a hint and must
//! re-check it under the lock it names (`del` does). The move makes room in the
//! destination before it touches a timer, so it cannot stop halfway.

use core::ptr;
use core::sync::atomic::AtomicBool;

use super::atomic::{AtomicI64, AtomicPtr, Ordering};
use super::g::G;
use super::note::{Guard, Lock};
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
    /// The heap that holds it (null: in no heap); see the file comment for who may
    /// write it and when a reader may trust it.
    heap: AtomicPtr<PTimers>,
    /// Its index in that heap (guarded by that heap's lock).
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

impl TimerHeap {
    /// How many timers it holds (schedtrace's timerslen).
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
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
        // SAFETY: `t` is in this heap, so live until its owner deletes it under this
        // heap's lock, which `&mut self` shows we hold (it also guards idx).
        unsafe { (*t).idx = i };
    }

    fn sift_up(&mut self, mut i: usize) {
        let t = self.heap[i];
        // SAFETY: `t` is in this heap, so live until its owner deletes it, which needs
        // the heap lock that `&mut self` shows we hold.
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
        // SAFETY: `t` is in this heap, so live until its owner deletes it, which needs
        // the heap lock that `&mut self` shows we hold.
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

    /// Restores the heap order after the timers were put in at random (a move).
    fn heapify(&mut self) {
        for i in (0..self.heap.len() / 4 + 1).rev() {
            if i < self.heap.len() {
                self.sift_down(i);
            }
        }
    }
}

impl PTimers {
    /// What a timer's `heap` says when this heap holds it.
    fn as_heap(&self) -> *mut PTimers {
        self as *const PTimers as *mut PTimers
    }
}

#[cfg(test)]
std::thread_local! {
    /// Unit tests: `add` on this thread fails as if the heap could not grow (the
    /// allocator cannot be made to fail deterministically). Set by a G and read by
    /// its M's g0 in the park commit: both run on the same thread.
    pub static FAIL_ADD: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Adds `t` to `pp`'s heap. Returns false if the heap cannot grow (no memory).
///
/// # Safety
/// `t` is in no heap, and stays valid until it fires or is deleted; `pp` is a live P.
pub unsafe fn add(pp: *mut P, t: *mut Timer) -> bool {
    #[cfg(test)]
    if FAIL_ADD.with(|f| f.get()) {
        return false;
    }
    // SAFETY: `pp` is a live P (clause 2), so its timers outlive `t` in the heap; `t`
    // stays valid (clause 1) and every caller passes a timer in no heap.
    if unsafe { !add_to(&(*pp).timers, t) } {
        return false;
    }
    // A P beyond gomaxprocs that its M still runs gave its timers to P0 when the
    // shrink passed it (procresize): nothing looks at its heap any more, so ours
    // follows them. (`t` itself is not touched: it may have fired already.) Either
    // the shrink's move took our heap's lock after our push, and moved `t`, or it
    // took it before: then it stored GOMAXPROCS before its unlock, which our lock
    // acquired, so the load below sees the shrink.
    // SAFETY: `pp` is a live P (clause 2).
    let id = unsafe { (*pp).id };
    if id >= GOMAXPROCS.load(Ordering::Acquire) {
        let p0 = ALLP[0].load(Ordering::Acquire);
        if !p0.is_null() && p0 != pp {
            move_all(pp, p0);
        }
    }
    true
}

/// Adds `t` to the heap `pt`. Returns false if the heap cannot grow (no memory).
///
/// # Safety
/// `t` is in no heap and stays valid until it fires or is deleted; `pt` outlives it
/// in the heap.
unsafe fn add_to(pt: &PTimers, t: *mut Timer) -> bool {
    let mut h = pt.heap.lock();
    // SAFETY: t is ours until it is in the heap.
    unsafe { (*t).heap.store(pt.as_heap(), Ordering::Release) };
    if !h.push(t) {
        // SAFETY: the push failed, so `t` never entered the heap; it is valid (our
        // contract) and no del can act on the `heap` we set while we hold pt's lock.
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
        // A hint until checked under the lock it names (see the file comment).
        // SAFETY: `t` is a live timer (the # Safety contract); `heap` is atomic, so an
        // unlocked read is fine as a hint.
        let pt = unsafe { (*t).heap.load(Ordering::Acquire) };
        if pt.is_null() {
            // Fired or never added. The firing side clears `heap` only after the
            // callback returned, under the lock, so nothing runs any more.
            return false;
        }
        // SAFETY: Ps live until shutdown; a timer in a heap keeps its P alive.
        let pt = unsafe { &*pt };
        let mut h = pt.heap.lock();
        // SAFETY: `t` is live (our contract); `heap` is now re-read under the lock of
        // the heap it named, where it can be trusted.
        if unsafe { (*t).heap.load(Ordering::Acquire) } != pt.as_heap() {
            continue; // fired or moved meanwhile; re-check
        }
        // SAFETY: in this heap at its idx.
        let i = unsafe { (*t).idx };
        h.remove(i);
        // SAFETY: `t` is live (our contract), and we hold the lock of `pt`, the heap
        // that `heap` names, so nobody else writes `heap` meanwhile.
        unsafe { (*t).heap.store(ptr::null_mut(), Ordering::Release) };
        pt.timer0.store(h.first(), Ordering::Release);
        return true;
    }
}

/// Runs the expired timers of `p` (any P: its heap lock serialises the runners),
/// handing each G that a firing makes runnable to `wake` (called with the heap lock
/// held: it must only queue the G). Returns the next `when` (0: none left).
pub fn check(p: &P, now: i64, wake: &mut dyn FnMut(*mut G)) -> i64 {
    run_expired(&p.timers, now, wake)
}

/// Runs the expired timers of heap `pt` (see `check`).
fn run_expired(pt: &PTimers, now: i64, wake: &mut dyn FnMut(*mut G)) -> i64 {
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
    if STRANDED.load(Ordering::Acquire) {
        rehome_stranded();
    }
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

/// Set when a move found no memory for the destination: some P beyond gomaxprocs
/// may still hold timers that nobody runs. Every M about to park retries the move
/// (`earliest`), so the timers are late, never lost.
static STRANDED: AtomicBool = AtomicBool::new(false);

/// Moves the timers of every P beyond gomaxprocs to P0 (after a move failed).
fn rehome_stranded() {
    STRANDED.store(false, Ordering::Release);
    let p0 = ALLP[0].load(Ordering::Acquire);
    if p0.is_null() {
        return;
    }
    let n = GOMAXPROCS.load(Ordering::Acquire).max(1);
    for slot in ALLP.iter().skip(n as usize) {
        let pp = slot.load(Ordering::Acquire);
        if !pp.is_null() {
            move_all(pp, p0);
        }
    }
}

/// Moves every timer of `from` (a P going away) to `to`. If there is no memory for
/// them, they stay in `from` and a later `earliest` tries again.
pub fn move_all(from: *mut P, to: *mut P) {
    // SAFETY: both Ps are live (Ps live until shutdown).
    let moved = unsafe { move_timers(&(*from).timers, &(*to).timers) };
    if !moved {
        STRANDED.store(true, Ordering::Release);
    }
}

/// Takes the locks of two distinct heaps in the one global order (by address).
fn lock_two<'a>(a: &'a PTimers, b: &'a PTimers) -> (Guard<'a, TimerHeap>, Guard<'a, TimerHeap>) {
    if (a as *const PTimers) < (b as *const PTimers) {
        let ga = a.heap.lock();
        (ga, b.heap.lock())
    } else {
        let gb = b.heap.lock();
        (a.heap.lock(), gb)
    }
}

/// Hands every timer of heap `from` over to heap `to`, all at once: both locks are
/// held throughout, so `del`, `add` and `check` see each timer either in `from` with
/// `heap == from` or in `to` with `heap == to`, never in between. Returns false,
/// having changed nothing, if `to` cannot grow to hold them.
fn move_timers(from: &PTimers, to: &PTimers) -> bool {
    if ptr::eq(from, to) {
        return true;
    }
    let (mut hf, mut ht) = lock_two(from, to);
    let n = hf.heap.len();
    if n == 0 {
        return true;
    }
    // 1. Make room in the destination before touching any timer. If it cannot grow,
    //    `from`'s vector may have room for both: then the two swap vectors.
    if ht.heap.try_reserve(n).is_err() {
        if hf.heap.capacity() - n < ht.heap.len() {
            return false;
        }
        core::mem::swap(&mut hf.heap, &mut ht.heap);
    }
    // 2. Append (within the capacity made above: no allocation, cannot fail).
    let rest = core::mem::take(&mut hf.heap);
    ht.heap.extend_from_slice(&rest);
    drop(rest);
    // 3. Re-home every timer (both locks held), then restore the heap order.
    let to_heap = to.as_heap();
    for i in 0..ht.heap.len() {
        let t = ht.heap[i];
        ht.set(i, t);
        // SAFETY: timers in a heap are live; we hold the locks of both heaps.
        unsafe { (*t).heap.store(to_heap, Ordering::Release) };
    }
    ht.heapify();
    from.timer0.store(0, Ordering::Release);
    to.timer0.store(ht.first(), Ordering::Release);
    true
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    unsafe fn nop(_: *mut Timer) -> *mut G {
        ptr::null_mut()
    }

    /// Reports a "G" to wake (the timer's own address: only counted, never used).
    unsafe fn report(t: *mut Timer) -> *mut G {
        t.cast()
    }

    /// A timer pointer that may cross threads (the test keeps the timers alive).
    #[derive(Clone, Copy)]
    struct Tp(*mut Timer);
    // SAFETY: the timers outlive both threads; the heaps' locks order every access.
    unsafe impl Send for Tp {}

    /// Regression: `move_all` used to empty the source heap under its lock, unlock,
    /// and re-add the timers to the destination one by one, while each still named
    /// the source. A `del` in that window locked the (empty) source heap, believed the
    /// timer was there and removed index 80 of an empty heap ("index out of bounds:
    /// the len is 0 but the index is 80"); in the other window `del` returned false
    /// ("fired") and the move then linked the deleted timer, on a dead frame, into
    /// the new heap.
    #[test]
    fn timer_del_during_move_all_does_not_index_empty_heap() {
        // Enough timers that re-adding them one by one (the old window) takes a while.
        const TIMERS: usize = 4_000;
        for round in 0..100 {
            let from = Arc::new(PTimers::default());
            let to = Arc::new(PTimers::default());
            let mut ts: Vec<Box<Timer>> = (0..TIMERS)
                .map(|i| Box::new(Timer::new(1_000 + i as i64, nop, ptr::null_mut())))
                .collect();
            for t in ts.iter_mut() {
                // SAFETY: fresh timers, alive until the end of the round.
                assert!(unsafe { add_to(&from, &mut **t) });
            }
            let ptrs: Vec<Tp> = ts.iter_mut().map(|t| Tp(&mut **t)).collect();
            // Both threads spin until both run, so that they overlap.
            let ready = Arc::new(AtomicU32::new(0));
            let start = |ready: &AtomicU32| {
                ready.fetch_add(1, Ordering::AcqRel);
                while ready.load(Ordering::Acquire) < 2 {
                    core::hint::spin_loop();
                }
            };
            let deleter = {
                let ready = ready.clone();
                std::thread::spawn(move || {
                    start(&ready);
                    // The last timers first: their indexes are the large ones.
                    for &Tp(t) in ptrs.iter().rev() {
                        // SAFETY: the timers outlive this thread.
                        unsafe {
                            assert!(del(t), "a timer that never fired was not found");
                            assert!((*t).heap.load(Ordering::Acquire).is_null());
                        }
                    }
                })
            };
            start(&ready);
            if round % 2 == 0 {
                assert!(move_timers(&from, &to));
            } else {
                assert!(move_timers(&from, &to));
                assert!(move_timers(&to, &from));
            }
            deleter.join().expect("del panicked while the timers moved");
            assert!(
                from.heap.lock().heap.is_empty(),
                "a deleted timer is in a heap"
            );
            assert!(
                to.heap.lock().heap.is_empty(),
                "a deleted timer is in a heap"
            );
            assert_eq!(from.timer0.load(Ordering::Acquire), 0);
            assert_eq!(to.timer0.load(Ordering::Acquire), 0);
        }
    }

    #[test]
    fn move_keeps_heap_order_and_indexes() {
        let from = PTimers::default();
        let to = PTimers::default();
        let mut ts: Vec<Box<Timer>> = (0..50)
            .map(|i| {
                Box::new(Timer::new(
                    ((i * 37) % 50) as i64 + 1,
                    report,
                    ptr::null_mut(),
                ))
            })
            .collect();
        for (i, t) in ts.iter_mut().enumerate() {
            let h = if i % 3 == 0 { &to } else { &from };
            // SAFETY: the timers outlive the heaps' use of them.
            assert!(unsafe { add_to(h, &mut **t) });
        }
        assert!(move_timers(&from, &to));
        assert_eq!(from.timer0.load(Ordering::Acquire), 0);
        assert_eq!(to.timer0.load(Ordering::Acquire), 1);
        {
            let h = to.heap.lock();
            assert_eq!(h.heap.len(), 50);
            for (i, &t) in h.heap.iter().enumerate() {
                // SAFETY: live timers, lock held.
                unsafe {
                    assert_eq!((*t).idx, i);
                    assert_eq!((*t).heap.load(Ordering::Relaxed), to.as_heap());
                }
            }
        }
        // Firing in time order leaves no expired timer behind (the heap is ordered).
        for now in 1..=50 {
            let mut fired = 0;
            let next = run_expired(&to, now, &mut |_| fired += 1);
            assert!(fired > 0);
            assert!(next == 0 || next > now);
        }
        for t in ts.iter_mut() {
            // SAFETY: live timers.
            assert!(!unsafe { del(&mut **t) }, "every timer fired");
        }
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
            // SAFETY: the timers outlive the heap.
            let w = unsafe { (*t).when };
            assert!(w >= last);
            last = w;
        }
    }
}

/// Model checks (`make loom`) of the production add/del/check/move over two heaps (a
/// P going away and P0) on the futex lock's loom model.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::runtime::atomic::AtomicU32;
    use loom::sync::Arc;

    /// A pointer that may cross loom threads (the model keeps its target alive).
    #[derive(Clone, Copy)]
    struct Sp<T>(*mut T);
    // SAFETY: the targets outlive every thread of the model; the heaps' locks order
    // every access to the timers.
    unsafe impl<T> Send for Sp<T> {}

    /// Counts its firings in the AtomicU32 its arg points at.
    unsafe fn count(t: *mut Timer) -> *mut G {
        // SAFETY: the model's timers point at its live counter.
        unsafe { (*((*t).arg as *const AtomicU32)).fetch_add(1, Ordering::Relaxed) };
        ptr::null_mut()
    }

    /// One thread moves every timer from one heap to the other (a GOMAXPROCS
    /// shrink), one deletes a timer that has not expired (a G's sleep ends early),
    /// and one runs the expired timers of both heaps (findRunnable and a stealing
    /// M). Never a panic; `del` finds the unexpired timer wherever the move put it,
    /// and afterwards it is in no heap; the expired one fires exactly once.
    /// This model fails on the old move (take, unlock, re-add one by one).
    #[test]
    fn loom_timer_move_races_del_and_check() {
        // Four preemptions (3 s here; 5 take 30 s, unbounded runs for many minutes).
        // The old move fails with one: each race above needs one or two switches.
        crate::runtime::atomic::loom_builder(4).check(|| {
            let from = Arc::new(PTimers::default());
            let to = Arc::new(PTimers::default());
            let fired = Arc::new(AtomicU32::new(0));
            let arg = &*fired as *const AtomicU32 as *mut core::ffi::c_void;
            let late = Box::into_raw(Box::new(Timer::new(5, count, arg)));
            let due = Box::into_raw(Box::new(Timer::new(1, count, arg)));
            // SAFETY: fresh timers, freed at the end of the model. (Adding them
            // also creates from's lock word on this thread; to's below.)
            unsafe {
                assert!(add_to(&from, late));
                assert!(add_to(&from, due));
            }
            drop(to.heap.lock());
            let mover = {
                let (from, to) = (from.clone(), to.clone());
                loom::thread::spawn(move || assert!(move_timers(&from, &to)))
            };
            let deleter = {
                let late = Sp(late);
                loom::thread::spawn(move || {
                    let Sp(late) = late;
                    // SAFETY: the timer outlives the model's threads.
                    unsafe {
                        assert!(del(late), "del missed a timer that never fired");
                        assert!((*late).heap.load(Ordering::Acquire).is_null());
                    }
                })
            };
            // Expired timers run from either heap, before, during or after the move.
            run_expired(&from, 1, &mut |_| {});
            run_expired(&to, 1, &mut |_| {});
            mover.join().unwrap();
            deleter.join().unwrap();
            run_expired(&to, 1, &mut |_| {});
            assert_eq!(fired.load(Ordering::Relaxed), 1, "the due timer fired once");
            assert!(from.heap.lock().heap.is_empty());
            assert!(
                to.heap.lock().heap.is_empty(),
                "a deleted timer is in a heap"
            );
            // SAFETY: in no heap any more.
            unsafe {
                assert!(!del(due));
                drop(Box::from_raw(late));
                drop(Box::from_raw(due));
            }
        });
    }
}
