/*
 * Close, then free at once, with a select blocked on the channel: rt_chan_close
 * wakes the select (its case gets RT_ECLOSED); the closer then calls rt_chan_free
 * right away. The free must either succeed (the woken select no longer touches that
 * channel) or refuse with RT_EBUSY (then succeed once the select returned); the
 * select must never touch the freed channel (valgrind reports any access; natively
 * it may hang on the freed lock or crash). Selector a G (1 P) or a thread (2 Ps);
 * the select has the one case, or that case and another channel's. Several rounds.
 */
#include "test_chan.h"

static rt_chan *ca, *cb;
static int ncases;
static int sel_rc, sel_res;
static pid_t sel_tid;
static test_latch sel_started = TEST_LATCH_INIT;
static rt_wg sel_done;

static void sel_body(void)
{
    uint64_t va = 0, vb = 0;
    rt_select_case cs[2] = { { ca, RT_RECV, &va, 7 }, { cb, RT_RECV, &vb, 7 } };
    sel_rc = rt_select(cs, (size_t)ncases, -1);
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

static void round_(bool thread_sel, int n)
{
    ncases = n;
    CHECK_RC(rt_chan_make(8, 0, &ca), RT_OK);
    CHECK_RC(rt_chan_make(8, 0, &cb), RT_OK);
    rt_wg_add(&sel_done, 1);
    pthread_t t = 0;
    if (thread_sel) {
        /* read the count before the thread can bump it */
        int started = sel_started.count;
        t = tc_thread(sel_t, NULL);
        test_latch_wait(&sel_started, started + 1);
        tc_wait_thread_blocked(sel_tid);
    } else {
        tc_go(sel_g, NULL);
        tc_park_settle(20);
    }
    CHECK_RC(rt_chan_close(ca), RT_OK);
    int rc = rt_chan_free(ca);
    CHECK(rc == RT_OK || rc == RT_EBUSY);
    rt_wg_wait(&sel_done);
    if (t)
        tc_join(t);
    if (rc == RT_EBUSY)
        CHECK_RC(rt_chan_free(ca), RT_OK);
    CHECK_EQ(sel_rc, 0);
    CHECK_RC(sel_res, RT_ECLOSED);
    CHECK_RC(rt_chan_free(cb), RT_OK);
}

static void body(void *arg)
{
    bool thread_sel = arg != NULL;
    alarm(test_under_valgrind() ? 30 : 8); /* a select spinning on a freed lock hangs */
    for (int r = 0; r < tc_scale(20, 5); r++) {
        round_(thread_sel, 1);
        round_(thread_sel, 2);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, (void *)1);
    return test_summary();
}
