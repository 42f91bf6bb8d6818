/*
 * rt_poll_fd timeouts: on an fd that never becomes ready, timeout 0 gives RT_EAGAIN
 * and a positive timeout RT_ETIMEDOUT (RT_POLLIN on an empty pipe, RT_POLLOUT on a
 * full one, both on a socket); from a G (1 P and 2 Ps) and from a foreign thread
 * (poll(2)). After a timeout the fd can be waited on again, and a later event wakes
 * the new wait (the timed-out waiter left no stale registration: no RT_EBUSY). On
 * 1 P other Gs ran while the G waited (ordering only).
 */
#include "test_chan.h"

static atomic_int other_ran;
static rt_wg wg;

static void other(void *arg)
{
    (void)arg;
    atomic_store(&other_ran, 1);
}

static void writer_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    CHECK_EQ(write(fd, "y", 1), 1);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    int p[2], q[2], s[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s), 0);
    CHECK(tc_fill(q[1]) > 0);
    CHECK(tc_fill(s[0]) > 0);

    static const int64_t tos[] = { 1, 1000, 1000000, 10000000 };
    for (int k = 0; k < 4; k++) {
        CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, 0), RT_EAGAIN);
        CHECK_RC(rt_poll_fd(q[1], RT_POLLOUT, 0), RT_EAGAIN);
        CHECK_RC(rt_poll_fd(s[0], RT_POLLIN | RT_POLLOUT, 0), RT_EAGAIN);
        CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, tos[k]), RT_ETIMEDOUT);
        CHECK_RC(rt_poll_fd(q[1], RT_POLLOUT, tos[k]), RT_ETIMEDOUT);
        CHECK_RC(rt_poll_fd(s[0], RT_POLLIN | RT_POLLOUT, tos[k]), RT_ETIMEDOUT);
    }
    if (rt_getg() && rt_gomaxprocs(0) == 1) {
        atomic_store(&other_ran, 0);
        tc_go(other, NULL);
        CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, 5000000), RT_ETIMEDOUT);
        CHECK_EQ(atomic_load(&other_ran), 1);
    }
    /* after timeouts, a wait still gets the event */
    if (rt_getg()) {
        rt_wg_add(&wg, 1);
        tc_go(writer_later, (void *)(intptr_t)p[1]);
        CHECK_EQ(rt_poll_fd(p[0], RT_POLLIN, 60000000000LL), RT_POLLIN);
        rt_wg_wait(&wg);
    } else {
        CHECK_EQ(write(p[1], "y", 1), 1);
        CHECK_EQ(rt_poll_fd(p[0], RT_POLLIN, 60000000000LL), RT_POLLIN);
    }
    for (int i = 0; i < 2; i++) {
        close(p[i]);
        close(q[i]);
        close(s[i]);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    tc_in_child_thread(1, body, NULL);
    return test_summary();
}
