/*
 * A closed channel refuses sends: rt_chan_send and rt_chan_trysend give RT_ECLOSED
 * (not RT_EAGAIN, even when the buffer has room or is full), nothing is added
 * (rt_chan_len unchanged), and closing again gives RT_ECLOSED. Unbuffered, buffered
 * with room and full; element sizes 0, 1, 8, 100. From a G and from a plain thread,
 * and a channel closed by a thread is closed for a G (and the reverse).
 */
#include "test_chan.h"

static void one(size_t esz, size_t cap, size_t fill)
{
    rt_chan *c;
    if (!CHECK_RC(rt_chan_make(esz, cap, &c), RT_OK))
        return;
    unsigned char buf[TC_BIG];
    tc_enc(buf, esz, 0, 7);
    for (size_t i = 0; i < fill; i++)
        CHECK_RC(rt_chan_send(c, esz ? buf : NULL), RT_OK);
    CHECK_RC(rt_chan_close(c), RT_OK);
    CHECK_RC(rt_chan_send(c, esz ? buf : NULL), RT_ECLOSED);
    CHECK_RC(rt_chan_trysend(c, esz ? buf : NULL), RT_ECLOSED);
    CHECK_EQ(rt_chan_len(c), fill);
    CHECK_RC(rt_chan_close(c), RT_ECLOSED);
    CHECK_RC(rt_chan_close(c), RT_ECLOSED);
    CHECK_EQ(rt_chan_len(c), fill);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

static void body(void *arg)
{
    (void)arg;
    for (int i = 0; i < TC_NSIZES; i++) {
        size_t esz = tc_size(i);
        one(esz, 0, 0);
        one(esz, 4, 0);
        one(esz, 4, 2);
        one(esz, 4, 4);
    }
}

/* Closed by one kind, used by the other. */
static rt_chan *shared;

static void *thread_uses(void *arg)
{
    (void)arg;
    int v = 1;
    CHECK_RC(rt_chan_send(shared, &v), RT_ECLOSED);
    CHECK_RC(rt_chan_trysend(shared, &v), RT_ECLOSED);
    CHECK_RC(rt_chan_close(shared), RT_ECLOSED);
    return NULL;
}

static void *thread_closes(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_close(shared), RT_OK);
    return NULL;
}

static void cross(void *arg)
{
    (void)arg;
    int v = 1;
    /* G closes, thread finds it closed */
    CHECK_RC(rt_chan_make(sizeof v, 1, &shared), RT_OK);
    CHECK_RC(rt_chan_close(shared), RT_OK);
    tc_join(tc_thread(thread_uses, NULL));
    CHECK_RC(rt_chan_free(shared), RT_OK);
    /* thread closes, G finds it closed */
    CHECK_RC(rt_chan_make(sizeof v, 0, &shared), RT_OK);
    tc_join(tc_thread(thread_closes, NULL));
    CHECK_RC(rt_chan_send(shared, &v), RT_ECLOSED);
    CHECK_RC(rt_chan_trysend(shared, &v), RT_ECLOSED);
    CHECK_RC(rt_chan_close(shared), RT_ECLOSED);
    CHECK_RC(rt_chan_free(shared), RT_OK);
}

int main(void)
{
    tc_init(2);
    body(NULL);
    CHECK_RC(rt_main(body, NULL), RT_OK);
    CHECK_RC(rt_main(cross, NULL), RT_OK);
    tc_fini();
    return test_summary();
}
