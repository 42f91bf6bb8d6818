/*
 * chan_test.c: Go's runtime/chan_test.go (the channel and select tests), ported to
 * libmrt's C API: make(chan int, n) = rt_chan_make(sizeof(int), n), `<-c` =
 * rt_chan_recv (RT_ECLOSED is Go's ok == false), select = rt_select (a default case =
 * timeout 0), close = rt_chan_close, len/cap = rt_chan_len/rt_chan_cap.
 * Left out, having no libmrt equivalent: TestChanSendInterface (interface values),
 * TestShrinkStackDuringBlockedSend, TestNoShrinkStackWhileParking and
 * TestSelectStackAdjust (libmrt's G stacks never move or shrink).
 */
#include "gotests.h"

/* ---- TestChan ---- */

struct recv_flag {
    rt_chan *c;
    atomic_bool flag;
    bool two; /* Go's `v, ok := <-c` form (same call here) */
};

static void recv_set_g(void *p)
{
    struct recv_flag *r = p;
    int v;
    gt_recv(r->c, &v);
    atomic_store(&r->flag, true);
}

struct send_flag {
    rt_chan *c;
    _Atomic uint32_t sent;
};

static void send_set_g(void *p)
{
    struct send_flag *s = p;
    int z = 0;
    gt_send(s->c, &z);
    atomic_store(&s->sent, 1);
}

struct close_unblock {
    rt_chan *c, *done;
};

static void close_unblock_g(void *p)
{
    struct close_unblock *a = p;
    int v = -1;
    bool ok = gt_recv(a->c, &v);
    bool r = v == 0 && !ok;
    gt_send(a->done, &r);
}

struct sender {
    rt_chan *c;
    int n;
};

/* Copies its argument first: once its last value is received, the receiver's frame
 * (where *s lives) may be reused. */
static void send_n_g(void *p)
{
    struct sender s = *(struct sender *)p;
    for (int i = 0; i < s.n; i++)
        gt_send(s.c, &i);
}

struct counting_recv {
    rt_chan *c, *done;
    int L;
};

/* Go's map[int]int of the values received: here an array indexed by value. */
static void counting_recv_g(void *p)
{
    struct counting_recv *a = p;
    int *recv = calloc((size_t)a->L, sizeof *recv);
    if (!recv)
        FATALF("out of memory");
    for (int i = 0; i < a->L; i++) {
        int v;
        gt_recv(a->c, &v);
        if (v < 0 || v >= a->L)
            FATALF("received %d, out of range", v);
        recv[v]++;
    }
    gt_send(a->done, &recv);
}

