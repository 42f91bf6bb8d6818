/*
 * Regression test (hunt6): rt_gomaxprocs shrinks past a P whose M runs a G that does
 * not give it up (a loop that calls nothing). procresize moved the timers of idle and
 * host-held surplus Ps to P0, but a running one kept them "until released", and
 * nothing looks at the timers of a P beyond gomaxprocs (timer::earliest, the thieves'
 * timer pass): a G sleeping 50 ms on that P's timer slept for as long as the loop ran.
 * Here the loop runs until the sleeper wakes: it never ended. Now the shrink moves the
 * timers of every surplus P to P0, and a timer added later to a P that is surplus by
 * then follows them there.
 * (The wait below is a bound for a hang, not a timing assertion: 20 s for 50 ms.)
 */
#include "shrink_past.h"

static atomic_int woke, hog_running, give_up;

static void sleeper(void *arg)
{
    (void)arg;
    CHECK_RC(rt_sleep(50 * 1000 * 1000), RT_OK);
    atomic_store(&woke, 1);
}

/* Keeps its P, calling nothing, until the sleeper woke (or the test gives up). */
static void hog(void *arg)
{
    (void)arg;
    atomic_store(&hog_running, 1);
    while (!atomic_load(&woke) && !atomic_load(&give_up))
        ;
}

static bool hog_is_running(void) { return atomic_load(&hog_running); }
static bool sleeper_woke(void) { return atomic_load(&woke); }

static void *shrinker(void *arg)
{
    (void)arg;
    if (!CHECK(shrink_past_p1(hog_is_running, sleeper_woke, 20)))
        fprintf(stderr, "the G sleeping 50 ms on a running P past gomaxprocs did not "
                        "wake in 20 s\n");
    atomic_store(&give_up, 1);
    return NULL;
}

int main(void)
{
    pthread_t h = shrink_stage(shrinker);
    CHECK(rt_go(sleeper, NULL) > 0);
    /* Runs the sleeper on our M: its timer goes into P1's heap. */
    CHECK_EQ(rt_schedule(RT_SCHED_ONCE), 1);
    CHECK(rt_go(hog, NULL) > 0);
    CHECK(rt_schedule(RT_SCHED_ONCE) >= 1);
    shrink_unstage(h);
    CHECK(atomic_load(&woke));
    return test_summary();
}
