/*
 * What libmrt writes to stderr on its own (MRT_SCHEDTRACE's lines, the deadlock
 * report, the SIGQUIT dump) into a stderr that is a pipe whose reader is gone (found
 * by a bug hunt): the text is lost and the host lives. Before the fix each write
 * raised SIGPIPE, whose default action killed the host (exit by signal 13), as
 * rt_dump's and the trace's writes did before t_dump_broken_pipe and
 * t_trace_broken_pipe.
 *
 * Each case runs in a child with SIGPIPE at its default action and fd 2 the write
 * end of a pipe whose read end is closed:
 *   schedtrace  MRT_SCHEDTRACE=1: sysmon's thread writes a SCHED line every ms while
 *               the main G sleeps 30 ms;
 *   deadlock    RT_CFG_DEADLOCK_DETECT and a main G that receives on a channel no
 *               one can send on: rt_main still returns RT_EDEADLK;
 *   sigquit     RT_CFG_SIGQUIT_DUMP with a host handler for SIGQUIT: the dump runs
 *               in the handler, which then chains to the host's.
 */
#include "test_chan.h"

#include <signal.h>
#include <sys/resource.h>

enum { SCHEDTRACE, DEADLOCK, SIGQUIT_DUMP, NCASES };
static const char *const names[NCASES] = { "schedtrace", "deadlock", "sigquit" };

static rt_chan *bp_ch;
static atomic_int host_quits;

static void host_quit(int sig)
{
    (void)sig;
    atomic_fetch_add(&host_quits, 1);
}

static void bp_sleeper(void *a)
{
    (void)a;
    CHECK_RC(rt_sleep(30000000), RT_OK);
}

static void bp_stuck(void *a)
{
    (void)a;
    int v;
    rt_chan_recv(bp_ch, &v);
    FAIL("the deadlocked main G was woken");
}

static void bp_quit(void *a)
{
    (void)a;
    CHECK_EQ(pthread_kill(pthread_self(), SIGQUIT), 0);
    CHECK_EQ(atomic_load(&host_quits), 1);
}

/* fd 2 becomes a pipe nobody reads; false if that could not be set up. */
static bool break_stderr(void)
{
    int p[2];
    if (!CHECK_EQ(pipe(p), 0))
        return false;
    close(p[0]);
    bool ok = CHECK_EQ(dup2(p[1], 2), 2);
    close(p[1]);
    return ok;
}

static void child(void *arg)
{
    int how = (int)(intptr_t)arg;
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGPIPE, SIG_DFL);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    if (how == SCHEDTRACE)
        setenv("MRT_SCHEDTRACE", "1", 1);
    if (how == DEADLOCK)
        cfg.flags = RT_CFG_DEADLOCK_DETECT;
    if (how == SIGQUIT_DUMP) {
        signal(SIGQUIT, host_quit);
        cfg.flags = RT_CFG_SIGQUIT_DUMP;
    }
    /* The checks' own messages would go to the broken stderr: they are counted
     * through test_spawn's pipe all the same. */
    if (!break_stderr())
        return;
    CHECK_RC(rt_init(&cfg), RT_OK);
    switch (how) {
    case SCHEDTRACE:
        CHECK_RC(rt_main(bp_sleeper, NULL), RT_OK);
        break;
    case DEADLOCK:
        CHECK_RC(rt_chan_make(sizeof(int), 0, &bp_ch), RT_OK);
        CHECK_RC(rt_main(bp_stuck, NULL), RT_EDEADLK);
        /* The G stays parked: exit without rt_shutdown (it would wait for it). */
        return;
    case SIGQUIT_DUMP:
        CHECK_RC(rt_main(bp_quit, NULL), RT_OK);
        break;
    }
    CHECK_RC(rt_shutdown(test_under_valgrind() ? 60000000000LL : 20000000000LL), RT_OK);
}

int main(void)
{
    for (intptr_t how = 0; how < NCASES; how++) {
        int st = test_spawn(child, (void *)how, NULL, 0);
        if (!CHECK_CHILD_OK(st) && WIFSIGNALED(st))
            FAIL("%s: child killed by signal %d", names[how], WTERMSIG(st));
    }
    return test_summary();
}
