/*
 * The execution trace when memory runs out (found by a bug hunt): rt_trace_start and
 * rt_trace_stop return RT_ENOMEM, never abort the host. Before the fix their
 * conversion and bookkeeping allocated with Rust's infallible collections (format!,
 * to_vec, CString::new, Vec::push, read_to_string), and an allocation that failed
 * ended the process ("memory allocation of N bytes failed", SIGABRT):
 *  - stop: with every allocation failing, rt_trace_stop of a trace with events
 *    aborted; now RT_ENOMEM (the trace is stopped, the file closed, its JSON cut
 *    short), and the next trace works;
 *  - start and stop with about every second allocation failing, round after round:
 *    rt_trace_start aborted in the scratch file's path, rt_trace_stop in the lanes'
 *    names; now each call gives a code the contract names.
 * Each case runs in a child (an abort is reported as a failed child). malloc is
 * replaced by test_oom.h, so valgrind cannot run this (run.sh's no_valgrind).
 */
#include "test.h"
#include "test_oom.h"

static char path[64];

static void nop(void *arg)
{
    (void)arg;
    rt_gosched();
}

static test_latch ran = TEST_LATCH_INIT;

static void counted(void *arg)
{
    (void)arg;
    rt_gosched();
    test_latch_post(&ran);
}

/* A trace that ends with a readable JSON document. */
static void trace_ok(void)
{
    CHECK_RC(rt_trace_start(path), RT_OK);
    for (int i = 0; i < 10; i++)
        CHECK(rt_go(nop, NULL) > 0);
    CHECK_RC(rt_trace_stop(), RT_OK);
    FILE *f = fopen(path, "r");
    if (!CHECK(f != NULL))
        return;
    char tail[8] = { 0 };
    CHECK_EQ(fseek(f, -2, SEEK_END), 0);
    CHECK_EQ(fread(tail, 1, 2, f), 2);
    fclose(f);
    CHECK_STR_EQ(tail, "}\n");
}

static void stop_nomem(void *arg)
{
    (void)arg;
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_trace_start(path), RT_OK);
    for (int i = 0; i < 100; i++)
        CHECK(rt_go(counted, NULL) > 0);
    CHECK(test_latch_wait_for(&ran, 100, 10));
    test_oom_set(TEST_OOM_ALL);
    int r = rt_trace_stop();
    test_oom_set(TEST_OOM_OFF);
    CHECK_RC(r, RT_ENOMEM);
    CHECK(test_oom_failures() > 0);
    CHECK_RC(rt_trace_stop(), RT_EINVAL); /* stopped all the same */
    trace_ok();
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void half(void *arg)
{
    (void)arg;
    CHECK_RC(rt_init(NULL), RT_OK);
    int bad = 0;
    /* Set once: the failing pattern runs on across the rounds (a reset per round
     * would fail the same allocations every time). */
    test_oom_set(TEST_OOM_HALF);
    for (int k = 0; k < 40; k++) {
        int r = rt_trace_start(path);
        for (int i = 0; i < 20; i++)
            rt_go(nop, NULL); /* RT_ENOMEM may come too */
        int s = rt_trace_stop();
        if (r != RT_OK && r != RT_ENOMEM)
            bad++;
        if (r == RT_OK ? s != RT_OK && s != RT_ENOMEM : s != RT_EINVAL)
            bad++;
    }
    test_oom_set(TEST_OOM_OFF);
    CHECK_EQ(bad, 0);
    trace_ok();
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/mrt-trace-nomem-%d.json", (int)getpid());
    CHECK_CHILD_OK(test_spawn(stop_nomem, NULL, NULL, 0));
    CHECK_CHILD_OK(test_spawn(half, NULL, NULL, 0));
    unlink(path);
    return test_summary();
}