GO_TEST(TestChan)
{
    gt_gomaxprocs(4);
    int N = gt_short() ? 20 : 200;
    for (int chanCap = 0; chanCap < N; chanCap++) {
        {
            /* A receive from an empty channel blocks. */
            struct recv_flag r1 = { gt_make(sizeof(int), (size_t)chanCap), false, false };
            struct recv_flag r2 = { r1.c, false, true };
            gt_go(recv_set_g, &r1);
            gt_go(recv_set_g, &r2);
            gt_sleep(1 * GT_MS);
            if (atomic_load(&r1.flag) || atomic_load(&r2.flag))
                FATALF("chan[%d]: receive from empty chan", chanCap);
            /* A non-blocking receive does not block (both of Go's forms). */
            for (int form = 0; form < 2; form++) {
                int v;
                rt_select_case cs[1] = { gt_case_recv(r1.c, &v) };
                if (gt_select(cs, 1, 0) == 0)
                    FATALF("chan[%d]: receive from empty chan", chanCap);
            }
            int z = 0;
            gt_send(r1.c, &z);
            gt_send(r1.c, &z);
            /* r1, r2 live on this frame: wait until both receivers are done with them
             * (Go's GC keeps them alive instead). */
            while (!atomic_load(&r1.flag) || !atomic_load(&r2.flag))
                rt_gosched();
        }
        {
            /* A send to a full channel blocks. */
            struct send_flag s = { gt_make(sizeof(int), (size_t)chanCap), 0 };
            for (int i = 0; i < chanCap; i++)
                gt_send(s.c, &i);
            gt_go(send_set_g, &s);
            gt_sleep(1 * GT_MS);
            if (atomic_load(&s.sent) != 0)
                FATALF("chan[%d]: send to full chan", chanCap);
            /* A non-blocking send does not block. */
            int z = 0;
            rt_select_case cs[1] = { gt_case_send(s.c, &z) };
            if (gt_select(cs, 1, 0) == 0)
                FATALF("chan[%d]: send to full chan", chanCap);
            gt_recv(s.c, NULL);
            while (atomic_load(&s.sent) == 0)
                rt_gosched();
        }
        {
            /* A closed channel gives its buffered values, then zero. */
            rt_chan *c = gt_make(sizeof(int), (size_t)chanCap);
            for (int i = 0; i < chanCap; i++)
                gt_send(c, &i);
            gt_close(c);
            for (int i = 0; i < chanCap; i++) {
                int v = -1;
                gt_recv(c, &v);
                if (v != i)
                    FATALF("chan[%d]: received %d, expected %d", chanCap, v, i);
            }
            int v = -1;
            gt_recv(c, &v);
            if (v != 0)
                FATALF("chan[%d]: received %d, expected %d", chanCap, v, 0);
            v = -1;
            bool ok = gt_recv(c, &v);
            if (v != 0 || ok)
                FATALF("chan[%d]: received %d/%d, expected %d/%d", chanCap, v, ok, 0, false);
            rt_chan_free(c);
        }
        {
            /* close unblocks a receive. */
            struct close_unblock a = { gt_make(sizeof(int), (size_t)chanCap),
                                       gt_make(sizeof(bool), 0) };
            gt_go(close_unblock_g, &a);
            gt_sleep(1 * GT_MS);
            gt_close(a.c);
            bool r = false;
            gt_recv(a.done, &r);
            if (!r)
                FATALF("chan[%d]: received non zero from closed chan", chanCap);
        }
        {
            /* 100 integers arrive uncorrupted, in FIFO order (both receive forms). */
            rt_chan *c = gt_make(sizeof(int), (size_t)chanCap);
            struct sender s = { c, 100 };
            gt_go(send_n_g, &s);
            for (int i = 0; i < 100; i++) {
                int v = -1;
                gt_recv(c, &v);
                if (v != i)
                    FATALF("chan[%d]: received %d, expected %d", chanCap, v, i);
            }
            gt_go(send_n_g, &s);
            for (int i = 0; i < 100; i++) {
                int v = -1;
                if (!gt_recv(c, &v))
                    FATALF("chan[%d]: receive failed, expected %d", chanCap, i);
                if (v != i)
                    FATALF("chan[%d]: received %d, expected %d", chanCap, v, i);
            }

            /* 4 Gs send 1000 integers each, 4 Gs receive: every value arrives 4 times. */
            enum { P = 4, L = 1000 };
            struct sender sl = { c, L };
            for (int p = 0; p < P; p++)
                gt_go(send_n_g, &sl);
            struct counting_recv cr = { c, gt_make(sizeof(int *), 0), L };
            for (int p = 0; p < P; p++)
                gt_go(counting_recv_g, &cr);
            int recv[L];
            memset(recv, 0, sizeof recv);
            for (int p = 0; p < P; p++) {
                int *got = NULL;
                gt_recv(cr.done, &got);
                for (int k = 0; k < L; k++)
                    recv[k] += got[k];
                free(got);
            }
            int distinct = 0;
            for (int k = 0; k < L; k++)
                distinct += recv[k] != 0;
            if (distinct != L)
                FATALF("chan[%d]: received %d values, expected %d", chanCap, distinct, L);
            for (int k = 0; k < L; k++)
                if (recv[k] != 0 && recv[k] != P)
                    FATALF("chan[%d]: received %d values, expected %d", chanCap, recv[k], P);
        }
        {
            /* len and cap. */
            rt_chan *c = gt_make(sizeof(int), (size_t)chanCap);
            if (rt_chan_len(c) != 0 || rt_chan_cap(c) != (size_t)chanCap)
                FATALF("chan[%d]: bad len/cap, expect %d/%d, got %zu/%zu", chanCap, 0, chanCap,
                       rt_chan_len(c), rt_chan_cap(c));
            for (int i = 0; i < chanCap; i++)
                gt_send(c, &i);
            if (rt_chan_len(c) != (size_t)chanCap || rt_chan_cap(c) != (size_t)chanCap)
                FATALF("chan[%d]: bad len/cap, expect %d/%d, got %zu/%zu", chanCap, chanCap,
                       chanCap, rt_chan_len(c), rt_chan_cap(c));
            rt_chan_free(c);
        }
    }
}

