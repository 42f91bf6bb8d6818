//! The Zig host's tests of libmrt (issue 2: Ms and Ps; issue 3: Gs and the
//! scheduler), through the `mrt` wrapper.
//!
//! An ordinary executable with its own runner: every test runs in a forked child,
//! so each starts with a runtime that is not yet initialised, a crash or an abort
//! names its test, and a test that hangs is killed by an alarm (a watchdog, not a
//! timed assertion). Nothing is printed on success but the closing line
//! `N passed, M failed`; the exit status is 0 only if nothing failed.
//!
//!   mrt-tests [substring...]   run only the tests whose name contains one of them
const std = @import("std");
const mrt = @import("mrt");
const c = mrt.c;
const linux = std.os.linux;
const expect = std.testing.expect;
const expectEqual = std.testing.expectEqual;
const expectError = std.testing.expectError;
const expectEqualStrings = std.testing.expectEqualStrings;

const Test = struct { name: []const u8, run: *const fn () anyerror!void };

const tests = [_]Test{
    .{ .name = "error codes map to Zig errors and back", .run = testErrorCodes },
    .{ .name = "rt_version matches the header", .run = testVersion },
    .{ .name = "first call initialises lazily", .run = testLazyInit },
    .{ .name = "init, double init, shutdown, re-init", .run = testReinit },
    .{ .name = "8 Ms with Zig start functions", .run = testManyMs },
    .{ .name = "typed start function through M.spawn", .run = testSpawnTyped },
    .{ .name = "g0_stack_size is usable beside Zig's static TLS", .run = testG0StackSize },
    .{ .name = "allocm then launch; launch twice; free", .run = testAllocLaunch },
    .{ .name = "P moves between std.Threads", .run = testPMovesBetweenThreads },
    .{ .name = "P held by another thread is busy", .run = testPBusyElsewhere },
    .{ .name = "bad input gives named errors", .run = testBadInput },
    .{ .name = "surplus P dies after gomaxprocs shrinks", .run = testShrink },
    .{ .name = "M with a nextp returns it to the pool", .run = testNextpReturnsToPool },
    .{ .name = "start function moves a P on its g0", .run = testStartFnMovesP },
    .{ .name = "shutdown from an M is refused", .run = testShutdownFromM },
    .{ .name = "fork child sees Shutdown until rt_init", .run = testForkChild },
    .{ .name = "stack overflow on g0 aborts with a message", .run = testG0StackOverflow },
    .{ .name = "Zig Gs yield and finish", .run = testGsYield },
    .{ .name = "wait groups between Gs and a std.Thread", .run = testWaitGroupGsAndThread },
    .{ .name = "mutex between Gs", .run = testMutexBetweenGs },
    .{ .name = "rt_go from a std.Thread", .run = testGoFromThread },
    .{ .name = "Gs started from a G go to runnext", .run = testGoFromG },
    .{ .name = "rt_main runs its G and others", .run = testMain },
    .{ .name = "lockOSThread keeps a G on its M", .run = testLockOSThread },
    .{ .name = "park and ready with an unlock callback", .run = testParkReady },
    .{ .name = "syscall on the only P does not stall other Gs", .run = testSyscallHandoff },
    .{ .name = "goexit ends a G", .run = testGoexit },
    .{ .name = "G bad input gives named errors", .run = testGBadInput },
    .{ .name = "stack overflow in a G aborts naming it", .run = testGStackOverflow },
    .{ .name = "channel pipeline between Zig Gs", .run = testChanPipeline },
    .{ .name = "channel pipeline under rt_main", .run = testChanPipelineMain },
    .{ .name = "Chan close, try-variants, len and cap", .run = testChanBasics },
    .{ .name = "Chan free while a G waits is Busy", .run = testChanFreeBusy },
    .{ .name = "sleep and pollFd from Gs and a thread", .run = testSleepPoll },
    .{ .name = "async-preemptible Zig G shares the only P with a sleeper", .run = testAsyncPreempt },
    .{ .name = "goEx bad input and preempt_signal", .run = testGoExBadInput },
    .{ .name = "dump shows a parked G with its wait reason and name", .run = testDump },
    .{ .name = "deadlock detection makes main fail with Deadlock", .run = testDeadlock },
    .{ .name = "execution trace of a pipeline; trace bad input", .run = testTrace },
};

const Stuck = struct {
    ch: mrt.Chan(u32),

    fn run(s: *Stuck) void {
        _ = s.ch.recv() catch {};
    }
};

fn testDump() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var s: Stuck = .{ .ch = try mrt.Chan(u32).make(0) };
    _ = try mrt.goExRaw(mrt.startFn(*Stuck, Stuck.run), &s, .{ .name = "zig-stuck" });
    var buf: [1 << 16]u8 = undefined;
    var text: []const u8 = "";
    var tries: usize = 0;
    while (tries < 2000) : (tries += 1) {
        const fd: c_int = @intCast(linux.memfd_create("dump", 0));
        defer _ = linux.close(fd);
        try mrt.dump(fd);
        const n = linux.pread(fd, &buf, buf.len, 0);
        text = buf[0..n];
        if (std.mem.indexOf(u8, text, "[chan receive, ") != null) break;
        try mrt.sleep(1_000_000);
    }
    try expect(std.mem.indexOf(u8, text, "goroutine profile: total 1\n") != null);
    try expect(std.mem.indexOf(u8, text, "1 goroutine [chan receive]:\n") != null);
    try expect(std.mem.indexOf(u8, text, "name=\"zig-stuck\"") != null);
    try expect(std.mem.indexOf(u8, text, "rt_chan_recv+0x") != null);
    try expectError(error.Invalid, mrt.dump(-1));
    try s.ch.close();
    while ((try mrt.stats()).goroutines > 0) try mrt.sleep(100_000);
    try s.ch.free();
    try mrt.shutdown(null);
}

fn testDeadlock() !void {
    try mrt.init(.{ .maxprocs = 1, .flags = mrt.CFG_DEADLOCK_DETECT });
    var s: Stuck = .{ .ch = try mrt.Chan(u32).make(0) };
    try expectError(error.Deadlock, mrt.main(&s, Stuck.run));
    // The G stays parked: no shutdown (it would wait for it).
}

/// Each test's process: set up in main before the fork.
var io: std.Io = undefined;

/// A child that has not finished after this is killed (SIGALRM) and fails.
const watchdog_seconds = 60;
/// The same for a process a test forks (alarms are not inherited): shorter, so
/// that the test itself can report it.
const grandchild_watchdog_seconds = 20;

pub fn main(init: std.process.Init) !u8 {
    io = init.io;
    const args = try init.minimal.args.toSlice(init.arena.allocator());
    var passed: usize = 0;
    var failed: usize = 0;
    for (tests) |t| {
        if (!selected(args[1..], t.name)) continue;
        if (runIsolated(t)) passed += 1 else failed += 1;
    }
    if (passed + failed == 0) {
        std.debug.print("no test name contains any of the given substrings\n", .{});
        return 2;
    }
    var buf: [256]u8 = undefined;
    var stdout: std.Io.File.Writer = .init(.stdout(), io, &buf);
    try stdout.interface.print("{d} passed, {d} failed\n", .{ passed, failed });
    try stdout.interface.flush();
    return if (failed == 0) 0 else 1;
}

fn selected(filters: []const []const u8, name: []const u8) bool {
    if (filters.len == 0) return true;
    for (filters) |f| {
        if (std.mem.indexOf(u8, name, f) != null) return true;
    }
    return false;
}

