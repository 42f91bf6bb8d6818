/*
 * G descriptors come in blocks (issue 10) that only rt_shutdown frees: over ROUNDS
 * rt_init / rt_shutdown cycles, each round keeps N Gs alive at once (made by this
 * foreign thread and by a G, so that the descriptors span several blocks: the first
 * block has 16 Gs and they double), lets them exit, then makes N more that reuse the
 * freed descriptors; every G runs exactly once, rt_getstats counts them, handles of
 * the previous round name no G, and rt_shutdown frees everything: under valgrind the
 * leak check is clean (a block left behind by rt_shutdown, or a G freed with its
 * block while a stack was still bound to it, shows up there).
 */
#include "test.h"

#define ROUNDS 3
#define N 2100
#define BOUND 60000

static rt_wg gate = RT_WG_INIT;
static atomic_long started, exited, ran_once;
static _Atomic(rt_g *) last_handle;

static void waiter(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    rt_wg_wait(&gate);
    atomic_fetch_add(&exited, 1);
}

static void quick(void *arg)
{
    (void)arg;
    atomic_store(&last_handle, rt_getg());
    atomic_fetch_add(&ran_once, 1);
}

static void maker(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        CHECK(rt_go(waiter, NULL) > 0);
}

static bool wait_count(atomic_long *c, long want)
{
    for (long n = 0; atomic_load(c) < want && n < BOUND; n++)
        usleep(1000);
    return CHECK_EQ(atomic_load(c), want);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    rt_g *old = NULL;
    for (int r = 0; r < ROUNDS; r++) {
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&started, 0);
        atomic_store(&exited, 0);
        atomic_store(&ran_once, 0);
        rt_wg_add(&gate, 1);
        /* Half from here (the global queue), the rest and the maker from a G. */
        for (long i = 0; i < N / 2; i++)
            CHECK(rt_go(waiter, NULL) > 0);
        CHECK(rt_go(maker, (void *)(intptr_t)(N - N / 2 - 1)) > 0);
        if (!wait_count(&started, N - 1))
            break;
        rt_stats st;
        CHECK_RC(test_stats(&st), RT_OK);
        CHECK_EQ(st.goroutines, N - 1);
        if (old)
            CHECK_RC(rt_ready(old), RT_EINVAL);
        rt_wg_done(&gate);
        wait_count(&exited, N - 1);
        /* The descriptors of the exited Gs are reused. */
        for (long i = 0; i < N; i++)
            CHECK(rt_go(quick, NULL) > 0);
        wait_count(&ran_once, N);
        CHECK(test_wait_all_idle());
        CHECK_RC(test_stats(&st), RT_OK);
        CHECK_EQ(st.goroutines, 0);
        CHECK_EQ(st.gs_created, 2 * N);
        CHECK_EQ(st.gs_exited, 2 * N);
        /* A handle of this round, for the next one to find dead. */
        old = atomic_load(&last_handle);
        CHECK(old != NULL);
        CHECK_RC(rt_shutdown(-1), RT_OK);
    }
    return test_summary();
}
