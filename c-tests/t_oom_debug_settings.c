/*
 * The library's debug settings with the heap exhausted (found by a bug hunt): rt_init
 * read MRT_DEBUG, MRT_MAXPROCS, MRT_SCHEDTRACE and MRT_SCHEDDETAIL into Strings and
 * formatted its warnings with format!, and sysmon built each MRT_SCHEDTRACE text in
 * a String: a failed allocation on any of those paths aborted the host ("memory
 * allocation of N bytes failed", SIGABRT). Now they read the environment with getenv
 * and build their lines fallibly: with no memory, a warning or a schedtrace tick is
 * skipped, never fatal.
 *
 * In a forked child per case (test_oom.h makes malloc fail):
 *   init      MRT_DEBUG with an unknown key, a bad MRT_SCHEDTRACE, MRT_MAXPROCS:
 *             rt_init with about every second allocation failing, 100 rounds of
 *             init (RT_OK or RT_ENOMEM) and shutdown, then once more with every
 *             allocation succeeding: the runtime works;
 *   sched     MRT_SCHEDTRACE=1 MRT_SCHEDDETAIL=1: while every allocation fails for
 *             50 ms (sysmon would print about 50 texts), the process lives; after, a
 *             G runs. The fault bites (some allocations were refused).
 */
#include "test.h"
#include "test_oom.h"

#include <sys/resource.h>

static atomic_int ran;

static void body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void sleeper(void *arg)
{
    (void)arg;
    test_oom_set(TEST_OOM_ALL);
    struct timespec ts = { 0, 50000000 };
    /* A host call outside the runtime: the G's M sleeps, sysmon keeps ticking. */
    nanosleep(&ts, NULL);
    test_oom_set(TEST_OOM_OFF);
}

static void init_case(void)
{
    setenv("MRT_DEBUG", "migrate,no-such-key", 1);
    setenv("MRT_SCHEDTRACE", "not-a-number", 1);
    setenv("MRT_MAXPROCS", "2", 1);
    for (int i = 0; i < 100; i++) {
        test_oom_set(TEST_OOM_HALF);
        int rc = rt_init(NULL);
        test_oom_set(TEST_OOM_OFF);
        if (rc == RT_OK)
            CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
        else if (!CHECK_RC(rc, RT_ENOMEM))
            return;
    }
    CHECK(test_oom_failures() > 0);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK(rt_go(body, NULL) > 0);
}

static void sched_case(void)
{
    setenv("MRT_SCHEDTRACE", "1", 1);
    setenv("MRT_SCHEDDETAIL", "1", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(sleeper, NULL), RT_OK);
    CHECK(test_oom_failures() > 0);
    CHECK(rt_go(body, NULL) > 0);
}

static void child(void *arg)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    if (arg == NULL)
        init_case();
    else
        sched_case();
    for (int i = 0; i < 2000 && atomic_load(&ran) == 0; i++)
        usleep(1000);
    CHECK_EQ(atomic_load(&ran), 1);
    CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
}

static char err[1 << 16];

int main(void)
{
    const char *names[2] = { "init", "sched" };
    for (intptr_t c = 0; c < 2; c++) {
        int st = test_spawn(child, (void *)c, err, sizeof err);
        if (!CHECK_CHILD_OK(st))
            fprintf(stderr, "%s case, %s %d; stderr tail:\n%s\n", names[c],
                    WIFSIGNALED(st) ? "killed by signal" : "exit status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
                    strlen(err) > 2000 ? err + strlen(err) - 2000 : err);
    }
    return test_summary();
}
