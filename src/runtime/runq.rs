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
//!
//! # Private mode: the owner takes without a locked instruction
//! With one P there is nobody to steal, yet every take by the owner (each G switch)
//! paid a `lock cmpxchg` on `head` or `runnext` (~3 ns of a 14 ns rt_gosched). A
//! [`StealGate`] in state `PRIVATE` promises that no stealer touches any queue, and
//! the owner then takes (and refills runnext) with plain loads and stores. The gate
//! changes state only under the caller's lock (procresize), through `CLOSED`, which
//! lets neither side use its fast way in:
//! - to `PRIVATE` ([`StealGate::privatize`]): close; a SeqCst fence; wait until no
//!   queue's owner is stealing (a thief raises its own queue's `stealing` flag, has a
//!   SeqCst fence, then checks that the gate is `OPEN`: the two fences make one of
//!   them see the other, so a late thief backs off); then open the owners' way.
//! - to `OPEN` ([`StealGate::share`]): close; a process-wide memory barrier
//!   (membarrier(2)); wait until no owner is inside a plain take. An owner raises
//!   its queue's `owner_busy` flag, has a compiler-only fence, then checks that the
//!   gate is `PRIVATE`: the owner's side of this Dekker pair costs no fence at all,
//!   because membarrier makes every running thread execute one (it interrupts them)
//!   and a thread that is not running has been through a context switch, which is
//!   one. So an owner either raised its flag early enough to be waited for, or
//!   reads `CLOSED` and takes the locked way. Under loom both barriers are SeqCst
//!   fences, which is what membarrier gives the pair.
//!
//! The gate goes `PRIVATE` only if the kernel has membarrier's private expedited
//! command (registered first); else it stays `OPEN` and nothing changes. If the
//! barrier fails once the gate is private (a seccomp sandbox the host installed after
//! rt_init denies it), `share` cannot know that every owner's plain take is over, so
//! it leaves the gate `CLOSED`: correct (owners take by CAS, nobody steals; a plain
//! take still under way races with nobody), at the price of work stealing, until
//! rt_shutdown resets it (t_runq_gate_membarrier_denied). `privatize` may make such a
//! gate private again if the registration still works.

use super::atomic::{fence, AtomicPtr, AtomicU32, Ordering, StaticAtomicU32};
use core::ptr;

/// Whether stealers may touch run queues, or owners may take without a locked
/// instruction (never both): see the file comment, "Private mode".
pub struct StealGate {
    state: StaticAtomicU32,
}

/// Stealers may steal; owners take by CAS.
const OPEN: u32 = 0;
/// Changing state: neither stealers nor plain takes.
const CLOSED: u32 = 1;
/// No stealer: owners take with plain loads and stores.
const PRIVATE: u32 = 2;

impl Default for StealGate {
    fn default() -> Self {
        Self::new()
    }
}

impl StealGate {
    pub const fn new() -> Self {
        StealGate {
            state: StaticAtomicU32::new(OPEN),
        }
    }

    /// Whether owners take without a locked instruction now (a snapshot).
    #[cfg(test)]
    pub fn is_private(&self) -> bool {
        self.state.load(Ordering::Relaxed) == PRIVATE
    }

    /// Makes the gate `PRIVATE`, if the kernel can give [`StealGate::share`] its
    /// barrier (else it stays `OPEN`). Returns whether it is private.
    ///
    /// # Safety
    /// The caller serializes the gate's transitions (one lock around every call of
    /// `privatize` and `share`), and `queues` holds every queue that uses this gate:
    /// a thief not in it would not be waited for.
    pub unsafe fn privatize<'a, const N: usize, T: 'a>(
        &self,
        queues: impl Iterator<Item = &'a Runq<T, N>> + Clone,
    ) -> bool {
        if self.state.load(Ordering::Relaxed) == PRIVATE {
            return true;
        }
        if !heavy_barrier_ready() {
            return false;
        }
        self.state.store(CLOSED, Ordering::Relaxed);
        // Pairs with the fence of a thief between its `stealing` flag and its look at
        // the gate: it sees CLOSED, or we see its flag.
        fence(Ordering::SeqCst);
        for q in queues {
            while q.stealing.load(Ordering::Acquire) != 0 {
                wait_a_moment();
            }
        }
        // Every steal is over (and, Acquire, its claims visible); none can start.
        self.state.store(PRIVATE, Ordering::Release);
        true
    }

