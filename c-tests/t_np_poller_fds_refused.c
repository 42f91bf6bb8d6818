/*
 * rt_poll_fd refuses the netpoller's own fds (its epoll instance and its wake-up
 * eventfd) with RT_EINVAL. A host that waits on an fd number it no longer owns (one it
 * closed, which the poller then took) used to re-arm the poller's eventfd under its
 * own registration: the wait took the runtime's wake-ups as its readiness, and the
 * poller no longer knew its wake-up event, so later wake-ups of a blocked poller
 * could be lost. The test finds the two fds in /proc/self/fd once the poller exists,
 * waits on each from a G (with a timeout, so an unfixed library answers rather than
 * hangs), and then checks that the runtime still wakes a G parked on a pipe that a
 * host thread writes to, and one sleeping on a timer. At 1 P and 2 Ps.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>

#include "test_chan.h"

/* The fd whose /proc/self/fd link is `want`, or -1. */
static int find_fd(const char *want)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], link[128];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (strcmp(link, want) == 0) {
            found = atoi(e->d_name);
            break;
        }
    }
    closedir(d);
    return found;
}

static int pipefd[2];

static void *writer(void *arg)
{
    (void)arg;
    /* No timing: the G may read before or after it parks; both must work. */
    if (write(pipefd[1], "z", 1) != 1)
        FAIL("write");
    return NULL;
}

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
    /* The first wait makes the poller. */
    CHECK_RC(rt_poll_fd(pipefd[0], RT_POLLIN, 1000000), RT_ETIMEDOUT);
    int epfd = find_fd("anon_inode:[eventpoll]");
    int evfd = find_fd("anon_inode:[eventfd]");
    CHECK(epfd >= 0);
    CHECK(evfd >= 0);
    if (epfd < 0 || evfd < 0)
        return;

    for (int i = 0; i < 3; i++) {
        CHECK_RC(rt_poll_fd(evfd, RT_POLLIN, 20000000), RT_EINVAL);
        CHECK_RC(rt_poll_fd(evfd, RT_POLLIN | RT_POLLOUT, 20000000), RT_EINVAL);
        CHECK_RC(rt_poll_fd(epfd, RT_POLLIN, 20000000), RT_EINVAL);
        /* A check without waiting refuses them too. */
        CHECK_RC(rt_poll_fd(evfd, RT_POLLIN, 0), RT_EINVAL);
        CHECK_RC(rt_poll_fd(epfd, RT_POLLIN, 0), RT_EINVAL);
    }

    /* The poller still works: a G parked on a pipe a host thread writes to ... */
    for (int i = 0; i < 20; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, writer, NULL), 0);
        char c;
        for (;;) {
            ssize_t n = read(pipefd[0], &c, 1);
            if (n == 1)
                break;
            if (!CHECK(n < 0 && errno == EAGAIN))
                break;
            if (!CHECK_RC(rt_poll_fd(pipefd[0], RT_POLLIN, -1), RT_POLLIN))
                break;
        }
        pthread_join(t, NULL);
        /* ... and one sleeping on a timer. */
        CHECK_RC(rt_sleep(1000000), RT_OK);
    }
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
