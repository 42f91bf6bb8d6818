/*
 * rt_pollfd_close wakes what waits on the handle, with RT_ECLOSED: a G parked for
 * RT_POLLIN, a G parked for RT_POLLOUT (on a full socket), and a foreign thread
 * blocked in the wait (in poll(2); seen blocked through /proc before the close).
 * Then the handle is dead (RT_EINVAL) and the fd can be closed and its number
 * reused by a new handle, whose waits are unaffected. The close comes from a G and,
 * in the other half, from a foreign thread. Also a close racing the start of a wait
 * (the waiter publishing itself while close retires the handle), many times: the
 * wait must end (RT_ECLOSED, RT_EINVAL if it started after the close, or ready),
 * never hang.
 */
#include "test_chan.h"

static int sp[2];
static rt_pollfd *h;
static atomic_int rc_in, rc_out, rc_thr;
static atomic_int parked;
static rt_wg wg;
static atomic_int tid;

static void rwait(void *arg)
{
    (void)arg;
    atomic_fetch_add(&parked, 1);
    atomic_store(&rc_in, rt_pollfd_wait(h, RT_POLLIN, -1));
    rt_wg_done(&wg);
}

static void wwait(void *arg)
{
    (void)arg;
    atomic_fetch_add(&parked, 1);
    atomic_store(&rc_out, rt_pollfd_wait(h, RT_POLLOUT, -1));
    rt_wg_done(&wg);
}

static void *twait(void *arg)
{
    (void)arg;
    atomic_store(&tid, tc_gettid());
    atomic_store(&rc_thr, rt_pollfd_wait(h, RT_POLLIN, -1));
    return NULL;
}

static void *tclose(void *arg)
{
    (void)arg;
    CHECK_RC(rt_pollfd_close(h), RT_OK);
    return NULL;
}

static void one(bool close_on_thread)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    CHECK(tc_fill(sp[0]) > 0);
    CHECK_RC(rt_pollfd_open(sp[0], &h), RT_OK);
    (void)rt_pollfd_wait(h, RT_POLLOUT, 0); /* an edge from the open, if any */
    atomic_store(&parked, 0);
    atomic_store(&tid, 0);
    rt_wg_add(&wg, 2);
    tc_go(rwait, NULL);
    tc_go(wwait, NULL);
    pthread_t t = tc_thread(twait, NULL);
    while (atomic_load(&parked) < 2 || atomic_load(&tid) == 0)
        rt_gosched();
    tc_park_settle(10);
    CHECK(tc_wait_thread_in(atomic_load(&tid), SYS_ppoll));
    if (close_on_thread)
        tc_join(tc_thread(tclose, NULL));
    else
        CHECK_RC(rt_pollfd_close(h), RT_OK);
    rt_wg_wait(&wg);
    tc_join(t);
    CHECK_RC(atomic_load(&rc_in), RT_ECLOSED);
    CHECK_RC(atomic_load(&rc_out), RT_ECLOSED);
    CHECK_RC(atomic_load(&rc_thr), RT_ECLOSED);
    CHECK_RC(rt_pollfd_wait(h, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_close(h), RT_EINVAL);
    int fd = sp[0];
    close(sp[0]);
    close(sp[1]);
    /* The number again, through a new handle. */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    CHECK_EQ(sp[0], fd);
    CHECK_RC(rt_pollfd_open(sp[0], &h), RT_OK);
    CHECK_EQ(write(sp[1], "x", 1), 1);
    CHECK_EQ(rt_pollfd_wait(h, RT_POLLIN, -1), RT_POLLIN);
    CHECK_RC(rt_pollfd_close(h), RT_OK);
    close(sp[0]);
    close(sp[1]);
}

static rt_pollfd *volatile racy;
static atomic_int racer_go;

static void racer(void *arg)
{
    (void)arg;
    while (!atomic_load(&racer_go))
        ;
    int r = rt_pollfd_wait(racy, RT_POLLIN, -1);
    if (r != RT_ECLOSED && r != RT_EINVAL && r != RT_POLLIN)
        FAIL("a wait racing close -> %d", r);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        one(i % 2);
    int n = tc_scale(3000, 200);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
        rt_pollfd *p;
        CHECK_RC(rt_pollfd_open(sp[0], &p), RT_OK);
        racy = p;
        atomic_store(&racer_go, 0);
        rt_wg_add(&wg, 1);
        tc_go(racer, NULL);
        atomic_store(&racer_go, 1);
        for (int k = i % 7; k > 0; k--)
            rt_gosched();
        CHECK_RC(rt_pollfd_close(p), RT_OK);
        rt_wg_wait(&wg);
        close(sp[0]);
        close(sp[1]);
    }
}

int main(void)
{
    alarm(test_under_valgrind() ? 900 : 120);
    tc_run(2, body, NULL);
    return test_summary();
}
