/*
 * rt_select's timeouts: with nothing ready, timeout 0 gives RT_EAGAIN at once and a
 * positive timeout gives RT_ETIMEDOUT (receive cases, send cases, unbuffered, full
 * and empty buffered); no case's result or elem is touched, nothing is sent or
 * received, and afterwards no waiter is left on the channels (trysend/tryrecv say
 * RT_EAGAIN, rt_chan_free succeeds). A select that times out on one P leaves the
 * other Gs running (on 1 P a G that waits in select gives way). From a G (1 P and
 * 2 Ps) and from a plain thread.
 */
#include "test_chan.h"

static atomic_int progress;

static void worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        atomic_fetch_add(&progress, 1);
        rt_gosched();
    }
}

static void body(void *arg)
{
    (void)arg;
    rt_chan *u, *full, *empty;
    CHECK_RC(rt_chan_make(8, 0, &u), RT_OK);
    CHECK_RC(rt_chan_make(8, 2, &full), RT_OK);
    CHECK_RC(rt_chan_make(8, 2, &empty), RT_OK);
    uint64_t v = 1;
    CHECK_RC(rt_chan_send(full, &v), RT_OK);
    CHECK_RC(rt_chan_send(full, &v), RT_OK);

    static const int64_t timeouts[] = { 0, 1, 1000000, 20000000 };
    for (int ti = 0; ti < 4; ti++) {
        int64_t to = timeouts[ti];
        int want = to == 0 ? RT_EAGAIN : RT_ETIMEDOUT;
        uint64_t e1 = 0x1111, e2 = 0x2222, e3 = 0x3333, e4 = 0x4444;
        rt_select_case cs[4] = { { u, RT_RECV, &e1, 7 },
                                 { u, RT_SEND, &e2, 7 },
                                 { full, RT_SEND, &e3, 7 },
                                 { empty, RT_RECV, &e4, 7 } };
        CHECK_RC(rt_select(cs, 4, to), want);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(cs[i].result, 7);
        CHECK_EQ(e1, 0x1111);
        CHECK_EQ(e4, 0x4444);
        rt_select_case one[1] = { { empty, RT_RECV, &e4, 7 } };
        CHECK_RC(rt_select(one, 1, to), want);
        rt_select_case one_s[1] = { { u, RT_SEND, &e2, 7 } };
        CHECK_RC(rt_select(one_s, 1, to), want);
        /* nothing left behind */
        CHECK_RC(rt_chan_trysend(u, &v), RT_EAGAIN);
        CHECK_RC(rt_chan_tryrecv(u, &v), RT_EAGAIN);
        CHECK_EQ(rt_chan_len(full), 2);
        CHECK_EQ(rt_chan_len(empty), 0);
    }

    /* other Gs run while a G waits in select with a timeout */
    if (rt_getg()) {
        atomic_store(&progress, 0);
        tc_go(worker, NULL);
        uint64_t e = 0;
        rt_select_case one[1] = { { empty, RT_RECV, &e, 7 } };
        /* the worker needs the P to finish; a select that blocked the M would still
           return, but only the worker's progress shows it parked: checked after the
           worker had its chance, i.e. repeat until the worker is done (bounded) */
        for (int i = 0; i < 1000 && atomic_load(&progress) < 100; i++)
            CHECK_RC(rt_select(one, 1, 1000000), RT_ETIMEDOUT);
        CHECK_EQ(atomic_load(&progress), 100);
    }

    CHECK_RC(rt_chan_free(u), RT_OK);
    CHECK_RC(rt_chan_free(full), RT_OK);
    CHECK_RC(rt_chan_free(empty), RT_OK);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    tc_in_child(2, false, body, NULL);
    return test_summary();
}
