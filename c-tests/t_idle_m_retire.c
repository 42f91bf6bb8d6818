/*
 * Idle runtime-created Ms retire (docs/api.md: after 60 s without work; here after
 * 200 ms, MRT_DEBUG=idlemretire=200). Only one idle M at a time, the watcher, sleeps
 * with the retirement timeout (a timed futex sleep on the way to idle made the next
 * rt_newm's thread start later); when its time is up it retires with every idle M
 * whose time is up, and makes the one idle longest of the rest the watcher.
 *
 * 1. Three Ms made with rt_newm go idle some 60 ms apart: the first is the watcher,
 *    the others sleep with no timeout. All three retire: the later two only if the
 *    watcher role is handed on (a watcher that retired only itself would leave them
 *    asleep for good, and this phase would not end).
 * 2. Gs run on idle Ms (startm takes them off the idle list, the watcher among them
 *    or not), then every M goes idle again: all of them retire.
 * 3. The runtime still makes threads and runs Gs; rt_shutdown joins what is left.
 * Waits are bounded (30 s, a hang guard, not a timing assertion).
 */
#include "test.h"

static test_latch started = TEST_LATCH_INIT;

static void mstart(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

/* Waits until the runtime's Ms number at most `threads`, none of them idle. */
static bool wait_retired(int64_t threads)
{
    for (int i = 0; i < 30000; i++) {
        rt_stats st;
        if (test_stats(&st) == RT_OK && st.threads <= threads && st.idle_threads == 0)
            return true;
        usleep(1000);
    }
    return false;
}

static bool wait_idle_ms(int64_t n)
{
    for (int i = 0; i < 30000; i++) {
        rt_stats st;
        if (test_stats(&st) == RT_OK && st.idle_threads >= n)
            return true;
        usleep(1000);
    }
    return false;
}

static atomic_long ran;

static void work(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++)
        rt_sleep(100000); /* 0.1 ms: the G parks, its M looks for work or idles */
    atomic_fetch_add(&ran, 1);
}

int main(void)
{
    setenv("MRT_DEBUG", "idlemretire=200", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 4 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_stats st0;
    CHECK_RC(test_stats(&st0), RT_OK);

    /* 1. */
    for (int i = 0; i < 3; i++) {
        CHECK_RC(rt_newm(mstart, NULL, NULL, NULL), RT_OK);
        test_latch_wait(&started, i + 1);
        CHECK(wait_idle_ms(1));
        usleep(60000);
    }
    CHECK(wait_retired(st0.threads));

    /* 2. */
    for (int i = 0; i < 3; i++) {
        CHECK_RC(rt_newm(mstart, NULL, NULL, NULL), RT_OK);
        usleep(20000);
    }
    test_latch_wait(&started, 6);
    for (int i = 0; i < 16; i++)
        CHECK(rt_go(work, NULL) > 0);
    for (int i = 0; i < 30000 && atomic_load(&ran) < 16; i++)
        usleep(1000);
    CHECK_EQ(atomic_load(&ran), 16);
    /* sysmon, started by the first G, is an M that does not idle. */
    CHECK(wait_retired(st0.threads + 1));

    /* 3. */
    CHECK_RC(rt_newm(mstart, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 7);
    CHECK(rt_go(work, NULL) > 0);
    for (int i = 0; i < 30000 && atomic_load(&ran) < 17; i++)
        usleep(1000);
    CHECK_EQ(atomic_load(&ran), 17);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
