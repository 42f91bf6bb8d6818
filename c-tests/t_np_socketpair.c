/*
 * Two Gs ping-pong a counter over a non-blocking socketpair, each reading with
 * rt_poll_fd(RT_POLLIN) whenever read says EAGAIN: 5,000 round trips (300 under
 * valgrind), no message lost or duplicated (the netpoller's edge-triggered
 * registration is re-armed by every wait). Also a G waiting for RT_POLLIN|RT_POLLOUT
 * on a socket whose send buffer is full gets RT_POLLIN alone when data arrives.
 * At 1 P and at 2 Ps.
 */
#include "test_chan.h"

static int sv[2];
static int rounds;
static rt_wg wg;

static void pinger(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < (uint32_t)rounds; i++) {
        if (write(sv[0], &i, sizeof i) != (ssize_t)sizeof i) {
            FAIL("write");
            break;
        }
        uint32_t v;
        if (!tc_read_u32(sv[0], &v) || !CHECK_EQ(v, i + 1000000))
            break;
    }
    rt_wg_done(&wg);
}

static void ponger(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < (uint32_t)rounds; i++) {
        uint32_t v;
        if (!tc_read_u32(sv[1], &v) || !CHECK_EQ(v, i))
            break;
        v += 1000000;
        if (write(sv[1], &v, sizeof v) != (ssize_t)sizeof v) {
            FAIL("write");
            break;
        }
    }
    rt_wg_done(&wg);
}

static int both_rc;

static void both_waiter(void *arg)
{
    (void)arg;
    both_rc = rt_poll_fd(sv[0], RT_POLLIN | RT_POLLOUT, -1);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    rounds = tc_scale(5000, 300);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    rt_wg_add(&wg, 2);
    tc_go(ponger, NULL);
    tc_go(pinger, NULL);
    rt_wg_wait(&wg);

    /* full send buffer on sv[0]; sv[0] waits for either; sv[1] sends */
    CHECK(tc_fill(sv[0]) > 0);
    rt_wg_add(&wg, 1);
    tc_go(both_waiter, NULL);
    if (rt_gomaxprocs(0) == 1)
        tc_park_settle(5);
    CHECK_EQ(write(sv[1], "z", 1), 1);
    rt_wg_wait(&wg);
    CHECK_EQ(both_rc, RT_POLLIN);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
