/*
 * rt_poll_fd on a bad fd answers RT_EINVAL at once, whatever the timeout (-1, 0 or
 * positive): a negative fd, a closed fd, an fd number never opened; also bad events
 * (0, a bit other than RT_POLLIN/RT_POLLOUT) on a good fd. From a G and from a
 * foreign thread. (A hang is caught by test_spawn's alarm; no timing is checked.)
 */
#include "test_chan.h"

static void body(void *arg)
{
    (void)arg;
    static const int64_t tos[] = { -1, 0, 1000000, 60000000000LL };
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    int closed_fd = dup(p[0]);
    CHECK(closed_fd >= 0);
    close(closed_fd);
    for (int k = 0; k < 4; k++) {
        int64_t to = tos[k];
        CHECK_RC(rt_poll_fd(-1, RT_POLLIN, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(-1000, RT_POLLOUT, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(INT32_MIN, RT_POLLIN | RT_POLLOUT, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(closed_fd, RT_POLLIN, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(closed_fd, RT_POLLOUT, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(100000, RT_POLLIN, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(p[0], 0, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(p[0], 0x2, to), RT_EINVAL);
        CHECK_RC(rt_poll_fd(p[0], RT_POLLIN | 0x100, to), RT_EINVAL);
    }
    close(p[0]);
    close(p[1]);
    /* the fds just closed, now bad */
    CHECK_RC(rt_poll_fd(p[0], RT_POLLIN, -1), RT_EINVAL);
    CHECK_RC(rt_poll_fd(p[1], RT_POLLOUT, -1), RT_EINVAL);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child_thread(1, body, NULL);
    return test_summary();
}
