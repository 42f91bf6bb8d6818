/*
 * Senders blocked on a channel (Gs parked and foreign threads on a futex) are all
 * woken by rt_chan_close with RT_ECLOSED; their elements are not delivered: on a full
 * buffered channel (cap 2) the receives after the close get exactly the two elements
 * buffered before, in order, then RT_ECLOSED. Unbuffered and full buffered, element
 * sizes 0, 1, 8 and 100. While they wait, rt_chan_free refuses with RT_EBUSY. The
 * closer is a G (1 P) or a plain thread (2 Ps).
 */
#include "test_chan.h"

static void one(size_t esz, size_t cap)
{
    rt_chan *c;
    if (!CHECK_RC(rt_chan_make(esz, cap, &c), RT_OK))
        return;
    unsigned char buf[TC_BIG];
    for (size_t i = 0; i < cap; i++) {
        tc_enc(buf, esz, 3, (uint32_t)(100 + i));
        CHECK_RC(rt_chan_send(c, esz ? buf : NULL), RT_OK);
    }
    static tc_waiters ws;
    tc_waiters_start(&ws, c, esz, RT_SEND, 3, 3);
    tc_waiters_settle(&ws);
    CHECK_RC(rt_chan_free(c), RT_EBUSY);
    CHECK_RC(rt_chan_close(c), RT_OK);
    tc_waiters_finish(&ws);
    for (int i = 0; i < 6; i++)
        if (!CHECK_RC(ws.w[i].rc, RT_ECLOSED))
            fprintf(stderr, "  waiter %d (%s), esz %zu cap %zu\n", i, ws.w[i].is_g ? "G" : "thread",
                    esz, cap);
    CHECK_EQ(rt_chan_len(c), cap);
    for (size_t i = 0; i < cap; i++) {
        memset(buf, 0xEE, sizeof buf);
        CHECK_RC(rt_chan_recv(c, esz ? buf : NULL), RT_OK);
        if (esz == 1) {
            CHECK_EQ(buf[0], (3 << 6) | ((100 + i) & 63));
        } else if (esz >= 8) {
            uint32_t s, q;
            CHECK(tc_dec(buf, esz, &s, &q));
            CHECK_EQ(s, 3);
            CHECK_EQ(q, 100 + i);
        }
    }
    memset(buf, 0xEE, sizeof buf);
    CHECK_RC(rt_chan_recv(c, esz ? buf : NULL), RT_ECLOSED);
    CHECK(tc_all_zero(buf, esz));
    CHECK_RC(rt_chan_free(c), RT_OK);
}

static void body(void *arg)
{
    (void)arg;
    for (int i = 0; i < TC_NSIZES; i++) {
        one(tc_size(i), 0);
        one(tc_size(i), 2);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);  /* closer: a G */
    tc_in_child(2, false, body, NULL); /* closer: a plain thread */
    return test_summary();
}
