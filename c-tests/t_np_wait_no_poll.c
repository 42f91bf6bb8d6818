/*
 * Once the netpoller exists, a G's rt_poll_fd parks without a poll(2) first: the
 * registration in its park callback (EPOLL_CTL_MOD, or ADD) reports a level that is
 * already there, so the look cost a system call on every wait for nothing (hosts
 * wait after EAGAIN, when the fd is almost never ready). This test counts the
 * library's ppoll calls by defining ppoll here (the executable's definition comes
 * first in symbol lookup; it forwards to libc's): two Gs ping-pong over a
 * socketpair, each waiting after EAGAIN, and no ppoll is made. The answers the look
 * used to give still come: a fd that is ready when the G asks (through the poller),
 * both events of a socket that has data and room, a closed fd (RT_EINVAL), a regular
 * file (ready, as poll(2) says). At 1 P and 2 Ps.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include "test_chan.h"

static atomic_long ppoll_calls;

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    static int (*real)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    atomic_fetch_add(&ppoll_calls, 1);
    if (!real)
        real = (int (*)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))
            dlsym(RTLD_NEXT, "ppoll");
    return real(fds, n, ts, mask);
}

static int sv[2];
static int rounds;
static rt_wg wg;

static void side(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (uint32_t i = 0; i < (uint32_t)rounds; i++) {
        uint32_t v = i;
        if (me == 0 && write(sv[0], &v, sizeof v) != (ssize_t)sizeof v) {
            FAIL("write");
            break;
        }
        if (!tc_read_u32(sv[me], &v) || !CHECK_EQ(v, i))
            break;
        if (me == 1 && write(sv[1], &v, sizeof v) != (ssize_t)sizeof v) {
            FAIL("write");
            break;
        }
    }
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    /* The first wait makes the poller (it looks first: no poller for a ready fd). */
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, 1000000), RT_ETIMEDOUT);

    /* Ready when asked: answered through the poller. */
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, -1), RT_POLLIN);
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, 5000000000LL), RT_POLLIN);
    CHECK_RC(rt_poll_fd(p[1], RT_POLLOUT, -1), RT_POLLOUT);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ(write(sv[1], "y", 1), 1);
    CHECK_RC(rt_poll_fd(sv[0], RT_POLLIN | RT_POLLOUT, -1), RT_POLLIN | RT_POLLOUT);
    char c;
    CHECK_EQ(read(sv[0], &c, 1), 1);
    CHECK_RC(rt_poll_fd(sv[0], RT_POLLIN | RT_POLLOUT, -1), RT_POLLOUT);

    /* What epoll refuses is answered by poll(2): a closed fd, a regular file. */
    int closed = dup(p[0]);
    CHECK(closed >= 0);
    close(closed);
    CHECK_RC(rt_poll_fd(closed, RT_POLLIN, -1), RT_EINVAL);
    CHECK_RC(rt_poll_fd(closed, RT_POLLOUT, 1000000), RT_EINVAL);
    int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(file >= 0);
    CHECK_RC(rt_poll_fd(file, RT_POLLIN, -1), RT_POLLIN);
    CHECK_RC(rt_poll_fd(file, RT_POLLIN, 1000000), RT_POLLIN);
    close(file);
    /* The fd a refused wait left behind still works for the next one. */
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, 1000000), RT_ETIMEDOUT);

    /* Waits after EAGAIN make no ppoll. */
    rounds = tc_scale(2000, 200);
    atomic_store(&ppoll_calls, 0);
    rt_wg_add(&wg, 2);
    tc_go(side, (void *)(intptr_t)1);
    tc_go(side, (void *)(intptr_t)0);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&ppoll_calls), 0);

    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