/* ---- TestNonblockRecvRace ---- */

static void nonblock_recv_g(void *p)
{
    rt_chan *c = p;
    int v;
    rt_select_case cs[1] = { gt_case_recv(c, &v) };
    if (gt_select(cs, 1, 0) != 0)
        ERRORF("chan is not ready");
}

GO_TEST(TestNonblockRecvRace)
{
    int n = gt_short() ? 100 : 10000;
    for (int i = 0; i < n; i++) {
        rt_chan *c = gt_make(sizeof(int), 1);
        int one = 1;
        gt_send(c, &one);
        gt_go(nonblock_recv_g, c);
        gt_close(c);
        gt_recv(c, NULL);
        if (gt_failed())
            return;
    }
}

/* ---- TestNonblockSelectRace, TestNonblockSelectRace2 ---- */

struct nb_select {
    rt_chan *c1, *c2, *done;
};

/* From the moment this G exists, c1 or c2 is always ready to receive: the select must
 * never take its default case. */
static void nb_select_g(void *p)
{
    struct nb_select *a = p;
    int v;
    rt_select_case cs[2] = { gt_case_recv(a->c1, &v), gt_case_recv(a->c2, &v) };
    bool r = gt_select(cs, 2, 0) >= 0;
    gt_send(a->done, &r);
    free(a);
}

static void test_nonblock_select_race(bool close_c2)
{
    int n = gt_short() ? 1000 : 100000;
    rt_chan *done = gt_make(sizeof(bool), 1);
    for (int i = 0; i < n; i++) {
        struct nb_select *a = malloc(sizeof *a);
        if (!a)
            FATALF("out of memory");
        a->c1 = gt_make(sizeof(int), 1);
        a->c2 = gt_make(sizeof(int), close_c2 ? 0 : 1);
        a->done = done;
        rt_chan *c1 = a->c1, *c2 = a->c2;
        int one = 1;
        gt_send(c1, &one);
        gt_go(nb_select_g, a);
        if (close_c2)
            gt_close(c2);
        else
            gt_send(c2, &one);
        int v;
        rt_select_case cs[1] = { gt_case_recv(c1, &v) };
        gt_select(cs, 1, 0);
        bool r = false;
        gt_recv(done, &r);
        if (!r)
            FATALF("no chan is ready");
        rt_chan_free(c1);
        rt_chan_free(c2);
    }
}

GO_TEST(TestNonblockSelectRace)
{
    test_nonblock_select_race(false);
}

/* TestNonblockSelectRace with close(c2) in place of c2 <- 1. */
GO_TEST(TestNonblockSelectRace2)
{
    test_nonblock_select_race(true);
}

/* ---- TestSelfSelect ---- */

struct self_select {
    rt_chan *c;
    rt_wg *wg;
    int p, chanCap;
};

