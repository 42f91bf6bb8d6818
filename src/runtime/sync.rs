//! rt_mutex and rt_wg: fixed-size, zero-initialisable blocking objects that park a
//! G (its M goes on with other Gs) and futex-block a thread outside any G.
//!
//! Both keep a FIFO of waiters behind a small lock inside the object (a three-state
//! futex lock: a short spin, then the thread sleeps; it is held only to link or unlink
//! waiters, never across a G switch). A waiter is a node on the waiting side's own
//! stack (a G's stack stays put while it is parked), so blocking allocates nothing.
//!
//! A G queues itself, drops the queue lock and then parks; the race between its park
//! and a waker that pops it meanwhile is settled on the node's `key`: the park
//! callback moves it from QUEUED to PARKED (the G is then Waiting and the waker must
//! ready it), the waker swaps in WOKEN (and readies the G only if it found PARKED; if
//! it found QUEUED the callback sees WOKEN and refuses the park, so the G goes on).
//! Holding the queue lock across the park instead made every other M that waits or
//! wakes on the object spin through the whole switch to the next G, including the
//! first touch of its fresh stack (issue 10: 10^6 Gs parking on one wait group).
//!
//! Layout of the 32 bytes (`[u64; 4]`, all zero = unlocked / count 0):
//! ```text
//!   rt_mutex: word0 = state (bit 0 locked, bit 1 has waiters), word1 = queue spinlock,
//!             word2 = head waiter, word3 = tail waiter
//!   rt_wg:    word0 = counter << 32 | waiters (Go's WaitGroup state), word1 =
//!             queue spinlock and wakeup tokens, word2 = head, word3 = tail
//! ```

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::g::{curg, G};
use super::note::{futex_wait, futex_wake};
use super::sched;

/// One blocked party. Lives on the blocked side's stack until it is woken.
struct Waiter {
    next: *mut Waiter,
    /// The parked G, or null for a thread blocked on `key`.
    g: *mut G,
    /// A thread's futex word (0 until woken, then 1), or a G's park state: QUEUED,
    /// PARKED, WOKEN (see the file comment).
    key: AtomicU32,
}

const QUEUED: u32 = 0;
const PARKED: u32 = 1;
const WOKEN: u32 = 2;

/// Queue lock states.
const Q_UNLOCKED: u32 = 0;
const Q_LOCKED: u32 = 1;
const Q_SLEEPERS: u32 = 2;
/// Spins before a queue lock waiter sleeps: the holder only links or unlinks a node.
const Q_SPINS: u32 = 100;

/// The 32-byte object as the runtime sees it.
#[repr(C)]
pub struct Obj {
    word0: AtomicU64,
    qlock: AtomicU32,
    _pad: u32,
    head: AtomicPtr<Waiter>,
    tail: AtomicPtr<Waiter>,
}

const _: () = assert!(core::mem::size_of::<Obj>() == 32);

