/*
 * rt_select with send cases: a send case proceeds into a buffered channel with room
 * or to a blocked receiver (G or thread) of an unbuffered one, delivering its
 * element intact (sizes 0, 1, 8, 100); a send case on a full or receiver-less
 * channel is not chosen while another case is ready; a blocked select of send cases
 * delivers exactly one element, to the receiver that woke it. A producer G feeding
 * two channels through select, and consumers on each, get every element exactly
 * once. 1 P (the caller is a G).
 */
#include "test_chan.h"

static rt_chan *pc[2];
static rt_wg cons_done;
static atomic_long cons_count[2];
static atomic_int cons_bad;

static void consumer(void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t v, last = 0;
    while (rt_chan_recv(pc[i], &v) == RT_OK) {
        if (v <= last)
            atomic_fetch_add(&cons_bad, 1);
        last = v;
        atomic_fetch_add(&cons_count[i], 1);
    }
    rt_wg_done(&cons_done);
}

static void body(void *arg)
{
    (void)arg;
    for (int si = 0; si < TC_NSIZES; si++) {
        size_t esz = tc_size(si);
        rt_chan *full, *room, *u;
        CHECK_RC(rt_chan_make(esz, 1, &full), RT_OK);
        CHECK_RC(rt_chan_make(esz, 3, &room), RT_OK);
        CHECK_RC(rt_chan_make(esz, 0, &u), RT_OK);
        unsigned char e0[TC_BIG], e1[TC_BIG], e2[TC_BIG], got[TC_BIG];
        tc_enc(e0, esz, 0, 1);
        tc_enc(e1, esz, 1, 2);
        tc_enc(e2, esz, 2, 3);
        CHECK_RC(rt_chan_send(full, esz ? e0 : NULL), RT_OK);
        for (int i = 0; i < 3; i++) {
            rt_select_case cs[3] = { { full, RT_SEND, esz ? e0 : NULL, 7 },
                                     { room, RT_SEND, esz ? e1 : NULL, 7 },
                                     { u, RT_SEND, esz ? e2 : NULL, 7 } };
            CHECK_RC(rt_select(cs, 3, -1), 1);
            CHECK_RC(cs[1].result, RT_OK);
        }
        CHECK_EQ(rt_chan_len(room), 3);
        for (int i = 0; i < 3; i++) {
            memset(got, 0xEE, sizeof got);
            CHECK_RC(rt_chan_recv(room, esz ? got : NULL), RT_OK);
            CHECK(memcmp(got, e1, esz) == 0);
        }
        /* unbuffered with a blocked receiver (a G, then a thread) */
        static tc_waiters ws;
        for (int k = 0; k < 2; k++) {
            tc_waiters_start(&ws, u, esz, RT_RECV, k == 0, k == 1);
            tc_waiters_settle(&ws);
            rt_select_case cs[2] = { { full, RT_SEND, esz ? e0 : NULL, 7 },
                                     { u, RT_SEND, esz ? e2 : NULL, 7 } };
            CHECK_RC(rt_select(cs, 2, 0), 1);
            CHECK_RC(cs[1].result, RT_OK);
            tc_waiters_finish(&ws);
            CHECK_RC(ws.w[0].rc, RT_OK);
            CHECK(memcmp(ws.w[0].buf, e2, esz) == 0);
            CHECK_EQ(ws.w[0].buf[esz], 0xEE);
        }
        CHECK_RC(rt_chan_free(full), RT_OK);
        CHECK_RC(rt_chan_free(room), RT_OK);
        CHECK_RC(rt_chan_free(u), RT_OK);
    }

    /* a producer selecting between two channels with a consumer each */
    int n = tc_scale(20000, 1000);
    CHECK_RC(rt_chan_make(8, 0, &pc[0]), RT_OK);
    CHECK_RC(rt_chan_make(8, 4, &pc[1]), RT_OK);
    rt_wg_add(&cons_done, 2);
    tc_go(consumer, (void *)0);
    tc_go(consumer, (void *)1);
    tc_park_settle(10); /* both consumers wait in recv */
    long sent[2] = { 0, 0 };
    for (int i = 1; i <= n; i++) {
        uint64_t v0 = (uint64_t)i, v1 = (uint64_t)i;
        rt_select_case cs[2] = { { pc[0], RT_SEND, &v0, 7 }, { pc[1], RT_SEND, &v1, 7 } };
        int r = rt_select(cs, 2, -1);
        if (!CHECK(r == 0 || r == 1))
            break;
        sent[r]++;
    }
    CHECK_RC(rt_chan_close(pc[0]), RT_OK);
    CHECK_RC(rt_chan_close(pc[1]), RT_OK);
    rt_wg_wait(&cons_done);
    CHECK_EQ(atomic_load(&cons_count[0]), sent[0]);
    CHECK_EQ(atomic_load(&cons_count[1]), sent[1]);
    CHECK_EQ(sent[0] + sent[1], n);
    CHECK(sent[0] > 0 && sent[1] > 0);
    CHECK_EQ(atomic_load(&cons_bad), 0);
    CHECK_RC(rt_chan_free(pc[0]), RT_OK);
    CHECK_RC(rt_chan_free(pc[1]), RT_OK);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
