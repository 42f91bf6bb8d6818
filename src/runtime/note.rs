//! Sleep and wake on a futex: Go's `note` (runtime/lock_futex.go) and the runtime's
//! own mutex (Go's `lock`/`unlock` on a `mutex`).
//!
//! A [`Note`] is a one-shot event: one waker, one sleeper. `clear` re-arms it; the
//! sleeper must not sleep on it again before it is cleared. The key is 0 while no
//! wakeup has happened and 1 after; the futex turns "key is still 0" into a sleep
//! without a lost-wakeup window, because the kernel re-checks the word under its own
//! lock before it puts the thread to sleep.
//!
//! [`Mutex`] is the three-state futex lock (0 unlocked, 1 locked, 2 locked with
//! possible sleepers) and [`Lock`] couples it with the data it guards. Both block the
//! OS thread: the runtime holds them only for short critical sections, never across a
//! G switch or a thread creation.
//!
//! Under `--cfg loom` the two futex calls are replaced by a model of the kernel's
//! futex (see `loom_futex` below) and the words are loom's atomics (`atomic.rs`), so
//! that the models in this file, `timer.rs` and `chan.rs` check this very code.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use super::atomic::{Ordering, StaticAtomicU32};
use super::time::nanotime;

#[cfg(loom)]
pub use loom_futex::{futex_wait, futex_wake};

/// Blocks while `*word == val`, up to `timeout_ns` (< 0: no limit). Spurious returns
/// are allowed; callers re-check their condition.
#[cfg(not(loom))]
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, val: u32, timeout_ns: i64) {
    let ts;
    let tsp = if timeout_ns >= 0 {
        ts = libc::timespec {
            tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
        };
        &ts as *const libc::timespec
    } else {
        core::ptr::null()
    };
    // SAFETY: the word is a live AtomicU32 for the duration of the call; FUTEX_WAIT
    // only reads it, and the timeout (if any) is a valid relative timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val,
            tsp,
        );
    }
}

/// Waits until the counter `word` is 0, or until `deadline` (nanotime; < 0: no
/// limit); whether it reached 0. Whoever brings it to 0 futex-wakes `word`.
pub fn futex_wait_zero(word: &core::sync::atomic::AtomicU32, deadline: i64) -> bool {
    use core::sync::atomic::Ordering;
    loop {
        let n = word.load(Ordering::Acquire);
        if n == 0 {
            return true;
        }
        let left = if deadline < 0 {
            -1
        } else {
            let l = deadline - super::time::nanotime();
            if l <= 0 {
                return false;
            }
            l
        };
        futex_wait(word, n, left);
    }
}

/// Wakes up to `n` threads blocked in [`futex_wait`] on `word`.
#[cfg(not(loom))]
pub fn futex_wake(word: &core::sync::atomic::AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE does not access memory through the pointer beyond hashing
    // its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        );
    }
}

/// The kernel's futex as loom sees it.
///
/// Two ways to model a futex were weighed. Spinning (`futex_wait` = re-check the word
/// and `loom::thread::yield_now()`) is easy for loom but makes `futex_wake` a no-op,
/// so it cannot catch the one bug a futex user can make: a waker that skips the wake
/// call (or wakes too few) while someone sleeps; and a stuck waiter shows up only as
/// "too many branches". Here instead each waiter really blocks: it parks its loom
/// thread and `futex_wake` unparks the oldest waiters on that address. A waiter that
/// nobody wakes stays blocked, and loom reports the execution as a deadlock, naming
/// the lost wakeup.
///
/// The kernel compares the word and queues the waiter under its hash bucket lock, and
/// `futex_wake` takes the same lock: that lock both makes "compare and queue" atomic
/// and orders a waker's earlier store to the word before the waiter's comparison. It
/// is modelled as a loom `Mutex` over the waiter list (one bucket for every word), so
/// loom sees both effects; a wakeup that lands between unlocking the bucket and
/// parking is kept by loom's unpark token, as the kernel keeps it by dequeueing.
///
/// A timed wait is modelled as a timeout that expires at once (a spurious return, which
/// every caller must tolerate): models therefore use `tsleep(0)` for "the timeout ran
/// out" and `sleep` for "woken", never a real clock.
#[cfg(loom)]
mod loom_futex {
    use super::super::atomic::{AtomicU32, Ordering, StaticAtomicU32};
    use loom::sync::Mutex;

