/*
 * Hang-ups and errors wake rt_poll_fd with every requested event: a G waiting for
 * RT_POLLIN on a pipe whose write end another G then closes returns RT_POLLIN (and
 * read says EOF); a G waiting for RT_POLLOUT on a full pipe whose read end gets
 * closed returns RT_POLLOUT (write says EPIPE); a socket whose peer closes wakes a
 * reader likewise. Already hung-up fds answer at once. From a G (1 P) and from a
 * foreign thread.
 */
#include "test_chan.h"

#include <signal.h>

static int p[2];
static int rc;
static rt_wg wg;

static void wait_in(void *arg) { (void)arg; rc = rt_poll_fd(p[0], RT_POLLIN, -1); rt_wg_done(&wg); }
static void wait_out(void *arg) { (void)arg; rc = rt_poll_fd(p[1], RT_POLLOUT, -1); rt_wg_done(&wg); }
static void close_fd(void *arg) { close((int)(intptr_t)arg); }

static void run_case(rt_fn waiter, int close_which)
{
    rt_wg_add(&wg, 1);
    tc_go(waiter, NULL);
    tc_park_settle(3);
    tc_go(close_fd, (void *)(intptr_t)p[close_which]);
    rt_wg_wait(&wg);
}

static void body(void *arg)
{
    (void)arg;
    signal(SIGPIPE, SIG_IGN);
    char c;
    /* reader, writer closes */
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    run_case(wait_in, 1);
    CHECK_EQ(rc, RT_POLLIN);
    CHECK_EQ(read(p[0], &c, 1), 0);
    CHECK_EQ(rt_poll_fd(p[0], RT_POLLIN, -1), RT_POLLIN); /* at once */
    CHECK_EQ(rt_poll_fd(p[0], RT_POLLIN, 0), RT_POLLIN);
    close(p[0]);

    /* writer on a full pipe, reader closes */
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK(tc_fill(p[1]) > 0);
    run_case(wait_out, 0);
    CHECK_EQ(rc, RT_POLLOUT);
    CHECK_EQ(write(p[1], "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(rt_poll_fd(p[1], RT_POLLOUT, -1), RT_POLLOUT);
    close(p[1]);

    /* socket: the peer closes */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p), 0);
    run_case(wait_in, 1);
    CHECK_EQ(rc, RT_POLLIN);
    CHECK_EQ(read(p[0], &c, 1), 0);
    CHECK_EQ(rt_poll_fd(p[0], RT_POLLIN | RT_POLLOUT, -1) & RT_POLLIN, RT_POLLIN);
    close(p[0]);
}

static void *thread_case(void *arg)
{
    (void)arg;
    char c;
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    close(p[1]);
    CHECK_EQ(rt_poll_fd(p[0], RT_POLLIN, -1), RT_POLLIN);
    CHECK_EQ(read(p[0], &c, 1), 0);
    close(p[0]);
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK(tc_fill(p[1]) > 0);
    close(p[0]);
    CHECK_EQ(rt_poll_fd(p[1], RT_POLLOUT, -1), RT_POLLOUT);
    close(p[1]);
    return NULL;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    tc_run(1, body, NULL);
    tc_init(1);
    tc_join(tc_thread(thread_case, NULL));
    tc_fini();
    return test_summary();
}
