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
 * Usage: skynet [-p procs] [-n leaves, a power of 10] [-r rounds]
 */
#include "vsgo.h"

struct node {
    int64_t num, size;
    int64_t *out;
    rt_wg *wg;
};

static void skynet(void *arg) {
    struct node me = *(struct node *)arg;
    if (me.size == 1) {
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

static void main_g(void *arg) {
    (void)arg;
    char key[64];
    int p = stats().maxprocs;
    for (int r = 0; r < rounds; r++) {
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
            fprintf(stderr, "skynet: sum %lld, want %lld\n", (long long)result,
                    (long long)want);
            exit(1);
        }
        snprintf(key, sizeof key, "skynet_%dp_%s", p, r == 0 ? "cold" : "warm");
        metric(key, (double)(t1 - t0) / 1e6, "ms");
    }
    snprintf(key, sizeof key, "skynet_%dp_maxrss", p);
    metric(key, (double)maxrss_bytes() / (1 << 20), "MiB");
    rt_stats s = stats();
    printf("libmrt skynet %dP: sum ok; G stacks reserved at the end %.0f MiB\n", p,
           (double)s.stack_reserved_bytes / (1 << 20));
}

int main(int argc, char **argv) {
    bench_args(argc, argv, "skynet", &procs, &leaves, &rounds);
    long l = leaves;
    while (l > 1 && l % 10 == 0)
        l /= 10;
    if (procs < 0 || l != 1 || rounds < 1) {
        fprintf(stderr, "skynet: -n must be a power of 10, -r positive\n");
        return 2;
    }
    printf("skynet: same structure on both sides (wait group + results array per node; "
           "libmrt has no channels yet), %ld leaves\n", leaves);
    run_main(procs, main_g, NULL);
    return 0;
}
