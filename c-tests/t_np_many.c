/*
 * Many Gs in the netpoller at once: 200 Gs (40 under valgrind), each waiting for
 * RT_POLLIN on its own pipe (no timeout; every third one with a long timeout), are
 * woken one by one by a foreign thread writing to the pipes in a scrambled order,
 * and a second wave by a G writing; each returns RT_POLLIN and reads its own byte.
 * The thread writes only once all waiters have parked (announced, no G runnable,
 * every P idle). At 1 P and at 2 Ps.
 */
#include "test_chan.h"

#define MAXN 200

static int n;
static int fds[MAXN][2];
static atomic_int announced, ok, bad;
static rt_wg wg;

static void waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&announced, 1);
    int r = rt_poll_fd(fds[i][0], RT_POLLIN, i % 3 == 0 ? 60000000000LL : -1);
    char c = 0;
    if (r == RT_POLLIN && read(fds[i][0], &c, 1) == 1 && c == (char)i)
        atomic_fetch_add(&ok, 1);
    else
        atomic_fetch_add(&bad, 1);
    rt_wg_done(&wg);
}

static void *writer_t(void *arg)
{
    (void)arg;
    tc_wait_gs_parked(&announced, n);
    for (int k = 0; k < n; k++) {
        int i = (k * 37) % n; /* n is not a multiple of 37 */
        char c = (char)i;
        CHECK_EQ(write(fds[i][1], &c, 1), 1);
    }
    return NULL;
}

static void writer_g(void *arg)
{
    (void)arg;
    for (int k = n - 1; k >= 0; k--) {
        char c = (char)k;
        CHECK_EQ(write(fds[k][1], &c, 1), 1);
    }
}

static void body(void *arg)
{
    (void)arg;
    n = tc_scale(MAXN, 40);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pipe2(fds[i], O_NONBLOCK | O_CLOEXEC), 0);
    for (int wave = 0; wave < 2; wave++) {
        atomic_store(&announced, 0);
        rt_wg_add(&wg, n);
        for (int i = 0; i < n; i++)
            tc_go(waiter, (void *)(intptr_t)i);
        if (wave == 0) {
            pthread_t t = tc_thread(writer_t, NULL);
            rt_wg_wait(&wg);
            tc_join(t);
        } else {
            tc_park_settle(3);
            tc_go(writer_g, NULL);
            rt_wg_wait(&wg);
        }
    }
    CHECK_EQ(atomic_load(&ok), 2 * n);
    CHECK_EQ(atomic_load(&bad), 0);
    for (int i = 0; i < n; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
