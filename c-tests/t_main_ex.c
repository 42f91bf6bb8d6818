/*
 * rt_main_ex: rt_main with rt_go_ex's attributes for the main G.
 *  - Bad input is RT_EINVAL with nothing held afterwards: a NULL fn, a size that does
 *    not cover `flags`, unknown flag bits (the calling thread has no P after each, so
 *    the next rt_main_ex works).
 *  - NULL attr is rt_main.
 *  - The name reaches rt_dump: the main G's line says name="host-main".
 *  - RT_G_ASYNC_PREEMPT applies to the main G: on 1 P, it spins without a call until
 *    a G it started has run, which only asynchronous preemption allows (not under
 *    valgrind, where it is off; there the G yields instead).
 */
#include "dump_stuck.h"

static atomic_int ran, other_ran;

static void count(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void named_main(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    char *d = test_dump_text();
    if (CHECK(d != NULL)) {
        /* the running G's line carries its name */
        const char *line = strstr(d, "[running (this dump)]");
        CHECK(line != NULL);
        CHECK(strstr(d, "name=\"host-main\"") != NULL);
        if (atomic_load(&test_failed_) > 0)
            fputs(d, stderr);
    }
    free(d);
}

static void other(void *arg)
{
    (void)arg;
    atomic_store(&other_ran, 1);
}

static void spinning_main(void *arg)
{
    (void)arg;
    CHECK(rt_go(other, NULL) > 0);
    if (test_under_valgrind()) {
        while (!atomic_load(&other_ran))
            rt_gosched();
        return;
    }
    /* No call into libmrt: only an asynchronous preemption lets `other` run. */
    while (!atomic_load_explicit(&other_ran, memory_order_relaxed))
        __asm__ volatile("pause");
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    rt_go_attr a = { .size = sizeof a };
    CHECK_RC(rt_main_ex(NULL, NULL, &a), RT_EINVAL);
    a.size = 4; /* does not cover flags */
    CHECK_RC(rt_main_ex(count, NULL, &a), RT_EINVAL);
    a.size = sizeof a;
    a.flags = 0x80000000u;
    CHECK_RC(rt_main_ex(count, NULL, &a), RT_EINVAL);
    CHECK_EQ(atomic_load(&ran), 0);

    CHECK_RC(rt_main_ex(count, NULL, NULL), RT_OK);
    CHECK_EQ(atomic_load(&ran), 1);

    a.flags = 0;
    a.name = "host-main";
    CHECK_RC(rt_main_ex(named_main, NULL, &a), RT_OK);
    CHECK_EQ(atomic_load(&ran), 2);

    a.flags = RT_G_ASYNC_PREEMPT;
    a.name = NULL;
    CHECK_RC(rt_main_ex(spinning_main, NULL, &a), RT_OK);
    CHECK_EQ(atomic_load(&other_ran), 1);

    CHECK_RC(rt_shutdown(test_under_valgrind() ? 60000000000LL : 20000000000LL), RT_OK);
    return test_summary();
}
