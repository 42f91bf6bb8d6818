/*
 * rt_chan_len / rt_chan_cap: cap is what rt_chan_make got (0 for unbuffered, also
 * for element size 0 and for a huge capacity of 0-byte elements); len counts
 * buffered elements as they are sent, received, wrap around the ring, and after a
 * close; an unbuffered channel's len stays 0 even with a sender blocked. NULL gives
 * 0 for both. From a G.
 */
#include "test_chan.h"

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(rt_chan_len(NULL), 0);
    CHECK_EQ(rt_chan_cap(NULL), 0);

    static const size_t caps[] = { 0, 1, 2, 7, 100 };
    for (int si = 0; si < TC_NSIZES; si++) {
        size_t esz = tc_size(si);
        for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
            size_t cap = caps[ci];
            rt_chan *c;
            if (!CHECK_RC(rt_chan_make(esz, cap, &c), RT_OK))
                continue;
            CHECK_EQ(rt_chan_cap(c), cap);
            CHECK_EQ(rt_chan_len(c), 0);
            unsigned char buf[TC_BIG];
            /* three rounds of fill and drain, offset so the ring wraps */
            size_t len = 0;
            uint32_t sent = 0, rcvd = 0;
            for (int round = 0; round < 3 && cap > 0; round++) {
                while (len < cap) {
                    tc_enc(buf, esz, 0, sent++);
                    CHECK_RC(rt_chan_trysend(c, esz ? buf : NULL), RT_OK);
                    CHECK_EQ(rt_chan_len(c), ++len);
                }
                CHECK_RC(rt_chan_trysend(c, esz ? buf : NULL), RT_EAGAIN);
                CHECK_EQ(rt_chan_len(c), cap);
                size_t take = cap / 2 + 1;
                for (size_t i = 0; i < take; i++) {
                    CHECK_RC(rt_chan_tryrecv(c, esz ? buf : NULL), RT_OK);
                    if (esz >= 8) {
                        uint32_t s, q;
                        CHECK(tc_dec(buf, esz, &s, &q) && q == rcvd);
                    }
                    rcvd++;
                    CHECK_EQ(rt_chan_len(c), --len);
                }
            }
            CHECK_RC(rt_chan_close(c), RT_OK);
            CHECK_EQ(rt_chan_len(c), len);
            CHECK_EQ(rt_chan_cap(c), cap);
            CHECK_RC(rt_chan_free(c), RT_OK);
        }
    }

    /* unbuffered with a blocked sender: len 0 */
    rt_chan *u;
    CHECK_RC(rt_chan_make(8, 0, &u), RT_OK);
    static tc_waiters ws;
    tc_waiters_start(&ws, u, 8, RT_SEND, 1, 0);
    tc_waiters_settle(&ws);
    CHECK_EQ(rt_chan_len(u), 0);
    CHECK_EQ(rt_chan_cap(u), 0);
    uint64_t v;
    CHECK_RC(rt_chan_recv(u, &v), RT_OK);
    tc_waiters_finish(&ws);
    CHECK_RC(rt_chan_free(u), RT_OK);

    /* 0-byte elements: a huge capacity needs no buffer */
    rt_chan *z;
    if (CHECK_RC(rt_chan_make(0, (size_t)1 << 40, &z), RT_OK)) {
        CHECK_EQ(rt_chan_cap(z), (size_t)1 << 40);
        for (int i = 0; i < 1000; i++)
            CHECK_RC(rt_chan_trysend(z, NULL), RT_OK);
        CHECK_EQ(rt_chan_len(z), 1000);
        CHECK_RC(rt_chan_free(z), RT_OK);
    }
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
