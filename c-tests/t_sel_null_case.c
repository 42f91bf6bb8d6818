/*
 * A case with a NULL channel never proceeds: next to a ready case that case is
 * always chosen (whatever its position); selects of NULL cases only give RT_EAGAIN
 * with timeout 0 and RT_ETIMEDOUT with a positive timeout; a blocked select with a
 * NULL case is woken by its real channel. The NULL case's elem and result are left
 * alone. From a G (1 P) and from a plain thread.
 */
#include "test_chan.h"

static rt_chan *wake_ch;

static void *late_sender(void *arg)
{
    pid_t tid = *(pid_t *)arg;
    if (tid)
        tc_wait_thread_blocked(tid);
    uint64_t v = 0xABCD;
    CHECK_RC(rt_chan_send(wake_ch, &v), RT_OK);
    return NULL;
}

static void late_sender_g(void *arg)
{
    (void)arg;
    uint64_t v = 0xABCD;
    CHECK_RC(rt_chan_send(wake_ch, &v), RT_OK);
}

static void body(void *arg)
{
    (void)arg;
    rt_chan *c;
    CHECK_RC(rt_chan_make(8, 1, &c), RT_OK);
    uint64_t nv = 0x5555, v;
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        v = (uint64_t)i;
        CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
        rt_select_case cs[3] = { { NULL, RT_RECV, &nv, 7 },
                                 { c, RT_RECV, &v, 7 },
                                 { NULL, RT_SEND, &nv, 7 } };
        int r = rt_select(cs, 3, i % 2 ? 0 : -1);
        if (r != 1 || /* the real case, in the middle */ v != (uint64_t)i || cs[0].result != 7 || cs[2].result != 7 || nv != 0x5555)
            bad++;
        /* the real case first, then last */
        CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
        rt_select_case cs2[2] = { { c, RT_RECV, &v, 7 }, { NULL, RT_RECV, &nv, 7 } };
        if (rt_select(cs2, 2, 0) != 0 || cs2[1].result != 7)
            bad++;
        CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
        rt_select_case cs3[2] = { { NULL, RT_SEND, &nv, 7 }, { c, RT_RECV, &v, 7 } };
        if (rt_select(cs3, 2, 0) != 1 || cs3[0].result != 7)
            bad++;
    }
    CHECK_EQ(bad, 0);

    /* only NULL cases */
    rt_select_case nn[2] = { { NULL, RT_RECV, &nv, 7 }, { NULL, RT_SEND, &nv, 7 } };
    CHECK_RC(rt_select(nn, 2, 0), RT_EAGAIN);
    CHECK_RC(rt_select(nn, 1, 0), RT_EAGAIN);
    CHECK_RC(rt_select(nn, 2, 2000000), RT_ETIMEDOUT);
    CHECK_RC(rt_select(nn, 1, 1000), RT_ETIMEDOUT);
    CHECK_EQ(nn[0].result, 7);
    CHECK_EQ(nn[1].result, 7);
    CHECK_EQ(nv, 0x5555);

    /* blocked with a NULL case; woken by the real channel */
    CHECK_RC(rt_chan_make(8, 0, &wake_ch), RT_OK);
    pid_t me = rt_getg() ? 0 : tc_gettid();
    pthread_t t = 0;
    if (rt_getg())
        tc_go(late_sender_g, NULL); /* runs once we park (1 P) */
    else
        t = tc_thread(late_sender, &me);
    v = 0;
    rt_select_case cw[2] = { { NULL, RT_RECV, &nv, 7 }, { wake_ch, RT_RECV, &v, 7 } };
    CHECK_RC(rt_select(cw, 2, -1), 1);
    CHECK_RC(cw[1].result, RT_OK);
    CHECK_EQ(cw[0].result, 7);
    CHECK_EQ(v, 0xABCD);
    if (t)
        tc_join(t);
    CHECK_RC(rt_chan_free(wake_ch), RT_OK);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, false, body, NULL);
    return test_summary();
}
