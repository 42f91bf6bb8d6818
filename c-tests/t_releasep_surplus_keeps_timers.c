/*
 * Regression test (issue 7, found in review): a host holding a P that rt_gomaxprocs
 * made surplus releases it (rt_releasep: "dead if rt_gomaxprocs shrank below it")
 * while a G's rt_sleep timer sits in that P's heap. rt_releasep used to mark the P
 * dead without moving its timers (or its queued Gs), and nothing looks at a dead P's
 * timers: the G slept for ever. Now a P's work moves away before every death.
 * (The wait below is a bound for a hang, not a timing assertion: 20 s for 500 ms.
 * The sleep is long enough that its timer is still pending when P1 dies: at 20 ms
 * it fired under valgrind inside the RT_SCHED_ONCE call, which then ran the G a
 * second time (1 run in 60).)
 */
#include "test.h"

static atomic_int woke;

static void sleeper(void *arg)
{
    (void)arg;
    CHECK_RC(rt_sleep(500 * 1000 * 1000), RT_OK);
    atomic_store(&woke, 1);
}

static test_latch helper_ready = TEST_LATCH_INIT, helper_go = TEST_LATCH_INIT;

/* Holds P0 so that no other M runs the sleeper; hands P0 back to the pool later. */
static void *helper(void *arg)
{
    (void)arg;
    rt_p *p0 = rt_p_get(0);
    CHECK_RC(rt_acquirep(p0), RT_OK);
    test_latch_post(&helper_ready);
    test_latch_wait(&helper_go, 1);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);
    return NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t h;
    pthread_create(&h, NULL, helper, NULL);
    test_latch_wait(&helper_ready, 1);
    rt_p *p1 = rt_p_get(1);
    CHECK_RC(rt_acquirep(p1), RT_OK);
    CHECK(rt_go(sleeper, NULL) > 0);
    /* Runs the sleeper on our M: its timer goes into P1's heap. */
    CHECK_EQ(rt_schedule(RT_SCHED_ONCE), 1);
    CHECK_EQ(rt_gomaxprocs(1), 2);           /* P1 is surplus; we keep it */
    CHECK_PTR_EQ(rt_releasep(), p1);         /* ... and it dies here */
    CHECK_EQ(rt_p_status(p1), RT_P_DEAD);
    test_latch_post(&helper_go);             /* P0 back in the pool: Ms may run */
    pthread_join(h, NULL);
    for (int i = 0; i < 2000 && !atomic_load(&woke); i++)
        usleep(10000);
    if (!CHECK(atomic_load(&woke)))
        fprintf(stderr, "the G sleeping 500 ms did not wake in 20 s\n");
    return test_summary();
}
