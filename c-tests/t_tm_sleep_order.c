/*
 * Sleepers wake in the order of their deadlines: on 1 P, 5 Gs started in reverse
 * order sleep 200, 160, 120, 80 and 40 ms (40 ms apart, far more than any timer
 * slack) and record the order they wake in: shortest first. Ordering only.
 */
#include "test_chan.h"

static atomic_int order[5], next_slot;
static rt_wg wg;

static void sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    CHECK_RC(rt_sleep((int64_t)(i + 1) * 40000000), RT_OK);
    atomic_store(&order[atomic_fetch_add(&next_slot, 1)], i);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 5);
    for (int i = 4; i >= 0; i--)
        tc_go(sleeper, (void *)(intptr_t)i);
    rt_wg_wait(&wg);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(atomic_load(&order[i]), i);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
