//! Gs under stress: many Gs on several Ps yielding, parking, locking and waiting at
//! random, with the invariants checked at the end (every G ran to completion, the
//! mutex excluded, every park was matched by a ready). The runtime is
//! process-global, so the tests take turns.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

use mrt::ffi::errors::*;
use mrt::ffi::g::*;
use mrt::ffi::m::*;
use mrt::ffi::runtime::*;
use mrt::ffi::sync::*;
use mrt::ffi::types::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn fresh(procs: i32) {
    let _ = rt_shutdown(-1);
    let cfg = rt_config {
        size: std::mem::size_of::<rt_config>() as u32,
        maxprocs: procs,
        g0_stack_size: 0,
        g_stack_size: 0,
        flags: 0,
        preempt_signal: 0,
    };
    // SAFETY: a valid config.
    assert_eq!(unsafe { rt_init(&cfg) }, RT_OK);
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

/// The stats once no G is left. rt_main returns when its G does; the last chaos G
/// (between its rt_wg_done and its exit) and the flag-setting G may still be on
/// their way out then, as in Go, so reading the count at once raced with them.
fn stats_once_all_exited() -> rt_stats {
    let t0 = std::time::Instant::now();
    loop {
        let st = stats();
        if st.goroutines == 0 || t0.elapsed().as_secs() >= 60 {
            return st;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn zeroed<T>() -> T {
    // SAFETY: rt_wg and rt_mutex are all-zero initialised.
    unsafe { std::mem::zeroed() }
}

struct Shared {
    wg: rt_wg,
    mu: rt_mutex,
    in_section: AtomicI64,
    total: AtomicU64,
    parked: AtomicPtr<rt_g>,
    readies: AtomicU64,
}

fn shared() -> &'static mut Shared {
    Box::leak(Box::new(Shared {
        wg: zeroed(),
        mu: zeroed(),
        in_section: AtomicI64::new(0),
        total: AtomicU64::new(0),
        parked: AtomicPtr::new(ptr::null_mut()),
        readies: AtomicU64::new(0),
    }))
}

/// rt_park's callback: publish the parked G in the one slot, or, if another G holds
/// the slot, resume at once (returning false), so that every parked G has a waker.
unsafe extern "C" fn publish_parked(g: *mut rt_g, arg: *mut c_void) -> bool {
    // SAFETY: arg is the Shared the test made.
    let sh = unsafe { &*(arg as *const Shared) };
    sh.parked
        .compare_exchange(ptr::null_mut(), g, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
}

/// A G's body: a random mix of yields, critical sections and park/ready pairs.
unsafe extern "C" fn chaos(arg: *mut c_void) {
    // SAFETY: arg is the Shared the test made; it outlives every G.
    let sh = unsafe { &mut *(arg as *mut Shared) };
    let mut x = (rt_goid() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 8 {
            0..=3 => rt_gosched(),
            4 | 5 => {
                rt_mutex_lock(&mut sh.mu);
                assert_eq!(sh.in_section.fetch_add(1, Ordering::SeqCst), 0);
                if x.is_multiple_of(3) {
                    rt_gosched(); // hold the lock across a switch
                }
                sh.total.fetch_add(1, Ordering::Relaxed);
                assert_eq!(sh.in_section.fetch_sub(1, Ordering::SeqCst), 1);
                rt_mutex_unlock(&mut sh.mu);
            }
            6 => {
                // Wake whoever parked last, if anyone.
                let g = sh.parked.swap(ptr::null_mut(), Ordering::AcqRel);
                if !g.is_null() {
                    assert_eq!(rt_ready(g), RT_OK);
                    sh.readies.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                // SAFETY: the callback matches rt_parkfn.
                assert_eq!(rt_park(Some(publish_parked), arg), RT_OK);
            }
        }
    }
    rt_wg_done(&mut sh.wg);
}

unsafe extern "C" fn chaos_main(arg: *mut c_void) {
    // SAFETY: arg is the Shared the test made; it outlives rt_main, and so this G.
    let sh = unsafe { &mut *(arg as *mut Shared) };
    const GS: i64 = 400;
    rt_wg_add(&mut sh.wg, GS);
    for _ in 0..GS {
        assert!(rt_go(Some(chaos), arg) > 0);
    }
    // Keep waking parked Gs until everyone is done.
    let done = AtomicU64::new(0);
    let waiter = rt_go(
        Some(wait_then_flag),
        &done as *const AtomicU64 as *mut c_void,
    );
    assert!(waiter > 0);
    WG.store(&mut sh.wg, Ordering::Release);
    // A watchdog by the clock, not by the count of spins: on a P with nothing else
    // to run a spin is a few ns, and 20M of them took as little as 0.17 s, less
    // than the Gs need when the other P's thread is descheduled on a loaded machine.
    let mut spins = 0u64;
    let t0 = std::time::Instant::now();
    while done.load(Ordering::Acquire) == 0 {
        spins += 1;
        if spins.is_multiple_of(1 << 20) && t0.elapsed().as_secs() >= 60 {
            rt_dump(2);
            panic!("chaos_main: the Gs did not finish");
        }
        let g = sh.parked.swap(ptr::null_mut(), Ordering::AcqRel);
        if !g.is_null() {
            assert_eq!(rt_ready(g), RT_OK);
            sh.readies.fetch_add(1, Ordering::Relaxed);
        }
        rt_gosched();
    }
}

static WG: AtomicPtr<rt_wg> = AtomicPtr::new(ptr::null_mut());

unsafe extern "C" fn wait_then_flag(arg: *mut c_void) {
    let mut wg = WG.load(Ordering::Acquire);
    while wg.is_null() {
        rt_gosched();
        wg = WG.load(Ordering::Acquire);
    }
    rt_wg_wait(wg);
    // SAFETY: arg is the flag on chaos_main's stack, alive until it sees the flag.
    unsafe { (*(arg as *const AtomicU64)).store(1, Ordering::Release) };
}

#[test]
fn many_gs_yield_park_and_lock_at_random() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for procs in [1, 2, 4] {
        fresh(procs);
        WG.store(ptr::null_mut(), Ordering::Release);
        let sh = shared();
        let arg = sh as *mut Shared as *mut c_void;
        assert_eq!(rt_main(Some(chaos_main), arg), RT_OK);
        assert_eq!(sh.in_section.load(Ordering::SeqCst), 0);
        let st = stats_once_all_exited();
        assert_eq!(st.goroutines, 0, "every G exited");
        assert_eq!(st.gs_created, st.gs_exited);
        assert_eq!(rt_shutdown(-1), RT_OK);
    }
}

static SPAWNED_RAN: AtomicU64 = AtomicU64::new(0);
unsafe extern "C" fn count_and_done(arg: *mut c_void) {
    SPAWNED_RAN.fetch_add(1, Ordering::Relaxed);
    rt_wg_done(arg as *mut rt_wg);
}

#[test]
fn foreign_threads_spawn_gs_that_run_on_the_ms() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    fresh(2);
    SPAWNED_RAN.store(0, Ordering::Relaxed);
    let wg: &'static mut rt_wg = Box::leak(Box::new(zeroed()));
    const N: i64 = 20_000;
    rt_wg_add(wg, N);
    let wgp = wg as *mut rt_wg as usize;
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(move || {
                for _ in 0..N / 4 {
                    assert!(rt_go(Some(count_and_done), wgp as *mut c_void) > 0);
                }
            });
        }
    });
    // A foreign thread blocks on the futex until every G has run.
    rt_wg_wait(wg);
    assert_eq!(SPAWNED_RAN.load(Ordering::Relaxed), N as u64);
    assert_eq!(rt_shutdown(-1), RT_OK);
    assert_eq!(stats_after_shutdown_is_refused(), RT_ESHUTDOWN);
}

