/*
 * One waiter per fd and direction (as documented in mrt.h): while a G waits for
 * RT_POLLIN on an fd, a second G asking for RT_POLLIN (or both events) on it gets
 * RT_EBUSY at once, but another G may wait for RT_POLLOUT on the same socket; the
 * first waiter is not disturbed by the refused one (it still gets its event), and
 * once it is done the fd can be waited on again. 1 P.
 */
#include "test_chan.h"

static int sv[2];
static int rc1, rc2, rc3, rcw;
static rt_wg wg;

static void first(void *arg) { (void)arg; rc1 = rt_poll_fd(sv[0], RT_POLLIN, -1); rt_wg_done(&wg); }
static void second(void *arg) { (void)arg; rc2 = rt_poll_fd(sv[0], RT_POLLIN, -1); rt_wg_done(&wg); }
static void third(void *arg) { (void)arg; rc3 = rt_poll_fd(sv[0], RT_POLLIN | RT_POLLOUT, 60000000000LL); rt_wg_done(&wg); }
static void writer_wait(void *arg) { (void)arg; rcw = rt_poll_fd(sv[0], RT_POLLOUT, -1); rt_wg_done(&wg); }

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    CHECK(tc_fill(sv[0]) > 0); /* not writable, not readable */
    rt_wg_add(&wg, 4);
    tc_go(first, NULL);
    tc_park_settle(3);
    tc_go(second, NULL);
    tc_go(third, NULL);
    tc_go(writer_wait, NULL);
    tc_park_settle(5);
    CHECK_RC(rc2, RT_EBUSY);
    CHECK_RC(rc3, RT_EBUSY);
    CHECK(tc_drain(sv[1]) > 0); /* sv[0] writable */
    CHECK_EQ(write(sv[1], "r", 1), 1); /* sv[0] readable */
    rt_wg_wait(&wg);
    CHECK_EQ(rc1, RT_POLLIN);
    CHECK_EQ(rcw, RT_POLLOUT);
    char c;
    CHECK_EQ(read(sv[0], &c, 1), 1);
    /* free again */
    rt_wg_add(&wg, 1);
    tc_go(second, NULL);
    tc_park_settle(3);
    CHECK_EQ(write(sv[1], "s", 1), 1);
    rt_wg_wait(&wg);
    CHECK_EQ(rc2, RT_POLLIN);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
