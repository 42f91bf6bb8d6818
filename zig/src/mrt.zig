//! mrt: a thin Zig binding of libmrt (`include/mrt.h`).
//!
//! It mirrors the C contract of docs/api.md and adds only what Zig expects: error unions
//! instead of negative codes, optionals instead of NULL, and small handle structs
//! with methods. Semantics (thread contexts, ownership of Ps, lazy init) are the
//! library's and are documented in the header; nothing here adds logic.
//!
//! The raw translated header stays reachable as `mrt.c` for anything not wrapped,
//! or to pass inputs the wrapper's types rule out (NULL handles, bad sizes).
const std = @import("std");

/// The translated `mrt.h` (made by `zig translate-c` in build.zig).
pub const c = @import("mrt_c");

// ---------------------------------------------------------------------------------
// Errors

/// The `RT_E*` codes as a Zig error set (one error per code, same meaning).
pub const Error = error{
    /// RT_EPERM: call not allowed in this thread context.
    Perm,
    /// RT_EAGAIN: would block (try-variants), or the OS refused a thread.
    Again,
    /// RT_ENOMEM: memory or address space exhausted.
    NoMem,
    /// RT_EBUSY: object owned or in use by someone else.
    Busy,
    /// RT_EINVAL: bad argument (NULL, not a live M/P, dead P, bad struct size).
    Invalid,
    /// RT_ECLOSED: channel closed.
    Closed,
    /// RT_ESHUTDOWN: runtime not running (after rt_shutdown, in a fork child).
    Shutdown,
    /// RT_ETIMEDOUT.
    TimedOut,
    /// RT_EALREADY: the caller already holds it, or it is already done.
    Already,
    /// RT_EDEADLK: every G is asleep and nothing can wake one (CFG_DEADLOCK_DETECT).
    Deadlock,
    /// RT_EINTERNAL: a bug in libmrt.
    Internal,
    /// A negative code this binding does not know (a newer library).
    Unknown,
};

const Entry = struct { code: c_int, err: Error };

/// The one table both directions are made from.
const codes = [_]Entry{
    .{ .code = c.RT_EPERM, .err = error.Perm },
    .{ .code = c.RT_EAGAIN, .err = error.Again },
    .{ .code = c.RT_ENOMEM, .err = error.NoMem },
    .{ .code = c.RT_EBUSY, .err = error.Busy },
    .{ .code = c.RT_EINVAL, .err = error.Invalid },
    .{ .code = c.RT_ECLOSED, .err = error.Closed },
    .{ .code = c.RT_ESHUTDOWN, .err = error.Shutdown },
    .{ .code = c.RT_ETIMEDOUT, .err = error.TimedOut },
    .{ .code = c.RT_EALREADY, .err = error.Already },
    .{ .code = c.RT_EDEADLK, .err = error.Deadlock },
    .{ .code = c.RT_EINTERNAL, .err = error.Internal },
};

/// Every code the binding knows, for tests.
pub const known_codes: [codes.len]c_int = blk: {
    var all: [codes.len]c_int = undefined;
    for (codes, 0..) |e, i| all[i] = e.code;
    break :blk all;
};

/// The Zig error for a negative `RT_E*` code (`error.Unknown` for one not listed).
/// Call it only with rc < 0.
pub fn errorFromCode(rc: c_int) Error {
    std.debug.assert(rc < 0);
    inline for (codes) |e| {
        if (rc == e.code) return e.err;
    }
    return error.Unknown;
}

/// The `RT_E*` code of an error; null for `error.Unknown`.
pub fn codeFromError(err: Error) ?c_int {
    inline for (codes) |e| {
        if (err == e.err) return e.code;
    }
    return null;
}

/// `RT_OK` (or any rc >= 0) -> void; a negative code -> its error.
pub fn check(rc: c_int) Error!void {
    if (rc < 0) return errorFromCode(rc);
}

