/*
 * A timer whose P is kept busy still fires: 2 Ps; the main G starts a G that spins
 * without ever yielding (until the main G is back), then sleeps. Whichever P the
 * spinner lands on, the other P's M must run the sleeper's timer (its own, or the
 * busy P's: Go runs other Ps' timers when stealing), so the main G wakes and stops
 * the spinner. Also for rt_select's timeout. A lost timer hangs (test_spawn's alarm).
 */
#include "test_chan.h"

static atomic_int stop, spinning, exited;

static void spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinning, 1);
    while (!atomic_load(&stop))
        ; /* never yields */
    atomic_store(&exited, 1);
}

static void body(void *arg)
{
    (void)arg;
    for (int k = 0; k < 4; k++) {
        atomic_store(&stop, 0);
        atomic_store(&spinning, 0);
        atomic_store(&exited, 0);
        tc_go(spinner, NULL);
        if (k % 2 == 0) {
            CHECK_RC(rt_sleep(5000000), RT_OK);
        } else {
            rt_chan *c;
            CHECK_RC(rt_chan_make(8, 0, &c), RT_OK);
            uint64_t v;
            rt_select_case cs[1] = { { c, RT_RECV, &v, 7 } };
            CHECK_RC(rt_select(cs, 1, 5000000), RT_ETIMEDOUT);
            CHECK_RC(rt_chan_free(c), RT_OK);
        }
        /* wait until the spinner really spins (it may not have started yet) */
        while (!atomic_load(&spinning))
            rt_gosched();
        /* and sleep once more while it surely occupies a P */
        CHECK_RC(rt_sleep(2000000), RT_OK);
        atomic_store(&stop, 1);
        while (!atomic_load(&exited))
            rt_gosched();
    }
}

int main(void)
{
    tc_in_child(2, true, body, NULL);
    return test_summary();
}
