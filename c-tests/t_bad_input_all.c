/*
 * Bad input across the whole API (issue 8, "How it is shown"): a table of cases, each a
 * name, the thread contexts it runs in, one call, and the exact code docs/api.md gives
 * for it. Every function of mrt.h appears: NULL pointers; handles that are not live
 * (made up, misaligned, non-canonical, freed, exited, and handles of another kind: a P
 * as a channel, a channel as a G, ...); the wrong thread context; sizes 0, huge and
 * overflowing; negative timeouts; bad flags, directions and events; out-of-range
 * GOMAXPROCS and P ids; double close and double free; operations on closed, full and
 * empty channels; select with bad counts and cases; and, in a child of their own,
 * calls after rt_shutdown and rt_init with bad configurations.
 *
 * Contexts (a case runs once in each context of its mask):
 *   T   a fresh foreign pthread (no M)
 *   G   a fresh G
 *   AM  a fresh pthread adopted as an M by rt_acquirep: its g0, holding a P
 *   RM  the start function of a runtime-created M (rt_newm): g0, no P
 *   CB  an rt_park unlock callback (g0 mid-park)
 * After every run of a case, the runtime must still run a G that receives one message
 * over a fresh channel from this thread, and the fixtures must be intact (the open
 * channel empty, GOMAXPROCS unchanged).
 *
 * The table runs in a forked child; the child writes the index of the case it is in
 * to shared memory, so that a crash or a hang (the child's alarm) is reported as that
 * case's failure, and the rest of the table continues in a new child.
 */
#include "test.h" /* first: it sets _GNU_SOURCE */

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>

enum { T = 1, G = 2, AM = 4, RM = 8, CB = 16, NCTX = 5 };
static const char *const ctx_names[NCTX] = { "foreign thread", "G", "adopted M (g0, P)",
                                             "runtime M (g0, no P)", "park callback" };

typedef intptr_t (*callfn)(int a);

typedef struct bcase {
    char name[96];
    int ctx;
    intptr_t want;
    callfn call;
    int a;
} bcase;

#define MAXCASES 512
static bcase cases[MAXCASES];
static int ncases;

static void add(const char *name, int ctx, intptr_t want, callfn call, int a)
{
    if (ncases == MAXCASES) {
        FAIL("too many cases");
        return;
    }
    bcase *c = &cases[ncases++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->ctx = ctx;
    c->want = want;
    c->call = call;
    c->a = a;
}

/* ---- fixtures, made in each child before its cases run ---- */

static uint64_t junk[16];

static struct {
    rt_chan *ch;      /* int, cap 1, empty, open */
    rt_chan *full;    /* int, cap 1, full */
    rt_chan *unbuf;   /* int, cap 0, nobody waits */
    rt_chan *closed;  /* int, cap 1, closed and empty */
    rt_chan *busy;    /* int, cap 0, a G waits in rt_chan_recv */
    rt_chan *freed;   /* freed */
    rt_m *m_alloc;    /* allocated, never launched */
    rt_m *m_freed;    /* freed */
    rt_p *p0;         /* a live P */
    rt_p *p_dead;     /* beyond GOMAXPROCS */
    rt_g *g_exited;   /* a G that ended */
    rt_g *_Atomic g_in_recv; /* the G waiting on fx.busy, inside the library */
    int rdonly_fd;    /* /dev/null opened read-only */
    int closed_fd;    /* a number that is not an open fd */
    int file_fd;      /* a regular file */
    int pipe_r, pipe_w; /* an empty pipe */
    int broken_fd;      /* a pipe's write end, its read end closed */
} fx;

/* Made-up handles, shared by every handle kind. */
enum { H_NULL, H_JUNK, H_0X1000, H_MISALIGNED, H_NONCANON, H_TOP, NMADEUP };

static void *madeup(int i)
{
    switch (i) {
    case H_NULL: return NULL;
    case H_JUNK: return junk;
    case H_0X1000: return (void *)(uintptr_t)0x1000;
    case H_MISALIGNED: return (char *)junk + 3;
    case H_NONCANON: return (void *)(uintptr_t)0xdead000000000000ull;
    default: return (void *)(UINTPTR_MAX - 7);
    }
}

/* Bad handles of each kind: the made-up ones, then real handles that are not of
 * that kind or not live. */
enum { BK_FREED_CHAN = NMADEUP, BK_P, BK_M, BK_CHAN, BK_EXITED_G, BK_FREED_M, BK_G_IN_RECV, NBK };
static const char *const bk_names[NBK] = { "NULL", "plain memory", "0x1000", "misaligned",
                                           "non-canonical", "top of memory", "freed channel",
                                           "a P", "an unlaunched M", "a live channel",
                                           "an exited G", "a freed M",
                                           "a G waiting in rt_chan_recv" };

static void *bad_handle(int i)
{
    if (i < NMADEUP)
        return madeup(i);
    switch (i) {
    case BK_FREED_CHAN: return fx.freed;
    case BK_P: return fx.p0;
    case BK_M: return fx.m_alloc;
    case BK_CHAN: return fx.ch;
    case BK_EXITED_G: return fx.g_exited;
    case BK_G_IN_RECV: return fx.g_in_recv;
    default: return fx.m_freed;
    }
}

static int one = 1;
static int scratch;

/* ---- the cases: handle x operation ---- */

#define H(a) bad_handle(a)

static intptr_t c_send(int a) { return rt_chan_send(H(a), &one); }
static intptr_t c_recv(int a) { return rt_chan_recv(H(a), &scratch); }
static intptr_t c_trysend(int a) { return rt_chan_trysend(H(a), &one); }
static intptr_t c_tryrecv(int a) { return rt_chan_tryrecv(H(a), &scratch); }
static intptr_t c_close(int a) { return rt_chan_close(H(a)); }
static intptr_t c_free(int a) { return rt_chan_free(H(a)); }
static intptr_t c_len(int a) { return (intptr_t)rt_chan_len(H(a)); }
static intptr_t c_cap(int a) { return (intptr_t)rt_chan_cap(H(a)); }
static intptr_t c_sel_recv(int a)
{
    rt_select_case cs = { .chan = H(a), .dir = RT_RECV, .elem = &scratch };
    return rt_select(&cs, 1, 0);
}
static intptr_t c_sel_send_next_to_ready(int a)
{
    /* Next to a case that could proceed (fx.full holds an element): refused as a
       whole, the ready case untouched (checked by the fixture check). */
    rt_select_case cs[2] = { { .chan = fx.full, .dir = RT_RECV, .elem = &scratch },
                             { .chan = H(a), .dir = RT_SEND, .elem = &one } };
    return rt_select(cs, 2, -1);
}
static intptr_t g_ready(int a) { return rt_ready(H(a)); }
static intptr_t p_id(int a) { return rt_p_id(H(a)); }
static intptr_t p_status(int a) { return rt_p_status(H(a)); }
static intptr_t p_acquire(int a) { return rt_acquirep(H(a)); }
static intptr_t p_put(int a) { return rt_p_put(H(a)); }
static intptr_t p_allocm(int a)
{
    rt_m *m = NULL;
    return rt_allocm(H(a), NULL, NULL, &m);
}
static intptr_t p_newm(int a) { return rt_newm(NULL, NULL, H(a), NULL); }
static intptr_t p_launch(int a) { return rt_m_launch(fx.m_alloc, H(a)); }
static intptr_t m_id(int a) { return (intptr_t)rt_m_id(H(a)); }
static intptr_t m_info(int a)
{
    rt_m_info mi = { .size = sizeof mi };
    return rt_m_getinfo(H(a), &mi);
}
static intptr_t m_launch(int a) { return rt_m_launch(H(a), NULL); }
static intptr_t m_free(int a) { return rt_m_free(H(a)); }

/* ---- single cases ---- */

static void nop(void *arg) { (void)arg; }
static bool park_unlock_false(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return false;
}

/* runtime */
static intptr_t init_again(int a) { (void)a; return rt_init(NULL); }
static intptr_t init_again_bad_cfg(int a)
{
    (void)a;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = -1 };
    return rt_init(&cfg);
}
static intptr_t gomaxprocs_n(int a)
{
    static const int ns[] = { 1025, INT_MAX, -1, INT_MIN, 0 };
    return rt_gomaxprocs(ns[a]);
}
static intptr_t shutdown_here(int a) { (void)a; return rt_shutdown(-1); }
static intptr_t stats_null(int a) { (void)a; return rt_getstats(NULL); }
static intptr_t stats_size(int a)
{
    rt_stats st;
    memset(&st, 0, sizeof st);
    st.size = (uint32_t)a;
    return rt_getstats(&st);
}
static intptr_t stats_ex_flags(int a)
{
    rt_stats st = { .size = sizeof st };
    return rt_getstats_ex(&st, a);
}
static intptr_t stats_ex_null(int a) { (void)a; return rt_getstats_ex(NULL, RT_STATS_EXACT); }
static intptr_t dump_fd(int a)
{
    int fd = a == 0 ? -1 : a == 1 ? fx.closed_fd : a == 2 ? fx.rdonly_fd : a == 3 ? INT_MIN
                                                                               : fx.broken_fd;
    return rt_dump(fd);
}
static intptr_t strerror_unknown(int a)
{
    return strcmp(rt_strerror(a ? INT_MIN : 12345), "unknown error") == 0;
}
static intptr_t errname_unknown(int a)
{
    return strcmp(rt_err_name(a ? INT_MAX : 1), "unknown error") == 0;
}
static intptr_t version_ok(int a)
{
    (void)a;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MRT_VERSION_MAJOR, MRT_VERSION_MINOR,
             MRT_VERSION_PATCH);
    return strcmp(rt_version(), want) == 0;
}

