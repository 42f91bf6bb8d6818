/*
 * A G waiting in rt_poll_fd does not block the other Gs of its P (1 P): while G A
 * waits for a pipe to become readable (no timeout), Gs B and C exchange 2,000
 * messages over an unbuffered channel, then B writes to the pipe; A returns
 * RT_POLLIN only after that write (ordering only). Same with A waiting for
 * RT_POLLOUT on a full pipe until B drains it.
 */
#include "test_chan.h"

static int p[2];
static rt_chan *bc;
static atomic_int written, exchanged;
static int a_rc;
static rt_wg wg;

static void a_in(void *arg)
{
    (void)arg;
    a_rc = rt_poll_fd(p[0], RT_POLLIN, -1);
    CHECK_EQ(atomic_load(&exchanged), 2000);
    CHECK_EQ(atomic_load(&written), 1);
    rt_wg_done(&wg);
}

static void a_out(void *arg)
{
    (void)arg;
    a_rc = rt_poll_fd(p[1], RT_POLLOUT, -1);
    CHECK_EQ(atomic_load(&exchanged), 2000);
    CHECK_EQ(atomic_load(&written), 1);
    rt_wg_done(&wg);
}

static void c_g(void *arg)
{
    (void)arg;
    uint64_t v;
    for (int i = 0; i < 2000; i++)
        if (rt_chan_recv(bc, &v) == RT_OK)
            atomic_fetch_add(&exchanged, 1);
    rt_wg_done(&wg);
}

static void b_g(void *arg)
{
    int drain = (int)(intptr_t)arg;
    for (uint64_t i = 0; i < 2000; i++)
        CHECK_RC(rt_chan_send(bc, &i), RT_OK);
    rt_gosched(); /* let C count the last one */
    atomic_store(&written, 1);
    if (drain)
        CHECK(tc_drain(p[0]) > 0);
    else
        CHECK_EQ(write(p[1], "b", 1), 1);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_chan_make(8, 0, &bc), RT_OK);
    for (int k = 0; k < 2; k++) {
        atomic_store(&written, 0);
        atomic_store(&exchanged, 0);
        if (k == 1)
            CHECK(tc_fill(p[1]) > 0);
        rt_wg_add(&wg, 3);
        tc_go(k == 0 ? a_in : a_out, NULL);
        tc_park_settle(3); /* A parks first */
        tc_go(c_g, NULL);
        tc_go(b_g, (void *)(intptr_t)k);
        rt_wg_wait(&wg);
        CHECK_EQ(a_rc, k == 0 ? RT_POLLIN : RT_POLLOUT);
        if (k == 0) {
            char ch;
            CHECK_EQ(read(p[0], &ch, 1), 1);
        }
    }
    CHECK_RC(rt_chan_free(bc), RT_OK);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
