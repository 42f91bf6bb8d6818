/*
 * The run queues' steal gate (src/runtime/runq.rs, "Private mode") against every way
 * a P's queue changes hands: a host thread flips rt_gomaxprocs through 1 and 2..4
 * (the gate goes private at 1, shared above) while
 * - Gs yield (owner takes and refills), spawn (runnext refills) and exit,
 * - pairs of Gs ping-pong over unbuffered channels (parks and wakes across Ps),
 * - Gs block in system calls (rt_entersyscall), so that sysmon retakes their Ps
 *   and hands them to other Ms,
 * - two host threads take Ps with rt_acquirep, run them with rt_schedule(ONCE), give
 *   them up with rt_releasep and hand them to each other (a held P changes threads
 *   outside the scheduler) or back with rt_p_put; a P may die in their hands when
 *   gomaxprocs shrinks and come back to life when it grows,
 * - and, natively, a fork in the middle, whose child runs a runtime of its own that
 *   flips gomaxprocs too (the child registers for membarrier itself).
 * A G taken twice would run on two Ms at once (its `inside` flag, or the runtime's
 * own status checks); a G lost would never finish (the wait group would hang); a
 * message lost or doubled breaks the ping-pong's sequence.
 * Also run with MRT_DEBUG=migrate (run.sh's env_runs), where every yield goes through
 * the global queue.
 */
#include "test.h"

#include <pthread.h>

#define WORKERS 6
#define PAIRS 2
#define CHILD_EVERY 40
#define SYSCALLERS 2

static int iters;

static atomic_int inside[WORKERS];
static atomic_long loops[WORKERS];
static atomic_int doubled, children_made, children_run;
static atomic_int work_done, enough;
static long want_flips, want_runs;
static atomic_long flips, host_runs, handed, forks;
static _Atomic(rt_p *) mailbox;
static rt_wg wg = RT_WG_INIT;
/* Joined by main() once rt_main returned: this G may run on a host thread (theirs). */
static pthread_t tf, th[2];

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
    /* Until the host threads have flipped and run Ps enough times, too. */
    for (n = 0; n < iters || !atomic_load(&enough); n++) {
        if (atomic_exchange(&inside[i], 1) != 0)
            atomic_fetch_add(&doubled, 1);
        atomic_fetch_add(&loops[i], 1);
        if (n % CHILD_EVERY == 0) {
            rt_wg_add(&wg, 1);
            if (CHECK(rt_go(child, NULL) > 0))
                atomic_fetch_add(&children_made, 1);
            else
                rt_wg_done(&wg);
        }
        atomic_store(&inside[i], 0);
        rt_gosched();
    }
    CHECK_EQ(atomic_load(&loops[i]), n);
    rt_wg_done(&wg);
}

/* Counted only when it fails: millions of messages. */
#define QUIET_RC(expr)                     \
    do {                                   \
        int rc_ = (expr);                  \
        if (rc_ != RT_OK)                  \
            CHECK_RC(rc_, RT_OK);          \
    } while (0)

/* Blocks in a system call now and then: sysmon hands its P to another M. */
static void syscaller(void *arg)
{
    (void)arg;
    for (long n = 0; n < iters / 20 || !atomic_load(&enough); n++) {
        if (CHECK_RC(rt_entersyscall(), RT_OK)) {
            struct timespec ts = { 0, 50000 };
            nanosleep(&ts, NULL);
            CHECK_RC(rt_exitsyscall(), RT_OK);
        }
        rt_gosched();
    }
    rt_wg_done(&wg);
}

struct pair {
    rt_chan *ping, *pong;
};

static void ponger(void *arg)
{
    struct pair *pr = arg;
    for (long n = 0; n < iters / 2; n++) {
        long v = -1;
        QUIET_RC(rt_chan_recv(pr->ping, &v));
        if (v != n)
            CHECK_EQ(v, n);
        v = -v;
        QUIET_RC(rt_chan_send(pr->pong, &v));
    }
    rt_wg_done(&wg);
}

static void pinger(void *arg)
{
    struct pair *pr = arg;
    for (long n = 0; n < iters / 2; n++) {
        long v = n;
        QUIET_RC(rt_chan_send(pr->ping, &v));
        QUIET_RC(rt_chan_recv(pr->pong, &v));
        if (v != -n)
            CHECK_EQ(v, -n);
    }
    rt_wg_done(&wg);
}

/* The fork child: a runtime of its own, whose gate goes private and shared again. */
static atomic_long child_loops;

static void fork_yielder(void *arg)
{
    for (int n = 0; n < 300; n++) {
        atomic_fetch_add(&child_loops, 1);
        rt_gosched();
    }
    rt_wg_done(arg);
}

static void fork_main(void *arg)
{
    (void)arg;
    rt_wg cwg = RT_WG_INIT;
    rt_wg_add(&cwg, 4);
    for (int i = 0; i < 4; i++)
        if (!CHECK(rt_go(fork_yielder, &cwg) > 0))
            rt_wg_done(&cwg);
    for (int k = 0; k < 20; k++) {
        int old = rt_gomaxprocs(k % 2 == 0 ? 2 : 1);
        CHECK(old == 1 || old == 2);
        rt_gosched();
    }
    rt_wg_wait(&cwg);
}

