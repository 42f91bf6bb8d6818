//! Stress: many threads adopting, acquiring, releasing and handing Ps to new Ms,
//! resizing and restarting the runtime at random. Each test checks the invariants
//! that must hold once everything is quiet (every P back in the pool, no thread left
//! behind). The runtime is process-global, so the tests take turns.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use mrt::ffi::consts::*;
use mrt::ffi::errors::*;
use mrt::ffi::m::*;
use mrt::ffi::p::*;
use mrt::ffi::runtime::*;
use mrt::ffi::types::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// A small xorshift generator, seeded per thread.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

static STARTS: AtomicU64 = AtomicU64::new(0);
extern "C" fn count_start(_: *mut c_void) {
    STARTS.fetch_add(1, Ordering::Relaxed);
}

fn stats() -> rt_stats {
    let mut st = rt_stats {
        size: std::mem::size_of::<rt_stats>() as u32,
        ..Default::default()
    };
    // SAFETY: a valid, sized out-struct.
    assert_eq!(unsafe { rt_getstats(&mut st) }, RT_OK);
    st
}

fn fresh_runtime(procs: i32) {
    let _ = rt_shutdown(-1);
    let cfg = rt_config {
        size: std::mem::size_of::<rt_config>() as u32,
        maxprocs: procs,
        g0_stack_size: 128 << 10,
        g_stack_size: 0,
        flags: 0,
        preempt_signal: 0,
    };
    // SAFETY: a valid config.
    assert_eq!(unsafe { rt_init(&cfg) }, RT_OK);
}

/// Waits until every P is back in the idle pool (Ms given a P park it there once
/// they find nothing to run). Bounded: fails the test rather than hanging.
fn wait_all_idle(procs: i32) {
    for _ in 0..20_000 {
        if stats().idle_procs == procs {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    panic!("Ps not all idle: {} of {}", stats().idle_procs, procs);
}

#[test]
fn threads_trade_ps_and_hand_them_to_new_ms() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const PROCS: i32 = 4;
    fresh_runtime(PROCS);
    STARTS.store(0, Ordering::Relaxed);
    let launched = AtomicU64::new(0);
    std::thread::scope(|sc| {
        for t in 0..8u64 {
            let launched = &launched;
            sc.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                for _ in 0..400 {
                    let p = rt_p_get(rng.below(PROCS as u64) as i32);
                    assert!(!p.is_null());
                    match rt_acquirep(p) {
                        RT_OK => {}
                        RT_EBUSY => continue,
                        rc => panic!("rt_acquirep: {rc}"),
                    }
                    assert_eq!(rt_getp(), p);
                    assert_eq!(rt_acquirep(p), RT_EALREADY);
                    assert_eq!(rt_p_status(p), RT_P_RUNNING);
                    let held = rt_releasep();
                    assert_eq!(held, p);
                    // Another thread may already have taken the held P.
                    assert!(matches!(rt_p_status(p), RT_P_IDLE | RT_P_RUNNING));
                    // A held P may be taken by any thread (API.md), so another thread
                    // can acquire it before we hand it on: RT_EBUSY, or RT_EALREADY
                    // once that thread has put it back, are the only other answers.
                    match rng.below(4) {
                        // Hand the held P to a new M, which parks it in the pool.
                        0 => {
                            // SAFETY: a valid start function; out may be NULL.
                            let rc = unsafe {
                                rt_newm(Some(count_start), ptr::null_mut(), p, ptr::null_mut())
                            };
                            match rc {
                                RT_OK => {
                                    launched.fetch_add(1, Ordering::Relaxed);
                                }
                                RT_EBUSY => {}
                                rc => panic!("rt_newm with a held P: {rc}"),
                            }
                        }
                        _ => match rt_p_put(p) {
                            RT_OK | RT_EBUSY | RT_EALREADY => {}
                            rc => panic!("rt_p_put: {rc}"),
                        },
                    }
                    if rng.below(8) == 0 {
                        std::thread::yield_now();
                    }
                }
                // The thread was adopted; its exit destructor gives the M back.
                assert!(!rt_getm().is_null());
            });
        }
    });
    wait_all_idle(PROCS);
    assert_eq!(rt_shutdown(-1), RT_OK);
    assert_eq!(
        STARTS.load(Ordering::Relaxed),
        launched.load(Ordering::Relaxed)
    );
}

