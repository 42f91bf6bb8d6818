/*
 * The execution trace where membarrier(2) is refused (a seccomp sandbox, an old
 * kernel): rt_trace_start cannot register for it, so it turns tracing on as
 * ON_STRONG and every emitter fences itself between its store of `busy` and its
 * load of `ON` (src/runtime/trace.rs, busy_on), the stopper relying on that fence
 * instead of its own membarrier. That Dekker between emitters and the stopper is
 * what this test exercises: on 3 Ps, ping-pong pairs over unbuffered channels (Gs
 * woken across Ps, stolen) run and make short-lived Gs on the way, while a host thread
 * stops and starts the trace over and over (and spawns a G from outside between
 * the two, through the shared buffer of threads that are no M). Every rt_trace_*
 * call must succeed and every file be one whole JSON document with no event lost:
 * a stop that flushed a buffer its M was still writing would leave a buffer that
 * does not decode (rt_trace_stop then fails) or events torn apart.
 *
 * The strong path is taken for sure: the filter (installed before rt_init, so every
 * thread of the runtime inherits it) makes every membarrier call fail, and
 * rt_trace_stop of an ON_WEAK trace calls membarrier and aborts the process with
 * "membarrier failed after registration" when it fails: a stop that returns RT_OK
 * here stopped an ON_STRONG trace. (Checked by hand too: with start forced to
 * ON_WEAK this test aborts at its first stop.)
 *
 * $MRT_TRACE_KEEP=path keeps the last trace there, for python-bindings'
 * test_trace.py to check its structure (balanced slices, monotonic lanes, flows).
 */
#include "test.h"
#include "test_membarrier.h"

#define PAIRS 3

static int restarts = 20;      /* 3 under valgrind */
static long step = 1000;       /* round trips per trace before its stop; 100 under valgrind */
static long slack = 10;        /* budget per trace, in steps; 3 under valgrind */
static atomic_long budget;     /* round trips the pairs may still make */
static atomic_int window;      /* from before rt_trace_start to after rt_trace_stop */
static rt_chan *tokens;        /* the pingers wait here when the budget is spent */
static atomic_long trips;      /* round trips done, all pairs */
static atomic_long target;     /* the round trip that ends the current trace */
static test_latch reached = TEST_LATCH_INIT;
static atomic_long spawned_ran;
static atomic_int done;        /* the stopper has finished */
static atomic_int stopper_ok;
static rt_chan *pa[PAIRS], *pb[PAIRS];

static void child(void *arg)
{
    (void)arg;
    rt_gosched();
    atomic_fetch_add(&spawned_ran, 1);
}

static void pinger(void *arg)
{
    int i = (int)(intptr_t)arg;
    long v = 0;
    for (long n = 1; !atomic_load(&done); n++) {
        /* The pairs run while a trace does, not at will between traces: traces of
         * bounded size, also where the stopper takes long to get a CPU (a loaded
         * machine, valgrind). Once the budget is spent they go on more slowly until
         * the stop (sleeps: timers fire, Gs wake and run), so that the stop still
         * meets emitters at work. */
        if (atomic_load(&budget) <= 0) {
            if (atomic_load(&window)) {
                CHECK_RC(rt_sleep(20000), RT_OK);
                continue;
            }
            long tok;
            if (!CHECK_RC(rt_chan_recv(tokens, &tok), RT_OK))
                break;
            continue;
        }
        atomic_fetch_sub(&budget, 1);
        long w = -2;
        /* Checked only when wrong: a count of passes per round trip would be one
         * more cache line written by every M. */
        int rs = rt_chan_send(pa[i], &v), rr = rt_chan_recv(pb[i], &w);
        if (rs != RT_OK || rr != RT_OK || w != v + 1) {
            FAIL("pair %d: send %d recv %d, got %ld for %ld", i, rs, rr, w, v + 1);
            break;
        }
        v = w + 1;
        /* Gs made on the way (creations, starts, exits among the switches). */
        if (n % 50 == 0 && rt_go(child, NULL) <= 0) {
            FAIL("rt_go failed");
            break;
        }
        if (atomic_fetch_add(&trips, 1) + 1 == atomic_load(&target))
            test_latch_post(&reached);
    }
    long end = -1;
    CHECK_RC(rt_chan_send(pa[i], &end), RT_OK);
}

static void ponger(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (;;) {
        long v;
        int rc = rt_chan_recv(pa[i], &v);
        if (rc != RT_OK) {
            FAIL("pair %d: recv %d", i, rc);
            break;
        }
        if (v < 0)
            break;
        v++;
        if ((rc = rt_chan_send(pb[i], &v)) != RT_OK) {
            FAIL("pair %d: send %d", i, rc);
            break;
        }
    }
}

/* One whole JSON document as rt_trace_stop writes it: the opening, the closing,
 * braces and brackets balanced outside strings, no event lost, and scheduler events
 * in it (Gs' slices and wakes' flows). */
