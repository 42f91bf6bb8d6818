//! The Zig host's demo: Ms whose start functions are Zig `callconv(.c)` functions,
//! each printing what it saw from its g0 (OS tid, M id, g0 stack bounds), then P 0
//! handed from thread to thread: the main thread, a std.Thread, a new M as its
//! nextp, the idle pool, and an M that moves a P itself from its start function.
//! Last, Zig functions as Gs under rt_main: the main thread works as an M while its
//! main G starts a few Gs that yield, and each reports the M (and P) it ran on
//! before and after each yield; one of them is wired with rt_lockosthread.
//! Then a channel pipeline of Zig Gs (generator -> squarer -> summer) over typed
//! mrt.Chan(u64) channels, the main thread receiving the total.
const std = @import("std");
const builtin = @import("builtin");
const mrt = @import("mrt");

const n_ms = 8;

/// Set in main; the Ms only use it to wake the main thread (a futex wake).
var io: std.Io = undefined;

/// What one M saw from inside its start function.
const Seen = struct {
    tid: i64 = 0,
    /// From rt_getm() on the M itself; null if the library gave none.
    info: ?mrt.M.Info = null,
    /// The start function's frame address: it must lie on the M's g0.
    frame: usize = 0,
    /// rt_getp() in the start function (an M takes its nextp only afterwards).
    p: ?u31 = null,
    /// Set by the start functions that move a P themselves.
    moved: ?u31 = null,
    err: ?mrt.Error = null,
    done: std.Io.Event = .unset,

    fn observe(seen: *Seen) void {
        seen.tid = std.os.linux.gettid();
        seen.frame = @frameAddress();
        seen.p = if (mrt.P.current()) |p| p.id() catch null else null;
        if (mrt.M.current()) |m| {
            seen.info = m.info() catch |err| blk: {
                seen.err = err;
                break :blk null;
            };
        }
    }

    fn print(seen: *const Seen, out: *std.Io.Writer, label: []const u8) !void {
        const info = seen.info orelse {
            try out.print("  {s}: tid {d}: rt_getm() gave no M ({?t})\n", .{ label, seen.tid, seen.err });
            return;
        };
        try out.print("  {s}  M {d}  tid {d}  g0 [0x{x}, 0x{x}) {d} KiB  frame on g0: {s}  P in start fn: ", .{
            label,
            info.id,
            seen.tid,
            info.g0_lo,
            info.g0_hi,
            (info.g0_hi - info.g0_lo) / 1024,
            if (info.onG0(seen.frame)) "yes" else "NO",
        });
        if (seen.p) |p| try out.print("{d}\n", .{p}) else try out.writeAll("none\n");
    }
};

/// A plain M start function: record what this M sees, then wake main.
fn startObserve(arg: ?*anyopaque) callconv(.c) void {
    const seen: *Seen = @ptrCast(@alignCast(arg.?));
    seen.observe();
    seen.done.set(io);
}

/// A start function that moves a P itself: take P 1 from the idle pool on this g0,
/// check it is ours, then release it and put it back.
fn startMoveP1(arg: ?*anyopaque) callconv(.c) void {
    const seen: *Seen = @ptrCast(@alignCast(arg.?));
    defer seen.done.set(io);
    seen.observe();
    const p1 = mrt.P.get(1) orelse return;
    p1.acquire() catch |err| {
        seen.err = err;
        return;
    };
    if (mrt.P.current()) |p| seen.moved = p.id() catch null;
    const back = mrt.P.release() orelse return;
    back.put() catch |err| {
        seen.err = err;
    };
}

/// What a std.Thread did with the P it was given.
const Hop = struct {
    p: mrt.P,
    tid: i64 = 0,
    m_id: i64 = 0,
    err: ?mrt.Error = null,

    /// Take `p` (held by the host), note the M this thread became, give it back held.
    fn run(hop: *Hop) void {
        hop.tid = std.os.linux.gettid();
        hop.p.acquire() catch |err| {
            hop.err = err;
            return;
        };
        if (mrt.M.current()) |m| hop.m_id = m.id() catch 0;
        _ = mrt.P.release();
    }
};

/// Wait until every P is back in the idle pool (what an M with a nextp and no
/// work does), checking a few thousand times before giving up.
fn waitAllPooled() !void {
    for (0..10_000) |_| {
        const s = try mrt.stats();
        if (s.idle_procs == s.maxprocs) return;
        try io.sleep(.fromMilliseconds(1), .awake);
    }
    return error.PNeverReturnedToPool;
}

