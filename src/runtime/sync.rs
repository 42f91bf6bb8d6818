//! rt_mutex and rt_wg: fixed-size, zero-initialisable blocking objects that park a
//! G (its M goes on with other Gs) and futex-block a thread outside any G.
//!
//! Both keep a FIFO of waiters behind a small lock inside the object: a three-state
//! futex lock (a short spin, then the thread sleeps), held only to link or unlink
//! waiters, never across a G switch. A waiter is a node on the waiting side's own
//! stack (a G's stack stays put while it is parked), so blocking allocates nothing.
//!
//! A G queues its node, drops the queue lock and then parks, so a waker may pop the
//! node before the park is committed. The node's `key` settles that race: the park
//! callback (run once the G is saved and marked Waiting) moves it from [`ASLEEP`] to
//! [`PARKED`]; the waker swaps in its outcome ([`RETRY`] or [`HANDOFF`]) and readies
//! the G only if it found PARKED. If it found ASLEEP, the callback sees the outcome,
//! refuses the park and the G goes on at once. Holding the queue lock across the
//! park instead made every other thread that waits or wakes on the object spin
//! through the whole switch to the next G, including the first touch of that G's
//! fresh stack (10^6 Gs parking on one wait group: sched_yield was 10% of the time).
//!
//! Layout of the 32 bytes (`[u64; 4]`, all zero = unlocked / count 0):
//! ```text
//!   rt_mutex: word0 = state (bit 0 LOCKED, bit 1 WAITERS, bit 2 STARVING),
//!             word1 = queue spinlock, word2 = head waiter, word3 = tail waiter
//!   rt_wg:    word0 = counter << 32 | waiters (Go's WaitGroup state), word1 =
//!             queue spinlock and wakeup tokens, word2 = head, word3 = tail
//! ```
//!
//! # rt_mutex: normal and starvation mode (Go's sync.Mutex)
//!
//! In **normal mode** the mutex is not fair: unlock clears LOCKED and then wakes the
//! queue's head, which must compete for the mutex with whoever arrives meanwhile
//! (a newcomer is already on a CPU, so it usually wins; that is what makes the mode
//! fast). A woken waiter that loses goes back to the *front* of the queue.
//!
//! A waiter that, on waking, has waited more than [`STARVE_NS`] (1 ms) since it first
//! queued is *starving*: when it queues again it sets STARVING. In **starvation
//! mode** unlock does not release the mutex: with LOCKED still set it pops the
//! queue's head and hands it the mutex (the waiter's wakeup says "you own it"), so
//! newcomers cannot take it first; they do not spin either, they queue at the tail.
//! The hand-off leaves starvation mode when the waiter it serves was the last in the
//! queue or had waited no more than 1 ms (Go's rule).
//!
//! The state word and who may change what:
//! ```text
//!   LOCKED    set by a lock CAS that saw it clear (fast path, barging, trylock, or
//!             a waiter under the queue lock); cleared only by the owner's unlock,
//!             in normal mode (a hand-off keeps it set for the new owner); with
//!             waiters queued, under the queue lock, in the CAS that pops the head
//!   WAITERS   set under the queue lock by a waiter, in the same CAS that sees
//!             LOCKED set, just before it queues; cleared under the queue lock when
//!             a pop empties the queue. So, whenever the queue lock is free, it
//!             is set exactly when the queue is not empty
//!   STARVING  set under the queue lock by a starving waiter, in the CAS that sees
//!             LOCKED set; cleared only by the owner under the queue lock (hand-off)
//!   invariant STARVING => LOCKED: nobody clears LOCKED while STARVING is set, and
//!             STARVING is only set on a locked word; so a free word is never in
//!             starvation mode and anyone may take it with one CAS
//! ```
//! While the owner holds the queue lock in starvation mode, no one else can change
//! the word: every CAS of a non-owner needs LOCKED clear or the queue lock. The
//! hand-off therefore decides the next word (still LOCKED; WAITERS if the queue is
//! not empty; STARVING unless the mode ends) and the next owner under that lock.
//! The waiter it pops is queued on its node and cannot leave before its key says
//! so: a G parked or about to park (see above), a thread that re-checks its key
//! before each futex sleep. The wakeup carries the outcome in the key ([`RETRY`] or
//! [`HANDOFF`]), written before the G is readied or the futex woken, so the waiter
//! never has to guess whether it owns the mutex. `loom_mutex_*` below check this
//! protocol, this very code, with a starving waiter, a barging locker and the owner.
//!
//! The uncontended paths are one CAS each: lock 0 -> LOCKED, unlock LOCKED -> 0.

