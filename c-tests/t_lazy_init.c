/*
 * Lazy initialisation: the first call of an API that needs the runtime starts it with
 * defaults (so a later rt_init says RT_EALREADY). Each case must be the very first
 * libmrt call of a process, so this program re-executes itself once per case.
 */
#include "test.h"

#include <limits.h>

static test_latch started = TEST_LATCH_INIT;

static void note_start(void *arg)
{
    *(int *)arg = 1;
    test_latch_post(&started);
}

static void then_running(void)
{
    CHECK_RC(rt_init(NULL), RT_EALREADY);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static int run_case(const char *name)
{
    if (strcmp(name, "gomaxprocs") == 0) {
        /* defaults include $MRT_MAXPROCS (the parent sets it to 3 for this case) */
        CHECK_EQ(rt_gomaxprocs(0), 3);
    } else if (strcmp(name, "stats") == 0) {
        rt_stats st;
        CHECK_RC(test_stats(&st), RT_OK);
        CHECK(st.maxprocs > 0);
        CHECK_EQ(st.idle_procs, st.maxprocs);
    } else if (strcmp(name, "p_get") == 0) {
        rt_p *p = rt_p_get(0);
        CHECK(p != NULL);
        CHECK_RC(rt_p_id(p), 0);
        CHECK_RC(rt_p_status(p), RT_P_IDLE);
    } else if (strcmp(name, "newm") == 0) {
        int ran = 0;
        CHECK_RC(rt_newm(note_start, &ran, NULL, NULL), RT_OK);
        test_latch_wait(&started, 1);
        CHECK_EQ(ran, 1);
    } else if (strcmp(name, "allocm") == 0) {
        rt_m *m = NULL;
        CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_OK);
        CHECK(m != NULL);
        CHECK_RC(rt_m_free(m), RT_OK);
    } else if (strcmp(name, "gomaxprocs_set") == 0) {
        CHECK(rt_gomaxprocs(2) > 0); /* returns the default it replaced */
        CHECK_EQ(rt_gomaxprocs(0), 2);
    } else {
        FAIL("unknown case %s", name);
    }
    then_running();
    /* In child mode the parent prints the summary. */
    return atomic_load(&test_failed_) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return run_case(argv[1]);

    char self[4096];
    if (!realpath(argv[0], self))
        snprintf(self, sizeof self, "/proc/self/exe");
    static const char *const cases[] = { "gomaxprocs", "stats", "p_get",
                                         "newm",       "allocm", "gomaxprocs_set" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            FAIL("fork: %s", strerror(errno));
            continue;
        }
        if (pid == 0) {
            if (strcmp(cases[i], "gomaxprocs") == 0)
                setenv("MRT_MAXPROCS", "3", 1);
            else
                unsetenv("MRT_MAXPROCS");
            /* argv[0], not /proc/self/exe, which is valgrind itself under valgrind (the
               re-executed case then runs natively: valgrind does not trace exec). */
            execl(self, argv[0], cases[i], (char *)NULL);
            _exit(127);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            fprintf(stderr, "  lazy-init case '%s' failed (status 0x%x)\n", cases[i], status);
    }
    return test_summary();
}
