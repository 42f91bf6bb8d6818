/*
 * A fork child's rt_shutdown does not wait for the parent's host threads that were
 * inside rt_schedule(RT_SCHED_FOREVER) or rt_main at the fork.
 *
 * rt_shutdown waits until no host thread is inside the scheduler (so that none is
 * still handing its P back when the Ps are freed); the count of those threads is
 * copied into a fork child, where the threads do not exist. The chaos harness found
 * a child whose rt_shutdown returned RT_ETIMEDOUT that way. Here the parent has one
 * thread in rt_schedule(RT_SCHED_FOREVER) and one in rt_main at each fork; the child
 * starts its own runtime, runs a G and shuts down with a bounded wait.
 */
#include "test.h"

#define FORKS 5
#define BOUND 5000000L

static atomic_int started, main_started, release_main;
static _Atomic int forever_rc;

static void *scheduler_thread(void *arg)
{
    rt_p *p = arg;
    if (!CHECK_RC(rt_acquirep(p), RT_OK))
        return NULL;
    atomic_store(&started, 1);
    atomic_store(&forever_rc, rt_schedule(RT_SCHED_FOREVER));
    return NULL;
}

static void parent_main_g(void *arg)
{
    (void)arg;
    atomic_store(&main_started, 1);
    while (!atomic_load(&release_main))
        rt_sleep(1000000);
}

static void *main_thread(void *arg)
{
    (void)arg;
    CHECK_RC(rt_main(parent_main_g, NULL), RT_OK);
    return NULL;
}

static atomic_int child_ran;

static void child_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&child_ran, 1);
}

static void child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(child_g, NULL), RT_OK);
    CHECK_EQ(atomic_load(&child_ran), 1);
    /* Bounded: the old code waited for the parent's two threads, which the child
     * does not have, and returned RT_ETIMEDOUT. */
    CHECK_RC(rt_shutdown(2000000000LL), RT_OK);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    atomic_store(&forever_rc, -9999);
    pthread_t t, mt;
    CHECK_EQ(pthread_create(&t, NULL, scheduler_thread, rt_p_get(1)), 0);
    for (long i = 0; i < BOUND && !atomic_load(&started); i++)
        test_relax();
    CHECK(atomic_load(&started));
    CHECK_EQ(pthread_create(&mt, NULL, main_thread, NULL), 0);
    for (long i = 0; i < BOUND && !atomic_load(&main_started); i++)
        test_relax();
    CHECK(atomic_load(&main_started));

    for (int i = 0; i < FORKS; i++)
        CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));

    atomic_store(&release_main, 1);
    pthread_join(mt, NULL);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    pthread_join(t, NULL);
    CHECK(atomic_load(&forever_rc) >= 0);
    return test_summary();
}
