//! The Zig host of libmrt.
//!
//! Zig 0.17 has no `@cImport`: the header `../include/mrt.h` is translated by a
//! TranslateC step into the module `mrt_c`, which `src/mrt.zig` wraps as the module
//! `mrt`. Every compilation that imports `mrt` links `../target/release/libmrt.so`
//! (build it with `make lib` at the repository root) and gets an rpath to that
//! directory, so the executables run in place without LD_LIBRARY_PATH.
//!
//!   zig build         builds zig-out/bin/mrt-demo and zig-out/bin/mrt-tests
//!   zig build demo    runs the demo (>= 8 Ms with Zig start functions, Ps moving,
//!                     Zig Gs under rt_main)
//!   zig build test    runs the host tests; the last line is `N passed, M failed`
//!
//! `zig/run.sh` drives this with the pinned compiler and a cache inside zig/.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // The C surface, exactly as C hosts see it.
    const header = b.addTranslateC(.{
        .root_source_file = b.path("../include/mrt.h"),
        .target = target,
        .optimize = optimize,
    });
    const mrt_c = header.createModule();

    // Where libmrt.so is: linked from there and found there at run time (rpath).
    const lib_dir = b.graph.cwdRelativePath(b.option(
        []const u8,
        "lib-dir",
        "absolute path of the directory holding libmrt.so (default: ../target/release)",
    ) orelse defaultLibDir(b));

    // The thin idiomatic wrapper; linking the library hangs off this module so that
    // every executable importing it is linked the same way.
    const mrt = b.addModule("mrt", .{
        .root_source_file = b.path("src/mrt.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "mrt_c", .module = mrt_c }},
    });
    mrt.addLibraryPath(lib_dir);
    mrt.addRPath(lib_dir);
    mrt.linkSystemLibrary("mrt", .{});

    const demo = addHostExe(b, "mrt-demo", "src/demo.zig", mrt, target, optimize);
    const tests = addHostExe(b, "mrt-tests", "src/tests.zig", mrt, target, optimize);

    const run_demo = b.addRunArtifact(demo);
    b.step("demo", "Run the demo: Ms with Zig start functions, Ps moving between threads, Zig Gs")
        .dependOn(&run_demo.step);

    // The tests are an ordinary executable with its own runner (one forked child per
    // test, so a crash names its test), not a `zig test` binary: its output is the
    // failures, if any, then `N passed, M failed`, and its exit status is the verdict.
    const run_tests = b.addRunArtifact(tests);
    run_tests.addPassthruArgs();
    b.step("test", "Run the Zig host tests").dependOn(&run_tests.step);
}

/// `<build root>/../target/release` as an absolute path: an rpath relative to the
/// cwd would break as soon as the program runs from elsewhere. Observing the cwd
/// poisons the configuration cache; run.sh passes -Dlib-dir instead.
fn defaultLibDir(b: *std.Build) []const u8 {
    const graph = b.graph;
    graph.poisonCache();
    const cwd = std.process.currentPathAlloc(graph.io, graph.arena) catch |err|
        std.debug.panic("cannot read the current directory: {t}", .{err});
    return b.pathResolve(&.{ cwd, b.root.root_dir.path orelse ".", b.root.sub_path, "../target/release" });
}

fn addHostExe(
    b: *std.Build,
    name: []const u8,
    root: []const u8,
    mrt: *std.Build.Module,
    target: std.Build.ResolvedTarget,
    optimize: std.lang.Optimize,
) *std.Build.Step.Compile {
    const exe = b.addExecutable(.{
        .name = name,
        .root_module = b.createModule(.{
            .root_source_file = b.path(root),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
            .imports = &.{.{ .name = "mrt", .module = mrt }},
        }),
    });
    b.installArtifact(exe);
    return exe;
}
