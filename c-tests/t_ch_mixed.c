/*
 * Gs and foreign threads on both ends of one channel at once: 4 senders (2 Gs, 2
 * threads) and 4 receivers (2 and 2), unbuffered and cap 1 and 8, element sizes 0, 8
 * and 100 (1-byte elements allow only one receiver: 1 G receiver). Every value
 * arrives exactly once, in order per sender per receiver. 1 P and 2 Ps, each in a
 * fresh child process.
 */
#include "test_chan.h"

int main(void)
{
    static const size_t caps[] = { 0, 1, 8 };
    return tc_xfer_main(TC_BOTH, TC_BOTH, caps, 3, 4, 4, tc_scale(3000, 150));
}