    /// Makes the gate `OPEN`: stealers may steal once it returns. Without the
    /// process-wide barrier (denied since the gate went private) it stays `CLOSED`
    /// instead: see the file comment.
    ///
    /// # Safety
    /// As for [`StealGate::privatize`] (`queues`: every owner that may take plainly).
    pub unsafe fn share<'a, const N: usize, T: 'a>(
        &self,
        queues: impl Iterator<Item = &'a Runq<T, N>> + Clone,
    ) {
        if self.state.load(Ordering::Relaxed) == OPEN {
            return;
        }
        self.state.store(CLOSED, Ordering::Relaxed);
        // Every owner's next look at the gate sees CLOSED, or its `owner_busy` store
        // before that look is visible to us below.
        if !heavy_barrier() {
            // No barrier (see the file comment): closed it stays.
            return;
        }
        for q in queues {
            while q.owner_busy.load(Ordering::Acquire) != 0 {
                wait_a_moment();
            }
        }
        // Every plain take is over (Acquire: its stores are visible to the stealers
        // we let in now, through this Release).
        self.state.store(OPEN, Ordering::Release);
    }

    /// Forgets the state (every queue is gone: shutdown).
    pub fn reset(&self) {
        self.state.store(OPEN, Ordering::Release);
    }
}

/// The owner's side of the gate's barrier pair: nothing but ordering by the compiler
/// (see the file comment); a SeqCst fence under loom, which models membarrier's.
#[inline(always)]
fn light_barrier() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Whether [`heavy_barrier`] works: registers this process for membarrier's private
/// expedited command (idempotent; a fork child needs its own registration).
fn heavy_barrier_ready() -> bool {
    #[cfg(loom)]
    return true;
    #[cfg(not(loom))]
    {
        const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;
        // SAFETY: a registration; no memory is passed.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                0,
                0,
            ) == 0
        }
    }
}

/// A full memory barrier on every thread of the process that runs now (membarrier's
/// private expedited command), after a SeqCst fence of our own. Whether it was had:
/// false if the kernel refuses the command (a seccomp filter installed since the
/// registration).
fn heavy_barrier() -> bool {
    fence(Ordering::SeqCst);
    #[cfg(loom)]
    return true;
    #[cfg(not(loom))]
    {
        const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        let barrier = || {
            // SAFETY: no memory is passed.
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) }
        };
        // privatize registered before the gate left OPEN; registering again covers a
        // process image that lost it (it is idempotent).
        barrier() == 0 || (heavy_barrier_ready() && barrier() == 0)
    }
}

/// A wait for another thread's few instructions (it may have been preempted).
fn wait_a_moment() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// A P's local run queue of `N` slots (a power of two) plus runnext.
pub struct Runq<T, const N: usize> {
    head: AtomicU32,
    tail: AtomicU32,
    slots: [AtomicPtr<T>; N],
    runnext: AtomicPtr<T>,
    /// 1 while the owner takes without a locked instruction (StealGate).
    owner_busy: AtomicU32,
    /// 1 while the owner steals from another queue (StealGate).
    stealing: AtomicU32,
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
            owner_busy: AtomicU32::new(0),
            stealing: AtomicU32::new(0),
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
    pub unsafe fn put(
        &self,
        mut x: *mut T,
        next: bool,
        gate: &StealGate,
        spill: &mut dyn FnMut(&[*mut T]),
    ) {
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
            // the ring. Private: nobody else takes it, so a load and a store do.
            let old = if self.enter_plain(gate) {
                let old = self.runnext.load(Ordering::Relaxed);
                self.runnext.store(x, Ordering::Release);
                self.leave_plain();
                old
            } else {
                self.runnext.swap(x, Ordering::AcqRel)
            };
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
        self.peek_hint_at(0)
    }

    /// [`peek_hint`](Runq::peek_hint) for the G `k` places behind the head (as
    /// stale, maybe past the tail: a hint only, never dereferenced).
    #[inline(always)]
    pub fn peek_hint_at(&self, k: u32) -> *mut T {
        let head = self.head.load(Ordering::Relaxed).wrapping_add(k);
        self.slots[(head & Self::MASK) as usize].load(Ordering::Relaxed)
    }

