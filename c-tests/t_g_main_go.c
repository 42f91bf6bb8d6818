/*
 * rt_main and rt_go from every context.
 *  - rt_main runs fn as a G while the calling thread (adopted) works as an M with a P
 *    until that G returns, and returns RT_OK. With 1 P, which the calling thread then
 *    holds, the G and every other G run on the calling thread. It can run again on
 *    the same thread, also right after the previous rt_main returned (when handoffp
 *    may still have lent the P to a spinning M for a moment).
 *  - rt_go from a G puts the child on runnext: it runs right after the parent yields
 *    (before the rest of the queue and before the parent); the last child spawned
 *    runs first (the earlier one was kicked to the queue's tail, as Go does).
 *  - rt_go from an M's g0 (a start function) and from a foreign thread (global queue):
 *    the Gs run, on runtime Ms.
 *  - G identity: rt_goid() == rt_go's return value inside the G, rt_getg() != NULL;
 *    outside a G both are 0/NULL. G counters in rt_getstats follow.
 *  - rt_main errors: NULL fn -> RT_EINVAL, from a G -> RT_EPERM, from an M holding a P
 *    -> RT_EALREADY.
 */
#include "test.h"

static int64_t main_tid;

/* ---- ordering on one P ---- */

static char order[64];
static atomic_int norder;

static void record(void *arg)
{
    int i = atomic_fetch_add(&norder, 1);
    if (i < (int)sizeof order - 1)
        order[i] = (char)(intptr_t)arg;
    CHECK_EQ(test_gettid(), main_tid); /* 1 P, held by the rt_main thread */
}

static void record_and_spawn(void *arg)
{
    record(arg);
    CHECK(rt_go(record, (void *)(intptr_t)'D') > 0);
    /* D is on runnext: nothing runs before this G returns */
    CHECK_EQ(atomic_load(&norder), 1);
}

static void reset_order(void)
{
    memset(order, 0, sizeof order);
    atomic_store(&norder, 0);
}

static _Atomic int64_t id_seen[4];
static _Atomic int64_t id_given[4];

static void identity(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_store(&id_seen[i], rt_goid());
    CHECK(rt_getg() != NULL);
    CHECK(rt_goid() > 0);
    CHECK(rt_getm() != NULL);
    CHECK(rt_getp() != NULL);
    /* the M says it runs this G */
    rt_m_info mi = { .size = sizeof mi };
    CHECK_RC(rt_m_getinfo(rt_getm(), &mi), RT_OK);
    CHECK_EQ(mi.curg, rt_goid());
    CHECK_EQ(mi.tid, test_gettid());
}

static void bad_main(void *arg)
{
    (void)arg;
}

static rt_wg many_wg = RT_WG_INIT;
static atomic_int many_on_main;

static void many(void *arg)
{
    (void)arg;
    if (test_gettid() == main_tid)
        atomic_fetch_add(&many_on_main, 1);
    rt_gosched();
    if (test_gettid() == main_tid)
        atomic_fetch_add(&many_on_main, 1);
    rt_wg_done(&many_wg);
}

static int main_g_ran;

static void main_g(void *arg)
{
    (void)arg;
    main_g_ran++;
    CHECK(rt_getg() != NULL);
    if (!CHECK_EQ(test_gettid(), main_tid))
        fprintf(stderr, "  (rt_main call %d: its G runs on another thread)\n", main_g_ran);
    CHECK_EQ(test_m_tid(), main_tid);
    CHECK(rt_getp() != NULL);
    CHECK_RC(rt_main(bad_main, NULL), RT_EPERM);

    /* The order in which a yield runs children holds on one P whose yields stay
     * local; MRT_DEBUG=migrate sends every yielding G to the global queue (and another
     * M), so there only the children's running is checked, not its order. */
    const char *dbg = getenv("MRT_DEBUG");
    if (dbg && strstr(dbg, "migrate")) {
        /* The same five children as below (C; A, B; C spawning D). */
        reset_order();
        CHECK(rt_go(record, (void *)(intptr_t)'C') > 0);
        CHECK(rt_go(record, (void *)(intptr_t)'A') > 0);
        CHECK(rt_go(record, (void *)(intptr_t)'B') > 0);
        CHECK(rt_go(record_and_spawn, (void *)(intptr_t)'C') > 0);
        for (int i = 0; i < 100000 && atomic_load(&norder) < 5; i++)
            rt_gosched();
        CHECK_EQ(atomic_load(&norder), 5);
    } else {
        /* One child: it runs as soon as the parent yields. */
        reset_order();
        CHECK(rt_go(record, (void *)(intptr_t)'C') > 0);
        CHECK_EQ(atomic_load(&norder), 0); /* not before the parent yields */
        rt_gosched();
        CHECK_EQ(atomic_load(&norder), 1);
        CHECK_STR_EQ(order, "C");

        /* Two children: the last one (runnext) first, then the kicked one, then us. */
        reset_order();
        CHECK(rt_go(record, (void *)(intptr_t)'A') > 0);
        CHECK(rt_go(record, (void *)(intptr_t)'B') > 0);
        rt_gosched();
        CHECK_STR_EQ(order, "BA");

        /* A grandchild spawned by the child runs next, still before the parent. */
        reset_order();
        CHECK(rt_go(record_and_spawn, (void *)(intptr_t)'C') > 0);
        rt_gosched();
        CHECK_STR_EQ(order, "CD");
    }

    /* Identity: the id rt_go returned is the one the G sees. */
    for (int i = 0; i < 4; i++)
        atomic_store(&id_given[i], rt_go(identity, (void *)(intptr_t)i));
    rt_gosched();
    for (int i = 0; i < 4; i++) {
        CHECK(atomic_load(&id_given[i]) > 0);
        CHECK_EQ(atomic_load(&id_seen[i]), atomic_load(&id_given[i]));
        for (int j = 0; j < i; j++)
            CHECK(atomic_load(&id_given[i]) != atomic_load(&id_given[j]));
    }

    /* The rt_main thread runs the other Gs while its G waits (the only P is its). */
    rt_wg_add(&many_wg, 100);
    for (int i = 0; i < 100; i++)
        CHECK(rt_go(many, NULL) > 0);
    rt_wg_wait(&many_wg);
    CHECK_EQ(atomic_load(&many_on_main), 200);
    CHECK_EQ(test_gettid(), main_tid);
}

