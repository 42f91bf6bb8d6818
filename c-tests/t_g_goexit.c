/*
 * rt_goexit (Go's runtime.Goexit).
 *  - It ends the calling G at once, from any call depth: the code after it never runs;
 *    rt_getstats counts the G in gs_exited (and goroutines drops back).
 *  - Many Gs ending by rt_goexit, some after yielding or parking: all counted; their
 *    descriptors and stacks are reused (stack bytes do not grow without bound).
 *  - rt_goexit in rt_main's G ends it: rt_main returns RT_OK.
 *  - Outside a G it is a no-op: on a foreign thread, on an adopted thread, on an M's
 *    g0 (its start function goes on).
 */
#include "test.h"

#define BOUND 5000000L

static atomic_int after_goexit, before_goexit;

static void __attribute__((noinline)) deep(int depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    if (depth > 0) {
        deep(depth - 1);
    } else {
        atomic_fetch_add(&before_goexit, 1);
        rt_goexit();
    }
    (void)pad[0];
    atomic_fetch_add(&after_goexit, 1); /* never */
}

static void exits_deep(void *arg)
{
    int how = (int)(intptr_t)arg;
    if (how == 1)
        rt_gosched();
    deep(20);
    atomic_fetch_add(&after_goexit, 1); /* never */
}

static bool never_ready(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return false; /* resume at once */
}

static void exits_after_park(void *arg)
{
    (void)arg;
    CHECK_RC(rt_park(never_ready, NULL), RT_OK);
    rt_goexit();
    atomic_fetch_add(&after_goexit, 1); /* never */
}

/* Bounded wait until gs_exited reaches `want` (a G counts once its M recycled it). */
static bool wait_exited(uint64_t want)
{
    rt_stats st;
    for (long n = 0; n < BOUND; n++) {
        if (test_stats(&st) == RT_OK && st.gs_exited >= want)
            return true;
        test_relax();
    }
    return false;
}

static int main_after;

static void main_g(void *arg)
{
    (void)arg;
    CHECK(rt_go(exits_deep, NULL) > 0);
    rt_gosched();
    rt_goexit();
    main_after = 1; /* never */
}

static test_latch g0_done = TEST_LATCH_INIT;
static int g0_after;

static void on_g0(void *arg)
{
    (void)arg;
    rt_goexit(); /* no-op on g0 */
    g0_after = 1;
    test_latch_post(&g0_done);
}

static void *on_foreign(void *arg)
{
    (void)arg;
    rt_goexit();
    *(int *)arg = 1;
    return NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    /* outside a G: no-op */
    rt_goexit();
    int foreign_after = 0;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, on_foreign, &foreign_after), 0);
    pthread_join(t, NULL);
    CHECK_EQ(foreign_after, 1);
    CHECK_RC(rt_newm(on_g0, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&g0_done, 1);
    CHECK_EQ(g0_after, 1);

    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);

    /* One G. */
    CHECK(rt_go(exits_deep, NULL) > 0);
    CHECK(wait_exited(st0.gs_exited + 1));
    CHECK_EQ(atomic_load(&before_goexit), 1);
    CHECK_EQ(atomic_load(&after_goexit), 0);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.gs_created, st0.gs_created + 1);
    CHECK_EQ(st.gs_exited, st0.gs_exited + 1);
    CHECK_EQ(st.goroutines, 0);
    uint64_t one_stack = st.stack_reserved_bytes - st0.stack_reserved_bytes;
    CHECK(one_stack > 0);

    /* Many, in waves: descriptors and stacks are reused. */
    const int waves = 10, per_wave = 300;
    for (int w = 0; w < waves; w++) {
        for (int i = 0; i < per_wave; i++) {
            void (*fn)(void *) = i % 3 == 2 ? exits_after_park : exits_deep;
            CHECK(rt_go(fn, (void *)(intptr_t)(i % 2)) > 0);
        }
        CHECK(wait_exited(st0.gs_exited + 1 + (uint64_t)(w + 1) * per_wave));
    }
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.gs_exited, st0.gs_exited + 1 + waves * per_wave);
    CHECK_EQ(st.goroutines, 0);
    CHECK_EQ(atomic_load(&after_goexit), 0);
    /* Later waves reuse the stacks of earlier ones: no more stacks than one wave's
     * Gs plus what the caches hold (a per-P cache of 64 stacks on each P, libmrt's
     * internal bound, and as much again in the global one). */
    uint64_t bound = one_stack * (per_wave + 4 * 64);
    if (!CHECK(st.stack_reserved_bytes <= bound))
        fprintf(stderr, "  stack_reserved_bytes %" PRIu64 " (%" PRIu64 " stacks) after %d waves\n",
                st.stack_reserved_bytes, st.stack_reserved_bytes / one_stack, waves);

    /* rt_main's G ends by rt_goexit: rt_main returns. */
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(main_after, 0);
    rt_goexit(); /* adopted thread, no G: no-op */

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
