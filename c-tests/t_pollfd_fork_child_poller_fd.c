/*
 * A fork child's first wait on a handle of the parent registers the handle's fd
 * with the child's new poller, which that same wait makes. If the child closed the
 * fd (bad input: its handle is still open there, as when a child closes the fds it
 * inherited), the new poller's eventfd may take that very number; the re-registration
 * then found it registered (EPOLL_CTL_ADD: EEXIST), took over the runtime's wake-up
 * registration with EPOLL_CTL_MOD, and the wait went on as if the handle were
 * valid (here a plain thread's look: RT_EAGAIN) with the runtime's own eventfd
 * registered as the handle. It must be RT_EINVAL (as rt_pollfd_open
 * refuses the poller's fds), and the child's other handles keep working.
 *
 * The child arranges the numbers: it fills every free number below the handle's fd
 * but one, so that the poller's epoll fd takes that one and its eventfd the handle's
 * number; that the eventfd really took it is checked (the premise).
 */
#include "test_chan.h"

#include <sys/eventfd.h>

static int p[2], q[2];
static rt_pollfd *ph, *qh;

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

static void child(void *arg)
{
    (void)arg;
    int target = q[0];
    close(target); /* without rt_pollfd_close(qh): the bad input */
    /* Occupy every free number below `target`, then free the highest of them. */
    int fill[64], n = 0;
    for (;;) {
        int e = eventfd(0, EFD_CLOEXEC);
        if (!CHECK(e >= 0 && n < 64))
            return;
        if (e == target) {
            close(e);
            break;
        }
        fill[n++] = e;
    }
    if (!CHECK(n > 0))
        return;
    close(fill[--n]); /* the poller's epoll fd goes here, its eventfd to `target` */

    CHECK_RC(rt_pollfd_wait(qh, RT_POLLIN, 0), RT_EINVAL);
    CHECK(is_anon(target, "eventfd")); /* the premise: the poller took the number */

    /* The parent's other handle still works in the child (this is a plain thread:
     * its waits poll(2) the fd). */
    CHECK_RC(rt_pollfd_wait(ph, RT_POLLIN, 0), RT_EAGAIN);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(rt_pollfd_wait(ph, RT_POLLIN, -1), RT_POLLIN);
    CHECK_RC(rt_pollfd_close(ph), RT_OK);
    CHECK_RC(rt_pollfd_close(qh), RT_OK);
    while (n > 0)
        close(fill[--n]);
}

int main(void)
{
    tc_init(1);
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_pollfd_open(p[0], &ph), RT_OK); /* makes the poller */
    /* After the poller: in the child, the numbers of the parent's poller (closed
     * there) are free below q[0]. */
    CHECK_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_pollfd_open(q[0], &qh), RT_OK);
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    /* The parent's handles are unaffected. */
    CHECK_RC(rt_pollfd_close(qh), RT_OK);
    CHECK_RC(rt_pollfd_close(ph), RT_OK);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    tc_fini();
    return test_summary();
}
