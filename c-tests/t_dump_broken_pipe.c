/*
 * rt_dump to a pipe or socket whose reader is gone (found while extending the fault
 * matrix, issue 8): RT_EINVAL, and the host lives. Before the fix the write raised
 * SIGPIPE, whose default action killed the process (exit by signal 13), from any
 * context. Each case runs in a child with SIGPIPE at its default action: from the
 * main (foreign) thread, from a G and from a runtime M's start function; on a pipe
 * and on a socketpair. Afterwards the calling thread's signal mask is as before (SIGPIPE
 * not left blocked), and a SIGPIPE that was pending before the call stays pending.
 */
#include "test_chan.h"

#include <signal.h>

static int wfd;
static atomic_int rc_seen = 1;
static test_latch done = TEST_LATCH_INIT;

static void dump_here(void *arg)
{
    (void)arg;
    bool before = test_sigpipe_blocked();
    atomic_store(&rc_seen, rt_dump(wfd));
    CHECK_EQ(test_sigpipe_blocked(), before);
    test_latch_post(&done);
}

static int broken(bool sock)
{
    int p[2];
    if (sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) != 0 : pipe(p) != 0)
        return -1;
    close(p[0]);
    return p[1];
}

enum { FROM_THREAD, FROM_G, FROM_M };

static void child(void *arg)
{
    int how = (int)(intptr_t)arg & 3;
    bool sock = ((intptr_t)arg & 4) != 0;
    signal(SIGPIPE, SIG_DFL);
    tc_init(2);
    wfd = broken(sock);
    CHECK(wfd >= 0);
    /* The control: a plain write there raises SIGPIPE (blocked here, so we see it). */
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    CHECK_EQ(write(wfd, "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    struct timespec zero = { 0, 0 };
    CHECK_EQ(sigtimedwait(&s, NULL, &zero), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    switch (how) {
    case FROM_THREAD: dump_here(NULL); break;
    case FROM_G: tc_go(dump_here, NULL); break;
    case FROM_M: CHECK_RC(rt_newm(dump_here, NULL, NULL, NULL), RT_OK); break;
    }
    CHECK(test_latch_wait_for(&done, 1, 10));
    CHECK_RC(atomic_load(&rc_seen), RT_EINVAL);

    /* A SIGPIPE pending before the call stays pending. */
    pthread_sigmask(SIG_BLOCK, &s, &old);
    pthread_kill(pthread_self(), SIGPIPE);
    CHECK_RC(rt_dump(wfd), RT_EINVAL);
    sigset_t pend;
    sigpending(&pend);
    CHECK_EQ(sigismember(&pend, SIGPIPE), 1);
    CHECK_EQ(sigtimedwait(&s, NULL, &zero), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(wfd);
    tc_fini();
}

int main(void)
{
    for (int sock = 0; sock <= 4; sock += 4)
        for (int how = FROM_THREAD; how <= FROM_M; how++)
            CHECK_CHILD_OK(test_spawn(child, (void *)(intptr_t)(how | sock), NULL, 0));
    return test_summary();
}
