/*
 * Channels of every element size around the in-line copies (1, 4, 8, 12, 16, 24, 40
 * bytes; unbuffered and buffered), through send/recv and rt_select, between Gs that
 * yield (rt_gosched's fast path), a G wired to its thread (rt_lockosthread) that
 * yields on the slow path, a foreign thread, and RT_G_ASYNC_PREEMPT Gs that spin so
 * that sysmon preempts them by signal, on 2 Ps, while rt_gomaxprocs changes.
 * Checked: every element arrives whole (a pattern made from its sequence number and
 * size) and in order per channel; the wired G stays on its thread.
 */
#include "test.h"

#define NSIZES 7
#define MSGS_NATIVE 1500
#define MSGS_VALGRIND 200

static const size_t sizes[NSIZES] = { 1, 4, 8, 12, 16, 24, 40 };
static rt_chan *ch[NSIZES][2]; /* [size][unbuffered, buffered] */
static long msgs;
static atomic_int bad, spin_stop, wired_moved;
static rt_wg done = RT_WG_INIT;

static void fill(unsigned char *b, size_t n, long seq)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seq * 31 + (long)i * 7 + (long)n);
}

static bool check(const unsigned char *b, size_t n, long seq)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seq * 31 + (long)i * 7 + (long)n))
            return false;
    return true;
}

/* Sender for channel (k, buffered): k and buffered packed in arg. */
static void sender(void *arg)
{
    int k = (int)(intptr_t)arg >> 1, bu = (int)(intptr_t)arg & 1;
    unsigned char buf[64];
    for (long s = 0; s < msgs; s++) {
        fill(buf, sizes[k], s);
        if (rt_chan_send(ch[k][bu], buf) != RT_OK)
            atomic_fetch_add(&bad, 1);
        if (s % 5 == 0)
            rt_gosched();
    }
    rt_wg_done(&done);
}

/* One receiver drains every channel through rt_select, checking order per channel. */
static void drain(bool wired)
{
    long next[NSIZES][2] = { { 0 } };
    long left = (long)NSIZES * 2 * msgs;
    unsigned char bufs[NSIZES * 2][64];
    int64_t tid0 = test_gettid();
    while (left > 0) {
        rt_select_case cs[NSIZES * 2];
        size_t n = 0;
        int map[NSIZES * 2];
        for (int k = 0; k < NSIZES; k++)
            for (int bu = 0; bu < 2; bu++)
                if (next[k][bu] < msgs) {
                    cs[n] = (rt_select_case){ ch[k][bu], RT_RECV, bufs[n], 0 };
                    map[n++] = k * 2 + bu;
                }
        int i = rt_select(cs, n, -1);
        if (i < 0 || (size_t)i >= n || cs[i].result != RT_OK) {
            atomic_fetch_add(&bad, 1);
            break;
        }
        int k = map[i] >> 1, bu = map[i] & 1;
        if (!check(bufs[i], sizes[k], next[k][bu]))
            atomic_fetch_add(&bad, 1);
        next[k][bu]++;
        left--;
        if (left % 7 == 0)
            rt_gosched();
        if (wired && test_gettid() != tid0)
            atomic_fetch_add(&wired_moved, 1);
    }
}

static void wired_receiver(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_OK);
    drain(true);
    CHECK_RC(rt_unlockosthread(), RT_OK);
    rt_wg_done(&done);
}

static void spinner(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (!atomic_load(&spin_stop))
        x++;
    rt_wg_done(&done);
}

int main(void)
{
    msgs = test_under_valgrind() ? MSGS_VALGRIND : MSGS_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int k = 0; k < NSIZES; k++) {
        CHECK_RC(rt_chan_make(sizes[k], 0, &ch[k][0]), RT_OK);
        CHECK_RC(rt_chan_make(sizes[k], 3, &ch[k][1]), RT_OK);
    }
    rt_go_attr at = { .size = sizeof at, .flags = RT_G_ASYNC_PREEMPT, .name = "spinner" };
    /* Under valgrind preemption by signal is off (api.md): spinners would keep a
     * Ps for ever, so there is none. */
    int spinners = test_under_valgrind() ? 0 : 1;
    rt_wg_add(&done, spinners);
    for (int i = 0; i < spinners; i++)
        CHECK(rt_go_ex(spinner, NULL, &at) > 0);
    rt_wg_add(&done, NSIZES * 2 + 1);
    for (int k = 0; k < NSIZES; k++)
        for (int bu = 0; bu < 2; bu++)
            CHECK(rt_go(sender, (void *)(intptr_t)(k * 2 + bu)) > 0);
    CHECK(rt_go(wired_receiver, NULL) > 0);
    for (int r = 0; r < 6; r++) {
        rt_gomaxprocs(r % 2 + 1);
        usleep(2000);
    }
    rt_gomaxprocs(2);
    /* wait for the senders and the wired receiver, then stop the spinners */
    while (1) {
        rt_stats st;
        test_stats(&st);
        if (st.goroutines <= spinners)
            break;
        usleep(1000);
    }
    atomic_store(&spin_stop, 1);
    rt_wg_wait(&done);
    /* Second round: Gs send, a foreign thread receives by select. */
    atomic_store(&spin_stop, 0);
    rt_wg_add(&done, NSIZES * 2);
    for (int k = 0; k < NSIZES; k++)
        for (int bu = 0; bu < 2; bu++)
            CHECK(rt_go(sender, (void *)(intptr_t)(k * 2 + bu)) > 0);
    drain(false);
    rt_wg_wait(&done);
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK_EQ(atomic_load(&wired_moved), 0);
    for (int k = 0; k < NSIZES; k++) {
        rt_chan_free(ch[k][0]);
        rt_chan_free(ch[k][1]);
    }
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    return test_summary();
}
