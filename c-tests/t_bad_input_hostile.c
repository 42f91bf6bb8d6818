/*
 * Hostile input (issue 8, "Every handle is checked"): every case gets the exact
 * documented code and never a crash. Each scenario runs in its own forked child
 * (test_spawn), so that a crash is reported here rather than ending the test, and
 * each child ends by checking that the runtime still runs a G which moves a message
 * through a channel.
 *  - Channel handles that are not live channels: NULL, (rt_chan *)0x1000, a high and
 *    a non-canonical address, a misaligned pointer, plain memory, a P and an M handle,
 *    a freed channel, and a freed channel whose slot a new channel reused (ABA) ->
 *    RT_EINVAL from every channel call (0 from rt_chan_len / rt_chan_cap) and, NULL
 *    apart, from rt_select with such a case. They are never dereferenced.
 *  - rt_select: n = SIZE_MAX or n = 65537 -> RT_EINVAL without reading the cases (the
 *    array ends at a PROT_NONE page); a bad `dir` on a NULL channel's case -> RT_EINVAL.
 *  - rt_releasep from a G -> NULL; the G keeps its P and yields normally afterwards.
 *  - rt_init with g_stack_size or g0_stack_size of (size_t)-1, or above 1 TiB ->
 *    RT_EINVAL (no rounding wrap-around to a stackless G or M).
 *  - rt_chan_make: elem_size * cap overflowing -> RT_EINVAL; a huge buffer that does
 *    not overflow (2^62 bytes, or SIZE_MAX) -> RT_ENOMEM.
 *  - G handles that are not live Gs: the same made-up values as for channels, a P,
 *    an M and a channel handle, values next to a parked G's handle (another
 *    generation, none, no tag, a slot beyond the table) -> RT_EINVAL from rt_ready,
 *    from a G and from a foreign thread, never dereferenced; the parked G still wakes
 *    with its own handle. A G handle is not a channel either.
 *  - The handle of a G that exited, once its descriptor runs a new parked G (ABA, one
 *    P so that the descriptor is reused) -> RT_EINVAL, and it differs from the new
 *    G's handle; the new G is not woken by it.
 *  - In an rt_park unlock callback (g0, mid-park): rt_releasep -> NULL and
 *    rt_schedule -> RT_EPERM, the M keeps its P; the G resumes and yields normally.
 */
#include "test.h" /* first: it sets _GNU_SOURCE */

#include <sys/mman.h>

/* ---- the runtime still works: a G sends, this thread receives ---- */

static rt_chan *works_ch;

static void works_sender(void *arg)
{
    (void)arg;
    int v = 4242;
    CHECK_RC(rt_chan_send(works_ch, &v), RT_OK);
}

static void still_works(void)
{
    if (!CHECK_RC(rt_chan_make(sizeof(int), 0, &works_ch), RT_OK))
        return;
    CHECK(rt_go(works_sender, NULL) > 0);
    int v = 0;
    CHECK_RC(rt_chan_recv(works_ch, &v), RT_OK);
    CHECK_EQ(v, 4242);
    CHECK_RC(rt_chan_free(works_ch), RT_OK);
}

static void init_default(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
}

