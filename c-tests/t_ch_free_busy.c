/*
 * rt_chan_free refuses with RT_EBUSY while anyone waits on the channel: a G blocked
 * in recv, a thread blocked in send, a G and a thread blocked in rt_select on it
 * (among other channels); the channel stays usable after the refusal, and once the
 * waiters have been served (and returned) free succeeds. Free of a channel with
 * buffered elements (nobody waiting) succeeds; free(NULL) is RT_EINVAL. 1 P, the
 * caller is a G.
 */
#include "test_chan.h"

static rt_chan *sel_other;
static rt_wg sel_done;
static test_latch sel_tid = TEST_LATCH_INIT;
static pid_t sel_thread_tid;
static int sel_rc[2];
static uint64_t sel_v[2];

static void do_select(int who, rt_chan *c)
{
    rt_select_case cs[2] = {
        { .chan = sel_other, .dir = RT_RECV, .elem = &sel_v[who] },
        { .chan = c, .dir = RT_RECV, .elem = &sel_v[who] },
    };
    sel_rc[who] = rt_select(cs, 2, -1);
    rt_wg_done(&sel_done);
}

static void select_g(void *arg) { do_select(0, arg); }

static void *select_t(void *arg)
{
    sel_thread_tid = tc_gettid();
    test_latch_post(&sel_tid);
    do_select(1, arg);
    return NULL;
}

static void body(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_free(NULL), RT_EINVAL);
    static tc_waiters ws;
    uint64_t v = 5;

    /* a G receiving */
    rt_chan *c;
    CHECK_RC(rt_chan_make(8, 0, &c), RT_OK);
    tc_waiters_start(&ws, c, 8, RT_RECV, 1, 0);
    tc_waiters_settle(&ws);
    CHECK_RC(rt_chan_free(c), RT_EBUSY);
    CHECK_RC(rt_chan_free(c), RT_EBUSY);
    CHECK_RC(rt_chan_send(c, &v), RT_OK); /* still a working channel */
    tc_waiters_finish(&ws);
    CHECK_RC(ws.w[0].rc, RT_OK);
    CHECK_RC(rt_chan_free(c), RT_OK);

    /* a thread sending */
    CHECK_RC(rt_chan_make(8, 1, &c), RT_OK);
    CHECK_RC(rt_chan_send(c, &v), RT_OK);
    tc_waiters_start(&ws, c, 8, RT_SEND, 0, 1);
    tc_waiters_settle(&ws);
    CHECK_RC(rt_chan_free(c), RT_EBUSY);
    CHECK_RC(rt_chan_recv(c, &v), RT_OK);
    tc_waiters_finish(&ws);
    CHECK_RC(ws.w[0].rc, RT_OK);
    CHECK_EQ(rt_chan_len(c), 1); /* the thread's element, buffered */
    CHECK_RC(rt_chan_free(c), RT_OK); /* buffered elements are dropped */

    /* a G and a thread in rt_select */
    CHECK_RC(rt_chan_make(8, 0, &c), RT_OK);
    CHECK_RC(rt_chan_make(8, 0, &sel_other), RT_OK);
    rt_wg_add(&sel_done, 2);
    pthread_t t = tc_thread(select_t, c);
    tc_go(select_g, c);
    tc_park_settle(20);
    test_latch_wait(&sel_tid, 1);
    tc_wait_thread_blocked(sel_thread_tid);
    CHECK_RC(rt_chan_free(c), RT_EBUSY);
    CHECK_RC(rt_chan_free(sel_other), RT_EBUSY);
    v = 77;
    CHECK_RC(rt_chan_send(c, &v), RT_OK);
    v = 78;
    CHECK_RC(rt_chan_send(c, &v), RT_OK);
    rt_wg_wait(&sel_done);
    tc_join(t);
    CHECK_EQ(sel_rc[0], 1);
    CHECK_EQ(sel_rc[1], 1);
    CHECK(sel_v[0] + sel_v[1] == 77 + 78);
    /* both selects are done: neither channel has a waiter left */
    CHECK_RC(rt_chan_free(c), RT_OK);
    CHECK_RC(rt_chan_free(sel_other), RT_OK);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
