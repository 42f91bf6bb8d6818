/*
 * san_handoff.c: a host built with -fsanitize=address or -fsanitize=thread (by
 * c-tests/san.sh) that does what trips a sanitizer not told about libmrt's Gs. Under
 * either it must run with zero reports; with MRT_DEBUG=nosan (libmrt tells the
 * sanitizer nothing) san.sh expects reports, which shows these sections bite.
 *
 * Every hand-off passes plain (non-atomic) data: written by one G before the
 * hand-off, read (and often written back) by another after it, so TSan checks that
 * each edge exists:
 *   go        rt_go's argument, written by the creator
 *   unbuf     an unbuffered channel, both ways (a receive comes before the send's end)
 *   buf       a buffered channel carrying indexes into a plain array
 *   close     data written before rt_chan_close, read after RT_ECLOSED
 *   select    select with send and receive cases over several channels
 *   mutex     a plain counter under rt_mutex (lock, trylock)
 *   wg        results written before rt_wg_done, read after rt_wg_wait
 *   park      data written before rt_ready, read after rt_park returns
 *   thread    a foreign thread (no G) sending to a G and receiving from one
 *   main      data written by rt_main's G, read after rt_main returns
 *   migrate   Gs yielding in a loop over their own data while moving between Ms
 * and, for ASan (the same Gs run under TSan too):
 *   goexit    Gs that end with rt_goexit deep in frames with stack arrays, then Gs
 *             reusing their stacks with a large array across the same range
 *   longjmp   a G that longjmps out of such frames, then uses the same range
 * `san_handoff NAME [ROUNDS]` runs only section NAME (and main); no argument or
 * `all`: every section.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrt.h"

/*
 * Checks count with relaxed atomics on purpose: c-tests/test.h's counters are
 * sequentially consistent read-modify-writes, which TSan rightly takes for
 * synchronisation between every two checks, and which would hide the very edges
 * checked here (a check after each hand-off would order it anyway).
 */
static atomic_int passed, failed;

static bool check_(bool ok, const char *file, int line, const char *what, long a, long b)
{
    if (ok) {
        atomic_fetch_add_explicit(&passed, 1, memory_order_relaxed);
    } else {
        fprintf(stderr, "%s:%d: %s failed (%ld vs %ld)\n", file, line, what, a, b);
        atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
    }
    return ok;
}

static bool check_eq_(long a, long b, const char *file, int line, const char *what)
{
    return check_(a == b, file, line, what, a, b);
}

#define CHECK(c) check_((c) ? true : false, __FILE__, __LINE__, #c, 0, 0)
#define CHECK_EQ(a, b) check_eq_((long)(a), (long)(b), __FILE__, __LINE__, #a " == " #b)
#define CHECK_RC(e, want) CHECK_EQ(e, want)

#define NOINLINE __attribute__((noinline))

/* Rounds of the repeated sections (argv[2]; 20 by default). Atomic, as `only`: set
 * before rt_init, they are read by Gs, whose edge from main is what MRT_DEBUG=nosan-go
 * removes (a negative run must report its section's race, not theirs). */
static _Atomic int rounds = 20;

/* Keeps a buffer alive (and its frame's redzones in place) across calls. */
static void NOINLINE sink(volatile char *p) { (void)p[0]; }

/* ---- go ---- */
struct go_arg {
    long a[8];
    rt_wg *wg;
    long sum;
};

static void go_fn(void *p)
{
    struct go_arg *g = p;
    long s = 0;
    for (int i = 0; i < 8; i++)
        s += g->a[i];
    g->sum = s;
    rt_wg_done(g->wg);
}

/* The creating G is wired to its M, so that every G it makes runs on another thread:
 * without that, most could run on the creator's own M before another M woke to steal
 * one, and a run without libmrt's annotations (MRT_DEBUG=nosan) would have no race
 * for TSan to see in this section. */
static void test_go(void)
{
    enum { N = 64 };
    static struct go_arg args[N];
    rt_wg wg = RT_WG_INIT;
    CHECK_RC(rt_lockosthread(), RT_OK);
    rt_wg_add(&wg, N);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 8; j++)
            args[i].a[j] = i * 8 + j;
        args[i].wg = &wg;
        CHECK(rt_go(go_fn, &args[i]) > 0);
    }
    rt_wg_wait(&wg);
    CHECK_RC(rt_unlockosthread(), RT_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(args[i].sum, 64L * i + 28);
}

