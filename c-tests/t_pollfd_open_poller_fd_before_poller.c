/*
 * rt_pollfd_open(fd) with an fd number that is free when the call starts, before
 * the netpoller exists: the call makes the poller, whose epoll fd and eventfd take
 * the lowest free numbers, so the number the host passed (bad input: a closed fd)
 * may become the runtime's own eventfd during the call. The check that refuses the
 * runtime's own fds ran before the poller was made, so the eventfd was registered
 * as a handle (EPOLL_CTL_ADD said EEXIST, MOD took over the runtime's wake-up
 * registration): rt_pollfd_open returned RT_OK with a handle on the runtime's
 * eventfd, and netpoll's break events came in as that handle's edges from then on
 * (the eventfd was never drained). It must be RT_EINVAL, as for the same fd after
 * the poller exists (t_np_poller_fds_refused), and the poller must keep working.
 *
 * The two numbers the poller will take are found by opening two fds and closing
 * them again; that the poller really took them is checked too (so the test cannot
 * pass by missing its premise).
 */
#include "test_chan.h"

#include <sys/eventfd.h>

static bool is_anon(int fd, const char *kind)
{
    char path[64], link[128];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return false;
    link[n] = 0;
    return strstr(link, kind) != NULL;
}

static int pipefd[2];
static rt_pollfd *ph;

static void g_waits(void *arg)
{
    (void)arg;
    int r;
    char c;
    /* Parks until the foreign thread writes: the netpoller still reports edges. */
    while ((r = rt_pollfd_wait(ph, RT_POLLIN, -1)) == RT_POLLIN && read(pipefd[0], &c, 1) != 1)
        ;
    CHECK_EQ(r, RT_POLLIN);
    /* A timed sleep needs the poller's wake-ups (break events) to work. */
    for (int i = 0; i < 20; i++)
        CHECK_RC(rt_sleep(1000 * 1000), RT_OK);
}

static void *writer(void *arg)
{
    (void)arg;
    CHECK_EQ(write(pipefd[1], "x", 1), 1);
    return NULL;
}

int main(void)
{
    tc_init(1);
    int a = eventfd(0, EFD_CLOEXEC);
    int b = eventfd(0, EFD_CLOEXEC);
    CHECK(a >= 0 && b > a);
    close(a);
    close(b);
    rt_pollfd *h = (rt_pollfd *)0x1234;
    /* The first call to make the poller: it takes a (epoll) and b (eventfd). */
    CHECK_RC(rt_pollfd_open(b, &h), RT_EINVAL);
    CHECK_PTR_EQ(h, (rt_pollfd *)0x1234);
    CHECK(is_anon(a, "eventpoll"));
    CHECK(is_anon(b, "eventfd"));
    /* The epoll fd likewise. */
    CHECK_RC(rt_pollfd_open(a, &h), RT_EINVAL);
    CHECK_PTR_EQ(h, (rt_pollfd *)0x1234);

    CHECK_EQ(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_pollfd_open(pipefd[0], &ph), RT_OK);
    pthread_t t = tc_thread(writer, NULL);
    CHECK_RC(rt_main(g_waits, NULL), RT_OK);
    tc_join(t);
    CHECK_RC(rt_pollfd_close(ph), RT_OK);
    close(pipefd[0]);
    close(pipefd[1]);
    tc_fini();
    return test_summary();
}
