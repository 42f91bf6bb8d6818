/*
 * Regression test (issue 7): rt_schedule(RT_SCHED_ONCE) lost the caller's P when
 * GOMAXPROCS shrank below it. mrt.h promises that the M keeps its P across
 * rt_schedule (a surplus P is retired only when its holder releases it), but
 * find_runnable retired the surplus P of the calling M itself, so a host's P
 * vanished under it (seen most often with MRT_DEBUG=migrate).
 *
 * A plain pthread adopted by rt_acquirep takes the highest P (P7 of 8) and calls
 * rt_schedule(RT_SCHED_ONCE) in a loop while Gs yield, sleep and spawn short-lived
 * Gs, and another pthread cycles rt_gomaxprocs through 1, 2 and 8. After every
 * rt_schedule, rt_getp() must still be that P; at the end rt_releasep() returns it.
 * Bounded by the number of toggles (TOGGLES natively, 1/20 under valgrind;
 * MRT_TEST_TOGGLES overrides), not by time. run.sh runs it also with
 * MRT_DEBUG=migrate.
 */
#include "test.h"

#define NPROCS 8
#define NG 32
#define TOGGLES 2000
#define MIN_ROUNDS 8

static rt_wg wg = RT_WG_INIT;
static atomic_int stop, finished, lost;
static test_latch host_ready = TEST_LATCH_INIT;
static rt_p *host_p;

static void child(void *arg)
{
    (void)arg;
    rt_gosched();
    rt_wg_done(&wg);
}

static void worker(void *arg)
{
    long i = (long)(intptr_t)arg;
    uint32_t rnd = 0x2545f491u ^ (uint32_t)(i * 2654435761u);
    for (long n = 0; n < MIN_ROUNDS || (!atomic_load(&stop) && !atomic_load(&lost)); n++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 17;
        rnd ^= rnd << 5;
        switch (rnd % 3) {
        case 0:
            rt_gosched();
            break;
        case 1:
            CHECK_RC(rt_sleep((int64_t)(rnd % 50000)), RT_OK);
            break;
        default:
            rt_wg_add(&wg, 1);
            if (!CHECK(rt_go(child, NULL) > 0))
                rt_wg_done(&wg);
            break;
        }
    }
    rt_wg_done(&wg);
}

/* The host: an adopted M that drives its P with rt_schedule(RT_SCHED_ONCE). */
static void *host(void *arg)
{
    (void)arg;
    host_p = rt_p_get(NPROCS - 1);
    CHECK_RC(rt_acquirep(host_p), RT_OK);
    test_latch_post(&host_ready);
    long calls = 0;
    while (!atomic_load(&finished)) {
        int rc = rt_schedule(RT_SCHED_ONCE);
        calls++;
        rt_p *now = rt_getp();
        if (rc < 0 || now != host_p) {
            FAIL("rt_schedule(RT_SCHED_ONCE) call %ld returned %d (%s); rt_getp() is %p "
                 "(P%d), was %p (P%d)",
                 calls, rc, rc < 0 ? rt_err_name(rc) : "Gs run", (void *)now,
                 now ? rt_p_id(now) : -1, (void *)host_p, rt_p_id(host_p));
            atomic_store(&lost, 1);
            break;
        }
        if (rc == 0)
            test_relax();
    }
    CHECK(calls > 0);
    CHECK_PTR_EQ(rt_releasep(), atomic_load(&lost) ? NULL : host_p);
    if (!atomic_load(&lost))
        CHECK_RC(rt_p_put(host_p), RT_OK);
    return NULL;
}

static long toggles;

static void *toggler(void *arg)
{
    (void)arg;
    static const int counts[] = { 1, 2, NPROCS };
    for (long t = 0; t < toggles && !atomic_load(&lost); t++) {
        CHECK(rt_gomaxprocs(counts[t % 3]) > 0);
        usleep(100);
    }
    /* Leave it grown, so that the host's P is not surplus when it is handed back. */
    CHECK(rt_gomaxprocs(NPROCS) > 0);
    atomic_store(&stop, 1);
    return NULL;
}

int main(void)
{
    toggles = test_under_valgrind() ? TOGGLES / 20 : TOGGLES;
    const char *env = getenv("MRT_TEST_TOGGLES");
    if (env && atol(env) > 0)
        toggles = atol(env);

    rt_config cfg = { .size = sizeof cfg, .maxprocs = NPROCS };
    CHECK_RC(rt_init(&cfg), RT_OK);

    pthread_t h, t;
    CHECK_EQ(pthread_create(&h, NULL, host, NULL), 0);
    test_latch_wait(&host_ready, 1);

    rt_wg_add(&wg, NG);
    for (long i = 0; i < NG; i++)
        CHECK(rt_go(worker, (void *)(intptr_t)i) > 0);
    CHECK_EQ(pthread_create(&t, NULL, toggler, NULL), 0);
    pthread_join(t, NULL);
    rt_wg_wait(&wg);
    atomic_store(&finished, 1);
    pthread_join(h, NULL);

    CHECK_EQ(atomic_load(&lost), 0);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
