/*
 * G stacks are carved out of arenas (64 MiB reservations, a guard per stack inside),
 * recycled without system calls and given back in bulk. Each scenario runs in its own
 * child process (its own runtime and MRT_DEBUG):
 *
 *   vma budget    with mprotect guards (MRT_DEBUG=guardmprotect: each guard splits
 *                 its arena, two VMAs) and a budget of 201 VMAs (gstackvmas=201), rt_go
 *                 of parking Gs stops with RT_ENOMEM at 100 stacks (1 arena + 2 per
 *                 guard), mid-arena, and /proc/self/maps grew by no more than that;
 *                 nothing is left half-made (goroutine count, a second RT_ENOMEM), and
 *                 once the Gs exit their stacks run new Gs.
 *   overflow      a G that recurses without bound on a stack that went through an
 *                 arena's free list and its MADV_DONTNEED still dies of "stack
 *                 overflow" (the guard survives both), with madvise guards and with
 *                 mprotect guards (40,000 VMAs: gstackvmas raised to 50,000), and
 *                 with the guards of batch-taken stacks installed one at a time
 *                 (MRT_DEBUG=guarddeferslow, the path of a refused batch).
 *   fork          a fork child of a process whose arenas are in use (parked Gs, freed
 *                 stacks) runs rt_init and 20,000 Gs of its own; the parent's Gs then
 *                 all finish.
 *   memory back   NG parked Gs (beyond the stack caches), then released: the exact
 *                 resident count of G stacks (mincore) falls to what the per-P caches
 *                 may keep (the global cache's unused stacks go back too), and waves of create/free cycles after that do not grow it nor
 *                 the reserved address space (they reuse the kept arenas). The memory
 *                 goes back lazily (sysmon unmaps arenas that stayed unused for a
 *                 while), so the test polls for it, with a generous cap; rt_shutdown
 *                 unmaps the arenas kept for reuse at once (a new runtime starts with
 *                 none reserved).
 */
#include "test_overflow.h"

static long maps_lines(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static rt_wg gate, started, exited;
static atomic_long short_ran;

static void parker(void *arg)
{
    (void)arg;
    rt_wg_done(&started);
    rt_wg_wait(&gate);
    rt_wg_done(&exited);
}

static void short_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&short_ran, 1);
}

static void wg_reset(void)
{
    gate = (rt_wg)RT_WG_INIT;
    started = (rt_wg)RT_WG_INIT;
    exited = (rt_wg)RT_WG_INIT;
}

/* Starts up to n parking Gs (rt_wg_add'ing as it goes); returns how many started, and
 * the first error in *err (0 if none). */
static long park_many(long n, int64_t *err)
{
    *err = 0;
    rt_wg_add(&gate, 1);
    long i;
    for (i = 0; i < n; i++) {
        rt_wg_add(&started, 1);
        rt_wg_add(&exited, 1);
        int64_t id = rt_go(parker, NULL);
        if (id <= 0) {
            rt_wg_add(&started, -1);
            rt_wg_add(&exited, -1);
            *err = id;
            break;
        }
    }
    return i;
}

static void release_all(void)
{
    rt_wg_done(&gate);
}

