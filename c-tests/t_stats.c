/*
 * rt_getstats: maxprocs, idle_procs and threads follow Ms and Ps (runtime-created and
 * adopted Ms; Ps taken and returned); goroutine counters are zero (no Gs yet).
 * Size-versioned structs (rt_stats, rt_m_info): size 0 or too small for the first field
 * -> RT_EINVAL; a smaller known prefix is filled without writing past `size`; a larger
 * size than the library knows is accepted and the unknown tail is left alone.
 */
#include "test.h"

#include <stddef.h>

static test_latch started = TEST_LATCH_INIT;
static test_latch go = TEST_LATCH_INIT;

static void park_until_go(void *arg)
{
    (void)arg;
    test_latch_post(&started);
    test_latch_wait(&go, 1);
}

static test_latch adopted = TEST_LATCH_INIT;
static test_latch let_exit = TEST_LATCH_INIT;

static void *adopt_and_wait(void *arg)
{
    CHECK_RC(rt_acquirep((rt_p *)arg), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), arg);
    CHECK_RC(rt_p_put((rt_p *)arg), RT_OK);
    test_latch_post(&adopted);
    test_latch_wait(&let_exit, 1);
    return NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 3 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);
    CHECK_EQ(st0.size, sizeof st0);
    CHECK_EQ(st0.maxprocs, 3);
    CHECK_EQ(st0.idle_procs, 3);
    CHECK(st0.threads >= 0);
    CHECK(st0.idle_threads >= 0 && st0.idle_threads <= st0.threads);
    CHECK_EQ(st0.goroutines, 0);
    CHECK_EQ(st0.runnable, 0);
    CHECK_EQ(st0.global_runq, 0);
    CHECK_EQ(st0.gs_created, 0);
    CHECK_EQ(st0.gs_exited, 0);

    /* Runtime-created Ms count while they run their start functions ... */
    for (int i = 0; i < 5; i++)
        CHECK_RC(rt_newm(park_until_go, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 5);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 5);
    CHECK_EQ(st.idle_procs, 3);
    /* ... and after them (parked on the idle-M list). */
    test_latch_post(&go);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 5);

    /* Adopted Ms count too; a P taken by one is not idle. */
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_OK);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 6);
    CHECK_EQ(st.idle_procs, 2);
    CHECK_RC(rt_acquirep(rt_p_get(1)), RT_EALREADY);
    pthread_t th;
    pthread_create(&th, NULL, adopt_and_wait, rt_p_get(1));
    test_latch_wait(&adopted, 1);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 7);
    CHECK_EQ(st.idle_procs, 2);
    /* The adopted thread exits: its M is given back. */
    test_latch_post(&let_exit);
    pthread_join(th, NULL);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 6);
    CHECK_PTR_EQ(rt_releasep(), rt_p_get(0));
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.idle_procs, 2); /* held, not pooled */
    CHECK_RC(rt_p_put(rt_p_get(0)), RT_OK);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.idle_procs, 3);

    /* gomaxprocs shows in maxprocs / idle_procs. */
    CHECK_EQ(rt_gomaxprocs(5), 3);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.maxprocs, 5);
    CHECK_EQ(st.idle_procs, 5);
    CHECK_EQ(rt_gomaxprocs(2), 5);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.maxprocs, 2);
    CHECK_EQ(st.idle_procs, 2);

    /* ---- size versioning: rt_stats ---- */
    CHECK_RC(rt_getstats(NULL), RT_EINVAL);
    union {
        rt_stats st;
        unsigned char bytes[sizeof(rt_stats) + 64];
    } buf;
    memset(&buf, 0xA5, sizeof buf);
    buf.st.size = 0;
    CHECK_RC(rt_getstats(&buf.st), RT_EINVAL);
    buf.st.size = sizeof(uint32_t); /* only the size field itself */
    CHECK_RC(rt_getstats(&buf.st), RT_EINVAL);
    /* A prefix that holds maxprocs only: filled; nothing at or past `size` written. */
    memset(&buf, 0xA5, sizeof buf);
    buf.st.size = offsetof(rt_stats, idle_procs);
    CHECK_RC(rt_getstats(&buf.st), RT_OK);
    CHECK_EQ(buf.st.maxprocs, 2);
    int untouched = 1;
    for (size_t i = offsetof(rt_stats, idle_procs); i < sizeof buf; i++)
        untouched &= buf.bytes[i] == 0xA5;
    CHECK(untouched);
    /* Larger than the library knows: accepted, the tail left alone. */
    memset(&buf, 0xA5, sizeof buf);
    buf.st.size = sizeof buf;
    CHECK_RC(rt_getstats(&buf.st), RT_OK);
    CHECK_EQ(buf.st.maxprocs, 2);
    CHECK_EQ(buf.st.idle_procs, 2);
    CHECK_EQ(buf.st.threads, st0.threads + 6);
    untouched = 1;
    for (size_t i = sizeof(rt_stats); i < sizeof buf; i++)
        untouched &= buf.bytes[i] == 0xA5;
    CHECK(untouched);

    /* ---- size versioning: rt_m_info ---- */
    rt_m *self = rt_getm();
    CHECK(self != NULL);
    union {
        rt_m_info info;
        unsigned char bytes[sizeof(rt_m_info) + 64];
    } ib;
    CHECK_RC(rt_m_getinfo(self, NULL), RT_EINVAL);
    memset(&ib, 0xA5, sizeof ib);
    ib.info.size = 0;
    CHECK_RC(rt_m_getinfo(self, &ib.info), RT_EINVAL);
    ib.info.size = sizeof(uint32_t);
    CHECK_RC(rt_m_getinfo(self, &ib.info), RT_EINVAL);
    memset(&ib, 0xA5, sizeof ib);
    ib.info.size = offsetof(rt_m_info, tid); /* just the id */
    CHECK_RC(rt_m_getinfo(self, &ib.info), RT_OK);
    CHECK_EQ(ib.info.id, rt_m_id(self));
    untouched = 1;
    for (size_t i = offsetof(rt_m_info, tid); i < sizeof ib; i++)
        untouched &= ib.bytes[i] == 0xA5;
    CHECK(untouched);
    memset(&ib, 0xA5, sizeof ib);
    ib.info.size = sizeof ib;
    CHECK_RC(rt_m_getinfo(self, &ib.info), RT_OK);
    CHECK_EQ(ib.info.id, rt_m_id(self));
    CHECK_EQ(ib.info.tid, gettid());
    CHECK_EQ(ib.info.p, -1);
    untouched = 1;
    for (size_t i = sizeof(rt_m_info); i < sizeof ib; i++)
        untouched &= ib.bytes[i] == 0xA5;
    CHECK(untouched);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
