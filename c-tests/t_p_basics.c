/*
 * Ps from a foreign thread: rt_p_get / rt_p_id / rt_p_status, rt_acquirep adopting the
 * calling thread as an M (its own stack is its g0), rt_getp, rt_releasep (P held, not
 * pooled), rt_p_put, and the idle-P count in rt_getstats along the way.
 */
#include "test.h"

static int idle_procs(void)
{
    rt_stats st;
    if (!CHECK_RC(test_stats(&st), RT_OK))
        return -1;
    return st.idle_procs;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 4 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    int n = rt_gomaxprocs(0);
    CHECK_EQ(n, 4);

    for (int i = 0; i < n; i++) {
        rt_p *p = rt_p_get(i);
        if (!CHECK(p != NULL))
            continue;
        CHECK_RC(rt_p_id(p), i);
        CHECK_RC(rt_p_status(p), RT_P_IDLE);
        CHECK_PTR_EQ(rt_p_get(i), p); /* stable handle */
        for (int j = 0; j < i; j++)
            CHECK(rt_p_get(j) != p);
    }
    CHECK_PTR_EQ(rt_p_get(n), NULL);
    CHECK_PTR_EQ(rt_p_get(n + 100), NULL);
    CHECK_PTR_EQ(rt_p_get(-1), NULL);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_PTR_EQ(rt_getm(), NULL);
    CHECK_PTR_EQ(rt_releasep(), NULL); /* holds none */
    CHECK_EQ(idle_procs(), n);

    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);

    /* Acquire: this thread becomes an M holding P 2. */
    rt_p *p = rt_p_get(2);
    volatile int local = 0;
    CHECK_RC(rt_acquirep(p), RT_OK);
    rt_m *self = rt_getm();
    CHECK(self != NULL);
    CHECK(rt_m_id(self) > 0);
    CHECK_PTR_EQ(rt_getp(), p);
    CHECK_RC(rt_p_status(p), RT_P_RUNNING);
    CHECK_EQ(idle_procs(), n - 1);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 1); /* adopted Ms count */

    rt_m_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    CHECK_RC(rt_m_getinfo(self, &info), RT_OK);
    CHECK_EQ(info.id, rt_m_id(self));
    CHECK_EQ(info.tid, gettid());
    CHECK_EQ(info.p, 2);
    CHECK_EQ(info.curg, 0);
    CHECK(info.g0_lo <= (uintptr_t)&local && (uintptr_t)&local < info.g0_hi);

    /* Release: P idle and held by us, not in the pool. */
    CHECK_PTR_EQ(rt_releasep(), p);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_PTR_EQ(rt_releasep(), NULL);
    CHECK_PTR_EQ(rt_getm(), self); /* stays an M */
    CHECK_RC(rt_p_status(p), RT_P_IDLE);
    CHECK_EQ(idle_procs(), n - 1);
    CHECK_RC(rt_m_getinfo(self, &info), RT_OK);
    CHECK_EQ(info.p, -1);

    /* Re-acquire the held P directly, release again, then give it back. */
    CHECK_RC(rt_acquirep(p), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p);
    CHECK_RC(rt_p_put(p), RT_OK);
    CHECK_EQ(idle_procs(), n);
    CHECK_RC(rt_p_put(p), RT_EALREADY); /* already in the pool */
    CHECK_RC(rt_p_status(p), RT_P_IDLE);

    /* Acquire each P in turn from this M. */
    for (int i = 0; i < n; i++) {
        rt_p *q = rt_p_get(i);
        CHECK_RC(rt_acquirep(q), RT_OK);
        CHECK_PTR_EQ(rt_getp(), q);
        CHECK_RC(rt_m_getinfo(self, &info), RT_OK);
        CHECK_EQ(info.p, i);
        CHECK_PTR_EQ(rt_releasep(), q);
        CHECK_RC(rt_p_put(q), RT_OK);
    }
    CHECK_EQ(idle_procs(), n);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 1); /* still the one adopted M */

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
