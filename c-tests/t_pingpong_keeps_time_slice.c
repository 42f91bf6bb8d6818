/*
 * Two Gs that wake each other through runnext share one time slice, as in Go: a third
 * runnable G on the same P waits until the pair is done or sysmon preempts it (10 ms
 * into the slice). libmrt used to cut such a streak after 64 hand-offs whenever the
 * ring held another G, a stop-gap from before it had preemption; with preemption it
 * gave a ping-pong pair a sliver of the P next to a computing G (Go's TestPingPongHog
 * measured hog/light ratios of 3 to 8).
 *
 * The third G yields until the exchange has begun, so it sits at the tail of the P's
 * ring behind the pair's runnext hand-offs. When it next runs it notes how many round
 * trips the pair had made and how long after their start: fewer than all of them is
 * only right once 10 ms have passed (a slice cannot end sooner; a lower bound, so
 * load on the machine cannot make it fail).
 */
#include "test_chan.h"

static rt_chan *pair[2];
#define ping pair[0]
#define pong pair[1]
static atomic_long rounds;
static int64_t pair_start;
static atomic_long seen_rounds = -1;
static atomic_llong seen_after;

#define ROUNDS 2000
#define SLICE_NS 10000000LL

static void third(void *arg)
{
    (void)arg;
    while (atomic_load(&rounds) == 0)
        rt_gosched();
    atomic_store(&seen_after, tc_now() - pair_start);
    atomic_store(&seen_rounds, atomic_load(&rounds));
}

static void body(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_make(8, 0, &ping), RT_OK);
    CHECK_RC(rt_chan_make(8, 0, &pong), RT_OK);
    tc_go(tc_ponger, pair);
    tc_go(third, NULL);
    uint64_t v = 0;
    pair_start = tc_now();
    for (long i = 0; i < ROUNDS; i++) {
        if (!CHECK_RC(rt_chan_send(ping, &v), RT_OK) || !CHECK_RC(rt_chan_recv(pong, &v), RT_OK))
            break;
        atomic_fetch_add(&rounds, 1);
    }
    CHECK_RC(rt_chan_close(ping), RT_OK);
    while (atomic_load(&seen_rounds) < 0)
        rt_gosched();
    long r = atomic_load(&seen_rounds);
    long long after = atomic_load(&seen_after);
    if (!CHECK(r == ROUNDS || after >= SLICE_NS))
        fprintf(stderr, "  the third G ran after %ld of %d round trips, %.3f ms into the pair's "
                        "time slice: the slice was cut short\n",
                r, ROUNDS, (double)after / 1e6);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
