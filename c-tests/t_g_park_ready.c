/*
 * rt_park / rt_ready (gopark / goready).
 *  - The unlock callback runs on g0 (rt_getg() is NULL there) with the parking G's
 *    handle, after the G is marked waiting; it publishes the handle; another G calls
 *    rt_ready and the parked G returns from rt_park with RT_OK.
 *  - The same with a foreign thread calling rt_ready (global queue).
 *  - unlock returning false: the G resumes at once (nobody readies it).
 *  - NULL unlock: parks; the handle published before parking is readied by a G that
 *    retries while rt_ready says RT_EINVAL (not parked yet).
 *  - rt_ready of a G that is running (the caller itself, another running G), of a G
 *    already readied (runnable), of NULL or of memory that is not a G: RT_EINVAL.
 *  - Ping-pong: two Gs park and ready each other many times on 2 Ps.
 *  - rt_getstats: parks counts the parks.
 */
#include "test.h"

#define BOUND 5000000L

static int64_t goid_in_unlock = -1;
static rt_g *g_in_unlock;
static void *arg_in_unlock;
static _Atomic(rt_g *) published;

static bool publish(rt_g *g, void *arg)
{
    goid_in_unlock = rt_goid(); /* 0: runs on g0 */
    g_in_unlock = rt_getg();    /* NULL: runs on g0 */
    arg_in_unlock = arg;
    atomic_store(&published, g);
    return true;
}

static atomic_int refused_calls;

static bool refuse(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    atomic_fetch_add(&refused_calls, 1);
    return false;
}

/* Waits (yielding when in a G) until a parked G is published, and takes it. */
static rt_g *take_published(void)
{
    rt_g *g = NULL;
    for (long n = 0; n < BOUND; n++) {
        g = atomic_exchange(&published, NULL);
        if (g)
            break;
        if (rt_getg())
            rt_gosched();
        else
            test_relax();
    }
    return g;
}

static atomic_int parked_resumed;

static void parker(void *arg)
{
    rt_g *me = rt_getg();
    int tag = 1234;
    CHECK_RC(rt_park(publish, &tag), RT_OK);
    CHECK_EQ(goid_in_unlock, 0);
    CHECK_PTR_EQ(g_in_unlock, NULL);
    CHECK_PTR_EQ(arg_in_unlock, &tag);
    CHECK_PTR_EQ(rt_getg(), me);
    atomic_fetch_add(&parked_resumed, 1);
    if (arg)
        test_latch_post(arg);
}

static void readier(void *arg)
{
    (void)arg;
    rt_g *g = take_published();
    if (!CHECK(g != NULL))
        return;
    CHECK_RC(rt_ready(g), RT_OK);
    /* Readied (runnable, or already running elsewhere): not parked any more. */
    CHECK_RC(rt_ready(g), RT_EINVAL);
}

static void self_ready(void *arg)
{
    (void)arg;
    CHECK_RC(rt_ready(rt_getg()), RT_EINVAL);
    /* unlock returns false: resumes at once */
    int before = atomic_load(&refused_calls);
    CHECK_RC(rt_park(refuse, NULL), RT_OK);
    CHECK_EQ(atomic_load(&refused_calls), before + 1);
    CHECK_RC(rt_ready(rt_getg()), RT_EINVAL);
}

/* NULL unlock: publish first, then park; the readier retries until it is parked. */
static _Atomic(rt_g *) pre_published;
static atomic_int null_unlock_resumed;

static void park_null_unlock(void *arg)
{
    (void)arg;
    atomic_store(&pre_published, rt_getg());
    CHECK_RC(rt_park(NULL, NULL), RT_OK);
    atomic_store(&null_unlock_resumed, 1);
}

static void ready_retrying(void *arg)
{
    (void)arg;
    rt_g *g = NULL;
    for (long n = 0; n < BOUND && !(g = atomic_load(&pre_published)); n++)
        rt_gosched();
    if (!CHECK(g != NULL))
        return;
    int rc = RT_EINVAL;
    for (long n = 0; n < BOUND && (rc = rt_ready(g)) == RT_EINVAL; n++)
        rt_gosched();
    CHECK_RC(rc, RT_OK);
}

/* Running elsewhere: a G spinning on another P can't be readied. */
static _Atomic(rt_g *) spinner_g;
static atomic_int spinner_stop;

