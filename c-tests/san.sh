#!/usr/bin/env bash
# C hosts built with -fsanitize=address and -fsanitize=thread against the (not
# instrumented) libmrt: they must run with zero sanitizer reports, and the checks that
# the sanitizer is live must see their report. One line per run; last line
# `N passed, M failed`; exits nonzero on failure.
#
#   clean runs      c-tests/san/san_handoff.c (every hand-off and stack reuse, see
#                   there) and the c-tests listed in `both` below, under each
#                   sanitizer: exit 0, the test's own summary, no report at all (ASan's
#                   "ignoring __asan_handle_no_return" warning counts as one)
#   negative runs   the same host with libmrt's annotations dropped (MRT_DEBUG=nosan,
#                   or nosan-<family> for one family of TSan edges), one section each:
#                   the report must come back, in that section's own functions
#   live checks     c-tests/san/san_racy.c: a real race between Gs (TSan) and a real
#                   stack overflow in a G (ASan) must be reported with annotations on
#
# Usage: c-tests/san.sh [name-filter]   (a run runs if its label contains the filter)
# Environment: CC (default cc; gcc's libasan and libtsan), MRT_TEST_TIMEOUT (60 s).
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
lib="$libdir/libmrt.so"
bindir="$here/bin/san"
CC="${CC:-cc}"
timeout_s="${MRT_TEST_TIMEOUT:-60}"
filter="${1:-}"

# Existing c-tests run under both sanitizers: the hand-offs (channels, select,
# mutex, wait groups, park/ready, threads), goexit, syscalls, wiring, timers and
# the netpoller. Left out: tests that fork (TSan does not follow a multithreaded
# fork), fault or exhaust memory on purpose (the sanitizers' own SEGV handlers and
# shadow memory), and those whose checks rely on scheduling order without a
# happens-before edge (t_g_main_go reads what a G wrote after rt_gosched, and
# t_np_ebusy what a G wrote before another parked: correct on one P, but a race by
# TSan's rules, as by Go's).
both=(
    t_ch_gg_buf t_ch_gg_unbuf t_ch_gt_buf t_ch_tg_unbuf t_ch_close_wakes_recv
    t_ch_close_drain t_ch_try t_sel_wake t_sel_closed t_sel_timeout t_g_mutex_wg
    t_g_park_ready t_g_parallel t_g_schedule t_g_goexit t_g_lockosthread t_g_syscall
    t_tm_sleep_order t_np_pipe t_sched_once_keeps_p
)

# san_handoff sections and how to drop the annotations each one needs (TSan), with
# the functions the report must name; and the ASan ones. (`all nosan`: libmrt tells
# TSan nothing at all, not even the fibers; the first report is the first hand-off's.)
tsan_neg=(
    "go nosan-go go_fn"
    "unbuf nosan-chan unbuf_receiver|test_unbuf"
    "buf nosan-chan buf_consumer|test_buf_close"
    "close nosan-chan close_waiter"
    "select nosan-chan sel_worker|test_select"
    "thread nosan-chan echo_g|foreign"
    "mutex_wg nosan-sync mutex_worker|test_mutex_wg|wg_worker"
    "park nosan-park parker"
    "all nosan go_fn"
    "goexit nosan-go wide_frame|memset"
)
asan_neg=(
    "goexit nosan stack-buffer-(underflow|overflow)|stack-use-after-scope"
    "longjmp nosan ASan is ignoring requested __asan_handle_no_return"
)

# Leaks are valgrind's job in run.sh (LeakSanitizer also needs ptrace rights that
# some containers lack).
export ASAN_OPTIONS="halt_on_error=1:exitcode=23:detect_leaks=0"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66"
reports='ERROR: AddressSanitizer|WARNING: AddressSanitizer|WARNING: ASan|ThreadSanitizer'

passed=0
failed=0
failed_names=()
pass() { passed=$((passed + 1)); printf 'PASS  %-40s %s\n' "$1" "$2"; }
fail() {
    failed=$((failed + 1)); failed_names+=("$1")
    printf 'FAIL  %-40s %s\n' "$1" "$2"
}
show() { [ -s "$1" ] && grep -v '^ *#[0-9]* .*\(rustc\|core::\|std::\)' "$1" | sed -e 's/^/      | /' | head -n 40; }
want() { [ -z "$filter" ] || [[ "$1" == *"$filter"* ]]; }

if [ ! -f "$lib" ] || [ ! -f "$root/include/mrt.h" ]; then
    echo "san: $lib or include/mrt.h missing: run 'make lib' first" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
[ -e "$libdir/libmrt.so.0" ] || ln -sf libmrt.so "$libdir/libmrt.so.0"
mkdir -p "$bindir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cflags=(-std=c11 -Wall -Wextra -Werror -pthread -g -fno-omit-frame-pointer
    -I"$root/include" -I"$here")
