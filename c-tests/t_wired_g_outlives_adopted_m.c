/*
 * Found by the chaos harness (seed 34120491636, epoch 36): a G that wires itself
 * (rt_lockosthread) to an adopted M while that M runs Gs for its host, in
 * rt_schedule(RT_SCHED_ONCE) or rt_main, and then parks. rt_schedule / rt_main
 * return to the host with the G still wired to the M, and the host thread goes on
 * with other work (here: it exits). When the G is readied, the M that finds it hands
 * a P to the wired M (startlockedm: P "Reserved", nextp set, note woken) but no
 * thread is there to take it: the G never runs again, and rt_shutdown waits for it
 * forever. Expected: the wired G runs to its end (whichever way the runtime chooses:
 * rt_schedule / rt_main waiting for it, or the G unwired when its thread leaves).
 * Mode 0: rt_schedule(RT_SCHED_ONCE) returned with the G wired to the M (failed
 * every run). Mode 1: rt_main, where the M is in stoplockedm when rt_main's G returns
 * and serves the wired G first (passed before: a control). Mode 2: rt_main, the wired
 * G parks again after rt_main's G returned: schedule() checked main_done before
 * lockedg and left (failed every run). Now both wait for the wired G, which owns
 * the thread until it unlocks or exits.
 */
#include "test.h"

static rt_chan *to_wired, *from_wired;
static test_latch wired_done = TEST_LATCH_INIT;
static atomic_int mode; /* 0: rt_schedule(ONCE), 1: rt_main, 2: rt_main race */
static atomic_int main_returning;

static void wired(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_OK);
    int v = 1;
    CHECK_RC(rt_chan_send(from_wired, &v), RT_OK); /* "I am wired": buffered */
    CHECK_RC(rt_chan_recv(to_wired, &v), RT_OK);   /* parks wired */
    if (atomic_load(&mode) == 2) {
        /* Park again, wired, after rt_main's G has returned: the M's schedule loop
         * sees main_done before it looks at its locked G. */
        while (!atomic_load(&main_returning))
            rt_gosched();
        rt_sleep(10000000);
        CHECK_RC(rt_chan_recv(to_wired, &v), RT_OK);
    }
    CHECK_RC(rt_unlockosthread(), RT_OK);
    test_latch_post(&wired_done);
}

static void main_g(void *arg)
{
    (void)arg;
    CHECK(rt_go(wired, NULL) > 0); /* runnext of this M's P */
    int v;
    CHECK_RC(rt_chan_recv(from_wired, &v), RT_OK);
    if (atomic_load(&mode) == 2) {
        v = 3;
        CHECK_RC(rt_chan_send(to_wired, &v), RT_OK);
        atomic_store(&main_returning, 1);
    }
}

static void *host_thread(void *arg)
{
    (void)arg;
    if (atomic_load(&mode) == 0) {
        rt_p *p = rt_p_get(0);
        CHECK_RC(rt_acquirep(p), RT_OK);
        CHECK(rt_go(wired, NULL) > 0); /* global queue; maybe taken by P1's M */
        CHECK(rt_schedule(RT_SCHED_ONCE) >= 0);
        rt_p *q = rt_releasep();
        CHECK(q != NULL);
        if (q)
            CHECK_RC(rt_p_put(q), RT_OK);
    } else {
        CHECK_RC(rt_main(main_g, NULL), RT_OK);
    }
    return NULL; /* the thread exits; its M is given back */
}

static void one(void *arg)
{
    int m = (int)(intptr_t)arg;
    atomic_store(&mode, m);
    rt_config cfg = {.size = sizeof cfg, .maxprocs = m == 0 ? 1 : 2};
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 1, &to_wired), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 1, &from_wired), RT_OK);
    long base = wired_done.count;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, host_thread, NULL), 0);
    int v;
    if (m == 0) /* else rt_main's G takes it */
        CHECK_RC(rt_chan_recv(from_wired, &v), RT_OK);
    if (m == 2) {
        /* Let the wired G park the second time, after rt_main's G returned (a
         * widening of the window, not a timed check). */
        while (!atomic_load(&main_returning))
            sched_yield();
        rt_sleep(50000000);
    }
    /* The host thread is in rt_schedule / rt_main or gone: its wired G is parked on
     * to_wired. Wake it; it must run (on its M) to its end. */
    v = 2;
    CHECK_RC(rt_chan_send(to_wired, &v), RT_OK);
    if (!CHECK(test_latch_wait_for(&wired_done, base + 1, 10))) {
        fprintf(stderr, "mode %d: the wired G never ran again\n", m);
        rt_dump(2);
        return; /* no shutdown: it would wait for the G forever */
    }
    pthread_join(t, NULL);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    rt_chan_free(to_wired);
    rt_chan_free(from_wired);
}

int main(void)
{
    /* Each mode in its own child: a failed mode leaves its runtime stuck. */
    CHECK_CHILD_OK(test_spawn((void (*)(void *))one, (void *)0, NULL, 0));
    CHECK_CHILD_OK(test_spawn((void (*)(void *))one, (void *)1, NULL, 0)); /* passes */
    CHECK_CHILD_OK(test_spawn((void (*)(void *))one, (void *)2, NULL, 0));
    return test_summary();
}
