/*
 * rt_mutex and rt_wg hammered by Gs and foreign threads at once, while another
 * thread changes rt_gomaxprocs (1..3) and the Gs yield and sleep inside the
 * critical section (so that waiters queue, park, starve and are handed the mutex),
 * and foreign threads poll with rt_mutex_trylock. Each round ends with an rt_wg
 * that Gs and threads wait on and is reused at once for the next round.
 * Checked: the counter kept under the mutex is exact, no two owners at once, every
 * waiter of every round returns, and only after the round's last done.
 */
#include "test.h"

#define GS 12
#define THREADS 3
#define ROUNDS_NATIVE 25
#define ROUNDS_VALGRIND 6
#define ITERS 300

static rt_mutex mu = RT_MUTEX_INIT;
static rt_wg work = RT_WG_INIT;  /* the round's workers */
static rt_wg round_wg = RT_WG_INIT; /* reused every round: workers wait on it */
static long counter;
static atomic_int inside, overlaps, early, stop_toggler;
static atomic_int round_open; /* 1 while round_wg's counter is not zero */
static atomic_int trylocks;

static void critical(int i, bool in_g)
{
    if (!in_g && i % 3 == 0) {
        while (!rt_mutex_trylock(&mu))
            sched_yield();
        atomic_fetch_add(&trylocks, 1);
    } else {
        rt_mutex_lock(&mu);
    }
    if (atomic_exchange(&inside, 1) != 0)
        atomic_fetch_add(&overlaps, 1);
    long c = counter;
    if (in_g && i % 7 == 0)
        rt_gosched();
    else if (in_g && i % 50 == 0)
        rt_sleep(1200000); /* > 1 ms: waiters starve */
    counter = c + 1;
    atomic_store(&inside, 0);
    rt_mutex_unlock(&mu);
}

static void worker_body(bool in_g)
{
    for (int i = 0; i < ITERS; i++)
        critical(i, in_g);
    rt_wg_done(&work);
    /* Wait for the round's end: the main thread lowers round_wg to zero. */
    rt_wg_wait(&round_wg);
    if (atomic_load(&round_open))
        atomic_fetch_add(&early, 1);
    rt_wg_done(&work);
}

static void g_worker(void *arg)
{
    (void)arg;
    worker_body(true);
}

static void *t_worker(void *arg)
{
    (void)arg;
    worker_body(false);
    return NULL;
}

static void *toggler(void *arg)
{
    (void)arg;
    int n = 1;
    while (!atomic_load(&stop_toggler)) {
        rt_gomaxprocs(n);
        n = n % 3 + 1;
        usleep(300);
    }
    return NULL;
}

int main(void)
{
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t tog;
    CHECK_EQ(pthread_create(&tog, NULL, toggler, NULL), 0);
    for (int r = 0; r < rounds; r++) {
        counter = 0;
        atomic_store(&round_open, 1);
        rt_wg_add(&round_wg, 1);
        rt_wg_add(&work, GS + THREADS);
        pthread_t ts[THREADS];
        for (int i = 0; i < GS; i++)
            CHECK(rt_go(g_worker, NULL) > 0);
        for (int i = 0; i < THREADS; i++)
            CHECK_EQ(pthread_create(&ts[i], NULL, t_worker, NULL), 0);
        rt_wg_wait(&work); /* every worker did its ITERS */
        CHECK_EQ(counter, (long)(GS + THREADS) * ITERS);
        rt_wg_add(&work, GS + THREADS);
        atomic_store(&round_open, 0);
        rt_wg_done(&round_wg); /* releases every worker */
        rt_wg_wait(&work);
        for (int i = 0; i < THREADS; i++)
            pthread_join(ts[i], NULL);
    }
    atomic_store(&stop_toggler, 1);
    pthread_join(tog, NULL);
    CHECK_EQ(atomic_load(&overlaps), 0);
    CHECK_EQ(atomic_load(&early), 0);
    CHECK(atomic_load(&trylocks) > 0);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    return test_summary();
}
