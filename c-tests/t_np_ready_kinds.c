/*
 * A G's rt_poll_fd parks without a poll(2) first once the poller exists: a level that
 * is already there must come through the registration itself (EPOLL_CTL_MOD, or ADD,
 * with EPOLLET reports a level present at the arm). This checks that for every kind
 * of fd a host is likely to wait on, each already ready when the G asks, for input
 * and for output: a pipe (data; room; a hang-up), a socketpair, an eventfd, a pty's
 * two sides, an expired timerfd, a listening socket with a connection queued, a
 * host's own epoll fd with a ready member; and that what epoll refuses is answered as
 * poll(2) answers it: /dev/null and a directory (ready), and an fd number first
 * registered for a pipe, then closed and reused for a regular file (MOD fails with
 * EPERM there, not ENOENT) or for another pipe (MOD fails with ENOENT, ADD). Each wait
 * has a long timeout, so that a level lost at the arm shows as RT_ETIMEDOUT, not a
 * hang. At 1 P and 2 Ps.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include "test_chan.h"

#define LONG 20000000000LL /* 20 s: only a lost level waits it out */

static void body(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    /* The first wait makes the poller; every wait after it parks without a look. */
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, 1000000), RT_ETIMEDOUT);

    /* A pipe: data, room, a hang-up (every requested event). */
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, LONG), RT_POLLIN);
    CHECK_RC(rt_poll_fd(p[1], RT_POLLOUT, LONG), RT_POLLOUT);
    /* The same level again, for a second wait (nothing was read). */
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, LONG), RT_POLLIN);
    close(p[1]);
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, LONG), RT_POLLIN);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, LONG), RT_POLLIN); /* EOF: hang-up */
    close(p[0]);

    /* A socketpair: both directions at once. */
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_RC(rt_poll_fd(sv[0], RT_POLLOUT, LONG), RT_POLLOUT);
    CHECK_EQ(write(sv[1], "y", 1), 1);
    CHECK_RC(rt_poll_fd(sv[0], RT_POLLIN, LONG), RT_POLLIN);
    CHECK_RC(rt_poll_fd(sv[0], RT_POLLIN | RT_POLLOUT, LONG), RT_POLLIN | RT_POLLOUT);
    close(sv[0]);
    close(sv[1]);

    /* An eventfd: a count to read, room to write. */
    int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(ev >= 0);
    CHECK_RC(rt_poll_fd(ev, RT_POLLOUT, LONG), RT_POLLOUT);
    uint64_t one = 1;
    CHECK_EQ(write(ev, &one, sizeof one), (ssize_t)sizeof one);
    CHECK_RC(rt_poll_fd(ev, RT_POLLIN, LONG), RT_POLLIN);
    close(ev);

    /* A pty: the master has the slave's output; the slave has the master's input. */
    int mfd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (mfd >= 0 && grantpt(mfd) == 0 && unlockpt(mfd) == 0) {
        int sfd = open(ptsname(mfd), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        CHECK(sfd >= 0);
        CHECK_EQ(fcntl(mfd, F_SETFL, O_NONBLOCK), 0);
        CHECK_RC(rt_poll_fd(mfd, RT_POLLOUT, LONG), RT_POLLOUT);
        CHECK_RC(rt_poll_fd(sfd, RT_POLLOUT, LONG), RT_POLLOUT);
        CHECK_EQ(write(mfd, "line\n", 5), 5);
        CHECK_RC(rt_poll_fd(sfd, RT_POLLIN, LONG), RT_POLLIN);
        CHECK_EQ(write(sfd, "z", 1), 1);
        CHECK_RC(rt_poll_fd(mfd, RT_POLLIN, LONG), RT_POLLIN);
        close(sfd);
    } else {
        printf("# no pty here: its case skipped\n");
    }
    if (mfd >= 0)
        close(mfd);

    /* An expired timerfd. */
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(tfd >= 0);
    struct itimerspec its = {.it_value = {.tv_nsec = 1}};
    CHECK_EQ(timerfd_settime(tfd, 0, &its, NULL), 0);
    /* Expired (poll(2) says so) before the G asks. */
    struct pollfd pf = {.fd = tfd, .events = POLLIN};
    while (poll(&pf, 1, 0) == 0)
        sched_yield();
    CHECK_RC(rt_poll_fd(tfd, RT_POLLIN, LONG), RT_POLLIN);
    close(tfd);

    /* A listening socket with a connection queued. */
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(ls >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "mrt-ready-kinds-%d", (int)getpid());
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                  strlen(sa.sun_path + 1));
    CHECK_EQ(bind(ls, (struct sockaddr *)&sa, salen), 0);
    CHECK_EQ(listen(ls, 4), 0);
    CHECK_RC(rt_poll_fd(ls, RT_POLLIN, 1000000), RT_ETIMEDOUT);
    int cs = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(cs >= 0);
    CHECK_EQ(connect(cs, (struct sockaddr *)&sa, salen), 0);
    CHECK_RC(rt_poll_fd(ls, RT_POLLIN, LONG), RT_POLLIN);
    close(cs);
    close(ls);

    /* A host's own epoll fd with a ready member. */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e), 0);
    CHECK_RC(rt_poll_fd(ep, RT_POLLIN, 1000000), RT_ETIMEDOUT);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_RC(rt_poll_fd(ep, RT_POLLIN, LONG), RT_POLLIN);
    close(ep);

    /* What epoll refuses is ready, as poll(2) says. */
    int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
    CHECK(dn >= 0);
    CHECK_RC(rt_poll_fd(dn, RT_POLLIN | RT_POLLOUT, LONG), RT_POLLIN | RT_POLLOUT);
    close(dn);
    int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dir >= 0);
    CHECK_RC(rt_poll_fd(dir, RT_POLLIN, LONG), RT_POLLIN);
    close(dir);

    /* An fd number registered for a pipe, then a regular file's (MOD: EPERM), then
     * another pipe's (MOD: ENOENT, so ADD). */
    int n = p[0];
    CHECK_RC(rt_poll_fd(n, RT_POLLIN, LONG), RT_POLLIN);
    close(n);
    int f0 = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(f0 >= 0);
    int file = dup3(f0, n, O_CLOEXEC);
    CHECK_EQ(file, n);
    close(f0);
    CHECK_RC(rt_poll_fd(file, RT_POLLIN, LONG), RT_POLLIN);
    int q[2];
    CHECK_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    close(file);
    CHECK_EQ(dup3(q[0], n, O_CLOEXEC), n);
    close(q[0]);
    CHECK_RC(rt_poll_fd(n, RT_POLLIN, 1000000), RT_ETIMEDOUT);
    CHECK_EQ(write(q[1], "x", 1), 1);
    CHECK_RC(rt_poll_fd(n, RT_POLLIN, LONG), RT_POLLIN);
    close(n);
    close(q[1]);
    close(p[1]);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
