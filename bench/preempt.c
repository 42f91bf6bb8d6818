/*
 * preempt: what preemption costs and how fast it comes (issue 9; peer: preempt.go).
 *
 * On one P (rt_config.maxprocs = 1, GOMAXPROCS=1 for Go):
 *   checkpoint     rt_checkpoint's fast path (the G not marked): ns per call, over
 *                  10^8 calls in a G. (Go has no such call: its check is in every
 *                  function prologue.)
 *   checkpoint_cycles
 *                  the same in cycles of the CPU's time-stamp counter (x86_64 only;
 *                  its rate, measured against CLOCK_MONOTONIC over 50 ms, is the
 *                  CPU's base clock). Goal <= 8: the call through the PLT, a
 *                  thread-local load, two tests and the return. The goal is in cycles
 *                  because a time in ns only says how fast the machine is: the same
 *                  code measured 1.81 ns on one machine here and 2.63 ns (6.0 cycles)
 *                  on a 2.3 GHz one.
 *   work_ms        a CPU-bound G alone on the P (an LCG, no calls) made with
 *                  RT_G_ASYNC_PREEMPT, so sysmon interrupts it every 10 ms though no
 *                  other G waits (as Go does): process CPU time of the fixed work
 *                  (2*10^8 steps), best of -r.
 *   async_overhead_pct
 *                  the same work in a G without the flag (never interrupted) and with
 *                  it, in -r pairs of runs in one process (the order flipping each
 *                  pair): the median of (async - plain) / plain, in percent, process
 *                  CPU time. Goal <= 1 %. On a loaded machine the pairs spread by a
 *                  few percent either way (the other hyperthread's load changes the
 *                  CPU time of the same work); each pair is printed.
 *   lat_p50/p90/p99/max_us
 *                  preemption latency: two async Gs spin in turn, each reading the
 *                  clock, with no other call; when one starts to run it records how
 *                  long after the other's slice began that is, less the 10 ms slice
 *                  (sysmon's forcePreemptNS): the delay from the 10 ms mark to another
 *                  G running, in microseconds. 100 samples per run (-n).
 * Usage: preempt [-n samples] [-r rounds]   (-p is accepted and must be 1)
 */
#include "vsgo.h"

#if defined(__x86_64__)
#include <x86intrin.h>
/* Time-stamp counter ticks per ns, against CLOCK_MONOTONIC over 50 ms. */
static double tsc_per_ns(void) {
    int64_t t0 = now_ns();
    uint64_t c0 = __rdtsc();
    while (now_ns() - t0 < 50000000)
        ;
    int64_t t1 = now_ns();
    uint64_t c1 = __rdtsc();
    return (double)(c1 - c0) / (double)(t1 - t0);
}
#endif

static int rounds = 7;
static long nsamples = 100;

/* Times are CPU time of the whole process (vsgo.h's cpu_ns): on a shared machine, wall
 * time also counts whatever else ran on the core. At one P the only busy thread is the
 * one running the G (sysmon wakes now and then, in both variants alike). */

/* ---- rt_checkpoint ---- */

#define CHECKPOINTS 100000000L
static rt_wg wg = RT_WG_INIT;
static double checkpoint_ns;

static void checkpointer(void *arg) {
    (void)arg;
    long yielded = 0;
    int64_t t0 = cpu_ns();
    for (long i = 0; i < CHECKPOINTS; i++)
        yielded += rt_checkpoint();
    int64_t t1 = cpu_ns();
    checkpoint_ns = (double)(t1 - t0) / CHECKPOINTS;
    if (yielded > CHECKPOINTS / 1000)
        die("rt_checkpoint yielded too often", yielded);
    rt_wg_done(&wg);
}

/* ---- CPU-bound work ---- */

#define WORK_ITERS 200000000L
static volatile uint64_t sink;
static int64_t work_ns;

