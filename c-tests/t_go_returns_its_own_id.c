/*
 * Regression: rt_go read the new G's id from its descriptor after queueing it. By
 * then the G may have run and exited on another M, and its descriptor may have been
 * freed by rt_shutdown (valgrind saw the read of freed memory in
 * t_shutdown_racing_foreign_go) or reused for another G, whose id rt_go then
 * returned. The id is now read before the G is queued.
 *
 * Foreign threads make Gs that exit at once (so their descriptors are reused by the
 * other threads' rt_go calls) on 2 Ps; each G records rt_goid() in its slot, and
 * every id rt_go returned must be the one its G saw. Also rt_go_ex.
 */
#include "test.h"

#define THREADS 3
static long PER_THREAD = 20000; /* 2000 under valgrind */

static atomic_llong *seen;  /* [THREADS * PER_THREAD]: what each G's rt_goid() said */
static int64_t *returned;   /* what rt_go said */
static rt_wg done = RT_WG_INIT;

static void rec(void *arg)
{
    atomic_store((atomic_llong *)arg, (long long)rt_goid());
    rt_wg_done(&done);
}

static void *maker(void *arg)
{
    long t = (long)(intptr_t)arg;
    rt_go_attr attr = { .size = sizeof attr, .name = "rec" };
    for (long i = 0; i < PER_THREAD; i++) {
        long k = t * PER_THREAD + i;
        rt_wg_add(&done, 1);
        int64_t id = (i & 1) ? rt_go_ex(rec, (void *)&seen[k], &attr) : rt_go(rec, (void *)&seen[k]);
        returned[k] = id;
        if (id <= 0)
            rt_wg_done(&done);
    }
    return NULL;
}

int main(void)
{
    if (test_under_valgrind())
        PER_THREAD = 2000;
    long n = THREADS * PER_THREAD;
    seen = calloc((size_t)n, sizeof *seen);
    returned = calloc((size_t)n, sizeof *returned);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, maker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    rt_wg_wait(&done);
    long wrong = 0, failed = 0;
    for (long k = 0; k < n; k++) {
        if (returned[k] <= 0)
            failed++;
        else if (returned[k] != (int64_t)atomic_load(&seen[k])) {
            if (wrong++ == 0)
                fprintf(stderr, "rt_go returned %" PRId64 ", its G is %lld\n", returned[k],
                        (long long)atomic_load(&seen[k]));
        }
    }
    CHECK_EQ(failed, 0);
    CHECK_EQ(wrong, 0);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    free(seen);
    free(returned);
    return test_summary();
}
