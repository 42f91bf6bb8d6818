/*
 * rt_pollfd_wait's lost-wake-up race, in a loop: a G reads a socket until EAGAIN
 * and waits; its peer, a G on another P (and, in the second half, a foreign thread),
 * writes one message after each reply. The write's edge can come at any point of
 * the wait: before the read, between the EAGAIN and the wait, while the waiter is
 * being published or the G is parking, or after it parked. A lost edge hangs the
 * round (the test's alarm fails it); a delivered one must be news: each wake-up is
 * followed by a read that gets the message (a stale edge would be allowed by the
 * contract, but here every edge has fresh data behind it, so the reader may retry
 * at most once without data before the message arrives). Also with timeouts that
 * race the edges (short ones, which expire often: the edge is then kept for the next
 * wait). Runs with 2 Ps and with 4. Every other run calls rt_pollfd_reset before each
 * read (dropping the edges recorded so far): an edge that comes during the read must
 * still be kept, or the round hangs.
 */
#include "test_chan.h"

static int sp[2];
static rt_pollfd *h0, *h1;
static int rounds;
static atomic_long timeouts;

/* Reads one u32, waiting through the handle (with timeout `to`) on EAGAIN. */
static bool use_reset;

static bool read_one(int fd, rt_pollfd *h, int64_t to, uint32_t *v)
{
    for (;;) {
        if (use_reset)
            CHECK_RC(rt_pollfd_reset(h, RT_POLLIN), RT_OK);
        ssize_t n = read(fd, v, sizeof *v);
        if (n == (ssize_t)sizeof *v)
            return true;
        if (n < 0 && errno == EAGAIN) {
            int r = rt_pollfd_wait(h, RT_POLLIN, to);
            if (r == RT_ETIMEDOUT) {
                atomic_fetch_add(&timeouts, 1);
                continue;
            }
            if (r != RT_POLLIN) {
                FAIL("rt_pollfd_wait -> %d", r);
                return false;
            }
            continue;
        }
        FAIL("read -> %zd (%s)", n, strerror(errno));
        return false;
    }
}

static void pinger(void *arg)
{
    int64_t to = (int64_t)(intptr_t)arg;
    for (uint32_t i = 0; i < (uint32_t)rounds; i++) {
        CHECK_EQ(write(sp[0], &i, sizeof i), (ssize_t)sizeof i);
        uint32_t v;
        if (!read_one(sp[0], h0, to, &v))
            return;
        if (v != i) {
            FAIL("pong %u for ping %u", v, i);
            return;
        }
    }
}

static void ponger(void *arg)
{
    int64_t to = (int64_t)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        uint32_t v;
        if (!read_one(sp[1], h1, to, &v))
            return;
        CHECK_EQ(write(sp[1], &v, sizeof v), (ssize_t)sizeof v);
    }
}

/* The ponger on a foreign thread: its waits block in poll(2). */
static void *ponger_thread(void *arg)
{
    int64_t to = (int64_t)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        uint32_t v;
        for (;;) {
            if (use_reset)
                CHECK_RC(rt_pollfd_reset(h1, RT_POLLIN), RT_OK);
            ssize_t n = read(sp[1], &v, sizeof v);
            if (n == (ssize_t)sizeof v)
                break;
            if (n < 0 && errno == EAGAIN) {
                int r = rt_pollfd_wait(h1, RT_POLLIN, to);
                if (r != RT_POLLIN && r != RT_ETIMEDOUT) {
                    FAIL("rt_pollfd_wait (thread) -> %d", r);
                    return NULL;
                }
                continue;
            }
            FAIL("read -> %zd", n);
            return NULL;
        }
        CHECK_EQ(write(sp[1], &v, sizeof v), (ssize_t)sizeof v);
    }
    return NULL;
}

static rt_wg done;

static void run_pinger(void *arg)
{
    pinger(arg);
    rt_wg_done(&done);
}

static void run_ponger(void *arg)
{
    ponger(arg);
    rt_wg_done(&done);
}

static void body(void *arg)
{
    (void)arg;
    int64_t tos[] = { -1, 50000, 2000000 };
    for (int k = 0; k < 3; k++) {
        for (int thread = 0; thread < 2; thread++) {
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
            CHECK_RC(rt_pollfd_open(sp[0], &h0), RT_OK);
            CHECK_RC(rt_pollfd_open(sp[1], &h1), RT_OK);
            void *to = (void *)(intptr_t)tos[k];
            if (thread) {
                pthread_t t = tc_thread(ponger_thread, to);
                rt_wg_add(&done, 1);
                tc_go(run_pinger, to);
                rt_wg_wait(&done);
                tc_join(t);
            } else {
                rt_wg_add(&done, 2);
                tc_go(run_ponger, to);
                tc_go(run_pinger, to);
                rt_wg_wait(&done);
            }
            CHECK_RC(rt_pollfd_close(h0), RT_OK);
            CHECK_RC(rt_pollfd_close(h1), RT_OK);
            close(sp[0]);
            close(sp[1]);
        }
    }
}

int main(void)
{
    alarm(test_under_valgrind() ? 900 : 120);
    rounds = tc_scale(20000, 1000);
    tc_run(2, body, NULL);
    tc_run(4, body, NULL);
    use_reset = true;
    tc_run(2, body, NULL);
    printf("# %ld timeouts raced edges\n", atomic_load(&timeouts));
    return test_summary();
}
