/*
 * rt_chan_make's bad input: a NULL out-pointer -> RT_EINVAL (for any sizes); an
 * elem_size * cap that overflows size_t -> RT_EINVAL; a product too large to
 * allocate -> RT_EINVAL or RT_ENOMEM; on failure *out is left alone. Element size 0
 * with any capacity, and a 1-byte x 1 MiB channel, are fine. NULL handles elsewhere:
 * send, recv, trysend, tryrecv, close and free -> RT_EINVAL.
 */
#include "test_chan.h"

#include <stdint.h>

int main(void)
{
    tc_init(1);
    rt_chan *c = (rt_chan *)0x1234;
    CHECK_RC(rt_chan_make(8, 1, NULL), RT_EINVAL);
    CHECK_RC(rt_chan_make(0, 0, NULL), RT_EINVAL);
    CHECK_RC(rt_chan_make(SIZE_MAX, SIZE_MAX, NULL), RT_EINVAL);

    /* overflow of the product */
    CHECK_RC(rt_chan_make(SIZE_MAX, 2, &c), RT_EINVAL);
    CHECK_RC(rt_chan_make(2, SIZE_MAX, &c), RT_EINVAL);
    CHECK_RC(rt_chan_make((size_t)1 << 33, (size_t)1 << 33, &c), RT_EINVAL);
    CHECK_RC(rt_chan_make(SIZE_MAX / 2 + 1, 2, &c), RT_EINVAL);
    CHECK_PTR_EQ(c, (rt_chan *)0x1234);

    /* no overflow, but far too large */
    int rc = rt_chan_make(1, SIZE_MAX / 2, &c);
    CHECK(rc == RT_EINVAL || rc == RT_ENOMEM);
    rc = rt_chan_make(100, (size_t)1 << 50, &c);
    CHECK(rc == RT_EINVAL || rc == RT_ENOMEM);
    rc = rt_chan_make(SIZE_MAX, 1, &c);
    CHECK(rc == RT_EINVAL || rc == RT_ENOMEM);
    CHECK_PTR_EQ(c, (rt_chan *)0x1234);

    /* fine */
    c = NULL;
    CHECK_RC(rt_chan_make(0, SIZE_MAX, &c), RT_OK);
    CHECK(c != NULL);
    CHECK_RC(rt_chan_free(c), RT_OK);
    c = NULL;
    CHECK_RC(rt_chan_make(1, (size_t)1 << 20, &c), RT_OK);
    CHECK_EQ(rt_chan_cap(c), (size_t)1 << 20);
    CHECK_RC(rt_chan_free(c), RT_OK);

    /* NULL handles */
    uint64_t v = 0;
    CHECK_RC(rt_chan_send(NULL, &v), RT_EINVAL);
    CHECK_RC(rt_chan_recv(NULL, &v), RT_EINVAL);
    CHECK_RC(rt_chan_trysend(NULL, &v), RT_EINVAL);
    CHECK_RC(rt_chan_tryrecv(NULL, &v), RT_EINVAL);
    CHECK_RC(rt_chan_close(NULL), RT_EINVAL);
    CHECK_RC(rt_chan_free(NULL), RT_EINVAL);

    tc_fini();
    return test_summary();
}
