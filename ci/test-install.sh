#!/usr/bin/env bash
# `make install` as a C user meets it: installs into a temporary prefix, checks the
# layout (versioned real file, soname and dev links, stripped libraries, split debug
# info that gdb finds, pkg-config and CMake files), then builds and runs
# examples/consumer/main.c from a directory outside the source tree three ways:
# cc + pkg-config, CMake find_package(mrt) (shared and static targets), and static
# linking with pkg-config --static. Last, a DESTDIR-staged install and `make
# uninstall` of both leave nothing behind. Prints `N passed, M failed`.
# Needs cc, pkg-config and cmake (ci/deps.sh installs them).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
lib="$prefix/lib"
. "$root/ci/checks.sh"
mk() { make -C "$root" --no-print-directory "$@"; }

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
real="libmrt.so.$version"
so="libmrt.so.${version%%.*}"

check install mk install PREFIX="$prefix"

# ---- layout ----
layout() {
    [ -f "$prefix/include/mrt.h" ] && [ -f "$lib/$real" ] && [ ! -L "$lib/$real" ] &&
    [ "$(readlink "$lib/$so")" = "$real" ] && [ "$(readlink "$lib/libmrt.so")" = "$so" ] &&
    [ -f "$lib/libmrt.a" ] && [ -f "$lib/pkgconfig/mrt.pc" ] &&
    [ -f "$lib/cmake/mrt/mrtConfig.cmake" ] && [ -f "$lib/cmake/mrt/mrtConfigVersion.cmake" ] &&
    [ -f "$lib/.debug/$real.debug" ] && [ -f "$prefix/share/doc/mrt/LICENSE" ] &&
    [ -f "$prefix/share/doc/mrt/README.md" ] && [ -f "$prefix/share/doc/mrt/docs/api.md" ] &&
    [ -f "$prefix/share/doc/mrt/docs/design.md" ] && [ -f "$prefix/share/doc/mrt/docs/hosts.md" ]
}
check layout layout
soname_ok() { readelf -dW "$lib/$real" | grep -q "SONAME.*\[$so\]"; }
check soname soname_ok
# Stripped: no DWARF left in what is shipped; the debug file has it and is linked.
no_dwarf() { ! readelf -SW "$1" | grep -q '\.debug_info'; }
check stripped-so no_dwarf "$lib/$real"
check stripped-a no_dwarf "$lib/libmrt.a"
debuglink() {
    readelf -x .gnu_debuglink "$lib/$real" | grep -q "libmrt\.so\.$version" &&
    readelf -SW "$lib/.debug/$real.debug" | grep -q '\.debug_info'
}
check debuglink debuglink
if command -v gdb >/dev/null 2>&1; then
    # gdb follows .gnu_debuglink to lib/.debug/ and finds source lines there.
    gdb_lines() { gdb -nx -batch -ex 'info line rt_init' "$lib/$real" 2>&1 | tee /dev/stderr | grep -q 'Line [0-9]* of "src/'; }
    check gdb-finds-debug-info gdb_lines
fi
printf 'INFO  sizes: %s %s bytes, libmrt.a %s bytes, debug file %s bytes\n' \
    "$real" "$(stat -c %s "$lib/$real")" "$(stat -c %s "$lib/libmrt.a")" \
    "$(stat -c %s "$lib/.debug/$real.debug")"

# ---- consumers, built outside the tree ----
work="$tmp/consumer"
cp -r "$root/examples/consumer" "$work"
cd "$work" || exit 1
export PKG_CONFIG_PATH="$lib/pkgconfig"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -O2)

pc_build() {
    # shellcheck disable=SC2046 # pkg-config output is a list of words
    cc "${cflags[@]}" -o ex_pc main.c $(pkg-config --cflags --libs mrt) -Wl,-rpath,"$lib" &&
    ./ex_pc && readelf -dW ex_pc | grep -q "NEEDED.*\[$so\]"
}
check pkg-config pc_build

cmake_build() {
    cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="${cflags[*]}" &&
    cmake --build build &&
    ./build/consumer && readelf -dW build/consumer | grep -q "NEEDED.*\[$so\]" &&
    ./build/consumer_static && ! readelf -dW build/consumer_static | grep -q libmrt
}
check cmake-find-package cmake_build

static_build() {
    # libmrt.a first, then what it needs (Libs.private); --as-needed drops the
    # -lmrt that pkg-config also lists, since the archive resolved everything.
    # shellcheck disable=SC2046
    cc "${cflags[@]}" -o ex_static main.c $(pkg-config --cflags mrt) -Wl,--as-needed \
        "$(pkg-config --variable=libdir mrt)/libmrt.a" $(pkg-config --static --libs mrt) &&
    ! readelf -dW ex_static | grep -q libmrt && env -u LD_LIBRARY_PATH ./ex_static
}
check static-pkg-config static_build
cd "$root" || exit 1

# ---- staged install and uninstall ----
stage="$tmp/stage"
staged() {
    mk install DESTDIR="$stage" PREFIX=/usr &&
    grep -qx 'prefix=/usr' "$stage/usr/lib/pkgconfig/mrt.pc" &&
    [ "$(readlink "$stage/usr/lib/$so")" = "$real" ] &&
    mk uninstall DESTDIR="$stage" PREFIX=/usr &&
    [ -z "$(find "$stage" -type f -o -type l)" ]
}
check destdir-install-uninstall staged
uninstalled() { mk uninstall PREFIX="$prefix" && [ -z "$(find "$prefix" -type f -o -type l)" ]; }
check uninstall uninstalled

summary
