/*
 * Stack overflow on an M's g0 (infinite recursion in a start function), in a child
 * process: one line on stderr containing "stack overflow" and "g0 of M <id>", then
 * SIGABRT. Also when the host had its own SIGSEGV handler: an overflow is still fatal
 * and reported by libmrt (the host handler is for faults elsewhere).
 */
#include "test.h"

#include <signal.h>

static int id_pipe[2];

static volatile int never; /* a base case the compiler cannot rule out */

static int recurse(volatile char *prev, int depth)
{
    volatile char frame[512];
    if (never)
        return depth;
    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    return recurse(frame, depth + 1) + frame[7]; /* not a tail call */
}

static void overflow(void *arg)
{
    (void)arg;
    int64_t id = rt_m_id(rt_getm());
    if (write(id_pipe[1], &id, sizeof id) != (ssize_t)sizeof id)
        _exit(5);
    recurse(NULL, 0);
}

static void host_handler(int sig)
{
    (void)sig;
    static const char msg[] = "host handler called\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(7);
    _exit(42);
}

static void child(void *arg)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    if (arg) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = host_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
    }
    rt_config cfg = { .size = sizeof cfg, .g0_stack_size = 256 << 10 };
    if (rt_init(&cfg) != RT_OK)
        _exit(6);
    /* A few healthy Ms first, so that the overflowing one is not M 1 by accident. */
    for (int i = 0; i < 3; i++)
        rt_newm(NULL, NULL, NULL, NULL);
    if (rt_newm(overflow, NULL, NULL, NULL) != RT_OK)
        _exit(6);
    for (;;)
        pause(); /* the process dies from the M */
}

static void run(bool with_host_handler)
{
    char err[4096];
    if (pipe(id_pipe) != 0) {
        FAIL("pipe");
        return;
    }
    int status = test_spawn(child, with_host_handler ? (void *)1 : NULL, err, sizeof err);
    close(id_pipe[1]);
    int64_t id = -1;
    if (read(id_pipe[0], &id, sizeof id) != (ssize_t)sizeof id)
        FAIL("no M id from the child");
    close(id_pipe[0]);

    const char *what = with_host_handler ? "with host handler" : "no host handler";
    if (!CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
        fprintf(stderr, "  %s: child status 0x%x, stderr: %s\n", what, status, err);
    CHECK(strstr(err, "stack overflow") != NULL);
    char want[64];
    snprintf(want, sizeof want, "g0 of M %" PRId64, id);
    const char *at = strstr(err, want);
    /* "g0 of M 4" must not match "g0 of M 41" */
    if (!CHECK(at != NULL && !(at[strlen(want)] >= '0' && at[strlen(want)] <= '9')))
        fprintf(stderr, "  %s: want \"%s\" in stderr: %s\n", what, want, err);
    /* exactly one line */
    const char *nl = strchr(err, '\n');
    if (!CHECK(nl != NULL && nl[1] == 0))
        fprintf(stderr, "  %s: want one line on stderr, got: %s\n", what, err);
    CHECK(strstr(err, "host handler called") == NULL);
}

int main(void)
{
    run(false);
    run(true);
    return test_summary();
}
