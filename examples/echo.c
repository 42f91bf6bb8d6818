/*
 * echo: a TCP echo server on 127.0.0.1 with one G per connection, the way a Go
 * server is written: plain blocking-style code in each G, with the waits going
 * through the runtime's netpoller on non-blocking sockets, so a G that waits for its
 * peer parks and its M serves the other connections. The server owns its sockets, so
 * it registers each once (rt_pollfd_open) and waits through the handle
 * (rt_pollfd_wait): a wait makes no system call, and one that finds readiness the
 * netpoller already saw returns at once. Readiness is an edge and may be stale, so
 * every wait follows a read or write that said EAGAIN, and is followed by another
 * try; rt_pollfd_reset before each read drops the edges that read is about to
 * consume, so the wait after an EAGAIN parks rather than returning at once for data
 * already read (as Go's net package does). The handle is closed before the socket.
 *
 *   echo [-p PORT] [-n CONNS]
 *     -p  port to listen on (0, the default, picks a free one)
 *     -n  stop after CONNS connections have been served to completion (0: forever)
 * Prints "listening on 127.0.0.1:PORT" once ready, and a summary at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mrt.h"

static int port;
static long max_conns;
static rt_wg conns = RT_WG_INIT;
static atomic_long served, bytes;

/* Writes all of buf, parking on POLLOUT whenever the socket is full. */
static int write_all(int fd, rt_pollfd *pd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (rt_pollfd_wait(pd, RT_POLLOUT, -1) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* One G per connection: echo until the peer closes. */
static void serve_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    rt_pollfd *pd;
    int err = rt_pollfd_open(fd, &pd);
    if (err != RT_OK) {
        fprintf(stderr, "echo: rt_pollfd_open: %s\n", rt_strerror(err));
        close(fd);
        rt_wg_done(&conns);
        return;
    }
    for (;;) {
        rt_pollfd_reset(pd, RT_POLLIN);
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            atomic_fetch_add(&bytes, n);
            if (write_all(fd, pd, buf, (size_t)n) < 0)
                break;
        } else if (n == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (rt_pollfd_wait(pd, RT_POLLIN, -1) < 0)
                break;
        } else {
            break;
        }
    }
    rt_pollfd_close(pd);
    close(fd);
    atomic_fetch_add(&served, 1);
    rt_wg_done(&conns);
}

/* The main G: accept connections and start a G for each. */
static void serve(void *arg) {
    int *rc = arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
        perror("echo: listen");
        *rc = 1;
        return;
    }
    rt_pollfd *lpd;
    int err = rt_pollfd_open(lfd, &lpd);
    if (err != RT_OK) {
        fprintf(stderr, "echo: rt_pollfd_open: %s\n", rt_strerror(err));
        close(lfd);
        *rc = 1;
        return;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    long accepted = 0;
    while (max_conns == 0 || accepted < max_conns) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
                if (rt_pollfd_wait(lpd, RT_POLLIN, -1) < 0)
                    break;
                continue;
            }
            perror("echo: accept");
            *rc = 1;
            break;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        accepted++;
        rt_wg_add(&conns, 1);
        int64_t id = rt_go(serve_conn, (void *)(intptr_t)fd);
        if (id < 0) {
            fprintf(stderr, "echo: rt_go: %s\n", rt_strerror((int)id));
            close(fd);
            rt_wg_done(&conns);
        }
    }
    rt_pollfd_close(lpd);
    close(lfd);
    rt_wg_wait(&conns);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "p:n:")) != -1) {
        if (opt == 'p')
            port = atoi(optarg);
        else if (opt == 'n')
            max_conns = atol(optarg);
        else {
            fprintf(stderr, "usage: echo [-p PORT] [-n CONNS]\n");
            return 2;
        }
    }
    int rc = 0;
    int err = rt_main(serve, &rc);
    if (err != RT_OK) {
        fprintf(stderr, "echo: rt_main: %s\n", rt_strerror(err));
        return 1;
    }
    rt_stats st = { .size = sizeof st };
    rt_getstats(&st);
    printf("served %ld connections, %ld bytes echoed; %ld Gs ran on %ld threads, %lu parks\n",
           (long)served, (long)bytes, (long)st.gs_created, (long)st.threads,
           (unsigned long)st.parks);
    rt_shutdown(-1);
    return rc;
}
