/*
 * test_overflow.h: the two halves of a stack-overflow test (t_g_overflow,
 * t_g0_overflow). Include it instead of test.h.
 *
 * In the child process:
 *   to_child_setup(host)     no core file; with `host`, a SIGSEGV handler of the
 *                            host's own, which must never run (it prints and exits 42)
 *   to_overflow(id)          tell the parent `id` (the G or M that overflows), then
 *                            recurse without bound
 * In the parent:
 *   to_check(child, arg, what, label)
 *                            runs child(arg) in a child process and checks that it
 *                            died by SIGABRT with exactly one line on stderr that
 *                            says "stack overflow" and "<what> <id>" (the id
 *                            to_overflow sent); `label` names the case in messages.
 *                            Returns that id (-1 if none came).
 */
#ifndef MRT_TEST_OVERFLOW_H
#define MRT_TEST_OVERFLOW_H

#include "test.h"

#include <signal.h>

static int to_id_pipe[2];

static volatile int to_never; /* a base case the compiler cannot rule out */

static int to_recurse(volatile char *prev, int depth)
{
    volatile char frame[512];
    if (to_never)
        return depth;
    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    return to_recurse(frame, depth + 1) + frame[7]; /* not a tail call */
}

static inline void to_overflow(int64_t id)
{
    if (write(to_id_pipe[1], &id, sizeof id) != (ssize_t)sizeof id)
        _exit(5);
    to_recurse(NULL, 0);
}

static void to_host_handler(int sig)
{
    (void)sig;
    static const char msg[] = "host handler called\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(7);
    _exit(42);
}

static inline void to_child_setup(bool host_handler)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    if (host_handler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = to_host_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
    }
}

static inline int64_t to_check(void (*child)(void *), void *arg, const char *what,
                               const char *label)
{
    char err[4096];
    if (pipe(to_id_pipe) != 0) {
        FAIL("pipe");
        return -1;
    }
    int status = test_spawn(child, arg, err, sizeof err);
    close(to_id_pipe[1]);
    int64_t id = -1;
    if (read(to_id_pipe[0], &id, sizeof id) != (ssize_t)sizeof id)
        FAIL("%s: no %s id from the child", label, what);
    close(to_id_pipe[0]);

    if (!CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
        fprintf(stderr, "  %s: child status 0x%x, stderr: %s\n", label, status, err);
    CHECK(strstr(err, "stack overflow") != NULL);
    char want[64];
    snprintf(want, sizeof want, "%s %" PRId64, what, id);
    const char *at = strstr(err, want);
    /* "goroutine 4" must not match "goroutine 41" */
    if (!CHECK(at != NULL && !(at[strlen(want)] >= '0' && at[strlen(want)] <= '9')))
        fprintf(stderr, "  %s: want \"%s\" in stderr: %s\n", label, want, err);
    /* exactly one line */
    const char *nl = strchr(err, '\n');
    if (!CHECK(nl != NULL && nl[1] == 0))
        fprintf(stderr, "  %s: want one line on stderr, got: %s\n", label, err);
    CHECK(strstr(err, "host handler called") == NULL);
    return id;
}

#endif
