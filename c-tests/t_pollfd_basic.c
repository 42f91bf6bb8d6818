/*
 * rt_pollfd_* (registered fds), one G at a time, on a pipe and a socketpair:
 * - a G waiting for RT_POLLIN on an empty pipe parks and is woken by a write (from
 *   another G of the only P: the writer runs only because the waiter parked);
 *   RT_POLLOUT likewise on a full pipe woken by a drain;
 * - an edge that was recorded while nobody waited is kept for the next wait;
 * - readiness is an edge, not a level: a fresh empty pipe has none (timeout 0:
 *   RT_EAGAIN), and the write end's first edge (writable at open) is consumed once;
 * - a timeout returns RT_ETIMEDOUT, and an edge that comes later is kept for the
 *   next wait;
 * Edges may be stale (the contract): the kernel reports a pipe's or socket's
 * readiness again on wake-ups meant for the other direction (a read of the write
 * end's data), so every wait that must see data retries on EAGAIN, and a wait that
 * must time out may first return stale readiness; those are counted, not failed.
 * - the fd's readiness at open is reported (the registration's first edge);
 * - rt_pollfd_reset keeps an edge that comes after it (no wake-up lost); bad
 *   arguments and handles are RT_EINVAL;
 * - a hang-up is an edge in both directions;
 * - handles: NULL, made up, a channel's handle, closed ones (also after a new handle
 *   reused the slot) are RT_EINVAL; double close RT_EINVAL; bad events RT_EINVAL; a
 *   regular file, a closed fd and a negative fd cannot be opened (RT_EINVAL);
 *   rt_pollfd_open with NULL out RT_EINVAL;
 * - an fd number closed and reopened through the API (close handle, close fd, new
 *   pipe with the same number, new handle) gets the new file's edges only.
 */
#include "test_chan.h"

#include <sys/ioctl.h>

static int pfd[2];
static rt_pollfd *rh, *wh;
static atomic_int wrote, drained;
static int wait_rc;
static rt_wg wg;

static atomic_long stale;

/* A wait that returned ready with nothing behind it: the contract allows it. */
static bool stale_edge(int r, int fd)
{
    char c;
    if (r != RT_POLLIN)
        return false;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) {
        int avail = 0;
        ioctl(fd, FIONREAD, &avail);
        n = avail > 0 ? 1 : -1;
    }
    if (n > 0)
        return false;
    atomic_fetch_add(&stale, 1);
    return true;
}

static void reader(void *arg)
{
    do
        wait_rc = rt_pollfd_wait(rh, RT_POLLIN, (int64_t)(intptr_t)arg);
    while (!atomic_load(&wrote) && stale_edge(wait_rc, pfd[0]));
    if (!atomic_load(&wrote))
        FAIL("the reader returned before the write: %d", wait_rc);
    rt_wg_done(&wg);
}

/* Waits until `fd` has data (a wait returns RT_POLLIN), skipping stale edges. */
static void wait_data(rt_pollfd *h, int fd)
{
    int r;
    do
        r = rt_pollfd_wait(h, RT_POLLIN, -1);
    while (stale_edge(r, fd));
    CHECK_EQ(r, RT_POLLIN);
}

/* A wait for nothing: RT_ETIMEDOUT, maybe after stale edges. */
static void wait_timeout(rt_pollfd *h, int fd)
{
    int r;
    int n = 0;
    do
        r = rt_pollfd_wait(h, RT_POLLIN, 1000000);
    while (stale_edge(r, fd) && ++n < 100);
    CHECK_RC(r, RT_ETIMEDOUT);
}

static void writer_g(void *arg)
{
    (void)arg;
    atomic_store(&wrote, 1);
    CHECK_EQ(write(pfd[1], "x", 1), 1);
}

static void wwaiter(void *arg)
{
    wait_rc = rt_pollfd_wait(wh, RT_POLLOUT, (int64_t)(intptr_t)arg);
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

static void open_pipe(void)
{
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_pollfd_open(pfd[0], &rh), RT_OK);
    CHECK_RC(rt_pollfd_open(pfd[1], &wh), RT_OK);
}

static void close_pipe(void)
{
    CHECK_RC(rt_pollfd_close(rh), RT_OK);
    CHECK_RC(rt_pollfd_close(wh), RT_OK);
    close(pfd[0]);
    close(pfd[1]);
}

