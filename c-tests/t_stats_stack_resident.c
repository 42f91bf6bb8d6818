/*
 * stack_resident_bytes (issue 7): rt_getstats used to count it by calling mincore on
 * every G's stack while holding the scheduler lock (1.35 s with 10^6 parked Gs,
 * stalling every M). Now rt_getstats reads a maintained estimate, and the mincore
 * walk runs only for rt_getstats_ex(RT_STATS_EXACT), outside the scheduler lock.
 * (Its speed is measured by `bench/run.sh getstats_1m`, not asserted here.)
 *
 * Checks that the estimate is sane and the exact count works:
 * - a fresh runtime has touched no stack: the estimate is 0;
 * - a running G sees at least one page;
 * - with NG Gs parked after each touched TOUCH bytes of its stack, both the estimate
 *   and the exact count are >= NG * TOUCH and <= stack_reserved_bytes;
 * - rt_getstats_ex: flags 0 is rt_getstats, unknown flags and NULL are RT_EINVAL;
 * - the exact walk runs safely while Gs are created and exit around it.
 */
#include "test.h"

#define NG 64
#define TOUCH (32 << 10)
#define CHURN_GS 2000

static rt_chan *gate;
static rt_wg touched = RT_WG_INIT, parked_done = RT_WG_INIT;

/* Touches `depth` frames of FRAME bytes of this G's stack (small frames: run.sh's
 * valgrind pass allows no frame above 16 KiB), then, at the deepest one, parks until
 * the gate closes: the park happens below every touched byte. */
#define FRAME 2048
static int __attribute__((noinline)) dig(int depth)
{
    volatile char buf[FRAME];
    memset((char *)buf, 1, sizeof buf);
    if (depth > 1)
        return dig(depth - 1) + buf[0];
    rt_wg_done(&touched);
    char c;
    rt_chan_recv(gate, &c);
    return buf[FRAME - 1];
}

static void toucher(void *arg)
{
    (void)arg;
    CHECK_EQ(dig(TOUCH / FRAME), TOUCH / FRAME);
    rt_wg_done(&parked_done);
}

static atomic_uint_least64_t seen_running;
static rt_wg one = RT_WG_INIT;

static void running(void *arg)
{
    (void)arg;
    rt_stats st;
    if (CHECK_RC(test_stats(&st), RT_OK))
        atomic_store(&seen_running, st.stack_resident_bytes);
    rt_wg_done(&one);
}

static rt_wg churn_wg = RT_WG_INIT;

static void churn_child(void *arg)
{
    (void)arg;
    volatile char buf[2048];
    memset((char *)buf, 2, sizeof buf);
    rt_gosched();
    rt_wg_done(&churn_wg);
}

static void *spawner(void *arg)
{
    (void)arg;
    for (int i = 0; i < CHURN_GS; i++) {
        rt_wg_add(&churn_wg, 1);
        if (!CHECK(rt_go(churn_child, NULL) > 0))
            rt_wg_done(&churn_wg);
        if (i % 64 == 0)
            usleep(100);
    }
    return NULL;
}

static int stats_ex(rt_stats *st, int flags)
{
    memset(st, 0, sizeof *st);
    st->size = sizeof *st;
    return rt_getstats_ex(st, flags);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    rt_stats st, ex;
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.stack_resident_bytes, 0);
    CHECK_RC(stats_ex(&ex, RT_STATS_EXACT), RT_OK);
    CHECK_EQ(ex.stack_resident_bytes, 0);

    /* ---- bad input ---- */
    CHECK_RC(rt_getstats_ex(NULL, 0), RT_EINVAL);
    CHECK_RC(rt_getstats_ex(NULL, RT_STATS_EXACT), RT_EINVAL);
    CHECK_RC(stats_ex(&st, 2), RT_EINVAL);
    CHECK_RC(stats_ex(&st, -1), RT_EINVAL);
    memset(&st, 0, sizeof st);
    CHECK_RC(rt_getstats_ex(&st, RT_STATS_EXACT), RT_EINVAL); /* size 0 */
    CHECK_RC(stats_ex(&st, 0), RT_OK);
    CHECK_EQ(st.maxprocs, 2);

    /* ---- a running G ---- */
    rt_wg_add(&one, 1);
    CHECK(rt_go(running, NULL) > 0);
    rt_wg_wait(&one);
    CHECK(atomic_load(&seen_running) >= 4096);

    /* ---- NG parked Gs, each with TOUCH bytes of stack touched ---- */
    CHECK_RC(rt_chan_make(1, 0, &gate), RT_OK);
    CHECK_RC(test_stats(&st), RT_OK);
    uint64_t parks0 = st.parks;
    rt_wg_add(&touched, NG);
    rt_wg_add(&parked_done, NG);
    for (int i = 0; i < NG; i++)
        CHECK(rt_go(toucher, NULL) > 0);
    rt_wg_wait(&touched);
    /* Each parks on the gate right after; wait (bounded) until all have. */
    for (int i = 0; i < 20000; i++) {
        CHECK_RC(test_stats(&st), RT_OK);
        if (st.parks >= parks0 + NG)
            break;
        usleep(500);
    }
    CHECK(st.parks >= parks0 + NG);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_RC(stats_ex(&ex, RT_STATS_EXACT), RT_OK);
    uint64_t want = (uint64_t)NG * TOUCH;
    if (!CHECK(st.stack_resident_bytes >= want) || !CHECK(ex.stack_resident_bytes >= want))
        fprintf(stderr, "  estimate %" PRIu64 ", exact %" PRIu64 ", want >= %" PRIu64 "\n",
                st.stack_resident_bytes, ex.stack_resident_bytes, want);
    CHECK(st.stack_resident_bytes <= st.stack_reserved_bytes);
    CHECK(ex.stack_resident_bytes <= ex.stack_reserved_bytes);
    /* The other fields are the same snapshot either way. */
    CHECK_EQ(ex.goroutines, st.goroutines);
    CHECK_EQ(ex.maxprocs, st.maxprocs);
    CHECK_EQ(st.goroutines, NG);

    CHECK_RC(rt_chan_close(gate), RT_OK);
    rt_wg_wait(&parked_done);

    /* ---- the exact walk while Gs come and go ---- */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, spawner, NULL), 0);
    for (int i = 0; i < 50; i++) {
        /* (Not compared with stack_reserved_bytes: stacks mapped and unmapped
         * during the walk may be counted on one side and not on the other.) */
        CHECK_RC(stats_ex(&ex, RT_STATS_EXACT), RT_OK);
        CHECK_RC(test_stats(&st), RT_OK);
        CHECK(st.stack_resident_bytes <= st.stack_reserved_bytes);
    }
    pthread_join(th, NULL);
    rt_wg_wait(&churn_wg);

    CHECK_RC(rt_chan_free(gate), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);

    /* A fresh runtime after the shutdown unmapped every stack starts from 0. */
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.stack_resident_bytes, 0);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
