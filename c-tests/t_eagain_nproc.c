/*
 * Thread creation refused by the OS (EAGAIN): in a child process that becomes the
 * unprivileged user 65534 (root ignores RLIMIT_NPROC) with RLIMIT_NPROC at its current
 * thread count, rt_newm / rt_m_launch fail with RT_EAGAIN, with nothing leaked (no M,
 * no thread, the P back where it was); after raising the limit again the runtime works.
 * The Ms that exist while the uid changes must let glibc's setxid signal through.
 * Skipped (reported as such) when not run as root.
 */
#include "test.h"

#include <signal.h>

static test_latch started = TEST_LATCH_INIT;

static void note_start(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

static void child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int i = 0; i < 3; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 3);
    rt_p *p1 = rt_p_get(1);

    /* Every thread of the process (Ms included) switches uid: glibc signals them all. */
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
        FAIL("setresuid(65534): %s", strerror(errno));
        return;
    }
    CHECK_EQ(getuid(), 65534);

    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);
    int os_threads = test_os_threads();
    struct rlimit old, lim;
    getrlimit(RLIMIT_NPROC, &old);
    lim.rlim_cur = (rlim_t)os_threads; /* this process alone is at the limit */
    lim.rlim_max = old.rlim_max;
    if (setrlimit(RLIMIT_NPROC, &lim) != 0) {
        FAIL("setrlimit(RLIMIT_NPROC): %s", strerror(errno));
        return;
    }

    rt_m *m = NULL;
    CHECK_RC(rt_newm(note_start, NULL, NULL, &m), RT_EAGAIN);
    CHECK_RC(rt_newm(note_start, NULL, p1, NULL), RT_EAGAIN);
    CHECK_RC(rt_p_status(p1), RT_P_IDLE);
    CHECK_RC(rt_p_put(p1), RT_EALREADY); /* still in the pool */
    rt_m *a = NULL;
    CHECK_RC(rt_allocm(NULL, note_start, NULL, &a), RT_OK);
    CHECK_RC(rt_m_launch(a, p1), RT_EAGAIN);
    CHECK_RC(rt_p_status(p1), RT_P_IDLE);
    /* A P held by the caller stays held after a refused launch. */
    CHECK_RC(rt_acquirep(p1), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p1);
    CHECK_RC(rt_m_launch(a, p1), RT_EAGAIN);
    CHECK_RC(rt_p_put(p1), RT_OK);
    CHECK_RC(rt_m_free(a), RT_OK); /* never launched */
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 1); /* + this thread, adopted by rt_acquirep */
    CHECK_EQ(st.idle_procs, 2);
    CHECK_EQ(test_os_threads(), os_threads);

    /* Raise the limit again (up to the hard limit, allowed unprivileged). */
    if (setrlimit(RLIMIT_NPROC, &old) != 0)
        FAIL("setrlimit(RLIMIT_NPROC) back: %s", strerror(errno));
    for (int i = 0; i < 3; i++)
        CHECK_RC(rt_newm(note_start, NULL, i == 0 ? p1 : NULL, NULL), RT_OK);
    test_latch_wait(&started, 6);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 4);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "t_eagain_nproc: SKIP (needs root to become uid 65534)\n");
        return test_summary();
    }
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