pub fn main(init: std.process.Init) !void {
    io = init.io;
    var buf: [4096]u8 = undefined;
    var stdout: std.Io.File.Writer = .init(.stdout(), io, &buf);
    const out = &stdout.interface;
    defer out.flush() catch {};

    try mrt.init(null);
    const nprocs = try mrt.maxprocs();
    try out.print("zig host: libmrt {s} (header {f}), {d} Ps, Zig {s} {t} build, main tid {d}\n", .{
        mrt.version(), mrt.header_version, nprocs, builtin.zig_version_string, builtin.mode, std.os.linux.gettid(),
    });

    // 1. Ms from rt_newm, each with a Zig start function and no P.
    try out.print("{d} Ms from rt_newm with Zig callconv(.c) start functions:\n", .{n_ms});
    var seen: [n_ms]Seen = @splat(.{});
    for (&seen) |*s| _ = try mrt.M.new(startObserve, s, null);
    for (&seen) |*s| try s.done.wait(io);
    for (&seen, 0..) |*s, i| try s.print(out, try init.arena.allocator().print("#{d}", .{i + 1}));
    try out.flush();

    // 2. P 0 moves: main thread -> std.Thread -> an M's nextp -> pool -> main.
    try out.writeAll("P 0 moving between threads and Ms:\n");
    const p0 = mrt.P.get(0) orelse return error.NoP0;
    try p0.acquire();
    const main_m = mrt.M.current() orelse return error.MainNotAdopted;
    try out.print("  main thread acquires P 0: adopted as M {d}, P 0 is {t}\n", .{ try main_m.id(), try p0.status() });
    const held = mrt.P.release() orelse return error.NoPToRelease;
    try out.print("  main releases it: held by the host, {t}\n", .{try held.status()});

    var hop: Hop = .{ .p = held };
    const thread = try std.Thread.spawn(.{}, Hop.run, .{&hop});
    thread.join();
    if (hop.err) |err| return err;
    try out.print("  std.Thread tid {d} acquires it as M {d}, then releases it\n", .{ hop.tid, hop.m_id });

    var nextp_seen: Seen = .{};
    const m = try mrt.M.alloc(null, startObserve, &nextp_seen);
    try m.launch(held);
    try nextp_seen.done.wait(io);
    try nextp_seen.print(out, "rt_allocm + rt_m_launch(m, P 0):");
    try waitAllPooled();
    try out.print("  M {d} took P 0 as its nextp, found no G, put it back: {d}/{d} Ps idle in the pool\n", .{
        try m.id(), (try mrt.stats()).idle_procs, nprocs,
    });

    if (nprocs > 1) {
        var mover: Seen = .{};
        _ = try mrt.M.new(startMoveP1, &mover, null);
        try mover.done.wait(io);
        if (mover.err) |err| return err;
        try out.print("  M {d} (tid {d}) acquires P {?d} from the pool in its start function, releases it, puts it back\n", .{
            if (mover.info) |i| i.id else 0, mover.tid, mover.moved,
        });
    }
    try p0.acquire();
    try out.print("  main takes P 0 from the pool again: P 0 is {t}\n", .{try p0.status()});
    try (mrt.P.release() orelse return error.NoPToRelease).put();
    try out.flush();

    // 3. Zig Gs under rt_main.
    try gsDemo(out);
    try out.flush();

    // 4. A channel pipeline between Zig Gs.
    try pipelineDemo(out);
    try out.flush();

    // 5. What the runtime counts, then a clean shutdown that joins every M.
    const s = try mrt.stats();
    try out.print("stats: {d} Ms alive ({d} idle), {d} Ps ({d} idle), {d} Gs created, {d} exited, {d} switches, {d} steals\n", .{
        s.threads, s.idle_threads, s.maxprocs, s.idle_procs, s.gs_created, s.gs_exited, s.switches, s.steals,
    });
    try mrt.shutdown(null);
    try out.print("rt_shutdown: ok (every runtime-created M joined)\n", .{});
    try out.flush();
}

// ---------------------------------------------------------------------------------
// Gs

const n_gs = 6;
const n_yields = 3;

/// Where one G was at each step: (M id, P id, OS tid) at start and after each yield.
const GTrace = struct {
    wired: bool = false,
    goid: i64 = 0,
    steps: [n_yields + 1]Step = undefined,
    wg: *mrt.WaitGroup = undefined,

    const Step = struct { m: i64, p: i64, tid: i64 };

    fn here() Step {
        const m = mrt.M.current();
        return .{
            .m = if (m) |mm| mm.id() catch -1 else -1,
            .p = if (mrt.P.current()) |p| p.id() catch -1 else -1,
            .tid = std.os.linux.gettid(),
        };
    }

    fn run(t: *GTrace) void {
        t.goid = mrt.goid();
        if (t.wired) mrt.lockOSThread() catch {};
        t.steps[0] = here();
        for (1..n_yields + 1) |i| {
            mrt.gosched();
            t.steps[i] = here();
        }
        if (t.wired) mrt.unlockOSThread() catch {};
        t.wg.done();
    }
};

