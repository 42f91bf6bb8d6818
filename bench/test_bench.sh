#!/usr/bin/env bash
# What `make test` checks of the benches without running them at size or needing Go:
# bench/report.py on a canned log (bench/test_report.py), that every bench's C side
# compiles, and the C side of the benches
# whose start-up checks broke at QUICK sizes (parked_1m, getstats_1m: the main G's wait
# need not park when every parker ran first), run small.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
libdir="$root/target/release"
out="$root/target/bench-test"
mkdir -p "$out"
python3 "$here/test_report.py"
# Every bench's C side compiles without a warning (bench/preempt.c once stopped
# building when vsgo.h gained a function of the same name, and only `make bench` saw).
for src in "$here"/*.c; do
    cc -std=c11 -O2 -Wall -Wextra -Werror -pthread -I"$root/include" -I"$root/examples" \
        -fsyntax-only "$src"
done
echo "bench: every bench/*.c compiles"
for name in parked_1m getstats_1m; do
    cc -std=c11 -O2 -Wall -Wextra -Werror -pthread -I"$root/include" "$here/$name.c" \
        -o "$out/$name" -L"$libdir" -lmrt -Wl,-rpath,"$libdir" -ldl
done
# On 2 Ps at 10^4 the parkers usually all run (on the other P) before the main G
# waits: the old checks failed most of these runs.
for n in 1 1000 10000 10000 10000 10000 10000; do
    timeout 120 "$out/parked_1m" -p 2 -n "$n" >/dev/null
    timeout 120 "$out/getstats_1m" -p 2 -n "$n" -r 10 >/dev/null
done
echo "bench: parked_1m and getstats_1m start at small sizes"
