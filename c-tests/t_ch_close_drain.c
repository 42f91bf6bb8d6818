/*
 * Close with elements buffered: rt_chan_len still counts them, receives drain them in
 * order, then every receive (and tryrecv) gets RT_ECLOSED with the element zeroed
 * (and nothing past it written); len is then 0. An unbuffered or empty closed channel
 * gives RT_ECLOSED at once. Element sizes 0 (NULL elems), 1, 8 and 100; caps 1, 3
 * and 8 (partly and completely full). From a G and from a plain thread.
 */
#include "test_chan.h"

static void one(size_t esz, size_t cap, size_t fill)
{
    rt_chan *c;
    if (!CHECK_RC(rt_chan_make(esz, cap, &c), RT_OK))
        return;
    unsigned char buf[TC_BIG];
    for (size_t i = 0; i < fill; i++) {
        tc_enc(buf, esz, 1, (uint32_t)i);
        CHECK_RC(rt_chan_send(c, esz ? buf : NULL), RT_OK);
    }
    CHECK_EQ(rt_chan_len(c), fill);
    CHECK_RC(rt_chan_close(c), RT_OK);
    CHECK_EQ(rt_chan_len(c), fill);
    CHECK_EQ(rt_chan_cap(c), cap);
    for (size_t i = 0; i < fill; i++) {
        memset(buf, 0xEE, sizeof buf);
        int rc = (i % 2) ? rt_chan_tryrecv(c, esz ? buf : NULL) : rt_chan_recv(c, esz ? buf : NULL);
        CHECK_RC(rc, RT_OK);
        if (esz == 1) {
            CHECK_EQ(buf[0], (1 << 6) | (i & 63));
        } else if (esz >= 8) {
            uint32_t s, q;
            CHECK(tc_dec(buf, esz, &s, &q));
            CHECK_EQ(s, 1);
            CHECK_EQ(q, i);
        }
        CHECK_EQ(buf[esz], 0xEE);
        CHECK_EQ(rt_chan_len(c), fill - i - 1);
    }
    for (int r = 0; r < 3; r++) {
        memset(buf, 0xEE, sizeof buf);
        int rc = (r == 1) ? rt_chan_tryrecv(c, esz ? buf : NULL) : rt_chan_recv(c, esz ? buf : NULL);
        CHECK_RC(rc, RT_ECLOSED);
        CHECK(tc_all_zero(buf, esz));
        CHECK_EQ(buf[esz], 0xEE);
    }
    CHECK_EQ(rt_chan_len(c), 0);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

static void body(void *arg)
{
    (void)arg;
    for (int i = 0; i < TC_NSIZES; i++) {
        size_t esz = tc_size(i);
        one(esz, 0, 0);
        one(esz, 3, 0);
        one(esz, 1, 1);
        one(esz, 3, 2);
        one(esz, 3, 3);
        one(esz, 8, 5);
    }
}

int main(void)
{
    tc_init(2);
    body(NULL); /* a plain thread */
    CHECK_RC(rt_main(body, NULL), RT_OK);
    tc_fini();
    return test_summary();
}
