/*
 * skynet: the skynet benchmark with 1,000,000 leaves (1,111,111 Gs in all), vs Go
 * (issue 3, "Measure"; peer: skynet.go).
 *
 * libmrt has no channels yet, so both sides use the SAME structure, not the usual
 * channel version: each node with size > 1 makes a wait group and a 10-slot results
 * array on its own stack (Go: a sync.WaitGroup and a []int64 slice), spawns 10
 * children, each given its slot and the wait group, waits, then sums the slots into
 * its own slot in its parent and calls done on its parent's wait group; a leaf
 * writes its number. The root's sum must be N(N-1)/2.
 *
 * Rounds run back to back in one process (-r, default 3); the first is "cold" (fresh
 * process: first-touch page faults of G descriptors and stacks), the others "warm".
 * Keys: skynet_<p>p_cold, skynet_<p>p_warm (ms per run), skynet_<p>p_maxrss (peak
 * RSS of the process, MiB, once).
 * Usage: skynet [-p procs] [-n leaves, a power of 10] [-r rounds] [-w work]
 *
 * With -w W (scaling mode, issue 10), each leaf also runs W rounds of a 64-bit LCG
 * (~1 ns each), so that the time goes to CPU-bound Gs rather than to the scheduler,
 * and the tree runs at 1 P and then at 2 Ps in one process (rt_gomaxprocs), best of
 * -r rounds after a warm-up at each (the least disturbed on a shared machine). Keys:
 * scaling_1p_ms, scaling_2p_ms, scaling_speedup (x), with an absolute goal on the
 * speedup: at least 1.85, whatever Go's is.
 */
#include "vsgo.h"

struct node {
    int64_t num, size;
    int64_t *out;
    rt_wg *wg;
};

static long leaf_work; /* -w */
static volatile uint64_t sink;

static void skynet(void *arg) {
    struct node me = *(struct node *)arg;
    if (me.size == 1) {
        uint64_t x = (uint64_t)me.num;
        for (long i = 0; i < leaf_work; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if (leaf_work > 0)
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
        int64_t id = rt_go(skynet, &kids[i]);
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

static long leaves = 1000000;
static int rounds = 3, procs = 0;

/* One run of the whole tree, checked: ms. */
static double run_tree(void) {
    int64_t result = -1;
    rt_wg wg = RT_WG_INIT;
    struct node root = {0, leaves, &result, &wg};
    int64_t t0 = now_ns();
    rt_wg_add(&wg, 1);
    int64_t id = rt_go(skynet, &root);
    if (id <= 0)
        die("rt_go", id);
    rt_wg_wait(&wg);
    int64_t t1 = now_ns();
    int64_t want = (int64_t)leaves * (leaves - 1) / 2;
    if (result != want) {
        fprintf(stderr, "skynet: sum %lld, want %lld\n", (long long)result, (long long)want);
        exit(1);
    }
    return (double)(t1 - t0) / 1e6;
}

/* Scaling mode: the best of `rounds` runs after a warm-up, at `p` Ps. */
static double best_at(int p) {
    int rc = rt_gomaxprocs(p);
    if (rc < 0)
        die("rt_gomaxprocs", rc);
    run_tree();
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double ms = run_tree();
        if (r == 0 || ms < best)
            best = ms;
    }
    return best;
}

static void main_g(void *arg) {
    (void)arg;
    char key[64];
    if (leaf_work > 0) {
        double t1 = best_at(1), t2 = best_at(2);
        metric("scaling_1p_ms", t1, "ms");
        metric("scaling_2p_ms", t2, "ms");
        metric("scaling_speedup", t1 / t2, "x");
        return;
    }
    int p = stats().maxprocs;
    for (int r = 0; r < rounds; r++) {
        snprintf(key, sizeof key, "skynet_%dp_%s", p, r == 0 ? "cold" : "warm");
        goal_ratio(key, 0.3); /* issue 10 */
        metric(key, run_tree(), "ms");
    }
    snprintf(key, sizeof key, "skynet_%dp_maxrss", p);
    metric(key, (double)maxrss_bytes() / (1 << 20), "MiB");
    rt_stats s = stats();
    printf("libmrt skynet %dP: sum ok; G stacks reserved at the end %.0f MiB\n", p,
           (double)s.stack_reserved_bytes / (1 << 20));
}

int main(int argc, char **argv) {
    /* -w is skynet's own; the rest are bench_args' (-p -n -r). */
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-w") == 0) {
            leaf_work = atol(argv[i + 1]);
            memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 1) * sizeof argv[0]);
            argc -= 2;
            break;
        }
    }
    bench_args(argc, argv, "skynet", &procs, &leaves, &rounds);
    long l = leaves;
    while (l > 1 && l % 10 == 0)
        l /= 10;
    if (procs < 0 || l != 1 || rounds < 1) {
        fprintf(stderr, "skynet: -n must be a power of 10, -r positive\n");
        return 2;
    }
    if (leaf_work > 0) {
        goal_min("scaling_speedup", 1.85);
        printf("skynet scaling: %ld leaves x %ld LCG rounds, best of %d at 1 P then 2 Ps\n",
               leaves, leaf_work, rounds);
        run_main(2, main_g, NULL);
        return 0;
    }
    printf("skynet: same structure on both sides (wait group + results array per node; "
           "libmrt has no channels yet), %ld leaves\n", leaves);
    run_main(procs, main_g, NULL);
    return 0;
}
