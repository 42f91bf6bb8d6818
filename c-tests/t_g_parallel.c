/*
 * True parallelism (the idea of Go's proc_test.go TestGoroutineParallelism): two Gs on
 * two Ps advance in lock-step. Each publishes its step and then busy-waits, without
 * yielding the P (rt_gosched is never called), until the other has reached the same
 * step; that can only finish if both run at the same time on two Ms. The wait is
 * bounded, so a scheduler that does not run them in parallel fails a CHECK instead of
 * hanging.
 * Negative control: with 1 P the same pair must NOT manage it (the first G exhausts
 * its bound while the other sits in the queue), which shows the test can fail.
 */
#include "test.h"

#define STEPS 2000
#define BOUND 5000000L /* relax steps a G waits for its partner at one step */
#define CONTROL_BOUND 20000L /* the same with 1 P, where it can never arrive */

static long bound;

static atomic_long counter[2];
static atomic_int stalled[2];
static _Atomic int64_t tid_of[2];
static rt_wg done = RT_WG_INIT;

static void lockstep(void *arg)
{
    int me = (int)(intptr_t)arg, other = 1 - me;
    atomic_store(&tid_of[me], test_gettid());
    for (long s = 1; s <= STEPS; s++) {
        atomic_store(&counter[me], s);
        long n = 0;
        while (atomic_load(&counter[other]) < s && n < bound) {
            test_relax();
            n++;
        }
        if (atomic_load(&counter[other]) < s) {
            atomic_store(&stalled[me], 1);
            break;
        }
    }
    rt_wg_done(&done);
}

/* Runs the pair once; returns whether both finished every step. */
static bool run_pair(long b)
{
    bound = b;
    for (int i = 0; i < 2; i++) {
        atomic_store(&counter[i], 0);
        atomic_store(&stalled[i], 0);
        atomic_store(&tid_of[i], 0);
    }
    rt_wg_add(&done, 2);
    CHECK(rt_go(lockstep, (void *)0) > 0);
    CHECK(rt_go(lockstep, (void *)1) > 0);
    rt_wg_wait(&done);
    return !atomic_load(&stalled[0]) && !atomic_load(&stalled[1]) &&
           atomic_load(&counter[0]) == STEPS && atomic_load(&counter[1]) == STEPS;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    /* Two Ps: several rounds, each must finish in lock-step on two threads. */
    for (int round = 0; round < 3; round++) {
        if (!CHECK(run_pair(BOUND)))
            fprintf(stderr, "  round %d: counters %ld %ld, stalled %d %d\n", round,
                    atomic_load(&counter[0]), atomic_load(&counter[1]),
                    atomic_load(&stalled[0]), atomic_load(&stalled[1]));
        CHECK(atomic_load(&tid_of[0]) != atomic_load(&tid_of[1]));
    }

    /* Negative control: 1 P cannot run them in parallel. (Shrink once both Ps are
     * back in the pool: t_g_gomaxprocs_shrink covers shrinking under load.) */
    CHECK(test_wait_all_idle());
    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK(!run_pair(CONTROL_BOUND));
    CHECK(atomic_load(&stalled[0]) || atomic_load(&stalled[1]));

    /* And back to 2 Ps. */
    CHECK_EQ(rt_gomaxprocs(2), 1);
    CHECK(run_pair(BOUND));

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
