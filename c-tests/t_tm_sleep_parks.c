/*
 * rt_sleep from a G parks it on a timer: on 1 P, while one G sleeps the other Gs of
 * that P run (a G spawned before the sleep, and a whole chain of channel hand-offs,
 * complete while the sleeper sleeps again and again: on 1 P nothing else could run
 * them), and the sleep lasts at least what was asked (a lower bound only). The
 * sleeper does not count on one sleep being long enough for the others: under
 * valgrind on a loaded machine, 12 Gs may need more than 30 ms; it sleeps until they
 * are done, up to 1000 times. rt_sleep(0) and rt_sleep(<0) return at
 * once without giving the P away (a G spawned just before has not run yet). Several
 * Gs sleeping at once all wake. 1 P.
 */
#include "test_chan.h"

static atomic_int b_ran, chain_done;
static rt_chan *links[11];

static void b(void *arg)
{
    (void)arg;
    atomic_store(&b_ran, 1);
}

static void chain_link(void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t v;
    if (rt_chan_recv(links[i], &v) == RT_OK)
        CHECK_RC(rt_chan_send(links[i + 1], &v), RT_OK);
}

static void chain_end(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    CHECK_RC(rt_chan_recv(links[10], &v), RT_OK);
    CHECK_EQ(v, 1234);
    atomic_store(&chain_done, 1);
}

static void chain_start(void *arg)
{
    (void)arg;
    uint64_t v = 1234;
    CHECK_RC(rt_chan_send(links[0], &v), RT_OK);
}

static rt_wg sleepers;
static atomic_int woke;

static void sleeper(void *arg)
{
    int64_t ns = (int64_t)(intptr_t)arg;
    int64_t t0 = tc_now();
    CHECK_RC(rt_sleep(ns), RT_OK);
    CHECK(tc_now() - t0 >= ns);
    atomic_fetch_add(&woke, 1);
    rt_wg_done(&sleepers);
}

static void body(void *arg)
{
    (void)arg;
    /* sleep(0) / sleep(<0): no yield */
    tc_go(b, NULL);
    CHECK_RC(rt_sleep(0), RT_OK);
    CHECK_RC(rt_sleep(-1), RT_OK);
    CHECK_RC(rt_sleep(INT64_MIN), RT_OK);
    CHECK_EQ(atomic_load(&b_ran), 0);

    /* a real sleep: b runs meanwhile */
    int64_t t0 = tc_now();
    CHECK_RC(rt_sleep(20000000), RT_OK);
    CHECK(tc_now() - t0 >= 20000000);
    for (int i = 0; i < 1000 && !atomic_load(&b_ran); i++)
        CHECK_RC(rt_sleep(1000000), RT_OK);
    CHECK_EQ(atomic_load(&b_ran), 1);

    /* a chain of 10 Gs passing a value along channels completes while we sleep */
    for (int i = 0; i < 11; i++)
        CHECK_RC(rt_chan_make(8, 0, &links[i]), RT_OK);
    tc_go(chain_end, NULL);
    for (int i = 9; i >= 0; i--)
        tc_go(chain_link, (void *)(intptr_t)i);
    tc_go(chain_start, NULL);
    CHECK_RC(rt_sleep(30000000), RT_OK);
    for (int i = 0; i < 1000 && !atomic_load(&chain_done); i++)
        CHECK_RC(rt_sleep(1000000), RT_OK);
    CHECK_EQ(atomic_load(&chain_done), 1);
    for (int i = 0; i < 11; i++)
        CHECK_RC(rt_chan_free(links[i]), RT_OK);

    /* several sleepers at once, and we sleep too */
    rt_wg_add(&sleepers, 8);
    for (int i = 0; i < 8; i++)
        tc_go(sleeper, (void *)(intptr_t)((i + 1) * 3000000));
    CHECK_RC(rt_sleep(1000000), RT_OK);
    rt_wg_wait(&sleepers);
    CHECK_EQ(atomic_load(&woke), 8);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
