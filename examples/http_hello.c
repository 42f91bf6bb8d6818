/*
 * http_hello: an HTTP/1.1 "Hello, World!" server on 127.0.0.1, written the way a Go
 * net/http server runs: one G per connection, plain blocking-style code in each G,
 * non-blocking sockets registered with the runtime's netpoller once (rt_pollfd_open),
 * so that a wait (rt_pollfd_wait) makes no system call. bench/http_hello.go is its
 * Go twin (same response, same idle timeout); bench/run.sh drives both with wrk.
 *
 *   http_hello [-p PORT] [-n CONNS] [-P PROCS] [-t IDLE_S] [-W]
 *     -p  port to listen on (0, the default, picks a free one)
 *     -n  stop accepting after CONNS connections, exit once they are closed (0: never)
 *     -P  Ps (rt_config.maxprocs; 0: the default, one per usable CPU)
 *     -t  close a connection idle (or stuck writing) for IDLE_S seconds (default 60)
 *     -W  once listening, wait for a line on stdin before the first accept (lets a test
 *         queue connections first)
 * Prints "listening on 127.0.0.1:PORT" once ready, and a summary line at the end.
 *
 * Any method and target get 200 "Hello, World!" (HEAD: the headers only). Handled:
 * keep-alive (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive"), pipelined
 * requests (answered in order, one write per batch), requests split across reads,
 * request bodies with Content-Length (read and discarded, at most 1 MiB), "Connection:
 * close", clients that vanish. A malformed request gets 400, a head over 8 KiB 431, a
 * body over 1 MiB 413, Transfer-Encoding 501; each closes the connection after the
 * response. When accept fails for lack of fds or memory (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM) or a G or a buffer cannot be had, the accept loop backs off (5 ms doubling to
 * 1 s, as Go's net/http does) instead of spinning, and serves again once it can.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mrt.h"

#define HEAD_MAX 8192        /* request line + headers; the read buffer */
#define WBUF 8192            /* responses of one pipelined batch */
#define BODY_MAX (1L << 20)  /* largest request body read and discarded */
#define LINGER_NS 1000000000 /* how long a closing connection drains its peer */

static int port, procs;
static bool wait_stdin;
static long max_conns;
static int64_t idle_ns = 60LL * 1000000000;
static rt_wg conns = RT_WG_INIT;
static atomic_long n_conns, n_requests, n_errors, n_backoffs, n_dropped, n_retries;

static const char hello[] = "Hello, World!";

struct conn {
    int fd;
    rt_pollfd *pd; /* closed before fd */
    size_t rlen, wlen;
    char r[HEAD_MAX];
    char w[WBUF];
};

/* A parsed request head. */
struct req {
    size_t head_len; /* bytes up to and including the blank line */
    long body_len;
    bool close;      /* the connection ends after this response */
    bool head;       /* HEAD: no body in the response */
};

enum { P_MORE = 0, P_OK = 1, P_BAD = -400, P_BODY = -413, P_BIG = -431, P_TE = -501 };

/* "Mon, 30 Nov 2026 14:37:53 GMT", as Go's Date header; formatted once a second per
 * thread (a G reads it with no park in between, so the thread cannot change under it). */
static const char *http_date(void) {
    static _Thread_local time_t cached_t = -1;
    static _Thread_local char cached[40];
    time_t t = time(NULL);
    if (t != cached_t) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_t = t;
    }
    return cached;
}

