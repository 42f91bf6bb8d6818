#!/usr/bin/env bash
# Go's own runtime, time and sync tests, ported to C (c-tests/gotests/*_test.c): builds
# c-tests/bin/gotests, then runs every test at each GOMAXPROCS (1, 2, 4, as
# `go test -cpu 1,2,4`), each run in a process of its own under a watchdog that names
# a hung test (and prints rt_dump's state). Runs listed in xfail.txt are expected to
# fail until issue 9 lands: they print XFAIL (or XPASS), with the reason.
# Prints one line per run (PASS, FAIL, HANG, SKIP, XFAIL, XPASS) and, last,
# `N passed, M failed, S skipped, K xfail, J xpass`; exits nonzero if any run that is
# not in xfail.txt failed or hung (or, with GOTESTS_STRICT=1, if an xfail run passed).
# One test by hand: c-tests/bin/gotests run TestChan 2 (after a first run.sh).
#
# Usage: c-tests/gotests/run.sh [name-filter]   (works from any directory)
# Environment: CC (default cc); GOTESTS_PROCS (default "1 2 4");
#   GOTESTS_WATCHDOG (s, default 30) and GOTESTS_XFAIL_WATCHDOG (s, default 3): the
#   watchdogs of required and of xfail runs; GOTESTS_STRICT=1; GOTESTS_LONG=1 runs Go's
#   full sizes instead of -short's.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
libdir="$root/target/release"
lib="$libdir/libmrt.so"
bin="$root/c-tests/bin/gotests"
CC="${CC:-cc}"
procs_list="${GOTESTS_PROCS:-1 2 4}"
watchdog="${GOTESTS_WATCHDOG:-30}"
xfail_watchdog="${GOTESTS_XFAIL_WATCHDOG:-3}"
strict="${GOTESTS_STRICT:-0}"
filter="${1:-}"

if [ ! -f "$lib" ] || [ ! -f "$root/include/mrt.h" ]; then
    echo "gotests: $lib or include/mrt.h missing: run 'make lib' first" >&2
    echo "0 passed, 1 failed, 0 skipped, 0 xfail, 0 xpass"
    exit 1
fi

mkdir -p "$(dirname "$bin")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! "$CC" -std=c11 -O2 -Wall -Wextra -Werror -pthread -g -I"$root/include" \
    -o "$bin" "$here"/*.c -L"$libdir" -lmrt -Wl,-rpath,"$libdir" -ldl >"$tmp/build" 2>&1; then
    echo "FAIL  gotests build"
    sed -e 's/^/      | /' "$tmp/build" | tail -n 40
    echo "0 passed, 1 failed, 0 skipped, 0 xfail, 0 xpass"
    exit 1
fi

# xfail.txt: <TestName> <procs,...|*> <reason>
declare -A xfail_procs=() xfail_why=()
while read -r name procs why; do
    [ -z "$name" ] && continue
    [[ "$name" == \#* ]] && continue
    xfail_procs[$name]="$procs"
    xfail_why[$name]="$why"
done <"$here/xfail.txt"

is_xfail() { # $1 = test, $2 = procs
    local p="${xfail_procs[$1]:-}"
    [ -z "$p" ] && return 1
    [ "$p" = "*" ] && return 0
    [[ ",$p," == *",$2,"* ]]
}

passed=0 failed=0 skipped=0 xfailed=0 xpassed=0
failed_names=()

mapfile -t tests < <("$bin" list)
for name in "${tests[@]}"; do
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    for p in $procs_list; do
        label="$name/GOMAXPROCS=$p"
        expect_fail=0
        w="$watchdog"
        if is_xfail "$name" "$p"; then
            expect_fail=1
            w="$xfail_watchdog"
        fi
        out="$tmp/out" err="$tmp/err"
        t0=$(date +%s%N)
        # The watchdog inside the test prints the hung test's name and state and exits
        # 124; timeout's SIGKILL (rc 137) is the backstop if that dump itself hangs.
        rc=0
        GOTESTS_WATCHDOG="$w" timeout -s KILL $((w + 15)) "$bin" run "$name" "$p" \
            >"$out" 2>"$err" </dev/null || rc=$?
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
        secs="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
        case "$rc" in
            0) outcome=PASS ;;
            77) outcome=SKIP ;;
            124 | 137) outcome=HANG ;;
            *) outcome=FAIL ;;
        esac
        # What went wrong: the failed assertions (not the log lines), or the hang line.
        what="$(grep -v -e '^    log: ' -e '^libmrt: ' -e '^  [PMG][0-9]' -e '^      ' "$err" | head -n 3)"
        [ "$rc" -eq 137 ] && what="killed after $((w + 15)) s (the watchdog's dump hung)"
        if [ "$outcome" = SKIP ]; then
            skipped=$((skipped + 1))
            printf 'SKIP  %-46s (%s) %s\n' "$label" "$secs" "$(sed -n 's/^    skip: //p' "$err" | head -n 1)"
        elif [ "$expect_fail" -eq 1 ]; then
            if [ "$outcome" = PASS ]; then
                xpassed=$((xpassed + 1))
                printf 'XPASS %-46s (%s) expected to fail: %s\n' "$label" "$secs" "${xfail_why[$name]}"
                if [ "$strict" = 1 ]; then
                    failed=$((failed + 1))
                    failed_names+=("$label(xpass)")
                fi
            else
                xfailed=$((xfailed + 1))
                printf 'XFAIL %-46s (%s) %s: %s\n' "$label" "$secs" "$outcome" "${xfail_why[$name]}"
                [ -n "$what" ] && sed -e 's/^/      | /' <<<"$what"
            fi
        elif [ "$outcome" = PASS ]; then
            passed=$((passed + 1))
            printf 'PASS  %-46s (%s)\n' "$label" "$secs"
        else
            failed=$((failed + 1))
            failed_names+=("$label")
            printf '%-5s %-46s (%s)\n' "$outcome" "$label" "$secs"
            sed -e 's/^/      | /' "$err" | head -n 60
        fi
    done
done

# Every name in xfail.txt must be a test (a stale or misspelt line would rot there).
for name in "${!xfail_procs[@]}"; do
    if ! printf '%s\n' "${tests[@]}" | grep -qx "$name"; then
        echo "FAIL  xfail.txt names $name, which is no test"
        failed=$((failed + 1))
        failed_names+=("xfail.txt:$name")
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped, $xfailed xfail, $xpassed xpass"
[ "$failed" -eq 0 ]
