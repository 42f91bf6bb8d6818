/*
 * Many sleeping Gs all wake: 10,000 Gs (1,000 under valgrind) each rt_sleep a
 * different time between 1 and 50 ms, then count; every one returns RT_OK, not
 * earlier than asked (a lower bound only), and the main G, waiting on a wait group,
 * sees them all. Gs sleep again a second time to reuse the timers. At 1 P and at
 * 4 Ps (timers on several Ps, run by whichever M finds them).
 */
#include "test_chan.h"

static rt_wg wg;
static atomic_int woke, early, bad;

static void sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int round = 0; round < 2; round++) {
        int64_t ns = 1000000 + (int64_t)((i * 7919 + round * 13) % 50) * 1000000;
        int64_t t0 = tc_now();
        if (rt_sleep(ns) != RT_OK)
            atomic_fetch_add(&bad, 1);
        if (tc_now() - t0 < ns)
            atomic_fetch_add(&early, 1);
    }
    atomic_fetch_add(&woke, 1);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    int n = tc_scale(10000, 1000);
    rt_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        if (tc_go(sleeper, (void *)(intptr_t)i) <= 0)
            rt_wg_done(&wg);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&woke), n);
    CHECK_EQ(atomic_load(&early), 0);
    CHECK_EQ(atomic_load(&bad), 0);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(4, true, body, NULL);
    return test_summary();
}
