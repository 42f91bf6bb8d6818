/*
 * Yield progress (the idea of Go's proc_test.go TestYieldProgress and
 * TestYieldLockedProgress): on 1 P, a G that spins calling rt_gosched lets the other
 * Gs run, so they can make progress and finally tell it to stop; also when the
 * spinning G is wired to its M with rt_lockosthread (the P then goes back and forth
 * between the locked M and another M). And a ring of Gs that each wait, yielding,
 * for their turn: every G makes progress in a fair round-robin. And a G queued on the
 * global queue (rt_go from a foreign thread) while a G spins with rt_gosched on the
 * only P: the spinner's yields must let it run (Go: the global queue is looked at when
 * the local one is empty, and every 61st tick).
 * All waits are bounded by a number of yields: a scheduler that does not yield to
 * the others fails a CHECK instead of hanging.
 */
#include "test.h"

#define MAX_YIELDS 2000000L

static atomic_int stop, acked;
static atomic_long spins;

static void spinner(void *arg)
{
    bool locked = arg != NULL;
    int64_t tid = test_gettid();
    if (locked)
        CHECK_RC(rt_lockosthread(), RT_OK);
    long n = 0;
    while (!atomic_load(&stop) && n < MAX_YIELDS) {
        rt_gosched();
        n++;
        if (locked && test_gettid() != tid) {
            FAIL("locked spinner resumed on another thread");
            break;
        }
    }
    atomic_store(&spins, n);
    CHECK(atomic_load(&stop));
    if (locked)
        CHECK_RC(rt_unlockosthread(), RT_OK);
    atomic_store(&acked, 1);
}

static void run_progress(bool locked)
{
    atomic_store(&stop, 0);
    atomic_store(&acked, 0);
    atomic_store(&spins, 0);
    CHECK(rt_go(spinner, locked ? (void *)1 : NULL) > 0);
    /* Let the spinner run for a while: we get the P back each time it yields. */
    for (int i = 0; i < 1000; i++)
        rt_gosched();
    atomic_store(&stop, 1);
    long n = 0;
    while (!atomic_load(&acked) && n < MAX_YIELDS) {
        rt_gosched();
        n++;
    }
    CHECK(atomic_load(&acked));
    /* It did spin (we were not just running alone) and stopped because we told it. */
    CHECK(atomic_load(&spins) > 0);
    CHECK(atomic_load(&spins) < MAX_YIELDS);
}

/* A ring: G i waits (yielding) until turn % N == i, then passes the turn on. */
#define RING 8
#define ROUNDS 2000
static atomic_long turn;
static atomic_int ring_done;

static void ring_member(void *arg)
{
    long me = (long)(intptr_t)arg;
    for (long r = 0; r < ROUNDS; r++) {
        long want = r * RING + me;
        long n = 0;
        while (atomic_load(&turn) != want && n < MAX_YIELDS) {
            rt_gosched();
            n++;
        }
        if (!CHECK_EQ(atomic_load(&turn), want))
            break;
        atomic_store(&turn, want + 1);
    }
    atomic_fetch_add(&ring_done, 1);
}

static void main_g(void *arg)
{
    (void)arg;
    run_progress(false);
    run_progress(true);
    run_progress(false);

    atomic_store(&turn, 0);
    for (long i = 0; i < RING; i++)
        CHECK(rt_go(ring_member, (void *)(intptr_t)i) > 0);
    long n = 0;
    while (atomic_load(&ring_done) < RING && n < 50 * MAX_YIELDS) {
        rt_gosched();
        n++;
    }
    CHECK_EQ(atomic_load(&ring_done), RING);
    CHECK_EQ(atomic_load(&turn), (long)RING * ROUNDS);
}

/* Global queue: the spinner starts first, the G that stops it comes later. */
static atomic_int spinner_started, setter_ran;

static void global_spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinner_started, 1);
    long n = 0;
    while (!atomic_load(&stop) && n < MAX_YIELDS) {
        rt_gosched();
        n++;
    }
    if (!CHECK(atomic_load(&stop)))
        fprintf(stderr, "  a G on the global queue never ran while a G yielded %ld times\n", n);
    atomic_store(&acked, 1);
}

static void setter(void *arg)
{
    (void)arg;
    atomic_store(&setter_ran, 1);
    atomic_store(&stop, 1);
}

static void run_global_progress(void)
{
    atomic_store(&stop, 0);
    atomic_store(&acked, 0);
    atomic_store(&spinner_started, 0);
    atomic_store(&setter_ran, 0);
    CHECK(rt_go(global_spinner, NULL) > 0);
    for (long n = 0; !atomic_load(&spinner_started) && n < MAX_YIELDS; n++)
        test_relax();
    CHECK(atomic_load(&spinner_started));
    CHECK(rt_go(setter, NULL) > 0); /* from this foreign thread: global queue */
    for (long n = 0; !(atomic_load(&acked) && atomic_load(&setter_ran)) && n < 10 * MAX_YIELDS;
         n++)
        test_relax();
    CHECK(atomic_load(&acked));
    CHECK(atomic_load(&setter_ran));
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK(st.switches > 2 * 1000);

    run_global_progress();
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
