#!/usr/bin/env bash
# libmrt as a Zig package, as another Zig project meets it: `make install` into a
# temporary prefix, a tarball of the working tree (what a release archive holds),
# then, in a copy of zig/consumer/ outside the tree, `zig fetch --save=mrt <tarball>`,
# `zig build` (the package's module finds libmrt with pkg-config) and a run.
# Prints `N passed, M failed`. Uses the pinned Zig from PyPI (see run.sh).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
ZIG_VERSION=0.17.1
zig() { python3 -m ziglang "$@"; }
if [ "$(zig version 2>/dev/null)" != "$ZIG_VERSION" ]; then
    python3 -m pip install -q "ziglang==$ZIG_VERSION" >&2
fi
tmp="$(mktemp -d)"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
. "$root/ci/checks.sh"

prefix="$tmp/prefix"
check install make -C "$root" --no-print-directory install PREFIX="$prefix"

# The working tree's files (tracked and new, not ignored), under one top directory
# as in a release tarball; zig strips that directory.
tarball() {
    (cd "$root" && git ls-files -co --exclude-standard -z |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar -czf "$tmp/libmrt.tar.gz" --null -T - --transform 's,^,libmrt/,')
}
check tarball tarball

cp -r "$here/consumer" "$tmp/consumer"
cd "$tmp/consumer" || exit 1
fetch() {
    zig fetch --save=mrt "$tmp/libmrt.tar.gz" && grep -q '\.mrt = \.{' build.zig.zon &&
    grep -q '\.hash = ' build.zig.zon
}
check zig-fetch-save fetch

build_run() {
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" zig build install \
        --cache-dir "$here/.zig-cache" --prefix "$tmp/consumer/zig-out" --summary none &&
    LD_LIBRARY_PATH="$prefix/lib" ./zig-out/bin/consumer 2>&1 | tee /dev/stderr | grep -q 'sum 5050'
}
check build-and-run build_run

summary
