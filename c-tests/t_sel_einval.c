/*
 * rt_select's bad input: a NULL case array (any n) or n = 0 -> RT_EINVAL; a case
 * with a direction other than RT_SEND/RT_RECV -> RT_EINVAL; nothing happens on the
 * other cases (the ready channel keeps its element). From a G and from a plain
 * thread.
 */
#include "test_chan.h"

static void body(void *arg)
{
    (void)arg;
    rt_chan *c;
    CHECK_RC(rt_chan_make(8, 1, &c), RT_OK);
    uint64_t v = 9;
    CHECK_RC(rt_chan_send(c, &v), RT_OK);
    rt_select_case cs[2] = { { c, RT_RECV, &v, 7 }, { c, RT_RECV, &v, 7 } };
    CHECK_RC(rt_select(NULL, 0, 0), RT_EINVAL);
    CHECK_RC(rt_select(NULL, 1, 0), RT_EINVAL);
    CHECK_RC(rt_select(NULL, 2, -1), RT_EINVAL);
    CHECK_RC(rt_select(cs, 0, 0), RT_EINVAL);
    CHECK_RC(rt_select(cs, 0, -1), RT_EINVAL);
    CHECK_RC(rt_select(cs, 0, 1000), RT_EINVAL);
    cs[1].dir = 0;
    CHECK_RC(rt_select(cs, 2, 0), RT_EINVAL);
    cs[1].dir = RT_SEND | RT_RECV;
    CHECK_RC(rt_select(cs, 2, -1), RT_EINVAL);
    cs[1].dir = -1;
    CHECK_RC(rt_select(cs, 2, -1), RT_EINVAL);
    CHECK_EQ(cs[0].result, 7);
    CHECK_EQ(rt_chan_len(c), 1);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

int main(void)
{
    tc_init(1);
    body(NULL);
    CHECK_RC(rt_main(body, NULL), RT_OK);
    tc_fini();
    return test_summary();
}
