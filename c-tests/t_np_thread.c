/*
 * rt_poll_fd from a foreign thread is poll(2): the thread blocks (in the kernel's
 * poll, not holding a P) until a G of the only P writes to the pipe (the G could run
 * only because the thread holds no P), then returns RT_POLLIN; waiting for
 * RT_POLLOUT on a full pipe until a G drains it returns RT_POLLOUT. Also from an M's
 * g0 (rt_newm start function). 1 P.
 */
#include "test_chan.h"

static int p[2];
static pid_t tid;
static int rc_in, rc_out;
static test_latch started = TEST_LATCH_INIT, finished = TEST_LATCH_INIT;
static test_latch filled = TEST_LATCH_INIT;

static void *waiter(void *arg)
{
    (void)arg;
    tid = tc_gettid();
    test_latch_post(&started);
    rc_in = rt_poll_fd(p[0], RT_POLLIN, -1);
    char buf[8];
    CHECK_EQ(read(p[0], buf, sizeof buf), 1);
    test_latch_post(&started);
    test_latch_wait(&filled, 1);
    rc_out = rt_poll_fd(p[1], RT_POLLOUT, 60000000000LL);
    test_latch_post(&finished);
    return NULL;
}

static void m_waiter(void *arg)
{
    (void)arg;
    CHECK(rt_getg() == NULL);
    tid = tc_gettid();
    test_latch_post(&started);
    rc_in = rt_poll_fd(p[0], RT_POLLIN, -1);
    test_latch_post(&finished);
}

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    pthread_t t = tc_thread(waiter, NULL);
    test_latch_wait(&started, 1);
    tc_wait_thread_in(tid, SYS_ppoll);
    CHECK_EQ(write(p[1], "a", 1), 1);
    test_latch_wait(&started, 2);
    CHECK_EQ(rc_in, RT_POLLIN);
    /* now the write side */
    CHECK(tc_fill(p[1]) > 0);
    test_latch_post(&filled);
    tc_wait_thread_in(tid, SYS_ppoll);
    CHECK(tc_drain(p[0]) > 0);
    test_latch_wait(&finished, 1);
    CHECK_EQ(rc_out, RT_POLLOUT);
    tc_join(t);

    /* from an M's g0 */
    rc_in = 0;
    CHECK_RC(rt_newm(m_waiter, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 3);
    tc_wait_thread_in(tid, SYS_ppoll);
    CHECK_EQ(write(p[1], "b", 1), 1);
    test_latch_wait(&finished, 2);
    CHECK_EQ(rc_in, RT_POLLIN);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
