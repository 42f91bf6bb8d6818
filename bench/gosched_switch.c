/*
 * gosched_switch: G<->G switch through rt_gosched on one P, vs Go's runtime.Gosched
 * with GOMAXPROCS=1 (issue 3, "Measure"; peer: gosched_switch.go).
 *
 * With rt_config.maxprocs = 1 the main G starts a second G and both call rt_gosched
 * N times; each call puts the caller at the tail of the P's queue and runs the other,
 * so every call is one G->G switch. Figure: elapsed / (2N) from just before the
 * second G is made until both are done (its creation is noise at N = 10^6). One
 * warm-up round, then -r rounds; each round is one `metric switch_1p` sample.
 * The Go peer has the same structure (goroutine + sync.WaitGroup).
 * Usage: gosched_switch [-n N] [-r rounds]   (-p is accepted and must be 1)
 */
#include "vsgo.h"

static long n_switch = 1000000;
static int rounds = 5;
static rt_wg done = RT_WG_INIT;

static void yielder(void *arg) {
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        rt_gosched();
    rt_wg_done(&done);
}

static void main_g(void *arg) {
    (void)arg;
    for (int r = -1; r < rounds; r++) {
        rt_stats s0 = stats();
        int64_t t0 = now_ns(), c0 = cpu_ns();
        rt_wg_add(&done, 1);
        int64_t id = rt_go(yielder, &n_switch);
        if (id <= 0)
            die("rt_go", id);
        for (long i = 0; i < n_switch; i++)
            rt_gosched();
        rt_wg_wait(&done);
        int64_t t1 = now_ns(), c1 = cpu_ns();
        rt_stats s1 = stats();
        if (r < 0) {
            printf("libmrt: %lu scheduler switches counted for %ld rt_gosched calls\n",
                   (unsigned long)(s1.switches - s0.switches), 2 * n_switch);
            continue;
        }
        metric("switch_1p", (double)(t1 - t0) / (2.0 * n_switch), "ns");
        metric_cpu("switch_1p", c1 - c0, 2.0 * n_switch);
    }
}

int main(int argc, char **argv) {
    int procs = 1;
    bench_args(argc, argv, "gosched_switch", &procs, &n_switch, &rounds);
    if (procs != 1 || n_switch < 1 || rounds < 1) {
        fprintf(stderr, "gosched_switch: -p must be 1, -n and -r positive\n");
        return 2;
    }
    goal_ratio("switch_1p", 0.15); /* issue 10 */
    run_main(1, main_g, NULL);
    return 0;
}
