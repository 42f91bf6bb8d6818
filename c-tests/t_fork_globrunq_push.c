/*
 * fork() while foreign threads feed the global run queue with rt_go (issue 8): a push
 * in flight in another thread at the fork never completes in the child. The old
 * rt_init drained the parent's queue by popping, and a pop that reaches the claimed
 * but never written slot waits for it forever: 1-2 in 60 children hung in rt_init.
 * Every child must finish rt_init and run a G of its own (bounded wait, else
 * SIGALRM). Negative control: the same child forked while nobody pushes.
 */
#include "test.h"

#define FEEDERS 4

static atomic_int stop;
static atomic_long done_gs;
static test_latch ran = TEST_LATCH_INIT;

static void noop(void *arg)
{
    (void)arg;
    atomic_fetch_add(&done_gs, 1);
}

static void *feeder(void *arg)
{
    long made = 0;
    (void)arg;
    while (!atomic_load(&stop)) {
        /* Bounded backlog: at most ~20000 unrun Gs per feeder. */
        if (made - atomic_load(&done_gs) / FEEDERS > 20000) {
            sched_yield();
            continue;
        }
        if (rt_go(noop, NULL) <= 0) {
            FAIL("rt_go from a feeder failed");
            break;
        }
        made++;
    }
    return NULL;
}

static void mark(void *arg)
{
    (void)arg;
    test_latch_post(&ran);
}

static void child(void *arg)
{
    (void)arg;
    alarm(5); /* a hang in rt_init is a failure, reported as SIGALRM */
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK(rt_go(mark, NULL) > 0);
    CHECK(test_latch_wait_for(&ran, 1, 4));
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0)); /* negative control */

    pthread_t th[FEEDERS];
    for (int i = 0; i < FEEDERS; i++)
        pthread_create(&th[i], NULL, feeder, NULL);
    int forks = test_under_valgrind() ? 10 : 60, bad = 0;
    for (int i = 0; i < forks; i++)
        if (!CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0)))
            bad++;
    CHECK_EQ(bad, 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < FEEDERS; i++)
        pthread_join(th[i], NULL);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
