//! Run queues: each P's bounded ring plus `runnext`, and the global queue (Go's
//! runqput/runqget/runqgrab/runqsteal and globrunqput/globrunqget).
//!
//! # The local ring
//! A single-producer, multi-consumer ring of `N` slots. Only the P's owner writes
//! `tail` and the slots at and after it; anyone may consume from `head` by a CAS.
//! - The owner publishes an item by writing its slot, then storing `tail + 1` with
//!   Release; consumers load `tail` with Acquire, so a slot they see as filled holds
//!   the item that was written.
//! - A consumer reads the slots in [head, head+n) and then claims them with a CAS on
//!   `head` (AcqRel). If the CAS fails, someone else claimed them first and what was
//!   read is discarded; if it succeeds, the owner cannot have overwritten those slots
//!   in between, because it only writes slots beyond `tail` and the ring never holds
//!   more than `N` items (the owner checks `tail - head < N` with an Acquire load of
//!   `head`, which pairs with the consumer's CAS).
//! - Slots are atomics read Relaxed: a stealer may read a slot while the owner
//!   rewrites it after a wrap; the CAS on `head` then fails and the value is dropped.
//!
//! # runnext
//! A one-item fast lane: the G that a G just made runnable (Go's newproc and ready
//! put it there) runs next on the same P, inheriting the time slice. Owners and
//! stealers take it by a CAS; stealers take it only on the last stealing pass, and
//! only after giving a running owner a moment to schedule it (see `grab`).

use super::atomic::{AtomicPtr, AtomicU32, Ordering};
use core::ptr;

/// A P's local run queue of `N` slots (a power of two) plus runnext.
pub struct Runq<T, const N: usize> {
    head: AtomicU32,
    tail: AtomicU32,
    slots: [AtomicPtr<T>; N],
    runnext: AtomicPtr<T>,
}

impl<T, const N: usize> Default for Runq<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Runq<T, N> {
    const MASK: u32 = {
        assert!(N.is_power_of_two() && N >= 2 && N <= (1 << 30));
        (N - 1) as u32
    };

    pub fn new() -> Self {
        Runq {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            runnext: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Whether the queue (ring and runnext) looks empty. Exact only for the owner.
    pub fn is_empty(&self) -> bool {
        // Go's runqempty: re-read until head and tail come from one moment, so a
        // concurrent runqput that kicks runnext into the ring is not missed.
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            let next = self.runnext.load(Ordering::Acquire);
            if tail == self.tail.load(Ordering::Acquire) {
                return head == tail && next.is_null();
            }
        }
    }

    /// Items in the ring plus runnext (a snapshot).
    pub fn len(&self) -> u32 {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(N as u32)
            + (!self.runnext.load(Ordering::Acquire).is_null()) as u32
    }

    /// Go's runqput. With `next`, `x` goes to runnext and the previous runnext (if
    /// any) to the tail. When the ring is full, half of it plus the item go to
    /// `spill` (the global queue), in order.
    ///
    /// # Safety
    /// Only the queue's owner may call it (single producer): `HeldP::runqput` is the
    /// safe way in, holding the P proves it.
    #[inline]
    pub unsafe fn put(&self, mut x: *mut T, next: bool, spill: &mut dyn FnMut(&[*mut T])) {
        if next {
            // Only the owner makes runnext non-null; consumers only take it (non-null
            // -> null). So a runnext seen empty stays empty until we fill it, and a
            // plain release store does (no locked RMW: the common case of a hand-off,
            // whose G took runnext just before).
            if self.runnext.load(Ordering::Acquire).is_null() {
                self.runnext.store(x, Ordering::Release);
                return;
            }
            // Swap in the new runnext; the old one (if not taken meanwhile) goes to
            // the ring.
            let old = self.runnext.swap(x, Ordering::AcqRel);
            if old.is_null() {
                return;
            }
            x = old;
        }
        loop {
            // Load head with Acquire: it pairs with consumers' CAS, so their reads of
            // the slots we may now overwrite are finished.
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Relaxed); // only we write it
            if tail.wrapping_sub(head) < N as u32 {
                self.slots[(tail & Self::MASK) as usize].store(x, Ordering::Relaxed);
                // Publish the slot.
                self.tail.store(tail.wrapping_add(1), Ordering::Release);
                return;
            }
            // Full: move half of it to the global queue, then retry if a consumer
            // raced us for those items.
            if self.put_slow(x, head, tail, spill) {
                return;
            }
        }
    }