/// Run one test in a forked child; report why it failed, if it did.
fn runIsolated(t: Test) bool {
    const pid = std.c.fork();
    if (pid < 0) {
        std.debug.print("FAIL {s}: fork failed\n", .{t.name});
        return false;
    }
    if (pid == 0) {
        // Its own process group, so that the runner can reap whatever it forks.
        _ = std.c.setpgid(0, 0);
        _ = std.c.alarm(watchdog_seconds);
        t.run() catch |err| {
            std.debug.print("FAIL {s}: {t}\n", .{ t.name, err });
            if (@errorReturnTrace()) |trace| std.debug.dumpErrorReturnTrace(trace);
            std.c._exit(1);
        };
        // A normal exit, so that the library's behaviour at process exit (with
        // whatever Ms a test left running) is part of every test.
        std.c.exit(0);
    }
    const status = waitChild(pid) orelse {
        std.debug.print("FAIL {s}: waitpid failed\n", .{t.name});
        return false;
    };
    // A grandchild left behind (a hung fork child) would hold our stdout open.
    _ = std.c.kill(-pid, .KILL);
    if (std.c.W.IFEXITED(status)) {
        const code = std.c.W.EXITSTATUS(status);
        if (code == 0) return true;
        // Status 1 is a failed check, already reported by the child.
        if (code != 1) std.debug.print("FAIL {s}: exit status {d}\n", .{ t.name, code });
        return false;
    }
    const sig = std.c.W.TERMSIG(status);
    std.debug.print("FAIL {s}: killed by signal {d}{s}\n", .{
        t.name,
        @backingInt(sig),
        if (sig == .ALRM) " (watchdog: the test hung)" else "",
    });
    return false;
}

fn waitChild(pid: std.c.pid_t) ?u32 {
    var status: c_int = 0;
    while (true) {
        const rc = std.c.waitpid(pid, &status, 0);
        if (rc == pid) return @bitCast(status);
        if (rc < 0 and std.c._errno().* == @backingInt(std.c.E.INTR)) continue;
        return null;
    }
}

// ---------------------------------------------------------------------------------
// Helpers

/// What an M saw from inside its start function.
const Seen = struct {
    tid: i64 = 0,
    m_id: i64 = 0,
    info: ?mrt.M.Info = null,
    frame: usize = 0,
    had_p: bool = false,
    err: ?mrt.Error = null,
    done: std.Io.Event = .unset,

    fn observe(seen: *Seen) void {
        seen.tid = linux.gettid();
        seen.frame = @frameAddress();
        seen.had_p = mrt.P.current() != null;
        const m = mrt.M.current() orelse {
            seen.err = error.Invalid;
            return;
        };
        seen.m_id = m.id() catch |err| {
            seen.err = err;
            return;
        };
        seen.info = m.info() catch |err| {
            seen.err = err;
            return;
        };
    }

    fn wait(seen: *Seen) !void {
        try seen.done.wait(io);
    }

    /// The checks every observing M must pass.
    fn expectSane(seen: *const Seen, m: mrt.M) !void {
        if (seen.err) |err| return err;
        const info = seen.info orelse return error.NoInfoFromM;
        try expectEqual(try m.id(), seen.m_id);
        try expectEqual(seen.m_id, info.id);
        try expectEqual(seen.tid, info.tid);
        try expect(seen.tid != linux.gettid());
        try expect(info.onG0(seen.frame));
        // g0_stack_size 0 means the default, at least 256 KiB usable.
        try expect(info.g0_hi - info.g0_lo >= 256 * 1024);
        // A start function runs before the M takes its nextp.
        try expect(!seen.had_p);
    }
};

fn startObserve(arg: ?*anyopaque) callconv(.c) void {
    const seen: *Seen = @ptrCast(@alignCast(arg.?));
    seen.observe();
    seen.done.set(io);
}

/// Poll `cond` until it holds; fail after about ten seconds of checking.
fn eventually(comptime cond: fn () anyerror!bool) !void {
    for (0..10_000) |_| {
        if (try cond()) return;
        try io.sleep(.fromMilliseconds(1), .awake);
    }
    return error.ConditionNeverHeld;
}

fn allPsPooled() !bool {
    const s = try mrt.stats();
    return s.idle_procs == s.maxprocs;
}

fn expectP(want: mrt.P, got: ?mrt.P) !void {
    const p = got orelse return error.ExpectedAP;
    try expect(p.eql(want));
}

// ---------------------------------------------------------------------------------
// Tests

fn testErrorCodes() !void {
    const Case = struct { code: c_int, err: mrt.Error, name: []const u8 };
    const cases = [_]Case{
        .{ .code = -1, .err = error.Perm, .name = "RT_EPERM" },
        .{ .code = -11, .err = error.Again, .name = "RT_EAGAIN" },
        .{ .code = -12, .err = error.NoMem, .name = "RT_ENOMEM" },
        .{ .code = -16, .err = error.Busy, .name = "RT_EBUSY" },
        .{ .code = -22, .err = error.Invalid, .name = "RT_EINVAL" },
        .{ .code = -32, .err = error.Closed, .name = "RT_ECLOSED" },
        .{ .code = -35, .err = error.Deadlock, .name = "RT_EDEADLK" },
        .{ .code = -108, .err = error.Shutdown, .name = "RT_ESHUTDOWN" },
        .{ .code = -110, .err = error.TimedOut, .name = "RT_ETIMEDOUT" },
        .{ .code = -114, .err = error.Already, .name = "RT_EALREADY" },
        .{ .code = -131, .err = error.Internal, .name = "RT_EINTERNAL" },
    };
    try expectEqual(cases.len, mrt.known_codes.len);
    for (cases) |k| {
        try expectEqual(k.err, mrt.errorFromCode(k.code));
        try expectEqual(@as(?c_int, k.code), mrt.codeFromError(k.err));
        try expectEqualStrings(k.name, mrt.errName(k.err));
        try expectEqualStrings(k.name, std.mem.span(c.rt_err_name(k.code)));
        try expect(!std.mem.eql(u8, "unknown error", mrt.strerror(k.err)));
        try expectError(k.err, mrt.check(k.code));
    }
    try mrt.check(c.RT_OK);
    try expectEqual(error.Unknown, mrt.errorFromCode(-9999));
    try expectEqual(@as(?c_int, null), mrt.codeFromError(error.Unknown));
    try expectEqualStrings("unknown error", mrt.errName(error.Unknown));
    try expectEqualStrings("unknown error", std.mem.span(c.rt_strerror(12345)));
    try expectEqualStrings("unknown error", std.mem.span(c.rt_err_name(-9999)));
}

fn testVersion() !void {
    var buf: [64]u8 = undefined;
    const want = try std.mem.print(&buf, "{f}", .{mrt.header_version});
    try expectEqualStrings(want, mrt.version());
}

fn testLazyInit() !void {
    // No rt_init: the first call initialises with defaults.
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    try expectEqual(mrt.P.Status.idle, try p0.status());
    try expect(try mrt.maxprocs() >= 1);
    try expectError(error.Already, mrt.init(null));
    try mrt.shutdown(null);
}

fn testReinit() !void {
    try mrt.init(.{ .maxprocs = 3 });
    try expectError(error.Already, mrt.init(null));
    try expectEqual(@as(u31, 3), try mrt.maxprocs());
    try expect(mrt.P.get(2) != null);
    try expect(mrt.P.get(3) == null);
    var before: Seen = .{};
    const m1 = try mrt.M.new(startObserve, &before, null);
    try before.wait();
    try before.expectSane(m1);
    try mrt.shutdown(null);

    // Not running: calls that need the runtime say so, and nothing re-inits lazily.
    try expectError(error.Shutdown, mrt.shutdown(null));
    try expect(mrt.P.get(0) == null);
    try expect(mrt.P.current() == null);
    try expectError(error.Shutdown, mrt.maxprocs());
    try expectError(error.Shutdown, mrt.stats());
    var never: Seen = .{};
    try expectError(error.Shutdown, mrt.M.new(startObserve, &never, null));
    try expectError(error.Shutdown, mrt.M.alloc(null, startObserve, &never));

    // Again, with defaults.
    try mrt.init(null);
    try expect(try mrt.maxprocs() >= 1);
    var after: Seen = .{};
    const m2 = try mrt.M.new(startObserve, &after, null);
    try after.wait();
    try after.expectSane(m2);
    try mrt.shutdown(null);
}

fn testManyMs() !void {
    const n = 8;
    try mrt.init(null);
    var seen: [n]Seen = @splat(.{});
    var ms: [n]mrt.M = undefined;
    for (&seen, &ms) |*s, *m| m.* = try mrt.M.new(startObserve, s, null);
    for (&seen) |*s| try s.wait();
    for (&seen, ms, 0..) |*s, m, i| {
        try s.expectSane(m);
        for (seen[0..i]) |other| {
            try expect(other.tid != s.tid);
            try expect(other.m_id != s.m_id);
        }
    }
    // The main thread is foreign (never adopted here).
    try expect(mrt.M.current() == null);
    const st = try mrt.stats();
    try expect(st.threads >= n);
    try mrt.shutdown(null);
}

