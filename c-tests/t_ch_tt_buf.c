/*
 * Buffered channels (cap 1 and 16) between foreign threads (pthreads).
 * 4 senders, 3 receivers (1 for 1-byte elements), element sizes 0 (NULL elems), 1,
 * 8 and 100: every (sender, seq) arrives exactly once and in order per sender; the
 * receive after close gets RT_ECLOSED with the element zeroed. At 1 P and at 2 Ps,
 * each in a child process of its own (a fresh runtime).
 */
#include "test_chan.h"

int main(void)
{
    static const size_t caps[] = { 1, 16 };
    return tc_xfer_main(TC_T, TC_T, caps, 2, 4, 3, tc_scale(2000, 120));
}