    /// Go's runqputslow: spill the older half plus `x`. Out of line and cold: its
    /// batch array would otherwise enlarge the frame of every caller of `put`, and
    /// those run on G stacks whose second page we do not want to touch.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, x: *mut T, head: u32, tail: u32, spill: &mut dyn FnMut(&[*mut T])) -> bool {
        let n = tail.wrapping_sub(head) / 2;
        debug_assert!(n as usize == N / 2, "put_slow on a queue that is not full");
        let mut batch = [ptr::null_mut::<T>(); N];
        for (i, b) in batch.iter_mut().enumerate().take(n as usize) {
            *b = self.slots[(head.wrapping_add(i as u32) & Self::MASK) as usize]
                .load(Ordering::Relaxed);
        }
        // Claim them; a failed CAS means consumers took some, and the ring has room.
        if self
            .head
            .compare_exchange(
                head,
                head.wrapping_add(n),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return false;
        }
        batch[n as usize] = x;
        spill(&batch[..=n as usize]);
        true
    }

    /// The G at the ring's head, without taking it, for a prefetch hint only: the
    /// value may be stale or a slot that was never filled (then null or an old G), so
    /// it must never be dereferenced.
    #[inline(always)]
    pub fn peek_hint(&self) -> *mut T {
        let head = self.head.load(Ordering::Relaxed);
        self.slots[(head & Self::MASK) as usize].load(Ordering::Relaxed)
    }

    /// Go's runqget: runnext first (inheriting the time slice: `true`), then the
    /// ring's head. Safe for any consumer; meant for the owner. Always inlined: it is
    /// the heart of every fast path's pick.
    #[inline(always)]
    pub fn get(&self) -> Option<(*mut T, bool)> {
        let next = self.runnext.load(Ordering::Acquire);
        if !next.is_null()
            && self
                .runnext
                .compare_exchange(next, ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Some((next, true));
        }
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            if tail == head {
                return None;
            }
            let x = self.slots[(head & Self::MASK) as usize].load(Ordering::Relaxed);
            // Claim the slot; on failure another consumer took it: retry.
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(1),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Some((x, false));
            }
        }
    }

    /// Go's runqgrab: claims half of this queue into `dst`'s ring starting at slot
    /// index `dst_tail` (not yet published) and returns how many. On an empty ring it
    /// may take runnext (`steal_next`), after calling `let_owner_run` once so that a
    /// running owner gets the chance to schedule it itself.
    fn grab(&self, dst: &Self, dst_tail: u32, steal_next: bool, let_owner_run: &dyn Fn()) -> u32 {
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            let mut n = tail.wrapping_sub(head);
            n -= n / 2;
            if n == 0 {
                if steal_next {
                    let next = self.runnext.load(Ordering::Acquire);
                    if !next.is_null() {
                        let_owner_run();
                        if self
                            .runnext
                            .compare_exchange(
                                next,
                                ptr::null_mut(),
                                Ordering::AcqRel,
                                Ordering::Relaxed,
                            )
                            .is_err()
                        {
                            continue;
                        }
                        dst.slots[(dst_tail & Self::MASK) as usize].store(next, Ordering::Relaxed);
                        return 1;
                    }
                }
                return 0;
            }
            // head and tail were read at different moments: re-read.
            if n > (N / 2) as u32 {
                continue;
            }
            for i in 0..n {
                let x = self.slots[(head.wrapping_add(i) & Self::MASK) as usize]
                    .load(Ordering::Relaxed);
                dst.slots[(dst_tail.wrapping_add(i) & Self::MASK) as usize]
                    .store(x, Ordering::Relaxed);
            }
            // Claim them (the items copied stay unpublished in dst until we succeed).
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return n;
            }
        }
    }

    /// Go's runqsteal: steal half of `victim` into this (empty or not) queue and
    /// return one of the stolen items to run now.
    ///
    /// # Safety
    /// Only this queue's owner may call it (it produces into this queue):
    /// `HeldP::runqsteal` is the safe way in.
    pub unsafe fn steal(
        &self,
        victim: &Self,
        steal_next: bool,
        let_owner_run: &dyn Fn(),
    ) -> Option<*mut T> {
        let tail = self.tail.load(Ordering::Relaxed);
        let n = victim.grab(self, tail, steal_next, let_owner_run);
        if n == 0 {
            return None;
        }
        let n = n - 1;
        let x = self.slots[(tail.wrapping_add(n) & Self::MASK) as usize].load(Ordering::Relaxed);
        if n > 0 {
            let head = self.head.load(Ordering::Acquire);
            if tail.wrapping_sub(head).wrapping_add(n) >= N as u32 {
                super::throw("runqsteal: runq overflow");
            }
            // Publish the rest.
            self.tail.store(tail.wrapping_add(n), Ordering::Release);
        }
        Some(x)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn item(i: usize) -> *mut u8 {
        (i * 8 + 8) as *mut u8
    }

    #[test]
    fn fifo_with_runnext_first_and_spill_when_full() {
        let q: Runq<u8, 8> = Runq::new();
        let mut spilled = Vec::new();
        unsafe {
            for i in 0..8 {
                q.put(item(i), false, &mut |b| spilled.extend_from_slice(b));
            }
            assert!(spilled.is_empty());
            q.put(item(100), true, &mut |b| spilled.extend_from_slice(b));
            // The ring is full: the next put spills the older half plus the item.
            q.put(item(8), false, &mut |b| spilled.extend_from_slice(b));
        }
        assert_eq!(spilled, vec![item(0), item(1), item(2), item(3), item(8)]);
        assert_eq!(q.get(), Some((item(100), true)));
        for i in 4..8 {
            assert_eq!(q.get(), Some((item(i), false)));
        }
        assert_eq!(q.get(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn new_runnext_kicks_the_old_one_to_the_tail() {
        let q: Runq<u8, 4> = Runq::new();
        unsafe {
            q.put(item(1), true, &mut |_| unreachable!());
            q.put(item(2), true, &mut |_| unreachable!());
        }
        assert_eq!(q.get(), Some((item(2), true)));
        assert_eq!(q.get(), Some((item(1), false)));
    }

    #[test]
    fn steal_takes_half_and_runnext_only_when_asked() {
        let victim: Runq<u8, 16> = Runq::new();
        let thief: Runq<u8, 16> = Runq::new();
        unsafe {
            for i in 0..6 {
                victim.put(item(i), false, &mut |_| unreachable!());
            }
            victim.put(item(50), true, &mut |_| unreachable!());
            let got = thief.steal(&victim, false, &|| {});
            assert_eq!(got, Some(item(2)));
            assert_eq!(thief.get(), Some((item(0), false)));
            assert_eq!(thief.get(), Some((item(1), false)));
            assert_eq!(thief.get(), None);
            assert_eq!(victim.len(), 4);
            // Drain the victim's ring; runnext is stolen only on request.
            for _ in 0..3 {
                victim.get_ring_for_test();
            }
            assert_eq!(thief.steal(&victim, false, &|| {}), None);
            assert_eq!(thief.steal(&victim, true, &|| {}), Some(item(50)));
        }
    }

    impl<T, const N: usize> Runq<T, N> {
        fn get_ring_for_test(&self) {
            let head = self.head.load(Ordering::Acquire);
            self.head.store(head + 1, Ordering::Release);
        }
    }

    #[test]
    fn concurrent_stealers_see_every_item_exactly_once() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        const ITEMS: usize = 200_000;
        let q: Arc<Runq<u8, 256>> = Arc::new(Runq::new());
        let seen: Arc<Vec<AtomicUsize>> =
            Arc::new((0..ITEMS).map(|_| AtomicUsize::new(0)).collect());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stealers: Vec<_> = (0..2)
            .map(|_| {
                let (q, seen, done) = (q.clone(), seen.clone(), done.clone());
                std::thread::spawn(move || {
                    let mine: Runq<u8, 256> = Runq::new();
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        if let Some(x) = unsafe { mine.steal(&q, true, &|| {}) } {
                            seen[(x as usize - 8) / 8].fetch_add(1, Ordering::Relaxed);
                            while let Some((x, _)) = mine.get() {
                                seen[(x as usize - 8) / 8].fetch_add(1, Ordering::Relaxed);
                            }
                        } else if finished {
                            break;
                        }
                    }
                })
            })
            .collect();
        let mut spilled = Vec::new();
        for i in 0..ITEMS {
            unsafe { q.put(item(i), i % 7 == 0, &mut |b| spilled.extend_from_slice(b)) };
            if i % 3 == 0 {
                if let Some((x, _)) = q.get() {
                    seen[(x as usize - 8) / 8].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        done.store(true, Ordering::Release);
        for s in stealers {
            s.join().unwrap();
        }
        while let Some((x, _)) = q.get() {
            seen[(x as usize - 8) / 8].fetch_add(1, Ordering::Relaxed);
        }
        for x in spilled {
            seen[(x as usize - 8) / 8].fetch_add(1, Ordering::Relaxed);
        }
        for (i, s) in seen.iter().enumerate() {
            assert_eq!(s.load(Ordering::Relaxed), 1, "item {i}");
        }
    }
}

/// Model checks (`make loom`): every interleaving of an owner and a stealer.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    fn item(i: usize) -> *mut u8 {
        (i * 8 + 8) as *mut u8
    }

    fn count(seen: &mut [usize], x: *mut u8) {
        seen[(x as usize - 8) / 8] += 1;
    }

    #[test]
    fn loom_owner_and_stealer_never_lose_or_duplicate() {
        loom::model(|| {
            let q: Arc<Runq<u8, 4>> = Arc::new(Runq::new());
            let q2 = q.clone();
            let thief = loom::thread::spawn(move || {
                let mine: Runq<u8, 4> = Runq::new();
                let mut got = Vec::new();
                if let Some(x) = unsafe { mine.steal(&q2, true, &|| loom::thread::yield_now()) } {
                    got.push(x as usize);
                    while let Some((x, _)) = mine.get() {
                        got.push(x as usize);
                    }
                }
                got
            });
            let mut seen = [0usize; 6];
            let mut spilled = Vec::new();
            unsafe {
                for i in 0..5 {
                    q.put(item(i), i == 4, &mut |b| spilled.extend_from_slice(b));
                }
            }
            if let Some((x, _)) = q.get() {
                count(&mut seen, x);
            }
            for x in thief.join().unwrap() {
                count(&mut seen, x as *mut u8);
            }
            while let Some((x, _)) = q.get() {
                count(&mut seen, x);
            }
            for x in spilled {
                count(&mut seen, x);
            }
            assert_eq!(&seen[..5], &[1, 1, 1, 1, 1]);
        });
    }

    /// The owner refills runnext while a stealer races to take its old content:
    /// whichever way the race goes (stolen before the owner looks, between its look and
    /// its swap, or not at all), each item is had exactly once.
    #[test]
    fn loom_runnext_refill_races_a_stealer() {
        loom::model(|| {
            let q: Arc<Runq<u8, 4>> = Arc::new(Runq::new());
            unsafe { q.put(item(0), true, &mut |_| unreachable!()) };
            let q2 = q.clone();
            let thief = loom::thread::spawn(move || {
                let mine: Runq<u8, 4> = Runq::new();
                let mut got = Vec::new();
                if let Some(x) = unsafe { mine.steal(&q2, true, &|| {}) } {
                    got.push(x as usize);
                    while let Some((x, _)) = mine.get() {
                        got.push(x as usize);
                    }
                }
                got
            });
            unsafe { q.put(item(1), true, &mut |_| unreachable!()) };
            let mut seen = [0usize; 2];
            for x in thief.join().unwrap() {
                count(&mut seen, x as *mut u8);
            }
            while let Some((x, _)) = q.get() {
                count(&mut seen, x);
            }
            assert_eq!(seen, [1, 1]);
        });
    }

    #[test]
    fn loom_two_stealers_race_for_runnext() {
        loom::model(|| {
            let q: Arc<Runq<u8, 2>> = Arc::new(Runq::new());
            unsafe { q.put(item(0), true, &mut |_| unreachable!()) };
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    loom::thread::spawn(move || {
                        let mine: Runq<u8, 2> = Runq::new();
                        unsafe { mine.steal(&q, true, &|| {}) }.is_some() as usize
                    })
                })
                .collect();
            let owner = q.get().is_some() as usize;
            let total: usize = ts.into_iter().map(|t| t.join().unwrap()).sum::<usize>() + owner;
            assert_eq!(total, 1);
        });
    }
}