use core::ffi::c_void;
use core::ptr;

use super::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use super::g::{curg, G};
use super::note::{futex_wait, futex_wake};
use super::sched;

/// One blocked party. Lives on the blocked side's stack until it is woken.
struct Waiter {
    next: *mut Waiter,
    /// The parked G, or null for a thread blocked on `key`.
    g: *mut G,
    /// [`ASLEEP`] (a G: then [`PARKED`] once its park is committed) until the waker
    /// writes [`RETRY`] or [`HANDOFF`].
    key: AtomicU32,
    /// rt_mutex: the time (nanotime) after which this waiter counts as having waited
    /// longer than [`STARVE_NS`] since it first queued. Read by a hand-off.
    starve_at: i64,
}

/// A waiter's key: not woken yet (for a G: nor parked yet).
const ASLEEP: u32 = 0;
/// A G's park is committed: it is Waiting, and its waker must ready it.
const PARKED: u32 = 1;
/// Woken: try again (rt_mutex normal mode; every rt_wg wakeup).
const RETRY: u32 = 2;
/// Woken as the mutex's owner (rt_mutex starvation mode).
const HANDOFF: u32 = 3;

/// The queue lock's states.
const Q_FREE: u32 = 0;
const Q_HELD: u32 = 1;
/// Held, and someone may sleep on it: the unlocker wakes one.
const Q_SLEEPERS: u32 = 2;
/// Spins before a locker sleeps on the queue lock: its holder only links or unlinks
/// a node. Under loom spinning only multiplies the interleavings.
const Q_SPINS: u32 = if cfg!(loom) { 0 } else { 100 };

/// The 32-byte object as the runtime sees it.
#[repr(C)]
pub struct Obj {
    word0: AtomicU64,
    qlock: AtomicU32,
    /// rt_wg's wakeup tokens (see wg_add); unused by rt_mutex.
    tokens: AtomicU32,
    head: AtomicPtr<Waiter>,
    tail: AtomicPtr<Waiter>,
}

// Under loom the atomics are loom's (bigger); the hosts' layout is checked here.
#[cfg(not(loom))]
const _: () = assert!(core::mem::size_of::<Obj>() == 32);

