#!/usr/bin/env bash
# The chaos harness (chaos/chaos.c): builds it against target/release/libmrt.so and
# runs it for DURATION seconds. Prints the seed first (`chaos: seed=N ...`) and the
# counts of everything it did last; exits nonzero on a failed check (1), a hang
# caught by the watchdog (3, with rt_dump's state dump) or a crash.
#
# Usage: chaos/run.sh [DURATION] [SEED]     (works from any directory)
#   DURATION seconds of epochs (default 60); the run ends after the epoch in flight
#   SEED     replays that seed's decisions (default: time-based, printed)
# Environment: CC (default cc), CHAOS_FLAGS extra options for the harness
#   (e.g. "--oom-hard" for harsher address-space exhaustion, "-v", "--no-fork",
#   "--from E --epochs 1" to replay a single epoch of a seed).
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
CC="${CC:-cc}"
duration="${1:-60}"
seed="${2:-}"

if [ ! -f "$libdir/libmrt.so" ]; then
    echo "chaos: $libdir/libmrt.so missing: run 'make lib' first" >&2
    exit 1
fi
mkdir -p "$here/bin"
"$CC" -std=c11 -O2 -g -Wall -Wextra -Werror -pthread -I"$root/include" \
    -o "$here/bin/chaos" "$here/chaos.c" -L"$libdir" -lmrt -Wl,-rpath,"$libdir" || exit 1

args=(--duration "$duration")
[ -n "$seed" ] && args+=(--seed "$seed")
# shellcheck disable=SC2206 # CHAOS_FLAGS: separate words
args+=(${CHAOS_FLAGS:-})
# A backstop for a hang the watchdog cannot see (it prints a dump and exits 3 after
# 30 s without progress): the last epoch may run past DURATION, not by minutes.
timeout --signal=KILL $((duration + 300)) "$here/bin/chaos" "${args[@]}"
rc=$?
[ "$rc" -eq 137 ] && echo "chaos: killed after $((duration + 300)) s (hang outside the watchdog's view)" >&2
exit "$rc"
