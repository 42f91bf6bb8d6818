/*
 * rt_ready on a G that waits inside the library (found by the fault matrix work on
 * issue 8): a host handle of a G parked in a channel receive or send, a select (with
 * and without a timeout), rt_sleep, rt_poll_fd, rt_mutex_lock or rt_wg_wait gives
 * RT_EINVAL, from a foreign thread and from a G, and the G stays parked: it ends its
 * wait only through that wait's own wake-up, with the right result. Before the fix
 * rt_ready woke it: rt_chan_recv returned RT_ECLOSED on an open channel with the
 * element untouched, its waiter record stayed on the channel's queue (a later send
 * would write into the dead G's stack frame or throw "woken G was not parked").
 * A G parked by rt_park is still woken by rt_ready (the positive control), and before
 * it parks or after it resumed rt_ready refuses it.
 */
#include "test_chan.h"

static rt_chan *ch, *ch2, *res;
static int pfd[2];
static rt_mutex mu = RT_MUTEX_INIT;
static rt_wg wg = RT_WG_INIT;
static rt_g *volatile handle;
static atomic_int done;

enum { W_RECV, W_SEND, W_SELECT, W_SELECT_TIMEOUT, W_SLEEP, W_POLL, W_MUTEX, W_WG, W_PARK, NW };
static const char *const names[NW] = { "chan recv", "chan send", "select", "select+timeout",
                                       "rt_sleep", "rt_poll_fd", "rt_mutex_lock",
                                       "rt_wg_wait", "rt_park" };

static bool keep_parked(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return true;
}

static void waiter(void *arg)
{
    int kind = (int)(intptr_t)arg;
    handle = rt_getg();
    int v = -1, rc = 0;
    switch (kind) {
    case W_RECV:
        rc = rt_chan_recv(ch, &v);
        CHECK_RC(rc, RT_OK);
        CHECK_EQ(v, 77);
        break;
    case W_SEND:
        v = 78;
        CHECK_RC(rt_chan_send(ch, &v), RT_OK);
        break;
    case W_SELECT:
    case W_SELECT_TIMEOUT: {
        rt_select_case cs[2] = { { ch, RT_RECV, &v, 9 }, { ch2, RT_RECV, &v, 9 } };
        rc = rt_select(cs, 2, kind == W_SELECT ? -1 : 60000000000LL);
        CHECK_RC(rc, 1);
        CHECK_RC(cs[1].result, RT_OK);
        CHECK_EQ(v, 79);
        break;
    }
    case W_SLEEP:
        CHECK_RC(rt_sleep(300000000), RT_OK);
        break;
    case W_POLL:
        CHECK_EQ(rt_poll_fd(pfd[0], RT_POLLIN, -1), RT_POLLIN);
        break;
    case W_MUTEX:
        rt_mutex_lock(&mu);
        rt_mutex_unlock(&mu);
        break;
    case W_WG:
        rt_wg_wait(&wg);
        break;
    case W_PARK:
        CHECK_RC(rt_park(keep_parked, NULL), RT_OK);
        break;
    }
    atomic_store(&done, 1);
}

static void ready_from_g(void *arg)
{
    int rc = rt_ready((rt_g *)arg);
    CHECK_RC(rt_chan_send(res, &rc), RT_OK);
}

/* The waiter is parked: live, not runnable, every P idle, not done. */
static bool parked(void)
{
    for (int i = 0; i < 20000; i++) {
        rt_stats st;
        if (handle && test_stats(&st) == RT_OK && st.goroutines == 1 && st.runnable == 0 &&
            st.idle_procs == st.maxprocs && !atomic_load(&done))
            return true;
        usleep(500);
    }
    return false;
}

static void one(int kind)
{
    handle = NULL;
    atomic_store(&done, 0);
    if (kind == W_MUTEX)
        rt_mutex_lock(&mu);
    if (kind == W_WG)
        rt_wg_add(&wg, 1);
    if (!CHECK(tc_go(waiter, (void *)(intptr_t)kind) > 0))
        return;
    if (!CHECK(parked())) { /* the control: it really waits */
        FAIL("%s: the waiter never parked", names[kind]);
        return;
    }
    rt_g *h = handle;
    if (kind == W_PARK) {
        CHECK_RC(rt_ready(h), RT_OK);
    } else {
        int rc = rt_ready(h);
        if (!CHECK_RC(rc, RT_EINVAL))
            FAIL("rt_ready of a G in %s from a foreign thread", names[kind]);
        CHECK(tc_go(ready_from_g, h) > 0);
        int grc = 0;
        CHECK_RC(rt_chan_recv(res, &grc), RT_OK);
        if (!CHECK_RC(grc, RT_EINVAL))
            FAIL("rt_ready of a G in %s from a G", names[kind]);
        /* Still parked (the ready_from_g G has exited). */
        CHECK(parked());
        CHECK_EQ(atomic_load(&done), 0);
        /* Now its own wake-up. */
        int v;
        switch (kind) {
        case W_RECV:
            v = 77;
            CHECK_RC(rt_chan_send(ch, &v), RT_OK);
            break;
        case W_SEND:
            v = 0;
            CHECK_RC(rt_chan_recv(ch, &v), RT_OK);
            CHECK_EQ(v, 78);
            break;
        case W_SELECT:
        case W_SELECT_TIMEOUT:
            v = 79;
            CHECK_RC(rt_chan_send(ch2, &v), RT_OK);
            break;
        case W_SLEEP:
            break; /* its timer ends it */
        case W_POLL:
            CHECK_EQ(write(pfd[1], "x", 1), 1);
            break;
        case W_MUTEX:
            rt_mutex_unlock(&mu);
            break;
        case W_WG:
            rt_wg_done(&wg);
            break;
        }
    }
    for (long i = 0; !atomic_load(&done) && i < 200000000L; i++)
        sched_yield();
    CHECK(atomic_load(&done));
    CHECK(test_wait_all_idle());
    /* Once it has ended, its handle is refused too. */
    CHECK_RC(rt_ready(h), RT_EINVAL);
    if (kind == W_POLL) {
        char c;
        CHECK_EQ(read(pfd[0], &c, 1), 1);
    }
    /* Nothing stale is left on the channel: no receiver, no sender waits. */
    int v = 1;
    CHECK_RC(rt_chan_trysend(ch, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_tryrecv(ch, &v), RT_EAGAIN);
    CHECK_RC(rt_chan_trysend(ch2, &v), RT_EAGAIN);
}

int main(void)
{
    tc_init(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ch), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ch2), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &res), RT_OK);
    CHECK_EQ(pipe(pfd), 0);
    for (int k = 0; k < NW; k++)
        one(k);
    CHECK_RC(rt_chan_free(ch), RT_OK);
    CHECK_RC(rt_chan_free(ch2), RT_OK);
    CHECK_RC(rt_chan_free(res), RT_OK);
    close(pfd[0]);
    close(pfd[1]);
    tc_fini();
    return test_summary();
}