/* M */
static intptr_t allocm_null_out(int a) { (void)a; return rt_allocm(NULL, NULL, NULL, NULL); }
static intptr_t allocm_dead_p(int a)
{
    (void)a;
    rt_m *m = NULL;
    return rt_allocm(fx.p_dead, NULL, NULL, &m);
}
static intptr_t newm_dead_p(int a) { (void)a; return rt_newm(NULL, NULL, fx.p_dead, NULL); }
static intptr_t launch_dead_p(int a) { (void)a; return rt_m_launch(fx.m_alloc, fx.p_dead); }
static intptr_t launch_self(int a) { (void)a; return rt_m_launch(rt_getm(), NULL); }
static intptr_t free_self(int a) { (void)a; return rt_m_free(rt_getm()); }
static intptr_t getm_ptr(int a) { (void)a; return (intptr_t)rt_getm(); }
static intptr_t info_null_out(int a) { (void)a; return rt_m_getinfo(fx.m_alloc, NULL); }
static intptr_t info_size(int a)
{
    rt_m_info mi;
    memset(&mi, 0, sizeof mi);
    mi.size = (uint32_t)a;
    return rt_m_getinfo(fx.m_alloc, &mi);
}

/* P */
static intptr_t p_get_id(int a)
{
    int ids[] = { -1, 2, INT_MAX, INT_MIN, 3 };
    return (intptr_t)rt_p_get(ids[a]);
}
static intptr_t p_dead_status(int a) { (void)a; return rt_p_status(fx.p_dead); }
static intptr_t p_dead_acquire(int a) { (void)a; return rt_acquirep(fx.p_dead); }
static intptr_t p_dead_put(int a) { (void)a; return rt_p_put(fx.p_dead); }
static intptr_t p_acquire_p0(int a) { (void)a; return rt_acquirep(fx.p0); }
static intptr_t p_acquire_own(int a) { (void)a; return rt_acquirep(rt_getp()); }
static intptr_t p_put_own(int a) { (void)a; return rt_p_put(rt_getp()); }
static intptr_t releasep_ptr(int a) { (void)a; return (intptr_t)rt_releasep(); }
static intptr_t getp_ptr(int a) { (void)a; return (intptr_t)rt_getp(); }
static intptr_t schedule_flags(int a) { return rt_schedule(a); }
static intptr_t schedule_once(int a) { (void)a; return rt_schedule(RT_SCHED_ONCE); }

/* G */
static intptr_t go_null(int a) { (void)a; return (intptr_t)rt_go(NULL, NULL); }
static intptr_t main_null(int a) { (void)a; return rt_main(NULL, NULL); }
static intptr_t main_here(int a) { (void)a; return rt_main(nop, NULL); }
static intptr_t park_here(int a) { (void)a; return rt_park(park_unlock_false, NULL); }
static intptr_t lock_here(int a) { (void)a; return rt_lockosthread(); }
static intptr_t unlock_here(int a) { (void)a; return rt_unlockosthread(); }
static intptr_t enter_here(int a) { (void)a; return rt_entersyscall(); }
static intptr_t exit_here(int a) { (void)a; return rt_exitsyscall(); }
static intptr_t enter_twice(int a)
{
    (void)a;
    int first = rt_entersyscall();
    int second = rt_entersyscall();
    int back = rt_exitsyscall();
    return first == RT_OK && back == RT_OK ? second : 1000 + first;
}
static intptr_t ready_self(int a) { (void)a; return rt_ready(rt_getg()); }
static intptr_t getg_ptr(int a) { (void)a; return (intptr_t)rt_getg(); }
static intptr_t goid_here(int a) { (void)a; return (intptr_t)rt_goid(); }
static intptr_t goexit_here(int a)
{
    (void)a;
    rt_goexit(); /* outside a G: does nothing */
    return 7;
}
static intptr_t gosched_here(int a)
{
    (void)a;
    rt_gosched(); /* outside a G: sched_yield */
    return 7;
}
static intptr_t sleep_ns(int a)
{
    static const int64_t ns[] = { -1, INT64_MIN, 0 };
    return rt_sleep(ns[a]);
}

