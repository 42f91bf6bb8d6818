/*
 * G descriptors come in blocks (issue 10): a new G is carved from the current block,
 * without a malloc of its own, and an allocation that fails in the middle of a block
 * is RT_ENOMEM with nothing half made. In a forked child with 1 P, PARKED Gs are made
 * and kept alive (waiting on a gate), so no free descriptor exists and every new G
 * needs a new one. Then every malloc fails (test_oom.h, TEST_OOM_ALL) while this
 * foreign thread calls rt_go TRIES times: each returns a goid or exactly RT_ENOMEM;
 * some succeed (the current block still has room and the runtime's lists their
 * reserved capacity; when each G was its own malloc, every one of them failed) and
 * some fail (the negative control: the fault bites); rt_getstats counts exactly the
 * Gs accepted. Once malloc works again more Gs are made, every accepted G runs and
 * exits when the gate opens, and rt_shutdown returns RT_OK.
 * (Not run under valgrind, which replaces malloc: the fault would never bite.)
 */
#include "test.h"
#include "test_oom.h"

#define PARKED 20
#define TRIES 200
#define AFTER 50
#define BOUND 20000

static rt_wg gate = RT_WG_INIT;
static atomic_long started, exited;

static void waiter(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    rt_wg_wait(&gate);
    atomic_fetch_add(&exited, 1);
}

static bool wait_count(atomic_long *c, long want)
{
    for (long n = 0; atomic_load(c) < want && n < BOUND; n++)
        usleep(1000);
    return CHECK_EQ(atomic_load(c), want);
}

static void child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_wg_add(&gate, 1);
    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);
    for (int i = 0; i < PARKED; i++)
        CHECK(rt_go(waiter, NULL) > 0);
    wait_count(&started, PARKED);

    test_oom_gos gos = { 0 };
    test_oom_go(TEST_OOM_ALL, TRIES, waiter, &gos);
    long accepted = gos.made;
    fprintf(stderr, "  with every malloc failing: %ld Gs made, %ld refused\n", accepted, gos.nomem);
    CHECK(accepted > 0);
    CHECK(gos.nomem > 0);
    CHECK_EQ(gos.other, 0);
    CHECK(test_oom_failures() > 0);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.gs_created - st0.gs_created, PARKED + accepted);
    CHECK_EQ(st.goroutines, PARKED + accepted);
    /* The accepted ones run (and wait at the gate) as the others did. */
    wait_count(&started, PARKED + accepted);

    for (int i = 0; i < AFTER; i++)
        CHECK(rt_go(waiter, NULL) > 0);
    long total = PARKED + accepted + AFTER;
    wait_count(&started, total);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.goroutines, total);
    rt_wg_done(&gate);
    wait_count(&exited, total);
    CHECK(test_wait_all_idle());
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.goroutines, 0);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
