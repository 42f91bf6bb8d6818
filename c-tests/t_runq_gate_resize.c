/*
 * The run queues' steal gate (src/runtime/runq.rs, "Private mode") across
 * rt_gomaxprocs: with one P the owner takes Gs from its queue without a locked
 * instruction and nobody steals; going to 2 Ps must first make every owner take by
 * CAS again (the new P's M steals at once), and going back to 1 must wait for thieves
 * still at work. A host thread flips gomaxprocs 1 <-> 2 while Gs yield (ring takes
 * and refills), spawn (runnext refills: the old runnext goes to the ring) and finish.
 * A G taken twice would run on two Ms at once (caught by its `inside` flag, or the
 * runtime's own status check); a G lost would never finish (the wait group would
 * hang). Workers keep yielding until every flip is done.
 */
#include "test.h"

#include <pthread.h>

#define WORKERS 6
#define YIELDS 3000
#define CHILD_EVERY 90
/* Under valgrind membarrier is missing, so the gate stays open: a few flips do. */
static int flips;

static atomic_int inside[WORKERS];
static atomic_long loops[WORKERS];
static atomic_int doubled, children_run, children_made;
static atomic_int flips_done;
static rt_wg wg = RT_WG_INIT;

static void child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&children_run, 1);
    rt_wg_done(&wg);
}

static void worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    long n;
    for (n = 0; n < YIELDS || !atomic_load(&flips_done); n++) {
        if (atomic_exchange(&inside[i], 1) != 0)
            atomic_fetch_add(&doubled, 1);
        atomic_fetch_add(&loops[i], 1);
        if (n % CHILD_EVERY == 0) {
            /* rt_go from a G: the child goes to runnext, the previous runnext to the
             * ring (the owner's runnext refill). */
            rt_wg_add(&wg, 1);
            if (CHECK(rt_go(child, NULL) > 0))
                atomic_fetch_add(&children_made, 1);
        }
        atomic_store(&inside[i], 0);
        rt_gosched();
    }
    /* Each pass counted once: a pass run twice (a G taken twice) adds one more. */
    CHECK_EQ(atomic_load(&loops[i]), n);
    rt_wg_done(&wg);
}

static void *flipper(void *arg)
{
    (void)arg;
    for (int n = 0; n < flips; n++) {
        int old = rt_gomaxprocs(n % 2 == 0 ? 2 : 1);
        CHECK(old == 1 || old == 2);
        for (int k = 0; k < 50; k++)
            test_relax();
    }
    atomic_store(&flips_done, 1);
    return NULL;
}

static void main_g(void *arg)
{
    (void)arg;
    pthread_t t;
    rt_wg_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        CHECK(rt_go(worker, (void *)(intptr_t)i) > 0);
    CHECK_EQ(pthread_create(&t, NULL, flipper, NULL), 0);
    rt_wg_wait(&wg);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

int main(void)
{
    flips = test_under_valgrind() ? 10 : 300;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int round = 0; round < 3; round++) {
        int old = rt_gomaxprocs(1);
        CHECK(old == 1 || old == 2);
        for (int i = 0; i < WORKERS; i++)
            atomic_store(&loops[i], 0);
        atomic_store(&children_run, 0);
        atomic_store(&children_made, 0);
        atomic_store(&flips_done, 0);
        CHECK_RC(rt_main(main_g, NULL), RT_OK);
        for (int i = 0; i < WORKERS; i++)
            CHECK(atomic_load(&loops[i]) >= YIELDS);
        CHECK_EQ(atomic_load(&doubled), 0);
        CHECK(atomic_load(&children_made) >= WORKERS * (YIELDS / CHILD_EVERY));
        CHECK_EQ(atomic_load(&children_run), atomic_load(&children_made));
    }
    CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
    return test_summary();
}
