/*
 * rt_pollfd_wait(h, ev, 0) from a G ("0: only look") must report an edge that the
 * fd made, even when no G is parked on the netpoller. Edges reach a handle only when
 * someone polls the epoll instance, and the scheduler polls it (findrunnable,
 * sysmon) only while a G is parked on an fd (netpoll WAITERS > 0): a G that checks
 * with timeout 0 between pieces of other work (rt_gosched) saw RT_EAGAIN forever for
 * a pipe with data in it, a wake-up lost for as long as nobody else waited (the same
 * check with rt_poll_fd, or from a foreign thread, answers at once: poll(2)).
 *
 * A G writes a byte into a pipe whose read end has a handle, then looks with
 * timeout 0, yielding between looks, up to a bound far beyond what any poll needs
 * (the bound is a count of looks, not a time). Alone on 1 P, and with a second G
 * that keeps its own P busy on 2 Ps. Also the write end: its first edge (writable at
 * open) is seen by a look, and consumed by it (the next look: RT_EAGAIN, an edge not
 * a level).
 */
#include "test_chan.h"

#define LOOKS 20000

static atomic_int stop;

static void busy(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        rt_gosched();
}

/* Looks with timeout 0 until `ev` is reported; returns how many looks it took, or
 * -1 if the bound was reached. */
static int look(rt_pollfd *h, uint32_t ev)
{
    for (int i = 1; i <= LOOKS; i++) {
        int r = rt_pollfd_wait(h, ev, 0);
        if (r == (int)ev)
            return i;
        if (!CHECK_RC(r, RT_EAGAIN))
            return -1;
        rt_gosched();
    }
    return -1;
}

static void check(void *arg)
{
    bool with_busy = arg != NULL;
    if (with_busy)
        tc_go(busy, NULL);
    for (int round = 0; round < 20; round++) {
        int p[2];
        CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        rt_pollfd *rh, *wh;
        CHECK_RC(rt_pollfd_open(p[0], &rh), RT_OK);
        CHECK_RC(rt_pollfd_open(p[1], &wh), RT_OK);
        /* The write end's edge at open. */
        if (look(wh, RT_POLLOUT) < 0)
            FAIL("round %d: the write end's edge at open was never seen", round);
        CHECK_RC(rt_pollfd_wait(wh, RT_POLLOUT, 0), RT_EAGAIN);
        /* Nothing to read yet: no edge. */
        CHECK_RC(rt_pollfd_wait(rh, RT_POLLIN, 0), RT_EAGAIN);
        CHECK_EQ(write(p[1], "x", 1), 1);
        if (look(rh, RT_POLLIN) < 0)
            FAIL("round %d: %d looks never saw the pipe's data", round, LOOKS);
        char c;
        CHECK_EQ(read(p[0], &c, 1), 1);
        CHECK_RC(rt_pollfd_close(rh), RT_OK);
        CHECK_RC(rt_pollfd_close(wh), RT_OK);
        close(p[0]);
        close(p[1]);
    }
    atomic_store(&stop, 1);
}

int main(void)
{
    tc_run(1, check, NULL);
    atomic_store(&stop, 0);
    tc_run(2, check, (void *)1);
    return test_summary();
}