/* netpoller */
static intptr_t poll_bad(int a)
{
    switch (a) {
    case 0: return rt_poll_fd(-1, RT_POLLIN, 0);
    case 1: return rt_poll_fd(INT_MIN, RT_POLLIN, -1);
    case 2: return rt_poll_fd(fx.closed_fd, RT_POLLIN, -1);
    case 3: return rt_poll_fd(fx.pipe_r, 0, -1);
    case 4: return rt_poll_fd(fx.pipe_r, 2 /* POLLPRI: not an rt event */, -1);
    case 5: return rt_poll_fd(fx.pipe_r, UINT32_MAX, -1);
    case 6: return rt_poll_fd(fx.file_fd, RT_POLLIN, -1);
    case 7: return rt_poll_fd(fx.pipe_r, RT_POLLIN, 0);
    case 8: return rt_poll_fd(fx.pipe_r, RT_POLLIN, 1000);
    default: return rt_poll_fd(fx.pipe_r, RT_POLLIN, INT64_MIN + 1);
    }
}

/* channels */
static intptr_t make_bad(int a)
{
    rt_chan *c = (rt_chan *)junk;
    int rc;
    switch (a) {
    case 0: return rt_chan_make(sizeof(int), 1, NULL);
    case 1: rc = rt_chan_make(SIZE_MAX, 2, &c); break;
    case 2: rc = rt_chan_make((size_t)1 << 32, (size_t)1 << 32, &c); break;
    case 3: rc = rt_chan_make(1, SIZE_MAX, &c); break;
    case 4: rc = rt_chan_make((size_t)1 << 31, (size_t)1 << 31, &c); break;
    default: rc = rt_chan_make(2, SIZE_MAX / 2, &c); break;
    }
    return c == (rt_chan *)junk ? rc : 1000; /* out untouched on failure */
}
static intptr_t closed_op(int a)
{
    switch (a) {
    case 0: return rt_chan_send(fx.closed, &one);
    case 1: return rt_chan_trysend(fx.closed, &one);
    case 2: return rt_chan_close(fx.closed);
    case 3: {
        int v = 5;
        int rc = rt_chan_recv(fx.closed, &v);
        return v == 0 ? rc : 1000; /* zeroed */
    }
    default: {
        int v = 5;
        int rc = rt_chan_tryrecv(fx.closed, &v);
        return v == 0 ? rc : 1000;
    }
    }
}
static intptr_t full_trysend(int a) { (void)a; return rt_chan_trysend(fx.full, &one); }
static intptr_t empty_tryrecv(int a) { (void)a; return rt_chan_tryrecv(fx.ch, &scratch); }
static intptr_t unbuf_trysend(int a) { (void)a; return rt_chan_trysend(fx.unbuf, &one); }
static intptr_t unbuf_tryrecv(int a) { (void)a; return rt_chan_tryrecv(fx.unbuf, &scratch); }
static intptr_t free_busy(int a) { (void)a; return rt_chan_free(fx.busy); }
static intptr_t send_null_elem(int a)
{
    if (a == 0)
        return rt_chan_send(fx.ch, NULL);
    if (a == 1)
        return rt_chan_trysend(fx.ch, NULL);
    if (a == 2)
        return rt_chan_trysend(fx.unbuf, NULL);
    rt_select_case cs = { .chan = fx.ch, .dir = RT_SEND, .elem = NULL };
    return rt_select(&cs, 1, -1);
}
static intptr_t sel_bad(int a)
{
    rt_select_case cs[2] = { { .chan = fx.ch, .dir = RT_RECV, .elem = &scratch },
                             { .chan = NULL, .dir = RT_SEND, .elem = &one } };
    switch (a) {
    case 0: return rt_select(NULL, 1, 0);
    case 1: return rt_select(NULL, 0, 0);
    case 2: return rt_select(cs, 0, 0);
    case 3: return rt_select(cs, 65537, 0);
    case 4: return rt_select(cs, SIZE_MAX, -1);
    case 5: cs[0].dir = 0; return rt_select(cs, 2, 0);
    case 6: cs[0].dir = 3; return rt_select(cs, 2, 0);
    case 7: cs[0].dir = -1; return rt_select(cs, 2, -1);
    case 8: cs[1].dir = 0; return rt_select(cs, 2, -1);
    case 9: cs[1].dir = INT_MAX; return rt_select(&cs[1], 1, 0);
    case 10: return rt_select(&cs[1], 1, 0);          /* only a NULL channel: EAGAIN */
    case 11: return rt_select(&cs[1], 1, 1000);       /* ... with a timeout */
    case 12: return rt_select(NULL, SIZE_MAX, 0);
    default: cs[0].chan = fx.ch; cs[0].dir = RT_RECV; return rt_select(cs, 2, 0);
    }
}
static intptr_t sel_send_closed(int a)
{
    (void)a;
    rt_select_case cs = { .chan = fx.closed, .dir = RT_SEND, .elem = &one, .result = 99 };
    int rc = rt_select(&cs, 1, -1);
    return rc == 0 ? cs.result : 1000 + rc;
}

/* sync */
static intptr_t mutex_null(int a)
{
    switch (a) {
    case 0: rt_mutex_lock(NULL); return 7;
    case 1: return rt_mutex_trylock(NULL);
    default: rt_mutex_unlock(NULL); return 7;
    }
}
static intptr_t wg_null(int a)
{
    switch (a) {
    case 0: rt_wg_add(NULL, 1); return 7;
    case 1: rt_wg_done(NULL); return 7;
    default: rt_wg_wait(NULL); return 7;
    }
}

#define ALLG (T | G | AM | RM)
#define ALL (T | G | AM | RM | CB)

