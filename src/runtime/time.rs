//! Monotonic time (Go's nanotime).

/// Nanoseconds on CLOCK_MONOTONIC.
pub fn nanotime() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Sleeps the OS thread for `ns` nanoseconds (restarting after signals).
pub fn os_sleep(ns: i64) {
    let mut req = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    let mut rem = req;
    // SAFETY: valid timespec pointers.
    while unsafe { libc::nanosleep(&req, &mut rem) } == -1 {
        req = rem;
    }
}
