/*
 * rt_gomaxprocs: query, grow at once (new idle Ps in the pool), shrink (pooled surplus
 * Ps leave the pool; a surplus P that is running dies when released: RT_P_DEAD, and is
 * then refused everywhere with RT_EINVAL), grow again; rt_getstats follows.
 */
#include "test.h"

static void check_stats(int maxprocs, int idle)
{
    rt_stats st;
    if (CHECK_RC(test_stats(&st), RT_OK)) {
        CHECK_EQ(st.maxprocs, maxprocs);
        CHECK_EQ(st.idle_procs, idle);
    }
}

static test_latch sync_l = TEST_LATCH_INIT;
static rt_p *other_p;

/* Holds P 4 (surplus after the shrink) on a foreign thread until told to release. */
static void *holder(void *arg)
{
    (void)arg;
    CHECK_RC(rt_acquirep(other_p), RT_OK);
    test_latch_post(&sync_l); /* 1: holding */
    test_latch_wait(&sync_l, 2);
    rt_p *p = rt_releasep();
    CHECK_PTR_EQ(p, other_p);
    CHECK_RC(rt_p_status(p), RT_P_DEAD);
    CHECK_RC(rt_p_put(p), RT_EINVAL);
    return NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_EQ(rt_gomaxprocs(0), 2);
    CHECK_EQ(rt_gomaxprocs(-1), 2); /* n <= 0: query only */
    CHECK_EQ(rt_gomaxprocs(-100), 2);
    check_stats(2, 2);

    /* Grow: returns the previous value; new Ps exist at once, idle and pooled. */
    CHECK_EQ(rt_gomaxprocs(6), 2);
    CHECK_EQ(rt_gomaxprocs(0), 6);
    check_stats(6, 6);
    for (int i = 0; i < 6; i++) {
        rt_p *p = rt_p_get(i);
        if (CHECK(p != NULL)) {
            CHECK_RC(rt_p_id(p), i);
            CHECK_RC(rt_p_status(p), RT_P_IDLE);
        }
    }
    CHECK_PTR_EQ(rt_p_get(6), NULL);
    /* A grown P is usable. */
    rt_p *p5 = rt_p_get(5);
    CHECK_RC(rt_acquirep(p5), RT_OK);
    check_stats(6, 5);
    /* Setting the same value is a no-op that returns it. */
    CHECK_EQ(rt_gomaxprocs(6), 6);
    check_stats(6, 5);

    /* Shrink to 3 while this thread runs P 5 and another thread runs P 4. */
    other_p = rt_p_get(4);
    pthread_t th;
    pthread_create(&th, NULL, holder, NULL);
    test_latch_wait(&sync_l, 1);
    rt_p *p3 = rt_p_get(3);
    CHECK_EQ(rt_gomaxprocs(3), 6);
    CHECK_EQ(rt_gomaxprocs(0), 3);
    CHECK_PTR_EQ(rt_p_get(3), NULL);
    CHECK_PTR_EQ(rt_p_get(5), NULL);
    check_stats(3, 3);                           /* the pooled surplus P 3 left the pool */
    CHECK_RC(rt_p_status(p3), RT_P_DEAD);        /* ... and died (nobody held it) */
    CHECK_RC(rt_acquirep(p3), RT_EINVAL);
    CHECK_RC(rt_p_status(p5), RT_P_RUNNING);     /* still ours until released */
    CHECK_PTR_EQ(rt_getp(), p5);
    CHECK_RC(rt_p_status(other_p), RT_P_RUNNING);

    /* Releasing a surplus P kills it; a dead P is refused everywhere. */
    CHECK_PTR_EQ(rt_releasep(), p5);
    CHECK_RC(rt_p_status(p5), RT_P_DEAD);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_RC(rt_acquirep(p5), RT_EINVAL);
    CHECK_RC(rt_p_put(p5), RT_EINVAL);
    CHECK_RC(rt_newm(NULL, NULL, p5, NULL), RT_EINVAL);
    rt_m *m = NULL;
    CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_OK);
    CHECK_RC(rt_m_launch(m, p5), RT_EINVAL);
    CHECK_RC(rt_m_free(m), RT_OK);
    test_latch_post(&sync_l); /* 2: the holder releases P 4, which dies */
    pthread_join(th, NULL);
    check_stats(3, 3);

    /* The remaining Ps work as before. */
    for (int i = 0; i < 3; i++) {
        rt_p *p = rt_p_get(i);
        CHECK_RC(rt_p_status(p), RT_P_IDLE);
        CHECK_RC(rt_acquirep(p), RT_OK);
        CHECK_PTR_EQ(rt_releasep(), p);
        CHECK_RC(rt_p_put(p), RT_OK);
    }

    /* Shrink to 1, then grow again to 4: the new Ps 1..3 are idle and usable. */
    CHECK_EQ(rt_gomaxprocs(1), 3);
    check_stats(1, 1);
    CHECK_EQ(rt_gomaxprocs(4), 1);
    check_stats(4, 4);
    for (int i = 0; i < 4; i++) {
        rt_p *p = rt_p_get(i);
        if (!CHECK(p != NULL))
            continue;
        CHECK_RC(rt_p_id(p), i);
        CHECK_RC(rt_p_status(p), RT_P_IDLE);
        CHECK_RC(rt_acquirep(p), RT_OK);
        CHECK_PTR_EQ(rt_releasep(), p);
        CHECK_RC(rt_p_put(p), RT_OK);
    }
    check_stats(4, 4);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