static void check_file(const char *path)
{
    char *t = test_slurp(path);
    if (!CHECK(t != NULL))
        return;
    size_t n = strlen(t);
    CHECK(strncmp(t, "{\"traceEvents\":[", 16) == 0);
    CHECK(n > 3 && strcmp(t + n - 3, "}}\n") == 0);
    long depth = 0, min_depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        if (depth < min_depth)
            min_depth = depth;
        if (depth == 0 && i + 1 < n && t[i + 1] != '\n')
            break; /* the document ended before the file */
    }
    CHECK(!in_str);
    CHECK_EQ(depth, 0);
    CHECK_EQ(min_depth, 0);
    CHECK(strstr(t, "\"lost_events\":0,") != NULL);
    CHECK(strstr(t, "\"ph\":\"B\"") != NULL);
    CHECK(strstr(t, "\"ph\":\"s\"") != NULL);
    free(t);
}

static void *stopper(void *arg)
{
    (void)arg;
    CHECK(test_membarrier_denied());
    const char *keep = getenv("MRT_TRACE_KEEP");
    int ok = 0;
    for (int r = 0; r < restarts; r++) {
        char path[96];
        if (r == restarts - 1 && keep && *keep)
            snprintf(path, sizeof path, "%s", keep);
        else
            snprintf(path, sizeof path, "/tmp/mrt-t-trace-nomb-%d-%d.json", (int)getpid(), r);
        atomic_store(&window, 1);
        if (!CHECK_RC(rt_trace_start(path), RT_OK))
            break;
        /* A G made by a thread that is no M: its Create goes to the shared buffer. */
        CHECK(rt_go(child, NULL) > 0);
        /* The stopper sleeps (no CPU taken from the Ms) until the pairs made `step`
         * round trips in this trace. */
        atomic_store(&target, atomic_load(&trips) + step);
        atomic_store(&budget, slack * step);
        for (int i = 0; i < PAIRS; i++)
            CHECK_RC(rt_chan_send(tokens, &(long){ 0 }), RT_OK);
        test_latch_wait(&reached, r + 1);
        int rc = rt_trace_stop();
        atomic_store(&window, 0);
        if (!CHECK_RC(rc, RT_OK))
            break;
        check_file(path);
        if (path[0] == '/' && strncmp(path, "/tmp/mrt-t-trace-nomb-", 22) == 0)
            unlink(path);
        ok++;
    }
    atomic_store(&stopper_ok, ok);
    atomic_store(&done, 1);
    for (int i = 0; i <= PAIRS; i++) /* the pingers and main_g */
        CHECK_RC(rt_chan_send(tokens, &(long){ 0 }), RT_OK);
    return NULL;
}

static void main_g(void *arg)
{
    (void)arg;
    CHECK(test_membarrier_denied()); /* on an M's thread too */
    for (int i = 0; i < PAIRS; i++) {
        CHECK(rt_go(ponger, (void *)(intptr_t)i) > 0);
        CHECK(rt_go(pinger, (void *)(intptr_t)i) > 0);
    }
    pthread_t t;
    if (!CHECK_EQ(pthread_create(&t, NULL, stopper, NULL), 0)) {
        atomic_store(&done, 1);
        return;
    }
    long tok;
    while (!atomic_load(&done))
        CHECK_RC(rt_chan_recv(tokens, &tok), RT_OK);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

int main(void)
{
    if (test_under_valgrind()) {
        restarts = 3;
        step = 100;
        slack = 3;
    }
    /* Before rt_init: no thread of the runtime exists yet, every one inherits it. */
    if (!test_deny_membarrier(false))
        return test_summary();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 3 };
    if (!CHECK_RC(rt_init(&cfg), RT_OK))
        return test_summary();
    /* Room for every token ever sent: the stopper never waits on it. */
    CHECK_RC(rt_chan_make(sizeof(long), (size_t)(PAIRS + 1) * (size_t)(restarts + 1), &tokens), RT_OK);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(rt_chan_make(sizeof(long), 0, &pa[i]), RT_OK);
        CHECK_RC(rt_chan_make(sizeof(long), 0, &pb[i]), RT_OK);
    }
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    /* The pairs and the spawner end once the stopper is done; shutdown waits. */
    CHECK_RC(rt_shutdown(30000000000LL), RT_OK);
    CHECK_EQ(atomic_load(&stopper_ok), restarts);
    CHECK(atomic_load(&trips) >= (long)restarts * step);
    CHECK(atomic_load(&spawned_ran) >= restarts);
    /* No trace runs after the last stop. */
    CHECK_RC(rt_trace_stop(), RT_EINVAL);
    CHECK_RC(rt_chan_free(tokens), RT_OK);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(rt_chan_free(pa[i]), RT_OK);
        CHECK_RC(rt_chan_free(pb[i]), RT_OK);
    }
    return test_summary();
}
