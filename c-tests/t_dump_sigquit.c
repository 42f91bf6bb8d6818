/*
 * The SIGQUIT dump (issue 11): with RT_CFG_SIGQUIT_DUMP, SIGQUIT writes the
 * goroutine dump to stderr and then reaches the handler the host had installed; with
 * MRT_DEBUG=sigquit and no host handler, the default action still ends the process
 * (by SIGQUIT, as Go's does) after the dump; without either, libmrt leaves SIGQUIT
 * alone. Each case runs in its own child with stderr captured; a G parked in a
 * known function (sq_stuck) must show in the dump.
 */
#include "test.h"

#include <signal.h>
#include <sys/resource.h>

static rt_chan *sq_ch;
static atomic_int sq_host_calls;

__attribute__((noinline, used)) void sq_stuck(void *a)
{
    (void)a;
    int v;
    rt_chan_recv(sq_ch, &v);
}

static void sq_host_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&sq_host_calls, 1);
}

__attribute__((noinline, used)) void sq_main(void *a)
{
    (void)a;
    CHECK(rt_go(sq_stuck, NULL) > 0);
    /* Let it park (the dump shows it either way; parked, it has its stack). */
    for (int i = 0; i < 100; i++)
        rt_sleep(1000000);
    CHECK(kill(getpid(), SIGQUIT) == 0);
    /* A process-directed signal: any thread may take it. */
    for (int i = 0; i < 20000 && atomic_load(&sq_host_calls) == 0; i++)
        rt_sleep(1000000);
    int v = 1;
    CHECK_RC(rt_chan_send(sq_ch, &v), RT_OK);
}

enum { HOST_HANDLER_FLAG, DEFAULT_ACTION_ENV, NOT_ASKED };

static void child(void *arg)
{
    int how = (int)(intptr_t)arg;
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    if (how != DEFAULT_ACTION_ENV)
        signal(SIGQUIT, sq_host_handler);
    else
        setenv("MRT_DEBUG", "sigquit", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2,
                      .flags = how == HOST_HANDLER_FLAG ? RT_CFG_SIGQUIT_DUMP : 0 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &sq_ch), RT_OK);
    CHECK_RC(rt_main(sq_main, NULL), RT_OK);
    CHECK_EQ(atomic_load(&sq_host_calls), 1);
    CHECK_RC(rt_chan_free(sq_ch), RT_OK);
    CHECK_RC(rt_shutdown(test_under_valgrind() ? 60000000000LL : 20000000000LL), RT_OK);
}

static char err[1 << 16];

int main(void)
{
    int st = test_spawn(child, (void *)HOST_HANDLER_FLAG, err, sizeof err);
    CHECK_CHILD_OK(st);
    bool ok = CHECK(strstr(err, "SIGQUIT: quit\n") != NULL) &&
              CHECK(strstr(err, "goroutine profile: total 2\n") != NULL) &&
              CHECK(strstr(err, "1 goroutine [chan receive]:\n") != NULL) &&
              CHECK(strstr(err, "sq_stuck+0x") != NULL) &&
              CHECK(strstr(err, "sq_main+0x") != NULL);
    if (!ok)
        fprintf(stderr, "with a host handler, stderr:\n%s\n", err);

    st = test_spawn(child, (void *)DEFAULT_ACTION_ENV, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT);
    ok = CHECK(strstr(err, "SIGQUIT: quit\n") != NULL) &&
         CHECK(strstr(err, "sq_stuck+0x") != NULL);
    if (!ok)
        fprintf(stderr, "with the default action, stderr:\n%s\n", err);

    st = test_spawn(child, (void *)NOT_ASKED, err, sizeof err);
    CHECK_CHILD_OK(st);
    CHECK(strstr(err, "SIGQUIT") == NULL && strstr(err, "goroutine") == NULL);
    return test_summary();
}