/// The main G of rt_main: start the others, wait for them (parking), note itself.
const MainG = struct {
    traces: [n_gs]GTrace = @splat(.{}),
    wg: mrt.WaitGroup = .{},
    main_goid: i64 = 0,
    main_m: i64 = -1,
    err: ?mrt.Error = null,

    fn run(mg: *MainG) void {
        mg.main_goid = mrt.goid();
        if (mrt.M.current()) |m| mg.main_m = m.id() catch -1;
        mg.wg.add(n_gs);
        for (&mg.traces, 0..) |*t, i| {
            t.wired = i == 0;
            t.wg = &mg.wg;
            _ = mrt.go(t, GTrace.run) catch |err| {
                mg.err = err;
                mg.wg.done();
            };
        }
        mg.wg.wait();
    }
};

fn gsDemo(out: *std.Io.Writer) !void {
    const me = mrt.M.current();
    try out.print("Zig Gs under rt_main (main thread: tid {d}, M {d}):\n", .{
        std.os.linux.gettid(), if (me) |m| try m.id() else -1,
    });
    var mg: MainG = .{};
    try mrt.main(&mg, MainG.run);
    if (mg.err) |err| return err;
    try out.print("  main G {d} ran on M {d}; it started {d} Gs and waited for them on an rt_wg\n", .{ mg.main_goid, mg.main_m, n_gs });
    for (mg.traces) |t| {
        try out.print("  G {d}{s}:", .{ t.goid, if (t.wired) " (wired)" else "        " });
        for (t.steps, 0..) |st, i| {
            try out.print("{s} M {d}/P {d}/tid {d}", .{ if (i == 0) "" else " ->", st.m, st.p, st.tid });
        }
        try out.writeAll("\n");
    }
    try out.print("  rt_main returned: the main thread holds no P ({s})\n", .{
        if (mrt.P.current() == null) "ok" else "STILL HOLDS ONE",
    });
}

// ---------------------------------------------------------------------------------
// A channel pipeline: generator -> squarer -> summer, each a Zig G

const pipeline_n: u64 = 10_000;

const Pipeline = struct {
    nums: mrt.Chan(u64),
    squares: mrt.Chan(u64),
    result: mrt.Chan(u64),
    /// The M each stage finished on.
    ms: [3]i64 = @splat(-1),
    err: ?mrt.Error = null,

    fn note(pl: *Pipeline, stage: usize) void {
        if (mrt.M.current()) |m| pl.ms[stage] = m.id() catch -1;
    }

    fn fail(pl: *Pipeline, err: mrt.Error) void {
        pl.err = err;
    }

    fn generator(pl: *Pipeline) void {
        var i: u64 = 1;
        while (i <= pipeline_n) : (i += 1) pl.nums.send(i) catch |e| return pl.fail(e);
        pl.nums.close() catch |e| return pl.fail(e);
        pl.note(0);
    }

    fn squarer(pl: *Pipeline) void {
        while (pl.nums.next() catch |e| return pl.fail(e)) |v|
            pl.squares.send(v * v) catch |e| return pl.fail(e);
        pl.squares.close() catch |e| return pl.fail(e);
        pl.note(1);
    }

    fn summer(pl: *Pipeline) void {
        var total: u64 = 0;
        while (pl.squares.next() catch |e| return pl.fail(e)) |v| total += v;
        pl.note(2);
        pl.result.send(total) catch |e| return pl.fail(e);
    }
};

fn pipelineDemo(out: *std.Io.Writer) !void {
    var pl: Pipeline = .{
        .nums = try mrt.Chan(u64).make(0),
        .squares = try mrt.Chan(u64).make(16),
        .result = try mrt.Chan(u64).make(0),
    };
    try out.print("channel pipeline of Zig Gs: generator -(unbuffered)-> squarer -(cap {d})-> summer -> main thread\n", .{pl.squares.cap()});
    _ = try mrt.go(&pl, Pipeline.generator);
    _ = try mrt.go(&pl, Pipeline.squarer);
    _ = try mrt.go(&pl, Pipeline.summer);
    const total = try pl.result.recv(); // the main thread blocks on a futex meanwhile
    if (pl.err) |err| return err;
    const want = pipeline_n * (pipeline_n + 1) * (2 * pipeline_n + 1) / 6;
    try out.print("  sum of squares 1..{d} = {d} ({s}); stages finished on Ms {d}, {d}, {d}\n", .{
        pipeline_n, total, if (total == want) "ok" else "WRONG", pl.ms[0], pl.ms[1], pl.ms[2],
    });
    if (total != want) return error.WrongPipelineTotal;
    // Free once every stage has returned (a channel with a waiter refuses: Busy).
    while ((try mrt.stats()).goroutines != 0) try mrt.sleep(100_000);
    try pl.nums.free();
    try pl.squares.free();
    try pl.result.free();
}
