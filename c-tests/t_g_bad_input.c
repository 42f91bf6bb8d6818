/*
 * Bad input and wrong contexts for the G calls (issue 3, "Bad input"), each checked
 * from a G, from an M's g0 (a start function), from an adopted thread and from a
 * foreign thread where it applies; afterwards the runtime still works.
 *  - rt_go(NULL) -> RT_EINVAL; rt_main(NULL) -> RT_EINVAL.
 *  - rt_park, rt_lockosthread, rt_unlockosthread, rt_entersyscall, rt_exitsyscall
 *    outside a G -> RT_EPERM.
 *  - rt_shutdown, rt_schedule, rt_main from a G -> RT_EPERM.
 *  - rt_ready of NULL, of memory that is not a G, of a running G -> RT_EINVAL.
 *  - rt_shutdown with a G still parked and a timeout -> RT_ETIMEDOUT, the runtime
 *    keeps running (the G can be readied and finishes).
 *  - After rt_shutdown: rt_go and rt_main -> RT_ESHUTDOWN.
 */
#include "test.h"

static bool dummy_unlock(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return true;
}

static void nop(void *arg)
{
    (void)arg;
}

/* Checks shared by every non-G context. */
static void outside_g_checks(void)
{
    CHECK_RC(rt_go(NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_park(dummy_unlock, NULL), RT_EPERM);
    CHECK_RC(rt_park(NULL, NULL), RT_EPERM);
    CHECK_RC(rt_lockosthread(), RT_EPERM);
    CHECK_RC(rt_unlockosthread(), RT_EPERM);
    CHECK_RC(rt_entersyscall(), RT_EPERM);
    CHECK_RC(rt_exitsyscall(), RT_EPERM);
    CHECK_RC(rt_ready(NULL), RT_EINVAL);
    CHECK(rt_getg() == NULL);
    CHECK_EQ(rt_goid(), 0);
    rt_goexit(); /* no-op */
    rt_gosched(); /* sched_yield */
}

static test_latch g_done = TEST_LATCH_INIT;

static void in_g(void *arg)
{
    (void)arg;
    CHECK_RC(rt_go(NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_go(NULL, (void *)1), RT_EINVAL);
    CHECK_RC(rt_shutdown(-1), RT_EPERM);
    CHECK_RC(rt_shutdown(0), RT_EPERM);
    CHECK_RC(rt_schedule(RT_SCHED_ONCE), RT_EPERM);
    CHECK_RC(rt_schedule(RT_SCHED_FOREVER), RT_EPERM);
    CHECK_RC(rt_main(nop, NULL), RT_EPERM);
    CHECK_RC(rt_main(NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_ready(rt_getg()), RT_EINVAL); /* running */
    CHECK_RC(rt_ready(NULL), RT_EINVAL);
    static uint64_t not_a_g[64];
    CHECK_RC(rt_ready((rt_g *)not_a_g), RT_EINVAL);
    CHECK_RC(rt_exitsyscall(), RT_EINVAL); /* not in a syscall */
    /* and the G still works */
    CHECK(rt_go(nop, NULL) > 0);
    rt_gosched();
    test_latch_post(&g_done);
}

static test_latch g0_done = TEST_LATCH_INIT;

static void on_g0(void *arg)
{
    (void)arg;
    outside_g_checks();
    test_latch_post(&g0_done);
}

static void *on_foreign(void *arg)
{
    (void)arg;
    outside_g_checks();
    CHECK(rt_getm() == NULL);
    return NULL;
}

static _Atomic(rt_g *) parked;
static atomic_int parked_finished;

static bool publish(rt_g *g, void *arg)
{
    (void)arg;
    atomic_store(&parked, g);
    return true;
}

static void park_forever(void *arg)
{
    (void)arg;
    CHECK_RC(rt_park(publish, NULL), RT_OK);
    atomic_store(&parked_finished, 1);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    /* foreign thread (this one, before anything adopted it) */
    outside_g_checks();
    CHECK_RC(rt_main(NULL, NULL), RT_EINVAL);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, on_foreign, NULL), 0);
    pthread_join(t, NULL);

    /* M's g0 */
    CHECK_RC(rt_newm(on_g0, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&g0_done, 1);

    /* G */
    CHECK(rt_go(in_g, NULL) > 0);
    test_latch_wait(&g_done, 1);

    /* adopted thread holding a P, and without one */
    rt_p *p0 = NULL;
    for (int i = 0; i < 10000 && !p0; i++) {
        rt_p *p = rt_p_get(i % 2);
        if (rt_acquirep(p) == RT_OK)
            p0 = p;
        else
            usleep(100);
    }
    if (CHECK(p0 != NULL)) {
        outside_g_checks();
        CHECK_PTR_EQ(rt_releasep(), p0);
        CHECK_RC(rt_p_put(p0), RT_OK);
    }
    outside_g_checks();

    /* A G that stays parked: rt_shutdown times out and leaves the runtime running. */
    CHECK(rt_go(park_forever, NULL) > 0);
    rt_g *g = NULL;
    for (long n = 0; n < 5000000 && !(g = atomic_load(&parked)); n++)
        test_relax();
    if (CHECK(g != NULL)) {
        CHECK_RC(rt_shutdown(20 * 1000 * 1000), RT_ETIMEDOUT);
        CHECK_EQ(atomic_load(&parked_finished), 0);
        CHECK_RC(rt_ready(g), RT_OK);
        CHECK(rt_go(nop, NULL) > 0);
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_EQ(atomic_load(&parked_finished), 1);

    /* After shutdown. */
    CHECK_RC(rt_go(nop, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_main(nop, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_go(NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK(rt_go(nop, NULL) > 0);
    /* bounded: t_g_reinit covers a G that never runs after a re-init */
    CHECK_RC(rt_shutdown(10LL * 1000 * 1000 * 1000), RT_OK);
    return test_summary();
}