link=(-L"$libdir" -lmrt -Wl,-rpath,"$libdir")

# TSan maps its shadow at fixed addresses; with more address-space randomisation than
# it expects (vm.mmap_rnd_bits above 28 on some kernels) it stops at start with
# "unexpected memory mapping". Then every TSan run goes through setarch -R (no
# randomisation for that process).
tsan_run=()
probe="$tmp/probe.c"
printf 'int main(void) { return 0; }\n' >"$probe"
if "$CC" -fsanitize=thread -o "$tmp/probe" "$probe" 2>"$tmp/probe.err"; then
    if ! "$tmp/probe" >/dev/null 2>"$tmp/probe.out"; then
        if grep -q 'unexpected memory mapping' "$tmp/probe.out" &&
            setarch "$(uname -m)" -R "$tmp/probe" >/dev/null 2>&1; then
            tsan_run=(setarch "$(uname -m)" -R)
            echo "(TSan needs setarch -R on this kernel: $(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null) mmap_rnd_bits)"
        else
            fail tsan_probe "a TSan program does not start"; show "$tmp/probe.out"
        fi
    fi
else
    fail tsan_probe "$CC -fsanitize=thread does not build"; show "$tmp/probe.err"
fi

# build <src> <out> <sanitizer>
build() {
    if ! "$CC" "${cflags[@]}" -fsanitize="$3" -o "$2" "$1" "${link[@]}" >"$tmp/build.err" 2>&1; then
        fail "$(basename "$2")" "(build failed)"; show "$tmp/build.err"
        return 1
    fi
}

# run <label> <expect: clean|report> <pattern> <sanitizer> <cmd...>
#   clean:  exit 0, last line `N passed, 0 failed` (if the host prints one), no report
#   report: a sanitizer report whose text matches <pattern> (an ERE), nonzero exit
run() {
    local label="$1" expect="$2" pat="$3" san="$4"
    shift 4
    want "$label" || return 0
    local out="$tmp/run.out" rc=0 pre=() t0 t1
    [ "$san" = thread ] && pre=("${tsan_run[@]}")
    t0=$(date +%s%N)
    timeout "$timeout_s" "${pre[@]}" "$@" >"$out" 2>&1 || rc=$?
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    local secs="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
    local nrep
    nrep=$(grep -cE "$reports" "$out")
    if [ "$expect" = clean ]; then
        local last
        last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)"
        if [ "$rc" -eq 0 ] && [ "$nrep" -eq 0 ] && [[ -z "$last" || "$last" == *" 0 failed" ]]; then
            pass "$label" "no reports${last:+; $last} ($secs)"
        else
            fail "$label" "exit $rc, $nrep report lines${last:+; $last}"; show "$out"
        fi
    else
        if [ "$rc" -ne 0 ] && [ "$nrep" -gt 0 ] && grep -qE "$pat" "$out"; then
            pass "$label" "reported as expected (exit $rc, $secs)"
        else
            fail "$label" "exit $rc, $nrep report lines, none matching '$pat'"; show "$out"
        fi
    fi
}

for san in address thread; do
    s="${san:0:1}san"
    hand="$bindir/san_handoff.$s" racy="$bindir/san_racy.$s"
    build "$here/san/san_handoff.c" "$hand" "$san" || hand=""
    build "$here/san/san_racy.c" "$racy" "$san" || racy=""
    if [ -n "$hand" ]; then
        run "san_handoff/$s" clean "" "$san" "$hand"
        if [ "$san" = thread ]; then
            for neg in "${tsan_neg[@]}"; do
                read -r sec env fns <<<"$neg"
                run "san_handoff:$sec+MRT_DEBUG=$env/$s" report "#[0-3] .*($fns)" "$san" \
                    env MRT_DEBUG="$env" "$hand" "$sec"
            done
        else
            for neg in "${asan_neg[@]}"; do
                read -r sec env pat <<<"$neg"
                run "san_handoff:$sec+MRT_DEBUG=$env/$s" report "$pat" "$san" \
                    env MRT_DEBUG="$env" "$hand" "$sec"
            done
        fi
    fi
    if [ -n "$racy" ]; then
        if [ "$san" = thread ]; then
            run "san_racy:race/$s" report "#[0-2] racy_inc" "$san" "$racy" race
        else
            run "san_racy:overflow/$s" report "stack-buffer-overflow" "$san" "$racy" overflow
        fi
    fi
    for name in "${both[@]}"; do
        want "$name/$s" || continue
        bin="$bindir/$name.$s"
        build "$here/$name.c" "$bin" "$san" || continue
        run "$name/$s" clean "" "$san" "$bin"
    done
done

if [ "$failed" -ne 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
