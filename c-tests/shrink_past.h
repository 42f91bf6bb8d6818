/*
 * shrink_past.h: the stage the t_shrink_past_* tests share. The main thread holds P1
 * and runs Gs on it with rt_schedule(RT_SCHED_ONCE); a host thread holds P0 (so that
 * no other M runs or steals anything), waits until P1's G is where the test wants
 * it, shrinks gomaxprocs 2 -> 1 past P1, gives P0 back to the pool and waits for the
 * outcome. The waits are bounds for a hang, not timing assertions.
 */
#ifndef MRT_SHRINK_PAST_H
#define MRT_SHRINK_PAST_H

#include "test.h"

static test_latch shrink_p0_held = TEST_LATCH_INIT;

/* The host thread's part: holds P0 (posting shrink_p0_held); once ready() is true,
 * shrinks to one P and gives P0 back to the pool; then waits up to `secs` seconds
 * for done() and returns it. */
static bool shrink_past_p1(bool (*ready)(void), bool (*done)(void), int secs)
{
    rt_p *p0 = rt_p_get(0);
    CHECK_RC(rt_acquirep(p0), RT_OK);
    test_latch_post(&shrink_p0_held);
    while (!ready())
        sched_yield();
    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);
    for (int i = 0; i < secs * 100 && !done(); i++)
        usleep(10000);
    return done();
}

/* The main thread's start: two Ps, the host thread `fn` started, and P1 held once
 * that thread holds P0. */
static pthread_t shrink_stage(void *(*fn)(void *))
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t h;
    CHECK_EQ(pthread_create(&h, NULL, fn, NULL), 0);
    test_latch_wait(&shrink_p0_held, 1);
    CHECK_RC(rt_acquirep(rt_p_get(1)), RT_OK);
    return h;
}

/* The main thread's end: joins the host thread, gives back the P it holds (P1,
 * dead: it comes back so; or whichever P its G came back with) and shuts down. */
static void shrink_unstage(pthread_t h)
{
    pthread_join(h, NULL);
    rt_p *p = rt_releasep();
    if (p && rt_p_status(p) != RT_P_DEAD)
        CHECK_RC(rt_p_put(p), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

#endif