fn stats_after_shutdown_is_refused() -> i32 {
    let mut st = rt_stats {
        size: std::mem::size_of::<rt_stats>() as u32,
        ..Default::default()
    };
    // SAFETY: a valid out-struct.
    unsafe { rt_getstats(&mut st) }
}

#[test]
fn g_only_calls_refuse_other_contexts() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    fresh(1);
    assert_eq!(rt_go(None, ptr::null_mut()), RT_EINVAL as i64);
    assert_eq!(rt_park(None, ptr::null_mut()), RT_EPERM);
    assert_eq!(rt_lockosthread(), RT_EPERM);
    assert_eq!(rt_unlockosthread(), RT_EPERM);
    assert_eq!(rt_entersyscall(), RT_EPERM);
    assert_eq!(rt_exitsyscall(), RT_EPERM);
    assert_eq!(rt_ready(ptr::null_mut()), RT_EINVAL);
    assert_eq!(rt_goid(), 0);
    assert!(rt_getg().is_null());
    rt_goexit(); // a no-op outside a G
    assert_eq!(rt_main(None, ptr::null_mut()), RT_EINVAL);
    assert!(rt_getm().is_null() || rt_m_id(rt_getm()) > 0);
    assert_eq!(rt_shutdown(-1), RT_OK);
}