/// For calls whose non-negative result is a value (a count, an id).
fn value(comptime T: type, rc: anytype) Error!T {
    if (rc < 0) return errorFromCode(std.math.cast(c_int, rc) orelse return error.Unknown);
    return std.math.cast(T, rc) orelse error.Unknown;
}

/// "RT_EINVAL", ... for an error (from rt_err_name); "unknown error" for Unknown.
pub fn errName(err: Error) [:0]const u8 {
    return std.mem.span(c.rt_err_name(codeFromError(err) orelse 1));
}

/// The library's message for an error (rt_strerror).
pub fn strerror(err: Error) [:0]const u8 {
    return std.mem.span(c.rt_strerror(codeFromError(err) orelse 1));
}

// ---------------------------------------------------------------------------------
// Runtime

/// `rt_config` without its `size` field, which the wrapper fills in.
pub const Config = struct {
    /// Number of Ps; 0 = $MRT_MAXPROCS, else the CPUs usable by the process.
    maxprocs: i32 = 0,
    /// Usable stack of each runtime-created M (its g0); 0 = default (>= 256 KiB).
    g0_stack_size: usize = 0,
    /// Stack of each G; 0 = default.
    g_stack_size: usize = 0,
    /// RT_CFG_* bits: CFG_DEADLOCK_DETECT, CFG_SIGQUIT_DUMP.
    flags: u32 = 0,
    /// The signal that preempts Gs made with `G_ASYNC_PREEMPT`: 0 = SIGURG, -1 = no
    /// asynchronous preemption, else that signal (error.Invalid for refused ones).
    preempt_signal: i32 = 0,
};

/// `Config.flags`: report "all goroutines are asleep - deadlock!" (with the dump) on
/// stderr when no G can ever be woken; `main` then fails with error.Deadlock.
pub const CFG_DEADLOCK_DETECT: u32 = c.RT_CFG_DEADLOCK_DETECT;
/// `Config.flags`: SIGQUIT writes the goroutine dump to stderr, then reaches the
/// handler the host had (also MRT_DEBUG=sigquit).
pub const CFG_SIGQUIT_DUMP: u32 = c.RT_CFG_SIGQUIT_DUMP;

/// rt_dump: the state of every M, P and G (grouped by stack, with wait reasons and
/// backtraces) to file descriptor `fd`. Any context. error.Invalid for a bad fd.
pub fn dump(fd: c_int) Error!void {
    return check(c.rt_dump(fd));
}

/// rt_init; null = defaults. error.Already if the runtime is running.
pub fn init(cfg: ?Config) Error!void {
    const conf = cfg orelse return check(c.rt_init(null));
    var raw = std.mem.zeroes(c.rt_config);
    raw.size = @sizeOf(c.rt_config);
    raw.maxprocs = conf.maxprocs;
    raw.g0_stack_size = conf.g0_stack_size;
    raw.g_stack_size = conf.g_stack_size;
    raw.flags = conf.flags;
    raw.preempt_signal = conf.preempt_signal;
    return check(c.rt_init(&raw));
}

/// rt_shutdown: wait up to `timeout_ns` (null: forever) for all Gs, then stop and
/// join every runtime-created M. error.Perm from a G or a runtime-created M,
/// error.Shutdown if not running, error.TimedOut (runtime left running).
pub fn shutdown(timeout_ns: ?u64) Error!void {
    const t: i64 = if (timeout_ns) |ns| std.math.cast(i64, ns) orelse std.math.maxInt(i64) else -1;
    return check(c.rt_shutdown(t));
}

/// rt_gomaxprocs(n), n > 0: set the number of Ps; returns the previous number.
pub fn gomaxprocs(n: u31) Error!u31 {
    std.debug.assert(n > 0);
    return value(u31, c.rt_gomaxprocs(n));
}

/// rt_gomaxprocs(0): the current number of Ps.
pub fn maxprocs() Error!u31 {
    return value(u31, c.rt_gomaxprocs(0));
}

