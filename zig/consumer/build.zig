//! The consumer of the libmrt Zig package used by zig/test_package.sh. Its
//! build.zig.zon has no dependency until `zig fetch --save=mrt <tarball>` adds one.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const mrt_dep = b.dependency("mrt", .{ .target = target, .optimize = optimize });

    const exe = b.addExecutable(.{
        .name = "consumer",
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/main.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
            .imports = &.{.{ .name = "mrt", .module = mrt_dep.module("mrt") }},
        }),
    });
    b.installArtifact(exe);
}
