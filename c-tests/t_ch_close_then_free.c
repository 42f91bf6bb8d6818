/*
 * Close, then free at once: receivers blocked on a channel (Gs and foreign threads)
 * are woken by rt_chan_close; the closer then calls rt_chan_free right away, before
 * they have returned. The free must either succeed (the woken waiters no longer
 * touch the channel) or refuse with RT_EBUSY (then it succeeds once they returned);
 * either way no waiter may read or write the freed channel (valgrind reports any
 * such access) and each gets RT_ECLOSED with its element zeroed. Element size 100;
 * unbuffered and cap 4; closer a G (1 P) and a plain thread (2 Ps); several rounds.
 */
#include "test_chan.h"

static void one(size_t cap)
{
    rt_chan *c;
    if (!CHECK_RC(rt_chan_make(100, cap, &c), RT_OK))
        return;
    static tc_waiters ws;
    tc_waiters_start(&ws, c, 100, RT_RECV, 2, 2);
    tc_waiters_settle(&ws);
    CHECK_RC(rt_chan_close(c), RT_OK);
    int rc = rt_chan_free(c);
    CHECK(rc == RT_OK || rc == RT_EBUSY);
    tc_waiters_finish(&ws);
    if (rc == RT_EBUSY)
        CHECK_RC(rt_chan_free(c), RT_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(ws.w[i].rc, RT_ECLOSED);
        CHECK(tc_all_zero(ws.w[i].buf, 100));
    }
}

static void body(void *arg)
{
    (void)arg;
    alarm(test_under_valgrind() ? 30 : 8); /* a hang dies of SIGALRM */
    for (int round = 0; round < tc_scale(20, 5); round++) {
        one(0);
        one(4);
    }
}

int main(void)
{
    tc_in_child(1, true, body, NULL);
    tc_in_child(2, false, body, NULL);
    return test_summary();
}