/// rt_version: "MAJOR.MINOR.PATCH" of the loaded library.
pub fn version() [:0]const u8 {
    return std.mem.span(c.rt_version());
}

/// The version of the header this binding was built against.
pub const header_version: std.SemanticVersion = .{
    .major = c.MRT_VERSION_MAJOR,
    .minor = c.MRT_VERSION_MINOR,
    .patch = c.MRT_VERSION_PATCH,
};

/// rt_stats, as the library fills it.
pub const Stats = c.rt_stats;

/// rt_getstats: a snapshot of the runtime's counters.
pub fn stats() Error!Stats {
    var s = std.mem.zeroes(Stats);
    s.size = @sizeOf(Stats);
    try check(c.rt_getstats(&s));
    return s;
}

/// rt_trace_start: write the execution trace (Chrome trace-event JSON for Perfetto)
/// to `path` until `traceStop`. error.Invalid for a path that cannot be written,
/// error.Already while a trace runs.
pub fn traceStart(path: [:0]const u8) Error!void {
    return check(c.rt_trace_start(path.ptr));
}

/// rt_trace_stop: write what is buffered and close the file. error.Invalid if no
/// trace runs.
pub fn traceStop() Error!void {
    return check(c.rt_trace_stop());
}

// ---------------------------------------------------------------------------------
// M: OS threads

/// An M's start function: runs on the M's g0, in its new thread.
pub const StartFn = *const fn (arg: ?*anyopaque) callconv(.c) void;

/// A C start function that calls `f(ctx)` with `ctx` typed as `Ctx` (a pointer).
pub fn startFn(comptime Ctx: type, comptime f: fn (Ctx) void) StartFn {
    return &struct {
        fn start(arg: ?*anyopaque) callconv(.c) void {
            f(@ptrCast(@alignCast(arg)));
        }
    }.start;
}

/// An M (a handle to an `rt_m`).
pub const M = struct {
    handle: *c.rt_m,

    /// rt_m_info without `size`; `p` is null when the M holds no P.
    pub const Info = struct {
        id: i64,
        tid: i64,
        p: ?u31,
        curg: i64,
        g0_lo: usize,
        g0_hi: usize,
        lockedg: i64,

        /// Whether `addr` lies on this M's g0 stack.
        pub fn onG0(self: Info, addr: usize) bool {
            return addr >= self.g0_lo and addr < self.g0_hi;
        }
    };

    /// rt_allocm: an M not yet bound to a thread, with start function `start(arg)`.
    /// `p` is borrowed for the allocation when the calling M holds none.
    pub fn alloc(p: ?P, start: ?StartFn, arg: ?*anyopaque) Error!M {
        var out: ?*c.rt_m = null;
        try check(c.rt_allocm(rawP(p), start, arg, &out));
        return .{ .handle = out orelse return error.Internal };
    }

    /// rt_m_launch: start the thread; `nextp` is the P it takes after `start`.
    /// error.Already if launched before, error.Busy if `nextp` is running.
    pub fn launch(m: M, nextp: ?P) Error!void {
        return check(c.rt_m_launch(m.handle, rawP(nextp)));
    }

    /// rt_m_free: free an M that was never launched (error.Busy once launched).
    pub fn free(m: M) Error!void {
        return check(c.rt_m_free(m.handle));
    }

    /// rt_newm: alloc + launch in one call; on failure nothing leaks.
    pub fn new(start: ?StartFn, arg: ?*anyopaque, p: ?P) Error!M {
        var out: ?*c.rt_m = null;
        try check(c.rt_newm(start, arg, rawP(p), &out));
        return .{ .handle = out orelse return error.Internal };
    }

    /// rt_newm with a typed start function: `f(ctx)` runs on the new M's g0.
    pub fn spawn(ctx: anytype, comptime f: fn (@TypeOf(ctx)) void, p: ?P) Error!M {
        return new(startFn(@TypeOf(ctx), f), @ptrCast(ctx), p);
    }

    /// rt_getm: the calling thread's M; null on a foreign thread.
    pub fn current() ?M {
        return .{ .handle = c.rt_getm() orelse return null };
    }

    /// rt_m_id.
    pub fn id(m: M) Error!i64 {
        return value(i64, c.rt_m_id(m.handle));
    }

    /// rt_m_getinfo.
    pub fn info(m: M) Error!Info {
        var raw = std.mem.zeroes(c.rt_m_info);
        raw.size = @sizeOf(c.rt_m_info);
        try check(c.rt_m_getinfo(m.handle, &raw));
        return .{
            .id = raw.id,
            .tid = raw.tid,
            .p = if (raw.p < 0) null else std.math.cast(u31, raw.p) orelse return error.Internal,
            .curg = raw.curg,
            .g0_lo = raw.g0_lo,
            .g0_hi = raw.g0_hi,
            .lockedg = raw.lockedg,
        };
    }
};

