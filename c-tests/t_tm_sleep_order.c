/*
 * Sleepers wake in the order of their deadlines: on 1 P, 5 Gs started in reverse
 * order sleep until deadlines 40 ms apart (absolute, taken before the first starts,
 * so a G that starts late keeps its place) and record the order they run in and
 * when. No sleeper may run before its deadline, nor before a sleeper with an earlier
 * deadline has run unless that one was due too when it ran: timers that come due
 * together (a timer check the load made late, as under valgrind on a busy machine)
 * are readied in one batch, and the run order within a batch is the scheduler's
 * (t_tm_sleep_order failed once so, load average 5.5 under valgrind: the test then
 * demanded the strict order of due sleepers). Ordering only, no bound on lateness.
 */
#include "test_chan.h"

static atomic_int order[5], next_slot;
static int64_t deadline[5], woke[5];
static rt_wg wg;

static void sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int64_t left = deadline[i] - tc_now();
    if (left > 0)
        CHECK_RC(rt_sleep(left), RT_OK);
    woke[i] = tc_now();
    atomic_store(&order[atomic_fetch_add(&next_slot, 1)], i);
    rt_wg_done(&wg);
}

static void body(void *arg)
{
    (void)arg;
    int64_t t0 = tc_now();
    for (int i = 0; i < 5; i++)
        deadline[i] = t0 + (int64_t)(i + 1) * 40000000;
    rt_wg_add(&wg, 5);
    for (int i = 4; i >= 0; i--)
        tc_go(sleeper, (void *)(intptr_t)i);
    rt_wg_wait(&wg);
    int strict = 0;
    for (int k = 0; k < 5; k++) {
        int j = atomic_load(&order[k]);
        CHECK(woke[j] >= deadline[j]);
        /* Every sleeper with an earlier deadline that ran after j was due when j ran. */
        for (int l = k + 1; l < 5; l++) {
            int i = atomic_load(&order[l]);
            if (i < j && !CHECK(woke[j] >= deadline[i]))
                FAIL("sleeper %d (deadline +%d ms) ran before sleeper %d (+%d ms), "
                     "which was not due yet", j, (j + 1) * 40, i, (i + 1) * 40);
        }
        strict += j == k;
    }
    if (strict != 5)
        fprintf(stderr, "t_tm_sleep_order: due sleepers ran out of deadline order (late timer check)\n");
}

int main(void)
{
    tc_run(1, body, NULL);
    return test_summary();
}
