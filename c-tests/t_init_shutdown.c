/*
 * rt_init / rt_shutdown state machine: init, RT_EALREADY, shutdown, RT_ESHUTDOWN for
 * every call that needs the runtime, re-init (several cycles, with Ms and Ps in use),
 * config validation and the config fields, rt_shutdown from an M -> RT_EPERM.
 */
#include "test.h"

#include <sched.h>
#include <time.h>

static test_latch started = TEST_LATCH_INIT;

static void note_start(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

static int shutdown_rc_from_m = 1;
static test_latch shutdown_tried = TEST_LATCH_INIT;

static void shutdown_from_m(void *arg)
{
    (void)arg;
    shutdown_rc_from_m = rt_shutdown(-1);
    test_latch_post(&shutdown_tried);
}

/* Every call that needs the runtime says RT_ESHUTDOWN; pointer getters say NULL. */
static void check_not_running(void)
{
    rt_stats st;
    rt_m *m = (rt_m *)0x1;
    CHECK_RC(rt_shutdown(-1), RT_ESHUTDOWN);
    CHECK_RC(rt_shutdown(0), RT_ESHUTDOWN);
    CHECK_RC(rt_gomaxprocs(0), RT_ESHUTDOWN);
    CHECK_RC(rt_gomaxprocs(4), RT_ESHUTDOWN);
    CHECK_RC(test_stats(&st), RT_ESHUTDOWN);
    CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_allocm(NULL, note_start, NULL, &m), RT_ESHUTDOWN);
    CHECK(m == (rt_m *)0x1 || m == NULL); /* no M handed out */
    CHECK_PTR_EQ(rt_p_get(0), NULL);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_PTR_EQ(rt_releasep(), NULL);
    /* Pure functions keep working. */
    CHECK_STR_EQ(rt_err_name(RT_EINVAL), "RT_EINVAL");
    CHECK(rt_version() != NULL);
}

/* Start k Ms and wait until each ran its start function; return the new total. */
static long start_ms(int k, long total)
{
    for (int i = 0; i < k; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    total += k;
    test_latch_wait(&started, total);
    return total;
}

/* Ms are joined by rt_shutdown: the OS thread count returns to `want`. There is no
   event to wait on for the kernel reaping a thread, so poll (bounded, 10 s). */
static void check_os_threads_back_to(int want)
{
    int n = test_os_threads();
    for (int i = 0; i < 10000 && n != want; i++) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
        n = test_os_threads();
    }
    CHECK_EQ(n, want);
}

int main(void)
{
    int base_threads = test_os_threads();
    long total = 0;

    /* A bad config is refused before anything starts, and leaves the runtime off. */
    rt_config bad = { 0 };
    CHECK_RC(rt_init(&bad), RT_EINVAL);
    bad.size = 4; /* smaller than the first field after size */
    CHECK_RC(rt_init(&bad), RT_EINVAL);

    /* init, init again, shutdown, shutdown again. */
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_init(NULL), RT_EALREADY);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 3 };
    CHECK_RC(rt_init(&cfg), RT_EALREADY);
    CHECK(rt_gomaxprocs(0) >= 1);
    total = start_ms(4, total);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    check_not_running();
    check_os_threads_back_to(base_threads);

    /* Several cycles, each with its own config, Ms and a P used by this thread. */
    for (int cycle = 1; cycle <= 3; cycle++) {
        rt_config c = { .size = sizeof c, .maxprocs = cycle + 1, .g0_stack_size = 512 << 10 };
        CHECK_RC(rt_init(&c), RT_OK);
        CHECK_EQ(rt_gomaxprocs(0), cycle + 1);
        rt_stats st;
        CHECK_RC(test_stats(&st), RT_OK);
        CHECK_EQ(st.maxprocs, cycle + 1);
        CHECK_EQ(st.idle_procs, cycle + 1);
        total = start_ms(2 * cycle, total);
        rt_p *p = rt_p_get(cycle);
        CHECK(p != NULL);
        CHECK_RC(rt_acquirep(p), RT_OK);
        CHECK_PTR_EQ(rt_releasep(), p);
        CHECK_RC(rt_p_put(p), RT_OK);
        /* Timeouts: forever, 0 and 5 s. There are no Gs to wait for, so even 0 must
           succeed (RT_ETIMEDOUT would leave the runtime running: then stop it). */
        int64_t timeout = cycle == 1 ? -1 : cycle == 2 ? 0 : 5000000000;
        int rc = rt_shutdown(timeout);
        if (!CHECK_RC(rc, RT_OK) && rc == RT_ETIMEDOUT) {
            fprintf(stderr, "  (rt_shutdown(%" PRId64 ") with no Gs timed out)\n", timeout);
            CHECK_RC(rt_shutdown(-1), RT_OK);
        }
        check_not_running();
        check_os_threads_back_to(base_threads);
    }

    /* A config larger than the library knows is accepted (the struct may grow). */
    struct {
        rt_config c;
        uint64_t future[4];
    } big;
    memset(&big, 0, sizeof big);
    big.c.size = sizeof big;
    big.c.maxprocs = 2;
    CHECK_RC(rt_init(&big.c), RT_OK);
    CHECK_EQ(rt_gomaxprocs(0), 2);
    CHECK_RC(rt_shutdown(-1), RT_OK);

    /* maxprocs 0: $MRT_MAXPROCS ... */
    setenv("MRT_MAXPROCS", "5", 1);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_EQ(rt_gomaxprocs(0), 5);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    unsetenv("MRT_MAXPROCS");

    /* ... else the CPUs in the affinity mask. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        CHECK_RC(rt_init(NULL), RT_OK);
        CHECK_EQ(rt_gomaxprocs(0), CPU_COUNT(&set));
        CHECK_RC(rt_shutdown(-1), RT_OK);
        cpu_set_t one;
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set)) {
                CPU_SET(c, &one);
                break;
            }
        if (sched_setaffinity(0, sizeof one, &one) == 0) {
            CHECK_RC(rt_init(NULL), RT_OK);
            CHECK_EQ(rt_gomaxprocs(0), 1);
            CHECK_RC(rt_shutdown(-1), RT_OK);
            sched_setaffinity(0, sizeof set, &set);
        }
    }

    /* rt_shutdown from a runtime-created M would wait for itself: RT_EPERM. */
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_newm(shutdown_from_m, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&shutdown_tried, 1);
    CHECK_RC(shutdown_rc_from_m, RT_EPERM);
    CHECK_EQ(rt_gomaxprocs(0) > 0, 1); /* still running */

    /* An adopted foreign thread (this one) may shut down. */
    rt_p *p = rt_p_get(0);
    CHECK_RC(rt_acquirep(p), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p);
    CHECK_RC(rt_p_put(p), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    check_not_running();
    check_os_threads_back_to(base_threads);

    return test_summary();
}
