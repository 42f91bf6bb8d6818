/*
 * test_chan.h: helpers shared by the channel, select, timer and netpoller tests
 * (t_ch_*, t_sel_*, t_tm_*, t_np_*). Include it instead of test.h.
 *
 *   tc_init(n) / tc_fini()      rt_init with n Ps / rt_shutdown (checked)
 *   tc_run(n, fn, arg)          rt_init(n), rt_main(fn, arg), rt_shutdown
 *   tc_scale(native, vg)        a count: smaller under valgrind
 *   tc_now()                    CLOCK_MONOTONIC in ns (never used for upper bounds)
 *   tc_thread(fn, arg)          start a foreign pthread (checked); tc_join(t)
 *   tc_go(fn, arg)              rt_go, checked
 *   tc_wait_thread_blocked(tid) best effort: wait until a thread sits in futex(2)
 *                               or poll(2) (not an assertion: the tests stay correct
 *                               if it gives up; it only makes "woken while blocked"
 *                               the likely case)
 *   tc_park_settle(n)           from a G: rt_gosched n times (on 1 P this lets every
 *                               runnable G run until it parks)
 *   tc_enc / tc_dec             element contents encoding (sender, seq) for any size
 *   tc_xfer_run(...)            the generic transfer check (see below)
 *   tc_xfer_main(...)           a whole transfer program: sizes x capacities, 1 and 2 Ps
 *   tc_in_child(n, as_g, fn, a) run fn in a fresh child process / runtime
 *   tc_in_child_thread(n, fn, a) the same, fn on a foreign pthread of that child
 *   tc_waiters_*                Gs and threads blocked in one channel operation
 *   tc_fill / tc_drain          fill / empty a non-blocking fd
 */
#ifndef MRT_TEST_CHAN_H
#define MRT_TEST_CHAN_H

#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

static inline int tc_scale(int native, int vg)
{
    return test_under_valgrind() ? vg : native;
}

static inline int64_t tc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void tc_init(int maxprocs)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = maxprocs };
    CHECK_RC(rt_init(&cfg), RT_OK);
}

static inline void tc_fini(void)
{
    CHECK_RC(rt_shutdown(test_under_valgrind() ? 60000000000LL : 20000000000LL), RT_OK);
}

static inline void tc_run(int maxprocs, rt_fn fn, void *arg)
{
    tc_init(maxprocs);
    CHECK_RC(rt_main(fn, arg), RT_OK);
    tc_fini();
}

/* Run fn(arg) in a fresh child process (test_spawn) with a new runtime of `procs`
 * Ps: as the main G (as_g) or on the plain main thread. Each configuration of a test
 * gets its own process, so one bug cannot hide behind another (and rt_shutdown +
 * rt_init is not exercised by accident). */
typedef struct tc_child_args {
    int procs;
    bool as_g;
    rt_fn fn;
    void *arg;
} tc_child_args;

static inline void tc_child_(void *a)
{
    tc_child_args *c = a;
    if (c->as_g) {
        tc_run(c->procs, c->fn, c->arg);
    } else {
        tc_init(c->procs);
        c->fn(c->arg);
        tc_fini();
    }
}

