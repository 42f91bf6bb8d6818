/*
 * Regression test (issue 10): rt_go's galloc promises a new G a stack when one sits
 * in the stack caches, but two Gs made back to back are both promised the same one.
 * When the arenas could give no more, the second G found no stack when it was to run
 * and went straight back to the global run queue, where the M took it again at once:
 * a busy loop on the P for as long as no stack was freed. Now it waits off the run
 * queues until a G exits (or sysmon looks again), and the P goes idle meanwhile.
 *
 * 1 P, mprotect guards within a budget of 201 VMAs (100 stacks, as in
 * t_g_stack_arena). A filler G parks Gs one at a time until one more would leave a
 * single stack obtainable, then makes B and A back to back (both promised the last
 * stack, cached by the first rt_go) and parks. A runs first, takes the stack and
 * parks; B cannot have one. Checked:
 * every P goes idle (before the fix the P spun on B for ever, and this failed after
 * test_wait_all_idle's 10 s), and once the parked Gs are released B gets a stack
 * and runs.
 */
#include "test.h"

enum { CAPACITY = 100 };

static rt_wg gate, started, exited, ran;
static atomic_int a_ran, b_ran;
static test_latch made = TEST_LATCH_INIT;

static void parker(void *arg)
{
    (void)arg;
    rt_wg_done(&started);
    rt_wg_wait(&gate);
    rt_wg_done(&exited);
}

static void a_g(void *arg)
{
    (void)arg;
    atomic_store(&a_ran, 1);
    rt_wg_done(&ran);
    rt_wg_wait(&gate);
    rt_wg_done(&exited);
}

static void b_g(void *arg)
{
    (void)arg;
    atomic_store(&b_ran, 1);
    rt_wg_done(&ran);
}

static void filler(void *arg)
{
    (void)arg;
    /* The filler holds one stack, each parker one; A takes the last. */
    for (int i = 0; i < CAPACITY - 2; i++) {
        rt_wg_add(&started, 1);
        rt_wg_add(&exited, 1);
        if (!CHECK(rt_go(parker, NULL) > 0))
            break;
        rt_wg_wait(&started);
    }
    rt_wg_add(&exited, 1); /* A */
    rt_wg_add(&ran, 2);
    /* Back to back: B is promised the stack A's rt_go put in the cache; A, made
     * last, runs first (runnext) and takes it. */
    CHECK(rt_go(b_g, NULL) > 0);
    CHECK(rt_go(a_g, NULL) > 0);
    test_latch_post(&made);
    rt_wg_wait(&gate);
    rt_wg_done(&exited);
}

static void child(void *arg)
{
    (void)arg;
    setenv("MRT_DEBUG", "guardmprotect,gstackvmas=201", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_wg_add(&gate, 1);
    rt_wg_add(&exited, 1); /* the filler */
    CHECK(rt_go(filler, NULL) > 0);
    test_latch_wait(&made, 1);
    /* A and the filler park, B waits for a stack: nothing is left to run. */
    CHECK(test_wait_all_idle());
    CHECK_EQ(atomic_load(&a_ran), 1);
    CHECK_EQ(atomic_load(&b_ran), 0);
    /* Stacks come free: B runs. */
    rt_wg_done(&gate);
    rt_wg_wait(&ran);
    rt_wg_wait(&exited);
    CHECK_EQ(atomic_load(&b_ran), 1);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    exit(test_summary());
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
