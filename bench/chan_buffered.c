/*
 * chan_buffered: producer -> consumer through a buffered channel (cap 1024, 8-byte
 * elements), vs Go's buffered channel (peer: chan_buffered.go). The main G starts a
 * consumer G, then sends N values (default 2M) and closes the channel; the consumer
 * receives until RT_ECLOSED and checks the sum. Figure: elapsed / N, ns per element.
 * One warm-up round, then -r rounds, each a `metric chan_buffered_<p>p` sample.
 * Usage: chan_buffered [-p procs] [-n N] [-r rounds]
 */
#include "vsgo.h"

static long n_el = 2000000;
static int rounds = 3, procs = 1;
static rt_wg done = RT_WG_INIT;

struct job {
    rt_chan *c;
    long got;
    int64_t sum;
};

static void consumer(void *arg) {
    struct job *j = arg;
    int64_t v, sum = 0;
    long got = 0;
    int rc;
    while ((rc = rt_chan_recv(j->c, &v)) == RT_OK) {
        sum += v;
        got++;
    }
    if (rc != RT_ECLOSED)
        die("rt_chan_recv", rc);
    j->got = got;
    j->sum = sum;
    rt_wg_done(&done);
}

static void main_g(void *arg) {
    (void)arg;
    char key[64];
    snprintf(key, sizeof key, "chan_buffered_%dp", procs);
    for (int r = -1; r < rounds; r++) {
        long n = r < 0 ? n_el / 10 + 1 : n_el;
        struct job j = { 0 };
        int rc = rt_chan_make(sizeof(int64_t), 1024, &j.c);
        if (rc != RT_OK)
            die("rt_chan_make", rc);
        int64_t t0 = now_ns();
        rt_wg_add(&done, 1);
        int64_t id = rt_go(consumer, &j);
        if (id <= 0)
            die("rt_go", id);
        for (long i = 0; i < n; i++) {
            int64_t v = i;
            rc = rt_chan_send(j.c, &v);
            if (rc != RT_OK)
                die("rt_chan_send", rc);
        }
        rc = rt_chan_close(j.c);
        if (rc != RT_OK)
            die("rt_chan_close", rc);
        rt_wg_wait(&done);
        int64_t t1 = now_ns();
        if (j.got != n || j.sum != (int64_t)n * (n - 1) / 2) {
            fprintf(stderr, "chan_buffered: got %ld elements, sum %lld\n", j.got, (long long)j.sum);
            exit(1);
        }
        rc = rt_chan_free(j.c);
        if (rc != RT_OK)
            die("rt_chan_free", rc);
        if (r >= 0)
            metric(key, (double)(t1 - t0) / (double)n, "ns");
    }
}

int main(int argc, char **argv) {
    bench_args(argc, argv, "chan_buffered", &procs, &n_el, &rounds);
    if (procs < 1 || n_el < 1 || rounds < 1) {
        fprintf(stderr, "chan_buffered: -p, -n and -r must be positive\n");
        return 2;
    }
    char key[64];
    snprintf(key, sizeof key, "chan_buffered_%dp", procs);
    goal_ratio(key, 1.0);
    run_main(procs, main_g, NULL);
    return 0;
}
