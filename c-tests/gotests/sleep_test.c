/*
 * sleep_test.c: the Sleep/After tests of Go's time/sleep_test.go, ported to libmrt:
 * time.Sleep = rt_sleep; time.After = gt_after (a G that rt_sleeps, then sends the
 * time on a buffered channel: libmrt has no timer channels). Tests of Timer.Stop,
 * Reset, AfterFunc and Ticker have no libmrt equivalent and are left out.
 */
#include "gotests.h"

/* ---- TestSleep ---- */

static void sleep_half_g(void *p)
{
    gt_sleep(*(int64_t *)p);
    /* Go's test then calls time.Interrupt (a signal to the process, on Plan 9 only);
     * it has no equivalent here. */
}

/* Sleep(100 ms) sleeps at least 100 ms, while another G sleeps half of it. */
GO_TEST(TestSleep)
{
    static const int64_t delay = 100 * GT_MS;
    static int64_t half = delay / 2;
    gt_go(sleep_half_g, &half);
    int64_t start = gt_now();
    gt_sleep(delay);
    int64_t duration = gt_now() - start;
    if (duration < delay)
        FATALF("Sleep(%" PRId64 " ms) slept for only %" PRId64 " ns", delay / GT_MS, duration);
}

/* ---- TestAfter ---- */

GO_TEST(TestAfter)
{
    const int64_t delay = 100 * GT_MS;
    int64_t start = gt_now();
    int64_t end = 0;
    gt_recv(gt_after(delay), &end);
    int64_t duration = gt_now() - start;
    if (duration < delay)
        FATALF("After(%" PRId64 " ms) slept for only %" PRId64 " ns", delay / GT_MS, duration);
    if (end < start + delay)
        FATALF("After(%" PRId64 " ms) expect >= %" PRId64 ", got %" PRId64, delay / GT_MS,
               start + delay, end);
}

/* ---- TestAfterTick ---- */

/* Ten consecutive After(Delta) take at least 9/10 of ten Deltas (the upper bound, 3x,
 * Go checks only without -short). */
GO_TEST(TestAfterTick)
{
    const int Count = 10;
    int64_t Delta = 100 * GT_MS;
    if (gt_short())
        Delta = 10 * GT_MS;
    int64_t t0 = gt_now();
    for (int i = 0; i < Count; i++)
        gt_recv(gt_after(Delta), NULL);
    int64_t d = gt_now() - t0;
    int64_t target = Delta * Count;
    if (d < target * 9 / 10)
        FATALF("%d ticks of %" PRId64 " ms too fast: took %" PRId64 " ns, expected %" PRId64
               " ns",
               Count, Delta / GT_MS, d, target);
    if (!gt_short() && d > target * 30 / 10)
        FATALF("%d ticks of %" PRId64 " ms too slow: took %" PRId64 " ns, expected %" PRId64
               " ns",
               Count, Delta / GT_MS, d, target);
}

/* ---- TestAfterQueuing ---- */

static const int aq_slots[] = { 5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0 };
#define AQ_N ((int)(sizeof aq_slots / sizeof aq_slots[0]))

struct aq_result {
    int slot;
    int64_t t;
};

struct aq_await {
    int slot;
    rt_chan *result, *ac;
};

static void aq_await_g(void *p)
{
    struct aq_await *a = p;
    struct aq_result r = { a->slot, 0 };
    gt_recv(a->ac, &r.t);
    gt_send(a->result, &r);
    free(a);
}