// ---------------------------------------------------------------------------------
// P: processors

/// A P (a handle to an `rt_p`).
pub const P = struct {
    handle: *c.rt_p,

    pub const Status = enum(c_int) {
        idle = c.RT_P_IDLE,
        running = c.RT_P_RUNNING,
        syscall = c.RT_P_SYSCALL,
        dead = c.RT_P_DEAD,
        _,
    };

    /// rt_p_get: allp[id]; null if id is out of range (or the runtime is shut down).
    pub fn get(id_: u31) ?P {
        return .{ .handle = c.rt_p_get(id_) orelse return null };
    }

    /// rt_getp: the P held by the calling M, or null.
    pub fn current() ?P {
        return .{ .handle = c.rt_getp() orelse return null };
    }

    /// rt_p_id.
    pub fn id(p: P) Error!u31 {
        return value(u31, c.rt_p_id(p.handle));
    }

    /// rt_p_status.
    pub fn status(p: P) Error!Status {
        const rc = c.rt_p_status(p.handle);
        if (rc < 0) return errorFromCode(rc);
        return @fromBackingInt(@intCast(rc));
    }

    /// rt_acquirep: associate `p` with the calling thread (adopting it as an M if it
    /// is foreign). error.Invalid (dead), error.Busy (running elsewhere),
    /// error.Already (this M holds a P).
    pub fn acquire(p: P) Error!void {
        return check(c.rt_acquirep(p.handle));
    }

    /// rt_releasep: the calling M's P, now idle and held by the caller (not in the
    /// pool); null if it holds none.
    pub fn release() ?P {
        return .{ .handle = c.rt_releasep() orelse return null };
    }

    /// rt_p_put: give a held idle P back to the pool. error.Already if it is in the
    /// pool, error.Busy if it is running.
    pub fn put(p: P) Error!void {
        return check(c.rt_p_put(p.handle));
    }

    pub fn eql(a: P, b: P) bool {
        return a.handle == b.handle;
    }
};

fn rawP(p: ?P) ?*c.rt_p {
    return if (p) |pp| pp.handle else null;
}

// ---------------------------------------------------------------------------------
// G: goroutines

/// A G body (`rt_fn`): runs on the G's own stack, as a goroutine.
pub const GoFn = StartFn;

/// rt_go: a new G running `f(arg)`; returns its id (> 0). From a G it goes to the
/// current P's runnext, from anywhere else to the global queue. `f` may be null (the
/// library answers error.Invalid). error.NoMem, error.Shutdown.
pub fn goRaw(f: ?GoFn, arg: ?*anyopaque) Error!i64 {
    return value(i64, c.rt_go(f, arg));
}