static bool is_tchar(unsigned char c) {
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the comma-separated list v (n bytes) hold token tok, case-insensitively? */
static bool has_token(const char *v, size_t n, const char *tok) {
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* Parses the request head at the start of buf (len bytes). P_MORE: not complete yet
 * (the caller says P_BIG once the buffer is full); P_OK fills rq; < 0: the status to
 * answer with before closing. Lines end in CRLF or a bare LF; empty lines before the
 * request line are skipped (RFC 9112 2.2). */
static int parse(const char *buf, size_t len, struct req *rq) {
    size_t pos = 0;
    int line_no = 0, hosts = 0;
    bool v11 = false, keepalive = false, want_close = false;
    long clen = -1;
    memset(rq, 0, sizeof *rq);
    for (;;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            return P_MORE;
        const char *l = buf + pos;
        size_t n = (size_t)(nl - l);
        pos = (size_t)(nl - buf) + 1;
        if (n > 0 && l[n - 1] == '\r')
            n--;
        if (line_no == 0) {
            if (n == 0)
                continue; /* leading empty line */
            /* METHOD SP target SP HTTP/1.x */
            size_t i = 0;
            while (i < n && is_tchar((unsigned char)l[i]))
                i++;
            if (i == 0 || i >= n || l[i] != ' ')
                return P_BAD;
            rq->head = i == 4 && memcmp(l, "HEAD", 4) == 0;
            size_t t = ++i;
            while (i < n && l[i] != ' ') {
                if ((unsigned char)l[i] <= 0x20 || l[i] == 0x7f)
                    return P_BAD;
                i++;
            }
            if (i == t || i >= n)
                return P_BAD;
            i++;
            if (n - i != 8 || memcmp(l + i, "HTTP/1.", 7) != 0 || (l[i + 7] != '0' && l[i + 7] != '1'))
                return P_BAD;
            v11 = l[i + 7] == '1';
            line_no++;
            continue;
        }
        if (n == 0)
            break; /* end of the head */
        line_no++;
        /* name ":" OWS value OWS; no whitespace before the colon, no line folding */
        size_t i = 0;
        while (i < n && is_tchar((unsigned char)l[i]))
            i++;
        if (i == 0 || i >= n || l[i] != ':')
            return P_BAD;
        size_t name_len = i++;
        while (i < n && (l[i] == ' ' || l[i] == '\t'))
            i++;
        size_t e = n;
        while (e > i && (l[e - 1] == ' ' || l[e - 1] == '\t'))
            e--;
        const char *v = l + i;
        size_t vn = e - i;
        for (size_t k = 0; k < vn; k++)
            if (((unsigned char)v[k] < 0x20 && v[k] != '\t') || v[k] == 0x7f)
                return P_BAD;
#define IS(h) (name_len == sizeof h - 1 && strncasecmp(l, h, sizeof h - 1) == 0)
        if (IS("Content-Length")) {
            if (vn == 0)
                return P_BAD;
            long x = 0;
            for (size_t k = 0; k < vn; k++) {
                if (v[k] < '0' || v[k] > '9')
                    return P_BAD;
                if (x > BODY_MAX)
                    return P_BODY; /* keeps x from overflowing */
                x = x * 10 + (v[k] - '0');
            }
            if (clen >= 0 && clen != x)
                return P_BAD;
            clen = x;
        } else if (IS("Transfer-Encoding")) {
            return P_TE;
        } else if (IS("Connection")) {
            want_close |= has_token(v, vn, "close");
            keepalive |= has_token(v, vn, "keep-alive");
        } else if (IS("Host")) {
            hosts++;
        }
#undef IS
    }
    if (v11 && hosts != 1)
        return P_BAD; /* RFC 9112 3.2, as Go's net/http */
    if (clen > BODY_MAX)
        return P_BODY;
    rq->head_len = pos;
    rq->body_len = clen < 0 ? 0 : clen;
    rq->close = want_close || (!v11 && !keepalive);
    return P_OK;
}

/* rt_pollfd_wait for a connection: RT_ENOMEM (no memory for the wait's timer) is
 * retried after 10 ms, up to a second, before the connection is given up; anything
 * else < 0 (the idle timeout) is returned. Readiness may be stale: the callers retry
 * the I/O and wait again on EAGAIN. */
static int wait_fd(struct conn *c, uint32_t events) {
    for (int tries = 0;; tries++) {
        int rc = rt_pollfd_wait(c->pd, events, idle_ns);
        if (rc != RT_ENOMEM || tries == 100)
            return rc;
        atomic_fetch_add_explicit(&n_retries, 1, memory_order_relaxed);
        rt_sleep(10 * 1000000);
    }
}

/* Writes all of c->w, parking on POLLOUT while the socket is full. */
static int flush(struct conn *c) {
    size_t off = 0;
    while (off < c->wlen) {
        ssize_t w = send(c->fd, c->w + off, c->wlen - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            if (wait_fd(c, RT_POLLOUT) < 0)
                return -1; /* stuck for idle_ns */
        } else {
            return -1; /* EPIPE, ECONNRESET: the client is gone */
        }
    }
    c->wlen = 0;
    return 0;
}

/* Appends the response to rq (status 200) or an error status; flushes first if the
 * batch buffer is too full to hold it. */
static int respond(struct conn *c, int status, const struct req *rq) {
    if (WBUF - c->wlen < 256 && flush(c) < 0)
        return -1;
    char *p = c->w + c->wlen;
    size_t room = WBUF - c->wlen;
    int n;
    if (status == 200) {
        n = snprintf(p, room,
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
                     "Date: %s\r\n%s\r\n%s",
                     sizeof hello - 1, http_date(), rq->close ? "Connection: close\r\n" : "",
                     rq->head ? "" : hello);
    } else {
        const char *reason = status == 413   ? "Request Entity Too Large"
                             : status == 431 ? "Request Header Fields Too Large"
                             : status == 501 ? "Not Implemented"
                                             : "Bad Request";
        n = snprintf(p, room,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n%d %s\n",
                     status, reason, strlen(reason) + 5, status, reason);
    }
    if (n < 0 || (size_t)n >= room)
        return -1; /* cannot happen: 256 bytes hold either */
    c->wlen += (size_t)n;
    return 0;
}

/* Reads and drops exactly `need` more bytes of a request body. */
static int discard(struct conn *c, long need) {
    while (need > 0) {
        size_t want = need < (long)sizeof c->r ? (size_t)need : sizeof c->r;
        ssize_t n = read(c->fd, c->r, want);
        if (n > 0)
            need -= n;
        else if (n == 0)
            return -1;
        else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(c, RT_POLLIN) < 0)
                return -1;
        } else
            return -1;
    }
    return 0;
}

