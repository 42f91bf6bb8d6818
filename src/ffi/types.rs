//! The C-visible types: opaque handles, callbacks and size-versioned structs.

use core::ffi::c_void;

/// An M: an OS thread that runs Gs (opaque).
pub struct rt_m {
    _opaque: [u8; 0],
}

/// A P: the right to run Gs, with a run queue (opaque).
pub struct rt_p {
    _opaque: [u8; 0],
}

/// A G: a goroutine (opaque). An rt_g * is a handle (from rt_getg or a park
/// callback), not an address: compare it, pass it to rt_ready, never dereference it.
pub struct rt_g {
    _opaque: [u8; 0],
}

/// A channel (opaque).
pub struct rt_chan {
    _opaque: [u8; 0],
}

/// One case of rt_select.
#[repr(C)]
pub struct rt_select_case {
    /// The channel (NULL: the case never proceeds).
    pub chan: *mut rt_chan,
    /// RT_SEND or RT_RECV.
    pub dir: core::ffi::c_int,
    /// The element to send, or where to receive (elem_size bytes).
    pub elem: *mut c_void,
    /// Set on the case that proceeded: RT_OK or RT_ECLOSED.
    pub result: core::ffi::c_int,
}

/// A callback: a start function or a G body.
pub type rt_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// rt_park's unlock callback: runs on the M's g0 after the G is marked waiting
/// (g is its handle, as rt_getg gave it); returning false resumes the G at once.
pub type rt_parkfn = Option<unsafe extern "C" fn(g: *mut rt_g, arg: *mut c_void) -> bool>;

/// A mutex for Gs and threads. All-zero (RT_MUTEX_INIT) is unlocked.
#[repr(C)]
pub struct rt_mutex {
    pub opaque: [u64; 4],
}

/// A wait group for Gs and threads. All-zero (RT_WG_INIT) is a zero count.
#[repr(C)]
pub struct rt_wg {
    pub opaque: [u64; 4],
}

/// Runtime settings for rt_init. Zero fields take defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct rt_config {
    /// sizeof(rt_config): lets the struct grow compatibly.
    pub size: u32,
    /// Number of Ps; 0 = $MRT_MAXPROCS, else the CPUs usable by the process.
    pub maxprocs: i32,
    /// Usable stack of each runtime-created M (its g0); 0 = default (512 KiB); at
    /// most 1 TiB (RT_EINVAL above). The library adds what glibc takes for the
    /// process's static TLS.
    pub g0_stack_size: usize,
    /// Stack of each G; 0 = default (64 KiB); rounded up to pages; at most 1 TiB
    /// (RT_EINVAL above).
    pub g_stack_size: usize,
    /// RT_CFG_* bits (RT_CFG_DEADLOCK_DETECT, RT_CFG_SIGQUIT_DUMP); unknown bits:
    /// RT_EINVAL.
    pub flags: u32,
    /// The signal that preempts RT_G_ASYNC_PREEMPT Gs: 0 = SIGURG (Go's choice), -1 =
    /// no asynchronous preemption (such Gs are then preempted only at calls into
    /// libmrt and rt_checkpoint), else that signal number. RT_EINVAL for a number
    /// that is not a signal, for SIGKILL, SIGSTOP, the synchronous signals (SIGSEGV,
    /// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS) and glibc's internal ones
    /// (32, 33). Callers whose rt_config predates this field get SIGURG.
    pub preempt_signal: i32,
}

/// rt_go_ex's attributes. Size-versioned: set `size` = sizeof(rt_go_attr).
#[repr(C)]
pub struct rt_go_attr {
    /// sizeof(rt_go_attr).
    pub size: u32,
    /// RT_G_* bits (RT_G_ASYNC_PREEMPT); unknown bits: RT_EINVAL.
    pub flags: u32,
    /// Optional label, shown by rt_dump (copied: at most 32 bytes are kept, cut at a
    /// UTF-8 character boundary). NULL: none.
    pub name: *const core::ffi::c_char,
}

/// What rt_m_getinfo reports about an M.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct rt_m_info {
    /// The caller sets sizeof(rt_m_info); the library fills what it knows.
    pub size: u32,
    /// == rt_m_id(m).
    pub id: i64,
    /// OS thread id (gettid), 0 before launch.
    pub tid: i64,
    /// Id of the P it holds, -1 if none.
    pub p: i32,
    /// Id of the G it runs, 0 if none.
    pub curg: i64,
    /// g0 stack bounds, [g0_lo, g0_hi).
    pub g0_lo: usize,
    pub g0_hi: usize,
    /// Id of the G wired to it, 0 if none.
    pub lockedg: i64,
}

/// A snapshot of the scheduler (rt_getstats).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct rt_stats {
    /// The caller sets sizeof(rt_stats).
    pub size: u32,
    /// Number of Ps, and how many are in the idle pool.
    pub maxprocs: i32,
    pub idle_procs: i32,
    /// Ms alive (runtime-created and adopted).
    pub threads: i64,
    /// Ms parked on the idle list, and Ms spinning for work.
    pub idle_threads: i64,
    pub spinning_threads: i64,
    /// Live Gs (created, not yet exited).
    pub goroutines: i64,
    /// Runnable Gs in all queues, and in the global queue.
    pub runnable: i64,
    pub global_runq: i64,
    pub gs_created: u64,
    pub gs_exited: u64,
    pub switches: u64,
    pub steals: u64,
    pub parks: u64,
    pub handoffs: u64,
    /// Address space reserved for G stacks (usable part and guard), cached ones
    /// included: every stack slot of the stack arenas that has been handed out at
    /// least once, until its arena is unmapped.
    pub stack_reserved_bytes: u64,
    /// Memory of G stacks, cached ones included. rt_getstats gives a cheap estimate,
    /// a lower bound kept in a counter: the bytes (in 4 KiB pages) known to have
    /// been touched, from the top of each mapped stack down to the deepest point
    /// at which a G on it started or switched out (parked, yielded, exited), until
    /// the stack is unmapped. A G that went deeper between two switches is not seen,
    /// and swapped-out pages still count. It is at most stack_reserved_bytes, and
    /// at least a page for every G that has started and not exited. With
    /// RT_STATS_EXACT, rt_getstats_ex counts the resident pages of every stack with
    /// mincore instead: exact per stack when it is looked at, while Gs go on running
    /// (a stack mapped or unmapped during the walk may be missed).
    pub stack_resident_bytes: u64,
}

/// A registered fd (opaque): a handle from rt_pollfd_open, checked by every call that
/// takes it, never dereferenced.
pub struct rt_pollfd {
    _opaque: [u8; 0],
}
