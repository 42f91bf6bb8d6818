/*
 * rt_lockosthread / rt_unlockosthread (Go's LockOSThread, and the idea of proc_test.go's
 * TestLockOSThread under load).
 *  - Under load (more Gs than Ps, all yielding), a locked G yields and parks many
 *    times and always resumes on the same M and OS thread (rt_getm, gettid, and the
 *    M's tid); rt_m_getinfo(m).lockedg names it while it is wired; the other Gs keep
 *    running meanwhile.
 *  - Nesting: two locks need two unlocks; an extra unlock is a no-op.
 *  - A G that exits while locked (returning, or by rt_goexit) takes its runtime M's
 *    thread with it: the thread is gone afterwards (and stats.threads drops).
 *  - On a host thread (rt_main, 1 P), a G that exits locked just unwires the thread,
 *    which lives on (rt_main returns).
 *  - Outside a G (foreign thread, adopted thread, M's g0): RT_EPERM.
 */
#include "test.h"

#include <sys/stat.h>

#define BOUND 5000000L
#define LOCKED_ROUNDS 3000
#define LOADERS 6

static atomic_int stop_load;
static atomic_long load_progress;
static rt_wg load_wg = RT_WG_INIT;

static void loader(void *arg)
{
    (void)arg;
    for (long n = 0; !atomic_load(&stop_load) && n < 50 * BOUND; n++) {
        atomic_fetch_add(&load_progress, 1);
        rt_gosched();
        /* Now and then let the OS run another thread on this CPU. Natively the
         * kernel preempts anyway; under valgrind, which runs one thread at a time,
         * Gs that only ever yield to each other can keep the Ms that were just
         * woken to take a P (the locked Gs' Ms among them) waiting for minutes. */
        if ((n & 255) == 255)
            sched_yield();
    }
    CHECK(atomic_load(&stop_load));
    rt_wg_done(&load_wg);
}

static _Atomic(rt_g *) parked_locked[2]; /* one slot per locked worker */

static bool publish(rt_g *g, void *arg)
{
    atomic_store((_Atomic(rt_g *) *)arg, g);
    return true;
}

/* Readies the locked G each time it parks, until told to stop. */
static atomic_int stop_readier;

static void readier(void *arg)
{
    (void)arg;
    for (long n = 0; !atomic_load(&stop_readier) && n < 50 * BOUND; n++) {
        for (int i = 0; i < 2; i++) {
            rt_g *g = atomic_exchange(&parked_locked[i], NULL);
            if (g)
                CHECK_RC(rt_ready(g), RT_OK);
        }
        rt_gosched();
    }
    rt_wg_done(&load_wg);
}

static int64_t lockedg_of(rt_m *m)
{
    rt_m_info mi = { .size = sizeof mi };
    if (rt_m_getinfo(m, &mi) != RT_OK)
        return -1;
    return mi.lockedg;
}

static atomic_int moved;

struct worker {
    test_latch *done;
    int slot;
};

static void locked_worker(void *arg)
{
    const struct worker *w = arg;
    test_latch *done = w->done;
    CHECK_RC(rt_lockosthread(), RT_OK);
    rt_m *m = rt_getm();
    int64_t tid = test_gettid();
    CHECK_EQ(test_m_tid(), tid);
    CHECK_EQ(lockedg_of(m), rt_goid());
    long before = atomic_load(&load_progress);
    for (int i = 0; i < LOCKED_ROUNDS; i++) {
        if (i % 3 == 2)
            CHECK_RC(rt_park(publish, &parked_locked[w->slot]), RT_OK);
        else
            rt_gosched();
        if (rt_getm() != m || test_gettid() != tid || test_m_tid() != tid) {
            atomic_fetch_add(&moved, 1);
            break;
        }
    }
    CHECK_EQ(atomic_load(&moved), 0);
    CHECK_EQ(lockedg_of(m), rt_goid());
    /* the others ran meanwhile */
    CHECK(atomic_load(&load_progress) > before);

    /* nesting */
    CHECK_RC(rt_lockosthread(), RT_OK);
    CHECK_RC(rt_unlockosthread(), RT_OK);
    CHECK_EQ(lockedg_of(m), rt_goid()); /* still wired: one lock left */
    for (int i = 0; i < 100; i++) {
        rt_gosched();
        CHECK(rt_getm() == m && test_gettid() == tid);
    }
    CHECK_RC(rt_unlockosthread(), RT_OK);
    CHECK_EQ(lockedg_of(m), 0);
    CHECK_RC(rt_unlockosthread(), RT_OK); /* not wired: no-op */
    CHECK_EQ(lockedg_of(m), 0);
    test_latch_post(done);
}

/* ---- exiting while locked ---- */

static _Atomic int64_t exiting_tid;