static void finish(void)
{
    still_works();
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* Runs one scenario in a child; on failure shows what the child wrote to stderr. */
static void scenario(const char *name, void (*fn)(void *), void *arg)
{
    static char err[4096];
    int status = test_spawn(fn, arg, err, sizeof err);
    if (!CHECK_CHILD_OK(status))
        fprintf(stderr, "  scenario %s failed; its stderr:\n%s\n", name, err);
}

/* ---- bad channel handles ---- */

/* Every channel call with `c`: RT_EINVAL (0 for len and cap). */
static void every_chan_call_refuses(rt_chan *c)
{
    int v = 7;
    CHECK_RC(rt_chan_send(c, &v), RT_EINVAL);
    CHECK_RC(rt_chan_trysend(c, &v), RT_EINVAL);
    CHECK_RC(rt_chan_recv(c, &v), RT_EINVAL);
    CHECK_RC(rt_chan_tryrecv(c, &v), RT_EINVAL);
    CHECK_EQ(v, 7); /* nothing was written */
    CHECK_EQ(rt_chan_len(c), 0);
    CHECK_EQ(rt_chan_cap(c), 0);
    CHECK_RC(rt_chan_close(c), RT_EINVAL);
    CHECK_RC(rt_chan_free(c), RT_EINVAL);
    /* As a select case, alone or next to a ready case on a real channel (a NULL
       channel's case is valid there: it never proceeds). */
    if (c == NULL)
        return;
    rt_chan *ok = NULL;
    if (!CHECK_RC(rt_chan_make(sizeof(int), 1, &ok), RT_OK))
        return;
    CHECK_RC(rt_chan_send(ok, &v), RT_OK);
    rt_select_case cs[2] = {
        { .chan = ok, .dir = RT_RECV, .elem = &v },
        { .chan = c, .dir = RT_SEND, .elem = &v },
    };
    CHECK_RC(rt_select(&cs[1], 1, 0), RT_EINVAL);
    cs[1].dir = RT_RECV;
    CHECK_RC(rt_select(cs, 2, 0), RT_EINVAL);
    CHECK_RC(rt_select(cs, 2, -1), RT_EINVAL);
    CHECK_EQ(rt_chan_len(ok), 1); /* the ready case did not proceed */
    CHECK_RC(rt_chan_free(ok), RT_OK);
}

static uint64_t junk[16];

static void bad_handle(void *arg)
{
    init_default();
    every_chan_call_refuses((rt_chan *)arg);
    finish();
}

/* A P handle and an M handle are not channels (and a channel is not a P). */
static void other_handles(void *arg)
{
    (void)arg;
    init_default();
    every_chan_call_refuses((rt_chan *)rt_p_get(0));
    rt_m *m = NULL;
    if (CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_OK)) {
        every_chan_call_refuses((rt_chan *)m);
        CHECK_RC(rt_m_free(m), RT_OK);
    }
    rt_chan *c = NULL;
    if (CHECK_RC(rt_chan_make(8, 1, &c), RT_OK)) {
        CHECK_RC(rt_p_id((rt_p *)c), RT_EINVAL);
        CHECK_RC(rt_acquirep((rt_p *)c), RT_EINVAL);
        CHECK_RC(rt_m_id((rt_m *)c), RT_EINVAL);
        CHECK_RC(rt_chan_free(c), RT_OK);
    }
    finish();
}

/* A freed handle is dead, even once a new channel took over its memory (ABA). */
static void freed_handles(void *arg)
{
    (void)arg;
    init_default();
    rt_chan *c1 = NULL, *c2 = NULL;
    if (!CHECK_RC(rt_chan_make(sizeof(int), 4, &c1), RT_OK))
        return;
    CHECK_RC(rt_chan_free(c1), RT_OK);
    every_chan_call_refuses(c1);
    /* A new channel of the same shape: allocators hand the same memory back. */
    if (!CHECK_RC(rt_chan_make(sizeof(int), 4, &c2), RT_OK))
        return;
    CHECK(c2 != c1);
    CHECK_RC(rt_chan_close(c1), RT_EINVAL);
    CHECK_RC(rt_chan_free(c1), RT_EINVAL);
    int v = 5;
    CHECK_RC(rt_chan_send(c1, &v), RT_EINVAL);
    CHECK_EQ(rt_chan_len(c2), 0); /* the stale send did not land in c2 */
    CHECK_RC(rt_chan_trysend(c2, &v), RT_OK); /* c2 is open and works */
    v = 0;
    CHECK_RC(rt_chan_tryrecv(c2, &v), RT_OK);
    CHECK_EQ(v, 5);
    CHECK_RC(rt_chan_free(c2), RT_OK);
    CHECK_RC(rt_chan_free(c2), RT_EINVAL); /* double free */
    finish();
}

/* ---- rt_select counts and directions ---- */

/* n is checked before any case is read: the two cases end where a PROT_NONE page
   begins, so reading a third one faults. */
static void select_huge_n(void *arg)
{
    (void)arg;
    init_default();
    long pg = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (!CHECK(mem != MAP_FAILED))
        return;
    CHECK_EQ(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
    rt_chan *c = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 1, &c), RT_OK);
    int v = 0;
    rt_select_case *cs = (rt_select_case *)(mem + pg) - 2;
    cs[0] = (rt_select_case){ .chan = c, .dir = RT_RECV, .elem = &v };
    cs[1] = (rt_select_case){ .chan = NULL, .dir = RT_RECV, .elem = &v };
    CHECK_RC(rt_select(cs, SIZE_MAX, 0), RT_EINVAL);
    CHECK_RC(rt_select(cs, SIZE_MAX, -1), RT_EINVAL);
    CHECK_RC(rt_select(cs, (size_t)65537, 0), RT_EINVAL);
    CHECK_RC(rt_select(cs, SIZE_MAX / sizeof *cs + 1, 0), RT_EINVAL);
    CHECK_RC(rt_select(cs, 2, 0), RT_EAGAIN); /* the real count works */
    CHECK_RC(rt_chan_free(c), RT_OK);
    munmap(mem, 2 * (size_t)pg);
    finish();
}