static void fork_child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    if (!CHECK_RC(rt_init(&cfg), RT_OK))
        return;
    CHECK_RC(rt_main(fork_main, NULL), RT_OK);
    CHECK_EQ(atomic_load(&child_loops), 4 * 300);
    CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
}

static void *flipper(void *arg)
{
    (void)arg;
    static const int sizes[] = { 2, 1, 3, 1, 4, 1, 2, 3, 1 };
    bool fork_ok = !test_under_valgrind();
    for (long n = 0; !atomic_load(&work_done); n++) {
        int old = rt_gomaxprocs(sizes[n % (sizeof sizes / sizeof sizes[0])]);
        CHECK(old >= 1 && old <= 4);
        atomic_fetch_add(&flips, 1);
        if (atomic_load(&flips) >= want_flips && atomic_load(&host_runs) >= want_runs)
            atomic_store(&enough, 1);
        if (fork_ok && n % 97 == 50 && atomic_load(&forks) < 2) {
            CHECK_CHILD_OK(test_spawn(fork_child, NULL, NULL, 0));
            atomic_fetch_add(&forks, 1);
        }
        test_relax();
    }
    return NULL;
}

/* Gives back a P this thread holds (released, not running): to the pool, unless it
 * died or was revived and taken meanwhile. */
static void put_back(rt_p *p)
{
    int rc = rt_p_put(p);
    CHECK(rc == RT_OK || rc == RT_EINVAL || rc == RT_EALREADY || rc == RT_EBUSY);
}

/* Runs `p` on this thread for one rt_schedule(ONCE), then hands it to the other host
 * thread (or back to the pool if the mailbox is full). */
static void run_and_hand(rt_p *p)
{
    int rc = rt_acquirep(p);
    if (rc != RT_OK) {
        /* Dead (gomaxprocs shrank), or taken by someone else. */
        CHECK(rc == RT_EINVAL || rc == RT_EBUSY);
        return;
    }
    rc = rt_schedule(RT_SCHED_ONCE);
    CHECK(rc >= 0);
    atomic_fetch_add(&host_runs, 1);
    rt_p *q = rt_releasep();
    if (!CHECK(q != NULL))
        return;
    rt_p *none = NULL;
    if (atomic_compare_exchange_strong(&mailbox, &none, q))
        atomic_fetch_add(&handed, 1);
    else
        put_back(q);
}

static void *hander(void *arg)
{
    unsigned seed = (unsigned)(intptr_t)arg;
    while (!atomic_load(&work_done)) {
        rt_p *q = atomic_exchange(&mailbox, NULL);
        if (q) {
            /* A P the other thread released: held, to be acquired here (unless it
             * died, or was revived into the pool and taken). */
            run_and_hand(q);
            continue;
        }
        seed = seed * 1103515245u + 12345u;
        rt_p *p = rt_p_get((int)((seed >> 16) % 4));
        if (p)
            run_and_hand(p);
        else
            test_relax();
    }
    rt_p *q = atomic_exchange(&mailbox, NULL);
    if (q)
        put_back(q);
    return NULL;
}

static void main_g(void *arg)
{
    (void)arg;
    struct pair pairs[PAIRS];
    rt_wg_add(&wg, WORKERS + 2 * PAIRS + SYSCALLERS);
    for (int i = 0; i < SYSCALLERS; i++)
        CHECK(rt_go(syscaller, NULL) > 0);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(rt_chan_make(sizeof(long), 0, &pairs[i].ping), RT_OK);
        CHECK_RC(rt_chan_make(sizeof(long), 0, &pairs[i].pong), RT_OK);
        CHECK(rt_go(pinger, &pairs[i]) > 0);
        CHECK(rt_go(ponger, &pairs[i]) > 0);
    }
    for (int i = 0; i < WORKERS; i++)
        CHECK(rt_go(worker, (void *)(intptr_t)i) > 0);
    CHECK_EQ(pthread_create(&tf, NULL, flipper, NULL), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, hander, (void *)(intptr_t)(i + 7)), 0);
    rt_wg_wait(&wg);
    atomic_store(&work_done, 1);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(rt_chan_free(pairs[i].ping), RT_OK);
        CHECK_RC(rt_chan_free(pairs[i].pong), RT_OK);
    }
}

int main(void)
{
    bool vg = test_under_valgrind();
    iters = vg ? 150 : 3000;
    want_flips = vg ? 20 : 200;
    want_runs = vg ? 3 : 20;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int round = 0; round < 2; round++) {
        CHECK_RC(rt_gomaxprocs(1) > 0, 1);
        for (int i = 0; i < WORKERS; i++)
            atomic_store(&loops[i], 0);
        atomic_store(&work_done, 0);
        atomic_store(&enough, 0);
        atomic_store(&flips, 0);
        atomic_store(&host_runs, 0);
        CHECK_RC(rt_main(main_g, NULL), RT_OK);
        CHECK_EQ(pthread_join(tf, NULL), 0);
        for (int i = 0; i < 2; i++)
            CHECK_EQ(pthread_join(th[i], NULL), 0);
        for (int i = 0; i < WORKERS; i++)
            CHECK(atomic_load(&loops[i]) >= iters);
        CHECK(atomic_load(&flips) >= want_flips);
        CHECK(atomic_load(&host_runs) >= want_runs);
        CHECK_EQ(atomic_load(&doubled), 0);
        CHECK_EQ(atomic_load(&children_run), atomic_load(&children_made));
    }
    CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
    return test_summary();
}