/* ---- unbuf, buf, close ---- */
struct msg {
    long v[4];
};

struct pipe_arg {
    rt_chan *req, *resp;
    long ack; /* written by the receiver before its receive, read by the sender */
    rt_wg *wg;
};

static void unbuf_receiver(void *p)
{
    struct pipe_arg *a = p;
    for (int i = 0; i < 200; i++) {
        struct msg *m;
        a->ack = i;
        if (!CHECK_RC(rt_chan_recv(a->req, &m), RT_OK))
            break;
        CHECK_EQ(m->v[0] + m->v[3], 2L * i + 3);
        m->v[1] = -i; /* written back: the sender reads it after the response */
        CHECK_RC(rt_chan_send(a->resp, &m), RT_OK);
    }
    rt_wg_done(a->wg);
}

static void test_unbuf(void)
{
    rt_wg wg = RT_WG_INIT;
    struct pipe_arg a = { 0 };
    CHECK_RC(rt_chan_make(sizeof(void *), 0, &a.req), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(void *), 0, &a.resp), RT_OK);
    a.wg = &wg;
    rt_wg_add(&wg, 1);
    CHECK(rt_go(unbuf_receiver, &a) > 0);
    for (int i = 0; i < 200; i++) {
        struct msg *m = malloc(sizeof *m), *back;
        m->v[0] = i;
        m->v[3] = i + 3;
        CHECK_RC(rt_chan_send(a.req, &m), RT_OK);
        CHECK_EQ(a.ack, i); /* the receive it completed came after this write */
        CHECK_RC(rt_chan_recv(a.resp, &back), RT_OK);
        CHECK_EQ(back->v[1], -i);
        free(back);
    }
    rt_wg_wait(&wg);
    rt_chan_free(a.req);
    rt_chan_free(a.resp);
}

enum { SLOTS = 8 };
struct ring {
    rt_chan *full, *empty;
    long slot[SLOTS][4];
    rt_wg *wg;
    long got;
};

static void buf_consumer(void *p)
{
    struct ring *r = p;
    long sum = 0;
    for (;;) {
        int i;
        int rc = rt_chan_recv(r->full, &i);
        if (rc == RT_ECLOSED)
            break;
        CHECK_RC(rc, RT_OK);
        sum += r->slot[i][0] + r->slot[i][3];
        r->slot[i][0] = -1; /* the producer overwrites the slot after reusing it */
        CHECK_RC(rt_chan_send(r->empty, &i), RT_OK);
    }
    r->got = sum; /* read by the main G after the wait group */
    rt_wg_done(r->wg);
}

static void test_buf_close(void)
{
    rt_wg wg = RT_WG_INIT;
    static struct ring r;
    CHECK_RC(rt_chan_make(sizeof(int), SLOTS, &r.full), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), SLOTS, &r.empty), RT_OK);
    for (int i = 0; i < SLOTS; i++)
        CHECK_RC(rt_chan_send(r.empty, &i), RT_OK);
    r.wg = &wg;
    rt_wg_add(&wg, 1);
    CHECK(rt_go(buf_consumer, &r) > 0);
    long want = 0;
    for (int k = 0; k < 500; k++) {
        int i;
        CHECK_RC(rt_chan_recv(r.empty, &i), RT_OK);
        r.slot[i][0] = k;
        r.slot[i][3] = 1;
        want += k + 1;
        CHECK_RC(rt_chan_send(r.full, &i), RT_OK);
    }
    CHECK_RC(rt_chan_close(r.full), RT_OK);
    rt_wg_wait(&wg);
    CHECK_EQ(r.got, want);
    rt_chan_free(r.full);
    rt_chan_free(r.empty);
}

/* close: data written before the close is read after RT_ECLOSED. */
struct close_arg {
    rt_chan *c;
    long data[16];
    rt_wg *wg;
    long seen;
};

static void close_waiter(void *p)
{
    struct close_arg *a = p;
    int v;
    CHECK_RC(rt_chan_recv(a->c, &v), RT_ECLOSED);
    long s = 0;
    for (int i = 0; i < 16; i++)
        s += a->data[i];
    a->seen = s;
    rt_wg_done(a->wg);
}

