/*
 * A foreign thread adopted by rt_acquirep stays an M until it exits; a thread-exit
 * destructor then gives the M back and returns the P it still held to the pool (by the
 * time pthread_join returns). The adoption survives rt_shutdown / rt_init.
 */
#include "test.h"

static void *take_and_exit(void *arg)
{
    rt_p *p = arg;
    CHECK_RC(rt_acquirep(p), RT_OK);
    CHECK(rt_getm() != NULL);
    CHECK_PTR_EQ(rt_getp(), p);
    return NULL; /* exits holding p */
}

static void *adopt_only(void *arg)
{
    rt_p *p = arg;
    CHECK_RC(rt_acquirep(p), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p);
    CHECK_RC(rt_p_put(p), RT_OK);
    return NULL; /* exits as an M without a P */
}

static test_latch step = TEST_LATCH_INIT;

/* Adopted in one runtime, still an M in the next. */
static void *across_restart(void *arg)
{
    (void)arg;
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_OK);
    rt_m *m = rt_getm();
    CHECK(m != NULL);
    CHECK_PTR_EQ(rt_releasep(), rt_p_get(0));
    CHECK_RC(rt_p_put(rt_p_get(0)), RT_OK);
    test_latch_post(&step); /* 1: adopted, P back */
    test_latch_wait(&step, 2);
    /* The runtime was shut down and started again meanwhile. */
    CHECK(rt_getm() != NULL);
    rt_p *p = rt_p_get(1);
    CHECK_RC(rt_acquirep(p), RT_OK);
    CHECK_PTR_EQ(rt_getp(), p);
    return NULL; /* exits holding P 1 of the new runtime */
}

static rt_stats stats(void)
{
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    return st;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_stats st0 = stats();
    CHECK_EQ(st0.idle_procs, 2);

    /* Many threads in turn exit while holding P 1: each time it is back in the pool. */
    rt_p *p1 = rt_p_get(1);
    for (int i = 0; i < 20; i++) {
        pthread_t th;
        pthread_create(&th, NULL, take_and_exit, p1);
        pthread_join(th, NULL);
        rt_stats st = stats();
        CHECK_EQ(st.idle_procs, 2);
        CHECK_EQ(st.threads, st0.threads);
        CHECK_RC(rt_p_status(p1), RT_P_IDLE);
        CHECK_RC(rt_p_put(p1), RT_EALREADY); /* pooled, not held */
    }
    /* Threads that exit without a P: the M goes, nothing else changes. */
    for (int i = 0; i < 5; i++) {
        pthread_t th;
        pthread_create(&th, NULL, adopt_only, rt_p_get(0));
        pthread_join(th, NULL);
        rt_stats st = stats();
        CHECK_EQ(st.idle_procs, 2);
        CHECK_EQ(st.threads, st0.threads);
    }
    /* Several at once. */
    pthread_t ths[2];
    pthread_create(&ths[0], NULL, take_and_exit, rt_p_get(0));
    pthread_join(ths[0], NULL);
    pthread_create(&ths[0], NULL, take_and_exit, rt_p_get(0));
    pthread_create(&ths[1], NULL, take_and_exit, rt_p_get(1));
    pthread_join(ths[0], NULL);
    pthread_join(ths[1], NULL);
    CHECK_EQ(stats().idle_procs, 2);
    /* The P given back is usable by whoever comes next. */
    CHECK_RC(rt_acquirep(p1), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p1);
    CHECK_RC(rt_p_put(p1), RT_OK);

    /* Adopted before a restart; exits holding a P of the new runtime. */
    pthread_t th;
    pthread_create(&th, NULL, across_restart, NULL);
    test_latch_wait(&step, 1);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_init(&cfg), RT_OK);
    test_latch_post(&step); /* 2 */
    pthread_join(th, NULL);
    rt_stats st = stats();
    CHECK_EQ(st.idle_procs, 2);
    CHECK_RC(rt_p_status(rt_p_get(1)), RT_P_IDLE);
    CHECK_RC(rt_acquirep(rt_p_get(1)), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), rt_p_get(1));
    CHECK_RC(rt_p_put(rt_p_get(1)), RT_OK);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
