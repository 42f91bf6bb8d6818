/*
 * rt_shutdown while host threads hand Ps around: every P call a host thread makes
 * meanwhile answers with a code its contract names for that moment, RT_ESHUTDOWN
 * once the shutdown has begun (never RT_EINVAL for a P the caller got from rt_p_get
 * or rt_releasep of this same runtime, nor a crash). Two host threads loop over
 * rt_p_get, rt_acquirep, rt_schedule(ONCE), rt_releasep and rt_p_put while the main
 * thread runs Gs with rt_main and shuts down, round after round.
 */
#include "test.h"

#include <pthread.h>

#define HOSTS 2

static atomic_int stopped;
static atomic_long acquired, bad;
static test_latch started = TEST_LATCH_INIT;

static void unexpected(const char *call, int rc)
{
    atomic_fetch_add(&bad, 1);
    FAIL("%s: %d (%s)", call, rc, rt_err_name(rc));
}

static void leaf(void *arg)
{
    rt_gosched();
    rt_wg_done(arg);
}

static void spawner(void *arg)
{
    (void)arg;
    rt_wg wg = RT_WG_INIT;
    for (int i = 0; i < 200; i++) {
        rt_wg_add(&wg, 1);
        if (!CHECK(rt_go(leaf, &wg) > 0))
            rt_wg_done(&wg);
    }
    rt_wg_wait(&wg);
}

static void *host(void *arg)
{
    int id = (int)(intptr_t)arg;
    test_latch_post(&started);
    for (;;) {
        int done = atomic_load(&stopped);
        rt_p *p = rt_p_get(id);
        if (p) {
            int rc = rt_acquirep(p);
            if (rc == RT_OK) {
                atomic_fetch_add(&acquired, 1);
                rc = rt_schedule(RT_SCHED_ONCE);
                if (rc < 0 && rc != RT_ESHUTDOWN)
                    unexpected("rt_schedule", rc);
                rt_p *q = rt_releasep();
                if (q) {
                    rc = rt_p_put(q);
                    if (rc != RT_OK && rc != RT_ESHUTDOWN)
                        unexpected("rt_p_put", rc);
                }
            } else if (rc != RT_EBUSY && rc != RT_ESHUTDOWN) {
                unexpected("rt_acquirep", rc);
            }
        }
        if (done)
            break;
        test_relax();
    }
    return NULL;
}

int main(void)
{
    int rounds = test_under_valgrind() ? 3 : 40;
    for (int r = 0; r < rounds && !atomic_load(&bad); r++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = HOSTS };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&stopped, 0);
        pthread_t t[HOSTS];
        for (int i = 0; i < HOSTS; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, host, (void *)(intptr_t)i), 0);
        test_latch_wait(&started, (long)(r + 1) * HOSTS);
        CHECK_RC(rt_main(spawner, NULL), RT_OK);
        CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
        atomic_store(&stopped, 1);
        for (int i = 0; i < HOSTS; i++)
            CHECK_EQ(pthread_join(t[i], NULL), 0);
    }
    CHECK_EQ(atomic_load(&bad), 0);
    return test_summary();
}