/// rt_go with a typed body: the new G runs `f(ctx)` (`ctx` a pointer); returns its id.
pub fn go(ctx: anytype, comptime f: fn (@TypeOf(ctx)) void) Error!i64 {
    return goRaw(startFn(@TypeOf(ctx), f), @ptrCast(@constCast(ctx)));
}

/// `rt_go_attr.flags`: the G may be preempted by signal at any instruction outside
/// libmrt; its code must keep the contract of docs/api.md ("Asynchronous
/// preemption": no lock held, no thread-local address kept between instructions).
pub const G_ASYNC_PREEMPT: u32 = c.RT_G_ASYNC_PREEMPT;

/// `rt_go_attr` without its `size` field, which the wrapper fills in.
pub const GoAttr = struct {
    /// `G_ASYNC_PREEMPT` or 0; unknown bits give error.Invalid.
    flags: u32 = 0,
    /// A label shown by rt_dump (copied by the library).
    name: ?[*:0]const u8 = null,
};

/// rt_go_ex: rt_go with attributes (`attr` null = rt_go). error.Invalid for a null `f`
/// or unknown flag bits, error.NoMem, error.Shutdown.
pub fn goExRaw(f: ?GoFn, arg: ?*anyopaque, attr: ?GoAttr) Error!i64 {
    const a = attr orelse return value(i64, c.rt_go_ex(f, arg, null));
    const raw = rawAttr(a);
    return value(i64, c.rt_go_ex(f, arg, &raw));
}

fn rawAttr(a: GoAttr) c.rt_go_attr {
    var raw = std.mem.zeroes(c.rt_go_attr);
    raw.size = @sizeOf(c.rt_go_attr);
    raw.flags = a.flags;
    raw.name = a.name;
    return raw;
}

/// rt_go_ex with a typed body `f(ctx)`.
pub fn goEx(ctx: anytype, comptime f: fn (@TypeOf(ctx)) void, attr: ?GoAttr) Error!i64 {
    return goExRaw(startFn(@TypeOf(ctx), f), @ptrCast(@constCast(ctx)), attr);
}

/// rt_main: runs `f(arg)` as a G while the calling thread works as an M (with a P,
/// running other Gs too) until that G returns. A foreign thread is adopted first.
/// error.Invalid (null f), error.Perm (from a G), error.Already (the calling M holds
/// a P), error.NoMem, error.Shutdown.
pub fn mainRaw(f: ?GoFn, arg: ?*anyopaque) Error!void {
    return check(c.rt_main(f, arg));
}

/// rt_main with a typed body `f(ctx)`.
pub fn main(ctx: anytype, comptime f: fn (@TypeOf(ctx)) void) Error!void {
    return mainRaw(startFn(@TypeOf(ctx), f), @ptrCast(@constCast(ctx)));
}

/// rt_main_ex: rt_main with rt_go_ex's attributes for the main G (`attr` null =
/// rt_main). Errors as mainRaw; error.Invalid also for unknown flag bits.
pub fn mainExRaw(f: ?GoFn, arg: ?*anyopaque, attr: ?GoAttr) Error!void {
    const a = attr orelse return check(c.rt_main_ex(f, arg, null));
    const raw = rawAttr(a);
    return check(c.rt_main_ex(f, arg, &raw));
}

/// rt_main_ex with a typed body `f(ctx)`.
pub fn mainEx(ctx: anytype, comptime f: fn (@TypeOf(ctx)) void, attr: ?GoAttr) Error!void {
    return mainExRaw(startFn(@TypeOf(ctx), f), @ptrCast(@constCast(ctx)), attr);
}

/// rt_gosched: in a G, yield to other runnable Gs (the G may resume on another M
/// unless it is wired); elsewhere sched_yield.
pub fn gosched() void {
    c.rt_gosched();
}

/// rt_checkpoint: a preemption point for a G that computes without calling into the
/// runtime. If sysmon marked the G (it kept its P for a 10 ms time slice), other Gs
/// get the P and true is returned once it runs again; otherwise false at once.
/// Elsewhere false.
pub fn checkpoint() bool {
    return c.rt_checkpoint() != 0;
}