static inline bool tc_in_child(int procs, bool as_g, rt_fn fn, void *arg)
{
    tc_child_args a = { procs, as_g, fn, arg };
    int st = test_spawn(tc_child_, &a, NULL, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return test_check_(true, __FILE__, __LINE__, "child ok");
    FAIL("child (%d Ps, %s) failed: %s %d", procs, as_g ? "main G" : "plain thread",
         WIFEXITED(st) ? "exit status" : "killed by signal",
         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return false;
}

static inline pthread_t tc_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    if (e != 0)
        FAIL("pthread_create: %s", strerror(e));
    return t;
}

static inline void tc_join(pthread_t t)
{
    int e = pthread_join(t, NULL);
    if (e != 0)
        FAIL("pthread_join: %s", strerror(e));
}

/* tc_in_child(procs, false, ...) with fn(arg) on a foreign pthread that the child's
 * plain main thread starts and joins. */
typedef struct tc_thread_call {
    rt_fn fn;
    void *arg;
} tc_thread_call;

static inline void *tc_thread_call_(void *a)
{
    tc_thread_call *c = a;
    c->fn(c->arg);
    return NULL;
}

static inline void tc_on_thread_(void *a)
{
    tc_join(tc_thread(tc_thread_call_, a));
}

static inline bool tc_in_child_thread(int procs, rt_fn fn, void *arg)
{
    tc_thread_call c = { fn, arg };
    return tc_in_child(procs, false, tc_on_thread_, &c);
}

/* Reads one u32 from the non-blocking fd `fd` on a G, waiting in rt_poll_fd after
 * EAGAIN (a wait must answer RT_POLLIN); false, with the failure counted, otherwise. */
static inline bool tc_read_u32(int fd, uint32_t *v)
{
    for (;;) {
        ssize_t n = read(fd, v, sizeof *v);
        if (n == (ssize_t)sizeof *v)
            return true;
        if (n < 0 && errno == EAGAIN) {
            int r = rt_poll_fd(fd, RT_POLLIN, -1);
            if (r != RT_POLLIN) {
                FAIL("rt_poll_fd -> %d", r);
                return false;
            }
            continue;
        }
        FAIL("read -> %zd (%s)", n, strerror(errno));
        return false;
    }
}

static inline int64_t tc_go(rt_fn fn, void *arg)
{
    int64_t id = rt_go(fn, arg);
    if (id <= 0)
        FAIL("rt_go: %" PRId64 " (%s)", id, rt_err_name((int)id));
    return id;
}

static inline pid_t tc_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* The syscall number a thread is blocked in, or -1 (running / unknown). */
static inline long tc_thread_syscall(pid_t tid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    if (strncmp(buf, "running", 7) == 0)
        return -1;
    return strtol(buf, NULL, 10);
}

/* Best effort (see above): true if the thread was seen blocked in `sysno`. */
static inline bool tc_wait_thread_in(pid_t tid, long sysno)
{
    int rounds = tc_scale(2000, 10000);
    for (int i = 0; i < rounds; i++) {
        if (tc_thread_syscall(tid) == sysno) {
            /* twice in a row: not just passing through */
            usleep(1000);
            if (tc_thread_syscall(tid) == sysno)
                return true;
        }
        usleep(1000);
    }
    return false;
}

static inline bool tc_wait_thread_blocked(pid_t tid)
{
    return tc_wait_thread_in(tid, SYS_futex);
}

static inline void tc_park_settle(int n)
{
    for (int i = 0; i < n; i++)
        rt_gosched();
}

/* ---- element contents ----
 * size 0: nothing; size 1: (sender << 6) | (seq & 63) (sender < 4); size >= 8: a
 * uint64 (sender << 32 | seq) then a pattern derived from both. */

static inline void tc_enc(void *buf, size_t size, uint32_t sender, uint32_t seq)
{
    unsigned char *b = buf;
    if (size == 0)
        return;
    if (size < 8) {
        memset(b, 0, size);
        b[0] = (unsigned char)((sender << 6) | (seq & 63));
        return;
    }
    uint64_t v = ((uint64_t)sender << 32) | seq;
    memcpy(b, &v, 8);
    for (size_t i = 8; i < size; i++)
        b[i] = (unsigned char)(sender * 31u + seq * 7u + (uint32_t)i);
}

/* size >= 8 only: decode and verify the pattern. */
static inline bool tc_dec(const void *buf, size_t size, uint32_t *sender, uint32_t *seq)
{
    const unsigned char *b = buf;
    uint64_t v;
    memcpy(&v, b, 8);
    *sender = (uint32_t)(v >> 32);
    *seq = (uint32_t)v;
    for (size_t i = 8; i < size; i++)
        if (b[i] != (unsigned char)(*sender * 31u + *seq * 7u + (uint32_t)i))
            return false;
    return true;
}

static inline bool tc_all_zero(const void *buf, size_t size)
{
    const unsigned char *b = buf;
    for (size_t i = 0; i < size; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- the generic transfer check ----
 * ns senders each send k elements (in order) on one channel; nr receivers receive
 * until RT_ECLOSED. Each side is Gs (TC_G), foreign threads (TC_T) or both
 * alternately (TC_BOTH). The caller (a G or a plain thread) waits for the senders,
 * closes the channel, waits for the receivers, and checks: every (sender, seq) arrived exactly once, each receiver saw
 * each sender's elements in increasing order (exactly consecutive with one
 * receiver), the final RT_ECLOSED zeroed the element, and the channel is empty and
 * freeable. */

enum { TC_G = 1, TC_T = 2, TC_BOTH = 3 /* alternate: G, thread, G, ... */ };

#define TC_MAXW 8
#define TC_BIG 128

typedef struct tc_xfer {
    rt_chan *c;
    size_t esz;
    int ns, nr, k;
    rt_wg senders, receivers;
    atomic_uint *seen; /* ns * k */
    atomic_long received;
    atomic_int errors;
    atomic_int next_id_s, next_id_r;
} tc_xfer;

#define TC_ERR(x, ...)                                        \
    do {                                                      \
        if (atomic_fetch_add(&(x)->errors, 1) < 10)           \
            FAIL(__VA_ARGS__);                                \
    } while (0)

static inline void tc_sender_body(tc_xfer *x)
{
    uint32_t id = (uint32_t)atomic_fetch_add(&x->next_id_s, 1);
    unsigned char buf[TC_BIG];
    for (int s = 0; s < x->k; s++) {
        tc_enc(buf, x->esz, id, (uint32_t)s);
        int rc = rt_chan_send(x->c, x->esz ? buf : NULL);
        if (rc != RT_OK) {
            TC_ERR(x, "sender %u seq %d: rt_chan_send -> %s", id, s, rt_err_name(rc));
            break;
        }
    }
    rt_wg_done(&x->senders);
}

static inline void tc_receiver_body(tc_xfer *x)
{
    uint32_t rid = (uint32_t)atomic_fetch_add(&x->next_id_r, 1);
    long last[TC_MAXW];
    for (int i = 0; i < TC_MAXW; i++)
        last[i] = -1;
    unsigned char buf[TC_BIG];
    long got = 0;
    for (;;) {
        memset(buf, 0xEE, sizeof buf);
        int rc = rt_chan_recv(x->c, x->esz ? buf : NULL);
        if (rc == RT_ECLOSED) {
            if (!tc_all_zero(buf, x->esz))
                TC_ERR(x, "receiver %u: RT_ECLOSED did not zero the element", rid);
            if (x->esz < sizeof buf && buf[x->esz] != 0xEE)
                TC_ERR(x, "receiver %u: wrote past the element (size %zu)", rid, x->esz);
            break;
        }
        if (rc != RT_OK) {
            TC_ERR(x, "receiver %u: rt_chan_recv -> %s", rid, rt_err_name(rc));
            break;
        }
        got++;
        if (x->esz < sizeof buf && buf[x->esz] != 0xEE)
            TC_ERR(x, "receiver %u: wrote past the element (size %zu)", rid, x->esz);
        if (x->esz == 0)
            continue;
        uint32_t snd, seq;
        if (x->esz < 8) {
            snd = buf[0] >> 6;
            if ((int)snd >= x->ns) {
                TC_ERR(x, "receiver %u: bad byte 0x%02x", rid, buf[0]);
                continue;
            }
            /* one receiver: it must be the next one of that sender */
            seq = (uint32_t)(last[snd] + 1);
            if ((buf[0] & 63) != (seq & 63)) {
                TC_ERR(x, "receiver %u: sender %u: got seq%%64 %u, want %u", rid, snd,
                       buf[0] & 63u, seq & 63u);
                continue;
            }
        } else if (!tc_dec(buf, x->esz, &snd, &seq) || (int)snd >= x->ns || (int)seq >= x->k) {
            TC_ERR(x, "receiver %u: corrupt element (sender %u seq %u)", rid, snd, seq);
            continue;
        }
        if ((long)seq <= last[snd])
            TC_ERR(x, "receiver %u: sender %u: seq %u after %ld (out of order)", rid, snd, seq,
                   last[snd]);
        if (x->nr == 1 && (long)seq != last[snd] + 1)
            TC_ERR(x, "receiver %u: sender %u: seq %u after %ld (gap)", rid, snd, seq, last[snd]);
        last[snd] = seq;
        if ((int)seq < x->k) {
            unsigned prev = atomic_fetch_add(&x->seen[snd * (uint32_t)x->k + seq], 1);
            if (prev != 0)
                TC_ERR(x, "receiver %u: sender %u seq %u received twice", rid, snd, seq);
        }
    }
    atomic_fetch_add(&x->received, got);
    rt_wg_done(&x->receivers);
}

static inline void tc_sender_g(void *arg) { tc_sender_body(arg); }
static inline void tc_receiver_g(void *arg) { tc_receiver_body(arg); }
static inline void *tc_sender_t(void *arg) { tc_sender_body(arg); return NULL; }
static inline void *tc_receiver_t(void *arg) { tc_receiver_body(arg); return NULL; }

/* Run one transfer; callable from a G or a plain thread. */
static inline void tc_xfer_run(int skind, int rkind, size_t esz, size_t cap, int ns, int nr, int k)
{
    if (esz == 1 && nr != 1)
        nr = 1;
    if (ns > TC_MAXW || nr > TC_MAXW || esz > TC_BIG - 1 || (esz == 1 && ns > 4)) {
        FAIL("tc_xfer_run: bad parameters");
        return;
    }
    tc_xfer *x = calloc(1, sizeof *x);
    x->esz = esz;
    x->ns = ns;
    x->nr = nr;
    x->k = k;
    x->seen = calloc((size_t)ns * (size_t)k, sizeof *x->seen);
    if (!CHECK_RC(rt_chan_make(esz, cap, &x->c), RT_OK))
        return;
    CHECK_EQ(rt_chan_cap(x->c), cap);
    rt_wg_add(&x->senders, ns);
    rt_wg_add(&x->receivers, nr);
    pthread_t th[2 * TC_MAXW];
    int nth = 0;
    /* receivers first: with unbuffered channels they are the ones that wait */
    for (int i = 0; i < nr; i++) {
        if (rkind == TC_G || (rkind == TC_BOTH && i % 2 == 0))
            tc_go(tc_receiver_g, x);
        else
            th[nth++] = tc_thread(tc_receiver_t, x);
    }
    for (int i = 0; i < ns; i++) {
        if (skind == TC_G || (skind == TC_BOTH && i % 2 == 0))
            tc_go(tc_sender_g, x);
        else
            th[nth++] = tc_thread(tc_sender_t, x);
    }
    rt_wg_wait(&x->senders);
    CHECK_RC(rt_chan_close(x->c), RT_OK);
    rt_wg_wait(&x->receivers);
    for (int i = 0; i < nth; i++)
        tc_join(th[i]);
    CHECK_EQ(atomic_load(&x->errors), 0);
    CHECK_EQ(atomic_load(&x->received), (long)ns * k);
    if (esz > 0) {
        long missing = 0, dup = 0;
        for (long i = 0; i < (long)ns * k; i++) {
            unsigned v = atomic_load(&x->seen[i]);
            missing += v == 0;
            dup += v > 1;
        }
        CHECK_EQ(missing, 0);
        CHECK_EQ(dup, 0);
    }
    CHECK_EQ(rt_chan_len(x->c), 0);
    CHECK_RC(rt_chan_free(x->c), RT_OK);
    free(x->seen);
    free(x);
}

/* The sizes every transfer test covers. */
static inline size_t tc_size(int i)
{
    static const size_t sizes[] = { 0, 1, 8, 100 };
    return sizes[i];
}
#define TC_NSIZES 4

/* The whole of the transfer programs (t_ch_{g,t}{g,t}_{buf,unbuf}, t_ch_mixed): every
 * size above over a channel of each capacity in caps, ns senders and nr receivers of
 * the given kinds, k elements per sender; at 1 P and at 2 Ps, each in a child process
 * of its own, run from the main G unless both ends are plain threads (then no G
 * exists at all). Returns test_summary() for main. */
typedef struct tc_suite {
    int skind, rkind, ns, nr, k;
    const size_t *caps;
    size_t ncaps;
} tc_suite;

static inline void tc_suite_body_(void *arg)
{
    const tc_suite *s = arg;
    for (size_t c = 0; c < s->ncaps; c++)
        for (int i = 0; i < TC_NSIZES; i++)
            tc_xfer_run(s->skind, s->rkind, tc_size(i), s->caps[c], s->ns, s->nr, s->k);
}

static inline int tc_xfer_main(int skind, int rkind, const size_t *caps, size_t ncaps, int ns,
                               int nr, int k)
{
    tc_suite s = { skind, rkind, ns, nr, k, caps, ncaps };
    bool as_g = !(skind == TC_T && rkind == TC_T);
    for (int procs = 1; procs <= 2; procs++)
        tc_in_child(procs, as_g, tc_suite_body_, &s);
    return test_summary();
}

/* ---- blocked waiters ----
 * tc_waiters_start launches ng G waiters and nt foreign-thread waiters that each do
 * one rt_chan_send (element tc_enc(w, 500 + i)) or rt_chan_recv on c and record the
 * code and element; tc_waiters_settle waits (best effort, see tc_wait_thread_blocked)
 * until they all block; tc_waiters_finish waits for them to return. From a G, the
 * settle is exact on 1 P (the G waiters run until they park when the caller yields);
 * from a plain thread it waits until every waiter announced itself, no G is runnable
 * and every P is idle. */

#define TC_MAXWAIT 16

typedef struct tc_waiter {
    struct tc_waiters *ws;
    int idx, is_g;
    pid_t tid;
    int rc;
    unsigned char buf[TC_BIG];
} tc_waiter;

typedef struct tc_waiters {
    rt_chan *c;
    size_t esz;
    int op; /* RT_SEND or RT_RECV */
    int ng, nt;
    tc_waiter w[TC_MAXWAIT];
    pthread_t th[TC_MAXWAIT];
    rt_wg done;
    atomic_int announced;
    test_latch tids;
} tc_waiters;

static inline void tc_waiter_body(tc_waiter *w)
{
    tc_waiters *ws = w->ws;
    memset(w->buf, 0xEE, sizeof w->buf);
    if (ws->op == RT_SEND)
        tc_enc(w->buf, ws->esz, (uint32_t)w->idx, 500u + (uint32_t)w->idx);
    atomic_fetch_add(&ws->announced, 1);
    if (ws->op == RT_SEND)
        w->rc = rt_chan_send(ws->c, ws->esz ? w->buf : NULL);
    else
        w->rc = rt_chan_recv(ws->c, ws->esz ? w->buf : NULL);
    rt_wg_done(&ws->done);
}

static inline void tc_waiter_g(void *arg) { tc_waiter_body(arg); }

static inline void *tc_waiter_t(void *arg)
{
    tc_waiter *w = arg;
    w->tid = tc_gettid();
    test_latch_post(&w->ws->tids);
    tc_waiter_body(w);
    return NULL;
}

static inline void tc_waiters_start(tc_waiters *ws, rt_chan *c, size_t esz, int op, int ng, int nt)
{
    memset(ws, 0, sizeof *ws);
    pthread_mutex_init(&ws->tids.mu, NULL);
    pthread_cond_init(&ws->tids.cv, NULL);
    ws->c = c;
    ws->esz = esz;
    ws->op = op;
    ws->ng = ng;
    ws->nt = nt;
    rt_wg_add(&ws->done, ng + nt);
    for (int i = 0; i < ng + nt; i++) {
        tc_waiter *w = &ws->w[i];
        w->ws = ws;
        w->idx = i;
        w->is_g = i < ng;
        if (w->is_g)
            tc_go(tc_waiter_g, w);
        else
            ws->th[i] = tc_thread(tc_waiter_t, w);
    }
}

/* Wait until every G waiter parked (from a plain thread): see above. */
static inline void tc_wait_gs_parked(atomic_int *announced, int n)
{
    int rounds = tc_scale(3000, 20000);
    for (int i = 0; i < rounds; i++) {
        rt_stats st;
        if (atomic_load(announced) >= n && test_stats(&st) == RT_OK && st.runnable == 0 &&
            st.idle_procs == st.maxprocs)
            return;
        usleep(1000);
    }
}

static inline void tc_waiters_settle(tc_waiters *ws)
{
    test_latch_wait(&ws->tids, ws->nt);
    for (int i = ws->ng; i < ws->ng + ws->nt; i++)
        tc_wait_thread_blocked(ws->w[i].tid);
    if (rt_getg() != NULL)
        tc_park_settle(50);
    else
        tc_wait_gs_parked(&ws->announced, ws->ng + ws->nt);
}

static inline void tc_waiters_finish(tc_waiters *ws)
{
    rt_wg_wait(&ws->done);
    for (int i = ws->ng; i < ws->ng + ws->nt; i++)
        tc_join(ws->th[i]);
    pthread_mutex_destroy(&ws->tids.mu);
    pthread_cond_destroy(&ws->tids.cv);
}

/* ---- pipes ---- */

static inline void tc_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Fill a non-blocking fd until write says EAGAIN; returns bytes written. */
static inline long tc_fill(int fd)
{
    static char junk[65536];
    long total = 0;
    for (;;) {
        ssize_t n = write(fd, junk, sizeof junk);
        if (n > 0) {
            total += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    return total;
}

/* Drain a non-blocking fd until read says EAGAIN or EOF; returns bytes read. */
static inline long tc_drain(int fd)
{
    static char junk[65536];
    long total = 0;
    for (;;) {
        ssize_t n = read(fd, junk, sizeof junk);
        if (n > 0) {
            total += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    return total;
}

/* A ping-pong pair's echoing side: arg is `rt_chan *pp[2]` = { ping, pong } (8-byte
 * elements); sends back on pong every value received on ping, until ping is closed. */
static inline void tc_ponger(void *arg)
{
    rt_chan **pp = arg;
    uint64_t v;
    while (rt_chan_recv(pp[0], &v) == RT_OK)
        if (rt_chan_send(pp[1], &v) != RT_OK)
            break;
}

#endif /* MRT_TEST_CHAN_H */
