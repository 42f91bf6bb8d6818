/*
 * Regression test: rt_wg_add(wg, 0) while a Done ends a wait leaves no stale wake-up.
 *
 * The Add that brings the counter to zero with waiters announced hands each of them
 * a wake-up (waking the queued ones, leaving tokens for those not queued yet). An
 * Add of 0 in that instant saw the same state (zero, waiters announced) and handed
 * out wake-ups again: the spare tokens stayed in the wait group, and later waits
 * took them and returned while the counter was not zero. Before the fix, 7 runs of
 * 8 failed, with 1,218 to 8,685 of the 12,000 rounds below returning early (once a
 * spare token is there, most later rounds find one). Add(0) changes nothing now.
 *
 * A thread calls rt_wg_add(&wg, 0) 200 times as each round ends; each round, the
 * counter goes to 1, a waiter (a foreign thread, or a G every other round) waits,
 * and the main thread marks the round released and calls rt_wg_done. Checked: no wait returns before its
 * round was released.
 */
#include "test.h"

#define ROUNDS_NATIVE 12000
#define ROUNDS_VALGRIND 60

static rt_wg wg = RT_WG_INIT;
static atomic_int stop, released, early;
static rt_wg g_waited = RT_WG_INIT;

/* Each round, as the main thread is about to call rt_wg_done, a burst of Add(0). */
static atomic_int go_round = -1;

static void *spammer(void *arg)
{
    (void)arg;
    int seen = -1;
    while (!atomic_load(&stop)) {
        int r = atomic_load(&go_round);
        if (r == seen) {
            sched_yield();
            continue;
        }
        seen = r;
        for (int i = 0; i < 200; i++)
            rt_wg_add(&wg, 0);
    }
    return NULL;
}

static void wait_once(void)
{
    rt_wg_wait(&wg);
    if (!atomic_load(&released))
        atomic_fetch_add(&early, 1);
}

static void *t_waiter(void *arg)
{
    (void)arg;
    wait_once();
    return NULL;
}

static void g_waiter(void *arg)
{
    (void)arg;
    wait_once();
    rt_wg_done(&g_waited);
}

int main(void)
{
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t s;
    CHECK_EQ(pthread_create(&s, NULL, spammer, NULL), 0);
    for (int r = 0; r < rounds; r++) {
        atomic_store(&released, 0);
        rt_wg_add(&wg, 1);
        pthread_t w;
        bool in_g = r % 2 == 1;
        if (in_g) {
            rt_wg_add(&g_waited, 1);
            CHECK(rt_go(g_waiter, NULL) > 0);
        } else {
            CHECK_EQ(pthread_create(&w, NULL, t_waiter, NULL), 0);
        }
        for (int i = 0; i < r % 16; i++)
            sched_yield();
        atomic_store(&go_round, r);
        for (int i = 0; i < r % 8; i++)
            sched_yield();
        atomic_store(&released, 1);
        rt_wg_done(&wg);
        if (in_g)
            rt_wg_wait(&g_waited);
        else
            pthread_join(w, NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(s, NULL);
    CHECK_EQ(atomic_load(&early), 0);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    return test_summary();
}