/// rt_goexit: in a G, end it now (Zig `defer`s of its frames do not run); elsewhere
/// nothing.
pub fn goexit() void {
    c.rt_goexit();
}

/// rt_goid: the calling G's id; 0 outside a G.
pub fn goid() i64 {
    return c.rt_goid();
}

/// rt_lockosthread: wire the calling G to its M (nests). error.Perm outside a G.
pub fn lockOSThread() Error!void {
    return check(c.rt_lockosthread());
}

/// rt_unlockosthread: undo one lockOSThread. error.Perm outside a G.
pub fn unlockOSThread() Error!void {
    return check(c.rt_unlockosthread());
}

/// rt_entersyscall: the G is about to block in the OS; its P may be handed off.
/// error.Perm outside a G, error.Already if already in a syscall.
pub fn enterSyscall() Error!void {
    return check(c.rt_entersyscall());
}

/// rt_exitsyscall: back from the OS; reacquire a P (the G may move to another M).
/// error.Perm outside a G, error.Invalid without enterSyscall.
pub fn exitSyscall() Error!void {
    return check(c.rt_exitsyscall());
}

/// rt_park's unlock callback: runs on the M's g0 once the G is marked waiting; must
/// not block; returning false resumes the G at once.
pub const ParkFn = *const fn (g: ?*c.rt_g, arg: ?*anyopaque) callconv(.c) bool;

/// A G (a handle to an `rt_g`).
pub const G = struct {
    handle: *c.rt_g,

    /// rt_getg: the calling G; null outside a G.
    pub fn current() ?G {
        return .{ .handle = c.rt_getg() orelse return null };
    }

    /// rt_ready: make a parked G runnable. error.Invalid if it is not parked.
    pub fn ready(g: G) Error!void {
        return check(c.rt_ready(g.handle));
    }

    pub fn eql(a: G, b: G) bool {
        return a.handle == b.handle;
    }
};

/// rt_park: park the calling G until G.ready; `unlock(g, arg)` runs on g0 first
/// (null: park unconditionally). error.Perm outside a G.
pub fn park(unlock: ?ParkFn, arg: ?*anyopaque) Error!void {
    return check(c.rt_park(unlock, arg));
}

/// rt_park with a typed unlock callback `f(g, ctx)`.
pub fn parkWith(ctx: anytype, comptime f: fn (G, @TypeOf(ctx)) bool) Error!void {
    const unlock = struct {
        fn unlock(g: ?*c.rt_g, arg: ?*anyopaque) callconv(.c) bool {
            return f(.{ .handle = g.? }, @ptrCast(@alignCast(arg)));
        }
    }.unlock;
    return park(&unlock, @ptrCast(@constCast(ctx)));
}

/// rt_mutex: all-zero is unlocked. A G parks while it waits; a thread blocks.
/// Unlocking an unlocked Mutex is fatal, as in Go. It must not move while in use.
pub const Mutex = struct {
    raw: c.rt_mutex = std.mem.zeroes(c.rt_mutex),

    pub fn lock(mu: *Mutex) void {
        c.rt_mutex_lock(&mu.raw);
    }

    /// rt_mutex_trylock: lock if free; never blocks.
    pub fn tryLock(mu: *Mutex) bool {
        return c.rt_mutex_trylock(&mu.raw);
    }

    pub fn unlock(mu: *Mutex) void {
        c.rt_mutex_unlock(&mu.raw);
    }
};

/// rt_wg: all-zero is a zero count. wait() parks a G and blocks a thread until the
/// count is zero. A negative count is fatal, as in Go. It must not move while in use.
pub const WaitGroup = struct {
    raw: c.rt_wg = std.mem.zeroes(c.rt_wg),

    pub fn add(wg: *WaitGroup, delta: i64) void {
        c.rt_wg_add(&wg.raw, delta);
    }

    pub fn done(wg: *WaitGroup) void {
        c.rt_wg_done(&wg.raw);
    }

    pub fn wait(wg: *WaitGroup) void {
        c.rt_wg_wait(&wg.raw);
    }
};