static void worker(void *arg) {
    (void)arg;
    uint64_t x = 88172645463325252ull;
    int64_t t0 = cpu_ns();
    for (long i = 0; i < WORK_ITERS; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    work_ns = cpu_ns() - t0;
    sink = x;
    rt_wg_done(&wg);
}

static int64_t run_work(bool async_flag, uint64_t *switches) {
    rt_go_attr a = { sizeof a, async_flag ? RT_G_ASYNC_PREEMPT : 0, "worker" };
    rt_stats s0 = stats();
    rt_wg_add(&wg, 1);
    int64_t id = rt_go_ex(worker, NULL, &a);
    if (id <= 0)
        die("rt_go_ex", id);
    rt_wg_wait(&wg);
    *switches = stats().switches - s0.switches;
    return work_ns;
}

/* ---- latency ---- */

#define SLICE_NS 10000000
static volatile int owner = -1;
static volatile int64_t slice_start[2];
static double *lat;
static volatile long nlat;
static volatile int lat_stop;

static void taker(void *arg) {
    int me = (int)(intptr_t)arg;
    while (!lat_stop) {
        int64_t t = now_ns();
        if (owner != me) {
            if (owner >= 0 && nlat < nsamples)
                lat[nlat++] = (double)(t - slice_start[1 - me] - SLICE_NS) / 1000.0;
            if (nlat >= nsamples)
                lat_stop = 1;
            slice_start[me] = t;
            owner = me;
        }
    }
    rt_wg_done(&wg);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void main_g(void *arg) {
    (void)arg;
    rt_wg_add(&wg, 1);
    if (rt_go(checkpointer, NULL) <= 0)
        die("rt_go", -1);
    rt_wg_wait(&wg);
    metric("checkpoint", checkpoint_ns, "ns");
#if defined(__x86_64__)
    metric("checkpoint_cycles", checkpoint_ns * tsc_per_ns(), "cycles");
    goal_max("checkpoint_cycles", 8);
#endif

    /* Pairs of runs, the order flipping each round; the figure is the median of
     * the pairs' differences, the work figure the best async run. */
    double diff[64];
    int64_t best_async = INT64_MAX;
    uint64_t sw_async = 0;
    for (int r = 0; r < rounds; r++) {
        uint64_t s1, s2;
        int64_t p, q;
        if (r % 2) {
            q = run_work(true, &s2);
            p = run_work(false, &s1);
        } else {
            p = run_work(false, &s1);
            q = run_work(true, &s2);
        }
        diff[r] = 100.0 * (double)(q - p) / (double)p;
        if (q < best_async)
            best_async = q, sw_async = s2 - s1;
    }
    qsort(diff, (size_t)rounds, sizeof diff[0], cmp_double);
    printf("libmrt: %lu async preemptions in %.1f ms of CPU; overhead per pair:",
           (unsigned long)sw_async, best_async / 1e6);
    for (int r = 0; r < rounds; r++)
        printf(" %+.2f%%", diff[r]);
    printf("\n");
    metric("work_ms", best_async / 1e6, "ms");
    metric("async_overhead_pct", diff[rounds / 2], "%");
    goal_max("async_overhead_pct", 1);

    lat = calloc((size_t)nsamples, sizeof *lat);
    if (!lat)
        die("calloc", -ENOMEM);
    rt_wg_add(&wg, 2);
    for (int g = 0; g < 2; g++) {
        rt_go_attr a = { sizeof a, RT_G_ASYNC_PREEMPT, "taker" };
        if (rt_go_ex(taker, (void *)(intptr_t)g, &a) <= 0)
            die("rt_go_ex", -1);
    }
    rt_wg_wait(&wg);
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
    metric("lat_p50_us", lat[nlat / 2], "us");
    metric("lat_p90_us", lat[nlat * 9 / 10], "us");
    metric("lat_p99_us", lat[nlat * 99 / 100], "us");
    metric("lat_max_us", lat[nlat - 1], "us");
    free(lat);
}

int main(int argc, char **argv) {
    int procs = 1;
    bench_args(argc, argv, "preempt", &procs, &nsamples, &rounds);
    if (procs != 1 || nsamples < 10 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "preempt: -p must be 1, -n >= 10, 1 <= -r <= 64\n");
        return 2;
    }
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    int rc = rt_init(&cfg);
    if (rc != RT_OK)
        die("rt_init", rc);
    rc = rt_main(main_g, NULL);
    if (rc != RT_OK)
        die("rt_main", rc);
    return 0;
}