/* Closes the write side, then reads until the peer closes too (at most LINGER_NS), so
 * that a final response is not lost to a reset caused by request bytes still unread. */
static void linger_close(struct conn *c) {
    char buf[4096];
    int fd = c->fd;
    if (shutdown(fd, SHUT_WR) == 0) {
        long budget = 64 * 1024;
        while (budget > 0) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0)
                budget -= n;
            else if (n < 0 && errno == EINTR)
                continue;
            else if (n < 0 && errno == EAGAIN) {
                if (rt_pollfd_wait(c->pd, RT_POLLIN, LINGER_NS) < 0)
                    break;
            } else
                break;
        }
    }
}

/* One G per connection: answer requests until either side closes. */
static void serve_conn(void *arg) {
    struct conn *c = arg;
    bool linger = false;
    /* RT_ENOMEM (the kernel's memory for the registration) is retried as wait_fd does. */
    int orc;
    for (int tries = 0; (orc = rt_pollfd_open(c->fd, &c->pd)) == RT_ENOMEM && tries < 100; tries++) {
        atomic_fetch_add_explicit(&n_retries, 1, memory_order_relaxed);
        rt_sleep(10 * 1000000);
    }
    if (orc != RT_OK) {
        atomic_fetch_add_explicit(&n_dropped, 1, memory_order_relaxed);
        close(c->fd);
        goto done;
    }
    for (;;) {
        /* Answer every complete request in the buffer, in order. */
        size_t off = 0;
        while (off < c->rlen) {
            struct req rq;
            int p = parse(c->r + off, c->rlen - off, &rq);
            if (p == P_MORE)
                break;
            if (p < 0) {
                atomic_fetch_add_explicit(&n_errors, 1, memory_order_relaxed);
                if (respond(c, -p, &rq) == 0 && flush(c) == 0)
                    linger = true;
                goto out;
            }
            size_t avail = c->rlen - off - rq.head_len;
            if ((size_t)rq.body_len <= avail) {
                off += rq.head_len + (size_t)rq.body_len;
            } else {
                /* The body runs past the buffer: answer what came before it first. */
                if (flush(c) < 0 || discard(c, rq.body_len - (long)avail) < 0)
                    goto out;
                off = c->rlen = 0;
            }
            atomic_fetch_add_explicit(&n_requests, 1, memory_order_relaxed);
            if (respond(c, 200, &rq) < 0)
                goto out;
            if (rq.close) {
                if (flush(c) == 0)
                    linger = true;
                goto out;
            }
        }
        memmove(c->r, c->r + off, c->rlen - off);
        c->rlen -= off;
        if (c->wlen > 0 && flush(c) < 0)
            goto out;
        if (c->rlen == sizeof c->r) {
            struct req none = { 0 };
            atomic_fetch_add_explicit(&n_errors, 1, memory_order_relaxed);
            if (respond(c, 431, &none) == 0 && flush(c) == 0)
                linger = true;
            goto out;
        }
        /* Edges recorded so far announce what this read gets: drop them, so that the
         * wait after an EAGAIN parks instead of returning at once for nothing. */
        rt_pollfd_reset(c->pd, RT_POLLIN);
        ssize_t n = read(c->fd, c->r + c->rlen, sizeof c->r - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
        } else if (n == 0) {
            break; /* the client closed (a partial request is dropped) */
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(c, RT_POLLIN) < 0)
                break; /* idle for idle_ns */
        } else {
            break; /* ECONNRESET */
        }
    }
out:
    if (linger)
        linger_close(c);
    rt_pollfd_close(c->pd);
    close(c->fd);
done:
    free(c);
    atomic_fetch_add_explicit(&n_conns, 1, memory_order_relaxed);
    rt_wg_done(&conns);
}

/* Accept failed for lack of a resource: wait (5 ms, doubling to 1 s), logging once per
 * episode, so that a full fd table costs a few wake-ups a second, not a spinning core. */