const Counter = struct {
    hits: std.atomic.Value(u32) = .init(0),
    tid: i64 = 0,
    done: std.Io.Event = .unset,

    fn start(self: *Counter) void {
        self.tid = linux.gettid();
        _ = self.hits.fetchAdd(1, .acq_rel);
        self.done.set(io);
    }
};

fn testSpawnTyped() !void {
    var counter: Counter = .{};
    const m = try mrt.M.spawn(&counter, Counter.start, null);
    try counter.done.wait(io);
    try expectEqual(@as(u32, 1), counter.hits.load(.acquire));
    try expectEqual(counter.tid, (try m.info()).tid);
    try mrt.shutdown(null);
}

/// Uses `depth` frames of a little over 4 KiB each, then reports where it got.
const DeepUser = struct {
    depth: usize,
    info: ?mrt.M.Info = null,
    deepest: usize = 0,
    done: std.Io.Event = .unset,

    fn start(self: *DeepUser) void {
        if (mrt.M.current()) |m| self.info = m.info() catch null;
        self.deepest = descend(self.depth);
        self.done.set(io);
    }

    fn descend(left: usize) usize {
        var frame: [4096]u8 = undefined;
        @memset(&frame, @truncate(left));
        std.mem.doNotOptimizeAway(&frame);
        if (left == 0) return @frameAddress();
        return descend(left - 1);
    }
};

fn testG0StackSize() !void {
    // A Zig Debug executable has a large static TLS, which glibc carves out of
    // every thread's stack; the library must add it on top of the usable size.
    const usable = 512 * 1024;
    try mrt.init(.{ .g0_stack_size = usable });
    var user: DeepUser = .{ .depth = usable * 3 / 4 / 4096 };
    const m = try mrt.M.spawn(&user, DeepUser.start, null);
    try user.done.wait(io);
    const info = user.info orelse return error.NoInfoFromM;
    try expectEqual(try m.id(), info.id);
    try expect(info.g0_hi - info.g0_lo >= usable);
    try expect(info.onG0(user.deepest));
    try mrt.shutdown(null);
}

fn testAllocLaunch() !void {
    try mrt.init(null);
    var seen: Seen = .{};
    const m = try mrt.M.alloc(null, startObserve, &seen);
    _ = try m.id();
    const before = try m.info();
    try expectEqual(@as(i64, 0), before.tid);
    try expectEqual(@as(?u31, null), before.p);
    try m.launch(null);
    try seen.wait();
    try seen.expectSane(m);
    try expectError(error.Already, m.launch(null));
    try expectError(error.Busy, m.free());

    // An M that never runs can be freed; a NULL one cannot.
    const idle = try mrt.M.alloc(null, null, null);
    try idle.free();
    try expectError(error.Invalid, mrt.check(c.rt_m_free(null)));
    try mrt.shutdown(null);
}

/// A std.Thread that takes a P (held by the host), notes the M it became, and
/// gives the P back to the host.
const Hop = struct {
    p: mrt.P,
    m_id: i64 = 0,
    status_while_held: ?mrt.P.Status = null,
    current_was_p: bool = false,
    released: ?mrt.P = null,
    err: ?anyerror = null,

    fn run(hop: *Hop) void {
        hop.runChecked() catch |err| {
            hop.err = err;
        };
    }

    fn runChecked(hop: *Hop) !void {
        try expect(mrt.M.current() == null);
        try hop.p.acquire();
        const m = mrt.M.current() orelse return error.NotAdopted;
        hop.m_id = try m.id();
        try expectEqual(@as(?u31, try hop.p.id()), (try m.info()).p);
        hop.current_was_p = if (mrt.P.current()) |cur| cur.eql(hop.p) else false;
        hop.status_while_held = try hop.p.status();
        try expectError(error.Already, hop.p.acquire());
        hop.released = mrt.P.release();
        try expect(mrt.P.release() == null);
    }
};

fn testPMovesBetweenThreads() !void {
    try mrt.init(null);
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    try expectEqual(@as(u31, 0), try p0.id());

    var a: Hop = .{ .p = p0 };
    (try std.Thread.spawn(.{}, Hop.run, .{&a})).join();
    if (a.err) |err| return err;
    try expect(a.current_was_p);
    try expectEqual(@as(?mrt.P.Status, .running), a.status_while_held);
    try expectP(p0, a.released);
    // Released: idle, held by the host, not in the pool.
    try expectEqual(mrt.P.Status.idle, try p0.status());

    var b: Hop = .{ .p = p0 };
    (try std.Thread.spawn(.{}, Hop.run, .{&b})).join();
    if (b.err) |err| return err;
    try expect(b.current_was_p);
    try expectP(p0, b.released);

    // Back to the pool, once.
    try p0.put();
    try expectError(error.Already, p0.put());
    try expect(try allPsPooled());
    try mrt.shutdown(null);
}

/// A std.Thread that holds a P until told to let it go.
const Holder = struct {
    p: mrt.P,
    holding: std.Io.Event = .unset,
    let_go: std.Io.Event = .unset,
    err: ?anyerror = null,

    fn run(h: *Holder) void {
        h.p.acquire() catch |err| {
            h.err = err;
            h.holding.set(io);
            return;
        };
        h.holding.set(io);
        h.let_go.waitUncancelable(io);
        _ = mrt.P.release();
    }
};

fn testPBusyElsewhere() !void {
    try mrt.init(null);
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    var h: Holder = .{ .p = p0 };
    const thread = try std.Thread.spawn(.{}, Holder.run, .{&h});
    try h.holding.wait(io);
    if (h.err) |err| return err;

    try expectEqual(mrt.P.Status.running, try p0.status());
    try expectError(error.Busy, p0.acquire());
    try expectError(error.Busy, p0.put());
    var seen: Seen = .{};
    try expectError(error.Busy, mrt.M.new(startObserve, &seen, p0));
    const m = try mrt.M.alloc(null, startObserve, &seen);
    try expectError(error.Busy, m.launch(p0));
    try m.free();

    h.let_go.set(io);
    thread.join();

    // The holder released it: held by the host now, so this thread may take it.
    try p0.acquire();
    try expectP(p0, mrt.P.current());
    if (mrt.P.get(1)) |p1| try expectError(error.Already, p1.acquire());
    try expectError(error.Already, p0.acquire());
    // Its own running P is busy for a new M too.
    try expectError(error.Busy, mrt.M.new(startObserve, &seen, p0));
    try expectP(p0, mrt.P.release());
    try p0.put();
    try mrt.shutdown(null);
}

fn testBadInput() !void {
    try mrt.init(null);
    const n = try mrt.maxprocs();

    // NULL handles.
    try expectError(error.Invalid, mrt.check(c.rt_acquirep(null)));
    try expectError(error.Invalid, mrt.check(c.rt_p_put(null)));
    try expectError(error.Invalid, mrt.check(c.rt_p_id(null)));
    try expectError(error.Invalid, mrt.check(c.rt_p_status(null)));
    try expectError(error.Invalid, mrt.check(c.rt_m_launch(null, null)));
    try expectError(error.Invalid, mrt.check(c.rt_m_free(null)));
    try expectEqual(@as(i64, c.RT_EINVAL), c.rt_m_id(null));

    // A "P" that is not one: zeroed memory the library never handed out.
    var fake: [64]u64 align(64) = @splat(0);
    const not_a_p: *c.rt_p = @ptrCast(&fake);
    try expectError(error.Invalid, mrt.check(c.rt_acquirep(not_a_p)));
    try expectError(error.Invalid, mrt.check(c.rt_p_status(not_a_p)));
    try expectError(error.Invalid, mrt.check(c.rt_p_put(not_a_p)));

    // Ids out of range.
    try expect(mrt.P.get(n) == null);
    try expect(c.rt_p_get(-1) == null);

    // NULL out-pointers and size-0 structs.
    try expectError(error.Invalid, mrt.check(c.rt_allocm(null, null, null, null)));
    try expectError(error.Invalid, mrt.check(c.rt_getstats(null)));
    var st = std.mem.zeroes(c.rt_stats);
    try expectError(error.Invalid, mrt.check(c.rt_getstats(&st)));
    var seen: Seen = .{};
    const m = try mrt.M.new(startObserve, &seen, null);
    try seen.wait();
    var info = std.mem.zeroes(c.rt_m_info);
    try expectError(error.Invalid, mrt.check(c.rt_m_getinfo(m.handle, &info)));
    try expectError(error.Invalid, mrt.check(c.rt_m_getinfo(m.handle, null)));
    try expectError(error.Invalid, mrt.check(c.rt_m_getinfo(null, &info)));
    // A larger size than the library knows is accepted.
    const Bigger = extern struct { info: c.rt_m_info, extra: [8]u64 };
    var big = std.mem.zeroes(Bigger);
    big.info.size = @sizeOf(@TypeOf(big));
    try mrt.check(c.rt_m_getinfo(m.handle, &big.info));
    try expectEqual(try m.id(), big.info.id);

    // Nothing to release on a thread that holds no P; a P in the pool is in the pool.
    try expect(mrt.P.release() == null);
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    try expectError(error.Already, p0.put());
    try mrt.shutdown(null);
}

