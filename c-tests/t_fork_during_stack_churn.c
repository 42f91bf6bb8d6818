/*
 * fork() while the parent's G stacks churn: bursts of Gs take stacks from the arenas
 * (refilling the Ps' caches in batches) and give them back as they exit, and between
 * bursts sysmon's scavenger unmaps the arenas that went idle and gives back the
 * touched free slots of partly used ones. The atfork handlers hold the arenas' lock
 * across the fork, so the child never sees their lists mid-change; this test is the
 * stress for that (it did not fail without the lock held: the windows are a few
 * instructions wide).
 *
 * Each child starts a runtime of its own and runs many Gs at once, each filling a
 * buffer on its stack with its own number and checking it after every G has been
 * made (two Gs handed one stack would overwrite each other), then shuts down.
 * The parent's Gs check their stacks the same way.
 */
#include "test.h"

static long BURST = 3000, CHILD_GS = 2000; /* 300 and 200 under valgrind */

static rt_chan *gate;
static rt_wg burst_wg = RT_WG_INIT;
static atomic_long bad;

static void filler(void *arg)
{
    long id = (long)(intptr_t)arg;
    volatile long buf[128];
    for (int i = 0; i < 128; i++)
        buf[i] = id ^ i;
    long v;
    rt_chan_recv(gate, &v); /* closed once all are made */
    for (int i = 0; i < 128; i++)
        if (buf[i] != (id ^ i)) {
            atomic_fetch_add(&bad, 1);
            break;
        }
    rt_wg_done(&burst_wg);
}

/* Makes n fillers, lets them all check, waits for them. */
static void burst(long n)
{
    CHECK_RC(rt_chan_make(sizeof(long), 0, &gate), RT_OK);
    rt_wg_add(&burst_wg, n);
    for (long i = 0; i < n; i++)
        if (rt_go(filler, (void *)(intptr_t)(i + 1)) <= 0) {
            FAIL("rt_go failed");
            rt_wg_done(&burst_wg);
        }
    rt_gosched();
    CHECK_RC(rt_chan_close(gate), RT_OK);
    rt_wg_wait(&burst_wg);
    CHECK_RC(rt_chan_free(gate), RT_OK);
}

static atomic_int stop;

static void parent_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        burst(BURST);
        /* Idle a while: the arenas' scavenger runs (every 100 ms, after 5 idle
         * ticks). */
        rt_sleep(150 * 1000 * 1000LL);
    }
}

static void *parent_thread(void *arg)
{
    (void)arg;
    CHECK_RC(rt_main(parent_main, NULL), RT_OK);
    return NULL;
}

static void child_main(void *arg)
{
    (void)arg;
    burst(CHILD_GS);
}

static void child(void *arg)
{
    (void)arg;
    /* The parent's burst that was running at the fork does not exist here: its wait
     * group count and gate are the parent's. */
    memset(&burst_wg, 0, sizeof burst_wg);
    gate = NULL;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(child_main, NULL), RT_OK);
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
}

int main(void)
{
    int forks = 16;
    if (test_under_valgrind()) {
        forks = 2;
        BURST = 300;
        CHILD_GS = 200;
    }
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, parent_thread, NULL), 0);
    for (int i = 0; i < forks; i++) {
        usleep(97 * 1000);
        CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    return test_summary();
}
