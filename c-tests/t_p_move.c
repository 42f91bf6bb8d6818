/*
 * Moving a P between threads: a held P (after rt_releasep) belongs to the host, which
 * may hand it to any thread. Foreign threads -> adopted Ms, runtime-created Ms -> each
 * other, and back to the main thread; while someone runs the P, everyone else gets
 * RT_EBUSY, and rt_m_getinfo shows who holds it.
 */
#include "test.h"

static rt_p *the_p;

/* ---- foreign threads passing the P along a chain ---- */

#define NT 4
static test_latch turn = TEST_LATCH_INIT;    /* thread i goes at 2i+1, posts 2i+2 */
static test_latch holding = TEST_LATCH_INIT; /* posted by the thread while it holds */
static test_latch release = TEST_LATCH_INIT; /* main lets the holder go on */
static rt_m *thread_m[NT];

static void *chain_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    test_latch_wait(&turn, 2 * i + 1);
    CHECK_PTR_EQ(rt_getm(), NULL);
    CHECK_RC(rt_acquirep(the_p), RT_OK);
    thread_m[i] = rt_getm();
    CHECK(thread_m[i] != NULL);
    CHECK_PTR_EQ(rt_getp(), the_p);
    test_latch_post(&holding);
    test_latch_wait(&release, i + 1);
    CHECK_PTR_EQ(rt_releasep(), the_p);
    if (i == NT - 1)
        CHECK_RC(rt_p_put(the_p), RT_OK);
    test_latch_post(&turn);
    return NULL;
}

/* ---- runtime-created Ms passing the P ---- */

static test_latch m_holding = TEST_LATCH_INIT;
static test_latch m_go = TEST_LATCH_INIT;
static test_latch m_done = TEST_LATCH_INIT;

/* Step k of the relay: wait for its turn, take the P (from the pool for k == 0, held
   otherwise), report, wait, release it (held) for the next. */
static void relay(void *arg)
{
    int k = (int)(intptr_t)arg;
    test_latch_wait(&m_done, k);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_RC(rt_acquirep(the_p), RT_OK);
    CHECK_PTR_EQ(rt_getp(), the_p);
    CHECK_RC(rt_acquirep(the_p), RT_EALREADY);
    test_latch_post(&m_holding);
    test_latch_wait(&m_go, k + 1);
    CHECK_PTR_EQ(rt_releasep(), the_p);
    test_latch_post(&m_done);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    the_p = rt_p_get(1);
    rt_m_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;

    /* Main takes it, releases it (held), and passes it down a chain of threads. */
    CHECK_RC(rt_acquirep(the_p), RT_OK);
    rt_m *main_m = rt_getm();
    CHECK_PTR_EQ(rt_releasep(), the_p);
    pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        pthread_create(&th[i], NULL, chain_thread, (void *)(intptr_t)i);
    for (int i = 0; i < NT; i++) {
        test_latch_post(&turn); /* turn = 2i + 1: thread i's go */
        test_latch_wait(&holding, i + 1);
        CHECK_RC(rt_p_status(the_p), RT_P_RUNNING);
        CHECK_RC(rt_acquirep(the_p), RT_EBUSY);
        CHECK_RC(rt_p_put(the_p), RT_EBUSY);
        CHECK_RC(rt_m_getinfo(thread_m[i], &info), RT_OK);
        CHECK_EQ(info.p, 1);
        CHECK_RC(rt_m_getinfo(main_m, &info), RT_OK);
        CHECK_EQ(info.p, -1);
        test_latch_post(&release);
        test_latch_wait(&turn, 2 * (i + 1));
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    CHECK_RC(rt_p_status(the_p), RT_P_IDLE);
    CHECK_RC(rt_p_put(the_p), RT_EALREADY); /* the last thread pooled it */

    /* Runtime-created Ms relay it: M0 takes it from the pool, each next one takes it
       held from the previous one. */
    enum { NR = 4 };
    rt_m *rm[NR];
    for (int k = 0; k < NR; k++)
        CHECK_RC(rt_newm(relay, (void *)(intptr_t)k, NULL, &rm[k]), RT_OK);
    for (int k = 0; k < NR; k++) {
        test_latch_wait(&m_holding, k + 1);
        CHECK_RC(rt_p_status(the_p), RT_P_RUNNING);
        CHECK_RC(rt_acquirep(the_p), RT_EBUSY);
        CHECK_RC(rt_m_getinfo(rm[k], &info), RT_OK);
        CHECK_EQ(info.p, 1);
        for (int j = 0; j < NR; j++)
            if (j != k && CHECK_RC(rt_m_getinfo(rm[j], &info), RT_OK))
                CHECK_EQ(info.p, -1);
        test_latch_post(&m_go);
    }
    test_latch_wait(&m_done, NR);

    /* The last M released it held: main takes it and pools it. */
    CHECK_RC(rt_p_status(the_p), RT_P_IDLE);
    CHECK_RC(rt_acquirep(the_p), RT_OK);
    CHECK_PTR_EQ(rt_getp(), the_p);
    CHECK_PTR_EQ(rt_releasep(), the_p);
    CHECK_RC(rt_p_put(the_p), RT_OK);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