    loom::lazy_static! {
        /// The futex hash bucket: threads blocked in `futex_wait`, oldest first, with
        /// the word's address. Fresh for every execution of a model.
        static ref BUCKET: Mutex<Vec<(usize, loom::thread::Thread)>> = Mutex::new(Vec::new());
    }

    /// A futex word: loom's (modelled), or `core`'s for the futex users that no model
    /// runs (their waits then only re-check the word, unmodelled).
    pub trait Word {
        fn load_seqcst(&self) -> u32;
    }

    impl Word for StaticAtomicU32 {
        fn load_seqcst(&self) -> u32 {
            self.load(Ordering::SeqCst)
        }
    }

    impl Word for AtomicU32 {
        fn load_seqcst(&self) -> u32 {
            self.load(Ordering::SeqCst)
        }
    }

    impl Word for core::sync::atomic::AtomicU32 {
        fn load_seqcst(&self) -> u32 {
            self.load(Ordering::SeqCst)
        }
    }

    pub fn futex_wait<W: Word>(word: &W, val: u32, timeout_ns: i64) {
        {
            let mut bucket = BUCKET.lock().unwrap();
            if word.load_seqcst() != val || timeout_ns >= 0 {
                return;
            }
            bucket.push((word as *const W as usize, loom::thread::current()));
        }
        loom::thread::park();
    }

    pub fn futex_wake<W: Word>(word: &W, n: i32) {
        // Only the address is used: the word may already be gone (see chan::wake).
        let key = word as *const W as usize;
        let mut woken = Vec::new();
        {
            let mut bucket = BUCKET.lock().unwrap();
            while woken.len() < n.max(0) as usize {
                match bucket.iter().position(|(k, _)| *k == key) {
                    Some(i) => woken.push(bucket.remove(i).1),
                    None => break,
                }
            }
        }
        for t in woken {
            t.unpark();
        }
    }
}

/// One-shot sleep/wakeup (Go's `note`).
#[repr(C)]
pub struct Note {
    key: StaticAtomicU32,
}

impl Note {
    pub const fn new() -> Note {
        Note {
            key: StaticAtomicU32::new(0),
        }
    }

    /// Re-arms the note. Only the sleeper calls it, after it woke.
    pub fn clear(&self) {
        self.key.store(0, Ordering::Relaxed);
    }

    /// Wakes the sleeper (now or when it comes to sleep). At most once per clear.
    pub fn wakeup(&self) {
        // Publish everything the waker wrote before the sleeper can see key == 1.
        let old = self.key.swap(1, Ordering::Release);
        if old != 0 {
            super::throw("notewakeup: double wakeup");
        }
        futex_wake(&self.key, 1);
    }

    /// Sleeps until [`Note::wakeup`].
    pub fn sleep(&self) {
        // Acquire pairs with the Release in wakeup.
        while self.key.load(Ordering::Acquire) == 0 {
            futex_wait(&self.key, 0, -1);
        }
    }

    /// Sleeps until woken or `ns` nanoseconds passed (< 0: no limit).
    /// Returns whether the note was woken.
    pub fn tsleep(&self, ns: i64) -> bool {
        if ns < 0 {
            self.sleep();
            return true;
        }
        let deadline = nanotime().saturating_add(ns);
        loop {
            if self.key.load(Ordering::Acquire) != 0 {
                return true;
            }
            let left = deadline - nanotime();
            if left <= 0 {
                return self.key.load(Ordering::Acquire) != 0;
            }
            futex_wait(&self.key, 0, left);
        }
    }
}

impl Default for Note {
    fn default() -> Self {
        Note::new()
    }
}

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// How many times `lock` looks at a held lock again before it sleeps. Once under
/// loom: every look is a branch of the model, and more of them only multiply
/// interleavings without reaching a state one look does not.
const SPIN_CHECKS: u32 = if cfg!(loom) { 1 } else { 4 };

/// PAUSEs a waiter waits before each of its `SPIN_CHECKS` (Go's procyield(30) in
/// lock2): about 0.7 us where a PAUSE takes ~22 ns (the AMD EPYC the benches run
/// on), about 1.2 us on a recent Intel core, less on older ones.
///
/// The wait between looks is what matters, not the total spin. A look (a load, or a
/// failed compare-and-swap) pulls the lock's cache line to the waiter's core, and the
/// holder's next write (in its critical section, or its unlock) pulls it back: a
/// transfer of 40 ns or more here, longer than a whole buffered channel operation.
/// When a waiter looked after every PAUSE, as this lock did (64 looks), a channel's
/// sender and receiver on two cores paid such transfers on nearly every operation:
/// bench/chan_buffered at 2 Ps took ~40 ns per element, with both cores busy, against
/// ~26 ns on one P. Spaced looks let the holder run a burst of operations on a line
/// that stays on its core: ~27 ns at 2 Ps. Fewer PAUSEs a look measured slower (4:
/// ~31 ns, 15: ~29 ns), 60 about as 30.
const SPIN_PAUSES: u32 = 30;

