/*
 * Regression test (issue 7): timers moved by a GOMAXPROCS shrink raced with
 * rt_select's timeout timer being deleted. When procresize moved the timers of a P
 * going away (timer::move_all), a timer was briefly in no heap; a G whose select
 * finished meanwhile "deleted" it and returned, and the move then re-added a timer
 * that lived in a dead frame (or the heap index went stale). Symptoms within seconds:
 * a panic in timer.rs `remove` ("index out of bounds"), RT_EINTERNAL from rt_select,
 * or SIGSEGV.
 *
 * 256 Gs loop on rt_select with short timeouts (0..200 us) over buffered channels that
 * a quarter of them send on, while a plain pthread cycles rt_gomaxprocs through 1, 2
 * and 8. Every rt_select must return a valid case index or RT_ETIMEDOUT (RT_EAGAIN for
 * a zero timeout). The run is bounded by the number of toggles, not by time: TOGGLES
 * natively, 1/5 of it under valgrind; MRT_TEST_TOGGLES overrides. run.sh runs it
 * also with MRT_DEBUG=migrate.
 */
#include "test.h"

#define NG 256
#define NCHAN 16
#define TOGGLES 3000
#define MIN_ROUNDS 8

static rt_chan *chans[NCHAN];
static rt_wg wg = RT_WG_INIT;
static atomic_int stop;
static atomic_long selects, bad;

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void report_bad(long i, int rc, size_t n)
{
    if (atomic_fetch_add(&bad, 1) < 5)
        FAIL("G %ld: rt_select over %zu cases returned %d (%s)", i, n, rc, rt_err_name(rc));
}

/* A sender: selects a send on its channel (plus a NULL case that never proceeds). */
static void sender(long i, uint32_t *rnd)
{
    long v = i;
    rt_select_case cases[2] = {
        { .chan = chans[i % NCHAN], .dir = RT_SEND, .elem = &v },
        { .chan = NULL, .dir = RT_RECV, .elem = NULL },
    };
    int64_t timeout = (int64_t)(xorshift(rnd) % 200001);
    int rc = rt_select(cases, 2, timeout);
    if (rc == RT_ETIMEDOUT || (timeout == 0 && rc == RT_EAGAIN))
        return;
    if (rc != 0 || cases[0].result != RT_OK)
        report_bad(i, rc, 2);
}

/* A receiver: selects a receive on two channels. */
static void receiver(long i, uint32_t *rnd)
{
    long a = 0, b = 0;
    rt_select_case cases[2] = {
        { .chan = chans[i % NCHAN], .dir = RT_RECV, .elem = &a },
        { .chan = chans[(i + 1) % NCHAN], .dir = RT_RECV, .elem = &b },
    };
    /* Mostly short timeouts, sometimes 0 (which may give RT_EAGAIN: also valid). */
    uint32_t r = xorshift(rnd);
    int64_t timeout = r % 8 == 0 ? 0 : (int64_t)(r % 200001);
    int rc = rt_select(cases, 2, timeout);
    if (rc == RT_ETIMEDOUT || (timeout == 0 && rc == RT_EAGAIN))
        return;
    if (rc < 0 || rc > 1 || cases[rc].result != RT_OK)
        report_bad(i, rc, 2);
}

static void selector(void *arg)
{
    long i = (long)(intptr_t)arg;
    uint32_t rnd = 0x9e3779b9u ^ (uint32_t)(i * 2654435761u);
    long n;
    /* At least MIN_ROUNDS each, then until the toggler is done. */
    for (n = 0; n < MIN_ROUNDS || (!atomic_load(&stop) && atomic_load(&bad) == 0); n++) {
        if (i % 4 == 0)
            sender(i, &rnd);
        else
            receiver(i, &rnd);
    }
    atomic_fetch_add(&selects, n);
    rt_wg_done(&wg);
}

static long toggles;

static void *toggler(void *arg)
{
    (void)arg;
    static const int counts[] = { 1, 2, 8 };
    for (long t = 0; t < toggles && atomic_load(&bad) == 0; t++) {
        int prev = rt_gomaxprocs(counts[t % 3]);
        if (prev <= 0 && atomic_fetch_add(&bad, 1) < 5)
            FAIL("rt_gomaxprocs(%d) returned %d", counts[t % 3], prev);
        usleep(100);
    }
    atomic_store(&stop, 1);
    return NULL;
}

int main(void)
{
    /* Valgrind runs one thread at a time, which makes the race rarer: 1/5, not less. */
    toggles = test_under_valgrind() ? TOGGLES / 5 : TOGGLES;
    const char *env = getenv("MRT_TEST_TOGGLES");
    if (env && atol(env) > 0)
        toggles = atol(env);

    rt_config cfg = { .size = sizeof cfg, .maxprocs = 8 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int c = 0; c < NCHAN; c++)
        CHECK_RC(rt_chan_make(sizeof(long), 4, &chans[c]), RT_OK);

    rt_wg_add(&wg, NG);
    for (long i = 0; i < NG; i++)
        CHECK(rt_go(selector, (void *)(intptr_t)i) > 0);

    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, toggler, NULL), 0);
    pthread_join(th, NULL);
    rt_wg_wait(&wg);

    CHECK_EQ(atomic_load(&bad), 0);
    CHECK(atomic_load(&selects) >= (long)NG * MIN_ROUNDS);

    for (int c = 0; c < NCHAN; c++)
        CHECK_RC(rt_chan_free(chans[c]), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
