/*
 * Resource exhaustion in rt_pollfd_*: every failure is a named error with nothing
 * left behind, and the next call after the shortage works.
 * - The kernel refuses the registration (epoll_ctl ADD: ENOSPC, as when
 *   fs.epoll.max_user_watches is reached, and ENOMEM; injected by an epoll_ctl of
 *   this program, which the library's calls reach): rt_pollfd_open is RT_ENOMEM and
 *   writes no handle; many such failures leave no slot or registration behind (the
 *   next opens work and their handles wait normally).
 * - In a child whose fds are exhausted before the netpoller exists (RLIMIT_NOFILE,
 *   then /dev/null until EMFILE): rt_pollfd_open is RT_ENOMEM (the poller needs an
 *   epoll fd and an eventfd); once two fds are free it works. A foreign thread's
 *   wait needs an eventfd for its wake-up: with the fds exhausted again it is
 *   RT_ENOMEM (timeout 0 needs none: RT_EAGAIN), while a G's wait needs no fd.
 *   (Skipped under valgrind, which refuses a lower RLIMIT_NOFILE.)
 */
#include "test_chan.h"

#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/resource.h>

static atomic_int fail_add; /* errno to inject into epoll_ctl ADD, 0: none */
static atomic_long injected;

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int e = atomic_load(&fail_add);
    if (op == EPOLL_CTL_ADD && e != 0) {
        atomic_fetch_add(&injected, 1);
        errno = e;
        return -1;
    }
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

static void inject(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    rt_pollfd *ok;
    CHECK_RC(rt_pollfd_open(p[1], &ok), RT_OK); /* makes the poller */
    int errs[] = { ENOSPC, ENOMEM };
    for (int k = 0; k < 2; k++) {
        atomic_store(&fail_add, errs[k]);
        for (int i = 0; i < 1000; i++) {
            rt_pollfd *h = (rt_pollfd *)0x1234;
            CHECK_RC(rt_pollfd_open(p[0], &h), RT_ENOMEM);
            CHECK_PTR_EQ(h, (rt_pollfd *)0x1234);
        }
        atomic_store(&fail_add, 0);
    }
    CHECK_EQ(atomic_load(&injected), 2000);
    /* Nothing was left registered: a real open works, and its handle waits. */
    rt_pollfd *h;
    CHECK_RC(rt_pollfd_open(p[0], &h), RT_OK);
    CHECK_RC(rt_pollfd_wait(h, RT_POLLIN, 0), RT_EAGAIN);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(rt_pollfd_wait(h, RT_POLLIN, -1), RT_POLLIN);
    CHECK_RC(rt_pollfd_close(h), RT_OK);
    CHECK_RC(rt_pollfd_close(ok), RT_OK);
    close(p[0]);
    close(p[1]);
}

static int pfd[2];
static int filler[2] = { -1, -1 };
static rt_pollfd *ph;

/* Lowers the soft fd limit a little above what is open, then opens until EMFILE. */
static bool exhaust_fds(void)
{
    struct rlimit lim;
    if (!CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0))
        return false;
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!CHECK(probe >= 0))
        return false;
    lim.rlim_cur = (rlim_t)probe + 8;
    close(probe);
    if (!CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0))
        return false;
    int fd, n = 0;
    while (n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
        filler[0] = filler[1];
        filler[1] = fd;
        n++;
    }
    CHECK_EQ(errno, EMFILE);
    return CHECK(epoll_create1(EPOLL_CLOEXEC) == -1); /* the control */
}

static void *thread_wait(void *arg)
{
    (void)arg;
    CHECK_RC(rt_pollfd_wait(ph, RT_POLLIN, -1), RT_ENOMEM);
    CHECK_RC(rt_pollfd_wait(ph, RT_POLLIN, 0), RT_EAGAIN);
    return NULL;
}

static void g_wait(void *arg)
{
    (void)arg;
    CHECK_RC(rt_pollfd_wait(ph, RT_POLLIN, 1000000), RT_ETIMEDOUT);
    CHECK_EQ(write(pfd[1], "y", 1), 1);
    CHECK_EQ(rt_pollfd_wait(ph, RT_POLLIN, -1), RT_POLLIN);
}

static void no_fds(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    if (!exhaust_fds())
        return;
    tc_init(2);
    CHECK_RC(rt_pollfd_open(pfd[0], &ph), RT_ENOMEM);
    close(filler[0]);
    close(filler[1]);
    CHECK_RC(rt_pollfd_open(pfd[0], &ph), RT_OK); /* the poller took the two fds */
    CHECK_EQ(open("/dev/null", O_RDONLY | O_CLOEXEC), -1);
    tc_join(tc_thread(thread_wait, NULL)); /* a thread starts without fds */
    CHECK_RC(rt_main(g_wait, NULL), RT_OK);
    CHECK_RC(rt_pollfd_close(ph), RT_OK);
    tc_fini();
}

int main(void)
{
    CHECK(tc_in_child(2, true, inject, NULL));
    if (!test_under_valgrind())
        CHECK_CHILD_OK(test_spawn(no_fds, NULL, NULL, 0));
    return test_summary();
}