static void budget_child(void *arg)
{
    (void)arg;
    setenv("MRT_DEBUG", "guardmprotect,gstackvmas=201", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    wg_reset();
    long maps0 = maps_lines();
    /* One at a time, each started (holding its stack) before the next is made: then
     * every rt_go finds the stack caches empty and needs a new stack, and the first
     * that cannot have one is refused. (Gs made faster than they start are promised
     * the stacks in the caches and take new ones when they first run; one that finds
     * none then waits, off the run queues, until a stack is freed:
     * t_galloc_undelivered_stack.) */
    int64_t err = 0;
    long got = 0;
    rt_wg_add(&gate, 1);
    while (got < 5000) {
        rt_wg_add(&started, 1);
        rt_wg_add(&exited, 1);
        err = rt_go(parker, NULL);
        if (err <= 0) {
            rt_wg_add(&started, -1);
            rt_wg_add(&exited, -1);
            break;
        }
        err = 0;
        got++;
        rt_wg_wait(&started);
    }
    CHECK_EQ(err, RT_ENOMEM);
    /* One arena (1 VMA) and 100 guards (2 each): the budget, to the stack. */
    CHECK_EQ(got, 100);
    rt_wg_wait(&started);
    long maps1 = maps_lines();
    /* The budget, and a little for the heap (under valgrind, for valgrind's own). */
    if (!CHECK(maps1 - maps0 <= 201 + (test_under_valgrind() ? 64 : 16)))
        fprintf(stderr, "  /proc/self/maps: %ld -> %ld lines\n", maps0, maps1);
    CHECK(maps1 - maps0 >= 100); /* control: the guards really are mprotect splits */
    /* Nothing half-made: the same refusal again, and the count is the parked Gs. */
    CHECK_RC(rt_go(parker, NULL), RT_ENOMEM);
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.goroutines, got);
    release_all();
    rt_wg_wait(&exited);
    /* The stacks of the exited Gs run new ones, well past the budget's 100. */
    for (int w = 0; w < 10; w++) {
        long base = atomic_load(&short_ran);
        for (int i = 0; i < 100; i++)
            CHECK(rt_go(short_g, NULL) > 0);
        for (long k = 0; atomic_load(&short_ran) < base + 100 && k < 100000000L; k++)
            sched_yield();
    }
    CHECK_EQ(atomic_load(&short_ran), 1000);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* Overflow on a recycled stack: enough parked Gs that their stacks spill past the
 * caches into the arena (which gives their pages back), then the overflowing G takes
 * one of those. */
enum { SPILL = 20000 };

static void overflow_g(void *arg)
{
    (void)arg;
    to_overflow(rt_goid());
}

static void overflow_child(void *arg)
{
    const char *debug = arg;
    to_child_setup(false);
    if (debug)
        setenv("MRT_DEBUG", debug, 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    if (rt_init(&cfg) != RT_OK)
        _exit(6);
    wg_reset();
    int64_t err;
    long n = test_under_valgrind() ? 2000 : SPILL;
    if (park_many(n, &err) != n)
        _exit(7);
    rt_wg_wait(&started);
    release_all();
    rt_wg_wait(&exited);
    /* Again, so that the last of them come from the arena's free list. */
    wg_reset();
    if (park_many(n, &err) != n)
        _exit(8);
    rt_wg_wait(&started);
    if (rt_go(overflow_g, NULL) <= 0)
        _exit(9);
    for (;;)
        pause(); /* the process dies from the G */
}

/* Fork with arenas in use. */
static void fork_grandchild(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    wg_reset();
    atomic_store(&short_ran, 0);
    long n = test_under_valgrind() ? 2000 : 20000;
    int64_t err;
    CHECK_EQ(park_many(n, &err), n);
    CHECK_EQ(err, 0);
    rt_wg_wait(&started);
    release_all();
    rt_wg_wait(&exited);
    for (int i = 0; i < 1000; i++)
        CHECK(rt_go(short_g, NULL) > 0);
    for (long k = 0; atomic_load(&short_ran) < 1000 && k < 100000000L; k++)
        sched_yield();
    CHECK_EQ(atomic_load(&short_ran), 1000);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void fork_child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    wg_reset();
    long n = test_under_valgrind() ? 1000 : 5000;
    int64_t err;
    CHECK_EQ(park_many(n, &err), n);
    rt_wg_wait(&started);
    /* Some stacks freed too: short Gs that end at once. */
    for (int i = 0; i < 500; i++)
        CHECK(rt_go(short_g, NULL) > 0);
    CHECK_CHILD_OK(test_spawn(fork_grandchild, NULL, NULL, 0));
    release_all();
    rt_wg_wait(&exited);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static uint64_t exact_resident(void)
{
    rt_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    if (rt_getstats_ex(&st, RT_STATS_EXACT) != RT_OK)
        return UINT64_MAX;
    return st.stack_resident_bytes;
}

/* Polls until the exact stack resident count is at most `bound` (sysmon gives idle
 * arenas back within about half a second; the cap, 8 s, is for a loaded machine and
 * stays under the child's alarm). */
static uint64_t wait_resident_at_most(uint64_t bound)
{
    uint64_t r = exact_resident();
    for (int i = 0; i < 800 && r > bound; i++) {
        usleep(10000);
        r = exact_resident();
    }
    return r;
}

static uint64_t reserved_now(void)
{
    rt_stats st;
    if (test_stats(&st) != RT_OK)
        return UINT64_MAX;
    return st.stack_reserved_bytes;
}

static void memory_child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    long n = test_under_valgrind() ? 20000 : 100000;
    wg_reset();
    uint64_t r0 = exact_resident();
    int64_t err;
    CHECK_EQ(park_many(n, &err), n);
    rt_wg_wait(&started);
    uint64_t peak = exact_resident();
    /* control: every parked G has at least a page of stack resident */
    CHECK(peak - r0 >= (uint64_t)n * 4096);
    uint64_t per_g = (peak - r0) / (uint64_t)n;
    uint64_t reserved_peak = reserved_now();
    release_all();
    rt_wg_wait(&exited);
    /* What may stay once idle: the per-P caches (64 each, 2 Ps) and a little slack.
     * The global stack cache (16384) gives its unused stacks back to the arenas
     * (sysmon's trim), idle arenas are unmapped, and the touched free slots of partly
     * used idle arenas are given back. */
    uint64_t keep = (2 * 65) * per_g + (2u << 20);
    uint64_t after = wait_resident_at_most(r0 + keep);
    if (!CHECK(after <= r0 + keep))
        fprintf(stderr, "  stack resident: %" PRIu64 " before, %" PRIu64 " parked (%ld Gs), "
                "%" PRIu64 " after (bound %" PRIu64 ")\n", r0, peak, n, after, r0 + keep);
    /* Create/free cycles: waves of parked Gs; the resident count does not grow. */
    int waves = test_under_valgrind() ? 2 : 10;
    for (int w = 0; w < waves; w++) {
        wg_reset();
        CHECK_EQ(park_many(n / 5, &err), n / 5);
        rt_wg_wait(&started);
        release_all();
        rt_wg_wait(&exited);
        /* Waves within the peak's footprint take kept or fresh arenas, never more
         * address space than the peak had. */
        uint64_t rv = reserved_now();
        if (!CHECK(rv <= reserved_peak))
            fprintf(stderr, "  stack reserved after wave %d: %" PRIu64 " (peak %" PRIu64 ")\n",
                    w, rv, reserved_peak);
    }
    uint64_t worst = wait_resident_at_most(r0 + keep);
    if (!CHECK(worst <= r0 + keep))
        fprintf(stderr, "  stack resident after waves: %" PRIu64 " (bound %" PRIu64 ")\n",
                worst, r0 + keep);
    /* Once more, then rt_shutdown right away: the arenas kept for reuse (not idle
     * yet) are unmapped by it, so a new runtime starts with no stack reserved. */
    wg_reset();
    CHECK_EQ(park_many(n / 5, &err), n / 5);
    rt_wg_wait(&started);
    release_all();
    rt_wg_wait(&exited);
    CHECK(reserved_now() > 0); /* control: kept, or the caches' */
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_EQ(reserved_now(), 0);
    CHECK_EQ(exact_resident(), 0);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(budget_child, NULL, NULL, 0));
    CHECK(to_check(overflow_child, NULL, "goroutine", "recycled stack, madvise guards") > 0);
    /* 2 x 20,000 stacks with mprotect guards: more VMAs than the default budget (half
     * of what vm.max_map_count leaves), fewer than vm.max_map_count itself. */
    CHECK(to_check(overflow_child, "guardmprotect,gstackvmas=50000", "goroutine",
                   "recycled stack, mprotect guards") > 0);
    /* Guards of batch-taken stacks installed one by one under the arenas' lock, as
     * when the kernel refuses them as a batch outside it. */
    CHECK(to_check(overflow_child, "guarddeferslow", "goroutine",
                   "recycled stack, guards deferred and installed one by one") > 0);
    CHECK_CHILD_OK(test_spawn(fork_child, NULL, NULL, 0));
    CHECK_CHILD_OK(test_spawn(memory_child, NULL, NULL, 0));
    return test_summary();
}
