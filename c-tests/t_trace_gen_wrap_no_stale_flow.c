/*
 * A G woken in one trace and run only 256 traces later (rt_trace_start counts
 * generations; the G's wake record kept only the low byte of the generation, so
 * the 256th trace after the wake took it for its own): that trace must end no flow
 * arrow it did not start. On 1 P the main G wakes a waiter, then stops and starts
 * the trace 256 times before it parks and lets the waiter run; in the last trace
 * every flow finish ("f") must have its start ("s", the same id). (A start with no
 * finish is fine: a G woken just before the stop.)
 */
#include "test.h"

#define RESTARTS 256

static rt_chan *ra, *rb;
static char path[80];
static int restarts_ok;

static void waiter(void *arg)
{
    (void)arg;
    long v = 0;
    CHECK_RC(rt_chan_recv(ra, &v), RT_OK);
    CHECK_RC(rt_chan_send(rb, &v), RT_OK);
}

static void main_g(void *arg)
{
    (void)arg;
    long v = 7;
    CHECK(rt_go(waiter, NULL) > 0);
    rt_gosched();                          /* 1 P: the waiter parks on ra */
    CHECK_RC(rt_chan_send(ra, &v), RT_OK); /* wakes it; it runs when we park */
    for (int i = 0; i < RESTARTS; i++) {
        if (rt_trace_stop() != RT_OK || rt_trace_start(path) != RT_OK)
            break;
        restarts_ok++;
    }
    CHECK_RC(rt_chan_recv(rb, &v), RT_OK);
    CHECK_EQ(v, 7);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

/* How many flow finishes have no start: a flow id appears only in its "s" and its
 * "f" event, so an "f" whose id occurs once in the file has none. */
static int unstarted_finishes(const char *t)
{
    int bad = 0;
    for (const char *p = t; (p = strstr(p, "\"ph\":\"f\"")) != NULL; p++) {
        const char *end = strchr(p, '}');
        const char *id = strstr(p, "\"id\":");
        if (!CHECK(end != NULL && id != NULL && id < end))
            return -1;
        char key[48];
        snprintf(key, sizeof key, "\"id\":%lld,", atoll(id + 5));
        if (count(t, key) < 2) {
            fprintf(stderr, "flow finish %s has no start\n", key);
            bad++;
        }
    }
    return bad;
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/mrt-t-trace-wrap-%d.json", (int)getpid());
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &ra), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &rb), RT_OK);
    CHECK_RC(rt_trace_start(path), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(restarts_ok, RESTARTS);
    CHECK_RC(rt_trace_stop(), RT_OK);
    char *t = test_slurp(path);
    if (CHECK(t != NULL)) {
        CHECK(count(t, "\"ph\":\"s\"") >= 1);
        CHECK_EQ(unstarted_finishes(t), 0);
        free(t);
    }
    if (!getenv("KEEP")) unlink(path);
    CHECK_RC(rt_chan_free(ra), RT_OK);
    CHECK_RC(rt_chan_free(rb), RT_OK);
    CHECK_RC(rt_shutdown(10000000000LL), RT_OK);
    return test_summary();
}