static void self_select_g(void *arg)
{
    struct self_select *a = arg;
    for (int i = 0; i < 1000; i++) {
        int v = -1, p = a->p;
        rt_select_case cs[2];
        int recv_idx;
        if (a->p == 0 || i % 2 == 0) {
            cs[0] = gt_case_send(a->c, &p);
            cs[1] = gt_case_recv(a->c, &v);
            recv_idx = 1;
        } else {
            cs[0] = gt_case_recv(a->c, &v);
            cs[1] = gt_case_send(a->c, &p);
            recv_idx = 0;
        }
        if (gt_select(cs, 2, -1) == recv_idx && a->chanCap == 0 && v == a->p) {
            ERRORF("self receive");
            break;
        }
    }
    rt_wg_done(a->wg);
}

/* A select that sends and receives on one channel never meets itself. */
GO_TEST(TestSelfSelect)
{
    gt_gomaxprocs(2);
    const int caps[] = { 0, 10 };
    for (int k = 0; k < 2; k++) {
        rt_wg wg = RT_WG_INIT;
        rt_wg_add(&wg, 2);
        rt_chan *c = gt_make(sizeof(int), (size_t)caps[k]);
        struct self_select a[2] = { { c, &wg, 0, caps[k] }, { c, &wg, 1, caps[k] } };
        for (int p = 0; p < 2; p++)
            gt_go(self_select_g, &a[p]);
        rt_wg_wait(&wg);
    }
}

/* ---- TestSelectStress ---- */

struct sel_stress {
    rt_chan *c[4];
    int N;
    rt_wg wg;
};

struct sel_stress_k {
    struct sel_stress *t;
    int k;
};

static void stress_send_g(void *p)
{
    struct sel_stress_k *a = p;
    int z = 0;
    for (int i = 0; i < a->t->N; i++)
        gt_send(a->t->c[a->k], &z);
    rt_wg_done(&a->t->wg);
}

static void stress_recv_g(void *p)
{
    struct sel_stress_k *a = p;
    for (int i = 0; i < a->t->N; i++)
        gt_recv(a->t->c[a->k], NULL);
    rt_wg_done(&a->t->wg);
}

/* One select over all four channels, each case dropped (nil channel) after N. */
static void stress_select_g(void *p, int dir, const int order[4])
{
    struct sel_stress *t = p;
    int n[4] = { 0, 0, 0, 0 };
    rt_chan *c1[4];
    memcpy(c1, t->c, sizeof c1);
    int z = 0, v;
    for (int i = 0; i < 4 * t->N; i++) {
        rt_select_case cs[4];
        for (int j = 0; j < 4; j++) {
            rt_select_case sc = { c1[order[j]], dir, dir == RT_SEND ? &z : &v, 0 };
            cs[j] = sc;
        }
        int k = order[gt_select(cs, 4, -1)];
        if (++n[k] == t->N)
            c1[k] = NULL;
    }
    rt_wg_done(&t->wg);
}

static void stress_select_send_g(void *p)
{
    static const int order[4] = { 3, 2, 0, 1 };
    stress_select_g(p, RT_SEND, order);
}

static void stress_select_recv_g(void *p)
{
    static const int order[4] = { 0, 1, 2, 3 };
    stress_select_g(p, RT_RECV, order);
}

GO_TEST(TestSelectStress)
{
    gt_gomaxprocs(10);
    struct sel_stress t;
    memset(&t, 0, sizeof t);
    t.c[0] = gt_make(sizeof(int), 0);
    t.c[1] = gt_make(sizeof(int), 0);
    t.c[2] = gt_make(sizeof(int), 2);
    t.c[3] = gt_make(sizeof(int), 3);
    t.N = 100000;
    if (gt_short())
        t.N /= 10;
    rt_wg_add(&t.wg, 10);
    struct sel_stress_k ks[4];
    for (int k = 0; k < 4; k++) {
        ks[k].t = &t;
        ks[k].k = k;
        gt_go(stress_send_g, &ks[k]);
        gt_go(stress_recv_g, &ks[k]);
    }
    gt_go(stress_select_send_g, &t);
    gt_go(stress_select_recv_g, &t);
    rt_wg_wait(&t.wg);
}

