/*
 * rt_shutdown waits for host threads inside rt_schedule(RT_SCHED_FOREVER) to leave
 * before it frees the Ps.
 *
 * A host thread adopted with rt_acquirep runs Gs with rt_schedule(RT_SCHED_FOREVER);
 * the main thread runs a batch of Gs through it, then calls rt_shutdown(-1). The
 * scheduling thread sees the shutdown and hands its P back to the pool under the
 * sched lock. rt_shutdown used to free the Ps without waiting for it, so that hand-back
 * could write to a freed P: valgrind reported "Invalid write ... inside a block of
 * size 2,256 free'd" (release_to_pool after p::free_all) in t_g_schedule. Each round
 * here is that sequence; natively it checks the outcome, under valgrind the run is
 * also clean of invalid accesses.
 */
#include "test.h"

#define ROUNDS_NATIVE 200
#define ROUNDS_VALGRIND 20
#define BOUND 5000000L

static atomic_int started;
static _Atomic int forever_rc;
static rt_wg wg = RT_WG_INIT;

static void *scheduler_thread(void *arg)
{
    rt_p *p = arg;
    if (!CHECK_RC(rt_acquirep(p), RT_OK))
        return NULL;
    atomic_store(&started, 1);
    atomic_store(&forever_rc, rt_schedule(RT_SCHED_FOREVER));
    return NULL;
}

static void job(void *arg)
{
    (void)arg;
    rt_gosched();
    rt_wg_done(&wg);
}

int main(void)
{
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    for (int r = 0; r < rounds; r++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&started, 0);
        atomic_store(&forever_rc, -9999);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, scheduler_thread, rt_p_get(0)), 0);
        for (long i = 0; i < BOUND && !atomic_load(&started); i++)
            test_relax();
        CHECK(atomic_load(&started));
        rt_wg_add(&wg, 20);
        for (int i = 0; i < 20; i++)
            CHECK(rt_go(job, NULL) > 0);
        rt_wg_wait(&wg);
        /* The scheduling thread may still hold the P here: shutdown must wait. */
        CHECK_RC(rt_shutdown(-1), RT_OK);
        pthread_join(t, NULL);
        CHECK(atomic_load(&forever_rc) >= 0);
    }
    return test_summary();
}
