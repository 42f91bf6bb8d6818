/*
 * rt_wg and rt_mutex wake a G that is still on its way into the park (issue 10).
 *
 * A waiting G queues its node, drops the object's queue lock and only then parks;
 * a waker on the other P may pop the node in between, and the race is settled on the
 * node (the park is refused, the G goes on). Holding the queue lock through the
 * whole park instead made every other M that waited or woke on the object spin
 * through the parking G's switch to its successor, sched_yield after sched_yield.
 *
 * Two Gs on two Ps hand a turn back and forth 20,000 times (2,000 under valgrind), each round through a
 * fresh wait-group wait that the other side ends as soon as it sees the waiter
 * announced, and through a mutex that the other side unlocks right after the waiter
 * started to queue: every wait ends (no lost wakeup, no G woken twice: the runtime
 * throws on that), the turns add up, and the Gs finish.
 */
#include "test.h"

#define ROUNDS_NATIVE 20000
#define ROUNDS_VALGRIND 2000
static long ROUNDS;

static rt_wg turn_wg[2];
static rt_wg done;
static rt_mutex mu = RT_MUTEX_INIT;
static atomic_long rounds_seen[2];
static atomic_long mutex_rounds;
static long in_mutex; /* protected by mu */

/* Side `me` waits on turn_wg[me] (raised by the other side), then ends the other's. */
static void pinger(void *arg)
{
    int me = (int)(intptr_t)arg, other = 1 - me;
    for (long i = 0; i < ROUNDS; i++) {
        /* Announced as waiter: the other side's done wakes us, maybe mid-park. */
        rt_wg_wait(&turn_wg[me]);
        atomic_fetch_add(&rounds_seen[me], 1);
        rt_wg_add(&turn_wg[me], 1);
        rt_wg_done(&turn_wg[other]);
    }
    rt_wg_done(&done);
}

/* Two Gs contend on one mutex; the holder unlocks as soon as it holds it, so a
 * queued waiter is often woken before its park completes. */
static void locker(void *arg)
{
    (void)arg;
    for (long i = 0; i < ROUNDS; i++) {
        rt_mutex_lock(&mu);
        in_mutex++;
        rt_mutex_unlock(&mu);
    }
    atomic_fetch_add(&mutex_rounds, ROUNDS);
    rt_wg_done(&done);
}

static void main_g(void *arg)
{
    (void)arg;
    /* Side 0 goes first: its wait group starts at 0, side 1's at 1. */
    rt_wg_add(&turn_wg[1], 1);
    rt_wg_add(&done, 4);
    CHECK(rt_go(pinger, (void *)(intptr_t)0) > 0);
    CHECK(rt_go(pinger, (void *)(intptr_t)1) > 0);
    CHECK(rt_go(locker, NULL) > 0);
    CHECK(rt_go(locker, NULL) > 0);
    rt_wg_wait(&done);
}

int main(void)
{
    ROUNDS = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(atomic_load(&rounds_seen[0]), ROUNDS);
    CHECK_EQ(atomic_load(&rounds_seen[1]), ROUNDS);
    CHECK_EQ(atomic_load(&mutex_rounds), 2 * ROUNDS);
    CHECK_EQ(in_mutex, 2 * ROUNDS);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
