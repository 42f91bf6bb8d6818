/*
 * Receivers blocked on a channel (Gs parked and foreign threads on a futex) are all
 * woken by rt_chan_close with RT_ECLOSED and their element zeroed (nothing past it
 * written). Unbuffered and empty buffered (cap 4), element sizes 0, 1, 8 and 100.
 * While they wait, rt_chan_free refuses with RT_EBUSY. The closer is a G (1 P, the
 * G waiters parked before the close) or a plain thread (2 Ps).
 */
#include "test_chan.h"

static void one(size_t esz, size_t cap)
{
    rt_chan *c;
    if (!CHECK_RC(rt_chan_make(esz, cap, &c), RT_OK))
        return;
    static tc_waiters ws;
    tc_waiters_start(&ws, c, esz, RT_RECV, 3, 3);
    tc_waiters_settle(&ws);
    CHECK_RC(rt_chan_free(c), RT_EBUSY);
    CHECK_RC(rt_chan_close(c), RT_OK);
    tc_waiters_finish(&ws);
    for (int i = 0; i < 6; i++) {
        if (!CHECK_RC(ws.w[i].rc, RT_ECLOSED))
            fprintf(stderr, "  waiter %d (%s), esz %zu cap %zu\n", i, ws.w[i].is_g ? "G" : "thread",
                    esz, cap);
        CHECK(tc_all_zero(ws.w[i].buf, esz));
        CHECK_EQ(ws.w[i].buf[esz], 0xEE);
    }
    CHECK_RC(rt_chan_close(c), RT_ECLOSED);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

static void body(void *arg)
{
    (void)arg;
    for (int i = 0; i < TC_NSIZES; i++) {
        one(tc_size(i), 0);
        one(tc_size(i), 4);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);  /* closer: a G */
    tc_in_child(2, false, body, NULL); /* closer: a plain thread */
    return test_summary();
}
