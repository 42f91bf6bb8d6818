/*
 * rt_schedule(RT_SCHED_ONCE) and a G wired to another M (issue 7, found in review).
 * The host keeps its P across rt_schedule, so a G locked to another M runs only when
 * some P is idle for that M: with GOMAXPROCS=1 and the host holding the only P, it
 * waits (mrt.h documents this), and rt_schedule must neither hang nor hand the host's
 * P away. Once the host gives its P back (rt_releasep + rt_p_put), the wired G must
 * run: it was requeued, not lost. (The old code gave the host's P to the wired G's M
 * and left the host without one.)
 */
#include "test.h"

static struct rt_chan *ch;
static atomic_int l_done, l_parked;

/* Wired to the runtime M that starts it; parks on the channel. */
static void locked_g(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_OK);
    atomic_store(&l_parked, 1);
    int v;
    CHECK_RC(rt_chan_recv(ch, &v), RT_OK);
    atomic_store(&l_done, 1);
    CHECK_RC(rt_unlockosthread(), RT_OK);
}

static void sender(void *arg)
{
    (void)arg;
    int v = 7;
    CHECK_RC(rt_chan_send(ch, &v), RT_OK);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ch), RT_OK);
    CHECK(rt_go(locked_g, NULL) > 0);
    while (!atomic_load(&l_parked))
        usleep(1000);
    rt_p *p0 = rt_p_get(0);
    int rc;
    for (int i = 0; i < 2000 && (rc = rt_acquirep(p0)) == RT_EBUSY; i++)
        usleep(1000);                         /* P0 back in the pool after the park */
    CHECK_RC(rc, RT_OK);
    CHECK(rt_go(sender, NULL) > 0);
    for (int i = 0; i < 50; i++) {
        rc = rt_schedule(RT_SCHED_ONCE);
        CHECK(rc >= 0);
        CHECK_PTR_EQ(rt_getp(), p0);            /* the host kept its P */
    }
    /* Give the P back: the wired G's M gets it and the G runs. */
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);
    for (int i = 0; i < 20000 && !atomic_load(&l_done); i++)
        usleep(1000);                           /* a bound for a hang, not a timing */
    if (!CHECK(atomic_load(&l_done)))
        fprintf(stderr, "the wired G did not run after the host gave its P back\n");
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