/// rt_gomaxprocs calls of the resizing test's resizer: begun, and returned.
static RESIZES_BEGUN: AtomicU64 = AtomicU64::new(0);
static RESIZES_ENDED: AtomicU64 = AtomicU64::new(0);

#[test]
fn resizing_while_threads_hold_ps_keeps_every_p_accounted_for() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    fresh_runtime(2);
    std::thread::scope(|sc| {
        for t in 0..4u64 {
            sc.spawn(move || {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (t + 7));
                for _ in 0..300 {
                    let n = rt_gomaxprocs(0);
                    let p = rt_p_get(rng.below(n.max(1) as u64) as i32);
                    if p.is_null() || rt_acquirep(p) != RT_OK {
                        continue;
                    }
                    let held = rt_releasep();
                    assert_eq!(held, p);
                    // A P beyond a shrunk gomaxprocs dies on release (or while held);
                    // another thread may take a held P first (see above). A dead P is
                    // nobody's: a grow revives it into the pool (docs/api.md,
                    // rt_releasep), so a refused P may look alive by the time its
                    // status is read. That is only wrong if no resize overlapped the
                    // put and the look: every resize begun by then had ended before.
                    let ended = RESIZES_ENDED.load(Ordering::SeqCst);
                    match rt_p_put(held) {
                        RT_OK | RT_EBUSY | RT_EALREADY => {}
                        RT_EINVAL => {
                            let st = rt_p_status(held);
                            let begun = RESIZES_BEGUN.load(Ordering::SeqCst);
                            assert!(
                                st == RT_P_DEAD || begun != ended,
                                "rt_p_put refused a live P (status {st}) with no resize meanwhile"
                            );
                        }
                        rc => panic!("rt_p_put: {rc}"),
                    }
                }
            });
        }
        sc.spawn(|| {
            let mut rng = Rng(42);
            for _ in 0..200 {
                let n = 1 + rng.below(6) as i32;
                RESIZES_BEGUN.fetch_add(1, Ordering::SeqCst);
                assert!(rt_gomaxprocs(n) > 0);
                RESIZES_ENDED.fetch_add(1, Ordering::SeqCst);
                std::thread::yield_now();
            }
        });
    });
    let n = rt_gomaxprocs(0);
    wait_all_idle(n);
    for id in 0..n {
        assert_eq!(rt_p_status(rt_p_get(id)), RT_P_IDLE);
    }
    assert!(rt_p_get(n).is_null());
    assert_eq!(rt_shutdown(-1), RT_OK);
}

#[test]
fn restarting_under_concurrent_m_creation_never_crashes_or_strands_threads() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    fresh_runtime(2);
    STARTS.store(0, Ordering::Relaxed);
    let ok = AtomicU64::new(0);
    std::thread::scope(|sc| {
        for _ in 0..3 {
            let ok = &ok;
            sc.spawn(move || {
                for _ in 0..60 {
                    // SAFETY: valid arguments.
                    match unsafe {
                        rt_newm(
                            Some(count_start),
                            ptr::null_mut(),
                            ptr::null_mut(),
                            ptr::null_mut(),
                        )
                    } {
                        RT_OK => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        RT_ESHUTDOWN => {}
                        rc => panic!("rt_newm: {rc}"),
                    }
                }
            });
        }
        sc.spawn(|| {
            for _ in 0..15 {
                match rt_shutdown(-1) {
                    RT_OK | RT_ESHUTDOWN => {}
                    rc => panic!("rt_shutdown: {rc}"),
                }
                // SAFETY: NULL config = defaults.
                match unsafe { rt_init(ptr::null()) } {
                    RT_OK | RT_EALREADY => {}
                    rc => panic!("rt_init: {rc}"),
                }
            }
        });
    });
    assert_eq!(rt_shutdown(-1), RT_OK);
    // Every M that was created ran its start function before shutdown joined it.
    assert_eq!(STARTS.load(Ordering::Relaxed), ok.load(Ordering::Relaxed));
    fresh_runtime(2);
    assert_eq!(stats().threads, 0);
    assert_eq!(rt_shutdown(-1), RT_OK);
}