static void select_null_chan_bad_dir(void *arg)
{
    (void)arg;
    init_default();
    int v = 1;
    int dirs[] = { 0, 3, -1, RT_SEND | RT_RECV, 1000 };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        rt_select_case nc = { .chan = NULL, .dir = dirs[i], .elem = &v };
        CHECK_RC(rt_select(&nc, 1, 0), RT_EINVAL);
    }
    /* Next to a case that could proceed: the select is refused as a whole. */
    rt_chan *c = NULL;
    if (CHECK_RC(rt_chan_make(sizeof(int), 1, &c), RT_OK)) {
        CHECK_RC(rt_chan_send(c, &v), RT_OK);
        rt_select_case cs[2] = {
            { .chan = c, .dir = RT_RECV, .elem = &v },
            { .chan = NULL, .dir = 7, .elem = &v },
        };
        CHECK_RC(rt_select(cs, 2, 0), RT_EINVAL);
        CHECK_EQ(rt_chan_len(c), 1);
        cs[1].dir = RT_SEND; /* a good NULL case never proceeds; the other one does */
        CHECK_RC(rt_select(cs, 2, 0), 0);
        CHECK_RC(cs[0].result, RT_OK);
        CHECK_RC(rt_chan_free(c), RT_OK);
    }
    finish();
}

/* ---- rt_releasep from a G ---- */

static rt_chan *g_done;

static void releasep_in_g(void *arg)
{
    (void)arg;
    rt_p *p = rt_getp();
    CHECK(p != NULL);
    CHECK_PTR_EQ(rt_releasep(), NULL);
    CHECK_PTR_EQ(rt_getp(), p);
    CHECK_RC(rt_p_status(p), RT_P_RUNNING);
    CHECK_RC(rt_p_put(p), RT_EBUSY);
    rt_gosched(); /* segfaulted when rt_releasep had given the P away */
    CHECK(rt_getp() != NULL);
    CHECK_RC(rt_lockosthread(), RT_OK); /* wired: the same answer */
    CHECK_PTR_EQ(rt_releasep(), NULL);
    CHECK_RC(rt_unlockosthread(), RT_OK);
    rt_gosched();
    int one = 1;
    CHECK_RC(rt_chan_send(g_done, &one), RT_OK);
}

static void releasep_from_g(void *arg)
{
    (void)arg;
    init_default();
    if (CHECK_RC(rt_chan_make(sizeof(int), 0, &g_done), RT_OK)) {
        CHECK(rt_go(releasep_in_g, NULL) > 0);
        int v = 0;
        CHECK_RC(rt_chan_recv(g_done, &v), RT_OK);
        CHECK_EQ(v, 1);
        CHECK_RC(rt_chan_free(g_done), RT_OK);
    }
    finish();
}

/* ---- bad G handles ---- */

static rt_chan *g_res; /* a G's rt_ready answers come back through it */
static rt_g *volatile g_parked;

static void ready_from_g(void *arg)
{
    int rc = rt_ready((rt_g *)arg);
    CHECK_RC(rt_chan_send(g_res, &rc), RT_OK);
}

/* rt_ready(h) from this (foreign) thread and from a G: RT_EINVAL both times. */
static void ready_refuses(rt_g *h)
{
    CHECK_RC(rt_ready(h), RT_EINVAL);
    CHECK(rt_go(ready_from_g, h) > 0);
    int rc = 0;
    CHECK_RC(rt_chan_recv(g_res, &rc), RT_OK);
    CHECK_RC(rc, RT_EINVAL);
}

static bool publish_parked(rt_g *g, void *arg)
{
    (void)arg;
    g_parked = g;
    return true;
}

static void park_until_ready(void *arg)
{
    (void)arg;
    rt_g *me = rt_getg();
    CHECK(me != NULL);
    CHECK_RC(rt_park(publish_parked, NULL), RT_OK);
    CHECK_PTR_EQ(rt_getg(), me); /* the same handle after the park */
    int one = 1;
    CHECK_RC(rt_chan_send(g_res, &one), RT_OK);
}

static void bad_g_handle(void *arg)
{
    init_default();
    if (CHECK_RC(rt_chan_make(sizeof(int), 0, &g_res), RT_OK)) {
        ready_refuses((rt_g *)arg);
        CHECK_RC(rt_chan_free(g_res), RT_OK);
    }
    finish();
}

/* P, M and channel handles are not Gs; values next to a live G's handle are not
   either; a G handle is not a channel. */
