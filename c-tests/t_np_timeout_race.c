/*
 * rt_poll_fd timeouts racing with events: a foreign thread writes 30,000 bytes (1,000
 * under valgrind) one at a time into a non-blocking socketpair, now and then pausing;
 * a G reads them, waiting with rt_poll_fd and very short timeouts (1 us .. 1 ms) that
 * often expire just as data arrives. Every RT_ETIMEDOUT is followed by another wait;
 * no wakeup is lost (the G never waits forever: the last waits have no timeout and
 * must still see the data), and every byte arrives once, in order. Two more Gs do
 * the same on other socketpairs at the same time; 4 rounds. At 1 P and at 2 Ps.
 */
#include "test_chan.h"

typedef struct lane {
    int sv[2];
    int n;
    long timeouts, polls;
    int errors;
    atomic_int reader_waits; /* set before the reader's first rt_poll_fd */
} lane;

static lane lanes[3];
static rt_wg wg;

static void *writer(void *arg)
{
    lane *l = arg;
    uint32_t s = 12345;
    /* Hold the first byte back until the reader is about to wait for it, so at least
     * one wait happens even when this thread would otherwise write everything first
     * (valgrind runs one thread at a time, for long slices). */
    while (atomic_load(&l->reader_waits) == 0)
        usleep(100);
    for (int i = 0; i < l->n; i++) {
        unsigned char c = (unsigned char)i;
        for (;;) {
            ssize_t w = send(l->sv[1], &c, 1, MSG_NOSIGNAL);
            if (w == 1)
                break;
            if (w < 0 && errno == EPIPE)
                return NULL; /* the reader gave up (and said why) */
            if (w < 0 && errno == EAGAIN) {
                struct pollfd pf = { .fd = l->sv[1], .events = POLLOUT };
                poll(&pf, 1, -1);
                continue;
            }
            FAIL("write: %s", strerror(errno));
            return NULL;
        }
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        if (s % 64 == 0)
            usleep(s % 500);
    }
    return NULL;
}

static void reader(void *arg)
{
    lane *l = arg;
    uint32_t s = 777;
    for (int i = 0; i < l->n;) {
        unsigned char c;
        ssize_t r = read(l->sv[0], &c, 1);
        if (r == 1) {
            if (c != (unsigned char)i && l->errors++ < 5)
                FAIL("byte %d: got %u", i, c);
            i++;
            continue;
        }
        if (!(r < 0 && errno == EAGAIN)) {
            FAIL("read: %zd %s", r, strerror(errno));
            break;
        }
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        int64_t to = (int64_t)(1000 + s % 1000000);
        if (l->n - i < 10)
            to = -1; /* the tail: must be woken by the data itself */
        atomic_store(&l->reader_waits, 1);
        int rc = rt_poll_fd(l->sv[0], RT_POLLIN, to);
        l->polls++;
        if (rc == RT_ETIMEDOUT) {
            l->timeouts++;
            continue;
        }
        if (rc != RT_POLLIN) {
            FAIL("rt_poll_fd -> %d (%s) after %ld waits, %ld timed out", rc, rt_err_name(rc),
                 l->polls, l->timeouts);
            break;
        }
    }
    shutdown(l->sv[0], SHUT_RDWR); /* a writer still writing gets EPIPE */
    rt_wg_done(&wg);
}

static void one_round(void)
{
    pthread_t t[3];
    rt_wg_add(&wg, 3);
    for (int k = 0; k < 3; k++) {
        lane *l = &lanes[k];
        memset(l, 0, sizeof *l);
        l->n = tc_scale(30000, 1000);
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, l->sv), 0);
        tc_go(reader, l);
        t[k] = tc_thread(writer, l);
    }
    rt_wg_wait(&wg);
    for (int k = 0; k < 3; k++) {
        tc_join(t[k]);
        CHECK_EQ(lanes[k].errors, 0);
        CHECK(lanes[k].polls > 0);
        close(lanes[k].sv[0]);
        close(lanes[k].sv[1]);
    }
}

static void body(void *arg)
{
    (void)arg;
    for (int r = 0; r < tc_scale(4, 1) && atomic_load(&test_failed_) == 0; r++)
        one_round();
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
