//! libmrt as a Zig package: the module `mrt` (zig/src/mrt.zig over the translated
//! include/mrt.h) for other Zig projects. In the consumer:
//!
//!   zig fetch --save <libmrt tarball or git URL>
//!
//!   // build.zig
//!   const mrt_dep = b.dependency("mrt", .{ .target = target, .optimize = optimize });
//!   exe.root_module.addImport("mrt", mrt_dep.module("mrt"));
//!
//! The module links the C library libmrt, which this package does not compile (it is
//! Rust: `make install` or `make lib` in the repository builds it). By default it is
//! found with pkg-config (`mrt.pc`, from `make install`; set PKG_CONFIG_PATH for a
//! non-standard prefix). Pass `.@"lib-dir" = "/abs/dir"` to the dependency instead to
//! link the libmrt.so in that directory, with an rpath to it.
//!
//! The repository's own Zig host (tests and demo) is zig/build.zig; zig/run.sh runs it.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const lib_dir = b.option(
        []const u8,
        "lib-dir",
        "absolute path of a directory holding libmrt.so (default: pkg-config mrt)",
    );

    // The C surface, exactly as C hosts see it (Zig 0.17 has no @cImport).
    const header = b.addTranslateC(.{
        .root_source_file = b.path("include/mrt.h"),
        .target = target,
        .optimize = optimize,
    });

    const mrt = b.addModule("mrt", .{
        .root_source_file = b.path("zig/src/mrt.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "mrt_c", .module = header.createModule() }},
    });
    if (lib_dir) |dir| {
        const path = b.graph.cwdRelativePath(dir);
        mrt.addLibraryPath(path);
        mrt.addRPath(path);
        mrt.linkSystemLibrary("mrt", .{ .use_pkg_config = .no });
    } else {
        mrt.linkSystemLibrary("mrt", .{ .use_pkg_config = .force });
    }
}