static void exit_locked(void *arg)
{
    bool by_goexit = arg != NULL;
    CHECK_RC(rt_lockosthread(), RT_OK);
    CHECK_RC(rt_lockosthread(), RT_OK); /* nested, still takes the thread */
    atomic_store(&exiting_tid, test_gettid());
    if (by_goexit)
        rt_goexit();
}

static bool thread_alive(int64_t tid)
{
    char path[64];
    struct stat sb;
    snprintf(path, sizeof path, "/proc/self/task/%" PRId64, tid);
    return stat(path, &sb) == 0;
}

static void check_exit_takes_thread(bool by_goexit)
{
    atomic_store(&exiting_tid, 0);
    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);
    /* From this foreign thread: it runs on a runtime-created M. */
    CHECK(rt_go(exit_locked, by_goexit ? (void *)1 : NULL) > 0);
    int64_t tid = 0;
    for (long n = 0; n < BOUND && !(tid = atomic_load(&exiting_tid)); n++)
        test_relax();
    if (!CHECK(tid != 0))
        return;
    CHECK(tid != test_gettid());
    bool gone = false;
    for (long n = 0; n < 20000 && !gone; n++) {
        gone = !thread_alive(tid);
        if (!gone)
            usleep(1000);
    }
    if (!CHECK(gone))
        fprintf(stderr, "  %s: thread %" PRId64 " of the locked G still alive\n",
                by_goexit ? "rt_goexit" : "return", tid);
    CHECK_RC(test_stats(&st), RT_OK);
    /* at least this G (a G of an earlier check may still be finishing its exit) */
    CHECK(st.gs_exited >= st0.gs_exited + 1);
    CHECK(st.threads <= st0.threads + 1); /* one may have been started, one left */
}

/* ---- a locked G on the rt_main thread ---- */

static int64_t main_tid;

static void main_locks_and_returns(void *arg)
{
    (void)arg;
    CHECK_EQ(test_gettid(), main_tid);
    CHECK_RC(rt_lockosthread(), RT_OK);
    for (int i = 0; i < 100; i++) {
        rt_gosched();
        if (!CHECK_EQ(test_gettid(), main_tid))
            break;
    }
    /* returns while locked */
}

/* ---- outside a G ---- */

static test_latch g0_done = TEST_LATCH_INIT;

static void on_g0(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_EPERM);
    CHECK_RC(rt_unlockosthread(), RT_EPERM);
    test_latch_post(&g0_done);
}

static void *on_foreign(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_EPERM);
    CHECK_RC(rt_unlockosthread(), RT_EPERM);
    return NULL;
}

int main(void)
{
    main_tid = test_gettid();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    CHECK_RC(rt_lockosthread(), RT_EPERM);
    CHECK_RC(rt_unlockosthread(), RT_EPERM);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, on_foreign, NULL), 0);
    pthread_join(t, NULL);
    CHECK_RC(rt_newm(on_g0, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&g0_done, 1);

    /* Under load, twice (two locked Gs at once the second time). */
    for (int round = 1; round <= 2; round++) {
        atomic_store(&stop_load, 0);
        atomic_store(&stop_readier, 0);
        rt_wg_add(&load_wg, LOADERS + 1);
        for (int i = 0; i < LOADERS; i++)
            CHECK(rt_go(loader, NULL) > 0);
        CHECK(rt_go(readier, NULL) > 0);
        test_latch done = TEST_LATCH_INIT;
        struct worker w[2] = { { &done, 0 }, { &done, 1 } };
        for (int i = 0; i < round; i++)
            CHECK(rt_go(locked_worker, &w[i]) > 0);
        if (!CHECK(test_latch_wait_for(&done, round, test_under_valgrind() ? 60 : 20))) {
            fprintf(stderr, "  round %d: the locked G(s) did not finish; state:\n", round);
            rt_dump(2);
            _exit(test_summary() | 1);
        }
        atomic_store(&stop_load, 1);
        atomic_store(&stop_readier, 1);
        rt_wg_wait(&load_wg);
    }

    check_exit_takes_thread(false);
    check_exit_takes_thread(true);

    /* On the host thread: rt_main returns, the thread lives on, unwired. With 1 P
     * held by the rt_main thread its G runs there. (Wait for the P to be idle first:
     * t_g_main_go covers rt_main racing with a busy P.) */
    CHECK_EQ(rt_gomaxprocs(1), 2);
    for (int i = 0; i < 2; i++) {
        CHECK(test_wait_all_idle());
        CHECK_RC(rt_main(main_locks_and_returns, NULL), RT_OK);
        CHECK(rt_getm() != NULL);
        CHECK_EQ(lockedg_of(rt_getm()), 0);
        CHECK_RC(rt_lockosthread(), RT_EPERM); /* adopted thread, no G */
    }
    CHECK_EQ(rt_gomaxprocs(2), 1);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