static void other_g_handles(void *arg)
{
    (void)arg;
    init_default();
    if (!CHECK_RC(rt_chan_make(sizeof(int), 0, &g_res), RT_OK))
        return;
    ready_refuses((rt_g *)rt_p_get(0));
    rt_m *m = NULL;
    if (CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_OK)) {
        ready_refuses((rt_g *)m);
        CHECK_RC(rt_m_free(m), RT_OK);
    }
    ready_refuses((rt_g *)g_res);
    g_parked = NULL;
    CHECK(rt_go(park_until_ready, NULL) > 0);
    while (g_parked == NULL)
        sched_yield();
    uintptr_t h = (uintptr_t)g_parked;
    /* Other generations of its slot, no generation, the tag bit cleared (how a
       channel handle looks), a slot beyond the table, the generation alone. Not a
       neighbouring slot: that may be another G's real handle. */
    uintptr_t near[] = { h + ((uintptr_t)1 << 32), h - ((uintptr_t)1 << 32),
                         h & 0xffffffffu, h & ~(uintptr_t)0x80000000u, h | 0x7ffffff0u,
                         h >> 32 };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++)
        ready_refuses((rt_g *)near[i]);
    every_chan_call_refuses((rt_chan *)g_parked);
    CHECK_RC(rt_ready(g_parked), RT_OK); /* untouched by all of it */
    int v = 0;
    CHECK_RC(rt_chan_recv(g_res, &v), RT_OK);
    CHECK_EQ(v, 1);
    CHECK_RC(rt_chan_free(g_res), RT_OK);
    finish();
}

/* ---- the handle of a G that exited (ABA) ---- */

static rt_g *volatile g_exited;
static volatile int exited_ran;

static void record_and_exit(void *arg)
{
    (void)arg;
    g_exited = rt_getg();
    exited_ran = 1;
}

static void aba_driver(void *arg)
{
    (void)arg;
    /* One P: the first G runs to its end before this one runs again, and its
       descriptor waits in the P's cache for the next rt_go from here. */
    CHECK(rt_go(record_and_exit, NULL) > 0);
    while (!exited_ran)
        rt_gosched();
    rt_gosched(); /* its exit is done before we run again (it never blocks) */
    g_parked = NULL;
    CHECK(rt_go(park_until_ready, NULL) > 0);
    while (g_parked == NULL)
        rt_gosched();
    CHECK(g_exited != NULL);
    CHECK(g_exited != g_parked);
    int stale = rt_ready(g_exited);
    CHECK_RC(stale, RT_EINVAL);
    if (stale != RT_OK) /* had the stale handle woken it, it would not be parked */
        CHECK_RC(rt_ready(g_parked), RT_OK);
}

static void exited_g_handle(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    if (CHECK_RC(rt_chan_make(sizeof(int), 0, &g_res), RT_OK)) {
        CHECK(rt_go(aba_driver, NULL) > 0);
        int v = 0;
        CHECK_RC(rt_chan_recv(g_res, &v), RT_OK); /* the parked G, woken */
        CHECK_EQ(v, 1);
        CHECK_RC(rt_ready(g_exited), RT_EINVAL);
        CHECK_RC(rt_chan_free(g_res), RT_OK);
    }
    finish();
}

/* ---- rt_releasep and rt_schedule in a park callback ---- */

static rt_p *volatile cb_p, *volatile cb_released;
static volatile int cb_sched_rc;

static bool release_in_callback(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    cb_p = rt_getp();
    cb_released = rt_releasep();
    if (cb_released != NULL)
        rt_p_put(cb_released); /* the old behaviour: give it back, do not strand it */
    cb_sched_rc = rt_schedule(RT_SCHED_ONCE);
    return false; /* resume at once */
}

static void park_releasing(void *arg)
{
    (void)arg;
    rt_p *p = rt_getp();
    CHECK_RC(rt_park(release_in_callback, NULL), RT_OK);
    CHECK(cb_p != NULL);
    CHECK_PTR_EQ(cb_p, p); /* the callback ran on this G's M, with its P */
    CHECK_PTR_EQ(cb_released, NULL);
    CHECK_RC(cb_sched_rc, RT_EPERM);
    CHECK_PTR_EQ(rt_getp(), p); /* resumed at once on the same M and P */
    CHECK_RC(rt_p_status(p), RT_P_RUNNING);
    rt_gosched();
    CHECK(rt_getp() != NULL);
    int one = 1;
    CHECK_RC(rt_chan_send(g_done, &one), RT_OK);
}

