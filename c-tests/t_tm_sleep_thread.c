/*
 * rt_sleep outside a G is nanosleep: from a foreign thread (also one that never
 * touched the runtime otherwise, and before rt_init) and from an M's g0 (the start
 * function of rt_newm) it returns RT_OK after at least the time asked (a lower bound
 * only); <= 0 returns at once.
 */
#include "test_chan.h"

static void *thread_sleeps(void *arg)
{
    int64_t ns = (int64_t)(intptr_t)arg;
    int64_t t0 = tc_now();
    CHECK_RC(rt_sleep(ns), RT_OK);
    CHECK(tc_now() - t0 >= ns);
    CHECK_RC(rt_sleep(0), RT_OK);
    CHECK_RC(rt_sleep(-100), RT_OK);
    return NULL;
}

static test_latch m_done = TEST_LATCH_INIT;

static void m_start(void *arg)
{
    (void)arg;
    CHECK(rt_getg() == NULL);
    int64_t t0 = tc_now();
    CHECK_RC(rt_sleep(5000000), RT_OK);
    CHECK(tc_now() - t0 >= 5000000);
    test_latch_post(&m_done);
}

int main(void)
{
    /* before rt_init, from the main thread and another thread */
    int64_t t0 = tc_now();
    CHECK_RC(rt_sleep(2000000), RT_OK);
    CHECK(tc_now() - t0 >= 2000000);
    tc_join(tc_thread(thread_sleeps, (void *)(intptr_t)3000000));

    tc_init(1);
    tc_join(tc_thread(thread_sleeps, (void *)(intptr_t)4000000));
    CHECK_RC(rt_newm(m_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&m_done, 1);

    tc_fini();
    return test_summary();
}