/* ---- TestSelectFairness ---- */

struct sel_fair {
    rt_chan *c1, *c2, *c3, *c4, *out, *done;
    rt_wg wg;
};

static void sel_fair_g(void *p)
{
    struct sel_fair *t = p;
    for (;;) {
        unsigned char b = 0, d;
        rt_select_case cs[4] = { gt_case_recv(t->c3, &b), gt_case_recv(t->c4, &b),
                                 gt_case_recv(t->c1, &b), gt_case_recv(t->c2, &b) };
        gt_select(cs, 4, -1);
        rt_select_case os[2] = { gt_case_send(t->out, &b), gt_case_recv(t->done, &d) };
        if (gt_select(os, 2, -1) == 1)
            break;
    }
    rt_wg_done(&t->wg);
}

/* A select with two always-ready cases picks each about half the time (Go's bound:
 * within 10 standard deviations). */
GO_TEST(TestSelectFairness)
{
    enum { trials = 10000 };
    struct sel_fair t;
    memset(&t, 0, sizeof t);
    t.c1 = gt_make(1, trials + 1);
    t.c2 = gt_make(1, trials + 1);
    for (int i = 0; i < trials + 1; i++) {
        unsigned char one = 1, two = 2;
        gt_send(t.c1, &one);
        gt_send(t.c2, &two);
    }
    t.c3 = gt_make(1, 0);
    t.c4 = gt_make(1, 0);
    t.out = gt_make(1, 0);
    t.done = gt_make(1, 0);
    rt_wg_add(&t.wg, 1);
    gt_go(sel_fair_g, &t);
    int cnt1 = 0, cnt2 = 0;
    for (int i = 0; i < trials; i++) {
        unsigned char b = 0;
        gt_recv(t.out, &b);
        switch (b) {
        case 1:
            cnt1++;
            break;
        case 2:
            cnt2++;
            break;
        default:
            FATALF("unexpected value %d on channel", b);
        }
    }
    const double mean = trials * 0.5;
    const double variance = trials * 0.5 * (1 - 0.5);
    double stddev = 0;
    /* sqrt without libm: Newton's iteration. */
    for (double s = variance; s > 0;) {
        double nxt = 0.5 * (s + variance / s);
        if (nxt >= s)
            break;
        s = nxt;
        stddev = s;
    }
    double dev = cnt1 - mean;
    if (dev < 0)
        dev = -dev;
    if (dev > 10 * stddev)
        ERRORF("unfair select: in %d trials, results were %d, %d", trials, cnt1, cnt2);
    gt_close(t.done);
    rt_wg_wait(&t.wg);
}

/* ---- TestPseudoRandomSend ---- */

struct prs {
    rt_chan *c;
    int *l, n;
    rt_mutex *m;
};

static void prs_g(void *p)
{
    struct prs *a = p;
    for (int i = 0; i < a->n; i++) {
        rt_gosched();
        gt_recv(a->c, &a->l[i]);
    }
    rt_mutex_unlock(a->m);
}

/* A select over two sends of 0 and 1 to one channel picks both, pseudo-randomly. */
GO_TEST(TestPseudoRandomSend)
{
    enum { n = 100 };
    const int caps[] = { 0, n };
    for (int k = 0; k < 2; k++) {
        int l[n];
        memset(l, 0, sizeof l);
        /* static: the G's rt_mutex_unlock may still be returning when this frame ends */
        static rt_mutex m = RT_MUTEX_INIT;
        rt_mutex_lock(&m);
        struct prs a = { gt_make(sizeof(int), (size_t)caps[k]), l, n, &m };
        gt_go(prs_g, &a);
        for (int i = 0; i < n; i++) {
            int one = 1, zero = 0;
            rt_select_case cs[2] = { gt_case_send(a.c, &one), gt_case_send(a.c, &zero) };
            gt_select(cs, 2, -1);
        }
        rt_mutex_lock(&m); /* wait */
        int n0 = 0, n1 = 0;
        for (int i = 0; i < n; i++) {
            n0 += (l[i] + 1) % 2;
            n1 += l[i];
        }
        if (n0 <= n / 10 || n1 <= n / 10)
            ERRORF("Want pseudorandom, got %d zeros and %d ones (chan cap %d)", n0, n1, caps[k]);
        rt_mutex_unlock(&m);
    }
}