impl Obj {
    /// Takes the queue lock: a short spin, then a futex sleep, so that a holder the
    /// kernel descheduled costs its waiters no CPU (loom, too, cannot tell two
    /// spinners yielding to each other from a livelock).
    #[cfg_attr(loom, allow(clippy::reversed_empty_ranges))] // Q_SPINS is 0 under loom
    fn lock_queue(&self) {
        if self
            .qlock
            .compare_exchange(Q_FREE, Q_HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        for _ in 0..Q_SPINS {
            core::hint::spin_loop();
            if self.qlock.load(Ordering::Relaxed) == Q_FREE
                && self
                    .qlock
                    .compare_exchange(Q_FREE, Q_HELD, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        // Taken as Q_SLEEPERS: we cannot tell whether others sleep too, so our
        // unlock wakes one (at worst needlessly).
        while self.qlock.swap(Q_SLEEPERS, Ordering::Acquire) != Q_FREE {
            futex_wait(&self.qlock, Q_SLEEPERS, -1);
        }
    }

    fn unlock_queue(&self) {
        if self.qlock.swap(Q_FREE, Ordering::Release) == Q_SLEEPERS {
            // An rt_wg may be freed by now (its last waiter may have returned):
            // waking a futex address no one waits on is harmless even then.
            futex_wake(&self.qlock, 1);
        }
    }

    /// Appends `w` (queue locked).
    fn push(&self, w: *mut Waiter) {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.is_null() {
            self.head.store(w, Ordering::Relaxed);
        } else {
            // SAFETY: queued waiters are live until popped; we hold the queue lock.
            unsafe { (*tail).next = w };
        }
        self.tail.store(w, Ordering::Relaxed);
    }

    /// Puts `w` first (queue locked).
    fn push_front(&self, w: *mut Waiter) {
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: `w` is the caller's own live node, not queued yet.
        unsafe { (*w).next = head };
        self.head.store(w, Ordering::Relaxed);
        if head.is_null() {
            self.tail.store(w, Ordering::Relaxed);
        }
    }

    /// Removes the first waiter (queue locked).
    fn pop(&self) -> *mut Waiter {
        let w = self.head.load(Ordering::Relaxed);
        if !w.is_null() {
            // SAFETY: `w` is the queue's head, a queued waiter, live until popped; we
            // hold the queue lock, as pop requires.
            let next = unsafe { (*w).next };
            self.head.store(next, Ordering::Relaxed);
            if next.is_null() {
                self.tail.store(ptr::null_mut(), Ordering::Relaxed);
            }
        }
        w
    }

    fn queue_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// Queues the caller (at the front if `front`), releases the queue lock (held
    /// on entry) and blocks until woken. `why` is what the dump shows while it
    /// waits. Returns the key its waker wrote ([`RETRY`] or [`HANDOFF`]).
    fn block(&self, front: bool, starve_at: i64, why: super::g::WaitReason) -> u32 {
        let mut w = Waiter {
            next: ptr::null_mut(),
            g: curg(),
            key: AtomicU32::new(ASLEEP),
            starve_at,
        };
        if front {
            self.push_front(&mut w);
        } else {
            self.push(&mut w);
        }
        self.unlock_queue();
        if w.g.is_null() {
            loop {
                // Acquire pairs with the waker's Release store of the key.
                let k = w.key.load(Ordering::Acquire);
                if k != ASLEEP {
                    return k;
                }
                futex_wait(&w.key, ASLEEP, -1);
            }
        }
        super::g::set_wait(w.g, why, self as *const Obj as u64);
        sched::gopark_direct(park_cb, &w as *const Waiter as *mut c_void);
        // Back either because the park callback found the outcome already written,
        // or because our waker wrote it and then readied us.
        let k = w.key.load(Ordering::Acquire);
        if k != RETRY && k != HANDOFF {
            super::throw("rt_mutex/rt_wg: G resumed without its wakeup");
        }
        k
    }
}

/// The park callback of a queued G, run once it is saved and marked Waiting:
/// commits the park unless its waker already wrote the outcome (then the G goes on).
unsafe extern "C" fn park_cb(_g: *mut G, arg: *mut c_void) -> bool {
    // SAFETY: arg is the parking G's own waiter node, on its stack, which stays put
    // while the G is parked or about to run again.
    let w = unsafe { &*(arg as *const Waiter) };
    // AcqRel: on success our waker's swap must see PARKED after our status is
    // Waiting; on failure, Acquire pairs with the waker's Release of the outcome.
    w.key
        .compare_exchange(ASLEEP, PARKED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Wakes a popped waiter with `how` ([`RETRY`] or [`HANDOFF`]). After this the
/// waiter's node may be gone.
fn wake(w: *mut Waiter, how: u32) {
    // SAFETY: a popped waiter is live until it observes its key; `g` is read before
    // the key is written.
    unsafe {
        let g = (*w).g;
        if g.is_null() {
            // Release: the waker's writes (for a hand-off, the whole critical
            // section) happen before the waiter's Acquire load of the key.
            (*w).key.store(how, Ordering::Release);
            // The waiter may return (and its node die) right after the store; waking
            // a futex address that is no longer waited on is harmless.
            futex_wake(&(*w).key, 1);
        } else if (*w).key.swap(how, Ordering::AcqRel) == PARKED {
            // Committed: the G is Waiting and only we may ready it. (Found ASLEEP:
            // its park callback sees the outcome and it goes on by itself; the node
            // is its own again from the swap.)
            if sched::ready(g).is_err() {
                super::throw("rt_mutex/rt_wg: woken G was not parked");
            }
        }
    }
}

const LOCKED: u64 = 1;
const WAITERS: u64 = 2;
const STARVING: u64 = 4;

/// A waiter that has waited longer than this since it first queued switches the
/// mutex to starvation mode (Go's starvationThresholdNs).
const STARVE_NS: i64 = 1_000_000;

/// How many times a locker spins on a held mutex (normal mode) before it queues.
/// Under loom spinning only multiplies the interleavings.
const SPINS: u32 = if cfg!(loom) { 0 } else { 32 };

/// rt_mutex_lock.
pub fn mutex_lock(o: &Obj) {
    sched::preempt_point();
    if o.word0
        .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    lock_slow(o, STARVE_NS);
}

/// The contended lock; `starve_ns` is [`STARVE_NS`] except in models.
#[cold]
#[inline(never)]
#[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))] // SPINS is 0 under loom
fn lock_slow(o: &Obj, starve_ns: i64) {
    let mut spins = 0;
    // When we first queued (0: not yet), and whether we have waited too long since.
    let mut since = 0i64;
    let mut starving = false;
    loop {
        let s = o.word0.load(Ordering::Relaxed);
        if s & LOCKED == 0 {
            // Free, hence not in starvation mode (STARVING => LOCKED): barge.
            if o.word0
                .compare_exchange(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            continue;
        }
        // In starvation mode the mutex goes to the queue's head: don't spin for it.
        if s & STARVING == 0 && spins < SPINS {
            spins += 1;
            core::hint::spin_loop();
            continue;
        }
        o.lock_queue();
        // Under the queue lock, in one CAS: take the mutex if it is free, else
        // announce ourselves (WAITERS, and STARVING if we are starving) on a word
        // that is still locked. An unlock after that CAS sees the bits and, needing
        // the queue lock to pop, finds us queued.
        let mut s = o.word0.load(Ordering::Relaxed);
        let took = loop {
            let new = if s & LOCKED == 0 {
                s | LOCKED
            } else if starving {
                s | WAITERS | STARVING
            } else {
                s | WAITERS
            };
            match o
                .word0
                .compare_exchange(s, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break s & LOCKED == 0,
                Err(now) => s = now,
            }
        };
        if took {
            o.unlock_queue();
            return;
        }
        let requeue = since != 0;
        if !requeue {
            since = super::time::nanotime().max(1);
        }
        // A waiter that was woken and lost the race goes back to the front (Go's
        // LIFO for re-queued waiters): it has waited longest.
        let starve_at = since.saturating_add(starve_ns);
        if o.block(requeue, starve_at, super::g::WaitReason::Mutex) == HANDOFF {
            return; // handed over: LOCKED was never cleared, we own it
        }
        starving = starving || super::time::nanotime() - since > starve_ns;
        spins = 0;
    }
}

/// rt_mutex_trylock.
pub fn mutex_trylock(o: &Obj) -> bool {
    // A free word is never in starvation mode (STARVING => LOCKED).
    let s = o.word0.load(Ordering::Relaxed);
    s & LOCKED == 0
        && o.word0
            .compare_exchange(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
}

/// rt_mutex_unlock. Unlocking an unlocked mutex is a fatal usage error (as in Go).
pub fn mutex_unlock(o: &Obj) {
    if o.word0
        .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
        .is_err()
    {
        unlock_slow(o);
    }
}

#[cold]
#[inline(never)]
fn unlock_slow(o: &Obj) {
    let mut s = o.word0.load(Ordering::Relaxed);
    loop {
        if s & LOCKED == 0 {
            super::throw("rt_mutex_unlock of an unlocked mutex");
        }
        if s & STARVING != 0 {
            return hand_off(o);
        }
        if s & WAITERS != 0 {
            break;
        }
        // No waiter: release. The CAS (not a fetch_and) fails if a waiter queued or
        // a starving one set STARVING since the load.
        match o
            .word0
            .compare_exchange(s, s & !LOCKED, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => return,
            Err(now) => s = now,
        }
    }
    // Waiters: the queue lock is taken *before* the mutex is released, and the head
    // popped with the release. Released first, another unlocker could pop and wake
    // our waiter, which could then lock, unlock and free the mutex (the last user
    // frees, as pthread mutexes allow) while we still went for the queue lock
    // inside it (t_mutex_free_after_last_unlock). Now, once the mutex is free, we
    // touch only the queue lock's word, and the popped waiter still needs the mutex.
    o.lock_queue();
    // We own the mutex and hold the queue lock: nobody else can change the word
    // now (their CASes need LOCKED clear or the queue lock).
    let s = o.word0.load(Ordering::Relaxed);
    if s & STARVING != 0 {
        // A waiter turned starving before we had the queue lock: hand it over.
        o.unlock_queue();
        return hand_off(o);
    }
    let w = o.pop();
    let new = if o.queue_empty() {
        s & !(LOCKED | WAITERS)
    } else {
        s & !LOCKED
    };
    if s & LOCKED == 0
        || o.word0
            .compare_exchange(s, new, Ordering::Release, Ordering::Relaxed)
            .is_err()
    {
        super::throw("rt_mutex: state changed during an unlock");
    }
    o.unlock_queue();
    if !w.is_null() {
        wake(w, RETRY);
    }
}

/// Unlock in starvation mode: the mutex goes, still locked, to the queue's head.
fn hand_off(o: &Obj) {
    o.lock_queue();
    // We own the mutex and hold the queue lock: nobody else can change the word
    // now (their CASes need LOCKED clear or the queue lock), so it is decided here.
    let s = o.word0.load(Ordering::Relaxed);
    let w = o.pop();
    let new = if w.is_null() {
        // The starving waiter was woken by a normal-mode unlock that raced with its
        // STARVING (see lock_slow) and is competing again: release as usual.
        0
    } else if o.queue_empty() {
        LOCKED // the last waiter gets it: back to normal mode
    } else if super::time::nanotime() <= starve_at_of(w) {
        LOCKED | WAITERS // it had not waited long: back to normal mode
    } else {
        LOCKED | WAITERS | STARVING
    };
    if s & (LOCKED | STARVING) != LOCKED | STARVING
        || o.word0
            .compare_exchange(s, new, Ordering::Release, Ordering::Relaxed)
            .is_err()
    {
        super::throw("rt_mutex: state changed during a hand-off");
    }
    o.unlock_queue();
    if !w.is_null() {
        #[cfg(all(test, loom))]
        loom_tests::HANDOFFS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        wake(w, HANDOFF);
    }
}

/// A popped waiter's starvation deadline.
fn starve_at_of(w: *mut Waiter) -> i64 {
    // SAFETY: a popped waiter is live until woken; the field was written before it
    // was queued, and the queue lock (held by our caller) orders the two.
    unsafe { (*w).starve_at }
}

// rt_wg's word0 is Go's WaitGroup state: the counter in the high 32 bits, the number
// of waiters in the low 32. `tokens` (the pad word) counts wakeups handed out to
// waiters that have announced themselves but not yet queued.
const WAITER: u64 = 1;

/// rt_wg_add. A negative counter is a fatal usage error (as in Go).
///
/// A waiter may return, and the host free the wait group, as soon as the counter is
/// zero; so the adder touches the object after its own add only when waiters are
/// announced, and those cannot leave before they are woken.
pub fn wg_add(o: &Obj, delta: i64) {
    if delta < i32::MIN as i64 || delta > i32::MAX as i64 {
        super::throw("rt_wg_add: delta out of range");
    }
    if delta == 0 {
        // Changes nothing. (Going on, it could see the state a Done leaves for an
        // instant, zero with waiters announced, and hand out their wake-ups a second
        // time: later waits took the spare tokens and returned early,
        // t_wg_add_zero_during_wait.)
        return;
    }
    let add = (delta as u64).wrapping_shl(32);
    let state = o.word0.fetch_add(add, Ordering::AcqRel).wrapping_add(add);
    let v = (state >> 32) as i32;
    let w = state as u32;
    if v < 0 {
        super::throw("rt_wg: negative counter");
    }
    if v > 0 || w == 0 {
        return;
    }
    // Zero with `w` waiters announced: no new waiter can announce itself now (they
    // see the zero), so reset the state and hand every announced waiter its wakeup.
    o.word0.store(0, Ordering::Release);
    o.lock_queue();
    let tokens = tokens(o);
    tokens.fetch_add(w, Ordering::Relaxed);
    let mut list = ptr::null_mut::<Waiter>();
    while tokens.load(Ordering::Relaxed) > 0 {
        let x = o.pop();
        if x.is_null() {
            break; // the rest announced but not queued yet: they take a token
        }
        tokens.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: a popped waiter is live until woken.
        unsafe { (*x).next = list };
        list = x;
    }
    o.unlock_queue();
    while !list.is_null() {
        // SAFETY: read the link before waking (the node may vanish).
        let next = unsafe { (*list).next };
        wake(list, RETRY);
        list = next;
    }
}

fn tokens(o: &Obj) -> &AtomicU32 {
    &o.tokens
}

/// rt_wg_wait.
pub fn wg_wait(o: &Obj) {
    sched::preempt_point();
    // Announce ourselves unless the counter is already zero.
    loop {
        let s = o.word0.load(Ordering::Acquire);
        if s >> 32 == 0 {
            return;
        }
        if o.word0
            .compare_exchange(s, s + WAITER, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            break;
        }
    }
    o.lock_queue();
    let t = tokens(o);
    if t.load(Ordering::Relaxed) > 0 {
        // The counter reached zero before we queued: our wakeup is a token.
        t.fetch_sub(1, Ordering::Relaxed);
        o.unlock_queue();
        return;
    }
    o.block(false, 0, super::g::WaitReason::WaitGroup);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn obj() -> Arc<Obj> {
        // SAFETY: all-zero is the documented initial state.
        Arc::new(unsafe { core::mem::zeroed() })
    }

    #[test]
    fn mutex_excludes_threads() {
        let o = obj();
        let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let (o, n) = (o.clone(), n.clone());
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        mutex_lock(&o);
                        let v = n.load(Ordering::Relaxed);
                        n.store(v + 1, Ordering::Relaxed);
                        mutex_unlock(&o);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(n.load(Ordering::Relaxed), 80_000);
        assert!(mutex_trylock(&o));
        assert!(!mutex_trylock(&o));
        mutex_unlock(&o);
    }

    #[test]
    fn wg_releases_every_waiting_thread() {
        for _ in 0..50 {
            let o = obj();
            wg_add(&o, 3);
            let ws: Vec<_> = (0..3)
                .map(|_| {
                    let o = o.clone();
                    std::thread::spawn(move || wg_wait(&o))
                })
                .collect();
            for _ in 0..3 {
                wg_add(&o, -1);
            }
            for w in ws {
                w.join().unwrap();
            }
        }
    }
}

/// Model checks (`make loom`) of rt_mutex's two modes: `lock_slow`, `mutex_unlock`
/// and `hand_off` are the production code over loom's atomics and the futex model of
/// note.rs, with every contender a thread outside any G (a G waiter differs only in
/// that its queue lock is released once it is parked, which the waker cannot tell
/// from a thread that has not reached its futex wait yet: both are queued, unwoken,
/// and take the key the waker writes). A lost hand-off leaves a waiter asleep on its
/// key for ever, which loom reports as a deadlock; two owners at once touch the
/// guarded cell concurrently, which loom reports too.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    /// Hand-offs done across all executions: the models assert that they reach one.
    pub static HANDOFFS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    /// Waiters that queued with STARVING set, across all executions.
    static STARVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    struct Shared {
        mu: Obj,
        data: UnsafeCell<u32>,
    }

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            mu: Obj {
                word0: AtomicU64::new(0),
                qlock: AtomicU32::new(0),
                tokens: AtomicU32::new(0),
                head: AtomicPtr::new(ptr::null_mut()),
                tail: AtomicPtr::new(ptr::null_mut()),
            },
            data: UnsafeCell::new(0),
        })
    }

    /// rt_mutex_lock with the starvation threshold `starve_ns`: -1 makes a waiter
    /// starving as soon as it is woken once (and a hand-off to it keeps the mode);
    /// i64::MAX makes it never starve (and a hand-off to it ends the mode).
    fn lock(sh: &Shared, starve_ns: i64) {
        if sh
            .mu
            .word0
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            lock_slow(&sh.mu, starve_ns);
        }
        if sh.mu.word0.load(Ordering::Relaxed) & STARVING != 0 {
            STARVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // Two owners at once would be a data race on the cell: loom fails on it.
        sh.data.with_mut(|d| unsafe { *d += 1 });
    }

    fn done(sh: &Shared) {
        assert_eq!(
            sh.mu.word0.load(Ordering::Relaxed),
            0,
            "left locked or marked"
        );
        assert!(sh.mu.queue_empty(), "a waiter left queued");
    }

    /// The owner (main) holds the mutex while a waiter that starves at once and a
    /// barger that never starves contend, and main comes back for it once more: the
    /// waiter is woken in normal mode, can lose to the barger, queues again at the
    /// front with STARVING, and must be handed the mutex; the hand-off to the last
    /// waiter (or to the barger, if it queued behind) leaves starvation mode.
    /// Bounded to 3 preemptions: 12 s here (4 preemptions, also clean, took 410 s on
    /// a loaded 2-core machine).
    #[test]
    fn loom_mutex_hands_off_to_a_starving_waiter_past_a_barger() {
        crate::runtime::atomic::loom_builder(3).check(|| {
            let sh = shared();
            lock(&sh, i64::MAX);
            let ts: Vec<_> = [-1i64, i64::MAX]
                .into_iter()
                .map(|starve| {
                    let sh = sh.clone();
                    loom::thread::spawn(move || {
                        lock(&sh, starve);
                        mutex_unlock(&sh.mu);
                    })
                })
                .collect();
            mutex_unlock(&sh.mu);
            lock(&sh, i64::MAX);
            mutex_unlock(&sh.mu);
            for t in ts {
                t.join().unwrap();
            }
            done(&sh);
            assert_eq!(sh.data.with(|d| unsafe { *d }), 4);
        });
        assert!(
            HANDOFFS.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "no hand-off modelled"
        );
        assert!(
            STARVED.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "never starving"
        );
    }

    /// Two waiters that starve at once: hand-offs chain from one to the other while
    /// the mode lasts, and unlock with an empty queue in starvation mode (the
    /// starving waiter was woken by a normal unlock racing its STARVING) releases.
    #[test]
    fn loom_mutex_two_starving_waiters() {
        crate::runtime::atomic::loom_builder(3).check(|| {
            let sh = shared();
            lock(&sh, i64::MAX);
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let sh = sh.clone();
                    loom::thread::spawn(move || {
                        lock(&sh, -1);
                        mutex_unlock(&sh.mu);
                    })
                })
                .collect();
            mutex_unlock(&sh.mu);
            lock(&sh, -1);
            mutex_unlock(&sh.mu);
            for t in ts {
                t.join().unwrap();
            }
            done(&sh);
            assert_eq!(sh.data.with(|d| unsafe { *d }), 4);
        });
        assert!(
            HANDOFFS.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "no hand-off modelled"
        );
    }
}
