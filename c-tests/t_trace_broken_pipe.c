/*
 * rt_trace_stop into a FIFO whose reader is gone (found by a bug hunt): the JSON's
 * write fails, rt_trace_stop returns RT_EINVAL (the trace stopped, the file closed)
 * and the host lives. Before the fix the write raised SIGPIPE, whose default action
 * killed the host (exit by signal 13), as rt_dump's did before t_dump_broken_pipe.
 * Each case runs in a child with SIGPIPE at its default action: the trace starts
 * while a reader has the FIFO open, the reader closes, and rt_trace_stop runs from
 * the main (foreign) thread or from a G. Afterwards the calling thread's signal mask
 * is as before (SIGPIPE not left blocked), and a SIGPIPE that was pending before the
 * call stays pending. (rt_trace_start's header write has the same guard; its broken
 * case cannot be set up without a race: opening a FIFO for writing waits for a
 * reader.)
 */
#include "test_chan.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

static char fifo[128];
static atomic_int rc_seen = 1;
static test_latch done = TEST_LATCH_INIT;

static void stop_here(void *arg)
{
    (void)arg;
    bool before = test_sigpipe_blocked();
    atomic_store(&rc_seen, rt_trace_stop());
    CHECK_EQ(test_sigpipe_blocked(), before);
    test_latch_post(&done);
}

static void nop(void *arg)
{
    (void)arg;
    rt_gosched();
}

/* A trace into `fifo` whose reader is closed once the trace runs. */
static bool start_then_break(void)
{
    int r = open(fifo, O_RDONLY | O_NONBLOCK);
    if (!CHECK(r >= 0))
        return false;
    bool before = test_sigpipe_blocked();
    if (!CHECK_RC(rt_trace_start(fifo), RT_OK)) {
        close(r);
        return false;
    }
    CHECK_EQ(test_sigpipe_blocked(), before);
    close(r);
    return true;
}

static void child(void *arg)
{
    bool from_g = (intptr_t)arg != 0;
    signal(SIGPIPE, SIG_DFL);
    tc_init(2);
    if (!start_then_break())
        return;
    /* Some events, so that the stop has buffers to write. */
    for (int i = 0; i < 50; i++)
        tc_go(nop, NULL);
    if (from_g)
        tc_go(stop_here, NULL);
    else
        stop_here(NULL);
    CHECK(test_latch_wait_for(&done, 1, 10));
    CHECK_RC(atomic_load(&rc_seen), RT_EINVAL);
    /* The trace is stopped either way: a new one may start. */
    CHECK_RC(rt_trace_stop(), RT_EINVAL);

    /* A SIGPIPE pending before the call stays pending. */
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    if (start_then_break()) {
        pthread_sigmask(SIG_BLOCK, &s, &old);
        pthread_kill(pthread_self(), SIGPIPE);
        CHECK_RC(rt_trace_stop(), RT_EINVAL);
        sigset_t pend;
        sigpending(&pend);
        CHECK_EQ(sigismember(&pend, SIGPIPE), 1);
        struct timespec zero = { 0, 0 };
        CHECK_EQ(sigtimedwait(&s, NULL, &zero), SIGPIPE);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    tc_fini();
}

int main(void)
{
    char dir[] = "/tmp/mrt-trace-pipe-XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL))
        return test_summary();
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    if (CHECK_EQ(mkfifo(fifo, 0600), 0)) {
        for (intptr_t how = 0; how < 2; how++) {
            int st = test_spawn(child, (void *)how, NULL, 0);
            if (!CHECK_CHILD_OK(st) && WIFSIGNALED(st))
                FAIL("case %d: child killed by signal %d", (int)how, WTERMSIG(st));
        }
    }
    unlink(fifo);
    rmdir(dir);
    return test_summary();
}
