/*
 * Regression test (issue 8): with malloc exhausted, rt_chan_close of a channel with
 * 2000 waiting Gs aborted the host ("memory allocation of 504 bytes failed"): the
 * woken Gs went onto a global run queue that allocated a block every 31 pushes, and
 * the dying Gs onto free lists that grew a Vec. Waking and recycling Gs must allocate
 * nothing. In a forked child per scenario, every allocation fails (test_oom.h) while
 * the channel is closed, from a foreign thread (the Gs go to the global queue) and
 * from a G (they overflow its P's queue into the global one); every G wakes with
 * RT_ECLOSED and exits, and afterwards the runtime runs a G and moves a message.
 * The negative control: rt_chan_make fails with RT_ENOMEM meanwhile, so the fault
 * really bites inside libmrt; rt_dump, which aborted the same way, allocates nothing
 * now (issue 11) and succeeds.
 */
#include "test.h"
#include "test_oom.h"

#include <fcntl.h>

#define NG 2000

static rt_chan *ch, *go_close;
static atomic_int announced, closed_seen;
static test_latch done = TEST_LATCH_INIT;

static void waiter(void *arg)
{
    (void)arg;
    atomic_fetch_add(&announced, 1);
    int v = 1;
    if (rt_chan_recv(ch, &v) == RT_ECLOSED && v == 0)
        atomic_fetch_add(&closed_seen, 1);
    test_latch_post(&done);
}

static void closer(void *arg)
{
    (void)arg;
    int v;
    CHECK_RC(rt_chan_recv(go_close, &v), RT_OK);
    CHECK_RC(rt_chan_close(ch), RT_OK);
    test_latch_post(&done);
}

static void sender(void *arg)
{
    int v = 42;
    CHECK_RC(rt_chan_send(arg, &v), RT_OK);
}

/* Waits (bounded by test_spawn's alarm) until all NG waiters are parked: all
 * announced, nothing runnable, every P idle. */
static void wait_parked(void)
{
    for (;;) {
        rt_stats st;
        CHECK_RC(test_stats(&st), RT_OK);
        if (atomic_load(&announced) == NG && st.runnable == 0 && st.idle_procs == st.maxprocs)
            return;
        usleep(1000);
    }
}

static void child(void *arg)
{
    bool from_g = arg != NULL;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ch), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 1, &go_close), RT_OK);
    if (from_g)
        CHECK(rt_go(closer, NULL) > 0);
    for (int i = 0; i < NG; i++)
        if (!CHECK(rt_go(waiter, NULL) > 0))
            return;
    wait_parked();

    test_oom_set(TEST_OOM_ALL);
    rt_chan *c2 = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 4, &c2), RT_ENOMEM); /* the fault bites */
    /* rt_dump allocates nothing (it aborted too, then said RT_ENOMEM). */
    int devnull = open("/dev/null", O_WRONLY);
    CHECK(devnull >= 0);
    CHECK_RC(rt_dump(devnull), RT_OK);
    long fails0 = test_oom_failures();
    CHECK(fails0 > 0);
    if (from_g) {
        int v = 1;
        CHECK_RC(rt_chan_send(go_close, &v), RT_OK); /* buffered: no wait */
    } else {
        CHECK_RC(rt_chan_close(ch), RT_OK);
    }
    test_latch_wait(&done, NG + (from_g ? 1 : 0));
    test_oom_set(TEST_OOM_OFF);
    CHECK_EQ(atomic_load(&closed_seen), NG);
    CHECK_RC(rt_dump(devnull), RT_OK);
    close(devnull);

    /* The runtime still runs a G and moves a message. */
    rt_chan *m = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 0, &m), RT_OK);
    CHECK(rt_go(sender, m) > 0);
    int v = 0;
    CHECK_RC(rt_chan_recv(m, &v), RT_OK);
    CHECK_EQ(v, 42);
    CHECK_RC(rt_chan_free(m), RT_OK);
    CHECK_RC(rt_chan_free(go_close), RT_OK);
    CHECK_RC(rt_chan_free(ch), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    CHECK_CHILD_OK(test_spawn(child, (void *)1, NULL, 0));
    return test_summary();
}
