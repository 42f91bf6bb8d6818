/*
 * Two Gs ping-ponging over unbuffered channels on 1 P must not starve a third
 * runnable G forever. Each wakes the other into runnext, which inherits the time
 * slice (Go's runqget); Go bounds that with sysmon's 10 ms preemption of the shared
 * slice (GOMAXPROCS=1, even with GODEBUG=asyncpreemptoff=1, the third goroutine runs
 * after ~10 ms / ~20,000 round trips). Checked by progress only: the pair stops as
 * soon as the third G ran, and fails after 2,000,000 round trips (100,000 under
 * valgrind) without it.
 */
#include "test_chan.h"

static rt_chan *pair[2];
#define ping pair[0]
#define pong pair[1]
static atomic_int third_ran;

static void third(void *arg)
{
    (void)arg;
    atomic_store(&third_ran, 1);
}

static void body(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_make(8, 0, &ping), RT_OK);
    CHECK_RC(rt_chan_make(8, 0, &pong), RT_OK);
    tc_go(third, NULL);
    tc_go(tc_ponger, pair);
    long limit = tc_scale(2000000, 100000), rounds = 0;
    uint64_t v = 0;
    while (!atomic_load(&third_ran) && rounds < limit) {
        if (rt_chan_send(ping, &v) != RT_OK || rt_chan_recv(pong, &v) != RT_OK)
            break;
        rounds++;
    }
    if (!CHECK(atomic_load(&third_ran)))
        fprintf(stderr, "  a runnable G did not run during %ld ping-pong round trips on 1 P\n",
                rounds);
    CHECK_RC(rt_chan_close(ping), RT_OK);
    tc_park_settle(5); /* let the ponger see the close (and the third G run) */
    rt_gosched();
}

int main(void)
{
    tc_run(1, body, NULL);
    CHECK(atomic_load(&third_ran)); /* it ran by the end at least */
    return test_summary();
}