// ---------------------------------------------------------------------------------
// Channels, sleep, poll_fd

/// rt_chan of `T` (elements copied by value, `@sizeOf(T)` bytes; a zero-sized `T`
/// is Go's chan struct{}). Works between Gs (they park), between threads (they block
/// on a futex) and across the two. The handle may be copied freely; `free` it once.
pub fn Chan(comptime T: type) type {
    return struct {
        const Self = @This();
        handle: *c.rt_chan,

        /// rt_chan_make: `cap` 0 is unbuffered. error.Invalid (elem size × cap
        /// overflows), error.NoMem.
        pub fn make(capacity: usize) Error!Self {
            var h: ?*c.rt_chan = null;
            try check(c.rt_chan_make(@sizeOf(T), capacity, &h));
            return .{ .handle = h orelse return error.Internal };
        }

        /// rt_chan_free: error.Busy while a sender or receiver waits on it.
        pub fn free(ch: Self) Error!void {
            return check(c.rt_chan_free(ch.handle));
        }

        /// rt_chan_send: waits for room or a receiver. error.Closed.
        pub fn send(ch: Self, v: T) Error!void {
            var tmp = v;
            return check(c.rt_chan_send(ch.handle, @ptrCast(&tmp)));
        }

        /// rt_chan_recv: waits for a value. error.Closed once closed and drained.
        pub fn recv(ch: Self) Error!T {
            var out: T = undefined;
            try check(c.rt_chan_recv(ch.handle, @ptrCast(&out)));
            return out;
        }

        /// recv for `while (ch.next()) |v|` loops: null once closed and drained.
        pub fn next(ch: Self) Error!?T {
            return ch.recv() catch |err| switch (err) {
                error.Closed => null,
                else => err,
            };
        }

        /// rt_chan_trysend: error.Again if it would wait; error.Closed.
        pub fn trySend(ch: Self, v: T) Error!void {
            var tmp = v;
            return check(c.rt_chan_trysend(ch.handle, @ptrCast(&tmp)));
        }

        /// rt_chan_tryrecv: error.Again if it would wait; error.Closed.
        pub fn tryRecv(ch: Self) Error!T {
            var out: T = undefined;
            try check(c.rt_chan_tryrecv(ch.handle, @ptrCast(&out)));
            return out;
        }

        /// rt_chan_close: waiters wake with error.Closed; buffered values can still
        /// be received. error.Closed if already closed.
        pub fn close(ch: Self) Error!void {
            return check(c.rt_chan_close(ch.handle));
        }

        /// rt_chan_len: buffered elements.
        pub fn len(ch: Self) usize {
            return c.rt_chan_len(ch.handle);
        }

        /// rt_chan_cap.
        pub fn cap(ch: Self) usize {
            return c.rt_chan_cap(ch.handle);
        }
    };
}

/// rt_sleep: a G parks on a timer (its M runs other Gs); a thread nanosleeps.
pub fn sleep(ns: i64) Error!void {
    return check(c.rt_sleep(ns));
}

/// rt_poll_fd events.
pub const POLLIN: u32 = c.RT_POLLIN;
pub const POLLOUT: u32 = c.RT_POLLOUT;

/// rt_poll_fd: wait until `fd` is ready for `events` (null timeout: forever); returns
/// the ready events. error.Invalid (bad fd or events), error.Again (timeout 0),
/// error.TimedOut, error.Busy (another G waits in that direction).
pub fn pollFd(fd: c_int, events: u32, timeout_ns: ?i64) Error!u32 {
    return value(u32, c.rt_poll_fd(fd, events, timeout_ns orelse -1));
}
