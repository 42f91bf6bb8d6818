/*
 * rt_poll_fd reports readiness that is news to its own wait: a G that is the only
 * reader of a pipe and sees RT_POLLIN must find data to read (as with poll(2)).
 *
 * The netpoller collects events with epoll_wait and applies them to the fd's
 * waiters afterwards, under its descriptor lock. An event collected before a wait
 * armed used to wake that wait: the fd's readiness for an earlier wait, which the
 * G had consumed meanwhile (it timed out, found the byte with its own check, read
 * it and waited again). The G was told RT_POLLIN with nothing to read; a blocking
 * read would have blocked its M.
 *
 * Eight lanes, each a non-blocking pipe with a writer G that sleeps a little and
 * writes one byte at a time, and a reader G that waits with rt_poll_fd (short
 * timeouts, sometimes none) and, on RT_POLLIN, reads: EAGAIN there is the bug. At 3
 * Ps, so that Ms poll while Gs wait and time out.
 */
#include "test_chan.h"

#include <fcntl.h>

#define LANES 8

typedef struct lane {
    int r, w;
    int n;
    uint32_t seed;
} lane;

static lane lanes[LANES];
static rt_wg wg;
static atomic_int stale;

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void writer(void *arg)
{
    lane *l = arg;
    uint32_t s = l->seed;
    for (int i = 0; i < l->n; i++) {
        rt_sleep(next(&s) % 40000);
        char c = (char)i;
        if (write(l->w, &c, 1) != 1) {
            FAIL("write: %s", strerror(errno));
            break;
        }
    }
    rt_wg_done(&wg);
}

static void reader(void *arg)
{
    lane *l = arg;
    uint32_t s = l->seed ^ 0x9e3779b9u;
    for (int got = 0; got < l->n;) {
        uint32_t x = next(&s);
        int64_t to = x % 4 == 0 ? -1 : (int64_t)(x % 30000);
        int rc = rt_poll_fd(l->r, RT_POLLIN, to);
        if (rc == RT_ETIMEDOUT || rc == RT_EAGAIN)
            continue;
        if (!CHECK_RC(rc, RT_POLLIN))
            break;
        char buf[64];
        ssize_t n = read(l->r, buf, sizeof buf);
        if (n < 0 && errno == EAGAIN) {
            /* Stale: read on, so that the writer can finish (counted below). */
            atomic_fetch_add(&stale, 1);
            continue;
        }
        if (n <= 0) {
            FAIL("read: %zd %s", n, strerror(errno));
            break;
        }
        got += (int)n;
    }
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 2 * LANES);
    for (int k = 0; k < LANES; k++) {
        lane *l = &lanes[k];
        int fds[2];
        if (!CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0))
            return;
        l->r = fds[0];
        l->w = fds[1];
        l->n = tc_scale(400, 60);
        l->seed = 2463534242u + 977u * (uint32_t)k;
        tc_go(writer, l);
        tc_go(reader, l);
    }
    rt_wg_wait(&wg);
    for (int k = 0; k < LANES; k++) {
        close(lanes[k].r);
        close(lanes[k].w);
    }
}

int main(void)
{
    tc_run(3, body, NULL);
    CHECK_EQ(atomic_load(&stale), 0);
    return test_summary();
}
