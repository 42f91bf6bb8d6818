/*
 * Found by the chaos harness (`make chaos DURATION=600`, seed 17558236007: a G lost
 * for good, Runnable on no queue, the epoch hung). rt_main's M runs other Gs too;
 * when rt_main's G returns on another M, the M learns it (main_done) while it runs
 * one of them. If that G then hands itself back to the M to run next (its rt_park
 * callback returns false, or it leaves a system call and takes an idle P), the
 * schedule loop saw main_done first and left, dropping the G it held: the G never
 * ran again (and rt_shutdown would wait for it forever).
 * Now the loop never leaves with a G in hand. The test makes the sequence certain:
 * the other G runs on rt_main's thread, waits until rt_main's G has exited, then
 * parks with a callback that says "resume at once".
 */
#include "test.h"

static rt_chan *wake_main;
static atomic_int other_started, main_returned;
static test_latch other_done = TEST_LATCH_INIT;

static bool resume_at_once(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return false;
}

static void other(void *arg)
{
    (void)arg;
    atomic_store(&other_started, 1);
    /* Stay on this M (no yield, no park) until rt_main's G has returned elsewhere
     * and its exit has told this M (main_exited runs before the G's count drops). */
    while (!atomic_load(&main_returned))
        test_relax();
    rt_stats st;
    do {
        test_relax();
    } while (test_stats(&st) == RT_OK && st.goroutines > 1);
    /* Back to g0 and straight back: the M must not leave with us in hand. */
    CHECK_RC(rt_park(resume_at_once, NULL), RT_OK);
    test_latch_post(&other_done);
}

static void main_g(void *arg)
{
    (void)arg;
    CHECK(rt_go(other, NULL) > 0); /* runnext of this M's P: runs when we park */
    int v;
    CHECK_RC(rt_chan_recv(wake_main, &v), RT_OK); /* readied onto another P */
    atomic_store(&main_returned, 1);
}

static void *host(void *arg)
{
    (void)arg;
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    return NULL;
}

static void one(void *arg)
{
    (void)arg;
    rt_config cfg = {.size = sizeof cfg, .maxprocs = 2};
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 1, &wake_main), RT_OK);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, host, NULL), 0);
    while (!atomic_load(&other_started))
        sched_yield();
    int v = 1;
    CHECK_RC(rt_chan_send(wake_main, &v), RT_OK); /* main_g runs on the other P */
    if (!CHECK(test_latch_wait_for(&other_done, 1, 10))) {
        fprintf(stderr, "the G parked with a resume-at-once callback never ran again\n");
        rt_dump(2);
        return; /* rt_shutdown would wait for it forever */
    }
    pthread_join(t, NULL);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_chan_free(wake_main), RT_OK);
}

int main(void)
{
    /* In a child: a failure leaves its runtime stuck. */
    CHECK_CHILD_OK(test_spawn(one, NULL, NULL, 0));
    return test_summary();
}
