/*
 * fd numbers are reused after close: a G that waited on a pipe's read end (timed out,
 * so the netpoller registered it) closes that pipe; a new pipe gets the same fd
 * numbers; a G waiting on the new read end is woken by a write to the new pipe
 * (the netpoller notices the new file behind the old number). Then the same with the
 * old pipe kept alive through a dup() of its read end: the new pipe's waiter must
 * not be woken by activity on the old pipe (the registration of the old file under
 * that fd number is stale): with nothing written to the new pipe it times out, and
 * if it reports readiness the new fd must really be readable. 1 P.
 */
#include "test_chan.h"

static int wrc;
static int wfd;
static int64_t wto;
static rt_wg wg;

static void waiter(void *arg)
{
    (void)arg;
    wrc = rt_poll_fd(wfd, RT_POLLIN, wto);
    rt_wg_done(&wg);
}

static void writer(void *arg)
{
    CHECK_EQ(write((int)(intptr_t)arg, "w", 1), 1);
}

static void body(void *arg)
{
    (void)arg;
    int a[2], b[2];
    CHECK_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_poll_fd(a[0], RT_POLLIN, 1000000), RT_ETIMEDOUT); /* registered */
    close(a[0]);
    close(a[1]);
    CHECK_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(b[0], a[0]); /* the same numbers (lowest free) */
    wfd = b[0];
    wto = -1;
    rt_wg_add(&wg, 1);
    tc_go(waiter, NULL);
    tc_park_settle(3);
    tc_go(writer, (void *)(intptr_t)b[1]);
    rt_wg_wait(&wg);
    CHECK_EQ(wrc, RT_POLLIN);
    close(b[0]);
    close(b[1]);

    /* the old file lives on through a dup */
    CHECK_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_poll_fd(a[0], RT_POLLIN, 1000000), RT_ETIMEDOUT);
    int keep = fcntl(a[0], F_DUPFD_CLOEXEC, 100);
    CHECK(keep >= 100);
    close(a[0]);
    CHECK_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(b[0], a[0]);
    wfd = b[0];
    wto = 200000000; /* 200 ms */
    rt_wg_add(&wg, 1);
    tc_go(waiter, NULL);
    tc_park_settle(3);
    tc_go(writer, (void *)(intptr_t)a[1]); /* the OLD pipe */
    rt_wg_wait(&wg);
    if (wrc > 0) {
        struct pollfd pf = { .fd = b[0], .events = POLLIN };
        if (!CHECK_EQ(poll(&pf, 1, 0), 1))
            fprintf(stderr, "  rt_poll_fd(new fd %d) -> %d, but the new pipe is empty: "
                            "woken by the old file behind fd %d\n", b[0], wrc, keep);
    } else {
        CHECK_RC(wrc, RT_ETIMEDOUT);
    }
    close(keep);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