    /// The owner's runqget: as [`Runq::get`], with plain loads and stores while
    /// `gate` is private (nobody else takes then). Always inlined: it is the heart of
    /// every fast path's pick.
    ///
    /// # Safety
    /// Only the queue's owner may call it (HeldP::runqget), and only with the gate
    /// its queue's thieves and transitions use.
    #[inline(always)]
    pub unsafe fn take(&self, gate: &StealGate) -> Option<(*mut T, bool)> {
        if self.enter_plain(gate) {
            let r = self.take_plain();
            self.leave_plain();
            return r;
        }
        self.get()
    }

    /// The owner's way into a plain take or refill: whether `gate` is private, and if
    /// so `owner_busy` raised until [`Runq::leave_plain`] (see the file comment).
    /// The first look at the gate only spares an open gate's owners the flag's stores
    /// (stealers read this cache line); the look after the flag and the fence is the
    /// one that decides.
    #[inline(always)]
    fn enter_plain(&self, gate: &StealGate) -> bool {
        if gate.state.load(Ordering::Relaxed) != PRIVATE {
            return false;
        }
        self.owner_busy.store(1, Ordering::Relaxed);
        light_barrier();
        if gate.state.load(Ordering::Acquire) == PRIVATE {
            return true;
        }
        self.owner_busy.store(0, Ordering::Relaxed);
        false
    }

    /// Ends what [`Runq::enter_plain`] began. Release: a transition that sees 0 sees
    /// our stores (see `share`).
    #[inline(always)]
    fn leave_plain(&self) {
        self.owner_busy.store(0, Ordering::Release);
    }

    /// [`Runq::take`] while nobody else consumes: no locked instruction.
    #[inline(always)]
    fn take_plain(&self) -> Option<(*mut T, bool)> {
        let next = self.runnext.load(Ordering::Relaxed);
        if !next.is_null() {
            self.runnext.store(ptr::null_mut(), Ordering::Relaxed);
            return Some((next, true));
        }
        let head = self.head.load(Ordering::Relaxed);
        if self.tail.load(Ordering::Relaxed) == head {
            return None;
        }
        let x = self.slots[(head & Self::MASK) as usize].load(Ordering::Relaxed);
        // Release as the CAS's: `put` reads head with Acquire before reusing a slot.
        self.head.store(head.wrapping_add(1), Ordering::Release);
        Some((x, false))
    }

    /// Go's runqget: runnext first (inheriting the time slice: `true`), then the
    /// ring's head, each claimed by a CAS. Safe for any consumer; the owner uses
    /// [`Runq::take`].
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
    /// return one of the stolen items to run now. Nothing while `gate` is not open.
    ///
    /// # Safety
    /// Only this queue's owner may call it (it produces into this queue):
    /// `HeldP::runqsteal` is the safe way in. `gate` is the one of both queues.
    pub unsafe fn steal(
        &self,
        victim: &Self,
        gate: &StealGate,
        steal_next: bool,
        let_owner_run: &dyn Fn(),
    ) -> Option<*mut T> {
        self.stealing.store(1, Ordering::Relaxed);
        // Pairs with privatize's fence: it waits for us, or we see it closed.
        fence(Ordering::SeqCst);
        if gate.state.load(Ordering::Acquire) != OPEN {
            self.stealing.store(0, Ordering::Relaxed);
            return None;
        }
        // SAFETY: our caller's contract.
        let r = unsafe { self.steal_open(victim, steal_next, let_owner_run) };
        // Release: privatize, seeing 0, sees our claims on victim's head.
        self.stealing.store(0, Ordering::Release);
        r
    }

