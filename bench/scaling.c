/*
 * scaling: skynet with CPU work at the leaves, run at 1 P and then at 2 Ps in one
 * process (rt_gomaxprocs), vs Go doing the same with runtime.GOMAXPROCS (peer:
 * scaling.go). What it shows is how much a second P speeds up CPU-bound Gs: the
 * speedup (time at 1 P / time at 2 Ps) has an absolute goal of at least 1.85 (issue
 * 10), whatever Go's is.
 *
 * The tree is skynet.c's (wait group + 10-slot results array per node); each leaf
 * also runs WORK rounds of a 64-bit LCG (~1 ns each), so that most of the time is
 * spent in Gs, not in the scheduler. Each size runs `rounds` times (-r, default 3)
 * after one warm-up; the figure is the fastest round (the least disturbed by other
 * processes on a shared machine). Keys: scaling_1p_ms, scaling_2p_ms,
 * scaling_speedup (x). Usage: scaling [-n leaves, a power of 10] [-r rounds]
 */
#include "vsgo.h"

#define WORK 4000

struct node {
    int64_t num, size;
    int64_t *out;
    rt_wg *wg;
};

static volatile uint64_t sink;

static void tree(void *arg) {
    struct node me = *(struct node *)arg;
    if (me.size == 1) {
        uint64_t x = (uint64_t)me.num;
        for (int i = 0; i < WORK; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        sink = x;
        *me.out = me.num;
        rt_wg_done(me.wg);
        return;
    }
    int64_t results[10];
    struct node kids[10];
    rt_wg wg = RT_WG_INIT;
    int64_t sub = me.size / 10;
    rt_wg_add(&wg, 10);
    for (int i = 0; i < 10; i++) {
        kids[i] = (struct node){me.num + i * sub, sub, &results[i], &wg};
        int64_t id = rt_go(tree, &kids[i]);
        if (id <= 0)
            die("rt_go", id);
    }
    rt_wg_wait(&wg);
    int64_t sum = 0;
    for (int i = 0; i < 10; i++)
        sum += results[i];
    *me.out = sum;
    rt_wg_done(me.wg);
}

static long leaves = 100000;
static int rounds = 3, procs = 2;

/* One run of the tree: ms. */
static double run_once(void) {
    int64_t result = -1;
    rt_wg wg = RT_WG_INIT;
    struct node root = {0, leaves, &result, &wg};
    int64_t t0 = now_ns();
    rt_wg_add(&wg, 1);
    int64_t id = rt_go(tree, &root);
    if (id <= 0)
        die("rt_go", id);
    rt_wg_wait(&wg);
    int64_t t1 = now_ns();
    if (result != (int64_t)leaves * (leaves - 1) / 2) {
        fprintf(stderr, "scaling: sum %lld, want %lld\n", (long long)result,
                (long long)leaves * (leaves - 1) / 2);
        exit(1);
    }
    return (double)(t1 - t0) / 1e6;
}

static double best_at(int p) {
    int rc = rt_gomaxprocs(p);
    if (rc < 0)
        die("rt_gomaxprocs", rc);
    run_once(); /* warm-up: G descriptors and stacks made, Ms started */
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double ms = run_once();
        if (r == 0 || ms < best)
            best = ms;
    }
    return best;
}

static void main_g(void *arg) {
    (void)arg;
    double t1 = best_at(1), t2 = best_at(2);
    metric("scaling_1p_ms", t1, "ms");
    metric("scaling_2p_ms", t2, "ms");
    metric("scaling_speedup", t1 / t2, "x");
}

int main(int argc, char **argv) {
    bench_args(argc, argv, "scaling", &procs, &leaves, &rounds);
    long l = leaves;
    while (l > 1 && l % 10 == 0)
        l /= 10;
    if (l != 1 || rounds < 1) {
        fprintf(stderr, "scaling: -n must be a power of 10, -r positive\n");
        return 2;
    }
    goal_min("scaling_speedup", 1.85);
    printf("scaling: skynet tree, %ld leaves x %d LCG rounds, best of %d at 1 P then 2 Ps\n",
           leaves, WORK, rounds);
    run_main(2, main_g, NULL);
    return 0;
}
