/*
 * rt_schedule on a host thread whose P rt_shutdown takes meanwhile: the call must say
 * RT_ESHUTDOWN (its documented error for a runtime that stops), never RT_EINVAL. A
 * host thread acquires a P and calls rt_schedule(RT_SCHED_ONCE) in a loop while the
 * main thread shuts the runtime down; rt_shutdown unwires the adopted M (its P is
 * freed) under the sched lock and only then marks the runtime stopped, so a call that
 * saw the runtime running found no P there and answered RT_EINVAL ("an M with no
 * P"). Every answer must be a count (>= 0) or RT_ESHUTDOWN. Each round first runs a
 * few hundred Gs, so that rt_shutdown has stack arenas to unmap in that window.
 */
#include "test.h"

#include <pthread.h>

#define LEAVES 300

static test_latch ready = TEST_LATCH_INIT;
static atomic_int stopped;
static atomic_long calls, bad, ran;

static void leaf(void *arg)
{
    volatile char buf[2048];
    buf[0] = 1;
    buf[sizeof buf - 1] = buf[0];
    atomic_fetch_add(&ran, 1);
    rt_wg_done(arg);
}

static void spawner(void *arg)
{
    (void)arg;
    rt_wg wg = RT_WG_INIT;
    for (int i = 0; i < LEAVES; i++) {
        rt_wg_add(&wg, 1);
        if (!CHECK(rt_go(leaf, &wg) > 0))
            rt_wg_done(&wg);
    }
    rt_wg_wait(&wg);
}

static void *host(void *arg)
{
    (void)arg;
    rt_p *p = rt_p_get(1);
    if (!CHECK(p != NULL)) {
        test_latch_post(&ready);
        return NULL;
    }
    CHECK_RC(rt_acquirep(p), RT_OK);
    test_latch_post(&ready);
    for (;;) {
        /* Read before the call: once rt_shutdown returned, one more call ends it. */
        int done = atomic_load(&stopped);
        int rc = rt_schedule(RT_SCHED_ONCE);
        atomic_fetch_add(&calls, 1);
        if (rc >= 0)
            continue;
        if (rc != RT_ESHUTDOWN) {
            atomic_fetch_add(&bad, 1);
            CHECK_RC(rc, RT_ESHUTDOWN);
        }
        if (done)
            break;
    }
    return NULL;
}

int main(void)
{
    int rounds = test_under_valgrind() ? 4 : 150;
    for (int r = 0; r < rounds; r++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&stopped, 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, host, NULL), 0);
        test_latch_wait(&ready, r + 1);
        CHECK_RC(rt_main(spawner, NULL), RT_OK);
        CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
        atomic_store(&stopped, 1);
        CHECK_EQ(pthread_join(t, NULL), 0);
        if (atomic_load(&bad) != 0)
            break;
    }
    CHECK(atomic_load(&calls) >= rounds);
    CHECK(atomic_load(&ran) > 0);
    return test_summary();
}
