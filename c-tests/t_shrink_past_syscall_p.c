/*
 * Regression test (hunt6): rt_gomaxprocs shrinks past a P whose M is in a system call.
 * procresize let such a P "die when released", but nothing released it: sysmon's
 * retake, timer::earliest and the thieves look only at Ps below gomaxprocs, so the
 * P stayed in Syscall with its timers and its queued Gs out of everyone's sight until
 * the call returned. A G sleeping 50 ms on that P's timer, and a G queued behind the
 * G in the call before the call, waited for as long as the call lasted (here: until the test writes
 * to the pipe the call reads). Now the shrink takes such a P out of its system call
 * (as sysmon's retake does) and lets it die at once: its Gs go to the global queue
 * and its timers to P0; the G in the call takes another P when it comes back.
 * (The waits below are bounds for a hang, not timing assertions: 20 s for 50 ms.)
 */
#include "shrink_past.h"

static atomic_int woke, queued_ran, in_call;
static int pfd[2];

static void sleeper(void *arg)
{
    (void)arg;
    CHECK_RC(rt_sleep(50 * 1000 * 1000), RT_OK);
    atomic_store(&woke, 1);
}

static void queued(void *arg)
{
    (void)arg;
    atomic_store(&queued_ran, 1);
}

/* Queues a G on its P (runnext), then blocks in read(2) between rt_entersyscall and
 * rt_exitsyscall until the test writes. */
static void blocker(void *arg)
{
    (void)arg;
    char c;
    CHECK(rt_go(queued, NULL) > 0);
    CHECK_RC(rt_entersyscall(), RT_OK);
    atomic_store(&in_call, 1);
    ssize_t n;
    do
        n = read(pfd[0], &c, 1);
    while (n < 0 && errno == EINTR);
    CHECK_EQ(n, 1);
    CHECK_RC(rt_exitsyscall(), RT_OK);
}

/* The blocker set in_call after rt_entersyscall: P1 is in Syscall then, unless sysmon
 * took it already (it takes a P with queued Gs out of a long call: then this run
 * does not reach the case, and its checks pass with or without the fix). Waiting
 * for the Syscall status as well hung under load: sysmon had taken the P first. */
static bool p1_in_call(void) { return atomic_load(&in_call); }
static bool both_ran(void) { return atomic_load(&woke) && atomic_load(&queued_ran); }

/* Once P1 is in the system call, shrinks past it and waits for the Gs. */
static void *shrinker(void *arg)
{
    (void)arg;
    if (!shrink_past_p1(p1_in_call, both_ran, 20)) {
        CHECK(atomic_load(&woke));
        CHECK(atomic_load(&queued_ran));
        fprintf(stderr, "with P1 in a system call past gomaxprocs: sleeper woke %d, "
                        "queued G ran %d, after 20 s\n",
                atomic_load(&woke), atomic_load(&queued_ran));
    }
    /* End the call either way. */
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    return NULL;
}

int main(void)
{
    CHECK_EQ(pipe(pfd), 0);
    pthread_t h = shrink_stage(shrinker);
    CHECK(rt_go(sleeper, NULL) > 0);
    /* Runs the sleeper on our M: its timer goes into P1's heap. */
    CHECK_EQ(rt_schedule(RT_SCHED_ONCE), 1);
    CHECK(rt_go(blocker, NULL) > 0);
    /* Returns once the blocker is back from its call (it may then run on another M:
     * its P died meanwhile). */
    CHECK(rt_schedule(RT_SCHED_ONCE) >= 0);
    shrink_unstage(h);
    CHECK(atomic_load(&woke));
    CHECK(atomic_load(&queued_ran));
    return test_summary();
}
