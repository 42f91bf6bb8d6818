/*
 * The run queues' steal gate (src/runtime/runq.rs, "Private mode") when membarrier(2)
 * stops working after the gate went private: a host that installs a seccomp sandbox
 * once the runtime runs (rt_init with one P registered the process for membarrier's
 * private expedited command), denying membarrier. Growing gomaxprocs needs that
 * barrier to make the owners take by CAS again; without it the runtime must still
 * run correctly (it aborted with "runq: membarrier failed after its registration").
 * In a forked child (the filter is for life): rt_init(1), Gs yield, the filter goes
 * in, then rt_gomaxprocs flips 1 <-> 2 while Gs yield and spawn, and a G taken twice
 * or lost would show as in t_runq_gate_resize. Once more with the filter in place
 * before rt_init (the registration itself fails: the gate never goes private).
 */
#include "test.h"

#include "test_membarrier.h"

#define WORKERS 4
#define YIELDS 2000

static atomic_int inside[WORKERS];
static atomic_long loops[WORKERS];
static atomic_int doubled, flips_done, children;

static void child_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&children, 1);
}

static void worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    long n;
    for (n = 0; n < YIELDS || !atomic_load(&flips_done); n++) {
        if (atomic_exchange(&inside[i], 1) != 0)
            atomic_fetch_add(&doubled, 1);
        atomic_fetch_add(&loops[i], 1);
        if (n % 100 == 0)
            CHECK(rt_go(child_g, NULL) > 0);
        atomic_store(&inside[i], 0);
        rt_gosched();
    }
    CHECK_EQ(atomic_load(&loops[i]), n);
}

static void *flipper(void *arg)
{
    (void)arg;
    for (int n = 0; n < 60; n++) {
        int old = rt_gomaxprocs(n % 2 == 0 ? 2 : 1);
        CHECK(old == 1 || old == 2);
        test_relax();
    }
    atomic_store(&flips_done, 1);
    return NULL;
}

static void main_g(void *arg)
{
    bool filter_now = arg != NULL;
    for (int i = 0; i < WORKERS; i++)
        CHECK(rt_go(worker, (void *)(intptr_t)i) > 0);
    /* The gate is private (1 P): workers take from the queue with plain stores. */
    for (int k = 0; k < 100; k++)
        rt_gosched();
    if (filter_now && !test_deny_membarrier(true))
        return;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, flipper, NULL), 0);
    while (!atomic_load(&flips_done))
        rt_gosched();
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void run(bool filter_before)
{
    if (filter_before && !test_deny_membarrier(true))
        return;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    if (!CHECK_RC(rt_init(&cfg), RT_OK))
        return;
    CHECK_RC(rt_main(main_g, filter_before ? NULL : (void *)1), RT_OK);
    /* The workers finish once every flip is done; shutdown waits for them. */
    CHECK_RC(rt_shutdown(30000000000LL), RT_OK);
    for (int i = 0; i < WORKERS; i++)
        CHECK(atomic_load(&loops[i]) >= YIELDS);
    CHECK_EQ(atomic_load(&doubled), 0);
    CHECK(atomic_load(&children) >= WORKERS * (YIELDS / 100));
}

static void after_init(void *arg)
{
    (void)arg;
    run(false);
}

static void before_init(void *arg)
{
    (void)arg;
    run(true);
}

int main(void)
{
    if (test_under_valgrind()) {
        /* Valgrind has no membarrier at all (the gate stays open, as in the second
         * case) and does not run seccomp filters faithfully. */
        CHECK(true);
        return test_summary();
    }
    CHECK_CHILD_OK(test_spawn(after_init, NULL, NULL, 0));
    CHECK_CHILD_OK(test_spawn(before_init, NULL, NULL, 0));
    return test_summary();
}
