/*
 * Gs and foreign threads on both ends of one channel at once: 4 senders (2 Gs, 2
 * threads) and 4 receivers (2 and 2), unbuffered and cap 1 and 8, element sizes 0, 8
 * and 100 (1-byte elements allow only one receiver: 1 G receiver). Every value
 * arrives exactly once, in order per sender per receiver. 1 P and 2 Ps, each in a
 * fresh child process.
 */
#include "test_chan.h"

static void body(void *arg)
{
    (void)arg;
    static const size_t caps[] = { 0, 1, 8 };
    int k = tc_scale(3000, 150);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        for (int i = 0; i < TC_NSIZES; i++)
            tc_xfer_run(TC_BOTH, TC_BOTH, tc_size(i), caps[c], 4, 4, k);
}

static void child(void *arg)
{
    tc_run((int)(intptr_t)arg, body, NULL);
}

int main(void)
{
    for (int procs = 1; procs <= 2; procs++)
        CHECK_CHILD_OK(test_spawn(child, (void *)(intptr_t)procs, NULL, 0));
    return test_summary();
}
