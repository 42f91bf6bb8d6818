/*
 * Every bad-input case of issue 2 (except the OS refusing a thread: t_enomem_rlimit_as,
 * t_eagain_nproc):
 *   NULL, foreign or dead P -> RT_EINVAL; P running elsewhere -> RT_EBUSY;
 *   a second P on one M -> RT_EALREADY; launching an M twice -> RT_EALREADY;
 *   freeing a launched M -> RT_EBUSY; NULL out-pointers -> RT_EINVAL;
 *   info/stats struct with size 0 -> RT_EINVAL.
 * After each refusal nothing has changed: the P is where it was, no M was added, and
 * (under valgrind) nothing leaked.
 */
#include "test.h"

static test_latch step = TEST_LATCH_INIT;
static rt_p *busy_p;   /* held by the runtime M "holder" */
static rt_m *holder_m;

static void holder(void *arg)
{
    (void)arg;
    CHECK_RC(rt_acquirep(busy_p), RT_OK);
    holder_m = rt_getm();
    /* A second P on this M, or the same one again. */
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_EALREADY);
    CHECK_RC(rt_acquirep(busy_p), RT_EALREADY);
    test_latch_post(&step); /* 1: holding */
    test_latch_wait(&step, 2);
    CHECK_PTR_EQ(rt_releasep(), busy_p);
    CHECK_RC(rt_p_put(busy_p), RT_OK);
    test_latch_post(&step); /* 3: released */
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    /* A plain foreign thread also gets RT_EBUSY for a P running elsewhere, and is
       not left adopted (or holding anything) by the failed call. */
    CHECK_RC(rt_acquirep(busy_p), RT_EBUSY);
    CHECK_PTR_EQ(rt_getp(), NULL);
    return NULL;
}

static void nothing(void *arg)
{
    (void)arg;
}

/* Bytes that are not a P or an M, and a real M passed as a P (and vice versa). */
static uint64_t junk[64];

static int64_t threads_now(void)
{
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    return st.threads;
}

static int idle_now(void)
{
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    return st.idle_procs;
}