static void build_table(void)
{
    char n[96];
    /* Channel handles: every channel call, and a select case, with each bad handle. */
    int chan_bad[] = { H_NULL, H_JUNK, H_0X1000, H_MISALIGNED, H_NONCANON, H_TOP,
                       BK_FREED_CHAN, BK_P, BK_M, BK_EXITED_G };
    struct {
        const char *op;
        callfn f;
        intptr_t want;
        int ctx;
    } chan_ops[] = {
        { "rt_chan_send", c_send, RT_EINVAL, T | G },
        { "rt_chan_recv", c_recv, RT_EINVAL, T | G },
        { "rt_chan_trysend", c_trysend, RT_EINVAL, T | G | CB },
        { "rt_chan_tryrecv", c_tryrecv, RT_EINVAL, T | G | CB },
        { "rt_chan_close", c_close, RT_EINVAL, T | G },
        { "rt_chan_free", c_free, RT_EINVAL, T | G },
        { "rt_chan_len", c_len, 0, T | G },
        { "rt_chan_cap", c_cap, 0, T | G },
        { "rt_select recv case", c_sel_recv, RT_EINVAL, T | G },
        { "rt_select send case next to a ready one", c_sel_send_next_to_ready, RT_EINVAL,
          T | G },
    };
    for (size_t o = 0; o < sizeof chan_ops / sizeof chan_ops[0]; o++)
        for (size_t h = 0; h < sizeof chan_bad / sizeof chan_bad[0]; h++) {
            /* A NULL channel in a select case is valid (it never proceeds). */
            if (chan_bad[h] == H_NULL && chan_ops[o].f == c_sel_recv) {
                snprintf(n, sizeof n, "%s: NULL channel alone, timeout 0", chan_ops[o].op);
                add(n, T | G, RT_EAGAIN, chan_ops[o].f, H_NULL);
                continue;
            }
            if (chan_bad[h] == H_NULL && chan_ops[o].f == c_sel_send_next_to_ready)
                continue;
            snprintf(n, sizeof n, "%s(%s)", chan_ops[o].op, bk_names[chan_bad[h]]);
            add(n, chan_ops[o].ctx, chan_ops[o].want, chan_ops[o].f, chan_bad[h]);
        }
    /* G handles. */
    int g_bad[] = { H_NULL, H_JUNK, H_0X1000, H_MISALIGNED, H_NONCANON, H_TOP,
                    BK_CHAN, BK_P, BK_M, BK_EXITED_G, BK_G_IN_RECV };
    for (size_t h = 0; h < sizeof g_bad / sizeof g_bad[0]; h++) {
        snprintf(n, sizeof n, "rt_ready(%s)", bk_names[g_bad[h]]);
        add(n, T | G | CB, RT_EINVAL, g_ready, g_bad[h]);
    }
    /* P handles. */
    int p_bad[] = { H_NULL, H_JUNK, H_0X1000, H_MISALIGNED, H_NONCANON, H_TOP,
                    BK_CHAN, BK_M, BK_EXITED_G };
    struct {
        const char *op;
        callfn f;
        int ctx;
    } p_ops[] = {
        { "rt_p_id", p_id, T | G },
        { "rt_p_status", p_status, T | G },
        { "rt_acquirep", p_acquire, T | RM },
        { "rt_p_put", p_put, T | G },
        { "rt_allocm(p)", p_allocm, T },
        { "rt_newm(p)", p_newm, T },
        { "rt_m_launch(m, nextp)", p_launch, T },
    };
    for (size_t o = 0; o < sizeof p_ops / sizeof p_ops[0]; o++)
        for (size_t h = 0; h < sizeof p_bad / sizeof p_bad[0]; h++) {
            /* NULL is a valid p for rt_allocm, rt_newm, rt_m_launch: no P. */
            if (p_bad[h] == H_NULL && (p_ops[o].f == p_allocm || p_ops[o].f == p_newm ||
                                       p_ops[o].f == p_launch))
                continue;
            snprintf(n, sizeof n, "%s(%s)", p_ops[o].op, bk_names[p_bad[h]]);
            add(n, p_ops[o].ctx, RT_EINVAL, p_ops[o].f, p_bad[h]);
        }
    /* M handles. */
    /* Not a freed M here: an M handle is the M's address, which a later M (the
       runtime makes them as it needs) may be given; setup checks a freed M's handle
       right after rt_m_free instead. */
    int m_bad[] = { H_NULL, H_JUNK, H_0X1000, H_MISALIGNED, H_NONCANON, H_TOP,
                    BK_CHAN, BK_P, BK_EXITED_G };
    struct {
        const char *op;
        callfn f;
        int ctx;
    } m_ops[] = {
        { "rt_m_id", m_id, T | G },
        { "rt_m_getinfo", m_info, T | G },
        { "rt_m_launch", m_launch, T },
        { "rt_m_free", m_free, T | G },
    };
    for (size_t o = 0; o < sizeof m_ops / sizeof m_ops[0]; o++)
        for (size_t h = 0; h < sizeof m_bad / sizeof m_bad[0]; h++) {
            snprintf(n, sizeof n, "%s(%s)", m_ops[o].op, bk_names[m_bad[h]]);
            add(n, m_ops[o].ctx, RT_EINVAL, m_ops[o].f, m_bad[h]);
        }

    /* Runtime. */
    add("rt_init(NULL) while running", T | G | AM, RT_EALREADY, init_again, 0);
    add("rt_init(maxprocs -1) while running: the cfg is checked first", T, RT_EINVAL,
        init_again_bad_cfg, 0);
    add("rt_gomaxprocs(1025)", T | G | AM, RT_EINVAL, gomaxprocs_n, 0);
    add("rt_gomaxprocs(INT_MAX)", T | G, RT_EINVAL, gomaxprocs_n, 1);
    add("rt_gomaxprocs(-1) only reads", T | G, 2, gomaxprocs_n, 2);
    add("rt_gomaxprocs(INT_MIN) only reads", T | G, 2, gomaxprocs_n, 3);
    add("rt_gomaxprocs(0) only reads", ALL, 2, gomaxprocs_n, 4);
    add("rt_shutdown from a G", G, RT_EPERM, shutdown_here, 0);
    add("rt_shutdown from a runtime M", RM, RT_EPERM, shutdown_here, 0);
    add("rt_getstats(NULL)", ALL, RT_EINVAL, stats_null, 0);
    add("rt_getstats(size 0)", T | G, RT_EINVAL, stats_size, 0);
    add("rt_getstats(size 4: no room for maxprocs)", T | G, RT_EINVAL, stats_size, 4);
    add("rt_getstats(size 7)", T, RT_EINVAL, stats_size, 7);
    add("rt_getstats_ex(flags 2)", T | G, RT_EINVAL, stats_ex_flags, 2);
    add("rt_getstats_ex(flags -1)", T | G, RT_EINVAL, stats_ex_flags, -1);
    add("rt_getstats_ex(flags INT_MIN)", T, RT_EINVAL, stats_ex_flags, INT_MIN);
    add("rt_getstats_ex(NULL)", T | G, RT_EINVAL, stats_ex_null, 0);
    add("rt_dump(-1)", T | G, RT_EINVAL, dump_fd, 0);
    add("rt_dump(closed fd)", T | G, RT_EINVAL, dump_fd, 1);
    add("rt_dump(read-only fd)", T | G, RT_EINVAL, dump_fd, 2);
    add("rt_dump(INT_MIN)", T, RT_EINVAL, dump_fd, 3);
    add("rt_dump(a pipe with no reader): no SIGPIPE", T | G | AM, RT_EINVAL, dump_fd, 4);
    add("rt_strerror(12345) is \"unknown error\"", T | G, 1, strerror_unknown, 0);
    add("rt_strerror(INT_MIN) is \"unknown error\"", T, 1, strerror_unknown, 1);
    add("rt_err_name(1) is \"unknown error\"", T | G, 1, errname_unknown, 0);
    add("rt_err_name(INT_MAX) is \"unknown error\"", T, 1, errname_unknown, 1);
    add("rt_version matches the header", ALL, 1, version_ok, 0);

    /* M. */
    add("rt_allocm(out NULL)", T | G | AM, RT_EINVAL, allocm_null_out, 0);
    add("rt_allocm(dead P)", T, RT_EINVAL, allocm_dead_p, 0);
    add("rt_newm(dead P)", T, RT_EINVAL, newm_dead_p, 0);
    add("rt_m_launch(m, dead P)", T, RT_EINVAL, launch_dead_p, 0);
    add("rt_m_launch(own M) of an adopted thread", AM, RT_EALREADY, launch_self, 0);
    add("rt_m_launch(own M) of a runtime M", RM, RT_EALREADY, launch_self, 0);
    add("rt_m_launch(rt_getm()) on a foreign thread (NULL)", T, RT_EINVAL, launch_self, 0);
    add("rt_m_free(own M) of an adopted thread", AM, RT_EBUSY, free_self, 0);
    add("rt_m_free(own M) of a runtime M", RM, RT_EBUSY, free_self, 0);
    add("rt_getm() on a foreign thread", T, 0, getm_ptr, 0);
    add("rt_m_getinfo(out NULL)", T | G, RT_EINVAL, info_null_out, 0);
    add("rt_m_getinfo(size 0)", T | G, RT_EINVAL, info_size, 0);
    add("rt_m_getinfo(size 8: no room for id)", T, RT_EINVAL, info_size, 8);

    /* P. */
    add("rt_p_get(-1)", T | G, 0, p_get_id, 0);
    add("rt_p_get(GOMAXPROCS)", T | G, 0, p_get_id, 1);
    add("rt_p_get(INT_MAX)", T, 0, p_get_id, 2);
    add("rt_p_get(INT_MIN)", T, 0, p_get_id, 3);
    add("rt_p_get(a dead P's id)", T, 0, p_get_id, 4);
    add("rt_p_status(dead P)", T | G, RT_P_DEAD, p_dead_status, 0);
    add("rt_acquirep(dead P)", T | RM, RT_EINVAL, p_dead_acquire, 0);
    add("rt_p_put(dead P)", T | G, RT_EINVAL, p_dead_put, 0);
    add("rt_acquirep while holding a P", AM, RT_EALREADY, p_acquire_p0, 0);
    add("rt_acquirep(own P)", AM, RT_EALREADY, p_acquire_own, 0);
    add("rt_acquirep from a G", G, RT_EALREADY, p_acquire_p0, 0);
    add("rt_acquirep from a park callback", CB, RT_EALREADY, p_acquire_p0, 0);
    add("rt_p_put(own running P)", AM | G, RT_EBUSY, p_put_own, 0);
    add("rt_releasep with no P", T | RM, 0, releasep_ptr, 0);
    add("rt_releasep from a G", G, 0, releasep_ptr, 0);
    add("rt_releasep from a park callback", CB, 0, releasep_ptr, 0);
    add("rt_getp() on a foreign thread", T, 0, getp_ptr, 0);
    add("rt_getp() on an M without a P", RM, 0, getp_ptr, 0);
    add("rt_schedule(0)", AM, RT_EINVAL, schedule_flags, 0);
    add("rt_schedule(3)", AM, RT_EINVAL, schedule_flags, 3);
    add("rt_schedule(-1)", AM, RT_EINVAL, schedule_flags, -1);
    add("rt_schedule(INT_MIN)", AM, RT_EINVAL, schedule_flags, INT_MIN);
    add("rt_schedule on a foreign thread", T, RT_EINVAL, schedule_once, 0);
    add("rt_schedule on an M without a P", RM, RT_EINVAL, schedule_once, 0);
    add("rt_schedule from a G", G, RT_EPERM, schedule_once, 0);
    add("rt_schedule from a park callback", CB, RT_EPERM, schedule_once, 0);

    /* G. */
    add("rt_go(NULL)", ALL, RT_EINVAL, go_null, 0);
    add("rt_main(NULL)", T, RT_EINVAL, main_null, 0);
    add("rt_main from a G", G, RT_EPERM, main_here, 0);
    add("rt_main on an M holding a P", AM, RT_EALREADY, main_here, 0);
    add("rt_park outside a G", T | AM | RM, RT_EPERM, park_here, 0);
    add("rt_lockosthread outside a G", T | AM | RM | CB, RT_EPERM, lock_here, 0);
    add("rt_unlockosthread outside a G", T | AM | RM | CB, RT_EPERM, unlock_here, 0);
    add("rt_unlockosthread on an unwired G", G, RT_OK, unlock_here, 0);
    add("rt_entersyscall outside a G", T | AM | RM | CB, RT_EPERM, enter_here, 0);
    add("rt_exitsyscall outside a G", T | AM | RM | CB, RT_EPERM, exit_here, 0);
    add("rt_exitsyscall without rt_entersyscall", G, RT_EINVAL, exit_here, 0);
    add("rt_entersyscall twice", G, RT_EALREADY, enter_twice, 0);
    add("rt_ready(own running G)", G, RT_EINVAL, ready_self, 0);
    add("rt_getg() outside a G", T | AM | RM, 0, getg_ptr, 0);
    add("rt_goid() outside a G", T | AM | RM, 0, goid_here, 0);
    add("rt_goexit outside a G returns", T | AM | RM, 7, goexit_here, 0);
    add("rt_gosched outside a G returns", T | AM | RM, 7, gosched_here, 0);
    add("rt_sleep(-1)", T | G, RT_OK, sleep_ns, 0);
    add("rt_sleep(INT64_MIN)", T | G, RT_OK, sleep_ns, 1);
    add("rt_sleep(0)", T | G | AM, RT_OK, sleep_ns, 2);

    /* Netpoller. */
    add("rt_poll_fd(-1)", T | G, RT_EINVAL, poll_bad, 0);
    add("rt_poll_fd(INT_MIN)", T | G, RT_EINVAL, poll_bad, 1);
    add("rt_poll_fd(closed fd)", T | G, RT_EINVAL, poll_bad, 2);
    add("rt_poll_fd(events 0)", T | G, RT_EINVAL, poll_bad, 3);
    add("rt_poll_fd(events POLLPRI)", T | G, RT_EINVAL, poll_bad, 4);
    add("rt_poll_fd(events ~0)", T | G, RT_EINVAL, poll_bad, 5);
    add("rt_poll_fd(regular file) is ready, as for poll(2)", T | G, RT_POLLIN, poll_bad, 6);
    add("rt_poll_fd(empty pipe, timeout 0)", T | G | AM, RT_EAGAIN, poll_bad, 7);
    add("rt_poll_fd(empty pipe, timeout 1 us)", T | G, RT_ETIMEDOUT, poll_bad, 8);

    /* Channels. */
    add("rt_chan_make(out NULL)", T | G, RT_EINVAL, make_bad, 0);
    add("rt_chan_make(SIZE_MAX, 2): overflow", T | G, RT_EINVAL, make_bad, 1);
    add("rt_chan_make(2^32, 2^32): overflow", T, RT_EINVAL, make_bad, 2);
    add("rt_chan_make(1, SIZE_MAX): no memory", T | G, RT_ENOMEM, make_bad, 3);
    add("rt_chan_make(2^31, 2^31): no memory", T, RT_ENOMEM, make_bad, 4);
    add("rt_chan_make(2, SIZE_MAX/2): no memory", T, RT_ENOMEM, make_bad, 5);
    add("rt_chan_send on a closed channel", T | G, RT_ECLOSED, closed_op, 0);
    add("rt_chan_trysend on a closed channel", T | G | CB, RT_ECLOSED, closed_op, 1);
    add("rt_chan_close twice", T | G, RT_ECLOSED, closed_op, 2);
    add("rt_chan_recv on a closed, empty channel zeroes", T | G, RT_ECLOSED, closed_op, 3);
    add("rt_chan_tryrecv on a closed, empty channel zeroes", T | G | CB, RT_ECLOSED,
        closed_op, 4);
    add("rt_chan_trysend on a full channel", T | G | CB, RT_EAGAIN, full_trysend, 0);
    add("rt_chan_tryrecv on an empty channel", T | G | CB, RT_EAGAIN, empty_tryrecv, 0);
    add("rt_chan_trysend unbuffered, no receiver", T | G, RT_EAGAIN, unbuf_trysend, 0);
    add("rt_chan_tryrecv unbuffered, no sender", T | G, RT_EAGAIN, unbuf_tryrecv, 0);
    add("rt_chan_free with a waiter", T | G, RT_EBUSY, free_busy, 0);
    add("rt_chan_send(elem NULL, elem_size 4)", T | G, RT_EINVAL, send_null_elem, 0);
    add("rt_chan_trysend(elem NULL, elem_size 4)", T | G | CB, RT_EINVAL, send_null_elem, 1);
    add("rt_chan_trysend(elem NULL) unbuffered", T | G, RT_EINVAL, send_null_elem, 2);
    add("rt_select send case with elem NULL", T | G, RT_EINVAL, send_null_elem, 3);
    add("rt_select(NULL, 1)", T | G, RT_EINVAL, sel_bad, 0);
    add("rt_select(NULL, 0)", T, RT_EINVAL, sel_bad, 1);
    add("rt_select(cases, 0)", T | G, RT_EINVAL, sel_bad, 2);
    add("rt_select(cases, 65537)", T | G, RT_EINVAL, sel_bad, 3);
    add("rt_select(cases, SIZE_MAX)", T | G, RT_EINVAL, sel_bad, 4);
    add("rt_select dir 0", T | G, RT_EINVAL, sel_bad, 5);
    add("rt_select dir 3", T | G, RT_EINVAL, sel_bad, 6);
    add("rt_select dir -1", T | G, RT_EINVAL, sel_bad, 7);
    add("rt_select NULL channel, dir 0", T | G, RT_EINVAL, sel_bad, 8);
    add("rt_select NULL channel, dir INT_MAX", T, RT_EINVAL, sel_bad, 9);
    add("rt_select NULL channel only, timeout 0", T | G, RT_EAGAIN, sel_bad, 10);
    add("rt_select NULL channel only, timeout 1 us", T | G, RT_ETIMEDOUT, sel_bad, 11);
    add("rt_select(NULL, SIZE_MAX)", T, RT_EINVAL, sel_bad, 12);
    add("rt_select empty channel + NULL channel, timeout 0", T | G, RT_EAGAIN, sel_bad, 13);
    add("rt_select send on a closed channel: result RT_ECLOSED", T | G, RT_ECLOSED,
        sel_send_closed, 0);

    /* rt_mutex / rt_wg with NULL: ignored (trylock: false). */
    add("rt_mutex_lock(NULL) is ignored", ALL, 7, mutex_null, 0);
    add("rt_mutex_trylock(NULL) is false", ALL, 0, mutex_null, 1);
    add("rt_mutex_unlock(NULL) is ignored", T | G, 7, mutex_null, 2);
    add("rt_wg_add(NULL) is ignored", T | G, 7, wg_null, 0);
    add("rt_wg_done(NULL) is ignored", T | G, 7, wg_null, 1);
    add("rt_wg_wait(NULL) is ignored", T | G, 7, wg_null, 2);
}

