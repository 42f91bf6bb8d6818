/*
 * sleep_fanout: N Gs (default 10,000) each rt_sleep(1 ms) then rt_wg_done; figure:
 * wall time from the first rt_go until rt_wg_wait returns, ms (peer: sleep_fanout.go,
 * goroutines + time.Sleep(1ms) + WaitGroup). The ideal is ~1 ms plus spawn time.
 * One warm-up round, then -r rounds, each a `metric sleep_fanout_<p>p` sample.
 * Usage: sleep_fanout [-p procs] [-n N] [-r rounds]   (-p 0: the default P count)
 */
#include "vsgo.h"

static long n_g = 10000;
static int rounds = 5, procs = 0;
static rt_wg wg = RT_WG_INIT;

static void sleeper(void *arg) {
    (void)arg;
    int rc = rt_sleep(1000000);
    if (rc != RT_OK)
        die("rt_sleep", rc);
    rt_wg_done(&wg);
}

static void main_g(void *arg) {
    (void)arg;
    char key[64];
    snprintf(key, sizeof key, "sleep_fanout_%dp", rt_gomaxprocs(0));
    goal_ratio(key, 1.0);
    for (int r = -1; r < rounds; r++) {
        int64_t t0 = now_ns();
        rt_wg_add(&wg, n_g);
        for (long i = 0; i < n_g; i++) {
            int64_t id = rt_go(sleeper, NULL);
            if (id <= 0)
                die("rt_go", id);
        }
        rt_wg_wait(&wg);
        int64_t t1 = now_ns();
        if (r >= 0)
            metric(key, (double)(t1 - t0) / 1e6, "ms");
    }
}

int main(int argc, char **argv) {
    bench_args(argc, argv, "sleep_fanout", &procs, &n_g, &rounds);
    if (procs < 0 || n_g < 1 || rounds < 1) {
        fprintf(stderr, "sleep_fanout: -p >= 0, -n and -r positive\n");
        return 2;
    }
    run_main(procs, main_g, NULL);
    return 0;
}
