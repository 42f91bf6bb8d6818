/*
 * rt_mutex and rt_wg between Gs, between foreign threads, and across the two; all of
 * them statically initialised with RT_MUTEX_INIT / RT_WG_INIT (and one of each on the
 * stack, also all-zero).
 *  - Mutual exclusion: a non-atomic counter incremented under the lock by Gs (some
 *    yielding inside the critical section, so that others queue and park), by foreign
 *    threads, and by both at once, ends exact; an "inside" flag is never seen set on
 *    entry.
 *  - trylock: false while held, true when free; the unlocker need not be the locker
 *    (a foreign thread unlocks what a G locked, and the other way round).
 *  - A G waiting for a mutex parks: its M runs other Gs meanwhile (1 P).
 *  - rt_wg: waiters in Gs and foreign threads are all released at zero; wait at zero
 *    returns at once; adds and dones from either side; reuse after reaching zero.
 *  - NULL is ignored by the mutex and wg calls (trylock(NULL) is false).
 */
#include "test.h"

#define BOUND 5000000L
#define ITERS 5000

static rt_mutex mu = RT_MUTEX_INIT;
static rt_wg wg = RT_WG_INIT;
static long counter; /* protected by mu */
static atomic_int inside, overlaps;

static void critical(bool yield)
{
    rt_mutex_lock(&mu);
    if (atomic_exchange(&inside, 1) != 0)
        atomic_fetch_add(&overlaps, 1);
    long c = counter;
    if (yield)
        rt_gosched();
    counter = c + 1;
    atomic_store(&inside, 0);
    rt_mutex_unlock(&mu);
}

static void g_incr(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++)
        critical(i % 16 == 0);
    rt_wg_done(&wg);
}

static void *t_incr(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++)
        critical(false);
    rt_wg_done(&wg);
    return NULL;
}

static void run_mix(int ngs, int nthreads)
{
    counter = 0;
    atomic_store(&overlaps, 0);
    rt_wg_add(&wg, ngs + nthreads);
    pthread_t t[8];
    for (int i = 0; i < nthreads; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, t_incr, NULL), 0);
    for (int i = 0; i < ngs; i++)
        CHECK(rt_go(g_incr, NULL) > 0);
    rt_wg_wait(&wg); /* this foreign thread blocks on the futex */
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    rt_mutex_lock(&mu);
    CHECK_EQ(counter, (long)(ngs + nthreads) * ITERS);
    rt_mutex_unlock(&mu);
    CHECK_EQ(atomic_load(&overlaps), 0);
}

/* ---- a parked waiter lets its M run other Gs (1 P) ---- */

static rt_mutex held = RT_MUTEX_INIT;
static atomic_int waiter_got_it, others_ran;
static rt_wg park_wg = RT_WG_INIT;

static void mutex_waiter(void *arg)
{
    (void)arg;
    rt_mutex_lock(&held);
    atomic_store(&waiter_got_it, 1);
    rt_mutex_unlock(&held);
    rt_wg_done(&park_wg);
}

static void other(void *arg)
{
    (void)arg;
    atomic_fetch_add(&others_ran, 1);
    rt_wg_done(&park_wg);
}

static void one_p_main(void *arg)
{
    (void)arg;
    CHECK(rt_mutex_trylock(&held)); /* this G holds it */
    rt_wg_add(&park_wg, 11);
    CHECK(rt_go(mutex_waiter, NULL) > 0);
    rt_gosched(); /* the waiter runs and parks on the mutex */
    CHECK_EQ(atomic_load(&waiter_got_it), 0);
    for (int i = 0; i < 10; i++)
        CHECK(rt_go(other, NULL) > 0);
    rt_gosched();
    /* the others ran on our only P while the waiter was parked */
    for (long n = 0; n < BOUND && atomic_load(&others_ran) < 10; n++)
        rt_gosched();
    CHECK_EQ(atomic_load(&others_ran), 10);
    CHECK_EQ(atomic_load(&waiter_got_it), 0);
    rt_mutex_unlock(&held);
    rt_wg_wait(&park_wg);
    CHECK_EQ(atomic_load(&waiter_got_it), 1);
}