/* ---- running a case in a context ---- */

typedef struct slot {
    const bcase *c;
    intptr_t got;
    test_latch done;
} slot;

static void *on_thread(void *arg)
{
    slot *s = arg;
    s->got = s->c->call(s->c->a);
    return NULL;
}

static void *on_adopted(void *arg)
{
    slot *s = arg;
    rt_p *p = NULL;
    /* An idle P (one may be lent to a spinning M for a moment). */
    for (int tries = 0; tries < 100000 && !p; tries++) {
        for (int i = 0; i < rt_gomaxprocs(0) && !p; i++)
            if (rt_acquirep(rt_p_get(i)) == RT_OK)
                p = rt_p_get(i);
        if (!p)
            usleep(100);
    }
    if (!CHECK(p != NULL)) {
        s->got = -9999;
        return NULL;
    }
    s->got = s->c->call(s->c->a);
    rt_p *q = rt_releasep();
    CHECK_PTR_EQ(q, p);
    if (q)
        CHECK_RC(rt_p_put(q), RT_OK);
    return NULL;
}

static void on_g(void *arg)
{
    slot *s = arg;
    s->got = s->c->call(s->c->a);
    test_latch_post(&s->done);
}

static void on_m(void *arg)
{
    on_g(arg);
}

static bool cb_call(rt_g *g, void *arg)
{
    (void)g;
    slot *s = arg;
    s->got = s->c->call(s->c->a);
    return false; /* resume at once */
}

