/*
 * A send with a NULL element on a channel whose elements have a size (found by
 * t_bad_input_all, issue 8): rt_chan_send, rt_chan_trysend and an rt_select send case
 * give RT_EINVAL and change nothing (nothing buffered, a waiting receiver still waits,
 * a ready case next to the bad one does not proceed). Before the fix the send
 * "succeeded" without copying anything: a buffered slot kept whatever it held (malloc
 * garbage, or an element received long ago) and a waiting receiver got its own buffer
 * back, both reported as a good message.
 * A receive with a NULL element drops the element (Go's `<-c`), and channels of
 * zero-sized elements take NULL everywhere, as before.
 */
#include "test_chan.h"

static rt_chan *uc;
static atomic_int got_rc = 1;
static int got_v;

static void receiver(void *arg)
{
    (void)arg;
    int v = -1;
    atomic_store(&got_rc, rt_chan_recv(uc, &v));
    got_v = v;
}

static void body(void *arg)
{
    (void)arg;
    rt_chan *c = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 2, &c), RT_OK);
    int v = 5;
    /* Buffered: refused, nothing queued. */
    CHECK_RC(rt_chan_trysend(c, NULL), RT_EINVAL);
    CHECK_RC(rt_chan_send(c, NULL), RT_EINVAL);
    CHECK_EQ(rt_chan_len(c), 0);
    rt_select_case sc[2] = { { c, RT_SEND, NULL, 9 }, { c, RT_RECV, &v, 9 } };
    CHECK_RC(rt_select(sc, 1, 0), RT_EINVAL);
    CHECK_RC(rt_select(sc, 1, -1), RT_EINVAL);
    CHECK_EQ(sc[0].result, 9);
    CHECK_EQ(rt_chan_len(c), 0);
    /* Next to a ready receive (one element buffered): refused as a whole. */
    CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
    CHECK_RC(rt_select(sc, 2, 0), RT_EINVAL);
    CHECK_EQ(rt_chan_len(c), 1);
    /* A NULL receive drops the element; a select receive case may be NULL too. */
    CHECK_RC(rt_chan_tryrecv(c, NULL), RT_OK);
    CHECK_EQ(rt_chan_len(c), 0);
    CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
    rt_select_case rc1 = { c, RT_RECV, NULL, 9 };
    CHECK_RC(rt_select(&rc1, 1, 0), 0);
    CHECK_RC(rc1.result, RT_OK);
    CHECK_EQ(rt_chan_len(c), 0);
    CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
    CHECK_RC(rt_chan_recv(c, NULL), RT_OK);
    CHECK_RC(rt_chan_free(c), RT_OK);

    /* Unbuffered with a receiver waiting: refused, the receiver still waits and then
       gets the real element. */
    CHECK_RC(rt_chan_make(sizeof(int), 0, &uc), RT_OK);
    tc_go(receiver, NULL);
    tc_park_settle(20); /* 1 P: it runs until it parks */
    CHECK_RC(rt_chan_trysend(uc, NULL), RT_EINVAL);
    CHECK_RC(rt_chan_send(uc, NULL), RT_EINVAL);
    rt_select_case us = { uc, RT_SEND, NULL, 9 };
    CHECK_RC(rt_select(&us, 1, 0), RT_EINVAL);
    tc_park_settle(20);
    CHECK_RC(atomic_load(&got_rc), 1); /* still waiting */
    v = 42;
    CHECK_RC(rt_chan_send(uc, &v), RT_OK);
    tc_park_settle(20);
    CHECK_RC(atomic_load(&got_rc), RT_OK);
    CHECK_EQ(got_v, 42);
    CHECK_RC(rt_chan_free(uc), RT_OK);

    /* Zero-sized elements: NULL is the element. */
    rt_chan *z = NULL;
    CHECK_RC(rt_chan_make(0, 1, &z), RT_OK);
    CHECK_RC(rt_chan_trysend(z, NULL), RT_OK);
    CHECK_RC(rt_chan_tryrecv(z, NULL), RT_OK);
    rt_select_case zs = { z, RT_SEND, NULL, 9 };
    CHECK_RC(rt_select(&zs, 1, 0), 0);
    CHECK_RC(rt_chan_free(z), RT_OK);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
