/*
 * Regression test: rt_go from a foreign thread racing rt_shutdown.
 *
 * rt_shutdown waited until no G was live, then freed every G. A G made outside any G
 * counts as live only once it is queued, so a foreign rt_go between galloc and the
 * queueing was not waited for: rt_shutdown freed the half-made G, the foreign thread
 * then wrote to it and queued it on the global run queue, and the next runtime ran
 * it (on a freed descriptor and stack). Seen before the fix within a few rounds:
 * "G of round 0 (#0) runs in round 1", then SIGSEGV in malloc or glibc's "free():
 * corrupted unsorted chunks", or rt_shutdown timing out with the live count at -1.
 *
 * Each round: rt_init; a foreign thread makes up to MAX_GS Gs (each yields, sleeps,
 * yields) while the main thread calls rt_shutdown. Checked, per G (tagged with its
 * round and number): it runs in its own round, once, and every G that rt_go said was
 * made has run to its end before rt_shutdown returned RT_OK; rt_go fails only with
 * RT_ESHUTDOWN.
 */
#include "test.h"

#define ROUNDS_NATIVE 300
#define ROUNDS_VALGRIND 20
#define MAX_GS 400 /* per round: rt_shutdown would wait for an endless stream */

static atomic_long made, started, finished;
static atomic_int go_on, round_no, wrong_round, twice;
static atomic_int runs[MAX_GS];

static void body(void *arg)
{
    long tag = (long)(intptr_t)arg;
    if (tag / MAX_GS != atomic_load(&round_no)) {
        if (atomic_fetch_add(&wrong_round, 1) == 0)
            fprintf(stderr, "G of round %ld (#%ld) runs in round %d\n", tag / MAX_GS,
                    tag % MAX_GS, atomic_load(&round_no));
    } else if (atomic_fetch_add(&runs[tag % MAX_GS], 1) != 0) {
        atomic_fetch_add(&twice, 1);
    }
    atomic_fetch_add(&started, 1);
    rt_gosched();
    rt_sleep(10000);
    rt_gosched();
    atomic_fetch_add(&finished, 1);
}

static void *spawner(void *arg)
{
    (void)arg;
    int r = atomic_load(&round_no);
    atomic_store(&go_on, 1);
    for (int i = 0; i < MAX_GS; i++) {
        int64_t id = rt_go(body, (void *)(intptr_t)(r * MAX_GS + i));
        if (id == RT_ESHUTDOWN)
            break;
        if (!CHECK(id > 0))
            break;
        atomic_fetch_add(&made, 1);
    }
    return NULL;
}

int main(void)
{
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    long half = 0, dropped = 0;
    for (int r = 0; r < rounds; r++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&round_no, r);
        for (int i = 0; i < MAX_GS; i++)
            atomic_store(&runs[i], 0);
        atomic_store(&made, 0);
        atomic_store(&started, 0);
        atomic_store(&finished, 0);
        atomic_store(&go_on, 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, spawner, NULL), 0);
        while (!atomic_load(&go_on))
            test_relax();
        for (int i = 0; i < r % 50; i++) /* vary where the shutdown meets the spawner */
            test_relax();
        int rc = rt_shutdown(10000000000LL);
        pthread_join(t, NULL);
        if (!CHECK_RC(rc, RT_OK)) {
            fprintf(stderr, "round %d: made %ld started %ld finished %ld\n", r,
                    atomic_load(&made), atomic_load(&started), atomic_load(&finished));
            break;
        }
        long m = atomic_load(&made), s = atomic_load(&started), f = atomic_load(&finished);
        if (s != f)
            half++;
        if (m != f)
            dropped++;
    }
    CHECK_EQ(half, 0);
    CHECK_EQ(dropped, 0);
    CHECK_EQ(atomic_load(&wrong_round), 0);
    CHECK_EQ(atomic_load(&twice), 0);
    return test_summary();
}