static void parks_with_callback(void *arg)
{
    slot *s = arg;
    CHECK_RC(rt_park(cb_call, s), RT_OK);
    test_latch_post(&s->done);
}

static void run_in(const bcase *c, int ctx)
{
    slot s = { .c = c, .got = -9999, .done = TEST_LATCH_INIT };
    pthread_t th;
    switch (ctx) {
    case T:
        pthread_create(&th, NULL, on_thread, &s);
        pthread_join(th, NULL);
        break;
    case AM:
        pthread_create(&th, NULL, on_adopted, &s);
        pthread_join(th, NULL);
        break;
    case G:
        if (CHECK(rt_go(on_g, &s) > 0))
            CHECK(test_latch_wait_for(&s.done, 1, 30));
        break;
    case RM:
        if (CHECK_RC(rt_newm(on_m, &s, NULL, NULL), RT_OK))
            CHECK(test_latch_wait_for(&s.done, 1, 30));
        break;
    case CB:
        if (CHECK(rt_go(parks_with_callback, &s) > 0))
            CHECK(test_latch_wait_for(&s.done, 1, 30));
        break;
    }
    if (s.got == c->want) {
        CHECK(true);
    } else {
        int ci = __builtin_ctz((unsigned)ctx);
        FAIL("case \"%s\" in %s: got %jd (%s), want %jd (%s)", c->name, ctx_names[ci],
             (intmax_t)s.got, rt_err_name((int)s.got), (intmax_t)c->want,
             rt_err_name((int)c->want));
    }
    pthread_mutex_destroy(&s.done.mu);
    pthread_cond_destroy(&s.done.cv);
}

/* ---- liveness: a G receives one message from this thread ---- */

static rt_chan *live_ch;
static int live_got;
static test_latch live_done = TEST_LATCH_INIT;
static long live_count;

