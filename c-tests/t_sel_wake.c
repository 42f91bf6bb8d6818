/*
 * A blocked rt_select is woken by its counterpart: a select of two receive cases by
 * a send on one of them, and a select of two send cases by a receive on one of
 * them; the selector is a G (parked) or a foreign thread (futex), the waker a G or a
 * foreign thread (all four pairs), with and without a timeout. The select returns
 * the index of that case with RT_OK, the element moved exactly once, and the other
 * case's channel is left without a waiter (trysend/tryrecv -> RT_EAGAIN).
 * 1 P for the pairs with a G selector (it parks before the waker starts), 2 Ps else.
 */
#include "test_chan.h"

typedef struct sel {
    rt_chan *a, *b;
    int dir;          /* of the select's cases */
    int64_t timeout;
    int rc, result;
    uint64_t ea, eb;  /* elems of the cases */
    pid_t tid;
    test_latch started;
    rt_wg done;
} sel;

static void sel_body(sel *s)
{
    s->ea = s->dir == RT_SEND ? 0xA : 0;
    s->eb = s->dir == RT_SEND ? 0xB : 0;
    rt_select_case cs[2] = { { s->a, s->dir, &s->ea, 7 }, { s->b, s->dir, &s->eb, 7 } };
    s->rc = rt_select(cs, 2, s->timeout);
    s->result = s->rc >= 0 ? cs[s->rc].result : 7;
    if (s->rc >= 0 && cs[1 - s->rc].result != 7)
        FAIL("the case that did not proceed got a result");
    rt_wg_done(&s->done);
}

static void sel_g(void *arg) { sel_body(arg); }

static void *sel_t(void *arg)
{
    sel *s = arg;
    s->tid = tc_gettid();
    test_latch_post(&s->started);
    sel_body(s);
    return NULL;
}

/* The waker: one operation on channel b. */
typedef struct waker {
    sel *s;
    int rc;
    uint64_t v;
    rt_wg done;
} waker;

static void waker_body(waker *w)
{
    if (w->s->dir == RT_RECV) {
        w->v = 0xBEEF;
        w->rc = rt_chan_send(w->s->b, &w->v);
    } else {
        w->v = 0;
        w->rc = rt_chan_recv(w->s->b, &w->v);
    }
    rt_wg_done(&w->done);
}

static void waker_g(void *arg) { waker_body(arg); }
static void *waker_t(void *arg) { waker_body(arg); return NULL; }

typedef struct pair {
    int sel_kind, wake_kind, dir;
    int64_t timeout;
} pair;

static void run_pair(void *arg)
{
    pair *p = arg;
    static sel s;
    static waker w;
    memset(&s, 0, sizeof s);
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&s.started.mu, NULL);
    pthread_cond_init(&s.started.cv, NULL);
    CHECK_RC(rt_chan_make(8, 0, &s.a), RT_OK);
    CHECK_RC(rt_chan_make(8, 0, &s.b), RT_OK);
    s.dir = p->dir;
    s.timeout = p->timeout;
    w.s = &s;
    rt_wg_add(&s.done, 1);
    rt_wg_add(&w.done, 1);
    pthread_t st = 0, wt = 0;
    if (p->sel_kind == TC_G) {
        tc_go(sel_g, &s);
        tc_park_settle(20); /* 1 P: the selector parks before we go on */
    } else {
        st = tc_thread(sel_t, &s);
        test_latch_wait(&s.started, 1);
        tc_wait_thread_blocked(s.tid);
    }
    if (p->wake_kind == TC_G)
        tc_go(waker_g, &w);
    else
        wt = tc_thread(waker_t, &w);
    rt_wg_wait(&s.done);
    rt_wg_wait(&w.done);
    if (st)
        tc_join(st);
    if (wt)
        tc_join(wt);
    if (!CHECK_EQ(s.rc, 1))
        fprintf(stderr, "  selector %s, waker %s, dir %s, timeout %" PRId64 "\n",
                p->sel_kind == TC_G ? "G" : "thread", p->wake_kind == TC_G ? "G" : "thread",
                p->dir == RT_SEND ? "send" : "recv", p->timeout);
    CHECK_RC(s.result, RT_OK);
    CHECK_RC(w.rc, RT_OK);
    if (p->dir == RT_RECV) {
        CHECK_EQ(s.eb, 0xBEEF);
        CHECK_EQ(s.ea, 0);
    } else {
        CHECK_EQ(w.v, 0xB);
    }
    uint64_t v = 1;
    CHECK_RC(rt_chan_trysend(s.a, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(s.a, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_trysend(s.b, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(s.b, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_free(s.a), RT_OK);
    CHECK_RC(rt_chan_free(s.b), RT_OK);
    pthread_mutex_destroy(&s.started.mu);
    pthread_cond_destroy(&s.started.cv);
}

int main(void)
{
    for (int sk = TC_G; sk <= TC_T; sk++)
        for (int wk = TC_G; wk <= TC_T; wk++)
            for (int d = RT_SEND; d <= RT_RECV; d++)
                for (int t = 0; t < 2; t++) {
                    pair p = { sk, wk, d, t ? 60000000000LL : -1 };
                    tc_in_child(sk == TC_G ? 1 : 2, true, run_pair, &p);
                }
    return test_summary();
}
