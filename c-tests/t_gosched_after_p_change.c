/*
 * rt_gosched's fast path after the calling M changed P. The fast path walks the run
 * queue of the P its thread last yielded on (a guess kept in TLS, checked against the
 * M's own P): a guess left stale by a change of P would yield into the queue of a P
 * the M no longer holds.
 *
 * The main thread, adopted as an M, holds both Ps of the runtime (so no other M can
 * run anything) and takes turns with them: each round it acquires one, starts two Gs
 * on it and runs them with rt_schedule(RT_SCHED_ONCE), then releases it. The two Gs
 * yield to each other YIELDS times; on one P with nothing else runnable every
 * rt_gosched switches to the other G, so their passes alternate (short runs of one G
 * happen only while the other waits in the global queue, see MAX_RUN). With a stale
 * guess a G would find the other P's queue (empty) and keep running: all its YIELDS
 * passes in a row. Also checked: every round's Gs end in that round, and the M
 * holds the P it acquired. run.sh runs it also with MRT_DEBUG=migrate (the general
 * path: the alternation then is not checked, the Gs may run through the global
 * queue).
 */
#include "test.h"

#define ROUNDS 40
#define YIELDS 500L
/* Passes of one G in a row allowed: a G made from g0 sometimes waits in the global
 * queue, which the scheduler looks at every 61 ticks (seen: runs of 61). */
#define MAX_RUN 122

static atomic_long passes;
static atomic_int last = -1, run_len, longest_run, ended;
static int check_alternation;

static void yielder(void *arg)
{
    int who = (int)(intptr_t)arg;
    for (long i = 0; i < YIELDS; i++) {
        int len = atomic_exchange(&last, who) == who ? atomic_load(&run_len) + 1 : 1;
        atomic_store(&run_len, len);
        if (check_alternation && len > atomic_load(&longest_run))
            atomic_store(&longest_run, len);
        atomic_fetch_add(&passes, 1);
        rt_gosched();
    }
    atomic_fetch_add(&ended, 1);
}

int main(void)
{
    const char *dbg = getenv("MRT_DEBUG");
    check_alternation = !(dbg && strstr(dbg, "migrate"));
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    /* Both Ps out of the pool, held by this thread. */
    rt_p *ps[2];
    for (int i = 0; i < 2; i++) {
        ps[i] = rt_p_get(i);
        if (!CHECK(ps[i] != NULL))
            return test_summary();
        CHECK_RC(rt_acquirep(ps[i]), RT_OK);
        CHECK(rt_releasep() == ps[i]);
    }

    for (int r = 0; r < ROUNDS; r++) {
        rt_p *p = ps[r % 2];
        CHECK_RC(rt_acquirep(p), RT_OK);
        atomic_store(&passes, 0);
        atomic_store(&ended, 0);
        atomic_store(&last, -1);
        CHECK(rt_go(yielder, (void *)(intptr_t)0) > 0);
        CHECK(rt_go(yielder, (void *)(intptr_t)1) > 0);
        /* Runs both to the end: nothing else can take them (no idle P). */
        for (int k = 0; k < 100 && atomic_load(&ended) < 2; k++)
            CHECK(rt_schedule(RT_SCHED_ONCE) >= 0);
        CHECK_EQ(atomic_load(&ended), 2);
        CHECK_EQ(atomic_load(&passes), 2 * YIELDS);
        CHECK(rt_getp() == p);
        CHECK(rt_releasep() == p);
        if (check_alternation && !CHECK(atomic_load(&longest_run) <= MAX_RUN))
            printf("round %d (P%d): one G ran %d passes in a row\n", r, rt_p_id(p),
                   atomic_load(&longest_run));
        atomic_store(&longest_run, 0);
    }

    for (int i = 0; i < 2; i++)
        CHECK_RC(rt_p_put(ps[i]), RT_OK);
    CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
    return test_summary();
}
