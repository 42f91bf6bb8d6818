/*
 * rt_newm: many Ms; each start function runs on its own thread, on the M's g0, with
 * rt_getm() != NULL, a distinct rt_m_id, and rt_m_getinfo agreeing with what the thread
 * sees (tid == gettid(), g0 bounds containing a local, no P and no G yet). The handle
 * handed back matches. Also: the g0 size from rt_config, rt_newm from inside an M,
 * fn == NULL, out == NULL, and rt_getstats counting the Ms.
 */
#include "test.h"

#define NM 24

struct seen {
    int index;
    rt_m *self;        /* rt_getm() inside */
    int64_t id;        /* rt_m_id(rt_getm()) inside */
    pid_t tid;         /* gettid() inside */
    rt_m_info info;    /* rt_m_getinfo inside */
    int info_rc;
    uintptr_t local;   /* address of a local of the start function */
    rt_p *p;           /* rt_getp() inside */
};

static struct seen seen[NM];
static test_latch started = TEST_LATCH_INIT;

static void record(void *arg)
{
    struct seen *s = arg;
    volatile int local = s->index;
    s->self = rt_getm();
    s->id = rt_m_id(s->self);
    s->tid = gettid();
    memset(&s->info, 0, sizeof s->info);
    s->info.size = sizeof s->info;
    s->info_rc = rt_m_getinfo(s->self, &s->info);
    s->local = (uintptr_t)&local;
    s->p = rt_getp();
    test_latch_post(&started);
}

/* An M that creates another M from its start function. */
static struct seen nested;
static void spawn_nested(void *arg)
{
    (void)arg;
    CHECK_RC(rt_newm(record, &nested, NULL, NULL), RT_OK);
    test_latch_post(&started);
}

static void check_seen(const struct seen *s, size_t min_g0)
{
    CHECK(s->self != NULL);
    CHECK(s->id > 0);
    CHECK_RC(s->info_rc, RT_OK);
    CHECK_EQ(s->info.id, s->id);
    CHECK_EQ(s->info.tid, s->tid);
    CHECK(s->tid != getpid());
    CHECK(s->info.g0_lo < s->info.g0_hi);
    CHECK(s->info.g0_lo <= s->local && s->local < s->info.g0_hi);
    CHECK(s->info.g0_hi - s->info.g0_lo >= min_g0);
    CHECK_EQ(s->info.p, -1); /* fn runs before nextp is acquired; here there is none */
    CHECK_EQ(s->info.curg, 0);
    CHECK_EQ(s->info.lockedg, 0);
    CHECK_PTR_EQ(s->p, NULL);
}

int main(void)
{
    rt_stats st0, st;
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_PTR_EQ(rt_getm(), NULL); /* main is a foreign thread */
    CHECK_RC(test_stats(&st0), RT_OK);

    rt_m *ms[NM];
    for (int i = 0; i < NM; i++) {
        seen[i].index = i;
        ms[i] = NULL;
        CHECK_RC(rt_newm(record, &seen[i], NULL, &ms[i]), RT_OK);
        CHECK(ms[i] != NULL);
    }
    test_latch_wait(&started, NM);

    for (int i = 0; i < NM; i++) {
        check_seen(&seen[i], 256 << 10); /* default g0 >= 256 KiB */
        CHECK_PTR_EQ(seen[i].self, ms[i]);
        CHECK_EQ(rt_m_id(ms[i]), seen[i].id);
        /* The same information from outside, after the start function returned. */
        rt_m_info info;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        CHECK_RC(rt_m_getinfo(ms[i], &info), RT_OK);
        CHECK_EQ(info.id, seen[i].id);
        CHECK_EQ(info.tid, seen[i].tid);
        CHECK_EQ(info.g0_lo, seen[i].info.g0_lo);
        CHECK_EQ(info.g0_hi, seen[i].info.g0_hi);
        for (int j = 0; j < i; j++) {
            CHECK(seen[i].id != seen[j].id);
            CHECK(seen[i].tid != seen[j].tid);
            CHECK(ms[i] != ms[j]);
            /* g0 stacks do not overlap */
            CHECK(seen[i].info.g0_hi <= seen[j].info.g0_lo ||
                  seen[j].info.g0_hi <= seen[i].info.g0_lo);
        }
    }
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + NM);
    CHECK_EQ(st.idle_procs, st.maxprocs); /* no M took a P */
    CHECK_PTR_EQ(rt_getm(), NULL);        /* creating Ms did not adopt main */

    /* fn == NULL and out == NULL are both allowed. */
    rt_m *noop = NULL;
    CHECK_RC(rt_newm(NULL, NULL, NULL, &noop), RT_OK);
    CHECK(noop != NULL);
    CHECK(rt_m_id(noop) > 0);
    nested.index = -1;
    CHECK_RC(rt_newm(spawn_nested, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, NM + 2);
    check_seen(&nested, 256 << 10);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.threads, st0.threads + NM + 3);
    CHECK_RC(rt_shutdown(-1), RT_OK);

    /* rt_config.g0_stack_size is the usable size of every runtime-created M. */
    rt_config cfg = { .size = sizeof cfg, .g0_stack_size = 1 << 20 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int i = 0; i < 4; i++)
        CHECK_RC(rt_newm(record, &seen[i], NULL, NULL), RT_OK);
    test_latch_wait(&started, NM + 2 + 4);
    for (int i = 0; i < 4; i++)
        check_seen(&seen[i], 1 << 20);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