fn testShrink() !void {
    try mrt.init(.{ .maxprocs = 2 });
    try expectEqual(@as(u31, 2), try mrt.gomaxprocs(3));
    // Grown at once.
    const p2 = mrt.P.get(2) orelse return error.NoP2;
    try expectEqual(mrt.P.Status.idle, try p2.status());
    try p2.acquire();

    // Shrunk lazily: the running surplus P lives on until released.
    try expectEqual(@as(u31, 3), try mrt.gomaxprocs(2));
    try expectEqual(@as(u31, 2), try mrt.maxprocs());
    try expect(mrt.P.get(2) == null);
    try expectEqual(mrt.P.Status.running, try p2.status());
    _ = mrt.P.release();
    try expectEqual(mrt.P.Status.dead, try p2.status());
    try expectError(error.Invalid, p2.acquire());
    try mrt.shutdown(null);
}

fn testNextpReturnsToPool() !void {
    try mrt.init(null);
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    try p0.acquire();
    try expectP(p0, mrt.P.release());

    var seen: Seen = .{};
    const m = try mrt.M.new(startObserve, &seen, p0);
    try seen.wait();
    try seen.expectSane(m);
    // After its start function the M takes P 0, finds no G, puts it back and parks.
    try eventually(allPsPooled);
    try expectError(error.Already, p0.put());
    try p0.acquire();
    try expectP(p0, mrt.P.release());
    try p0.put();
    try mrt.shutdown(null);
}

/// What a start function that moves a P itself saw.
const Mover = struct {
    p: mrt.P,
    held_it: bool = false,
    info_p: ?u31 = null,
    err: ?anyerror = null,
    done: std.Io.Event = .unset,

    fn start(arg: ?*anyopaque) callconv(.c) void {
        const mv: *Mover = @ptrCast(@alignCast(arg.?));
        mv.moveP() catch |err| {
            mv.err = err;
        };
        mv.done.set(io);
    }

    fn moveP(mv: *Mover) !void {
        try mv.p.acquire();
        mv.held_it = if (mrt.P.current()) |cur| cur.eql(mv.p) else false;
        mv.info_p = (try (mrt.M.current() orelse return error.NoM).info()).p;
        try expectError(error.Already, mv.p.acquire());
        const back = mrt.P.release() orelse return error.NothingReleased;
        try back.put();
    }
};

fn testStartFnMovesP() !void {
    try mrt.init(null);
    const last = (try mrt.maxprocs()) - 1;
    const p = mrt.P.get(last) orelse return error.NoP;
    var mv: Mover = .{ .p = p };
    _ = try mrt.M.new(Mover.start, &mv, null);
    try mv.done.wait(io);
    if (mv.err) |err| return err;
    try expect(mv.held_it);
    try expectEqual(@as(?u31, last), mv.info_p);
    try eventually(allPsPooled);
    try mrt.shutdown(null);
}

const FromM = struct {
    shutdown: ?mrt.Error = null,
    init: ?mrt.Error = null,
    done: std.Io.Event = .unset,

    fn start(arg: ?*anyopaque) callconv(.c) void {
        const f: *FromM = @ptrCast(@alignCast(arg.?));
        if (mrt.shutdown(null)) |_| {} else |err| f.shutdown = err;
        if (mrt.init(null)) |_| {} else |err| f.init = err;
        f.done.set(io);
    }
};

fn testShutdownFromM() !void {
    try mrt.init(null);
    var f: FromM = .{};
    _ = try mrt.M.new(FromM.start, &f, null);
    try f.done.wait(io);
    // It would wait for itself.
    try expectEqual(@as(?mrt.Error, error.Perm), f.shutdown);
    try expectEqual(@as(?mrt.Error, error.Already), f.init);
    try mrt.shutdown(null);
}

fn testForkChild() !void {
    try mrt.init(null);
    var seen: [3]Seen = @splat(.{});
    for (&seen) |*s| _ = try mrt.M.new(startObserve, s, null);
    for (&seen) |*s| try s.wait();

    const pid = std.c.fork();
    if (pid < 0) return error.ForkFailed;
    if (pid == 0) {
        _ = std.c.alarm(grandchild_watchdog_seconds);
        forkChild() catch |err| {
            std.debug.print("in the fork child: {t}\n", .{err});
            if (@errorReturnTrace()) |trace| std.debug.dumpErrorReturnTrace(trace);
            std.c._exit(1);
        };
        std.c.exit(0);
    }
    const status = waitChild(pid) orelse return error.WaitFailed;
    if (!std.c.W.IFEXITED(status) or std.c.W.EXITSTATUS(status) != 0) {
        std.debug.print("fork child status 0x{x}{s}\n", .{
            status,
            if (std.c.W.IFSIGNALED(status) and std.c.W.TERMSIG(status) == .ALRM) " (watchdog: it hung)" else "",
        });
        return error.ForkChildFailed;
    }

    // The parent's runtime is untouched.
    var after: Seen = .{};
    const m = try mrt.M.new(startObserve, &after, null);
    try after.wait();
    try after.expectSane(m);
    try mrt.shutdown(null);
}

fn forkChild() !void {
    try expect(mrt.P.get(0) == null);
    try expectError(error.Shutdown, mrt.maxprocs());
    var never: Seen = .{};
    try expectError(error.Shutdown, mrt.M.new(startObserve, &never, null));
    try expectError(error.Shutdown, mrt.shutdown(null));
    try mrt.init(null);
    var seen: Seen = .{};
    const m = try mrt.M.new(startObserve, &seen, null);
    try seen.wait();
    try seen.expectSane(m);
    try mrt.shutdown(null);
}

/// Recurse until the g0 stack runs out.
fn recurse(depth: usize) usize {
    var frame: [512]u8 = undefined;
    @memset(&frame, @truncate(depth));
    std.mem.doNotOptimizeAway(&frame);
    return recurse(depth + 1) + frame[depth % frame.len];
}

fn startOverflow(_: ?*anyopaque) callconv(.c) void {
    std.mem.doNotOptimizeAway(recurse(0));
}

/// What a child that was expected to die left behind: its wait status and stderr.
const ChildReport = struct {
    status: u32,
    stderr: []const u8,
};

/// Runs `body` in a forked child (under the grandchild watchdog) with its stderr into
/// a pipe; returns the child's wait status and what it wrote, up to `out.len` bytes.
fn runChildCapturingStderr(body: *const fn () noreturn, out: []u8) !ChildReport {
    var fds: [2]std.c.fd_t = undefined;
    if (std.c.pipe(&fds) != 0) return error.PipeFailed;
    const pid = std.c.fork();
    if (pid < 0) return error.ForkFailed;
    if (pid == 0) {
        _ = std.c.alarm(grandchild_watchdog_seconds);
        _ = std.c.dup2(fds[1], 2);
        _ = std.c.close(fds[0]);
        _ = std.c.close(fds[1]);
        body();
    }
    _ = std.c.close(fds[1]);
    var len: usize = 0;
    while (len < out.len) {
        const n = std.c.read(fds[0], out[len..].ptr, out.len - len);
        if (n <= 0) break;
        len += @intCast(n);
    }
    _ = std.c.close(fds[0]);
    const status = waitChild(pid) orelse return error.WaitFailed;
    return .{ .status = status, .stderr = out[0..len] };
}

