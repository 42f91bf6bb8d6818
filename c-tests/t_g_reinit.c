/*
 * Gs across rt_shutdown / rt_init: many times in a row, a fresh runtime runs a G that
 * a foreign thread submits (global queue), one submitted from a G (runnext), and
 * rt_main's G; rt_getstats shows no live G and no spinning M left over from the
 * previous runtime right after rt_init; rt_shutdown returns RT_OK.
 * Waits are bounded, so a G that never runs fails a CHECK instead of hanging.
 */
#include "test.h"

#define ROUNDS 200

static atomic_int ran;
static test_latch ran_latch = TEST_LATCH_INIT;

static void nop(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    test_latch_post(&ran_latch);
}

static void spawner(void *arg)
{
    (void)arg;
    CHECK(rt_go(nop, NULL) > 0);
    atomic_fetch_add(&ran, 1);
    test_latch_post(&ran_latch);
}

static void main_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    long posts = 0;
    int stuck = 0;
    for (int r = 0; r < ROUNDS; r++) {
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        rt_stats st;
        CHECK_RC(test_stats(&st), RT_OK);
        CHECK_EQ(st.goroutines, 0);
        if (!CHECK_EQ(st.spinning_threads, 0))
            fprintf(stderr, "  round %d: spinning_threads %" PRId64 " right after rt_init\n", r,
                    st.spinning_threads);
        atomic_store(&ran, 0);
        CHECK(rt_go(nop, NULL) > 0);
        CHECK(rt_go(spawner, NULL) > 0);
        posts += 3;
        if (!test_latch_wait_for(&ran_latch, posts, test_under_valgrind() ? 60 : 10)) {
            test_stats(&st);
            FAIL("round %d: %d of 3 Gs ran (spinning_threads %" PRId64 ", idle_procs %d, "
                 "global_runq %" PRId64 ")", r, atomic_load(&ran), st.spinning_threads,
                 st.idle_procs, st.global_runq);
            stuck = 1;
            break;
        }
        CHECK_RC(rt_main(main_g, NULL), RT_OK);
        CHECK_EQ(atomic_load(&ran), 4);
        CHECK_RC(rt_shutdown(10LL * 1000 * 1000 * 1000), RT_OK);
    }
    if (stuck) {
        fflush(stderr);
        _exit(test_summary() | 1); /* the runtime cannot be shut down cleanly */
    }
    return test_summary();
}