static void spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinner_g, rt_getg());
    for (long n = 0; n < BOUND && !atomic_load(&spinner_stop); n++)
        test_relax();
    CHECK(atomic_load(&spinner_stop));
}

/* Ping-pong: A parks and publishes into slot[0]; B readies it, then parks ... */
#define PINGS 20000
static _Atomic(rt_g *) slot[2];
static atomic_long pings[2];
static rt_wg pp_wg = RT_WG_INIT;

static bool put_slot(rt_g *g, void *arg)
{
    atomic_store((_Atomic(rt_g *) *)arg, g);
    return true;
}

static void pinger(void *arg)
{
    int me = (int)(intptr_t)arg, other = 1 - me;
    for (long i = 0; i < PINGS; i++) {
        if (me == 1 || i > 0) {
            /* wake the other one (it parked, or is about to) */
            rt_g *g = NULL;
            long n = 0;
            while (!(g = atomic_exchange(&slot[other], NULL)) && n++ < BOUND)
                rt_gosched();
            if (!CHECK(g != NULL))
                break;
            if (!CHECK_RC(rt_ready(g), RT_OK))
                break;
        }
        if (me == 1 && i == PINGS - 1)
            break; /* last round: A is readied, nobody will ready us */
        CHECK_RC(rt_park(put_slot, &slot[me]), RT_OK);
        atomic_fetch_add(&pings[me], 1);
    }
    rt_wg_done(&pp_wg);
}

static rt_wg main_wg = RT_WG_INIT;

static void main_g(void *arg)
{
    (void)arg;
    /* G readies G. */
    CHECK(rt_go(parker, NULL) > 0);
    CHECK(rt_go(readier, NULL) > 0);
    for (long n = 0; n < BOUND && atomic_load(&parked_resumed) < 1; n++)
        rt_gosched();
    CHECK_EQ(atomic_load(&parked_resumed), 1);

    CHECK(rt_go(self_ready, NULL) > 0);
    rt_gosched();

    CHECK(rt_go(park_null_unlock, NULL) > 0);
    CHECK(rt_go(ready_retrying, NULL) > 0);
    for (long n = 0; n < BOUND && !atomic_load(&null_unlock_resumed); n++)
        rt_gosched();
    CHECK(atomic_load(&null_unlock_resumed));

    /* A G running on the other P is not parked. (We keep our P while we wait: the
     * other P's M steals the spinner from our runnext.) */
    CHECK(rt_go(spinner, NULL) > 0);
    rt_g *sg = NULL;
    for (long n = 0; n < BOUND && !(sg = atomic_load(&spinner_g)); n++)
        test_relax();
    if (CHECK(sg != NULL))
        CHECK_RC(rt_ready(sg), RT_EINVAL);
    atomic_store(&spinner_stop, 1);
    rt_wg_done(&main_wg);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    CHECK_RC(rt_ready(NULL), RT_EINVAL);
    static uint64_t not_a_g[64];
    CHECK_RC(rt_ready((rt_g *)not_a_g), RT_EINVAL);
    CHECK_RC(rt_park(publish, NULL), RT_EPERM);

    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);

    rt_wg_add(&main_wg, 1);
    CHECK(rt_go(main_g, NULL) > 0);
    rt_wg_wait(&main_wg);

    /* A foreign thread (this one) readies a parked G. */
    test_latch resumed = TEST_LATCH_INIT;
    CHECK(rt_go(parker, &resumed) > 0);
    rt_g *g = take_published();
    if (CHECK(g != NULL)) {
        CHECK_RC(rt_ready(g), RT_OK);
        test_latch_wait(&resumed, 1);
    }
    CHECK_EQ(atomic_load(&parked_resumed), 2);

    /* Ping-pong on 2 Ps. */
    rt_wg_add(&pp_wg, 2);
    CHECK(rt_go(pinger, (void *)0) > 0);
    CHECK(rt_go(pinger, (void *)1) > 0);
    rt_wg_wait(&pp_wg);
    CHECK_EQ(atomic_load(&pings[0]), PINGS);
    CHECK_EQ(atomic_load(&pings[1]), PINGS - 1);

    CHECK_RC(test_stats(&st), RT_OK);
    CHECK(st.parks >= st0.parks + 2 * PINGS);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