/* ---- rt_go from an M's g0 and from a foreign thread ---- */

static test_latch ran = TEST_LATCH_INIT;
static atomic_int ran_on_runtime_m;

static void note_ran(void *arg)
{
    CHECK(rt_getg() != NULL);
    if (test_gettid() != main_tid && rt_getm() != NULL)
        atomic_fetch_add(&ran_on_runtime_m, 1);
    atomic_fetch_add((atomic_int *)arg, 1);
    test_latch_post(&ran);
}

static atomic_int from_g0, from_foreign, from_adopted;

static void spawn_on_g0(void *arg)
{
    (void)arg;
    CHECK(rt_getm() != NULL);
    CHECK(rt_getg() == NULL); /* g0 is not a G */
    CHECK_EQ(rt_goid(), 0);
    for (int i = 0; i < 10; i++)
        CHECK(rt_go(note_ran, &from_g0) > 0);
}

static void *spawn_on_foreign(void *arg)
{
    (void)arg;
    CHECK(rt_getm() == NULL);
    CHECK(rt_getg() == NULL);
    CHECK_EQ(rt_goid(), 0);
    for (int i = 0; i < 10; i++)
        CHECK(rt_go(note_ran, &from_foreign) > 0);
    return NULL;
}

static void where_am_i(void *arg)
{
    if (test_gettid() != main_tid)
        ++*(int *)arg;
}

int main(void)
{
    main_tid = test_gettid();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK(rt_getg() == NULL);
    CHECK_EQ(rt_goid(), 0);

    CHECK_RC(rt_main(NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(main_g_ran, 1);
    /* The thread stays an M (adopted), without a P, and can do it again. */
    CHECK(rt_getm() != NULL);
    CHECK(rt_getp() == NULL);
    CHECK(rt_getg() == NULL);
    /* The P may be busy for a moment (handoffp lends it to a spinning M, as Go does). */
    CHECK(test_wait_all_idle());
    many_on_main = 0;
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(main_g_ran, 2);

    /* Back to back, without waiting for the P: still the calling thread works as the
     * M with the P and runs its G. */
    int elsewhere = 0;
    for (int i = 0; i < 50; i++) {
        CHECK_RC(rt_main(where_am_i, &elsewhere), RT_OK);
    }
    if (!CHECK_EQ(elsewhere, 0))
        fprintf(stderr, "  back-to-back rt_main: %d of 50 Gs ran on another thread\n",
                elsewhere);

    /* With a P held, rt_main refuses. */
    rt_p *p0 = rt_p_get(0);
    CHECK(test_wait_all_idle());
    CHECK_RC(rt_acquirep(p0), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_EALREADY);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);
    CHECK_EQ(main_g_ran, 2);

    /* From an M's g0 (a start function) ... */
    CHECK_RC(rt_newm(spawn_on_g0, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&ran, 10);
    CHECK_EQ(atomic_load(&from_g0), 10);
    /* ... from a foreign thread ... */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, spawn_on_foreign, NULL), 0);
    pthread_join(t, NULL);
    test_latch_wait(&ran, 20);
    CHECK_EQ(atomic_load(&from_foreign), 10);
    /* ... and from this adopted thread without a P (an M's g0 too). */
    for (int i = 0; i < 10; i++)
        CHECK(rt_go(note_ran, &from_adopted) > 0);
    test_latch_wait(&ran, 30);
    CHECK_EQ(atomic_load(&from_adopted), 10);
    /* Nobody else held the P: runtime Ms ran them all. */
    CHECK_EQ(atomic_load(&ran_on_runtime_m), 30);

    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    /* 2 x (1 main + 1 + 2 + 2 + 4 + 100) + 30 */
    CHECK_EQ(st.gs_created, 2 * 110 + 50 + 30);
    CHECK(st.gs_exited <= st.gs_created);
    CHECK(st.switches >= st.gs_exited);
    CHECK(st.stack_reserved_bytes > 0);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
