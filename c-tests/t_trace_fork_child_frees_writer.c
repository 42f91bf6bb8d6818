/*
 * Regression: the child of a fork made while a trace ran leaked its copy of the
 * parent's trace writer (its JSON buffer, 1 MiB from rt_trace_start): the atfork
 * handler forgot it instead of freeing it. Under valgrind the child's leak check
 * reported it as definitely lost, and the child exits nonzero. The child now frees
 * it (unless a thread held the writer's lock at the fork, which this test does not
 * arrange: nothing but the forking thread touches the trace here).
 *
 * The child also checks the documented behaviour: no trace runs there
 * (rt_trace_stop: RT_EINVAL), the parent's file is not touched by it, the runtime
 * and a trace of the child's own work there, and the
 * parent's trace stops cleanly into one JSON document afterwards.
 */
#include "test.h"

#include <sys/stat.h>

static char path[64];
static long size_before;

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void noop(void *arg)
{
    (void)arg;
}

static void child(void *arg)
{
    (void)arg;
    CHECK_RC(rt_trace_stop(), RT_EINVAL);
    CHECK_EQ(file_size(path), size_before);
    /* The runtime and a trace of its own work in the child (its writer takes the
     * place of the parent's copy, which left no pointer to that copy behind). */
    CHECK_RC(rt_init(NULL), RT_OK);
    char p[80];
    snprintf(p, sizeof p, "%s.child", path);
    CHECK_RC(rt_trace_start(p), RT_OK);
    CHECK_RC(rt_main(noop, NULL), RT_OK);
    CHECK_RC(rt_trace_stop(), RT_OK);
    unlink(p);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_EQ(file_size(path), size_before);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/mrt-t-trace-fork-%d.json", (int)getpid());
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_trace_start(path), RT_OK);
    CHECK_RC(rt_main(noop, NULL), RT_OK);
    size_before = file_size(path);
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    CHECK_RC(rt_trace_stop(), RT_OK);
    char *t = test_slurp(path);
    if (CHECK(t != NULL)) {
        CHECK(strncmp(t, "{\"traceEvents\":[", 16) == 0);
        CHECK(strstr(t, "\"ph\":\"B\"") != NULL);
        free(t);
    }
    unlink(path);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