/* ---- cross-context unlock ---- */

static rt_mutex cross = RT_MUTEX_INIT;
static test_latch g_locked = TEST_LATCH_INIT, g_unlocked = TEST_LATCH_INIT;

static void g_locks(void *arg)
{
    (void)arg;
    rt_mutex_lock(&cross);
    test_latch_post(&g_locked); /* a foreign thread will unlock it */
}

static void g_unlocks(void *arg)
{
    (void)arg;
    rt_mutex_unlock(&cross); /* locked by a foreign thread */
    test_latch_post(&g_unlocked);
}

/* ---- wait groups ---- */

static rt_wg gate = RT_WG_INIT;
static rt_wg released = RT_WG_INIT;
static atomic_int through;

static void g_waits_gate(void *arg)
{
    (void)arg;
    rt_wg_wait(&gate);
    atomic_fetch_add(&through, 1);
    rt_wg_done(&released);
}

static void *t_waits_gate(void *arg)
{
    (void)arg;
    rt_wg_wait(&gate);
    atomic_fetch_add(&through, 1);
    rt_wg_done(&released);
    return NULL;
}

static void g_opens_gate(void *arg)
{
    (void)arg;
    rt_wg_done(&gate);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    /* NULL is ignored. */
    rt_mutex_lock(NULL);
    rt_mutex_unlock(NULL);
    CHECK(!rt_mutex_trylock(NULL));
    rt_wg_add(NULL, 1);
    rt_wg_done(NULL);
    rt_wg_wait(NULL);

    /* Zero-initialised objects on the stack are ready to use. */
    rt_mutex local_mu;
    memset(&local_mu, 0, sizeof local_mu);
    CHECK(rt_mutex_trylock(&local_mu));
    CHECK(!rt_mutex_trylock(&local_mu));
    rt_mutex_unlock(&local_mu);
    CHECK(rt_mutex_trylock(&local_mu));
    rt_mutex_unlock(&local_mu);
    rt_wg local_wg = RT_WG_INIT;
    rt_wg_wait(&local_wg); /* zero: returns at once */

    run_mix(8, 0); /* Gs */
    run_mix(0, 4); /* foreign threads */
    run_mix(8, 4); /* both */

    /* Cross-context unlock: G locks, foreign unlocks; foreign locks, G unlocks. */
    CHECK(rt_go(g_locks, NULL) > 0);
    test_latch_wait(&g_locked, 1);
    CHECK(!rt_mutex_trylock(&cross));
    rt_mutex_unlock(&cross);
    CHECK(rt_mutex_trylock(&cross));
    CHECK(rt_go(g_unlocks, NULL) > 0);
    test_latch_wait(&g_unlocked, 1);
    rt_mutex_lock(&cross); /* free again */
    rt_mutex_unlock(&cross);

    /* A gate: 6 G waiters and 3 thread waiters, opened by a G; used twice. */
    for (int round = 0; round < 2; round++) {
        atomic_store(&through, 0);
        rt_wg_add(&gate, 1);
        rt_wg_add(&released, 9);
        pthread_t t[3];
        for (int i = 0; i < 6; i++)
            CHECK(rt_go(g_waits_gate, NULL) > 0);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, t_waits_gate, NULL), 0);
        CHECK_EQ(atomic_load(&through), 0);
        if (round == 0)
            CHECK(rt_go(g_opens_gate, NULL) > 0);
        else
            rt_wg_done(&gate); /* by this foreign thread */
        rt_wg_wait(&released);
        CHECK_EQ(atomic_load(&through), 9);
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
    }

    /* A parked mutex waiter does not hold up its M (1 P). */
    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK(test_wait_all_idle());
    CHECK_RC(rt_main(one_p_main, NULL), RT_OK);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