static void body(void *arg)
{
    (void)arg;
    open_pipe();
    /* At open the write end is writable: its first edge. */
    CHECK_EQ(rt_pollfd_wait(wh, RT_POLLOUT, -1), RT_POLLOUT);
    CHECK_RC(rt_pollfd_wait(wh, RT_POLLOUT, 0), RT_EAGAIN);
    CHECK_RC(rt_pollfd_wait(rh, RT_POLLIN, 0), RT_EAGAIN);
    for (int round = 0; round < 20; round++) {
        int64_t to = round % 2 ? -1 : 60000000000LL;
        atomic_store(&wrote, 0);
        rt_wg_add(&wg, 1);
        tc_go(reader, (void *)(intptr_t)to);
        tc_park_settle(5);
        tc_go(writer_g, NULL);
        rt_wg_wait(&wg);
        CHECK_EQ(wait_rc, RT_POLLIN);
        char c;
        CHECK_EQ(read(pfd[0], &c, 1), 1);

        /* An edge while nobody waits is kept for the next wait. */
        CHECK_EQ(write(pfd[1], "y", 1), 1);
        tc_park_settle(3); /* netpoll runs when the P looks for work */
        wait_data(rh, pfd[0]);
        CHECK_EQ(read(pfd[0], &c, 1), 1);

        /* A timeout; the edge after it is kept. */
        wait_timeout(rh, pfd[0]);
        CHECK_EQ(write(pfd[1], "z", 1), 1);
        wait_data(rh, pfd[0]);
        CHECK_EQ(read(pfd[0], &c, 1), 1);

        /* Writable after a drain. */
        CHECK(tc_fill(pfd[1]) > 0);
        (void)rt_pollfd_wait(wh, RT_POLLOUT, 0); /* a stale edge from the fill, if any */
        atomic_store(&drained, 0);
        rt_wg_add(&wg, 1);
        tc_go(wwaiter, (void *)(intptr_t)to);
        tc_park_settle(5);
        tc_go(drainer, NULL);
        rt_wg_wait(&wg);
        CHECK_EQ(wait_rc, RT_POLLOUT);
    }

    /* rt_pollfd_reset. (That it drops stale edges is timing: which edges the kernel
     * reports when is not ours to fix; t_pollfd_race runs it before every read.) */
    {
        char c;
        /* An edge after the reset is kept (no wake-up lost). */
        CHECK_RC(rt_pollfd_reset(rh, RT_POLLIN | RT_POLLOUT), RT_OK);
        CHECK_EQ(read(pfd[0], &c, 1), -1);
        CHECK_EQ(errno, EAGAIN);
        CHECK_EQ(write(pfd[1], "u", 1), 1);
        wait_data(rh, pfd[0]);
        CHECK_EQ(read(pfd[0], &c, 1), 1);
        CHECK_RC(rt_pollfd_reset(rh, 0), RT_EINVAL);
        CHECK_RC(rt_pollfd_reset(rh, 0x100), RT_EINVAL);
        CHECK_RC(rt_pollfd_reset(NULL, RT_POLLIN), RT_EINVAL);
        CHECK_RC(rt_pollfd_reset((rt_pollfd *)0x1000, RT_POLLIN), RT_EINVAL);
    }

    /* Bad handles and arguments. */
    rt_pollfd *bad;
    CHECK_RC(rt_pollfd_wait(NULL, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_wait((rt_pollfd *)0x1000, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_wait((rt_pollfd *)(uintptr_t)0xdeadbeef40000001ULL, RT_POLLIN, 0),
             RT_EINVAL);
    CHECK_RC(rt_pollfd_wait((rt_pollfd *)&bad, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_close(NULL), RT_EINVAL);
    CHECK_RC(rt_pollfd_close((rt_pollfd *)0x1000), RT_EINVAL);
    rt_chan *ch;
    CHECK_RC(rt_chan_make(8, 1, &ch), RT_OK);
    CHECK_RC(rt_pollfd_wait((rt_pollfd *)ch, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_close((rt_pollfd *)ch), RT_EINVAL);
    CHECK_RC(rt_chan_free(ch), RT_OK);
    CHECK_RC(rt_pollfd_wait(rh, RT_POLLIN | RT_POLLOUT, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_wait(rh, 0, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_wait(rh, 0x100, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_open(pfd[0], NULL), RT_EINVAL);
    CHECK_RC(rt_pollfd_open(-1, &bad), RT_EINVAL);
    int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(file >= 0);
    CHECK_RC(rt_pollfd_open(file, &bad), RT_EINVAL);
    close(file);
    CHECK_RC(rt_pollfd_open(file, &bad), RT_EINVAL); /* closed now */

    /* Close, reuse of the slot and of the fd numbers. */
    rt_pollfd *old_r = rh, *old_w = wh;
    int old_fds[2] = { pfd[0], pfd[1] };
    close_pipe();
    CHECK_RC(rt_pollfd_close(old_r), RT_EINVAL);
    CHECK_RC(rt_pollfd_wait(old_r, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_reset(old_r, RT_POLLIN), RT_EINVAL);
    open_pipe();
    CHECK_EQ(pfd[0], old_fds[0]);
    CHECK_EQ(pfd[1], old_fds[1]);
    CHECK(rh != old_r && rh != old_w);
    CHECK_RC(rt_pollfd_wait(old_r, RT_POLLIN, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_wait(old_w, RT_POLLOUT, 0), RT_EINVAL);
    CHECK_RC(rt_pollfd_close(old_w), RT_EINVAL);
    /* The new pipe is empty: no edge for reading, whatever the old one had. */
    CHECK_RC(rt_pollfd_wait(rh, RT_POLLIN, 2000000), RT_ETIMEDOUT);
    CHECK_EQ(write(pfd[1], "n", 1), 1);
    wait_data(rh, pfd[0]);

    /* A hang-up is an edge both ways. */
    char c;
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    CHECK_RC(rt_pollfd_close(wh), RT_OK);
    close(pfd[1]);
    CHECK_EQ(rt_pollfd_wait(rh, RT_POLLIN, -1), RT_POLLIN);
    CHECK_EQ(read(pfd[0], &c, 1), 0);
    CHECK_RC(rt_pollfd_close(rh), RT_OK);
    CHECK_RC(rt_pollfd_close(rh), RT_EINVAL);
    close(pfd[0]);

    int sp[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    rt_pollfd *s0;
    CHECK_RC(rt_pollfd_open(sp[0], &s0), RT_OK);
    CHECK_EQ(rt_pollfd_wait(s0, RT_POLLOUT, -1), RT_POLLOUT);
    close(sp[1]); /* the peer goes: both directions get an edge */
    CHECK_EQ(rt_pollfd_wait(s0, RT_POLLIN, -1), RT_POLLIN);
    CHECK_EQ(rt_pollfd_wait(s0, RT_POLLOUT, -1), RT_POLLOUT);
    CHECK_RC(rt_pollfd_close(s0), RT_OK);
    close(sp[0]);
}

int main(void)
{
    tc_run(1, body, NULL);
    printf("# %ld stale edges\n", atomic_load(&stale));
    return test_summary();
}