static void test_close(void)
{
    for (int round = 0; round < atomic_load_explicit(&rounds, memory_order_relaxed); round++) {
        rt_wg wg = RT_WG_INIT;
        struct close_arg a = { 0 };
        a.wg = &wg;
        CHECK_RC(rt_chan_make(sizeof(int), round % 2, &a.c), RT_OK);
        rt_wg_add(&wg, 1);
        CHECK(rt_go(close_waiter, &a) > 0);
        if (round % 3 == 0)
            rt_gosched();
        for (int i = 0; i < 16; i++)
            a.data[i] = round + i;
        CHECK_RC(rt_chan_close(a.c), RT_OK);
        rt_wg_wait(&wg);
        CHECK_EQ(a.seen, 16L * round + 120);
        rt_chan_free(a.c);
    }
}

/* ---- select ---- */
struct sel_arg {
    rt_chan *in[2], *out;
    rt_wg *wg;
};

static void sel_worker(void *p)
{
    struct sel_arg *a = p;
    int open = 2;
    while (open > 0) {
        struct msg *m = NULL;
        rt_select_case cs[2] = {
            { .chan = a->in[0], .dir = RT_RECV, .elem = &m },
            { .chan = a->in[1], .dir = RT_RECV, .elem = &m },
        };
        int i = rt_select(cs, 2, -1);
        if (!CHECK(i == 0 || i == 1))
            break;
        if (cs[i].result == RT_ECLOSED) {
            a->in[i] = NULL; /* a NULL channel never proceeds */
            open--;
            continue;
        }
        m->v[2] = m->v[0] * 2;
        rt_select_case so = { .chan = a->out, .dir = RT_SEND, .elem = &m };
        CHECK_EQ(rt_select(&so, 1, -1), 0);
    }
    rt_wg_done(a->wg);
}

static void test_select(void)
{
    rt_wg wg = RT_WG_INIT;
    struct sel_arg a;
    CHECK_RC(rt_chan_make(sizeof(void *), 0, &a.in[0]), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(void *), 2, &a.in[1]), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(void *), 1, &a.out), RT_OK);
    rt_chan *in0 = a.in[0], *in1 = a.in[1];
    a.wg = &wg;
    rt_wg_add(&wg, 1);
    CHECK(rt_go(sel_worker, &a) > 0);
    int sent = 0, got = 0;
    struct msg *pending = NULL;
    while (got < 300) {
        struct msg *m = pending, *back = NULL;
        if (!m && sent < 300) {
            m = malloc(sizeof *m);
            m->v[0] = sent;
        }
        rt_select_case cs[3] = {
            { .chan = (sent % 2) ? in1 : in0, .dir = RT_SEND, .elem = &m },
            { .chan = a.out, .dir = RT_RECV, .elem = &back },
        };
        int n = m ? 2 : 1;
        int i = rt_select(m ? cs : cs + 1, n, -1);
        if (m && i == 0) {
            sent++;
            pending = NULL;
        } else {
            pending = m;
            CHECK_EQ(back->v[2], back->v[0] * 2);
            free(back);
            got++;
        }
    }
    CHECK_RC(rt_chan_close(in0), RT_OK);
    CHECK_RC(rt_chan_close(in1), RT_OK);
    rt_wg_wait(&wg);
    rt_chan_free(in0);
    rt_chan_free(in1);
    rt_chan_free(a.out);
}

/* ---- mutex, wg ---- */
static rt_mutex mu = RT_MUTEX_INIT;
static long counter;
static long results[32];

static void mutex_worker(void *p)
{
    rt_wg *wg = p;
    for (int i = 0; i < 200; i++) {
        if (i % 4 == 0) {
            while (!rt_mutex_trylock(&mu))
                rt_gosched();
        } else {
            rt_mutex_lock(&mu);
        }
        counter++;
        if (i % 16 == 0)
            rt_gosched(); /* hold it across a switch: others block */
        rt_mutex_unlock(&mu);
    }
    rt_wg_done(wg);
}

static void wg_worker(void *p)
{
    rt_wg *wg = ((void **)p)[0];
    long i = (long)((void **)p)[1];
    results[i] = i * i;
    rt_wg_done(wg);
}

