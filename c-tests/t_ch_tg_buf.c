/*
 * Buffered channels (cap 1 and 16) from foreign-thread senders to G receivers.
 * 4 senders, 3 receivers (1 for 1-byte elements), element sizes 0 (NULL elems), 1,
 * 8 and 100: every (sender, seq) arrives exactly once and in order per sender; the
 * receive after close gets RT_ECLOSED with the element zeroed. At 1 P and at 2 Ps,
 * each in a child process of its own (a fresh runtime).
 */
#include "test_chan.h"

static void body(void *arg)
{
    (void)arg;
    static const size_t caps[] = { 1, 16 };
    int k = tc_scale(2000, 120);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        for (int i = 0; i < TC_NSIZES; i++)
            tc_xfer_run(TC_T, TC_G, tc_size(i), caps[c], 4, 3, k);
}

static void child(void *arg)
{
    int procs = (int)(intptr_t)arg;
    tc_run(procs, body, NULL);
}

int main(void)
{
    for (int procs = 1; procs <= 2; procs++)
        CHECK_CHILD_OK(test_spawn(child, (void *)(intptr_t)procs, NULL, 0));
    return test_summary();
}
