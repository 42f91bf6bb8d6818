//! A Zig program that depends on the libmrt package the way any other project would
//! (zig/test_package.sh fetches it from a tarball into build.zig.zon): a G sends
//! 1..100 on a channel to the main G, which adds them up; the program exits 0 only
//! if the sum is right.
const std = @import("std");
const mrt = @import("mrt");

const Job = struct {
    ch: mrt.Chan(u64),
    sum: u64 = 0,
    failed: bool = false,
};

fn producer(job: *Job) void {
    var i: u64 = 1;
    while (i <= 100) : (i += 1) job.ch.send(i) catch {
        job.failed = true;
        return;
    };
    job.ch.close() catch {
        job.failed = true;
    };
}

fn mainG(job: *Job) void {
    _ = mrt.go(job, producer) catch {
        job.failed = true;
        return;
    };
    while (job.ch.next() catch null) |v| job.sum += v;
}

pub fn main() !void {
    var job: Job = .{ .ch = try mrt.Chan(u64).make(4) };
    try mrt.main(&job, mainG);
    try job.ch.free();
    try mrt.shutdown(null);
    std.debug.print("libmrt {s}: sum {d}\n", .{ mrt.version(), job.sum });
    if (job.failed or job.sum != 5050) return error.WrongSum;
}