/// Whether the child died by SIGABRT after reporting a stack overflow that names
/// `who`; if not, prints what it did.
fn diedOfOverflow(r: ChildReport, who: []const u8) bool {
    if (std.c.W.IFSIGNALED(r.status) and std.c.W.TERMSIG(r.status) == .ABRT and
        std.mem.indexOf(u8, r.stderr, "stack overflow") != null and
        std.mem.indexOf(u8, r.stderr, who) != null)
    {
        return true;
    }
    std.debug.print("child status 0x{x}, stderr:\n{s}\n", .{ r.status, r.stderr });
    return false;
}

/// The child of testG0StackOverflow: overflow an M's g0.
fn overflowG0() noreturn {
    const m = mrt.M.new(startOverflow, null, null) catch std.c._exit(3);
    _ = m;
    // The M aborts the process; if it does not, the alarm ends it.
    while (true) io.sleep(.fromSeconds(60), .awake) catch {};
}

fn testG0StackOverflow() !void {
    var out: [4096]u8 = undefined;
    const r = try runChildCapturingStderr(overflowG0, &out);
    if (!diedOfOverflow(r, "g0 of M ")) return error.NoStackOverflowReport;
}

// ---------------------------------------------------------------------------------
// Gs (issue 3)

/// Every test below that uses Gs waits with a WaitGroup (or rt_main), never by time.
/// Poll until no G is alive (a G that signalled its wait group exits just after).
fn noGsLeft() !bool {
    return (try mrt.stats()).goroutines == 0;
}

/// A G that yields `rounds` times and notes what it saw.
const Yielder = struct {
    rounds: usize,
    wg: *mrt.WaitGroup,
    total: *std.atomic.Value(u64),
    id: i64 = 0,
    id_stable: bool = true,
    had_g: bool = false,
    had_p: bool = false,

    fn run(y: *Yielder) void {
        y.id = mrt.goid();
        y.had_g = mrt.G.current() != null;
        y.had_p = mrt.P.current() != null;
        for (0..y.rounds) |_| {
            _ = y.total.fetchAdd(1, .monotonic);
            mrt.gosched();
            if (mrt.goid() != y.id) y.id_stable = false;
        }
        y.wg.done();
    }
};

fn testGsYield() !void {
    try mrt.init(.{ .maxprocs = 4 });
    const n = 64;
    const rounds = 200;
    var wg: mrt.WaitGroup = .{};
    var total: std.atomic.Value(u64) = .init(0);
    var ys: [n]Yielder = undefined;
    var ids: [n]i64 = undefined;
    wg.add(n);
    for (&ys, &ids) |*y, *id| {
        y.* = .{ .rounds = rounds, .wg = &wg, .total = &total };
        id.* = try mrt.go(y, Yielder.run);
        try expect(id.* > 0);
    }
    // The main thread is foreign: it blocks on a futex.
    try expectEqual(@as(i64, 0), mrt.goid());
    wg.wait();
    try expectEqual(@as(u64, n * rounds), total.load(.monotonic));
    for (ys, ids, 0..) |y, id, i| {
        try expectEqual(id, y.id);
        try expect(y.id_stable and y.had_g and y.had_p);
        for (ids[0..i]) |other| try expect(other != id);
    }
    try eventually(noGsLeft);
    const s = try mrt.stats();
    try expect(s.gs_created >= n and s.gs_exited >= n);
    // A yield with nothing else runnable on its P need not switch: at least one
    // switch per G (its first run), most yields switching.
    try expect(s.switches >= n and s.switches >= n * rounds / 2);
    try mrt.shutdown(null);
}

/// Gs wait for a std.Thread, which waits for the Gs.
const Relay = struct {
    thread_done: mrt.WaitGroup = .{},
    gs_done: mrt.WaitGroup = .{},
    thread_said: std.atomic.Value(u32) = .init(0),
    gs_saw: std.atomic.Value(u32) = .init(0),
    thread_saw: u32 = 0,

    fn g(r: *Relay) void {
        r.thread_done.wait(); // parks this G
        _ = r.gs_saw.fetchAdd(r.thread_said.load(.acquire), .acq_rel);
        r.gs_done.done();
    }

    fn thread(r: *Relay) void {
        r.thread_said.store(1, .release);
        r.thread_done.done();
        r.gs_done.wait(); // blocks this OS thread
        r.thread_saw = r.gs_saw.load(.acquire);
    }
};