static void live_rx(void *arg)
{
    (void)arg;
    int v = 0;
    CHECK_RC(rt_chan_recv(live_ch, &v), RT_OK);
    live_got = v;
    test_latch_post(&live_done);
}

static bool still_runs(const char *after)
{
    bool ok = false;
    if (CHECK_RC(rt_chan_make(sizeof(int), 0, &live_ch), RT_OK)) {
        int v = (int)(live_count + 1000);
        if (CHECK(rt_go(live_rx, NULL) > 0) && CHECK_RC(rt_chan_send(live_ch, &v), RT_OK) &&
            CHECK(test_latch_wait_for(&live_done, live_count + 1, 30)))
            ok = CHECK_EQ(live_got, v);
        live_count++;
        CHECK_RC(rt_chan_free(live_ch), RT_OK);
    }
    /* The fixtures are as they were. */
    ok = CHECK_EQ(rt_chan_len(fx.ch), 0) && ok;
    ok = CHECK_EQ(rt_chan_len(fx.full), 1) && ok;
    ok = CHECK_EQ(rt_chan_cap(fx.ch), 1) && ok;
    ok = CHECK_EQ(rt_gomaxprocs(0), 2) && ok;
    if (fx.busy) /* its waiter still waits */
        ok = CHECK_RC(rt_chan_free(fx.busy), RT_EBUSY) && ok;
    if (!ok)
        fprintf(stderr, "  the runtime is not well after case \"%s\"\n", after);
    return ok;
}

/* ---- fixtures ---- */

static test_latch exited = TEST_LATCH_INIT;
static rt_g *volatile exited_handle;
static test_latch busy_done = TEST_LATCH_INIT;

static void record_self(void *arg)
{
    (void)arg;
    exited_handle = rt_getg();
    test_latch_post(&exited);
}

static void busy_waiter(void *arg)
{
    (void)arg;
    fx.g_in_recv = rt_getg();
    int v;
    CHECK_RC(rt_chan_recv(fx.busy, &v), RT_ECLOSED);
    test_latch_post(&busy_done);
}

static bool setup(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    if (!CHECK_RC(rt_init(&cfg), RT_OK))
        return false;
    memset(junk, 0x5A, sizeof junk);
    bool ok = CHECK_RC(rt_chan_make(sizeof(int), 1, &fx.ch), RT_OK);
    ok = ok && CHECK_RC(rt_chan_make(sizeof(int), 1, &fx.full), RT_OK);
    ok = ok && CHECK_RC(rt_chan_trysend(fx.full, &one), RT_OK);
    ok = ok && CHECK_RC(rt_chan_make(sizeof(int), 0, &fx.unbuf), RT_OK);
    ok = ok && CHECK_RC(rt_chan_make(sizeof(int), 1, &fx.closed), RT_OK);
    ok = ok && CHECK_RC(rt_chan_close(fx.closed), RT_OK);
    ok = ok && CHECK_RC(rt_chan_make(sizeof(int), 0, &fx.busy), RT_OK);
    ok = ok && CHECK_RC(rt_chan_make(sizeof(int), 4, &fx.freed), RT_OK);
    ok = ok && CHECK_RC(rt_chan_free(fx.freed), RT_OK);
    ok = ok && CHECK_RC(rt_allocm(NULL, NULL, NULL, &fx.m_alloc), RT_OK);
    ok = ok && CHECK_RC(rt_allocm(NULL, NULL, NULL, &fx.m_freed), RT_OK);
    ok = ok && CHECK_RC(rt_m_free(fx.m_freed), RT_OK);
    /* Freed, and no M made since (nothing runs): its handle is unknown. */
    CHECK_RC(rt_m_id(fx.m_freed), RT_EINVAL);
    rt_m_info mi = { .size = sizeof mi };
    CHECK_RC(rt_m_getinfo(fx.m_freed, &mi), RT_EINVAL);
    CHECK_RC(rt_m_launch(fx.m_freed, NULL), RT_EINVAL);
    CHECK_RC(rt_m_free(fx.m_freed), RT_EINVAL);
    fx.p0 = rt_p_get(0);
    ok = ok && CHECK(fx.p0 != NULL);
    /* A dead P: grow to 4, take P 3's handle, shrink back to 2 (it is idle: dies). */
    ok = ok && CHECK_EQ(rt_gomaxprocs(4), 2);
    fx.p_dead = rt_p_get(3);
    ok = ok && CHECK(fx.p_dead != NULL);
    ok = ok && CHECK_EQ(rt_gomaxprocs(2), 4);
    ok = ok && CHECK_RC(rt_p_status(fx.p_dead), RT_P_DEAD);
    /* A G that ended (its exit is counted once gs_exited caught up). */
    ok = ok && CHECK(rt_go(record_self, NULL) > 0);
    ok = ok && CHECK(test_latch_wait_for(&exited, 1, 30));
    for (int i = 0; i < 100000; i++) {
        rt_stats st;
        if (test_stats(&st) == RT_OK && st.goroutines == 0)
            break;
        usleep(100);
    }
    fx.g_exited = exited_handle;
    ok = ok && CHECK(fx.g_exited != NULL);
    /* A G parked on fx.busy (until teardown closes it). */
    ok = ok && CHECK(rt_go(busy_waiter, NULL) > 0);
    /* Parked: it started, and it neither runs (every P idle) nor is queued. (Not
       probed with rt_chan_free, which would free the channel if it came too early.) */
    for (int i = 0; i < 100000; i++) {
        rt_stats st;
        if (fx.g_in_recv && test_stats(&st) == RT_OK && st.goroutines == 1 &&
            st.runnable == 0 && st.idle_procs == st.maxprocs)
            break;
        usleep(100);
    }
    ok = ok && CHECK_RC(rt_chan_free(fx.busy), RT_EBUSY);
    ok = ok && CHECK(fx.g_in_recv != NULL) && CHECK(fx.g_in_recv != fx.g_exited);
    fx.rdonly_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ok = ok && CHECK(fx.rdonly_fd >= 0);
    fx.file_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ok = ok && CHECK(fx.file_fd >= 0);
    int p[2];
    ok = ok && CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    fx.pipe_r = p[0];
    fx.pipe_w = p[1];
    ok = ok && CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    fx.broken_fd = p[1];
    /* A number above every open fd, then closed: nothing opened later reuses it. */
    fx.closed_fd = fcntl(fx.rdonly_fd, F_DUPFD_CLOEXEC, 900);
    ok = ok && CHECK(fx.closed_fd >= 900);
    close(fx.closed_fd);
    return ok;
}

