/*
 * rt_chan_trysend / rt_chan_tryrecv never wait: RT_EAGAIN when they would block
 * (unbuffered with nobody waiting on the other side; buffered full / empty), and the
 * channel is unchanged (len; a tryrecv's EAGAIN delivers nothing later). They succeed
 * when the other side waits: trysend hands the element to a blocked receiver (a G or
 * a thread), tryrecv takes it from a blocked sender, and on a full buffered channel
 * tryrecv takes the head and lets the blocked sender's element in at the tail. From a
 * G (1 P) and from a plain thread (2 Ps).
 */
#include "test_chan.h"

static void body(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    rt_chan *u, *b;
    CHECK_RC(rt_chan_make(8, 0, &u), RT_OK);
    CHECK_RC(rt_chan_make(8, 2, &b), RT_OK);

    /* nobody on the other side */
    v = 11;
    CHECK_RC(rt_chan_trysend(u, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(u, &v), RT_EAGAIN);
    CHECK_EQ(rt_chan_len(u), 0);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_EAGAIN);
    v = 1;
    CHECK_RC(rt_chan_trysend(b, &v), RT_OK);
    v = 2;
    CHECK_RC(rt_chan_trysend(b, &v), RT_OK);
    v = 3;
    CHECK_RC(rt_chan_trysend(b, &v), RT_EAGAIN);
    CHECK_EQ(rt_chan_len(b), 2);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_OK);
    CHECK_EQ(v, 1);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_OK);
    CHECK_EQ(v, 2);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_EAGAIN);
    CHECK_EQ(rt_chan_len(b), 0);

    /* elem size 0 */
    rt_chan *z;
    CHECK_RC(rt_chan_make(0, 1, &z), RT_OK);
    CHECK_RC(rt_chan_tryrecv(z, NULL), RT_EAGAIN);
    CHECK_RC(rt_chan_trysend(z, NULL), RT_OK);
    CHECK_RC(rt_chan_trysend(z, NULL), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(z, NULL), RT_OK);
    CHECK_RC(rt_chan_free(z), RT_OK);

    /* blocked receivers (1 G, 1 thread): trysend reaches them */
    static tc_waiters ws;
    tc_waiters_start(&ws, u, 8, RT_RECV, 1, 1);
    tc_waiters_settle(&ws);
    v = 0x1111;
    CHECK_RC(rt_chan_trysend(u, &v), RT_OK);
    v = 0x2222;
    CHECK_RC(rt_chan_trysend(u, &v), RT_OK);
    v = 0x3333;
    CHECK_RC(rt_chan_trysend(u, &v), RT_EAGAIN); /* both served */
    tc_waiters_finish(&ws);
    uint64_t a, bb;
    memcpy(&a, ws.w[0].buf, 8);
    memcpy(&bb, ws.w[1].buf, 8);
    CHECK_RC(ws.w[0].rc, RT_OK);
    CHECK_RC(ws.w[1].rc, RT_OK);
    CHECK((a == 0x1111 && bb == 0x2222) || (a == 0x2222 && bb == 0x1111));

    /* blocked senders (1 G, 1 thread): tryrecv takes from them */
    tc_waiters_start(&ws, u, 8, RT_SEND, 1, 1);
    tc_waiters_settle(&ws);
    uint64_t r1 = 0, r2 = 0;
    CHECK_RC(rt_chan_tryrecv(u, &r1), RT_OK);
    CHECK_RC(rt_chan_tryrecv(u, &r2), RT_OK);
    CHECK_RC(rt_chan_tryrecv(u, &v), RT_EAGAIN);
    tc_waiters_finish(&ws);
    CHECK_RC(ws.w[0].rc, RT_OK);
    CHECK_RC(ws.w[1].rc, RT_OK);
    unsigned char e0[8], e1[8];
    tc_enc(e0, 8, 0, 500);
    tc_enc(e1, 8, 1, 501);
    CHECK((memcmp(&r1, e0, 8) == 0 && memcmp(&r2, e1, 8) == 0) ||
          (memcmp(&r1, e1, 8) == 0 && memcmp(&r2, e0, 8) == 0));

    /* full buffered channel with a blocked sender: FIFO across buffer and sender */
    v = 1;
    CHECK_RC(rt_chan_trysend(b, &v), RT_OK);
    v = 2;
    CHECK_RC(rt_chan_trysend(b, &v), RT_OK);
    tc_waiters_start(&ws, b, 8, RT_SEND, 0, 1);
    tc_waiters_settle(&ws);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_OK);
    CHECK_EQ(v, 1);
    tc_waiters_finish(&ws); /* the sender got in */
    CHECK_RC(ws.w[0].rc, RT_OK);
    CHECK_EQ(rt_chan_len(b), 2);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_OK);
    CHECK_EQ(v, 2);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_OK);
    CHECK(memcmp(&v, e0, 8) == 0);
    CHECK_RC(rt_chan_tryrecv(b, &v), RT_EAGAIN);

    CHECK_RC(rt_chan_free(u), RT_OK);
    CHECK_RC(rt_chan_free(b), RT_OK);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, false, body, NULL);
    return test_summary();
}
