/*
 * spawn: 1,000,000 Gs spawned, run and exited under a wait group (rt_go + rt_wg),
 * vs Go goroutines + sync.WaitGroup (issue 3, "Measure"; peer: spawn.go).
 *
 * A round: t0; rt_wg_add(wg, N); N x rt_go(leaf) where leaf only calls
 * rt_wg_done(wg); rt_wg_wait(wg); t1. Figure: (t1 - t0) / N, ns per G. Rounds run
 * back to back in one fresh process (-r, default 3): the first round is "cold" (it
 * pays the first-touch page faults of up to N G descriptors and of whatever else the
 * runtime allocates, ~3 us per fresh page on this VM), the later ones "warm" (free
 * Gs and stacks come from the caches). Keys: spawn_<p>p_cold, spawn_<p>p_warm.
 * Run once per P count (-p, default 1), each in its own process so "cold" is cold.
 * Usage: spawn [-p procs] [-n N] [-r rounds]
 */
#include "vsgo.h"

static long n_g = 1000000;
static int rounds = 3, procs = 1;
static rt_wg wg = RT_WG_INIT;

static void leaf(void *arg) {
    (void)arg;
    rt_wg_done(&wg);
}

static void main_g(void *arg) {
    (void)arg;
    char key[64];
    for (int r = 0; r < rounds; r++) {
        long f0 = minflt();
        int64_t t0 = now_ns(), c0 = cpu_ns();
        rt_wg_add(&wg, n_g);
        for (long i = 0; i < n_g; i++) {
            int64_t id = rt_go(leaf, NULL);
            if (id <= 0)
                die("rt_go", id);
        }
        rt_wg_wait(&wg);
        int64_t t1 = now_ns(), c1 = cpu_ns();
        long f1 = minflt();
        snprintf(key, sizeof key, "spawn_%dp_%s", procs, r == 0 ? "cold" : "warm");
        metric(key, (double)(t1 - t0) / (double)n_g, "ns");
        metric_cpu(key, c1 - c0, (double)n_g);
        if (r == 0) {
            rt_stats s = stats();
            printf("libmrt %dP cold round: %ld minor faults (%.2f per G), RSS %.1f MiB "
                   "after it; G stacks reserved: %.1f MiB\n",
                   procs, f1 - f0, (double)(f1 - f0) / (double)n_g,
                   (double)rss_bytes() / (1 << 20),
                   (double)s.stack_reserved_bytes / (1 << 20));
        }
    }
}

int main(int argc, char **argv) {
    bench_args(argc, argv, "spawn", &procs, &n_g, &rounds);
    if (procs < 1 || n_g < 1 || rounds < 1) {
        fprintf(stderr, "spawn: -p, -n and -r must be positive\n");
        return 2;
    }
    /* Issue 10's goals: at most 0.2 of Go's time at 1 P, 0.5 at 2 Ps. */
    double goal = procs == 1 ? 0.2 : 0.5;
    char key[64];
    snprintf(key, sizeof key, "spawn_%dp_cold", procs);
    goal_ratio(key, goal);
    snprintf(key, sizeof key, "spawn_%dp_warm", procs);
    goal_ratio(key, goal);
    run_main(procs, main_g, NULL);
    return 0;
}