/// Whether a waiter spins at all: not where the process may run on one CPU only
/// (`set_spin`, from rt_init), where the holder cannot run while a waiter spins (Go:
/// numCPUStartup > 1). Spinning until rt_init has looked.
static SPIN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// Tells the lock how many CPUs the process may run on (see [`SPIN`]).
pub fn set_spin(ncpu: i32) {
    SPIN.store(ncpu > 1, core::sync::atomic::Ordering::Relaxed);
}

/// The runtime's futex mutex (Go's `mutex`). Not reentrant.
#[repr(C)]
pub struct Mutex {
    state: StaticAtomicU32,
}

impl Mutex {
    pub const fn new() -> Mutex {
        Mutex {
            state: StaticAtomicU32::new(UNLOCKED),
        }
    }

    pub fn lock(&self) {
        // Fast path: uncontended.
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        self.lock_contended();
    }

    /// `lock` once the lock was found held: a few looks spaced by `SPIN_PAUSES`
    /// (critical sections are short and the holder is likely running), then sleep.
    /// Out of line, so that `lock`'s fast path stays small where it is inlined.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let checks = if SPIN.load(core::sync::atomic::Ordering::Relaxed) {
            SPIN_CHECKS
        } else {
            0
        };
        for _ in 0..checks {
            // Keep off the lock's cache line while the holder works on it (see
            // SPIN_PAUSES); then look with a load, and only a lock seen free is worth
            // a compare-and-swap.
            for _ in 0..SPIN_PAUSES {
                core::hint::spin_loop();
            }
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        // Slow path: announce a sleeper (2) and sleep while the lock stays taken.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            futex_wait(&self.state, CONTENDED, -1);
        }
    }

    /// Takes the lock if it is free; never waits.
    pub fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex_wake(&self.state, 1);
        }
    }

    /// Forgets any holder. Only for the child of fork(), where the holder is gone.
    pub fn reset_after_fork(&self) {
        self.state.store(UNLOCKED, Ordering::Relaxed);
    }
}

impl Default for Mutex {
    fn default() -> Self {
        Mutex::new()
    }
}

/// Data guarded by a [`Mutex`].
#[repr(C)]
pub struct Lock<T> {
    mu: Mutex,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `mu`.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: moving the lock moves the data with it.
unsafe impl<T: Send> Send for Lock<T> {}

impl<T> Lock<T> {
    pub const fn new(data: T) -> Lock<T> {
        Lock {
            mu: Mutex::new(),
            data: UnsafeCell::new(data),
        }
    }

    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        self.mu.lock();
        Guard::new(self)
    }

    /// The lock if it is free now, else None (the fatal-error dump, which must not
    /// wait for a lock its own thread may hold).
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        if self.mu.try_lock() {
            Some(Guard::new(self))
        } else {
            None
        }
    }

    /// The guarded data without locking, for the child of fork() only.
    ///
    /// # Safety
    /// No other thread may exist that could hold or take the lock.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_after_fork(&self) -> &mut T {
        self.mu.reset_after_fork();
        // SAFETY: the caller guarantees we are the only thread.
        unsafe { &mut *self.data.get() }
    }
}

/// A held [`Lock`]. While it lives, its thread counts it (Go's m.locks, kept in a
/// thread-local beside the G slot: a thread is one M while it runs runtime code), so
/// that the scheduler can refuse to switch Gs or park the M with a lock held (see
/// `sched::check_no_locks`).
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
    /// Not Send: the guard is dropped, and the lock uncounted, on the thread that
    /// counted it.
    _thread: core::marker::PhantomData<*const ()>,
}