fn testWaitGroupGsAndThread() !void {
    try mrt.init(.{ .maxprocs = 2 });
    const n = 16;
    var r: Relay = .{};
    r.thread_done.add(1);
    r.gs_done.add(n);
    for (0..n) |_| _ = try mrt.go(&r, Relay.g);
    const t = try std.Thread.spawn(.{}, Relay.thread, .{&r});
    t.join();
    try expectEqual(@as(u32, n), r.thread_saw);
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

const Shared = struct {
    mu: mrt.Mutex = .{},
    wg: mrt.WaitGroup = .{},
    count: u64 = 0, // guarded by mu, deliberately not atomic
    inside: bool = false,
    overlaps: std.atomic.Value(u32) = .init(0),
    per_g: usize,

    fn run(s: *Shared) void {
        for (0..s.per_g) |i| {
            s.mu.lock();
            if (s.inside) _ = s.overlaps.fetchAdd(1, .monotonic);
            s.inside = true;
            const v = s.count;
            // Hold the mutex across a yield now and then: others must park on it.
            if (i % 8 == 0) mrt.gosched();
            s.count = v + 1;
            s.inside = false;
            s.mu.unlock();
        }
        s.wg.done();
    }
};

fn testMutexBetweenGs() !void {
    try mrt.init(.{ .maxprocs = 4 });
    const n = 16;
    var s: Shared = .{ .per_g = 500 };
    s.wg.add(n);
    for (0..n) |_| _ = try mrt.go(&s, Shared.run);
    s.wg.wait();
    try expectEqual(@as(u64, n * 500), s.count);
    try expectEqual(@as(u32, 0), s.overlaps.load(.monotonic));
    try expect(s.mu.tryLock());
    try expect(!s.mu.tryLock());
    s.mu.unlock();
    const st = try mrt.stats();
    try expect(st.parks > 0); // somebody waited on the mutex
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

const Counted = struct {
    wg: *mrt.WaitGroup,
    hits: *std.atomic.Value(u32),

    fn run(k: *const Counted) void {
        _ = k.hits.fetchAdd(1, .acq_rel);
        k.wg.done();
    }
};

const Spawner = struct {
    n: usize,
    k: Counted,
    err: ?mrt.Error = null,
    was_foreign: bool = false,

    fn thread(sp: *Spawner) void {
        sp.was_foreign = mrt.M.current() == null;
        for (0..sp.n) |_| {
            _ = mrt.go(&sp.k, Counted.run) catch |err| {
                sp.err = err;
                sp.k.wg.done();
            };
        }
    }
};

fn testGoFromThread() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var wg: mrt.WaitGroup = .{};
    var hits: std.atomic.Value(u32) = .init(0);
    const per = 100;
    var sps: [4]Spawner = undefined;
    var threads: [4]std.Thread = undefined;
    wg.add(per * sps.len);
    for (&sps, &threads) |*sp, *t| {
        sp.* = .{ .n = per, .k = .{ .wg = &wg, .hits = &hits } };
        t.* = try std.Thread.spawn(.{}, Spawner.thread, .{sp});
    }
    for (threads) |t| t.join();
    wg.wait();
    for (sps) |sp| {
        if (sp.err) |err| return err;
        try expect(sp.was_foreign);
    }
    try expectEqual(@as(u32, per * sps.len), hits.load(.acquire));
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

/// A G that starts another G: it goes to runnext of this P and runs when this G
/// yields, on the same P.
const Parent = struct {
    wg: mrt.WaitGroup = .{},
    child_ran_before_yield: bool = true,
    child_ran: std.atomic.Value(bool) = .init(false),
    parent_p: i32 = -1,
    child_p: i32 = -1,
    err: ?mrt.Error = null,

    fn parent(pa: *Parent) void {
        pa.parent_p = if (mrt.P.current()) |p| p.id() catch -1 else -1;
        _ = mrt.go(pa, Parent.child) catch |err| {
            pa.err = err;
            pa.wg.done();
        };
        pa.child_ran_before_yield = pa.child_ran.load(.acquire);
        pa.wg.wait(); // parks: the child, on runnext, runs next on this P
    }

    fn child(pa: *Parent) void {
        pa.child_p = if (mrt.P.current()) |p| p.id() catch -1 else -1;
        pa.child_ran.store(true, .release);
        pa.wg.done();
    }
};

fn testGoFromG() !void {
    try mrt.init(.{ .maxprocs = 1 });
    var pa: Parent = .{};
    pa.wg.add(1);
    try mrt.main(&pa, Parent.parent);
    if (pa.err) |err| return err;
    try expect(!pa.child_ran_before_yield);
    try expect(pa.child_ran.load(.acquire));
    try expectEqual(@as(i32, 0), pa.parent_p);
    try expectEqual(@as(i32, 0), pa.child_p);
    try mrt.shutdown(null);
}

const MainCtx = struct {
    n: usize,
    hits: std.atomic.Value(u32) = .init(0),
    main_goid: i64 = 0,
    on_m: bool = false,
    err: ?mrt.Error = null,
    k: Counted = undefined,
    wg: mrt.WaitGroup = .{},

    fn run(ctx: *MainCtx) void {
        ctx.main_goid = mrt.goid();
        ctx.on_m = mrt.M.current() != null and mrt.P.current() != null;
        ctx.k = .{ .wg = &ctx.wg, .hits = &ctx.hits };
        ctx.wg.add(@intCast(ctx.n));
        for (0..ctx.n) |_| {
            _ = mrt.go(&ctx.k, Counted.run) catch |err| {
                ctx.err = err;
                ctx.wg.done();
            };
        }
        ctx.wg.wait(); // parks the main G; this thread's M runs the others meanwhile
        // rt_main from a G is refused.
        if (mrt.mainRaw(startObserve, null)) |_| {} else |err| {
            if (err != error.Perm) ctx.err = err;
            return;
        }
        ctx.err = error.Internal;
    }
};

fn testMain() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var ctx: MainCtx = .{ .n = 50 };
    try mrt.main(&ctx, MainCtx.run);
    if (ctx.err) |err| return err;
    try expect(ctx.main_goid > 0 and ctx.on_m);
    try expectEqual(@as(u32, 50), ctx.hits.load(.acquire));
    // The calling thread was adopted, and gave its P back.
    try expect(mrt.M.current() != null);
    try expect(mrt.P.current() == null);
    // Again, on the same (now adopted) thread.
    var again: MainCtx = .{ .n = 5 };
    try mrt.main(&again, MainCtx.run);
    try expectEqual(@as(u32, 5), again.hits.load(.acquire));
    // Holding a P: refused. (Take one once the Ms that ran the Gs have let go.)
    try eventually(allPsPooled);
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    try p0.acquire();
    try expectError(error.Already, mrt.main(&again, MainCtx.run));
    try (mrt.P.release() orelse return error.NoPToRelease).put();
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

/// A wired G: yields often, must stay on its M and OS thread.
const Wired = struct {
    wg: *mrt.WaitGroup,
    rounds: usize,
    moved: u32 = 0,
    lockedg_ok: bool = false,
    err: ?mrt.Error = null,

    fn run(w: *Wired) void {
        defer w.wg.done();
        w.runChecked() catch |err| {
            w.err = err;
        };
    }

    fn runChecked(w: *Wired) mrt.Error!void {
        try mrt.lockOSThread();
        try mrt.lockOSThread(); // nests
        const m = mrt.M.current() orelse return error.Internal;
        const tid = linux.gettid();
        w.lockedg_ok = (try m.info()).lockedg == mrt.goid();
        for (0..w.rounds) |_| {
            mrt.gosched();
            const now = mrt.M.current() orelse return error.Internal;
            if (now.handle != m.handle or linux.gettid() != tid) w.moved += 1;
        }
        try mrt.unlockOSThread();
        if ((try m.info()).lockedg != mrt.goid()) w.lockedg_ok = false; // still once
        try mrt.unlockOSThread();
        if ((try m.info()).lockedg != 0) w.lockedg_ok = false;
        try mrt.unlockOSThread(); // not wired: nothing
    }
};

fn testLockOSThread() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var wg: mrt.WaitGroup = .{};
    var ws: [6]Wired = undefined;
    var others: [10]Yielder = undefined;
    var total: std.atomic.Value(u64) = .init(0);
    wg.add(ws.len + others.len);
    for (&ws) |*w| {
        w.* = .{ .wg = &wg, .rounds = 300 };
        _ = try mrt.go(w, Wired.run);
    }
    // Unwired Gs yielding alongside, so the Ps are busy with other work too.
    for (&others) |*y| {
        y.* = .{ .rounds = 300, .wg = &wg, .total = &total };
        _ = try mrt.go(y, Yielder.run);
    }
    wg.wait();
    for (ws) |w| {
        if (w.err) |err| return err;
        try expectEqual(@as(u32, 0), w.moved);
        try expect(w.lockedg_ok);
    }
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

/// park/ready: the unlock callback publishes the G once it is marked waiting.
const Sleeper = struct {
    parked: std.atomic.Value(?*c.rt_g) = .init(null),
    resumed: std.atomic.Value(bool) = .init(false),
    park_err: ?mrt.Error = null,
    wg: mrt.WaitGroup = .{},

    fn publish(g: mrt.G, s: *Sleeper) bool {
        s.parked.store(g.handle, .release);
        return true;
    }

    fn run(s: *Sleeper) void {
        mrt.parkWith(s, publish) catch |err| {
            s.park_err = err;
        };
        s.resumed.store(true, .release);
        s.wg.done();
    }
};

fn testParkReady() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var s: Sleeper = .{};
    s.wg.add(1);
    _ = try mrt.go(&s, Sleeper.run);
    var g: ?*c.rt_g = null;
    for (0..10_000) |_| {
        g = s.parked.load(.acquire);
        if (g != null) break;
        try io.sleep(.fromMilliseconds(1), .awake);
    }
    const gh = mrt.G{ .handle = g orelse return error.NeverParked };
    try expect(!s.resumed.load(.acquire));
    try gh.ready();
    s.wg.wait();
    if (s.park_err) |err| return err;
    try expect(s.resumed.load(.acquire));
    // Readying it again: it is not parked (running or gone).
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

/// One P: a G blocked in the OS inside enterSyscall/exitSyscall must not stall the
/// other Gs; sysmon hands the P off.
const Blocker = struct {
    flag: std.atomic.Value(u32) = .init(0),
    wg: mrt.WaitGroup = .{},
    err: ?mrt.Error = null,
    woke: bool = false,

    fn blocker(b: *Blocker) void {
        defer b.wg.done();
        mrt.enterSyscall() catch |err| {
            b.err = err;
            return;
        };
        // A raw futex wait: blocks this OS thread until the setter G runs.
        while (b.flag.load(.acquire) == 0) {
            _ = linux.futex_4arg(&b.flag.raw, .{ .cmd = .WAIT, .private = true }, 0, null);
        }
        b.woke = true;
        mrt.exitSyscall() catch |err| {
            b.err = err;
        };
    }

    fn setter(b: *Blocker) void {
        b.flag.store(1, .release);
        _ = linux.futex_3arg(&b.flag.raw, .{ .cmd = .WAKE, .private = true }, 1);
        b.wg.done();
    }
};

fn testSyscallHandoff() !void {
    try mrt.init(.{ .maxprocs = 1 });
    var b: Blocker = .{};
    b.wg.add(2);
    _ = try mrt.go(&b, Blocker.blocker);
    _ = try mrt.go(&b, Blocker.setter);
    b.wg.wait();
    if (b.err) |err| return err;
    try expect(b.woke);
    try expect((try mrt.stats()).handoffs >= 1);
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

const Quitter = struct {
    wg: mrt.WaitGroup = .{},
    before: bool = false,
    after: bool = false,

    fn run(q: *Quitter) void {
        q.before = true;
        q.wg.done();
        mrt.goexit();
        q.after = true;
    }
};

fn testGoexit() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var q: Quitter = .{};
    q.wg.add(1);
    _ = try mrt.go(&q, Quitter.run);
    q.wg.wait();
    try eventually(noGsLeft);
    try expect(q.before and !q.after);
    mrt.goexit(); // outside a G: nothing
    try mrt.shutdown(null);
}

/// A Zig G that spins without calling anything (made with G_ASYNC_PREEMPT) and a G
/// that sleeps 1 ms, on one P: the sleeper can only run, and stop the spinner, if the
/// spinner is preempted by signal.
const AsyncSpin = struct {
    wg: mrt.WaitGroup = .{},
    stop: std.atomic.Value(bool) = .init(false),
    slept: bool = false,

    fn spin(s: *AsyncSpin) void {
        while (!s.stop.load(.monotonic)) {}
        s.wg.done();
    }

    fn sleeper(s: *AsyncSpin) void {
        mrt.sleep(1_000_000) catch {};
        s.slept = true;
        s.stop.store(true, .monotonic);
        s.wg.done();
    }
};

fn testAsyncPreempt() !void {
    try mrt.init(.{ .maxprocs = 1 });
    var s: AsyncSpin = .{};
    s.wg.add(3);
    _ = try mrt.goEx(&s, AsyncSpin.spin, .{ .flags = mrt.G_ASYNC_PREEMPT, .name = "zig-spin" });
    _ = try mrt.goEx(&s, AsyncSpin.spin, .{ .flags = mrt.G_ASYNC_PREEMPT });
    _ = try mrt.go(&s, AsyncSpin.sleeper);
    s.wg.wait();
    try expect(s.slept);
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

fn nopG(_: *u8) void {}

fn testGoExBadInput() !void {
    try expectError(error.Invalid, mrt.init(.{ .maxprocs = 1, .preempt_signal = 9 }));
    try mrt.init(.{ .maxprocs = 1, .preempt_signal = -1 });
    var x: u8 = 0;
    try expectError(error.Invalid, mrt.goExRaw(null, null, .{ .flags = mrt.G_ASYNC_PREEMPT }));
    try expectError(error.Invalid, mrt.goEx(&x, nopG, .{ .flags = 0x2 }));
    var bad = std.mem.zeroes(c.rt_go_attr);
    try expectEqual(@as(i64, c.RT_EINVAL), c.rt_go_ex(null, null, &bad));
    _ = try mrt.goEx(&x, nopG, null);
    _ = try mrt.goEx(&x, nopG, .{ .name = "named" });
    try expectError(error.Invalid, mrt.mainEx(&x, nopG, .{ .flags = 0x2 }));
    try expectError(error.Invalid, mrt.mainExRaw(null, null, null));
    try mrt.mainEx(&x, nopG, .{ .name = "zig-main" });
    try mrt.mainEx(&x, nopG, null);
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

/// What G-only calls do when made from inside a G (errors for misuse).
const InG = struct {
    wg: mrt.WaitGroup = .{},
    exit_without_enter: ?mrt.Error = null,
    enter_twice: ?mrt.Error = null,
    ready_running: ?mrt.Error = null,
    shutdown_from_g: ?mrt.Error = null,

    fn run(s: *InG) void {
        defer s.wg.done();
        if (mrt.exitSyscall()) |_| {} else |err| s.exit_without_enter = err;
        mrt.enterSyscall() catch return;
        if (mrt.enterSyscall()) |_| {} else |err| s.enter_twice = err;
        mrt.exitSyscall() catch {};
        const me = mrt.G.current() orelse return;
        if (me.ready()) |_| {} else |err| s.ready_running = err;
        if (mrt.shutdown(0)) |_| {} else |err| s.shutdown_from_g = err;
    }
};

fn testGBadInput() !void {
    try mrt.init(.{ .maxprocs = 2 });
    // A foreign thread is not a G.
    try expectError(error.Invalid, mrt.goRaw(null, null));
    try expectError(error.Invalid, mrt.mainRaw(null, null));
    try expectError(error.Perm, mrt.lockOSThread());
    try expectError(error.Perm, mrt.unlockOSThread());
    try expectError(error.Perm, mrt.enterSyscall());
    try expectError(error.Perm, mrt.exitSyscall());
    try expectError(error.Perm, mrt.park(null, null));
    try expectEqual(@as(i64, 0), mrt.goid());
    try expect(mrt.G.current() == null);
    mrt.gosched(); // sched_yield
    try expectError(error.Invalid, mrt.check(c.rt_ready(null)));
    var junk: [64]u64 = @splat(0);
    try expectError(error.Invalid, mrt.check(c.rt_ready(@ptrCast(&junk))));

    var s: InG = .{};
    s.wg.add(1);
    _ = try mrt.go(&s, InG.run);
    s.wg.wait();
    try expectEqual(@as(?mrt.Error, error.Invalid), s.exit_without_enter);
    try expectEqual(@as(?mrt.Error, error.Already), s.enter_twice);
    try expectEqual(@as(?mrt.Error, error.Invalid), s.ready_running);
    try expectEqual(@as(?mrt.Error, error.Perm), s.shutdown_from_g);
    try eventually(noGsLeft);
    try mrt.shutdown(null);
}

/// Waits until its id has been written out, then overflows its stack.
fn gBodyOverflow(gate: *mrt.WaitGroup) void {
    gate.wait();
    std.mem.doNotOptimizeAway(recurse(0));
}

/// The child of testGStackOverflow: write "goid=<id>" on stderr, then let that G
/// overflow its stack.
fn overflowG() noreturn {
    var gate: mrt.WaitGroup = .{};
    gate.add(1);
    const id = mrt.go(&gate, gBodyOverflow) catch std.c._exit(3);
    var buf: [32]u8 = undefined;
    const line = std.mem.print(&buf, "goid={d}\n", .{id}) catch std.c._exit(3);
    _ = std.c.write(2, line.ptr, line.len);
    gate.done();
    while (true) io.sleep(.fromSeconds(60), .awake) catch {};
}

fn testGStackOverflow() !void {
    var out: [4096]u8 = undefined;
    const r = try runChildCapturingStderr(overflowG, &out);
    const text = r.stderr;
    const id_at = std.mem.indexOf(u8, text, "goid=") orelse return error.NoGoid;
    const id_end = std.mem.indexOfScalarPos(u8, text, id_at, '\n') orelse return error.NoGoid;
    var want: [48]u8 = undefined;
    const named = try std.mem.print(&want, "goroutine {s}", .{text[id_at + 5 .. id_end]});
    if (!diedOfOverflow(r, named)) return error.NoStackOverflowReport;
}

// ---------------------------------------------------------------------------------
// Channels (issue 4)

/// generator -> squarer -> summer, each a Zig G, linked by typed channels.
const Pipeline = struct {
    n: u64,
    nums: mrt.Chan(u64),
    squares: mrt.Chan(u64),
    result: mrt.Chan(u64),
    err: ?mrt.Error = null,

    fn make(n: u64, cap: usize) !Pipeline {
        return .{
            .n = n,
            .nums = try mrt.Chan(u64).make(cap),
            .squares = try mrt.Chan(u64).make(cap),
            .result = try mrt.Chan(u64).make(0),
        };
    }

    fn start(pl: *Pipeline) !void {
        _ = try mrt.go(pl, generator);
        _ = try mrt.go(pl, squarer);
        _ = try mrt.go(pl, summer);
    }

    fn free(pl: *Pipeline) !void {
        try pl.nums.free();
        try pl.squares.free();
        try pl.result.free();
    }

    fn generator(pl: *Pipeline) void {
        var i: u64 = 1;
        while (i <= pl.n) : (i += 1) pl.nums.send(i) catch |e| {
            pl.err = e;
            break;
        };
        pl.nums.close() catch |e| {
            pl.err = e;
        };
    }

    fn squarer(pl: *Pipeline) void {
        while (pl.nums.next() catch |e| blk: {
            pl.err = e;
            break :blk null;
        }) |v| pl.squares.send(v * v) catch |e| {
            pl.err = e;
        };
        pl.squares.close() catch |e| {
            pl.err = e;
        };
    }

    fn summer(pl: *Pipeline) void {
        var total: u64 = 0;
        while (pl.squares.next() catch null) |v| total += v;
        pl.result.send(total) catch |e| {
            pl.err = e;
        };
    }

    fn expected(n: u64) u64 {
        return n * (n + 1) * (2 * n + 1) / 6;
    }
};

fn testChanPipeline() !void {
    try mrt.init(.{ .maxprocs = 2 });
    for ([_]usize{ 0, 1, 16 }) |cap| {
        var pl = try Pipeline.make(1000, cap);
        try pl.start();
        // The main thread (not a G) receives the total: a futex wait, across to Gs.
        const total = try pl.result.recv();
        if (pl.err) |err| return err;
        try expectEqual(Pipeline.expected(1000), total);
        try eventually(noGoroutines);
        try pl.free();
    }
    try mrt.shutdown(null);
}

fn noGoroutines() !bool {
    return (try mrt.stats()).goroutines == 0;
}

const PipelineMain = struct {
    total: u64 = 0,
    err: ?anyerror = null,

    fn run(ctx: *PipelineMain) void {
        ctx.body() catch |err| {
            ctx.err = err;
        };
    }

    fn body(ctx: *PipelineMain) !void {
        var pl = try Pipeline.make(500, 4);
        try pl.start();
        ctx.total = try pl.result.recv(); // parks the main G
        if (pl.err) |err| return err;
        while ((try mrt.stats()).goroutines > 1) try mrt.sleep(100_000);
        try pl.free();
    }
};

fn testChanPipelineMain() !void {
    try mrt.init(.{ .maxprocs = 1 });
    var ctx: PipelineMain = .{};
    try mrt.main(&ctx, PipelineMain.run);
    if (ctx.err) |err| return err;
    try expectEqual(Pipeline.expected(500), ctx.total);
    try mrt.shutdown(null);
}

/// rt_trace_start/rt_trace_stop from Zig: named errors for bad input, and a traced
/// pipeline whose file is one JSON document with the Gs' runs and channel waits.
fn testTrace() !void {
    try expectError(error.Invalid, mrt.traceStop());
    try expectError(error.Invalid, mrt.traceStart("/nonexistent-dir-of-libmrt/t.json"));
    try mrt.init(.{ .maxprocs = 2 });
    var name_buf: [64]u8 = undefined;
    const path = try std.mem.printSentinel(&name_buf, "/tmp/mrt-zig-trace-{d}.json", .{std.c.getpid()}, 0);
    try mrt.traceStart(path);
    try expectError(error.Already, mrt.traceStart(path));
    var ctx: PipelineMain = .{};
    try mrt.main(&ctx, PipelineMain.run);
    if (ctx.err) |err| return err;
    try mrt.traceStop();
    try expectError(error.Invalid, mrt.traceStop());
    try expectEqual(Pipeline.expected(500), ctx.total);
    try mrt.shutdown(null);

    const fd = std.c.open(path, .{ .ACCMODE = .RDONLY });
    try expect(fd >= 0);
    defer _ = std.c.unlink(path);
    var text: [1 << 20]u8 = undefined;
    var n: usize = 0;
    while (n < text.len) {
        const r = std.c.read(fd, text[n..].ptr, text.len - n);
        if (r <= 0) break;
        n += @intCast(r);
    }
    _ = std.c.close(fd);
    const t = text[0..n];
    try expect(std.mem.startsWith(u8, t, "{\"traceEvents\":["));
    try expect(std.mem.endsWith(u8, t, "}\n"));
    try expect(std.mem.indexOf(u8, t, "\"why\":\"chan recv\"") != null);
    try expect(std.mem.indexOf(u8, t, "\"ph\":\"B\",\"name\":\"G") != null);
    // A P lane (which P the run used is the scheduler's choice).
    try expect(std.mem.indexOf(u8, t, "\"name\":\"P") != null);
}

const Pair = extern struct { a: i32, b: f64 };

fn testChanBasics() !void {
    try mrt.init(.{ .maxprocs = 2 });
    const ch = try mrt.Chan(Pair).make(2);
    try expectEqual(@as(usize, 2), ch.cap());
    try expectError(error.Again, ch.tryRecv());
    try ch.send(.{ .a = 1, .b = 1.5 });
    try ch.trySend(.{ .a = 2, .b = 2.5 });
    try expectError(error.Again, ch.trySend(.{ .a = 3, .b = 0 }));
    try expectEqual(@as(usize, 2), ch.len());
    try ch.close();
    try expectError(error.Closed, ch.close());
    try expectError(error.Closed, ch.send(.{ .a = 4, .b = 0 }));
    try expectEqual(@as(i32, 1), (try ch.recv()).a);
    try expectEqual(@as(f64, 2.5), (try ch.tryRecv()).b);
    try expectError(error.Closed, ch.recv());
    try expectEqual(@as(?Pair, null), try ch.next());
    try ch.free();

    const un = try mrt.Chan(u8).make(0);
    try expectError(error.Again, un.trySend(1));
    try expectError(error.Again, un.tryRecv());
    try un.free();

    const unit = try mrt.Chan(void).make(3);
    try unit.send({});
    try expectEqual(@as(usize, 1), unit.len());
    try unit.recv();
    try unit.free();

    try expectError(error.Invalid, mrt.Chan([1024]u64).make(std.math.maxInt(usize) / 2));
    try mrt.shutdown(null);
}

const Waiter = struct {
    ch: mrt.Chan(u32),
    got: std.atomic.Value(u32) = .init(0),
    wg: mrt.WaitGroup = .{},

    fn run(w: *Waiter) void {
        const v = w.ch.recv() catch 0;
        w.got.store(v, .release);
        w.wg.done();
    }
};

fn testChanFreeBusy() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var w: Waiter = .{ .ch = try mrt.Chan(u32).make(0) };
    w.wg.add(1);
    const parks = (try mrt.stats()).parks;
    _ = try mrt.go(&w, Waiter.run);
    var n: usize = 0;
    while ((try mrt.stats()).parks == parks) : (n += 1) {
        if (n > 10_000) return error.ReceiverNeverParked;
        try io.sleep(.fromMilliseconds(1), .awake);
    }
    try expectError(error.Busy, w.ch.free());
    try w.ch.send(77);
    w.wg.wait();
    try expectEqual(@as(u32, 77), w.got.load(.acquire));
    try w.ch.free();
    try mrt.shutdown(null);
}

const Poller = struct {
    fd: c_int,
    ev: u32 = 0,
    slept: bool = false,
    err: ?mrt.Error = null,
    wg: mrt.WaitGroup = .{},

    fn run(p: *Poller) void {
        defer p.wg.done();
        mrt.sleep(1_000_000) catch |e| {
            p.err = e;
            return;
        };
        p.slept = true;
        if (mrt.pollFd(-1, mrt.POLLIN, null)) |_| {
            p.err = error.Internal;
        } else |e| if (e != error.Invalid) {
            p.err = e;
        }
        if (mrt.pollFd(p.fd, mrt.POLLIN, 0)) |_| {
            p.err = error.Internal;
        } else |e| if (e != error.Again) {
            p.err = e;
        }
        p.ev = mrt.pollFd(p.fd, mrt.POLLIN, null) catch |e| blk: {
            p.err = e;
            break :blk 0;
        };
    }
};

fn testSleepPoll() !void {
    try mrt.init(.{ .maxprocs = 2 });
    var fds: [2]i32 = undefined;
    try expectEqual(@as(usize, 0), linux.pipe(&fds));
    defer _ = linux.close(fds[0]);
    defer _ = linux.close(fds[1]);
    // From this thread.
    try mrt.sleep(1_000_000);
    try expectError(error.Invalid, mrt.pollFd(-1, mrt.POLLIN, 0));
    try expectError(error.TimedOut, mrt.pollFd(fds[0], mrt.POLLIN, 5_000_000));
    try expect((try mrt.pollFd(fds[1], mrt.POLLOUT, null)) & mrt.POLLOUT != 0);
    // From a G, woken by a write from this thread.
    var p: Poller = .{ .fd = fds[0] };
    p.wg.add(1);
    _ = try mrt.go(&p, Poller.run);
    try io.sleep(.fromMilliseconds(20), .awake);
    try expectEqual(@as(usize, 1), linux.write(fds[1], "x", 1));
    p.wg.wait();
    if (p.err) |err| return err;
    try expect(p.slept);
    try expect(p.ev & mrt.POLLIN != 0);
    try mrt.shutdown(null);
}