static void teardown(void)
{
    CHECK_RC(rt_chan_close(fx.busy), RT_OK);
    CHECK(test_latch_wait_for(&busy_done, 1, 30));
    CHECK_RC(rt_chan_free(fx.busy), RT_OK);
    CHECK_RC(rt_chan_free(fx.ch), RT_OK);
    CHECK_RC(rt_chan_free(fx.full), RT_OK);
    CHECK_RC(rt_chan_free(fx.unbuf), RT_OK);
    CHECK_RC(rt_chan_free(fx.closed), RT_OK);
    CHECK_RC(rt_m_free(fx.m_alloc), RT_OK);
    close(fx.rdonly_fd);
    close(fx.file_fd);
    close(fx.pipe_r);
    close(fx.pipe_w);
    close(fx.broken_fd);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- the table, in children ---- */

static volatile int *progress; /* shared with the children: the case being run */

static void run_from(void *arg)
{
    int first = (int)(intptr_t)arg;
    if (!setup())
        return;
    for (int i = first; i < ncases; i++) {
        progress[0] = i;
        for (int k = 0; k < NCTX; k++)
            if (cases[i].ctx & (1 << k)) {
                progress[1] = k;
                run_in(&cases[i], 1 << k);
                if (!still_runs(cases[i].name))
                    return; /* no point going on in a broken runtime */
            }
    }
    progress[0] = ncases;
    teardown();
}

/* ---- calls after rt_shutdown and bad configurations (no runtime running) ---- */

static int down_cases;

#define DOWN(expr, want)                                                             \
    do {                                                                             \
        down_cases++;                                                                \
        CHECK_RC((expr), (want));                                                    \
    } while (0)

static void *down_thread(void *arg)
{
    (void)arg;
    DOWN(rt_acquirep(rt_p_get(0)), RT_ESHUTDOWN);
    DOWN((int)rt_go(nop, NULL), RT_ESHUTDOWN);
    DOWN(rt_main(nop, NULL), RT_ESHUTDOWN);
    return NULL;
}

static void after_shutdown(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_chan *c = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 1, &c), RT_OK);
    rt_m *m = NULL;
    CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_OK);
    rt_p *p1 = rt_p_get(1);
    CHECK_RC(rt_shutdown(-1), RT_OK);

    DOWN(rt_shutdown(-1), RT_ESHUTDOWN);
    DOWN(rt_shutdown(0), RT_ESHUTDOWN);
    DOWN((int)rt_go(nop, NULL), RT_ESHUTDOWN);
    DOWN(rt_main(nop, NULL), RT_ESHUTDOWN);
    DOWN(rt_gomaxprocs(0), RT_ESHUTDOWN);
    DOWN(rt_gomaxprocs(4), RT_ESHUTDOWN);
    rt_stats st = { .size = sizeof st };
    DOWN(rt_getstats(&st), RT_ESHUTDOWN);
    DOWN(rt_getstats_ex(&st, RT_STATS_EXACT), RT_ESHUTDOWN);
    DOWN((int)(intptr_t)rt_p_get(0), 0);
    DOWN(rt_acquirep(p1), RT_ESHUTDOWN);
    DOWN(rt_p_put(p1), RT_ESHUTDOWN);
    rt_m *m2 = NULL;
    DOWN(rt_allocm(NULL, NULL, NULL, &m2), RT_ESHUTDOWN);
    DOWN(rt_newm(nop, NULL, NULL, NULL), RT_ESHUTDOWN);
    DOWN(rt_m_launch(m, NULL), RT_ESHUTDOWN);
    DOWN(rt_m_free(m), RT_EINVAL);
    DOWN(rt_schedule(RT_SCHED_ONCE), RT_ESHUTDOWN);
    DOWN(rt_park(NULL, NULL), RT_EPERM);
    DOWN(rt_lockosthread(), RT_EPERM);
    DOWN(rt_sleep(1000), RT_OK); /* plain nanosleep on a foreign thread */
    /* Channels outlive the runtime: they are the host's. */
    int v = 3;
    DOWN(rt_chan_trysend(c, &v), RT_OK);
    DOWN(rt_chan_tryrecv(c, &v), RT_OK);
    DOWN(rt_chan_free(c), RT_OK);
    DOWN(rt_chan_free(c), RT_EINVAL);
    pthread_t th;
    pthread_create(&th, NULL, down_thread, NULL);
    pthread_join(th, NULL);

    /* Bad configurations: refused, and the runtime stays down. */
    rt_config bad[] = {
        { .size = 0 },
        { .size = 4 },
        { .size = sizeof cfg, .maxprocs = -1 },
        { .size = sizeof cfg, .maxprocs = 1025 },
        { .size = sizeof cfg, .maxprocs = INT_MIN },
        { .size = sizeof cfg, .flags = 4 },  /* the first bit no RT_CFG_* uses */
        { .size = sizeof cfg, .flags = 0x80000000u },
        { .size = sizeof cfg, .g_stack_size = SIZE_MAX },
        { .size = sizeof cfg, .g0_stack_size = SIZE_MAX },
        { .size = sizeof cfg, .g_stack_size = ((size_t)1 << 40) + 1 },
        { .size = sizeof cfg, .g0_stack_size = SIZE_MAX - 4095 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        DOWN(rt_init(&bad[i]), RT_EINVAL);
        DOWN(rt_gomaxprocs(0), RT_ESHUTDOWN);
    }
    /* And then a good one: the runtime runs a G and moves a message. */
    CHECK_RC(rt_init(&cfg), RT_OK);
    if (CHECK_RC(rt_chan_make(sizeof(int), 1, &fx.ch), RT_OK) &&
        CHECK_RC(rt_chan_make(sizeof(int), 1, &fx.full), RT_OK) &&
        CHECK_RC(rt_chan_trysend(fx.full, &one), RT_OK)) {
        still_runs("calls after rt_shutdown");
        rt_chan_free(fx.ch);
        rt_chan_free(fx.full);
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK(down_cases > 40);
    printf("calls after rt_shutdown and bad configurations: %d cases\n", down_cases);
    fflush(stdout);
}

int main(void)
{
    build_table();
    progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!CHECK(progress != MAP_FAILED))
        return test_summary();
    int runs = 0, crashed = 0;
    for (int i = 0; i < ncases; i++)
        for (int k = 0; k < NCTX; k++)
            runs += (cases[i].ctx >> k) & 1;
    int first = 0;
    while (first < ncases) {
        progress[0] = first;
        progress[1] = 0;
        static char err[8192];
        int st = test_spawn(run_from, (void *)(intptr_t)first, err, sizeof err);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && progress[0] == ncases) {
            CHECK(true);
            break;
        }
        int at = progress[0];
        FAIL("the child stopped in case %d \"%s\" (%s): %s %d; its stderr follows", at,
             at < ncases ? cases[at].name : "(teardown)",
             ctx_names[progress[1] < NCTX ? progress[1] : 0],
             WIFEXITED(st) ? "exit status" : "killed by signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        fprintf(stderr, "%s\n", err);
        crashed++;
        if (crashed > 20)
            break;
        first = at + 1;
    }
    CHECK_CHILD_OK(test_spawn(after_shutdown, NULL, NULL, 0));
    /* Summary on stdout, before test_summary's last line. */
    int named = 0;
    for (int i = 0; i < ncases; i++)
        named += cases[i].ctx != 0;
    printf("bad-input cases: %d in the table (%d runs across contexts), plus the calls "
           "after rt_shutdown\n",
           named, runs);
    return test_summary();
}