impl<'a, T> Guard<'a, T> {
    #[inline]
    fn new(lock: &'a Lock<T>) -> Guard<'a, T> {
        count_lock(1);
        Guard {
            lock,
            _thread: core::marker::PhantomData,
        }
    }
}

impl<T> Guard<'_, T> {
    /// Keeps the lock held past the guard, for code that must release it by hand at
    /// a point no guard can reach: a G that parks holding a channel's lock, which its
    /// M's g0 releases once the G is marked waiting (Go's gopark unlockf). Release it
    /// with [`unlock_raw`] on the same thread, exactly once.
    pub fn into_raw(self) -> *const Mutex {
        let mu: *const Mutex = &self.lock.mu;
        core::mem::forget(self);
        mu
    }
}

/// Releases a lock kept by [`Guard::into_raw`], uncounting it from the calling thread.
///
/// # Safety
/// `mu` came from `into_raw` on the calling thread, is still held, and is released
/// only here.
pub unsafe fn unlock_raw(mu: *const Mutex) {
    // SAFETY: `mu` came from into_raw on this thread and is still held (the # Safety
    // contract), so it is live and this is the one unlock matching its lock.
    unsafe { (*mu).unlock() };
    count_lock(u32::MAX);
}

/// Adds `d` (wrapping) to the calling thread's count of held locks. Under loom the
/// model's threads share one OS thread, so nothing is counted there.
#[inline(always)]
fn count_lock(d: u32) {
    #[cfg(not(loom))]
    super::arch::tls_locks_add(d);
    #[cfg(loom)]
    let _ = d;
}

/// How many runtime locks the calling thread holds (always 0 under loom).
#[inline]
pub fn locks_held() -> u32 {
    #[cfg(not(loom))]
    return super::arch::tls_locks();
    #[cfg(loom)]
    return 0;
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the mutex is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the mutex is held, and &mut self makes it unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.mu.unlock();
        count_lock(u32::MAX);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn note_wakes_a_sleeper_on_another_thread() {
        for _ in 0..200 {
            let n = Arc::new(Note::new());
            let n2 = n.clone();
            let t = std::thread::spawn(move || n2.sleep());
            n.wakeup();
            t.join().unwrap();
            assert!(n.tsleep(0));
        }
    }

    #[test]
    fn note_tsleep_times_out_without_wakeup() {
        let n = Note::new();
        assert!(!n.tsleep(1_000_000));
        n.wakeup();
        assert!(n.tsleep(1_000_000));
        n.clear();
        assert!(!n.tsleep(0));
    }

    #[test]
    fn lock_serialises_increments() {
        let l = Arc::new(Lock::new(0u64));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *l.lock() += 1;
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(*l.lock(), 80_000);
    }

    /// A waiter that spends all its spin checks on a lock that stays held goes to
    /// sleep (it marks the word CONTENDED), and the holder's unlock wakes it; so does
    /// one that does not spin (one CPU). The holder waits for the mark, not for a
    /// time, before it unlocks. (Other tests may run meanwhile without spinning: only
    /// slower.)
    #[test]
    fn lock_waiter_sleeps_past_its_spin_and_unlock_wakes_it() {
        for i in 0..40 {
            set_spin(if i % 2 == 0 { 2 } else { 1 });
            let mu = Arc::new(Mutex::new());
            mu.lock();
            let entered = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let t = {
                let (mu, entered) = (mu.clone(), entered.clone());
                std::thread::spawn(move || {
                    mu.lock();
                    entered.store(true, std::sync::atomic::Ordering::Relaxed);
                    mu.unlock();
                })
            };
            while mu.state.load(Ordering::Relaxed) != CONTENDED {
                std::thread::yield_now();
            }
            assert!(!entered.load(std::sync::atomic::Ordering::Relaxed));
            mu.unlock();
            t.join().unwrap();
            assert!(entered.load(std::sync::atomic::Ordering::Relaxed));
            assert_eq!(mu.state.load(Ordering::Relaxed), UNLOCKED);
        }
        set_spin(2);
    }
}

