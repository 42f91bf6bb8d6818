/*
 * rt_poll_fd from a G on a pipe parks until the fd is ready: a G waiting for
 * RT_POLLIN on an empty pipe (no timeout, and with a long timeout) is woken by a
 * write from another G of the same P (1 P: the writer runs only because the waiter
 * parked) and returns RT_POLLIN; a G waiting for RT_POLLOUT on a full pipe is woken
 * when another G drains it and returns RT_POLLOUT; an fd that is already ready
 * returns its mask at once (also with timeout 0), and only the events asked for.
 * Repeated on the same fds (re-arming works).
 */
#include "test_chan.h"

static int pfd[2];
static atomic_int wrote, drained;
static int wait_rc;
static rt_wg wg;

static void reader(void *arg)
{
    int64_t to = (int64_t)(intptr_t)arg;
    wait_rc = rt_poll_fd(pfd[0], RT_POLLIN, to);
    if (!atomic_load(&wrote))
        FAIL("the reader returned before the write");
    rt_wg_done(&wg);
}

static void writer_g(void *arg)
{
    (void)arg;
    atomic_store(&wrote, 1);
    CHECK_EQ(write(pfd[1], "x", 1), 1);
}

static void wwaiter(void *arg)
{
    int64_t to = (int64_t)(intptr_t)arg;
    wait_rc = rt_poll_fd(pfd[1], RT_POLLOUT, to);
    if (!atomic_load(&drained))
        FAIL("the writer returned before the drain");
    rt_wg_done(&wg);
}

static void drainer(void *arg)
{
    (void)arg;
    atomic_store(&drained, 1);
    CHECK(tc_drain(pfd[0]) > 0);
}

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    for (int round = 0; round < 20; round++) {
        int64_t to = round % 2 ? -1 : 60000000000LL;
        /* readable */
        atomic_store(&wrote, 0);
        rt_wg_add(&wg, 1);
        tc_go(reader, (void *)(intptr_t)to);
        tc_park_settle(5); /* the reader parks in the netpoller */
        tc_go(writer_g, NULL);
        rt_wg_wait(&wg);
        CHECK_EQ(wait_rc, RT_POLLIN);
        /* already readable: at once, with any timeout */
        CHECK_EQ(rt_poll_fd(pfd[0], RT_POLLIN, 0), RT_POLLIN);
        CHECK_EQ(rt_poll_fd(pfd[0], RT_POLLIN, -1), RT_POLLIN);
        char c;
        CHECK_EQ(read(pfd[0], &c, 1), 1);
        CHECK_RC(rt_poll_fd(pfd[0], RT_POLLIN, 0), RT_EAGAIN);
        /* the write end of an empty pipe is writable; asking for both gives only it */
        CHECK_EQ(rt_poll_fd(pfd[1], RT_POLLOUT, 0), RT_POLLOUT);
        CHECK_EQ(rt_poll_fd(pfd[1], RT_POLLOUT | RT_POLLIN, -1), RT_POLLOUT);

        /* writable */
        CHECK(tc_fill(pfd[1]) > 0);
        CHECK_RC(rt_poll_fd(pfd[1], RT_POLLOUT, 0), RT_EAGAIN);
        atomic_store(&drained, 0);
        rt_wg_add(&wg, 1);
        tc_go(wwaiter, (void *)(intptr_t)to);
        tc_park_settle(5);
        tc_go(drainer, NULL);
        rt_wg_wait(&wg);
        CHECK_EQ(wait_rc, RT_POLLOUT);
    }
    close(pfd[0]);
    close(pfd[1]);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
