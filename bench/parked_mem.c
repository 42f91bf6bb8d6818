/*
 * parked_mem: resident memory per parked G with 100,000 parked Gs, vs Go goroutines
 * blocked on a channel receive (issue 3, "Measure"; peer: parked_mem.go). Goal:
 * <= 6 KiB per parked G (one touched stack page plus the G).
 *
 * The main G reads the resident set (/proc/self/statm) and the page-table size
 * (VmPTE, /proc/self/status: statm does not count page tables), after the runtime is
 * up and the slot array below is touched; then it starts N Gs (-n, default 100,000).
 * Each calls done on a `started` wait group (on which the main G waits), then parks
 * with rt_park, whose unlock callback (on g0, after the G is marked waiting) records
 * the G in its slot and counts it, so "all parked" is exact. Then:
 *   parked_mem_per_g    (RSS after - RSS before) / N              goal <= 6144 bytes
 *   parked_stack_per_g  rt_getstats stack_resident_bytes / N (the stack part)
 *   parked_pte_per_g    (VmPTE after - before) / N: page tables, outside RSS
 * and it checks rt_getstats: goroutines == N + 1 and nothing runnable. At last it
 * readies every G and waits for them to exit (release time shown, not compared).
 * Usage: parked_mem [-p procs] [-n N] [-r rounds]   (rounds: one per process here;
 * -r is accepted for the common interface and must be 1)
 */
#include "vsgo.h"

#include <stdatomic.h>

static long n_g = 100000;
static int procs = 0;
static rt_g **slots;
static atomic_long parked;
static rt_wg started = RT_WG_INIT, exited = RT_WG_INIT;

static bool on_parked(rt_g *g, void *arg) {
    *(rt_g **)arg = g;
    atomic_fetch_add_explicit(&parked, 1, memory_order_release);
    return true;
}

static void parker(void *arg) {
    rt_wg_done(&started);
    int rc = rt_park(on_parked, arg);
    if (rc != RT_OK)
        die("rt_park", rc);
    rt_wg_done(&exited);
}

/* VmPTE of the process, bytes. */
static long vm_pte_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmPTE: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static void main_g(void *arg) {
    (void)arg;
    slots = calloc((size_t)n_g, sizeof *slots);
    if (!slots)
        die("calloc", -ENOMEM);
    memset(slots, 0xff, (size_t)n_g * sizeof *slots); /* touch it now */
    long rss0 = rss_bytes(), pte0 = vm_pte_bytes();
    int64_t t0 = now_ns();
    rt_wg_add(&started, n_g);
    rt_wg_add(&exited, n_g);
    for (long i = 0; i < n_g; i++) {
        int64_t id = rt_go(parker, &slots[i]);
        if (id <= 0)
            die("rt_go", id);
    }
    rt_wg_wait(&started);
    while (atomic_load_explicit(&parked, memory_order_acquire) < n_g)
        rt_gosched(); /* only the last few, on another P */
    int64_t t1 = now_ns();
    long rss1 = rss_bytes(), pte1 = vm_pte_bytes();
    rt_stats s = stats();
    if (s.goroutines != n_g + 1 || s.runnable != 0) {
        fprintf(stderr, "parked_mem: rt_getstats says %lld goroutines, %lld runnable; "
                "want %ld and 0\n", (long long)s.goroutines, (long long)s.runnable, n_g + 1);
        exit(1);
    }
    metric("parked_mem_per_g", (double)(rss1 - rss0) / (double)n_g, "B");
    metric("parked_stack_per_g", (double)s.stack_resident_bytes / (double)n_g, "B");
    metric("parked_pte_per_g", (double)(pte1 - pte0) / (double)n_g, "B");
    int64_t t2 = now_ns();
    for (long i = 0; i < n_g; i++) {
        int rc = rt_ready(slots[i]);
        if (rc != RT_OK)
            die("rt_ready", rc);
    }
    rt_wg_wait(&exited);
    int64_t t3 = now_ns();
    rt_stats s2 = stats();
    printf("libmrt: %ld Gs parked in %.1f ms (rt_getstats: %lld goroutines, stack "
           "reserved %.0f MiB; rt_getstats took %.1f ms), released and exited in %.1f ms; then %.0f B of stack resident per G (what the runtime "
           "keeps of exited Gs), RSS %+.0f B per G since the start\n",
           n_g, (double)(t1 - t0) / 1e6, (long long)s.goroutines,
           (double)s.stack_reserved_bytes / (1 << 20), (double)(t2 - t1) / 1e6,
           (double)(t3 - t2) / 1e6, (double)s2.stack_resident_bytes / (double)n_g,
           (double)(rss_bytes() - rss0) / (double)n_g);
}

int main(int argc, char **argv) {
    int rounds = 1;
    bench_args(argc, argv, "parked_mem", &procs, &n_g, &rounds);
    if (procs < 0 || n_g < 1 || rounds != 1) {
        fprintf(stderr, "parked_mem: -n positive, -r 1\n");
        return 2;
    }
    goal_max("parked_mem_per_g", 6144);
    run_main(procs, main_g, NULL);
    return 0;
}
