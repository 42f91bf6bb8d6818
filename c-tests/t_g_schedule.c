/*
 * rt_schedule: hosts that drive their own Ms.
 *  - RT_SCHED_ONCE on a foreign thread adopted with rt_acquirep (1 P, so nobody else
 *    can run them): runs every queued G (and the Gs those spawn) on this thread and
 *    returns how many ran; the M keeps its P; with nothing queued it returns 0.
 *  - RT_SCHED_FOREVER on an adopted thread: runs Gs like a runtime-created M until
 *    rt_shutdown, then returns (>= 0).
 *  - Errors: from a G -> RT_EPERM; on an M with no P -> RT_EINVAL; on a foreign thread
 *    -> RT_EINVAL; bad flags -> RT_EINVAL.
 */
#include "test.h"

#define BOUND 5000000L

static int64_t host_tid;
static atomic_int ran, ran_elsewhere, spawned_ran;
static atomic_int sched_from_g_rc;

static void child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spawned_ran, 1);
    if (test_gettid() != host_tid)
        atomic_fetch_add(&ran_elsewhere, 1);
}

static void job(void *arg)
{
    atomic_fetch_add(&ran, 1);
    if (test_gettid() != host_tid)
        atomic_fetch_add(&ran_elsewhere, 1);
    if (arg) {
        CHECK(rt_go(child, NULL) > 0);
        rt_gosched();
    }
}

static void yielder(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    for (int i = 0; i < 5; i++)
        rt_gosched();
}

static void calls_schedule(void *arg)
{
    (void)arg;
    atomic_store(&sched_from_g_rc, rt_schedule(RT_SCHED_ONCE));
    CHECK_RC(rt_schedule(RT_SCHED_FOREVER), RT_EPERM);
}

static void *foreign_schedule(void *arg)
{
    (void)arg;
    CHECK_RC(rt_schedule(RT_SCHED_ONCE), RT_EINVAL);
    CHECK_RC(rt_schedule(RT_SCHED_FOREVER), RT_EINVAL);
    CHECK(rt_getm() == NULL); /* not adopted by it */
    return NULL;
}

/* ---- RT_SCHED_FOREVER ---- */

static atomic_int forever_started;
static _Atomic int forever_rc = -9999;
static atomic_int forever_jobs;
static rt_wg forever_wg = RT_WG_INIT;

static void *forever_thread(void *arg)
{
    rt_p *p = arg;
    if (!CHECK_RC(rt_acquirep(p), RT_OK))
        return NULL;
    atomic_store(&forever_started, 1);
    atomic_store(&forever_rc, rt_schedule(RT_SCHED_FOREVER));
    return NULL;
}

static void forever_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&forever_jobs, 1);
    rt_gosched();
    rt_wg_done(&forever_wg);
}

int main(void)
{
    host_tid = test_gettid();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    /* foreign thread, and bad flags */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, foreign_schedule, NULL), 0);
    pthread_join(t, NULL);
    CHECK_RC(rt_schedule(RT_SCHED_ONCE), RT_EINVAL);

    rt_p *p0 = rt_p_get(0);
    CHECK_RC(rt_acquirep(p0), RT_OK);
    CHECK_RC(rt_schedule(0), RT_EINVAL);
    CHECK_RC(rt_schedule(RT_SCHED_ONCE | RT_SCHED_FOREVER), RT_EINVAL);
    CHECK_RC(rt_schedule(0x100), RT_EINVAL);

    /* Nothing queued. */
    CHECK_RC(rt_schedule(RT_SCHED_ONCE), 0);

    /* 20 Gs, half of which spawn a child (runnext): 30 run, all here. */
    for (int i = 0; i < 20; i++)
        CHECK(rt_go(job, (i % 2) ? (void *)1 : NULL) > 0);
    CHECK_EQ(atomic_load(&ran), 0); /* nobody else has a P */
    int n = rt_schedule(RT_SCHED_ONCE);
    CHECK_EQ(n, 30);
    CHECK_EQ(atomic_load(&ran), 20);
    CHECK_EQ(atomic_load(&spawned_ran), 10);
    CHECK_EQ(atomic_load(&ran_elsewhere), 0);
    CHECK_PTR_EQ(rt_getp(), p0);
    CHECK_RC(rt_schedule(RT_SCHED_ONCE), 0);

    /* Gs that yield to each other still count once each. */
    atomic_store(&ran, 0);
    for (int i = 0; i < 3; i++)
        CHECK(rt_go(yielder, NULL) > 0);
    CHECK_EQ(rt_schedule(RT_SCHED_ONCE), 3);
    CHECK_EQ(atomic_load(&ran), 3);

    /* From a G. */
    CHECK(rt_go(calls_schedule, NULL) > 0);
    CHECK_EQ(rt_schedule(RT_SCHED_ONCE), 1);
    CHECK_RC(atomic_load(&sched_from_g_rc), RT_EPERM);

    /* A second round works the same. */
    atomic_store(&ran, 0);
    for (int i = 0; i < 5; i++)
        CHECK(rt_go(job, NULL) > 0);
    CHECK_EQ(rt_schedule(RT_SCHED_ONCE), 5);
    CHECK_EQ(atomic_load(&ran), 5);

    /* No P -> RT_EINVAL. */
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_schedule(RT_SCHED_ONCE), RT_EINVAL);
    CHECK_RC(rt_schedule(RT_SCHED_FOREVER), RT_EINVAL);

    /* RT_SCHED_FOREVER on another adopted thread, given the P; it runs the Gs. */
    atomic_store(&forever_rc, -9999);
    CHECK_EQ(pthread_create(&t, NULL, forever_thread, p0), 0);
    for (long i = 0; i < BOUND && !atomic_load(&forever_started); i++)
        test_relax();
    CHECK(atomic_load(&forever_started));
    rt_wg_add(&forever_wg, 50);
    for (int i = 0; i < 50; i++)
        CHECK(rt_go(forever_job, NULL) > 0);
    rt_wg_wait(&forever_wg);
    CHECK_EQ(atomic_load(&forever_jobs), 50);
    CHECK_EQ(atomic_load(&forever_rc), -9999); /* still scheduling */
    CHECK_RC(rt_shutdown(-1), RT_OK);
    pthread_join(t, NULL);
    CHECK(atomic_load(&forever_rc) >= 0);
    return test_summary();
}
