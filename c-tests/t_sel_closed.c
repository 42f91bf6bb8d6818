/*
 * rt_select and closed channels: a receive case on a closed (drained) channel is
 * ready and proceeds with result RT_ECLOSED and its elem zeroed; on a closed channel
 * that still buffers elements it gets them first (RT_OK); a send case on a closed
 * channel proceeds with RT_ECLOSED (no panic); a select blocked on open channels is
 * woken by the close of one of them with that case and RT_ECLOSED (selector a G or a
 * thread, closer a G or a thread). Element sizes 8 and 100. 1 P for a G selector.
 */
#include "test_chan.h"

static void ready_cases(void)
{
    for (int si = 2; si < TC_NSIZES; si++) {
        size_t esz = tc_size(si);
        rt_chan *open_c, *closed_c;
        CHECK_RC(rt_chan_make(esz, 0, &open_c), RT_OK);
        CHECK_RC(rt_chan_make(esz, 2, &closed_c), RT_OK);
        unsigned char e[TC_BIG], got[TC_BIG];
        tc_enc(e, esz, 0, 42);
        CHECK_RC(rt_chan_send(closed_c, e), RT_OK);
        CHECK_RC(rt_chan_close(closed_c), RT_OK);
        /* buffered element first */
        memset(got, 0xEE, sizeof got);
        rt_select_case cs[2] = { { open_c, RT_RECV, got, 7 }, { closed_c, RT_RECV, got, 7 } };
        CHECK_RC(rt_select(cs, 2, -1), 1);
        CHECK_RC(cs[1].result, RT_OK);
        CHECK(memcmp(got, e, esz) == 0);
        /* then RT_ECLOSED, zeroed, every time */
        for (int i = 0; i < 3; i++) {
            memset(got, 0xEE, sizeof got);
            cs[1].result = 7;
            CHECK_RC(rt_select(cs, 2, i == 0 ? 0 : -1), 1);
            CHECK_RC(cs[1].result, RT_ECLOSED);
            CHECK(tc_all_zero(got, esz));
            CHECK_EQ(got[esz], 0xEE);
            CHECK_EQ(cs[0].result, 7);
        }
        /* send case on the closed channel */
        rt_select_case ss[2] = { { open_c, RT_SEND, e, 7 }, { closed_c, RT_SEND, e, 7 } };
        CHECK_RC(rt_select(ss, 2, -1), 1);
        CHECK_RC(ss[1].result, RT_ECLOSED);
        CHECK_EQ(rt_chan_len(closed_c), 0);
        CHECK_RC(rt_chan_free(open_c), RT_OK);
        CHECK_RC(rt_chan_free(closed_c), RT_OK);
    }
}

/* ---- a blocked select woken by a close ---- */

static rt_chan *ca, *cb;
static int dir_;
static int sel_rc, sel_res;
static unsigned char sel_ea[TC_BIG], sel_eb[TC_BIG];
static pid_t sel_tid;
static test_latch sel_started = TEST_LATCH_INIT;
static rt_wg sel_done;

static void sel_body(void)
{
    memset(sel_ea, 0xEE, sizeof sel_ea);
    memset(sel_eb, 0xEE, sizeof sel_eb);
    rt_select_case cs[2] = { { ca, dir_, sel_ea, 7 }, { cb, dir_, sel_eb, 7 } };
    sel_rc = rt_select(cs, 2, -1);
    sel_res = sel_rc >= 0 ? cs[sel_rc].result : 7;
    rt_wg_done(&sel_done);
}

static void sel_g(void *arg) { (void)arg; sel_body(); }
static void *sel_t(void *arg)
{
    (void)arg;
    sel_tid = tc_gettid();
    test_latch_post(&sel_started);
    sel_body();
    return NULL;
}

static void closer_g(void *arg) { (void)arg; CHECK_RC(rt_chan_close(cb), RT_OK); }
static void *closer_t(void *arg) { (void)arg; CHECK_RC(rt_chan_close(cb), RT_OK); return NULL; }

typedef struct cfg { int sel_kind, close_kind, dir; } cfg;

static void woken_by_close(void *arg)
{
    cfg *c = arg;
    ready_cases();
    dir_ = c->dir;
    CHECK_RC(rt_chan_make(100, 0, &ca), RT_OK);
    CHECK_RC(rt_chan_make(100, 0, &cb), RT_OK);
    rt_wg_add(&sel_done, 1);
    pthread_t st = 0, ct = 0;
    if (c->sel_kind == TC_G) {
        tc_go(sel_g, NULL);
        tc_park_settle(20);
    } else {
        st = tc_thread(sel_t, NULL);
        test_latch_wait(&sel_started, 1);
        tc_wait_thread_blocked(sel_tid);
    }
    if (c->close_kind == TC_G)
        tc_go(closer_g, NULL);
    else
        ct = tc_thread(closer_t, NULL);
    rt_wg_wait(&sel_done);
    if (st)
        tc_join(st);
    if (ct)
        tc_join(ct);
    CHECK_EQ(sel_rc, 1);
    CHECK_RC(sel_res, RT_ECLOSED);
    if (c->dir == RT_RECV) {
        CHECK(tc_all_zero(sel_eb, 100));
        CHECK_EQ(sel_eb[100], 0xEE);
    }
    CHECK_EQ(sel_ea[0], 0xEE);
    uint64_t v[13];
    CHECK_RC(rt_chan_trysend(ca, v), RT_EAGAIN); /* the select left ca */
    CHECK_RC(rt_chan_free(ca), RT_OK);
    CHECK_RC(rt_chan_free(cb), RT_OK);
}

int main(void)
{
    for (int sk = TC_G; sk <= TC_T; sk++)
        for (int ck = TC_G; ck <= TC_T; ck++)
            for (int d = RT_SEND; d <= RT_RECV; d++) {
                cfg c = { sk, ck, d };
                tc_in_child(sk == TC_G ? 1 : 2, true, woken_by_close, &c);
            }
    return test_summary();
}