static void test_mutex_wg(void)
{
    rt_wg wg = RT_WG_INIT;
    rt_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        CHECK(rt_go(mutex_worker, &wg) > 0);
    rt_wg_wait(&wg);
    CHECK_EQ(counter, 1600);

    static void *args[32][2];
    rt_wg wg2 = RT_WG_INIT;
    rt_wg_add(&wg2, 32);
    for (long i = 0; i < 32; i++) {
        args[i][0] = &wg2;
        args[i][1] = (void *)i;
        CHECK(rt_go(wg_worker, args[i]) > 0);
    }
    rt_wg_wait(&wg2);
    for (long i = 0; i < 32; i++)
        CHECK_EQ(results[i], i * i);
}

/* ---- park ---- */
struct park_arg {
    _Atomic(struct rt_g *) g;
    long data[8];
    long sum;
    rt_wg *wg;
};

static bool park_publish(struct rt_g *g, void *p)
{
    struct park_arg *a = p;
    atomic_store(&a->g, g); /* after this, the waker may ready us */
    return true;
}

static void parker(void *p)
{
    struct park_arg *a = p;
    CHECK_RC(rt_park(park_publish, a), RT_OK);
    long s = 0;
    for (int i = 0; i < 8; i++)
        s += a->data[i];
    a->sum = s;
    rt_wg_done(a->wg);
}

static void waker(void *p)
{
    struct park_arg *a = p;
    struct rt_g *g;
    while (!(g = atomic_load(&a->g)))
        rt_gosched();
    for (int i = 0; i < 8; i++)
        a->data[i] = i + 100;
    CHECK_RC(rt_ready(g), RT_OK);
    rt_wg_done(a->wg);
}

static void test_park(void)
{
    for (int round = 0; round < atomic_load_explicit(&rounds, memory_order_relaxed); round++) {
        rt_wg wg = RT_WG_INIT;
        struct park_arg a = { .wg = &wg };
        atomic_init(&a.g, NULL);
        rt_wg_add(&wg, 2);
        CHECK(rt_go(parker, &a) > 0);
        CHECK(rt_go(waker, &a) > 0);
        rt_wg_wait(&wg);
        CHECK_EQ(a.sum, 828);
    }
}

/* ---- thread: a foreign thread talks to a G through channels ---- */
struct thr_arg {
    rt_chan *to_g, *from_g;
};

static void *foreign(void *p)
{
    struct thr_arg *a = p;
    for (int i = 0; i < 50; i++) {
        struct msg *m = malloc(sizeof *m);
        m->v[0] = i;
        CHECK_RC(rt_chan_send(a->to_g, &m), RT_OK);
        CHECK_RC(rt_chan_recv(a->from_g, &m), RT_OK);
        CHECK_EQ(m->v[1], i + 1);
        free(m);
    }
    return NULL;
}

static void echo_g(void *p)
{
    struct thr_arg *a = p;
    for (int i = 0; i < 50; i++) {
        struct msg *m;
        CHECK_RC(rt_chan_recv(a->to_g, &m), RT_OK);
        m->v[1] = m->v[0] + 1;
        CHECK_RC(rt_chan_send(a->from_g, &m), RT_OK);
    }
}

static void test_thread(void)
{
    struct thr_arg a;
    CHECK_RC(rt_chan_make(sizeof(void *), 0, &a.to_g), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(void *), 1, &a.from_g), RT_OK);
    CHECK(rt_go(echo_g, &a) > 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, foreign, &a), 0);
    pthread_join(t, NULL);
    rt_chan_free(a.to_g);
    rt_chan_free(a.from_g);
}

/* ---- migrate: Gs keep their own data while yielding (maybe to other Ms) ---- */
static void yielder(void *p)
{
    void **a = p;
    long *mine = a[1];
    char local[256];
    for (int i = 0; i < 300; i++) {
        memset(local, i, sizeof local);
        mine[i % 4] += local[i % 256];
        rt_gosched();
    }
    rt_wg_done(a[0]);
}

static void test_migrate(void)
{
    static long own[8][4];
    static void *args[8][2];
    rt_wg wg = RT_WG_INIT;
    rt_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++) {
        args[i][0] = &wg;
        args[i][1] = own[i];
        CHECK(rt_go(yielder, args[i]) > 0);
    }
    rt_wg_wait(&wg);
    long want = 0;
    for (int i = 0; i < 300; i++)
        want += (signed char)i;
    for (int i = 0; i < 8; i++)
        CHECK_EQ(own[i][0] + own[i][1] + own[i][2] + own[i][3], want);
}

