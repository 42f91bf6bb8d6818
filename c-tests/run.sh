#!/usr/bin/env bash
# The C host's tests: build every c-tests/t_*.c into c-tests/bin/, run each (its own
# process, with a timeout), then run each again under valgrind (clean: no errors, no
# definite leaks); tests listed in env_runs run once more with extra environment
# (e.g. MRT_DEBUG=migrate). Also checks the shared library's static TLS (PT_TLS
# MemSiz <= 256).
# Prints one line per test and, last, `N passed, M failed`; exits nonzero on failure.
#
# Usage: c-tests/run.sh [name-filter]   (works from any directory)
#   name-filter run only tests whose name contains it (e.g. `fork`)
# Environment: CC (default cc), MRT_TEST_NO_VALGRIND=1 skips the valgrind pass,
#              MRT_TEST_TIMEOUT (default 60 s per run, x3 under valgrind),
#              MRT_TEST_VALGRIND_FLAGS extra valgrind options (word-split; they come
#              last, so they override run.sh's, e.g. --max-stackframe=...).
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
lib="$libdir/libmrt.so"
bindir="$here/bin"
CC="${CC:-cc}"
timeout_s="${MRT_TEST_TIMEOUT:-60}"
filter=""
[ $# -gt 0 ] && filter="$1"

# Valgrind recognises a switch between the G stacks libmrt registers only when the stack
# pointer leaves its idea of the "current stack", which is one global for all threads,
# not one per thread. When a G migrates (it ran on M a, now M b resumes it), b's switch
# into that stack can look like a stack-pointer move within the current stack; libmrt
# places stacks (64 KiB + guard for a G) well within valgrind's default 2 MiB
# --max-stackframe of each other, so such a move is taken for pushing or popping a huge
# frame and the memory in between is marked undefined or unaddressable: spurious
# errors in mrt_swap/mrt_gostart and in the G code after a switch. With a
# --max-stackframe smaller than the distance between two stacks, any such move counts as
# a switch. (Frames larger than that would lose definedness tracking; none is that big.)
vg_stackframe=16384

# Valgrind runs one thread at a time under a big lock. Its default lock is unfair: a
# thread that gives it up at the end of its time slice usually takes it straight back,
# so a G yielding in a loop on one M can starve, for minutes, an M that was just woken
# to take a P (a locked G's M handed a P by startlockedm, the M returning from a
# syscall). Natively the kernel's scheduler runs that M at once. --fair-sched=yes hands
# the lock out in turn, so the woken M runs within one time slice, as it would natively.
vg_fair=--fair-sched=yes

# Tests that valgrind genuinely cannot run; each still runs natively.
#   t_enomem_rlimit_as  valgrind reserves and manages the address space itself, so a
#                       tight RLIMIT_AS breaks valgrind, not the code under test.
#   t_host_sigsegv      faults on purpose (PROT_NONE page, mapping past EOF) and recovers
#                       with siglongjmp: each such access is a valgrind error by
#                       definition, and valgrind loses definedness across the jump.
#   t_g_enomem          as t_enomem_rlimit_as (RLIMIT_AS so low that no G stack fits).
#   t_g_host_fault      as t_host_sigsegv, from inside Gs.
#   t_fork_busy_ms, t_fork_globrunq_push, t_fork_while_making_gs
#                       fork while other threads of the parent allocate (a G being
#                       made, a queue segment being linked, a Vec of ready Gs on an M's
#                       stack): in the child such a block was known only to a thread
#                       that does not exist there, so memcheck's leak check reports
#                       the parent's in-flight work as definitely lost in most
#                       children. The fork tests without such a race run under it.
#   t_oom_close_wakes, t_oom_spawn, t_gblock_nomem, t_trace_nomem, t_oom_debug_settings
#                       make malloc fail by defining it in the test program (test_oom.h);
#                       valgrind replaces every malloc, the program's included, so the
#                       fault never bites (their negative controls fail under it).
#   t_fault_matrix_native
#                       the fault-matrix scenarios of both kinds above: RLIMIT_AS and
#                       malloc exhaustion, and forks racing busy Ms or rt_go feeders;
#                       and the SIGUSR1 storm, where memcheck once flagged the
#                       futex_wake a channel waker issues after a thread waiter (woken
#                       early by a signal) may have returned (t_fault_matrix holds the
#                       scenarios valgrind can run).
declare -A no_valgrind=(
    [t_enomem_rlimit_as]=1
    [t_host_sigsegv]=1
    [t_g_enomem]=1
    [t_g_host_fault]=1
    [t_fork_busy_ms]=1
    [t_fork_globrunq_push]=1
    [t_fork_while_making_gs]=1
    [t_oom_close_wakes]=1
    [t_oom_spawn]=1
    [t_gblock_nomem]=1
    [t_trace_nomem]=1
    [t_oom_debug_settings]=1
    [t_fault_matrix_native]=1
)

# Tests that run a second time with extra environment (space-separated VAR=value
# words), natively and under valgrind, labelled `name+VAR=value`: e.g. with
# MRT_DEBUG=migrate, which rt_init reads, so that every yield moves the G to another M.
declare -A env_runs=(
    [t_timer_shrink_race]="MRT_DEBUG=migrate"
    [t_sched_once_keeps_p]="MRT_DEBUG=migrate"
    [t_runq_gate_host_handoff]="MRT_DEBUG=migrate"
    [t_gosched_after_p_change]="MRT_DEBUG=migrate"
)

passed=0
failed=0
failed_names=()

pass() { passed=$((passed + 1)); printf 'PASS  %-34s %s\n' "$1" "$2"; }
fail() {
    failed=$((failed + 1)); failed_names+=("$1")
    printf 'FAIL  %-34s %s\n' "$1" "$2"
}
# Indent a file's content (a failed test's output) under its FAIL line.
show() { [ -s "$1" ] && sed -e 's/^/      | /' "$1" | tail -n 60; }

if [ ! -f "$lib" ] || [ ! -f "$root/include/mrt.h" ]; then
    echo "c-tests: $lib or include/mrt.h missing: run 'make lib' first" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -e "$libdir/libmrt.so.0" ]; then
    ln -sf libmrt.so "$libdir/libmrt.so.0"