static void releasep_in_park_callback(void *arg)
{
    (void)arg;
    init_default();
    if (CHECK_RC(rt_chan_make(sizeof(int), 0, &g_done), RT_OK)) {
        CHECK(rt_go(park_releasing, NULL) > 0);
        int v = 0;
        CHECK_RC(rt_chan_recv(g_done, &v), RT_OK);
        CHECK_EQ(v, 1);
        CHECK_RC(rt_chan_free(g_done), RT_OK);
    }
    finish();
}

/* ---- rt_init stack sizes ---- */

struct stack_case {
    size_t g0, g;
};

static void init_stack_size(void *arg)
{
    const struct stack_case *sc = arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2, .g0_stack_size = sc->g0,
                      .g_stack_size = sc->g };
    CHECK_RC(rt_init(&cfg), RT_EINVAL);
    /* Refused: the runtime is not running with it; a sane config starts it. */
    init_default();
    finish();
}

/* ---- rt_chan_make sizes ---- */

static void chan_make_sizes(void *arg)
{
    (void)arg;
    init_default();
    rt_chan *c = (rt_chan *)junk;
    /* Overflow of elem_size * cap: no such buffer exists -> RT_EINVAL. */
    CHECK_RC(rt_chan_make(SIZE_MAX, 2, &c), RT_EINVAL);
    CHECK_RC(rt_chan_make((size_t)1 << 32, (size_t)1 << 32, &c), RT_EINVAL);
    CHECK_PTR_EQ(c, junk); /* out untouched */
    /* No overflow, but no allocator can give it -> RT_ENOMEM. */
    CHECK_RC(rt_chan_make((size_t)1 << 31, (size_t)1 << 31, &c), RT_ENOMEM);
    CHECK_RC(rt_chan_make(1, SIZE_MAX, &c), RT_ENOMEM);
    CHECK_RC(rt_chan_make(1, SIZE_MAX / 2 + 1, &c), RT_ENOMEM);
    CHECK_PTR_EQ(c, junk);
    /* Zero-sized elements need no buffer, whatever the capacity. */
    if (CHECK_RC(rt_chan_make(0, SIZE_MAX, &c), RT_OK)) {
        CHECK_EQ(rt_chan_cap(c), SIZE_MAX);
        CHECK_RC(rt_chan_trysend(c, NULL), RT_OK);
        CHECK_EQ(rt_chan_len(c), 1);
        CHECK_RC(rt_chan_free(c), RT_OK);
    }
    finish();
}

int main(void)
{
    memset(junk, 0x5A, sizeof junk);
    struct {
        const char *name;
        rt_chan *h;
    } handles[] = {
        { "NULL", NULL },
        { "0x1000", (rt_chan *)(uintptr_t)0x1000 },
        { "high unmapped", (rt_chan *)(uintptr_t)0x7ff0deadbee0ull },
        { "non-canonical", (rt_chan *)(uintptr_t)0xdead000000000000ull },
        { "top of memory", (rt_chan *)(uintptr_t)(UINTPTR_MAX - 7) },
        { "misaligned", (rt_chan *)((char *)junk + 3) },
        { "plain memory", (rt_chan *)junk },
    };
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++)
        scenario(handles[i].name, bad_handle, handles[i].h);
    scenario("P and M handles", other_handles, NULL);
    scenario("freed handles", freed_handles, NULL);
    scenario("select SIZE_MAX", select_huge_n, NULL);
    scenario("select NULL chan bad dir", select_null_chan_bad_dir, NULL);
    scenario("releasep from a G", releasep_from_g, NULL);
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "G handle %s", handles[i].name);
        scenario(name, bad_g_handle, handles[i].h);
    }
    scenario("P, M, channel handles and near misses as Gs", other_g_handles, NULL);
    scenario("exited G's handle (ABA)", exited_g_handle, NULL);
    scenario("releasep in a park callback", releasep_in_park_callback, NULL);
    static struct stack_case stacks[] = {
        { 0, SIZE_MAX },
        { SIZE_MAX, 0 },
        { 0, SIZE_MAX - 4095 },
        { SIZE_MAX - 4095, 0 },
        { 0, ((size_t)1 << 40) + 1 },
        { ((size_t)1 << 40) + 1, 0 },
    };
    for (size_t i = 0; i < sizeof stacks / sizeof stacks[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "rt_init stacks g0=%zx g=%zx", stacks[i].g0, stacks[i].g);
        scenario(name, init_stack_size, &stacks[i]);
    }
    scenario("chan_make sizes", chan_make_sizes, NULL);
    /* And this process, which ran none of it, works too. */
    init_default();
    finish();
    return test_summary();
}
