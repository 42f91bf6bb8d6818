//! The API's constants other than error codes (those are in `errors`).

/// Library version: "MAJOR.MINOR.PATCH" (rt_version). Kept equal to Cargo.toml's by a test.
pub const MRT_VERSION_MAJOR: i32 = 0;
pub const MRT_VERSION_MINOR: i32 = 1;
pub const MRT_VERSION_PATCH: i32 = 0;

/// rt_poll_fd events, as poll(2).
pub const RT_POLLIN: u32 = 0x1;
pub const RT_POLLOUT: u32 = 0x4;

/// rt_select case directions.
pub const RT_SEND: i32 = 1;
pub const RT_RECV: i32 = 2;

/// rt_schedule: run runnable Gs until none is left, then return how many ran.
pub const RT_SCHED_ONCE: i32 = 1;
/// rt_schedule: loop like a runtime-created M until rt_shutdown.
pub const RT_SCHED_FOREVER: i32 = 2;

/// rt_getstats_ex: count `stack_resident_bytes` exactly, page by page (mincore over
/// every G stack: slow with many Gs, but it holds no scheduler lock).
pub const RT_STATS_EXACT: i32 = 1;

/// rt_go_attr.flags: the G's code may be interrupted at any instruction outside
/// libmrt, so sysmon preempts it by signal after a 10 ms time slice (see rt_go_ex
/// for the contract such code must keep).
pub const RT_G_ASYNC_PREEMPT: u32 = 0x1;

/// rt_config.flags: report a deadlock. When every G is parked and nothing can wake
/// one (no timer, no fd waiter, no G in a system call, and no thread in the process
/// besides the runtime's own idle ones, so no foreign thread that could send, signal
/// or rt_ready), print "all goroutines are asleep - deadlock!" and the rt_dump text
/// to stderr, and make a waiting rt_main return RT_EDEADLK (its G stays parked).
/// Gs parked by rt_park count as asleep. A host with threads of its own never gets a
/// report (any of them might wake a G); off by default, as Go turns it off for
/// c-shared libraries.
pub const RT_CFG_DEADLOCK_DETECT: u32 = 0x1;
/// rt_config.flags: on SIGQUIT, write the rt_dump text to stderr, then pass the
/// signal to the handler the host had (the default one ends the process with a core
/// dump, as Go's SIGQUIT does). Also enabled by MRT_DEBUG=sigquit.
pub const RT_CFG_SIGQUIT_DUMP: u32 = 0x2;
const _: () = assert!(RT_CFG_DEADLOCK_DETECT == crate::runtime::init::CFG_DEADLOCK_DETECT);
const _: () = assert!(RT_CFG_SIGQUIT_DUMP == crate::runtime::init::CFG_SIGQUIT_DUMP);

/// rt_p_status: idle (in the pool, or held by the host after rt_releasep).
pub const RT_P_IDLE: i32 = 0;
/// rt_p_status: an M runs it.
pub const RT_P_RUNNING: i32 = 1;
/// rt_p_status: its M is in a system call.
pub const RT_P_SYSCALL: i32 = 2;
/// rt_p_status: beyond rt_gomaxprocs and released.
pub const RT_P_DEAD: i32 = 3;

#[cfg(test)]
mod tests {
    #[test]
    fn version_matches_cargo() {
        let v = format!(
            "{}.{}.{}",
            super::MRT_VERSION_MAJOR,
            super::MRT_VERSION_MINOR,
            super::MRT_VERSION_PATCH
        );
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
