/*
 * parked_1m: 1,000,000 parked Gs at the default vm.max_map_count (issue 3, "Measure";
 * peer: parked_1m.go). Every G has its own guarded stack mapping; with
 * MADV_GUARD_INSTALL the guards add no VMA, so the whole lot must stay well under
 * vm.max_map_count (65530 by default) lines of /proc/self/maps.
 *
 * The main G starts N Gs (-n, default 1,000,000); each calls done on a `started` wait
 * group and waits on one gate wait group (rt_wg_wait parks it). The main G waits on
 * `started`, then checks with rt_getstats that goroutines == N + 1, that N more
 * parks happened (its own wait on `started` may add one: it parks only if some G has
 * not called done yet) and nothing is runnable
 * (else it yields and looks again). Then it counts /proc/self/maps and
 * releases the gate (rt_wg_done), waiting on a second wait group for all to exit.
 *   parked_1m_create     ms from the first rt_go until all are parked
 *   parked_1m_maps       lines of /proc/self/maps with all parked   goal <= max_map_count
 *   parked_1m_release    ms from opening the gate until all exited
 *   parked_1m_mem_per_g  RSS delta / N with all parked, bytes
 *   parked_1m_rss_after  RSS (MiB) once every G has exited: what the runtime keeps
 *   parked_1m_create_cpu, parked_1m_release_cpu  CPU time (user + system, all
 *                        threads) of each phase, ms: less noisy than wall time on a
 *                        shared machine. With sched_autogroup (the default), one busy
 *                        thread of another session is enough for the kernel to keep
 *                        both Ms of this process on one CPU (fair between sessions):
 *                        create then takes about its CPU time in wall time, the
 *                        "slow runs" seen here (2.9-4.1 s against 1.3 s), Go alike.
 *   parked_1m_create_faults  minor page faults per G while creating
 * Usage: parked_1m [-p procs] [-n N] [-r 1]
 */
#include "vsgo.h"

static long n_g = 1000000;
static int procs = 0;
static rt_wg started = RT_WG_INIT, gate = RT_WG_INIT, exited = RT_WG_INIT;

static void parker(void *arg) {
    (void)arg;
    rt_wg_done(&started);
    rt_wg_wait(&gate);
    rt_wg_done(&exited);
}

static void main_g(void *arg) {
    (void)arg;
    long maxmap = read_long_file("/proc/sys/vm/max_map_count");
    long maps0 = maps_count(), rss0 = rss_bytes();
    uint64_t parks0 = stats().parks;
    long flt0 = minflt();
    double c0 = cpu_ms();
    int64_t t0 = now_ns();
    rt_wg_add(&started, n_g);
    rt_wg_add(&gate, 1);
    rt_wg_add(&exited, n_g);
    for (long i = 0; i < n_g; i++) {
        int64_t id = rt_go(parker, NULL);
        if (id <= 0)
            die("rt_go", id);
    }
    rt_wg_wait(&started);
    rt_stats s;
    int looks = 0;
    int64_t in_stats = 0, one_stats = 0; /* rt_getstats itself is not part of the figure */
    for (;;) {
        int64_t tc = now_ns();
        s = stats();
        one_stats = now_ns() - tc;
        in_stats += one_stats;
        looks++;
        /* n_g parks, one per parker: the main G's rt_wg_wait parks only if some
         * parker had not yet started (not so when they all ran first). */
        if (s.goroutines == n_g + 1 && s.parks - parks0 >= (uint64_t)n_g && s.runnable == 0)
            break;
        if (looks > 100) {
            fprintf(stderr, "parked_1m: rt_getstats: %lld goroutines, %llu parks, %lld "
                    "runnable; want %ld, >= %ld, 0\n", (long long)s.goroutines,
                    (unsigned long long)(s.parks - parks0), (long long)s.runnable,
                    n_g + 1, n_g);
            exit(1);
        }
        rt_gosched();
    }
    int64_t t1 = now_ns() - in_stats;
    double c1 = cpu_ms();
    long flt1 = minflt();
    long maps1 = maps_count(), rss1 = rss_bytes();
    goal_ratio("parked_1m_create", 1.0); /* issue 10: at Go's speed */
    metric("parked_1m_create", (double)(t1 - t0) / 1e6, "ms");
    metric("parked_1m_create_cpu", c1 - c0, "ms");
    metric("parked_1m_create_faults", (double)(flt1 - flt0) / (double)n_g, "/G");
    metric("parked_1m_maps", (double)maps1, "lines");
    metric("parked_1m_mem_per_g", (double)(rss1 - rss0) / (double)n_g, "B");
    double c2 = cpu_ms();
    int64_t t2 = now_ns();
    rt_wg_done(&gate);
    rt_wg_wait(&exited);
    int64_t t3 = now_ns();
    double c3 = cpu_ms();
    goal_ratio("parked_1m_release", 1.0);
    metric("parked_1m_release", (double)(t3 - t2) / 1e6, "ms");
    metric("parked_1m_release_cpu", c3 - c2, "ms");
    metric("parked_1m_rss_after", (double)rss_bytes() / (1 << 20), "MiB");
    rt_stats s2 = stats();
    printf("libmrt: %ld Gs parked (rt_getstats: %lld goroutines, %llu parks, %lld "
           "runnable; stacks reserved %.1f GiB, resident %.1f GiB; one rt_getstats took "
           "%.0f ms); /proc/self/maps "
           "%ld -> %ld lines, vm.max_map_count %ld; after exit: %lld goroutines, stack "
           "resident %.1f GiB (what the runtime keeps of exited Gs)\n",
           n_g, (long long)s.goroutines, (unsigned long long)(s.parks - parks0),
           (long long)s.runnable, (double)s.stack_reserved_bytes / (1 << 30),
           (double)s.stack_resident_bytes / (1 << 30), (double)one_stats / 1e6, maps0,
           maps1, maxmap,
           (long long)s2.goroutines, (double)s2.stack_resident_bytes / (1 << 30));
}

int main(int argc, char **argv) {
    int rounds = 1;
    bench_args(argc, argv, "parked_1m", &procs, &n_g, &rounds);
    if (procs < 0 || n_g < 1 || rounds != 1) {
        fprintf(stderr, "parked_1m: -n positive, -r 1\n");
        return 2;
    }
    long maxmap = read_long_file("/proc/sys/vm/max_map_count");
    if (maxmap > 0)
        goal_max("parked_1m_maps", (double)maxmap);
    run_main(procs, main_g, NULL);
    return 0;
}
