/*
 * Thread creation refused for lack of address space: in a child process whose
 * RLIMIT_AS leaves no room for another M's stack, rt_newm / rt_allocm / rt_m_launch fail
 * with RT_ENOMEM or RT_EAGAIN, with nothing leaked (no M, no thread, the P back where it
 * was); after raising the limit again the runtime works as before.
 * (Not run under valgrind: valgrind manages the address space itself.)
 */
#include "test.h"

static test_latch started = TEST_LATCH_INIT;

static void note_start(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

static long vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = -1;
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = -1;
        fclose(f);
    }
    return pages < 0 ? -1 : pages * sysconf(_SC_PAGESIZE);
}

static bool refused(int rc)
{
    if (rc == RT_ENOMEM || rc == RT_EAGAIN)
        return CHECK(true);
    FAIL("want RT_ENOMEM or RT_EAGAIN, got %d (%s)", rc, rt_err_name(rc));
    return false;
}

static void child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2, .g0_stack_size = 1 << 20 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int i = 0; i < 2; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 2);
    rt_p *p1 = rt_p_get(1);
    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);
    int os_threads = test_os_threads();

    /* Room for small mallocs in the heap we already have, none for a new stack. */
    free(malloc(96 << 10));
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    long vm = vm_bytes();
    if (!CHECK(vm > 0))
        return;
    lim.rlim_cur = (rlim_t)vm + (64 << 10);
    lim.rlim_max = old.rlim_max;
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
        FAIL("setrlimit(RLIMIT_AS): %s", strerror(errno));
        return;
    }

    rt_m *m = NULL;
    refused(rt_newm(note_start, NULL, NULL, &m));
    refused(rt_newm(note_start, NULL, NULL, NULL));
    /* With a P: afterwards the P is back where it was (in the pool). */
    refused(rt_newm(note_start, NULL, p1, NULL));
    CHECK_RC(rt_p_status(p1), RT_P_IDLE);
    CHECK_RC(rt_p_put(p1), RT_EALREADY);
    /* allocm may fail already (it maps the g0 stack), or else the launch fails. */
    for (int i = 0; i < 3; i++) {
        rt_m *a = NULL;
        int rc = rt_allocm(NULL, note_start, NULL, &a);
        if (rc == RT_OK) {
            refused(rt_m_launch(a, i == 1 ? p1 : NULL));
            CHECK_RC(rt_m_free(a), RT_OK);
        } else {
            refused(rc);
        }
    }
    CHECK_RC(rt_p_status(p1), RT_P_IDLE);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads);
    CHECK_EQ(st.idle_procs, 2);
    CHECK_EQ(test_os_threads(), os_threads);

    /* Raise the limit again: everything works. */
    if (setrlimit(RLIMIT_AS, &old) != 0)
        FAIL("setrlimit(RLIMIT_AS) back: %s", strerror(errno));
    for (int i = 0; i < 3; i++)
        CHECK_RC(rt_newm(note_start, NULL, i == 0 ? p1 : NULL, NULL), RT_OK);
    test_latch_wait(&started, 5);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 3);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
