/*
 * What rt_pollfd exists for: a G's wait on a registered fd makes no system call of
 * its own. Two Gs ping-pong over a socketpair through handles, each reading until
 * EAGAIN and waiting; the library's epoll_ctl and ppoll calls (reaching this
 * program's wrappers) are counted over the rounds: none (rt_poll_fd made one
 * epoll_ctl per wait). The waits themselves are counted to show they happened.
 * With 1 P (a wait always parks: the peer runs only then) and 2 Ps.
 */
#include "test_chan.h"

#include <dlfcn.h>
#include <sys/epoll.h>

static atomic_long ctl_calls, ppoll_calls, waits;

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    atomic_fetch_add(&ctl_calls, 1);
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

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
static rt_pollfd *hv[2];
static int rounds;
static rt_wg wg;

static void side(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint32_t v = 0;
    for (int i = 0; i < rounds; i++) {
        if (me == 0) {
            v = (uint32_t)i;
            CHECK_EQ(write(sv[0], &v, sizeof v), (ssize_t)sizeof v);
        }
        for (;;) {
            ssize_t n = read(sv[me], &v, sizeof v);
            if (n == (ssize_t)sizeof v)
                break;
            if (n < 0 && errno == EAGAIN) {
                atomic_fetch_add(&waits, 1);
                int r = rt_pollfd_wait(hv[me], RT_POLLIN, -1);
                if (r != RT_POLLIN) {
                    FAIL("rt_pollfd_wait -> %d", r);
                    goto out;
                }
                continue;
            }
            FAIL("read -> %zd", n);
            goto out;
        }
        if (v != (uint32_t)i) {
            FAIL("got %u, want %d", v, i);
            break;
        }
        if (me == 1)
            CHECK_EQ(write(sv[1], &v, sizeof v), (ssize_t)sizeof v);
    }
out:
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_RC(rt_pollfd_open(sv[0], &hv[0]), RT_OK);
    CHECK_RC(rt_pollfd_open(sv[1], &hv[1]), RT_OK);
    long c0 = atomic_load(&ctl_calls), p0 = atomic_load(&ppoll_calls);
    rt_wg_add(&wg, 2);
    tc_go(side, (void *)(intptr_t)1);
    tc_go(side, (void *)(intptr_t)0);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&ctl_calls) - c0, 0);
    CHECK_EQ(atomic_load(&ppoll_calls) - p0, 0);
    CHECK(atomic_load(&waits) >= rounds); /* the reader of each round waited */
    CHECK_RC(rt_pollfd_close(hv[0]), RT_OK);
    CHECK_RC(rt_pollfd_close(hv[1]), RT_OK);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    rounds = tc_scale(5000, 300);
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