fi

mkdir -p "$bindir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cflags=(-std=c11 -Wall -Wextra -Werror -pthread -g -I"$root/include" -I"$here")

# ---- static TLS of the library (a shell check, reported as a test) ----
if [ -z "$filter" ] || [[ "tls_size" == *"$filter"* ]]; then
    tls_hex="$(readelf -lW "$lib" | awk '$1 == "TLS" { print $6 }')"
    tls=$((${tls_hex:-0}))
    if [ "$tls" -le 256 ]; then
        pass tls_size "PT_TLS MemSiz $tls bytes <= 256"
    else
        fail tls_size "PT_TLS MemSiz $tls bytes > 256"
    fi
fi

# ---- build ----
tests=()
for src in "$here"/t_*.c; do
    name="$(basename "$src" .c)"
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    case "$name" in
        t_dlopen*) # loads the library with dlopen: not linked against it
            link=(-DMRT_LIB_PATH="\"$lib\"" -ldl) ;;
        t_dump_*|t_deadlock_*|t_trace*) # name their own functions in goroutine dumps and traces (dladdr)
            link=(-L"$libdir" -lmrt -Wl,-rpath,"$libdir" -rdynamic) ;;
        *)  link=(-L"$libdir" -lmrt -Wl,-rpath,"$libdir") ;;
    esac
    if "$CC" "${cflags[@]}" -o "$bindir/$name" "$src" "${link[@]}" >"$tmp/$name.build" 2>&1; then
        tests+=("$name")
    else
        fail "$name" "(build failed)"
        show "$tmp/$name.build"
    fi
done

# Run one test binary; $1 = label, $2 = name, rest = command prefix.
run_one() {
    local label="$1" name="$2"
    shift 2
    local key="${label//\//_}"
    local out="$tmp/$key.out" err="$tmp/$key.err" rc=0 t0 t1
    t0=$(date +%s%N)
    "$@" "$bindir/$name" >"$out" 2>"$err" || rc=$?
    t1=$(date +%s%N)
    local secs=$(( (t1 - t0) / 1000000 ))
    secs="$((secs / 1000)).$(printf '%03d' $((secs % 1000)))s"
    local last
    last="$(tail -n 1 "$out")"
    if [ "$rc" -eq 0 ] && [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
        pass "$label" "$last ($secs)"
    else
        local why="exit $rc"
        [ "$rc" -eq 124 ] && why="timed out"
        [ "$rc" -eq 99 ] && why="valgrind errors"
        fail "$label" "$why; ${last:-no summary} ($secs)"
        show "$err"
        [ -s "$out" ] && head -n -1 "$out" | sed -e 's/^/      | /' | tail -n 20
    fi
}

# ---- native runs ----
for name in "${tests[@]}"; do
    run_one "$name" "$name" timeout "$timeout_s"
    extra="${env_runs[$name]:-}"
    if [ -n "$extra" ]; then
        # shellcheck disable=SC2086 # the words are separate assignments
        run_one "$name+${extra// /+}" "$name" env $extra timeout "$timeout_s"
    fi
done

# ---- valgrind runs ----
if [ "${MRT_TEST_NO_VALGRIND:-0}" != 0 ]; then
    echo "(valgrind pass skipped: MRT_TEST_NO_VALGRIND is set)"
elif ! command -v valgrind >/dev/null 2>&1; then
    fail valgrind "valgrind not installed (make deps installs it)"
else
    for name in "${tests[@]}"; do
        if [ -n "${no_valgrind[$name]:-}" ]; then
            printf 'SKIP  %-34s %s\n' "$name/valgrind" "(cannot run under valgrind, see run.sh)"
            continue
        fi
        extra="${env_runs[$name]:-}"
        for variant in "" ${extra:+"$extra"}; do
            label="$name${variant:++${variant// /+}}/valgrind"
            # shellcheck disable=SC2086 # $variant: separate assignments
            run_one "$label" "$name" \
                env MRT_TEST_VALGRIND=1 $variant timeout $((timeout_s * 3)) \
                valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                --track-fds=no -q --suppressions="$here/valgrind.supp" \
                --max-stackframe="$vg_stackframe" "$vg_fair" ${MRT_TEST_VALGRIND_FLAGS:-}
        done
    done
fi

if [ "$failed" -ne 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