/* ---- goexit: stale stack poison on a reused stack ---- */
static rt_wg exit_wg = RT_WG_INIT;

/* Frames with stack arrays (ASan puts redzones around each); the deepest one ends
 * the G with rt_goexit, so none of them returns to remove its redzones. */
static void NOINLINE deep_exit(int n)
{
    char buf[48];
    memset(buf, n, sizeof buf);
    sink(buf);
    if (n == 0) {
        rt_wg_done(&exit_wg);
        rt_goexit();
        return; /* (only outside a G) */
    }
    deep_exit(n - 1);
    sink(buf);
}

static void exit_g(void *p)
{
    (void)p;
    deep_exit(60);
}

/* One array across the range the frames above used. */
static void NOINLINE wide_frame(void)
{
    char big[24 * 1024];
    memset(big, 7, sizeof big);
    sink(big);
}

static void reuse_g(void *p)
{
    wide_frame();
    rt_wg_done(p);
}

static void test_goexit(void)
{
    /* One P: each new G takes the stack the last one left in the P's cache. */
    int old = rt_gomaxprocs(1);
    CHECK(old >= 1);
    for (int round = 0; round < 8; round++) {
        rt_wg_add(&exit_wg, 1);
        CHECK(rt_go(exit_g, NULL) > 0);
        rt_wg_wait(&exit_wg);
        rt_gosched(); /* it runs on to its rt_goexit */
        rt_wg wg = RT_WG_INIT;
        rt_wg_add(&wg, 1);
        CHECK(rt_go(reuse_g, &wg) > 0);
        rt_wg_wait(&wg);
    }
    rt_gomaxprocs(old);
}

/* ---- longjmp out of frames with stack arrays, on a G stack ---- */
static jmp_buf jb;
static volatile bool do_jump = true;

static void NOINLINE deep_jump(int n)
{
    char buf[48];
    memset(buf, n, sizeof buf);
    sink(buf);
    if (n == 0) {
        if (do_jump)
            longjmp(jb, 1);
        return;
    }
    deep_jump(n - 1);
    sink(buf);
}

static void jump_g(void *p)
{
    if (setjmp(jb) == 0)
        deep_jump(60);
    wide_frame(); /* the range the skipped frames used */
    rt_wg_done(p);
}

static void test_longjmp(void)
{
    for (int round = 0; round < 4; round++) {
        rt_wg wg = RT_WG_INIT;
        rt_wg_add(&wg, 1);
        CHECK(rt_go(jump_g, &wg) > 0);
        rt_wg_wait(&wg);
    }
}

/* ---- main: rt_main's G hands its results to the caller of rt_main ---- */
static long main_out[16];

static const struct {
    const char *name;
    void (*fn)(void);
} sections[] = {
    { "go", test_go },         { "unbuf", test_unbuf },     { "buf", test_buf_close },
    { "close", test_close },   { "select", test_select },   { "mutex_wg", test_mutex_wg },
    { "park", test_park },     { "thread", test_thread },   { "migrate", test_migrate },
    { "goexit", test_goexit }, { "longjmp", test_longjmp },
};

static _Atomic(const char *) only; /* argv[1]: run just this section */

static void main_g(void *p)
{
    (void)p;
    int ran = 0;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        const char *o = atomic_load_explicit(&only, memory_order_relaxed);
        if (!o || strcmp(o, sections[i].name) == 0) {
            sections[i].fn();
            ran++;
        }
    }
    CHECK(ran > 0);
    for (int i = 0; i < 16; i++)
        main_out[i] = i * 3;
}

int main(int argc, char **argv)
{
    only = argc > 1 && strcmp(argv[1], "all") != 0 ? argv[1] : NULL;
    if (argc > 2)
        rounds = atoi(argv[2]);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 4 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    long s = 0;
    for (int i = 0; i < 16; i++)
        s += main_out[i];
    CHECK_EQ(s, 360);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    int p = atomic_load(&passed), f = atomic_load(&failed);
    printf("%d passed, %d failed\n", p, f);
    return f ? 1 : 0;
}
