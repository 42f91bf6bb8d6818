/*
 * Migration safety (issue 3, item 8). With MRT_DEBUG=migrate in the environment before
 * rt_init, every rt_gosched sends the G through the global queue so that another M
 * resumes it where one can. Several Gs on 2 Ps make >= 1,000,000 rt_gosched switches
 * in all; after each one the runtime's idea of the current M must match the OS thread
 * the code runs on (rt_m_getinfo(rt_getm()).tid == gettid(), and that M says it runs
 * this G), and >= 10,000 of the switches must have moved the G to another thread
 * (short of that, the switchers go on, up to 5x as many switches: how often the OS
 * runs the other M meanwhile is up to the machine's load).
 * Negative control: a G that keeps the address of a __thread variable (and of errno)
 * across rt_gosched sees it differ from the fresh address at least once: the very bug
 * (a stale thread-local address) this mode exists to flush out is visible to the test.
 *
 * Under valgrind (which serialises threads and is ~50x slower) the counts are reduced
 * to 1/50 (MRT_TEST_MIGRATE_SWITCHES overrides the total).
 */
#include "test.h"

#define NG 4

static long switches_per_g, want_migrations;
static atomic_long total_switches, total_migrations, mismatches;
/* Migrations so far, counted 64 at a time while the switchers run. */
static atomic_long live_migrations;
static rt_wg wg = RT_WG_INIT;

static void switcher(void *arg)
{
    (void)arg;
    long migrations = 0, bad = 0, i;
    int64_t tid = test_gettid();
    /* The share of switches that move depends on how often the OS runs the other M
     * meanwhile, which load elsewhere on the machine decides (9,598 in 10^6 once,
     * at load 5): short of the wanted count, go on, up to 5x the switches. */
    for (i = 0; i < switches_per_g ||
                (atomic_load(&live_migrations) < want_migrations && i < 5 * switches_per_g);
         i++) {
        rt_gosched();
        int64_t now = test_gettid();
        rt_m *m = rt_getm();
        rt_m_info mi = { .size = sizeof mi };
        if (m == NULL || rt_m_getinfo(m, &mi) != RT_OK || mi.tid != now ||
            mi.curg != rt_goid()) {
            if (bad++ < 3)
                FAIL("after switch %ld: M %p reports tid %" PRId64 " curg %" PRId64
                     ", running on tid %" PRId64 " as G %" PRId64,
                     i, (void *)m, mi.tid, mi.curg, now, rt_goid());
        }
        if (now != tid) {
            migrations++;
            if ((migrations & 63) == 0)
                atomic_fetch_add(&live_migrations, 64);
        }
        tid = now;
    }
    atomic_fetch_add(&total_switches, i);
    atomic_fetch_add(&total_migrations, migrations);
    atomic_fetch_add(&mismatches, bad);
    rt_wg_done(&wg);
}

/* ---- negative control ---- */

static __thread int tl_var;

/* The address of tl_var as the current thread sees it, computed afresh. */
static __attribute__((noinline)) int *tl_addr(void)
{
    int *p = &tl_var;
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* errno's address through a pointer the compiler cannot see through
 * (__errno_location is declared const, so a direct call may be folded). */
static int *(*volatile errno_loc)(void) = __errno_location;

static atomic_long stale_tls, stale_errno, control_migrations;

static void control(void *arg)
{
    (void)arg;
    long n = switches_per_g / 10 + 100;
    /* On a loaded machine the other M may not get a CPU for a while: keep going (up
     * to 100 times as long) until the G has moved at least once. */
    for (long i = 0; i < n || (atomic_load(&control_migrations) == 0 && i < 100 * n); i++) {
        int *cached = tl_addr();
        int *cached_errno = errno_loc();
        int64_t tid = test_gettid();
        rt_gosched();
        if (tl_addr() != cached)
            atomic_fetch_add(&stale_tls, 1);
        if (errno_loc() != cached_errno)
            atomic_fetch_add(&stale_errno, 1);
        if (test_gettid() != tid)
            atomic_fetch_add(&control_migrations, 1);
    }
    rt_wg_done(&wg);
}

int main(void)
{
    if (setenv("MRT_DEBUG", "migrate", 1) != 0) {
        FAIL("setenv: %s", strerror(errno));
        return test_summary();
    }
    long total = test_under_valgrind() ? 20000 : 1000000;
    const char *env = getenv("MRT_TEST_MIGRATE_SWITCHES");
    if (env && atol(env) > 0)
        total = atol(env);
    switches_per_g = (total + NG - 1) / NG;
    /* valgrind runs one thread at a time, so another M rarely gets to take a yielded
     * G there: the migration counts are checked natively only; the consistency
     * checks (tid == M's tid, stale address <=> migration) hold everywhere. */
    want_migrations = test_under_valgrind() ? 0 : total / 100;

    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    rt_wg_add(&wg, NG);
    for (int i = 0; i < NG; i++)
        CHECK(rt_go(switcher, NULL) > 0);
    rt_wg_wait(&wg);
    CHECK(atomic_load(&total_switches) >= total);
    CHECK_EQ(atomic_load(&mismatches), 0);
    if (!CHECK(atomic_load(&total_migrations) >= want_migrations))
        fprintf(stderr, "  %ld migrations in %ld switches (want >= %ld)\n",
                atomic_load(&total_migrations), atomic_load(&total_switches),
                want_migrations);

    /* Negative control, with a companion G so that there is somewhere to move to. */
    rt_wg_add(&wg, 2);
    CHECK(rt_go(control, NULL) > 0);
    CHECK(rt_go(switcher, NULL) > 0);
    rt_wg_wait(&wg);
    if (!test_under_valgrind()) {
        CHECK(atomic_load(&control_migrations) > 0);
        if (!CHECK(atomic_load(&stale_tls) > 0))
            fprintf(stderr, "  a cached __thread address never went stale (%ld migrations)\n",
                    atomic_load(&control_migrations));
        CHECK(atomic_load(&stale_errno) > 0);
    }
    /* a stale address is seen exactly when the thread changed */
    CHECK_EQ(atomic_load(&stale_tls), atomic_load(&control_migrations));

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
