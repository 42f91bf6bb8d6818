/*
 * Regression test: free G stacks cached by Ps that nobody runs are found by rt_go
 * when the arenas are full.
 *
 * An exited G's stack goes to the cache of the P it ran on; a foreign thread's rt_go
 * looks only at the global cache and the arenas. With the arenas full (here a budget
 * of 100 stacks: mprotect guards, gstackvmas=201), once the Gs had exited, rt_go
 * from a foreign thread gave RT_ENOMEM for ever while idle Ps held free stacks, and
 * a G waiting for a stack waited while idle Ps held some. Seen before the fix: the
 * second wave below got RT_ENOMEM at once (0 Gs made) with every P idle and no G
 * alive. Now idle (and dead) Ps' caches are emptied into the global one when the
 * arenas give no more.
 *
 * WAVES waves, each from a foreign thread, of Gs that park on a gate until rt_go
 * gives RT_ENOMEM (a refusal is retried once after every P has gone idle, so that no
 * stack sits with a running P); between the waves all Gs exit, and rt_gomaxprocs
 * goes 2 -> 1 -> 2 -> 2 ... (a dead P's cache counts too). Where the stacks end up
 * depends on which P ran which G, so one wave did not always fail before the fix
 * (1 run in 3); twelve did in every run. Checked: each wave gets all CAPACITY
 * stacks (started Gs), and every G made runs to its end.
 */
#include "test.h"

enum { CAPACITY = 100, WAVES = 12 };

static rt_wg gate, exited;
static atomic_long started;

static void parker(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    rt_wg_wait(&gate);
    rt_wg_done(&exited);
}

/* Makes parkers until rt_go refuses even with every P idle; returns how many. */
static long wave(void)
{
    long made = 0;
    bool retried = false;
    for (;;) {
        rt_wg_add(&exited, 1);
        int64_t id = rt_go(parker, NULL);
        if (id > 0) {
            made++;
            retried = false;
            continue;
        }
        rt_wg_add(&exited, -1);
        if (!CHECK_RC(id, RT_ENOMEM) || retried)
            break;
        retried = true;
        CHECK(test_wait_all_idle());
    }
    return made;
}

static bool wait_started(long n)
{
    for (int i = 0; i < 10000 && atomic_load(&started) < n; i++)
        usleep(1000);
    return atomic_load(&started) == n;
}

static void child(void *arg)
{
    (void)arg;
    setenv("MRT_DEBUG", "guardmprotect,gstackvmas=201", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int w = 0; w < WAVES; w++) {
        atomic_store(&started, 0);
        rt_wg_add(&gate, 1);
        long made = wave();
        CHECK(made >= CAPACITY);
        bool all = wait_started(CAPACITY);
        if (!CHECK(all))
            fprintf(stderr, "wave %d: made %ld, %ld got a stack\n", w, made,
                    atomic_load(&started));
        rt_wg_done(&gate);
        rt_wg_wait(&exited);
        CHECK_EQ(atomic_load(&started), made);
        if (!all)
            break;
        CHECK(test_wait_all_idle());
        /* Every third wave runs with P1 dead (its cache kept), one in three after
         * it came back. */
        if (w % 3 == 0)
            CHECK_EQ(rt_gomaxprocs(1), 2);
        else if (w % 3 == 1)
            CHECK_EQ(rt_gomaxprocs(2), 1);
    }
    CHECK_RC(rt_shutdown(10000000000LL), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
