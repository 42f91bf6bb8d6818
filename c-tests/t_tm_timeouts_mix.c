/*
 * Timers of every kind at once: 300 Gs (60 under valgrind) each loop 20 times over
 * rt_sleep (0..2 ms), rt_select with a timeout (0..2 ms) on two channels that a
 * foreign thread and a G feed now and then, and rt_poll_fd with a timeout on its
 * own empty pipe; every call returns one of its allowed codes, every element fed into
 * the channels is received exactly once (the feeders stop, then the remainder is
 * drained), and every G finishes. At 1 P and at 4 Ps.
 */
#include "test_chan.h"

static rt_chan *ch[2];
static int emptyp[300][2];
static atomic_int bad, done_gs;
static atomic_long received, sum_received;
static atomic_int stop_feed;
static long fed, fed_sum;
static rt_wg wg, feed_wg;

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void worker(void *arg)
{
    uint32_t s = 0x1234567u + (uint32_t)(intptr_t)arg * 7919u;
    for (int i = 0; i < 20; i++) {
        uint32_t r = rnd(&s);
        switch (r % 3) {
        case 0:
            if (rt_sleep((int64_t)(r % 2000000)) != RT_OK)
                atomic_fetch_add(&bad, 1);
            break;
        case 1: {
            uint64_t a = 0, b = 0;
            rt_select_case cs[2] = { { ch[0], RT_RECV, &a, 7 }, { ch[1], RT_RECV, &b, 7 } };
            int rc = rt_select(cs, 2, (int64_t)(r % 2000000));
            if (rc == 0 || rc == 1) {
                if (cs[rc].result != RT_OK)
                    atomic_fetch_add(&bad, 1);
                atomic_fetch_add(&received, 1);
                atomic_fetch_add(&sum_received, (long)(rc == 0 ? a : b));
            } else if (rc != RT_ETIMEDOUT && rc != RT_EAGAIN) {
                atomic_fetch_add(&bad, 1);
            }
            break;
        }
        default: {
            int rc = rt_poll_fd(emptyp[(intptr_t)arg][0], RT_POLLIN, (int64_t)(r % 2000000));
            if (rc != RT_ETIMEDOUT && rc != RT_EAGAIN)
                atomic_fetch_add(&bad, 1);
        }
        }
    }
    atomic_fetch_add(&done_gs, 1);
    rt_wg_done(&wg);
}

static long feed(int which, uint64_t base)
{
    long n = 0;
    for (uint64_t v = base; !atomic_load(&stop_feed); v++) {
        if (rt_chan_trysend(ch[which], &v) == RT_OK) {
            n++;
            __atomic_add_fetch(&fed_sum, (long)v, __ATOMIC_RELAXED);
        }
        if (rt_getg())
            rt_sleep(100000);
        else
            usleep(100);
    }
    return n;
}

static void *feeder_t(void *arg)
{
    (void)arg;
    long n = feed(0, 1);
    __atomic_add_fetch(&fed, n, __ATOMIC_RELAXED);
    return NULL;
}

static void feeder_g(void *arg)
{
    (void)arg;
    long n = feed(1, 1000000000);
    __atomic_add_fetch(&fed, n, __ATOMIC_RELAXED);
    rt_wg_done(&feed_wg);
}

static void body(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_make(8, 0, &ch[0]), RT_OK);
    CHECK_RC(rt_chan_make(8, 2, &ch[1]), RT_OK);
    int n = tc_scale(300, 60);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pipe2(emptyp[i], O_NONBLOCK | O_CLOEXEC), 0);
    rt_wg_add(&wg, n);
    rt_wg_add(&feed_wg, 1);
    pthread_t t = tc_thread(feeder_t, NULL);
    tc_go(feeder_g, NULL);
    for (int i = 0; i < n; i++)
        tc_go(worker, (void *)(intptr_t)i);
    rt_wg_wait(&wg);
    atomic_store(&stop_feed, 1);
    tc_join(t);
    rt_wg_wait(&feed_wg);
    /* the rest still in ch[1]'s buffer */
    uint64_t v;
    while (rt_chan_tryrecv(ch[1], &v) == RT_OK) {
        atomic_fetch_add(&received, 1);
        atomic_fetch_add(&sum_received, (long)v);
    }
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK_EQ(atomic_load(&done_gs), n);
    CHECK_EQ(atomic_load(&received), __atomic_load_n(&fed, __ATOMIC_RELAXED));
    CHECK_EQ(atomic_load(&sum_received), __atomic_load_n(&fed_sum, __ATOMIC_RELAXED));
    CHECK_RC(rt_chan_free(ch[0]), RT_OK);
    CHECK_RC(rt_chan_free(ch[1]), RT_OK);
    for (int i = 0; i < n; i++) {
        close(emptyp[i][0]);
        close(emptyp[i][1]);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(4, true, body, NULL);
    return test_summary();
}
