/*
 * chan_pingpong: unbuffered ping-pong between two Gs vs Go channels (peer:
 * chan_pingpong.go). The main G sends on a, the other G receives it and replies on
 * b; the main G receives the reply. Figure: elapsed / N, ns per round trip. One
 * warm-up round, then -r rounds, each a `metric chan_pingpong_<p>p` sample.
 * Usage: chan_pingpong [-p procs] [-n N] [-r rounds]
 */
#include "vsgo.h"

static long n_rt = 200000;
static int rounds = 3, procs = 1;
static rt_chan *ca, *cb;
static rt_wg done = RT_WG_INIT;

static void ponger(void *arg) {
    long n = *(long *)arg;
    for (long i = 0; i < n; i++) {
        int64_t v;
        int rc = rt_chan_recv(ca, &v);
        if (rc != RT_OK)
            die("rt_chan_recv", rc);
        v++;
        rc = rt_chan_send(cb, &v);
        if (rc != RT_OK)
            die("rt_chan_send", rc);
    }
    rt_wg_done(&done);
}

static void main_g(void *arg) {
    (void)arg;
    char key[64];
    snprintf(key, sizeof key, "chan_pingpong_%dp", procs);
    for (int r = -1; r < rounds; r++) {
        long n = r < 0 ? n_rt / 10 + 1 : n_rt;
        int64_t t0 = now_ns(), c0 = cpu_ns();
        rt_wg_add(&done, 1);
        int64_t id = rt_go(ponger, &n);
        if (id <= 0)
            die("rt_go", id);
        for (long i = 0; i < n; i++) {
            int64_t v = i, w = 0;
            int rc = rt_chan_send(ca, &v);
            if (rc != RT_OK)
                die("rt_chan_send", rc);
            rc = rt_chan_recv(cb, &w);
            if (rc != RT_OK)
                die("rt_chan_recv", rc);
            if (w != i + 1) {
                fprintf(stderr, "chan_pingpong: got %lld, want %ld\n", (long long)w, i + 1);
                exit(1);
            }
        }
        rt_wg_wait(&done);
        int64_t t1 = now_ns(), c1 = cpu_ns();
        if (r >= 0) {
            metric(key, (double)(t1 - t0) / (double)n, "ns");
            metric_cpu(key, c1 - c0, (double)n);
        }
    }
}

int main(int argc, char **argv) {
    bench_args(argc, argv, "chan_pingpong", &procs, &n_rt, &rounds);
    if (procs < 1 || n_rt < 1 || rounds < 1) {
        fprintf(stderr, "chan_pingpong: -p, -n and -r must be positive\n");
        return 2;
    }
    int rc = rt_chan_make(sizeof(int64_t), 0, &ca);
    if (rc != RT_OK)
        die("rt_chan_make", rc);
    rc = rt_chan_make(sizeof(int64_t), 0, &cb);
    if (rc != RT_OK)
        die("rt_chan_make", rc);
    char key[64];
    snprintf(key, sizeof key, "chan_pingpong_%dp", procs);
    goal_ratio(key, 0.5); /* issue 10 */
    run_main(procs, main_g, NULL);
    return 0;
}
