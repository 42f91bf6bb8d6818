/*
 * Stack overflow in a G, in child processes: a G that recurses without bound dies
 * with exactly one line on stderr containing "stack overflow" and "goroutine <id>"
 * (its id, as rt_go returned it and rt_goid says), then SIGABRT. The same when the
 * host had installed its own SIGSEGV handler before libmrt (an overflow is fatal and
 * reported by libmrt; the host handler is not called), for a G started from a foreign
 * thread (running on a runtime M) and for rt_main's G (running on the host thread),
 * and with a small rt_config.g_stack_size.
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
    int64_t id = rt_goid();
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

enum { HOST_HANDLER = 1, VIA_MAIN = 2, SMALL_STACK = 4, AFTER_SWITCHES = 8 };

static void busy(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        rt_gosched();
}

static void main_g(void *arg)
{
    int flags = (int)(intptr_t)arg;
    if (flags & AFTER_SWITCHES) {
        for (int i = 0; i < 10; i++)
            rt_go(busy, NULL);
        for (int i = 0; i < 50; i++)
            rt_gosched();
    }
    overflow(NULL);
}

static void child(void *arg)
{
    int flags = (int)(intptr_t)arg;
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    if (flags & HOST_HANDLER) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = host_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
    }
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    if (flags & SMALL_STACK)
        cfg.g_stack_size = 16 << 10;
    if (rt_init(&cfg) != RT_OK)
        _exit(6);
    /* A few healthy Gs first, so that the overflowing one is not G 1 by accident. */
    for (int i = 0; i < 5; i++)
        rt_go(busy, NULL);
    if (flags & VIA_MAIN) {
        rt_main(main_g, arg);
    } else {
        if (rt_go(overflow, NULL) <= 0)
            _exit(6);
    }
    for (;;)
        pause(); /* the process dies from the G */
}

static void run(int flags)
{
    char err[4096];
    if (pipe(id_pipe) != 0) {
        FAIL("pipe");
        return;
    }
    int status = test_spawn(child, (void *)(intptr_t)flags, err, sizeof err);
    close(id_pipe[1]);
    int64_t id = -1;
    if (read(id_pipe[0], &id, sizeof id) != (ssize_t)sizeof id)
        FAIL("flags %d: no G id from the child", flags);
    close(id_pipe[0]);

    if (!CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
        fprintf(stderr, "  flags %d: child status 0x%x, stderr: %s\n", flags, status, err);
    CHECK(id > 0);
    CHECK(strstr(err, "stack overflow") != NULL);
    char want[64];
    snprintf(want, sizeof want, "goroutine %" PRId64, id);
    const char *at = strstr(err, want);
    /* "goroutine 4" must not match "goroutine 41" */
    if (!CHECK(at != NULL && !(at[strlen(want)] >= '0' && at[strlen(want)] <= '9')))
        fprintf(stderr, "  flags %d: want \"%s\" in stderr: %s\n", flags, want, err);
    const char *nl = strchr(err, '\n');
    if (!CHECK(nl != NULL && nl[1] == 0))
        fprintf(stderr, "  flags %d: want one line on stderr, got: %s\n", flags, err);
    CHECK(strstr(err, "host handler called") == NULL);
}

int main(void)
{
    run(0);
    run(HOST_HANDLER);
    run(VIA_MAIN);
    run(VIA_MAIN | HOST_HANDLER | AFTER_SWITCHES);
    run(SMALL_STACK);
    return test_summary();
}
