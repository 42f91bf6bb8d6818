/*
 * A G queued on a P that no M runs (here one the host holds after rt_releasep; the
 * chaos harness found the same with an idle P) still runs when rt_gomaxprocs shrinks
 * below that P.
 *
 * Found by the chaos harness: a G Runnable for ever on the queue of a dead P, after an
 * adopted thread exited holding its P, which went back to the pool with the G still
 * queued, and a shrink killed the idle P as it was. Here, deterministically, at 2 Ps:
 * a G parks with rt_park; the main thread takes P0 (so no runtime M holds a P and none
 * can steal); a foreign thread takes P1 and readies the G, which queues it on P1 (the
 * caller's P), then releases P1 (the host holds it, the G still queued there);
 * rt_gomaxprocs(1) kills P1; the main thread gives P0 back. The G must still run.
 * Before the fix it stayed Runnable on the dead P's queue and the wait below ran out.
 * Negative control: until the shrink the G is on P1's queue (not the global one) and
 * has not run.
 */
#include "test.h"

static _Atomic(rt_g *) parked_g;
static atomic_int ran;
static test_latch done = TEST_LATCH_INIT;
static rt_p *p1;

static bool keep_parked(rt_g *g, void *arg)
{
    (void)arg;
    atomic_store(&parked_g, g);
    return true;
}

static void parker(void *arg)
{
    (void)arg;
    CHECK_RC(rt_park(keep_parked, NULL), RT_OK);
    atomic_store(&ran, 1);
    test_latch_post(&done);
}

/* An idle P may be held by an M for a moment while it looks for work. */
static int acquire(rt_p *p)
{
    int rc;
    for (int i = 0; (rc = rt_acquirep(p)) == RT_EBUSY && i < 1000000; i++)
        sched_yield();
    return rc;
}

static void *host(void *arg)
{
    (void)arg;
    p1 = rt_p_get(1);
    if (!CHECK_RC(acquire(p1), RT_OK))
        return NULL;
    CHECK_RC(rt_ready(atomic_load(&parked_g)), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p1);
    CHECK_EQ(rt_p_status(p1), RT_P_IDLE);
    return NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK(rt_go(parker, NULL) > 0);
    while (atomic_load(&parked_g) == NULL)
        sched_yield();
    rt_p *p0 = rt_p_get(0);
    CHECK_RC(acquire(p0), RT_OK);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, host, NULL), 0);
    pthread_join(t, NULL);

    /* The control: queued on the held P1, where no M looks; nobody can run it. */
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.global_runq, 0);
    CHECK_EQ(st.runnable, 1);
    CHECK_EQ(atomic_load(&ran), 0);

    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK_EQ(rt_p_status(p1), RT_P_DEAD);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);
    /* Not a timing assertion: 10 s (60 under valgrind) only bounds a G that never runs. */
    if (!test_latch_wait_for(&done, 1, test_under_valgrind() ? 60 : 10)) {
        FAIL("the G queued on P1 never ran after P1 died (stranded on a dead P's queue)");
        rt_dump(2);
    }
    CHECK_EQ(atomic_load(&ran), 1);
    CHECK_RC(rt_shutdown(10000000000LL), RT_OK);
    return test_summary();
}
