/*
 * rt_allocm + rt_m_launch (+ nextp) + rt_m_free: an allocated M has an id but no
 * thread; launching runs its start function on a new thread; an M with a nextp takes
 * that P after its start function, finds nothing to run and puts it back in the pool;
 * a P held by the caller (after rt_releasep) can be the nextp; an unlaunched M is freed;
 * rt_allocm borrows the given P when the caller holds none and leaves it where it was.
 */
#include "test.h"

#include <time.h>

struct seen {
    int64_t id;
    pid_t tid;
    rt_p *p;
    int32_t info_p;
};

static struct seen seen[8];
static test_latch started = TEST_LATCH_INIT;

static void record(void *arg)
{
    struct seen *s = arg;
    s->id = rt_m_id(rt_getm());
    s->tid = gettid();
    s->p = rt_getp();
    rt_m_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    s->info_p = rt_m_getinfo(rt_getm(), &info) == RT_OK ? info.p : -2;
    test_latch_post(&started);
}

/* An M with a nextp runs its start function, takes the P, finds no G, puts the P back
   in the pool and parks. Nothing signals "P back in the pool", so poll (bounded, 10 s)
   until the P can be acquired from here; that is the property under test. */
static bool acquire_when_pooled(rt_p *p)
{
    for (int i = 0; i < 10000; i++) {
        int rc = rt_acquirep(p);
        if (rc == RT_OK)
            return true;
        if (rc != RT_EBUSY) {
            CHECK_RC(rc, RT_EBUSY);
            return false;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    FAIL("P %d never came back to the pool", rt_p_id(p));
    return false;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 3 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);

    /* Allocated, not launched: an id, tid 0, no thread yet. */
    rt_m *m = NULL;
    CHECK_RC(rt_allocm(NULL, record, &seen[0], &m), RT_OK);
    if (!CHECK(m != NULL))
        return test_summary();
    int64_t id = rt_m_id(m);
    CHECK(id > 0);
    rt_m_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    CHECK_RC(rt_m_getinfo(m, &info), RT_OK);
    CHECK_EQ(info.id, id);
    CHECK_EQ(info.tid, 0);
    CHECK_EQ(info.p, -1);
    int threads_before = test_os_threads();

    /* Launch: fn runs on a new thread that is this M. */
    CHECK_RC(rt_m_launch(m, NULL), RT_OK);
    test_latch_wait(&started, 1);
    CHECK_EQ(seen[0].id, id);
    CHECK(seen[0].tid != gettid());
    CHECK_PTR_EQ(seen[0].p, NULL);
    CHECK_RC(rt_m_getinfo(m, &info), RT_OK);
    CHECK_EQ(info.tid, seen[0].tid);
    CHECK(test_os_threads() >= threads_before + 1);
    /* Launched once only; a launched M cannot be freed. */
    CHECK_RC(rt_m_launch(m, NULL), RT_EALREADY);
    CHECK_RC(rt_m_launch(m, rt_p_get(1)), RT_EALREADY);
    CHECK_RC(rt_p_status(rt_p_get(1)), RT_P_IDLE); /* the failed launch left P 1 alone */
    CHECK_RC(rt_m_free(m), RT_EBUSY);
    CHECK_EQ(rt_m_id(m), id);

    /* Allocate and free without launching: nothing runs, nothing leaks. */
    for (int i = 0; i < 8; i++) {
        rt_m *f = NULL;
        CHECK_RC(rt_allocm(NULL, record, NULL, &f), RT_OK);
        CHECK(f != NULL && rt_m_id(f) > 0);
        CHECK_RC(rt_m_free(f), RT_OK);
    }
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + 1);

    /* nextp from the idle pool: fn runs without a P, then the M takes P 2 and
       (nothing to run) gives it back to the pool. */
    rt_p *p2 = rt_p_get(2);
    rt_m *m2 = NULL;
    CHECK_RC(rt_allocm(NULL, record, &seen[1], &m2), RT_OK);
    CHECK_RC(rt_m_launch(m2, p2), RT_OK);
    test_latch_wait(&started, 2);
    CHECK_PTR_EQ(seen[1].p, NULL);
    CHECK_EQ(seen[1].info_p, -1);
    if (acquire_when_pooled(p2)) {
        /* This thread is now an M holding P 2. */
        CHECK_PTR_EQ(rt_getp(), p2);
        CHECK_PTR_EQ(rt_releasep(), p2);
        CHECK_RC(rt_p_put(p2), RT_OK);
    }

    /* nextp held by the caller after rt_releasep: main adopts P 1, releases it (held,
       not pooled) and hands it to a new M. */
    rt_p *p1 = rt_p_get(1);
    CHECK_RC(rt_acquirep(p1), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p1);
    rt_m *m3 = NULL;
    CHECK_RC(rt_allocm(NULL, record, &seen[2], &m3), RT_OK);
    CHECK_RC(rt_m_launch(m3, p1), RT_OK);
    test_latch_wait(&started, 3);
    if (acquire_when_pooled(p1)) {
        CHECK_PTR_EQ(rt_releasep(), p1);
        CHECK_RC(rt_p_put(p1), RT_OK);
    }

    /* nextp that the caller itself is running: RT_EBUSY, and the M is still unlaunched
       (free it, or launch it later without the P). */
    rt_p *p0 = rt_p_get(0);
    CHECK_RC(rt_acquirep(p0), RT_OK);
    rt_m *m4 = NULL, *m5 = NULL;
    CHECK_RC(rt_allocm(NULL, record, &seen[3], &m4), RT_OK);
    CHECK_RC(rt_m_launch(m4, p0), RT_EBUSY);
    CHECK_PTR_EQ(rt_getp(), p0);
    CHECK_RC(rt_m_free(m4), RT_OK);
    CHECK_RC(rt_allocm(NULL, record, &seen[3], &m5), RT_OK);
    CHECK_RC(rt_m_launch(m5, p0), RT_EBUSY);
    CHECK_RC(rt_m_launch(m5, NULL), RT_OK);
    test_latch_wait(&started, 4);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);

    /* rt_allocm borrows a P when the calling M holds none, and leaves it where it was:
       a pooled P stays available, a held P stays held (rt_p_put accepts it). */
    rt_m *a = NULL;
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_RC(rt_allocm(p0, NULL, NULL, &a), RT_OK);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_RC(rt_p_status(p0), RT_P_IDLE);
    CHECK_RC(rt_m_free(a), RT_OK);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.idle_procs, 3);
    CHECK_RC(rt_acquirep(p0), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p0); /* held */
    CHECK_RC(rt_allocm(p0, NULL, NULL, &a), RT_OK);
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_RC(rt_p_status(p0), RT_P_IDLE);
    CHECK_RC(rt_p_put(p0), RT_OK); /* still held by us: the put is accepted */
    CHECK_RC(rt_m_launch(a, NULL), RT_OK);
    /* A caller that holds a P passes another: the P is not borrowed, allocm works. */
    CHECK_RC(rt_acquirep(p0), RT_OK);
    rt_m *b = NULL;
    CHECK_RC(rt_allocm(rt_p_get(1), NULL, NULL, &b), RT_OK);
    CHECK_PTR_EQ(rt_getp(), p0);
    CHECK_RC(rt_p_status(rt_p_get(1)), RT_P_IDLE);
    CHECK_RC(rt_m_free(b), RT_OK);
    CHECK_PTR_EQ(rt_releasep(), p0);
    CHECK_RC(rt_p_put(p0), RT_OK);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