    /// [`Runq::steal`] once the gate is seen open.
    unsafe fn steal_open(
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

    /// An open gate: these tests steal.
    static GATE: StealGate = StealGate::new();

    fn item(i: usize) -> *mut u8 {
        (i * 8 + 8) as *mut u8
    }

    #[test]
    fn fifo_with_runnext_first_and_spill_when_full() {
        let q: Runq<u8, 8> = Runq::new();
        let mut spilled = Vec::new();
        unsafe {
            for i in 0..8 {
                q.put(item(i), false, &GATE, &mut |b| spilled.extend_from_slice(b));
            }
            assert!(spilled.is_empty());
            q.put(item(100), true, &GATE, &mut |b| {
                spilled.extend_from_slice(b)
            });
            // The ring is full: the next put spills the older half plus the item.
            q.put(item(8), false, &GATE, &mut |b| spilled.extend_from_slice(b));
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
            q.put(item(1), true, &GATE, &mut |_| unreachable!());
            q.put(item(2), true, &GATE, &mut |_| unreachable!());
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
                victim.put(item(i), false, &GATE, &mut |_| unreachable!());
            }
            victim.put(item(50), true, &GATE, &mut |_| unreachable!());
            let got = thief.steal(&victim, &GATE, false, &|| {});
            assert_eq!(got, Some(item(2)));
            assert_eq!(thief.get(), Some((item(0), false)));
            assert_eq!(thief.get(), Some((item(1), false)));
            assert_eq!(thief.get(), None);
            assert_eq!(victim.len(), 4);
            // Drain the victim's ring; runnext is stolen only on request.
            for _ in 0..3 {
                victim.get_ring_for_test();
            }
            assert_eq!(thief.steal(&victim, &GATE, false, &|| {}), None);
            assert_eq!(thief.steal(&victim, &GATE, true, &|| {}), Some(item(50)));
        }
    }

