/*
 * Regression: a G woken while a trace ran, which only started after the trace
 * stopped, kept that wake's flow number in its descriptor; a G made later from the
 * recycled descriptor then ended a wake it never had, as a flow finish with no start
 * in the next trace (`python -m mrt.trace check`: "0 start(s), 1 finish(es)").
 * newproc now clears it.
 *
 * On 1 P: trace 1 runs while main wakes a parked G (held in runnext: it cannot start
 * before main yields) and stops; the G then runs and exits, its descriptor going to
 * the P's free cache. Trace 2 covers a new G made from that cache, which is only
 * started, never woken: trace 2 must hold no flow finish.
 */
#include "test.h"

static rt_chan *c;
static char path1[64], path2[64];
static int64_t waiter_id, fresh_id;

static void waiter(void *arg)
{
    (void)arg;
    long v;
    CHECK_RC(rt_chan_recv(c, &v), RT_OK);
}

static void fresh(void *arg)
{
    (void)arg;
}

static void main_g(void *arg)
{
    (void)arg;
    waiter_id = rt_go(waiter, NULL);
    CHECK(waiter_id > 0);
    CHECK_RC(rt_trace_start(path1), RT_OK);
    /* Succeeds only once the waiter is parked in its receive: the send wakes it. */
    long v = 1;
    while (rt_chan_trysend(c, &v) != RT_OK)
        rt_gosched();
    CHECK_RC(rt_trace_stop(), RT_OK);
    rt_gosched(); /* the waiter runs and exits */
    CHECK_RC(rt_trace_start(path2), RT_OK);
    fresh_id = rt_go(fresh, NULL);
    CHECK(fresh_id > 0);
    rt_gosched();
    CHECK_RC(rt_trace_stop(), RT_OK);
}

int main(void)
{
    snprintf(path1, sizeof path1, "/tmp/mrt-t-trace-flow-1-%d.json", (int)getpid());
    snprintf(path2, sizeof path2, "/tmp/mrt-t-trace-flow-2-%d.json", (int)getpid());
    rt_config cfg = {.size = sizeof cfg, .maxprocs = 1};
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &c), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);

    char *t1 = test_slurp(path1), *t2 = test_slurp(path2);
    if (CHECK(t1 != NULL && t2 != NULL)) {
        /* Trace 1 has the wake; trace 2 the new G, started with no wake. */
        char want[64];
        snprintf(want, sizeof want, "\"name\":\"ready G%lld\"", (long long)waiter_id);
        CHECK(strstr(t1, want) != NULL);
        snprintf(want, sizeof want, "\"name\":\"create G%lld\"", (long long)fresh_id);
        CHECK(strstr(t2, want) != NULL);
        if (strstr(t2, "\"ph\":\"f\""))
            FAIL("trace 2 ends a wake it never had: %s", t2);
    }
    free(t1);
    free(t2);
    unlink(path1);
    unlink(path2);
    CHECK_RC(rt_chan_free(c), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
