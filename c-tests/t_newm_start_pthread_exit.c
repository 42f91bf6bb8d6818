/*
 * An rt_newm start function that ends its thread with pthread_exit (CPython does it to
 * every thread that wants the GIL while the interpreter finalizes, so a Python start
 * function still running at exit meets it). The forced unwind that pthread_exit starts
 * used to be caught by the runtime's panic catcher around the start function, and
 * glibc aborted the process ("FATAL: exception not rethrown"). Now the thread ends as
 * asked: the process lives on, prints nothing, and the runtime keeps working; the M,
 * which never came back from its start function, keeps rt_shutdown from finishing
 * (RT_ETIMEDOUT), as any M still in its start function does. Each case runs in a child
 * (test_spawn), so an abort fails a check instead of ending the test.
 */
#include "test.h"

static test_latch started = TEST_LATCH_INIT;
static _Atomic pid_t exiting_tid;
static int cleanup_ran;

static void cleanup(void *arg)
{
    (void)arg;
    cleanup_ran = 1;
}

static void start_and_exit(void *arg)
{
    (void)arg;
    atomic_store(&exiting_tid, test_gettid());
    pthread_cleanup_push(cleanup, NULL);
    test_latch_post(&started);
    pthread_exit(NULL);
    pthread_cleanup_pop(0);
}

static atomic_int g_ran;
static rt_wg g_done = RT_WG_INIT;

static void g_body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g_ran, 1);
    rt_wg_done(&g_done);
}

/* Whether thread `tid` of this process is gone. */
static bool thread_gone(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    return access(path, F_OK) != 0;
}

static void child(void *arg)
{
    (void)arg;
    CHECK_RC(rt_init(NULL), RT_OK);
    rt_m *m = NULL;
    if (!CHECK_RC(rt_newm(start_and_exit, NULL, NULL, &m), RT_OK))
        return;
    test_latch_wait(&started, 1);
    pid_t tid = atomic_load(&exiting_tid);
    while (!thread_gone(tid)) /* the alarm of test_spawn bounds this */
        test_relax();
    CHECK_EQ(cleanup_ran, 1);
    /* The runtime still runs Gs, on other Ms. */
    rt_wg_add(&g_done, 2);
    CHECK(rt_go(g_body, NULL) > 0);
    CHECK_RC(rt_main(g_body, NULL), RT_OK);
    rt_wg_wait(&g_done);
    CHECK_EQ(atomic_load(&g_ran), 2);
    /* The M never returned from its start function. */
    CHECK_RC(rt_shutdown(1000000), RT_ETIMEDOUT);
}

int main(void)
{
    char err[4096];
    int st = test_spawn(child, NULL, err, sizeof err);
    bool ok = CHECK_CHILD_OK(st);
    ok &= CHECK(strstr(err, "FATAL") == NULL && strstr(err, "fatal error") == NULL);
    if (!ok)
        fprintf(stderr, "child's stderr: %s\n", err);
    return test_summary();
}