    #[test]
    fn private_gate_keeps_thieves_out_and_share_lets_them_in() {
        let gate = StealGate::new();
        let q: Runq<u8, 8> = Runq::new();
        let thief: Runq<u8, 8> = Runq::new();
        let queues = || [&q, &thief].into_iter();
        // SAFETY (all below): this thread owns both queues and is the only
        // transitioner.
        if !unsafe { gate.privatize(queues()) } {
            // No membarrier here (an old kernel, valgrind): the gate stays open.
            assert!(!gate.is_private());
            return;
        }
        assert!(gate.is_private());
        unsafe {
            for i in 0..3 {
                q.put(item(i), false, &gate, &mut |_| unreachable!());
            }
            q.put(item(10), true, &gate, &mut |_| unreachable!());
            q.put(item(11), true, &gate, &mut |_| unreachable!());
            assert_eq!(thief.steal(&q, &gate, true, &|| {}), None);
            assert_eq!(q.take(&gate), Some((item(11), true)));
            assert_eq!(q.take(&gate), Some((item(0), false)));
            gate.share(queues());
            assert!(!gate.is_private());
            // Open: half of the ring (1, 2, 10) goes to the thief.
            assert_eq!(thief.steal(&q, &gate, false, &|| {}), Some(item(2)));
            assert_eq!(thief.take(&gate), Some((item(1), false)));
            assert_eq!(q.take(&gate), Some((item(10), false)));
            assert_eq!(q.take(&gate), None);
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
                        if let Some(x) = unsafe { mine.steal(&q, &GATE, true, &|| {}) } {
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
            unsafe {
                q.put(item(i), i % 7 == 0, &GATE, &mut |b| {
                    spilled.extend_from_slice(b)
                })
            };
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

    /// A gate for one model, its lazily made atomic touched here, on the thread that
    /// builds the model (see atomic.rs).
    fn open_gate() -> Arc<StealGate> {
        let gate = Arc::new(StealGate::new());
        assert!(!gate.is_private());
        gate
    }

    /// The gate opens (rt_gomaxprocs 1 -> 2) while the owner takes without a locked
    /// instruction, and the new P's M steals at once: `share` waits for the owner's
    /// plain take to end, or the owner sees the gate closed and takes by CAS, so no
    /// item is had twice or lost.
    #[test]
    fn loom_share_races_a_plain_take() {
        loom::model(|| {
            let q: Arc<Runq<u8, 4>> = Arc::new(Runq::new());
            let gate = open_gate();
            unsafe {
                assert!(gate.privatize(core::iter::once(&*q)));
                for i in 0..2 {
                    q.put(item(i), false, &gate, &mut |_| unreachable!());
                }
                q.put(item(2), true, &gate, &mut |_| unreachable!());
            }
            let (q2, g2) = (q.clone(), gate.clone());
            let owner = loom::thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..2 {
                    if let Some((x, _)) = unsafe { q2.take(&g2) } {
                        got.push(x as usize);
                    }
                }
                got
            });
            let mine: Runq<u8, 4> = Runq::new();
            let mut seen = [0usize; 3];
            unsafe {
                gate.share(core::iter::once(&*q));
                if let Some(x) = mine.steal(&q, &gate, true, &|| loom::thread::yield_now()) {
                    count(&mut seen, x);
                }
            }
            while let Some((x, _)) = mine.get() {
                count(&mut seen, x);
            }
            for x in owner.join().unwrap() {
                count(&mut seen, x as *mut u8);
            }
            while let Some((x, _)) = q.get() {
                count(&mut seen, x);
            }
            assert_eq!(seen, [1, 1, 1]);
        });
    }

    /// The gate goes private (rt_gomaxprocs 2 -> 1) while a thief that saw it open
    /// steals: `privatize` waits for it, or the thief sees the gate closed, so the
    /// owner's plain takes afterwards never take what the thief took.
    #[test]
    fn loom_privatize_races_a_thief() {
        loom::model(|| {
            let q: Arc<Runq<u8, 4>> = Arc::new(Runq::new());
            let mine: Arc<Runq<u8, 4>> = Arc::new(Runq::new());
            let gate = open_gate();
            unsafe {
                for i in 0..2 {
                    q.put(item(i), false, &gate, &mut |_| unreachable!());
                }
            }
            let (q2, mine2, g2) = (q.clone(), mine.clone(), gate.clone());
            let thief = loom::thread::spawn(move || {
                let mut got = Vec::new();
                if let Some(x) = unsafe { mine2.steal(&q2, &g2, true, &|| {}) } {
                    got.push(x as usize);
                    while let Some((x, _)) = mine2.get() {
                        got.push(x as usize);
                    }
                }
                got
            });
            let mut seen = [0usize; 2];
            unsafe {
                if gate.privatize([&*q, &*mine].into_iter()) {
                    while let Some((x, _)) = q.take(&gate) {
                        count(&mut seen, x);
                    }
                }
            }
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
    fn loom_owner_and_stealer_never_lose_or_duplicate() {
        loom::model(|| {
            let q: Arc<Runq<u8, 4>> = Arc::new(Runq::new());
            let gate = open_gate();
            let (q2, g2) = (q.clone(), gate.clone());
            let thief = loom::thread::spawn(move || {
                let mine: Runq<u8, 4> = Runq::new();
                let mut got = Vec::new();
                if let Some(x) =
                    unsafe { mine.steal(&q2, &g2, true, &|| loom::thread::yield_now()) }
                {
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
                    q.put(item(i), i == 4, &gate, &mut |b| {
                        spilled.extend_from_slice(b)
                    });
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
            let gate = open_gate();
            unsafe { q.put(item(0), true, &gate, &mut |_| unreachable!()) };
            let (q2, g2) = (q.clone(), gate.clone());
            let thief = loom::thread::spawn(move || {
                let mine: Runq<u8, 4> = Runq::new();
                let mut got = Vec::new();
                if let Some(x) = unsafe { mine.steal(&q2, &g2, true, &|| {}) } {
                    got.push(x as usize);
                    while let Some((x, _)) = mine.get() {
                        got.push(x as usize);
                    }
                }
                got
            });
            unsafe { q.put(item(1), true, &gate, &mut |_| unreachable!()) };
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
            let gate = open_gate();
            unsafe { q.put(item(0), true, &gate, &mut |_| unreachable!()) };
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let (q, gate) = (q.clone(), gate.clone());
                    loom::thread::spawn(move || {
                        let mine: Runq<u8, 2> = Runq::new();
                        unsafe { mine.steal(&q, &gate, true, &|| {}) }.is_some() as usize
                    })
                })
                .collect();
            let owner = q.get().is_some() as usize;
            let total: usize = ts.into_iter().map(|t| t.join().unwrap()).sum::<usize>() + owner;
            assert_eq!(total, 1);
        });
    }
}
