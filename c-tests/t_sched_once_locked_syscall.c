/*
 * Regression test (issue 7, found in review of the RT_SCHED_ONCE fix):
 * rt_schedule(RT_SCHED_ONCE) on an adopted M runs a G that wires itself to that M
 * (rt_lockosthread) and enters a system call. sysmon hands the P to another M (there
 * is work), and the G's rt_exitsyscall finds no P: exitsyscall0 queues the locked G
 * globally. rt_schedule then waited for an idle P only, while the M that took the
 * locked G handed the only P to our M's nextp (startlockedm): it never returned. Now
 * it takes the P handed over, runs its locked G, and returns holding a P.
 * The watchdog only turns a hang into a failure with a state dump.
 */
#include "test.h"

static atomic_int g1_done, g2_started;

static void g2(void *arg)
{
    (void)arg;
    atomic_store(&g2_started, 1);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do { /* busy, no yield: keeps the P */
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 300000000L);
}

static void g1(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_OK);
    CHECK(rt_go(g2, NULL) > 0);         /* runnext of our P: work for handoffp */
    CHECK_RC(rt_entersyscall(), RT_OK);
    usleep(50000);                      /* sysmon retakes the P meanwhile */
    CHECK_RC(rt_exitsyscall(), RT_OK);  /* no P: slow path */
    CHECK_RC(rt_unlockosthread(), RT_OK);
    atomic_store(&g1_done, 1);
}

static void *watchdog(void *arg)
{
    (void)arg;
    sleep(30);
    fprintf(stderr, "HANG: rt_schedule(RT_SCHED_ONCE) did not return within 30 s "
                    "(g2_started=%d g1_done=%d)\n",
            atomic_load(&g2_started), atomic_load(&g1_done));
    rt_dump(2);
    _exit(3);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t w;
    pthread_create(&w, NULL, watchdog, NULL);
    rt_p *p0 = rt_p_get(0);
    CHECK_RC(rt_acquirep(p0), RT_OK);
    CHECK(rt_go(g1, NULL) > 0);
    int rc = rt_schedule(RT_SCHED_ONCE);
    CHECK(rc >= 0);
    CHECK(rt_getp() != NULL);               /* the host still holds a P */
    CHECK(atomic_load(&g1_done));           /* its locked G ran to the end here */
    return test_summary();
}
