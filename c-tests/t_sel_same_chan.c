/*
 * One channel in several cases of one select: a send and a receive case on the same
 * unbuffered channel never pair with each other (timeout 0 -> RT_EAGAIN, a positive
 * timeout -> RT_ETIMEDOUT; no waiter left behind); on an empty buffered channel only
 * the send is ready, on a full one only the receive; two receive cases on a channel
 * holding one element: one proceeds, the element is received once. A blocked select
 * with duplicate cases is woken once by one sender and leaves no waiter behind. From a
 * G (1 P) and from a plain thread.
 */
#include "test_chan.h"

static rt_chan *u;

static void sender_g(void *arg)
{
    (void)arg;
    uint64_t v = 0x77;
    CHECK_RC(rt_chan_send(u, &v), RT_OK);
}

static void *sender_t(void *arg)
{
    pid_t tid = *(pid_t *)arg;
    tc_wait_thread_blocked(tid);
    uint64_t v = 0x77;
    CHECK_RC(rt_chan_send(u, &v), RT_OK);
    return NULL;
}

static void body(void *arg)
{
    (void)arg;
    uint64_t a = 1, b = 2;
    CHECK_RC(rt_chan_make(8, 0, &u), RT_OK);
    rt_select_case sr[2] = { { u, RT_SEND, &a, 7 }, { u, RT_RECV, &b, 7 } };
    CHECK_RC(rt_select(sr, 2, 0), RT_EAGAIN);
    CHECK_RC(rt_select(sr, 2, 1000000), RT_ETIMEDOUT);
    CHECK_EQ(b, 2);
    CHECK_EQ(sr[0].result, 7);
    CHECK_EQ(sr[1].result, 7);
    CHECK_RC(rt_chan_trysend(u, &a), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(u, &b), RT_EAGAIN);

    rt_chan *bc;
    CHECK_RC(rt_chan_make(8, 1, &bc), RT_OK);
    a = 5;
    b = 0;
    rt_select_case br[2] = { { bc, RT_RECV, &b, 7 }, { bc, RT_SEND, &a, 7 } };
    CHECK_RC(rt_select(br, 2, -1), 1); /* empty: only the send */
    CHECK_EQ(rt_chan_len(bc), 1);
    br[1].result = 7;
    CHECK_RC(rt_select(br, 2, -1), 0); /* full: only the receive */
    CHECK_EQ(b, 5);
    CHECK_EQ(rt_chan_len(bc), 0);

    /* two receive cases, one element */
    uint64_t r0 = 0, r1 = 0;
    a = 9;
    CHECK_RC(rt_chan_send(bc, &a), RT_OK);
    rt_select_case rr[2] = { { bc, RT_RECV, &r0, 7 }, { bc, RT_RECV, &r1, 7 } };
    int r = rt_select(rr, 2, 0);
    CHECK(r == 0 || r == 1);
    CHECK_EQ(r0 + r1, 9);
    CHECK_RC(rt_select(rr, 2, 0), RT_EAGAIN);

    /* blocked with duplicates, woken once */
    r0 = r1 = 0;
    pid_t me = tc_gettid();
    pthread_t t = 0;
    if (rt_getg())
        tc_go(sender_g, NULL);
    else
        t = tc_thread(sender_t, &me);
    rt_select_case dd[3] = { { u, RT_RECV, &r0, 7 }, { u, RT_RECV, &r1, 7 }, { u, RT_SEND, &a, 7 } };
    r = rt_select(dd, 3, -1);
    CHECK(r == 0 || r == 1);
    CHECK_EQ(r0 + r1, 0x77);
    if (t)
        tc_join(t);
    CHECK_RC(rt_chan_trysend(u, &a), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(u, &b), RT_EAGAIN);
    CHECK_RC(rt_chan_free(u), RT_OK);
    CHECK_RC(rt_chan_free(bc), RT_OK);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, false, body, NULL);
    return test_summary();
}
