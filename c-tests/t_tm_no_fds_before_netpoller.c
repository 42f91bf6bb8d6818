/*
 * Timers without file descriptors (issue 8): in a child whose fds are exhausted
 * (RLIMIT_NOFILE lowered, then /dev/null opened until EMFILE) before the netpoller
 * exists, a G's rt_sleep(5 ms) returns RT_OK after at least 5 ms, and rt_select with
 * a 5 ms timeout on an empty channel returns RT_ETIMEDOUT with nothing left on the
 * channel; with 1 P and 2 Ps. The control: pipe() really fails with EMFILE there.
 * Then a timer added while an M already waits for a later one wakes that M: a G
 * waits in rt_select with a 30 s timeout and the main G's rt_sleep(5 ms) still
 * returns (the child's 20 s alarm is the hang bound); a send releases the select.
 *
 * Last, rt_poll_fd on a pipe made before the exhaustion, which needs the netpoller:
 * RT_ENOMEM while no fd is free for it (docs/api.md), and once two fds are closed the
 * next call sets it up: RT_ETIMEDOUT on the empty pipe, RT_POLLIN after a write.
 *
 * Before the fix, timers made the netpoller (an epoll fd and an eventfd) on first use:
 * rt_sleep failed with RT_ENOMEM and the select aborted the process ("select: no
 * memory for a timer").
 */
#include "test_chan.h"

#include <fcntl.h>
#include <sys/epoll.h>

static rt_chan *wake_ch;
static atomic_int selecting;
/* A pipe made before the fd table was filled, and the last two fds that filled it. */
static int pipe_fds[2];
static int filler[2] = { -1, -1 };

/* Fills the fd table: lowers the soft limit a little above what is open, then opens
 * until EMFILE. The fds stay open for the child's life. */
static bool exhaust_fds(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return CHECK(!"getrlimit");
    if (!CHECK(pipe(pipe_fds) == 0))
        return false;
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!CHECK(probe >= 0))
        return false;
    lim.rlim_cur = (rlim_t)probe + 8;
    close(probe);
    if (!CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0))
        return false;
    int n = 0;
    int fd;
    while (n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
        filler[0] = filler[1];
        filler[1] = fd;
        n++;
    }
    CHECK_EQ(errno, EMFILE);
    CHECK(n < 64);
    int p[2];
    /* the negative control: no fd is left for an epoll fd or an eventfd */
    CHECK_EQ(pipe(p), -1);
    CHECK_EQ(errno, EMFILE);
    CHECK_EQ(epoll_create1(EPOLL_CLOEXEC), -1);
    return true;
}

static void selector(void *arg)
{
    (void)arg;
    uint64_t e = 0;
    rt_select_case c[1] = { { wake_ch, RT_RECV, &e, 7 } };
    atomic_store(&selecting, 1);
    CHECK_RC(rt_select(c, 1, 30000000000LL), RT_OK);
    CHECK_EQ(c[0].result, 0);
    CHECK_EQ(e, 42);
}

static void body(void *arg)
{
    (void)arg;
    /* rt_sleep from a G: it parks on a timer. */
    int64_t t0 = tc_now();
    CHECK_RC(rt_sleep(5000000), RT_OK);
    CHECK(tc_now() - t0 >= 5000000);

    /* rt_select with a timeout from a G. */
    rt_chan *c;
    CHECK_RC(rt_chan_make(8, 0, &c), RT_OK);
    uint64_t e = 0x1111;
    rt_select_case cs[1] = { { c, RT_RECV, &e, 7 } };
    CHECK_RC(rt_select(cs, 1, 5000000), RT_ETIMEDOUT);
    CHECK_EQ(cs[0].result, 7);
    CHECK_EQ(e, 0x1111);
    uint64_t v = 1;
    CHECK_RC(rt_chan_trysend(c, &v), RT_EAGAIN); /* no receiver left behind */
    CHECK_RC(rt_chan_free(c), RT_OK);

    /* An earlier timer wakes the M that waits for a later one. */
    CHECK_RC(rt_chan_make(8, 0, &wake_ch), RT_OK);
    tc_go(selector, NULL);
    /* let the selector start and park (best effort: the send decides) */
    for (int i = 0; i < 100000 && !atomic_load(&selecting); i++)
        rt_gosched();
    tc_park_settle(10);
    CHECK_RC(rt_sleep(5000000), RT_OK);
    v = 42;
    CHECK_RC(rt_chan_send(wake_ch, &v), RT_OK);

    /* rt_poll_fd needs the netpoller's two fds: none is free. */
    CHECK_EQ(epoll_create1(EPOLL_CLOEXEC), -1); /* control: still exhausted */
    CHECK_RC(rt_poll_fd(pipe_fds[0], RT_POLLIN, 1000000), RT_ENOMEM);
    if (!CHECK(filler[0] >= 0 && filler[1] >= 0))
        return;
    close(filler[0]);
    close(filler[1]);
    CHECK_RC(rt_poll_fd(pipe_fds[0], RT_POLLIN, 1000000), RT_ETIMEDOUT);
    char byte = 'x';
    CHECK_EQ(write(pipe_fds[1], &byte, 1), 1);
    CHECK_RC(rt_poll_fd(pipe_fds[0], RT_POLLIN, -1), RT_POLLIN);
}

static void child(void *arg)
{
    int procs = (int)(intptr_t)arg;
    if (!exhaust_fds())
        return;
    tc_run(procs, body, NULL);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, (void *)(intptr_t)1, NULL, 0));
    CHECK_CHILD_OK(test_spawn(child, (void *)(intptr_t)2, NULL, 0));
    return test_summary();
}
