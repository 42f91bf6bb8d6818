/*
 * Regression test (issue 8): spawning 100k Gs while allocations fail aborted the host
 * ("memory allocation of 504 bytes failed"): rt_go's G was allocated fallibly, but
 * queueing it on the global run queue allocated a queue block infallibly. In a forked
 * child per scenario, about every second allocation fails (test_oom.h) while 100k rt_go
 * calls are made, from a foreign thread (the Gs go to the global queue) and from a G
 * (its P's queue overflows into the global one): each returns a goid or exactly
 * RT_ENOMEM, some return RT_ENOMEM (the negative control: the fault bites), every
 * G that was accepted runs, and afterwards the runtime runs a G and moves a message.
 */
#include "test.h"
#include "test_oom.h"

#define NGO 100000

static atomic_long ran;
static test_oom_gos gos;
static test_latch spawned = TEST_LATCH_INIT;

static void body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void spawn_all(void)
{
    test_oom_go(TEST_OOM_HALF, NGO, body, &gos);
}

static void spawner_g(void *arg)
{
    (void)arg;
    spawn_all();
    test_latch_post(&spawned);
}

static void sender(void *arg)
{
    int v = 42;
    CHECK_RC(rt_chan_send(arg, &v), RT_OK);
}

static void child(void *arg)
{
    bool from_g = arg != NULL;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    if (from_g) {
        CHECK(rt_go(spawner_g, NULL) > 0);
        test_latch_wait(&spawned, 1);
    } else {
        spawn_all();
    }
    CHECK_EQ(gos.made + gos.nomem, NGO);
    CHECK_EQ(gos.other, 0);
    CHECK(gos.nomem > 0);
    CHECK(gos.made > 0);
    CHECK(test_oom_failures() > 0);
    /* Every accepted G runs (bounded by test_spawn's alarm). */
    while (atomic_load(&ran) < gos.made)
        usleep(1000);
    CHECK_EQ(atomic_load(&ran), gos.made);

    rt_chan *m = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 0, &m), RT_OK);
    CHECK(rt_go(sender, m) > 0);
    int v = 0;
    CHECK_RC(rt_chan_recv(m, &v), RT_OK);
    CHECK_EQ(v, 42);
    CHECK_RC(rt_chan_free(m), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    CHECK_CHILD_OK(test_spawn(child, (void *)1, NULL, 0));
    return test_summary();
}