int main(void)
{
    memset(junk, 0xAB, sizeof junk);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 3 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_p *p0 = rt_p_get(0), *p1 = rt_p_get(1);
    busy_p = rt_p_get(2);
    rt_p *foreign_p = (rt_p *)junk;
    rt_m *foreign_m = (rt_m *)junk;
    rt_m *m = NULL;
    CHECK_RC(rt_allocm(NULL, nothing, NULL, &m), RT_OK); /* a real, unlaunched M */
    rt_p *m_as_p = (rt_p *)m;
    rt_m *p_as_m = (rt_m *)p0;
    int64_t base_threads = threads_now();

    /* ---- NULL P -> RT_EINVAL ---- */
    CHECK_RC(rt_acquirep(NULL), RT_EINVAL);
    CHECK_RC(rt_p_put(NULL), RT_EINVAL);
    CHECK_RC(rt_p_id(NULL), RT_EINVAL);
    CHECK_RC(rt_p_status(NULL), RT_EINVAL);
    CHECK_PTR_EQ(rt_getm(), NULL); /* failed rt_acquirep did not adopt this thread */

    /* ---- foreign P (not a P at all) -> RT_EINVAL, never dereferenced ---- */
    rt_p *bad_ps[] = { foreign_p, m_as_p, (rt_p *)(junk + 1), (rt_p *)&cfg };
    for (size_t i = 0; i < sizeof bad_ps / sizeof bad_ps[0]; i++) {
        rt_p *bp = bad_ps[i];
        rt_m *out = NULL;
        CHECK_RC(rt_acquirep(bp), RT_EINVAL);
        CHECK_RC(rt_p_put(bp), RT_EINVAL);
        CHECK_RC(rt_p_id(bp), RT_EINVAL);
        CHECK_RC(rt_p_status(bp), RT_EINVAL);
        CHECK_RC(rt_newm(nothing, NULL, bp, &out), RT_EINVAL);
        CHECK_RC(rt_allocm(bp, nothing, NULL, &out), RT_EINVAL);
        CHECK_RC(rt_m_launch(m, bp), RT_EINVAL);
    }
    CHECK_PTR_EQ(rt_getm(), NULL);

    /* ---- foreign / NULL M -> RT_EINVAL ---- */
    rt_m_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    rt_m *bad_ms[] = { NULL, foreign_m, p_as_m, (rt_m *)(junk + 3) };
    for (size_t i = 0; i < sizeof bad_ms / sizeof bad_ms[0]; i++) {
        CHECK_RC(rt_m_id(bad_ms[i]), RT_EINVAL);
        CHECK_RC(rt_m_getinfo(bad_ms[i], &info), RT_EINVAL);
        CHECK_RC(rt_m_launch(bad_ms[i], NULL), RT_EINVAL);
        CHECK_RC(rt_m_free(bad_ms[i]), RT_EINVAL);
    }
    /* The junk is untouched. */
    int intact = 1;
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        intact &= junk[i] == 0xABABABABABABABABull;
    CHECK(intact);

    /* ---- NULL out-pointers -> RT_EINVAL ---- */
    CHECK_RC(rt_allocm(NULL, nothing, NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_allocm(p0, nothing, NULL, NULL), RT_EINVAL);
    CHECK_RC(rt_m_getinfo(m, NULL), RT_EINVAL);
    CHECK_RC(rt_getstats(NULL), RT_EINVAL);
    CHECK_RC(rt_p_status(p0), RT_P_IDLE); /* the failed allocm did not keep p0 */

    /* ---- size 0 (and too small) -> RT_EINVAL ---- */
    memset(&info, 0, sizeof info);
    CHECK_RC(rt_m_getinfo(m, &info), RT_EINVAL);
    info.size = 1;
    CHECK_RC(rt_m_getinfo(m, &info), RT_EINVAL);
    rt_stats st;
    memset(&st, 0, sizeof st);
    CHECK_RC(rt_getstats(&st), RT_EINVAL);
    st.size = 3;
    CHECK_RC(rt_getstats(&st), RT_EINVAL);
    rt_config zero_cfg = { 0 };
    int rc = rt_init(&zero_cfg); /* running already: either refusal is right */
    CHECK(rc == RT_EALREADY || rc == RT_EINVAL);

    /* ---- launching twice -> RT_EALREADY; freeing a launched M -> RT_EBUSY ---- */
    CHECK_RC(rt_m_launch(m, NULL), RT_OK);
    CHECK_RC(rt_m_launch(m, NULL), RT_EALREADY);
    CHECK_RC(rt_m_launch(m, p1), RT_EALREADY);
    CHECK_RC(rt_p_status(p1), RT_P_IDLE);
    CHECK_EQ(idle_now(), 3);
    CHECK_RC(rt_m_free(m), RT_EBUSY);
    CHECK(rt_m_id(m) > 0); /* still a live M */
    rt_m *m2 = NULL;
    CHECK_RC(rt_newm(nothing, NULL, NULL, &m2), RT_OK);
    CHECK_RC(rt_m_launch(m2, NULL), RT_EALREADY);
    CHECK_RC(rt_m_free(m2), RT_EBUSY);
    CHECK_EQ(threads_now(), base_threads + 2); /* m and m2 */

    /* ---- P running elsewhere -> RT_EBUSY ---- */
    CHECK_RC(rt_newm(holder, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&step, 1);
    CHECK_RC(rt_p_status(busy_p), RT_P_RUNNING);
    CHECK_RC(rt_acquirep(busy_p), RT_EBUSY);
    /* (docs/api.md: a foreign thread calling rt_acquirep is adopted as an M first, so this
       thread may be an M now, without a P.) */
    CHECK_PTR_EQ(rt_getp(), NULL);
    int64_t threads_busy = threads_now();
    CHECK_RC(rt_p_put(busy_p), RT_EBUSY);
    rt_m *out = NULL;
    CHECK_RC(rt_newm(nothing, NULL, busy_p, &out), RT_EBUSY);
    CHECK_RC(rt_allocm(busy_p, nothing, NULL, &out), RT_EBUSY);
    rt_m *m3 = NULL;
    CHECK_RC(rt_allocm(NULL, nothing, NULL, &m3), RT_OK);
    CHECK_RC(rt_m_launch(m3, busy_p), RT_EBUSY);
    CHECK_RC(rt_m_free(m3), RT_OK); /* the failed launch left it unlaunched */
    pthread_t th;
    pthread_create(&th, NULL, foreign_thread, NULL);
    pthread_join(th, NULL);
    CHECK_EQ(threads_now(), threads_busy); /* no M added by the refusals */
    /* The holder still has it. */
    rt_m_info hi;
    memset(&hi, 0, sizeof hi);
    hi.size = sizeof hi;
    CHECK_RC(rt_m_getinfo(holder_m, &hi), RT_OK);
    CHECK_EQ(hi.p, 2);

    /* The calling M runs the P itself: rt_m_launch / rt_newm with it -> RT_EBUSY;
       acquiring another (or the same) -> RT_EALREADY. */
    CHECK_RC(rt_acquirep(p0), RT_OK);
    CHECK_RC(rt_acquirep(p1), RT_EALREADY);
    CHECK_RC(rt_acquirep(p0), RT_EALREADY);
    rc = rt_acquirep(busy_p); /* held here and running there: either refusal is right */
    CHECK(rc == RT_EALREADY || rc == RT_EBUSY);
    CHECK_RC(rt_newm(nothing, NULL, p0, NULL), RT_EBUSY);
    CHECK_RC(rt_p_put(p0), RT_EBUSY);
    CHECK_PTR_EQ(rt_getp(), p0);
    CHECK_RC(rt_p_status(p1), RT_P_IDLE);

    test_latch_post(&step); /* 2: holder releases */
    test_latch_wait(&step, 3);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);
    CHECK_RC(rt_p_put(p0), RT_EALREADY);
    CHECK_EQ(idle_now(), 3);

    /* ---- dead P -> RT_EINVAL ---- */
    rt_p *p2 = rt_p_get(2);
    CHECK_RC(rt_acquirep(p2), RT_OK);
    CHECK_EQ(rt_gomaxprocs(2), 3);
    CHECK_PTR_EQ(rt_releasep(), p2);
    CHECK_RC(rt_p_status(p2), RT_P_DEAD);
    CHECK_RC(rt_acquirep(p2), RT_EINVAL);
    CHECK_RC(rt_p_put(p2), RT_EINVAL);
    CHECK_RC(rt_newm(nothing, NULL, p2, NULL), RT_EINVAL);
    CHECK_RC(rt_allocm(p2, nothing, NULL, &out), RT_EINVAL);
    rt_m *m4 = NULL;
    CHECK_RC(rt_allocm(NULL, nothing, NULL, &m4), RT_OK);
    CHECK_RC(rt_m_launch(m4, p2), RT_EINVAL);
    CHECK_RC(rt_m_free(m4), RT_OK);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_EQ(idle_now(), 2);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