/// Model checks (`make loom`) of the park/wake handshake as stopm/startm/mget use it:
/// the idle M puts itself on the idle list under the sched lock, then sleeps on its
/// note; a waker takes it off the list under the same lock, hands it a P (`nextp`)
/// and wakes it outside the lock. `Note`, `Lock` and `Mutex` are the production code
/// (over the futex model above); the idle list and nextp stand in for `Sched`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicU32;
    use loom::sync::Arc;

    /// Creates the loom atomics of a note and a lock on this thread, before they
    /// are shared (see atomic.rs).
    fn touch(park: &Note, sched: &Lock<Idle>) {
        assert!(!park.tsleep(0));
        drop(sched.lock());
    }

    /// Sched's idle list with room for one M, and that M's nextp.
    #[derive(Default)]
    struct Idle {
        on_list: bool,
        nextp: u32,
    }

    /// startm's mget + notewakeup: take the M if it is idle, give it `p`, wake it.
    fn mget_and_wake(sched: &Lock<Idle>, park: &Note, p: u32) -> bool {
        let mut s = sched.lock();
        if !s.on_list {
            return false;
        }
        s.on_list = false;
        s.nextp = p;
        drop(s);
        park.wakeup();
        true
    }

    /// A runtime M's stopm whose idle timeout runs out at once (`tsleep(0)`) races a
    /// waker: either the waker took it (then the M waits for that wakeup and gets the
    /// P) or the M took itself off the list and retires (then nobody wakes it). Never
    /// both, never a wakeup lost or doubled (double: `throw`, a panic under loom).
    #[test]
    fn loom_stopm_timeout_races_mget_and_wakeup() {
        loom::model(|| {
            let sched = Arc::new(Lock::new(Idle::default()));
            let park = Arc::new(Note::new());
            touch(&park, &sched);
            sched.lock().on_list = true;
            let waker = {
                let (sched, park) = (sched.clone(), park.clone());
                loom::thread::spawn(move || mget_and_wake(&sched, &park, 7))
            };
            // stopm after its tsleep: woken, or timed out.
            let got = if park.tsleep(0) {
                Some(sched.lock().nextp)
            } else {
                let mut s = sched.lock();
                if s.on_list {
                    s.on_list = false;
                    None // retire
                } else {
                    drop(s);
                    // A waker took us off the list first: its wakeup is on the way.
                    park.sleep();
                    Some(sched.lock().nextp)
                }
            };
            park.clear();
            let took = waker.join().unwrap();
            assert_eq!(took, got.is_some(), "woken and retired disagree");
            if took {
                assert_eq!(got, Some(7), "woken without the P");
            }
            assert!(!park.tsleep(0), "a wakeup left over after clear");
        });
    }

    /// Two rounds of sleep/wakeup/clear on one note: the clear after the first
    /// wakeup can neither swallow the second wakeup nor let a stale one through.
    /// (`ready`, another production note, tells the waker the M is on the list.)
    #[test]
    fn loom_note_sleep_clear_sleep_gets_each_wakeup() {
        loom::model(|| {
            let sched = Arc::new(Lock::new(Idle::default()));
            let park = Arc::new(Note::new());
            let ready = Arc::new(Note::new());
            touch(&park, &sched);
            assert!(!ready.tsleep(0));
            let waker = {
                let (sched, park, ready) = (sched.clone(), park.clone(), ready.clone());
                loom::thread::spawn(move || {
                    for p in 1..=2 {
                        ready.sleep();
                        ready.clear();
                        assert!(mget_and_wake(&sched, &park, p), "the M is not idle");
                    }
                })
            };
            for p in 1..=2 {
                sched.lock().on_list = true;
                ready.wakeup();
                park.sleep();
                park.clear();
                assert_eq!(sched.lock().nextp, p);
            }
            waker.join().unwrap();
        });
    }

    /// The futex mutex excludes (two holders at once would see `inside` != 0) and
    /// every sleeper is woken (else loom reports a deadlock). Three contenders, so that
    /// a woken waiter must leave the word CONTENDED for the third: with two, taking it
    /// as plain LOCKED would pass too (a mutated lock that does so fails this).
    /// Bounded to 4 preemptions: 2 s here (5 take 17 s; unbounded, many minutes).
    #[test]
    fn loom_mutex_excludes_and_wakes_its_sleepers() {
        crate::runtime::atomic::loom_builder(4).check(|| {
            let mu = Arc::new(Mutex::new());
            mu.lock(); // creates its loom atomic here (see atomic.rs)
            let inside = Arc::new(AtomicU32::new(0));
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let (mu, inside) = (mu.clone(), inside.clone());
                    loom::thread::spawn(move || {
                        mu.lock();
                        assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0);
                        inside.fetch_sub(1, Ordering::Relaxed);
                        mu.unlock();
                    })
                })
                .collect();
            mu.unlock();
            mu.lock();
            assert_eq!(inside.load(Ordering::Relaxed), 0);
            mu.unlock();
            for t in ts {
                t.join().unwrap();
            }
            assert_eq!(mu.state.load(Ordering::Relaxed), UNLOCKED);
        });
    }
}