static void back_off(int *delay_ms, const char *what, const char *why) {
    if (*delay_ms == 0) {
        fprintf(stderr, "http_hello: %s: %s; backing off\n", what, why);
        *delay_ms = 5;
    } else if (*delay_ms < 1000) {
        *delay_ms = *delay_ms * 2 > 1000 ? 1000 : *delay_ms * 2;
    }
    atomic_fetch_add_explicit(&n_backoffs, 1, memory_order_relaxed);
    rt_sleep((int64_t)*delay_ms * 1000000);
}

/* The main G: accept connections and start a G for each. */
static void serve(void *arg) {
    int *rc = arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
        perror("http_hello: listen");
        if (lfd >= 0)
            close(lfd);
        *rc = 1;
        return;
    }
    /* Registering the listener makes libmrt's netpoller (an epoll fd and an eventfd)
     * now, as Go's comes with the listener: were it made by a connection's first
     * wait, with accept having filled the fd table, there would be no fd left for it. */
    rt_pollfd *lpd;
    int prc = rt_pollfd_open(lfd, &lpd);
    if (prc != RT_OK) {
        fprintf(stderr, "http_hello: the runtime's poller: %s\n", rt_strerror(prc));
        close(lfd);
        *rc = 1;
        return;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    if (wait_stdin) {
        char line[64];
        rt_entersyscall();
        bool got = fgets(line, sizeof line, stdin) != NULL;
        rt_exitsyscall();
        if (!got) {
            fprintf(stderr, "http_hello: -W: no line on stdin\n");
            rt_pollfd_close(lpd);
            close(lfd);
            *rc = 1;
            return;
        }
    }
    long accepted = 0;
    int delay_ms = 0;
    while (max_conns == 0 || accepted < max_conns) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EINTR || e == ECONNABORTED || e == EPROTO) {
                int prc = rt_pollfd_wait(lpd, RT_POLLIN, -1);
                if (prc == RT_ENOMEM)
                    back_off(&delay_ms, "rt_pollfd_wait", rt_strerror(prc));
                else if (prc < 0) {
                    fprintf(stderr, "http_hello: rt_pollfd_wait: %s\n", rt_strerror(prc));
                    *rc = 1;
                    break;
                }
            } else if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                back_off(&delay_ms, "accept", strerror(e));
            } else {
                fprintf(stderr, "http_hello: accept: %s\n", strerror(e));
                *rc = 1;
                break;
            }
            continue;
        }
        accepted++;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            atomic_fetch_add_explicit(&n_dropped, 1, memory_order_relaxed);
            back_off(&delay_ms, "malloc", strerror(ENOMEM));
            continue;
        }
        c->fd = fd;
        c->pd = NULL;
        c->rlen = c->wlen = 0;
        rt_wg_add(&conns, 1);
        int64_t id = rt_go(serve_conn, c);
        if (id < 0) {
            rt_wg_done(&conns);
            close(fd);
            free(c);
            atomic_fetch_add_explicit(&n_dropped, 1, memory_order_relaxed);
            back_off(&delay_ms, "rt_go", rt_strerror((int)id));
            continue;
        }
        delay_ms = 0;
    }
    rt_pollfd_close(lpd);
    close(lfd);
    rt_wg_wait(&conns);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "p:n:P:t:W")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'n': max_conns = atol(optarg); break;
        case 'P': procs = atoi(optarg); break;
        case 't': idle_ns = (int64_t)(atof(optarg) * 1e9); break;
        case 'W': wait_stdin = true; break;
        default:
            fprintf(stderr, "usage: http_hello [-p PORT] [-n CONNS] [-P PROCS] [-t IDLE_S] [-W]\n");
            return 2;
        }
    }
    if (port < 0 || port > 65535 || max_conns < 0 || procs < 0 || idle_ns <= 0 || optind != argc) {
        fprintf(stderr, "http_hello: bad arguments\n");
        return 2;
    }
    rt_config cfg = { .size = sizeof cfg, .maxprocs = procs };
    int err = rt_init(&cfg);
    if (err != RT_OK) {
        fprintf(stderr, "http_hello: rt_init: %s\n", rt_strerror(err));
        return 1;
    }
    int rc = 0;
    err = rt_main(serve, &rc);
    if (err != RT_OK) {
        fprintf(stderr, "http_hello: rt_main: %s\n", rt_strerror(err));
        return 1;
    }
    printf("served %ld connections, %ld requests, %ld error responses; %ld accept back-offs, "
           "%ld connections dropped, %ld waits retried\n",
           atomic_load(&n_conns), atomic_load(&n_requests), atomic_load(&n_errors),
           atomic_load(&n_backoffs), atomic_load(&n_dropped), atomic_load(&n_retries));
    rt_shutdown(-1);
    return rc;
}