impl Obj {
    /// Takes the queue lock: a short spin (the holder only links or unlinks a node),
    /// then a futex sleep, so that a holder the kernel descheduled costs the waiters
    /// no CPU.
    fn lock_queue(&self) {
        if self
            .qlock
            .compare_exchange(Q_UNLOCKED, Q_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        for _ in 0..Q_SPINS {
            core::hint::spin_loop();
            if self.qlock.load(Ordering::Relaxed) == Q_UNLOCKED
                && self
                    .qlock
                    .compare_exchange(Q_UNLOCKED, Q_LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        while self.qlock.swap(Q_SLEEPERS, Ordering::Acquire) != Q_UNLOCKED {
            futex_wait(&self.qlock, Q_SLEEPERS, -1);
        }
    }

    fn unlock_queue(&self) {
        if self.qlock.swap(Q_UNLOCKED, Ordering::Release) == Q_SLEEPERS {
            // The object may be freed by now (its last waiter may have returned):
            // waking a futex address is harmless even then.
            futex_wake(&self.qlock, 1);
        }
    }

    /// Appends `w` (queue locked).
    fn push(&self, w: *mut Waiter) {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.is_null() {
            self.head.store(w, Ordering::Relaxed);
        } else {
            // SAFETY: queued waiters are live until popped.
            unsafe { (*tail).next = w };
        }
        self.tail.store(w, Ordering::Relaxed);
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

    /// Queues the caller and blocks it; the queue lock is held on entry and released
    /// once the caller is queued (a wakeup from then on is settled on its node's key).
    fn block(&self, why: super::g::WaitReason) {
        let mut w = Waiter {
            next: ptr::null_mut(),
            g: curg(),
            key: AtomicU32::new(QUEUED),
        };
        self.push(&mut w);
        self.unlock_queue();
        if w.g.is_null() {
            while w.key.load(Ordering::Acquire) == 0 {
                futex_wait(&w.key, 0, -1);
            }
        } else {
            super::g::set_wait(w.g, why);
            sched::gopark_direct(park_cb, &w as *const Waiter as *mut c_void);
        }
    }
}

/// The park callback of a queued G, run once its context is saved and it is marked
/// Waiting: parks it unless a waker got to its node first.
unsafe extern "C" fn park_cb(_g: *mut G, arg: *mut c_void) -> bool {
    // SAFETY: arg is the parking G's own waiter node, on its stack, which stays put
    // while the G is parked or about to run again.
    let w = unsafe { &*(arg as *const Waiter) };
    w.key
        .compare_exchange(QUEUED, PARKED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Wakes a popped waiter. After this the waiter's node may be gone.
fn wake(w: *mut Waiter) {
    // SAFETY: a popped waiter is live until it observes its wakeup.
    unsafe {
        let g = (*w).g;
        if g.is_null() {
            (*w).key.store(1, Ordering::Release);
            // The waiter may return (and its node die) right after the store; waking
            // a futex address that is no longer waited on is harmless.
            futex_wake(&(*w).key, 1);
        } else if (*w).key.swap(WOKEN, Ordering::AcqRel) == PARKED {
            // Parked: ours to ready. (Still QUEUED: its park callback sees WOKEN and
            // it goes on; the node is its own again from the swap.)
            if sched::ready(g).is_err() {
                super::throw("rt_mutex/rt_wg: woken G was not parked");
            }
        }
    }
}

const LOCKED: u64 = 1;
const WAITERS: u64 = 2;

/// rt_mutex_lock.
pub fn mutex_lock(o: &Obj) {
    sched::preempt_point();
    if o.word0
        .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    let mut spins = 0;
    loop {
        let s = o.word0.load(Ordering::Relaxed);
        if s & LOCKED == 0 {
            if o.word0
                .compare_exchange(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            continue;
        }
        if spins < 32 {
            spins += 1;
            core::hint::spin_loop();
            continue;
        }
        o.lock_queue();
        // Announce a waiter, then check once more under the queue lock: an unlock
        // that happened before the announcement is seen here; one after it sees
        // WAITERS and wakes us.
        let s = o.word0.fetch_or(WAITERS, Ordering::AcqRel);
        if s & LOCKED == 0 {
            o.unlock_queue();
            continue;
        }
        super::trace::wait(super::trace::Why::Mutex, o as *const Obj as u64);
        o.block(super::g::WaitReason::Mutex);
        spins = 0;
    }
}

/// rt_mutex_trylock.
pub fn mutex_trylock(o: &Obj) -> bool {
    let s = o.word0.load(Ordering::Relaxed);
    s & LOCKED == 0
        && o.word0
            .compare_exchange(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
}

/// rt_mutex_unlock. Unlocking an unlocked mutex is a fatal usage error (as in Go).
pub fn mutex_unlock(o: &Obj) {
    let s = o.word0.fetch_and(!LOCKED, Ordering::Release);
    if s & LOCKED == 0 {
        super::throw("rt_mutex_unlock of an unlocked mutex");
    }
    if s & WAITERS == 0 {
        return;
    }
    o.lock_queue();
    let w = o.pop();
    if o.head.load(Ordering::Relaxed).is_null() {
        o.word0.fetch_and(!WAITERS, Ordering::Relaxed);
    }
    o.unlock_queue();
    if !w.is_null() {
        wake(w);
    }
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
        wake(list);
        list = next;
    }
}

fn tokens(o: &Obj) -> &AtomicU32 {
    // SAFETY: the pad word is a u32 inside the host's object, used atomically only.
    unsafe { &*(&o._pad as *const u32 as *const AtomicU32) }
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
    super::trace::wait(super::trace::Why::WaitGroup, o as *const Obj as u64);
    o.block(super::g::WaitReason::WaitGroup);
}

#[cfg(test)]
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