/* ---- TestMultiConsumer ---- */

static const int mc_pn[] = { 2, 3, 7, 11, 13, 17, 19, 23, 27, 31 };
#define MC_NPN ((int)(sizeof mc_pn / sizeof mc_pn[0]))

struct multi_consumer {
    rt_chan *q, *r;
    rt_wg wg;
    int niter;
    long expect;
};

struct mc_worker {
    struct multi_consumer *t;
    int w;
};

static void mc_worker_g(void *p)
{
    struct mc_worker *a = p;
    int v;
    while (gt_recv(a->t->q, &v)) {
        /* upsets the FIFO-like order of the receives */
        if (mc_pn[a->w % MC_NPN] == v)
            rt_gosched();
        gt_send(a->t->r, &v);
    }
    rt_wg_done(&a->t->wg);
}

static void mc_feeder_g(void *p)
{
    struct multi_consumer *t = p;
    for (int i = 0; i < t->niter; i++) {
        int v = mc_pn[i % MC_NPN];
        t->expect += v;
        gt_send(t->q, &v);
    }
    gt_close(t->q);  /* no more work */
    rt_wg_wait(&t->wg); /* workers done */
    gt_close(t->r);  /* so no more results */
}

GO_TEST(TestMultiConsumer)
{
    enum { nwork = 23, niter = 271828 };
    struct multi_consumer t;
    memset(&t, 0, sizeof t);
    t.q = gt_make(sizeof(int), nwork * 3);
    t.r = gt_make(sizeof(int), nwork * 3);
    t.niter = niter;
    struct mc_worker ws[nwork];
    for (int i = 0; i < nwork; i++) {
        rt_wg_add(&t.wg, 1);
        ws[i].t = &t;
        ws[i].w = i;
        gt_go(mc_worker_g, &ws[i]);
    }
    gt_go(mc_feeder_g, &t);
    int n = 0;
    long s = 0;
    int v;
    while (gt_recv(t.r, &v)) {
        n++;
        s += v;
    }
    if (n != niter || s != t.expect)
        ERRORF("Expected sum %ld (got %ld) from %d iter (saw %d)", t.expect, s, niter, n);
}

/* ---- TestSelectDuplicateChannel ---- */

struct dup_chan {
    rt_chan *c, *d, *e;
};

static void dup_a_g(void *p)
{
    struct dup_chan *t = p;
    int v;
    rt_select_case cs[3] = { gt_case_recv(t->c, &v), gt_case_recv(t->c, &v),
                             gt_case_recv(t->d, &v) };
    gt_select(cs, 3, -1);
    int nine = 9;
    gt_send(t->e, &nine);
}

static void dup_b_g(void *p)
{
    struct dup_chan *t = p;
    gt_recv(t->c, NULL);
}

/* A G queued twice on one channel by a select, woken through another channel, leaves
 * that channel's wait queue intact. */
GO_TEST(TestSelectDuplicateChannel)
{
    struct dup_chan t = { gt_make(sizeof(int), 0), gt_make(sizeof(int), 0),
                          gt_make(sizeof(int), 0) };
    gt_go(dup_a_g, &t);
    gt_sleep(1 * GT_MS); /* A queues on c first */
    gt_go(dup_b_g, &t);
    gt_sleep(1 * GT_MS); /* then B */
    int seven = 7, eight = 8;
    gt_send(t.d, &seven); /* wakes A, which takes itself off c */
    gt_recv(t.e, NULL);
    gt_send(t.c, &eight); /* wakes B */
}
