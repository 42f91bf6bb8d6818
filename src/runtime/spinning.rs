//! The spinning-M protocol (Go's wakep, resetspinning and findRunnable's
//! drop-spinning-then-recheck): its counters and the decisions taken on them, apart
//! from the scheduler that acts on the decisions, so that loom checks the very code
//! the scheduler runs. Why the protocol looks like this, and the #StoreLoad race it
//! closes, is told at the top of `sched.rs`.
//!
//! The scheduler's counters are statics (`sched::NMSPINNING`, `p::NPIDLE`); a
//! [`Spinning`] names them, and a model names counters of its own. Every access is
//! SeqCst, as in Go: the two sides of the race each store, fence, then load.

use super::atomic::{fence, Ordering, StaticAtomicI32};

/// The counters of the protocol.
pub struct Spinning<'a> {
    /// Ms spinning for work (Go's sched.nmspinning).
    pub nmspinning: &'a StaticAtomicI32,
    /// Idle Ps in the pool (Go's sched.npidle; written under the sched lock).
    pub npidle: &'a StaticAtomicI32,
}

impl Spinning<'_> {
    /// Go's wakep: new work is queued. If there is an idle P and no M spins, claim
    /// the one spinning slot and let `start` take an idle P and start (or wake) an M
    /// spinning on it; `start` returns false if no P was idle after all, and the
    /// slot is given back. After a submission to the caller's own P no fence is
    /// needed (as in Go): if a parking M misses that work, the caller's M runs it.
    pub fn wakep(&self, start: impl FnOnce() -> bool) {
        if self.npidle.load(Ordering::SeqCst) == 0 || self.nmspinning.load(Ordering::SeqCst) != 0 {
            return;
        }
        if self
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if !start() {
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// wakep after work went where no M of ours is sure to find it (the global
    /// queue): the submitter's side of the #StoreLoad, between publishing the work
    /// and reading the counters.
    pub fn wakep_after_publish(&self, start: impl FnOnce() -> bool) {
        fence(Ordering::SeqCst);
        self.wakep(start);
    }

    /// Go's resetspinning: a spinning M found work and stops spinning; if it was the
    /// last spinner, wake another (bursts fan out one M at a time).
    pub fn resetspinning(&self, start: impl FnOnce() -> bool) {
        if self.nmspinning.fetch_sub(1, Ordering::SeqCst) <= 0 {
            super::throw("resetspinning: negative nmspinning");
        }
        self.wakep(start);
    }

    /// findRunnable's last step before parking: a spinning M that found nothing (and
    /// gave its P back) stops counting as spinning, then, after the #StoreLoad fence,
    /// looks at every queue once more (`any_work`). Returns what it found: if true,
    /// the M must take an idle P and look again rather than park.
    pub fn stop_then_recheck(&self, any_work: impl FnOnce() -> bool) -> bool {
        if self.nmspinning.fetch_sub(1, Ordering::SeqCst) <= 0 {
            super::throw("findRunnable: negative nmspinning");
        }
        fence(Ordering::SeqCst);
        any_work()
    }
}

/// Model check of the protocol (`make loom`) through the production decisions
/// above; the queue, the idle-P pool and the Ms around them are the model's.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::runtime::atomic::{AtomicI64, AtomicU32};
    use crate::runtime::note::Lock;
    use loom::sync::Arc;

    /// What the scheduler keeps around the counters: the global queue's size, the
    /// idle-P pool (under a sched lock, mirrored in `npidle` as pidleput/pidleget
    /// do), and how many Ms wakep started.
    struct World {
        nmspinning: StaticAtomicI32,
        npidle: StaticAtomicI32,
        globrunq_size: AtomicI64,
        pool: Lock<i32>,
        started: AtomicU32,
    }

    impl World {
        fn spin(&self) -> Spinning<'_> {
            Spinning {
                nmspinning: &self.nmspinning,
                npidle: &self.npidle,
            }
        }

        fn pidleput(&self) {
            let mut n = self.pool.lock();
            *n += 1;
            self.npidle.store(*n, Ordering::Release);
        }

        fn pidleget(&self) -> bool {
            let mut n = self.pool.lock();
            if *n == 0 {
                return false;
            }
            *n -= 1;
            self.npidle.store(*n, Ordering::Release);
            true
        }

        /// wakep's action (sched::start_spinning_m): an idle P for a new spinning M.
        fn start(&self) -> bool {
            if !self.pidleget() {
                return false;
            }
            self.started.fetch_add(1, Ordering::Relaxed);
            true
        }
    }

    /// A G queues work on the global queue and wakes (wakep_global) while one
    /// spinning M found work elsewhere (resetspinning) and the other found nothing,
    /// gave its P back and re-checks before parking. In every interleaving the new
    /// G is seen by the re-check (which then gets a P) or an M is started for it;
    /// never more than one M is started, and the spinning count ends equal to the Ms
    /// that are spinning (never negative: that throws).
    #[test]
    fn loom_wakeup_is_never_lost() {
        // Four preemptions: 1 s here (six take 35 s; unbounded, minutes). Without
        // either fence of the protocol the model fails well within the bound.
        crate::runtime::atomic::loom_builder(4).check(|| {
            let w = Arc::new(World {
                nmspinning: StaticAtomicI32::new(2), // the two Ms below
                npidle: StaticAtomicI32::new(1),     // one P idle
                globrunq_size: AtomicI64::new(0),
                pool: Lock::new(1),
                started: AtomicU32::new(0),
            });
            // Create the lazy loom atomics on this thread (see atomic.rs).
            w.nmspinning.load(Ordering::Relaxed);
            w.npidle.load(Ordering::Relaxed);
            drop(w.pool.lock());

            let submitter = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    // globrunqput, then wakep_global.
                    w.globrunq_size.fetch_add(1, Ordering::AcqRel);
                    w.spin().wakep_after_publish(|| w.start());
                })
            };
            let finder = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    // schedule() after find_runnable returned a G: resetspinning.
                    w.spin().resetspinning(|| w.start());
                })
            };
            // The M that found nothing: release its P, stop spinning, re-check.
            w.pidleput();
            let found = w
                .spin()
                .stop_then_recheck(|| w.globrunq_size.load(Ordering::Acquire) > 0)
                && w.pidleget();
            if found {
                w.spin().nmspinning.fetch_add(1, Ordering::SeqCst); // become_spinning
            }
            submitter.join().unwrap();
            finder.join().unwrap();
            let started = w.started.load(Ordering::Relaxed);
            assert!(
                found || started > 0,
                "work queued, no M looking, none woken"
            );
            assert!(started <= 1, "more than one M woken for one G");
            assert_eq!(
                w.nmspinning.load(Ordering::SeqCst),
                started as i32 + found as i32,
                "spinning count off"
            );
        });
    }
}