/* Returns NULL or what went wrong (in buf). */
static const char *after_queuing1(int64_t delta, char *buf, size_t len)
{
    rt_chan *result = gt_make(sizeof(struct aq_result), AQ_N);
    int64_t t0 = gt_now();
    for (int i = 0; i < AQ_N; i++) {
        struct aq_await *a = malloc(sizeof *a);
        if (!a)
            FATALF("out of memory");
        a->slot = aq_slots[i];
        a->result = result;
        a->ac = gt_after(aq_slots[i] * delta);
        gt_go(aq_await_g, a);
    }
    int order[AQ_N];
    int64_t times[AQ_N];
    for (int i = 0; i < AQ_N; i++) {
        struct aq_result r;
        gt_recv(result, &r);
        order[i] = r.slot;
        times[i] = r.t;
    }
    for (int i = 1; i < AQ_N; i++)
        if (order[i] < order[i - 1]) {
            int n = snprintf(buf, len, "After calls returned out of order:");
            for (int j = 0; j < AQ_N && n > 0 && (size_t)n < len; j++)
                n += snprintf(buf + n, len - (size_t)n, " %d", order[j]);
            return buf;
        }
    for (int i = 0; i < AQ_N; i++) {
        int64_t dt = times[i] - t0, target = order[i] * delta;
        if (dt < target - delta / 2 || dt > target + delta * 10) {
            snprintf(buf, len,
                     "After(%" PRId64 " ms) arrived at %" PRId64 " us, expected [%" PRId64
                     ",%" PRId64 "] us",
                     target / GT_MS, dt / GT_US, (target - delta / 2) / GT_US,
                     (target + delta * 10) / GT_US);
            return buf;
        }
    }
    return NULL;
}

/* Timers of 13 Gs fire in the order of their durations. Go's test tries 5 times
 * (with longer deltas) before it fails; it also runs a variant with AfterFunc, which
 * is the same thing here. */
GO_TEST(TestAfterQueuing)
{
    const int attempts = 5;
    char buf[256];
    const char *err = "!=nil";
    for (int i = 0; i < attempts && err; i++) {
        int64_t delta = (int64_t)(20 + i * 50) * GT_MS;
        err = after_queuing1(delta, buf, sizeof buf);
        if (err)
            gt_logf("attempt %d failed: %s", i, err);
    }
    if (err)
        FATALF("%s", err);
}

/* ---- TestSleepZeroDeadlock ---- */

static void gc_stand_in_g(void *p)
{
    /* Go's runtime.GC() (which stops the world) has no equivalent: a yield stands in. */
    for (int i = 0; i < 100; i++)
        rt_gosched();
    bool t = true;
    gt_send(p, &t);
}

/* Sleep(0) returns at once and leaves the G runnable, among channel operations. */
GO_TEST(TestSleepZeroDeadlock)
{
    gt_gomaxprocs(4);
    rt_chan *c = gt_make(sizeof(bool), 0);
    gt_go(gc_stand_in_g, c);
    for (int i = 0; i < 100; i++) {
        gt_sleep(0);
        rt_chan *tmp = gt_make(sizeof(bool), 1);
        bool t = true;
        gt_send(tmp, &t);
        gt_recv(tmp, NULL);
        rt_chan_free(tmp);
    }
    gt_recv(c, NULL);
}

/* ---- TestOverflowSleep ---- */

static void big_sleep_g(void *p)
{
    gt_sleep(*(const int64_t *)p);
    /* Go panics here, since the test may be over: fatal, with the process. */
    FATALF("big sleep returned");
}

/* Durations that overflow when added to now neither fire early nor stop other timers;
 * a negative one fires at once. */
GO_TEST(TestOverflowSleep)
{
    static const int64_t big = INT64_MAX;
    gt_go(big_sleep_g, (void *)&big);
    int64_t tv;
    rt_select_case cs[2] = { gt_case_recv(gt_after(big), &tv),
                             gt_case_recv(gt_after(25 * GT_MS), &tv) };
    if (gt_select(cs, 2, -1) == 0)
        FATALF("big timeout fired");

    const int64_t neg = INT64_MIN;
    gt_sleep(neg); /* returns at once */
    rt_select_case cn[2] = { gt_case_recv(gt_after(neg), &tv),
                             gt_case_recv(gt_after(1 * GT_S), &tv) };
    if (gt_select(cn, 2, -1) == 1)
        FATALF("negative timeout didn't fire");
}
