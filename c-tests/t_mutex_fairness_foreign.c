/*
 * rt_mutex starvation mode across Gs and foreign threads (Go's TestMutexFairness,
 * with each side in either kind of context). A hog locks the mutex in a loop, holding
 * it for a 100 us sleep each time and locking again at once after unlocking; a
 * wanter wants it 10 times. Without starvation mode the hog's immediate re-lock wins
 * nearly every time (the woken wanter is still waking up) and the wanter can wait
 * for ever at 1 P. With it, a wanter that has waited over 1 ms gets the mutex handed
 * over at the hog's next unlock.
 *
 * Without starvation mode the two-G cases fail (the hog reaches HOG_LIMIT at both
 * GOMAXPROCS); the cases with a foreign thread mostly passed even then (a woken
 * thread, or a G woken by a thread, often wins the race in normal mode): they check
 * that hand-offs to and from thread waiters work.
 *
 * Bounded by counts, not time: the hog stops when the wanter is done, and the check
 * is that this happens before the hog has made HOG_LIMIT iterations. A fair mutex
 * needs about (1 ms / 100 us) + a few hog iterations per wanter acquisition, so ~120
 * in all; HOG_LIMIT is 100 times that.
 *
 * Cases, at GOMAXPROCS 1 and 2: a foreign thread hogs and a G wants; a G hogs and a
 * foreign thread wants; a G hogs and a G wants; and once, two foreign threads.
 */
#include "test.h"

#define HOLD_NS 100000L
#define WANTS 10
#define HOG_LIMIT 12000

static rt_mutex mu = RT_MUTEX_INIT;
static atomic_int wanter_done, wants_got, inside, overlaps;
static atomic_long hog_iters;
static rt_wg gs_done = RT_WG_INIT;

static void enter(void)
{
    if (atomic_exchange(&inside, 1) != 0)
        atomic_fetch_add(&overlaps, 1);
}

static void leave(void)
{
    atomic_store(&inside, 0);
}

static void hold(bool in_g)
{
    if (in_g) {
        CHECK_RC(rt_sleep(HOLD_NS), RT_OK);
    } else {
        struct timespec ts = { 0, HOLD_NS };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

static void hog(bool in_g)
{
    long i = 0;
    while (!atomic_load(&wanter_done) && i < HOG_LIMIT) {
        rt_mutex_lock(&mu);
        enter();
        hold(in_g);
        leave();
        rt_mutex_unlock(&mu);
        i++;
    }
    atomic_store(&hog_iters, i);
}

static void want(bool in_g)
{
    for (int i = 0; i < WANTS; i++) {
        hold(in_g);
        rt_mutex_lock(&mu);
        enter();
        atomic_fetch_add(&wants_got, 1);
        leave();
        rt_mutex_unlock(&mu);
    }
    atomic_store(&wanter_done, 1);
}

static void hog_g(void *arg)
{
    (void)arg;
    hog(true);
    rt_wg_done(&gs_done);
}

static void want_g(void *arg)
{
    (void)arg;
    want(true);
    rt_wg_done(&gs_done);
}

static void *hog_thread(void *arg)
{
    (void)arg;
    hog(false);
    return NULL;
}

static void *want_thread(void *arg)
{
    (void)arg;
    want(false);
    return NULL;
}

/* hog_in_g / want_in_g: which side runs in a G (else in a foreign thread). */
static void run_case(bool hog_in_g, bool want_in_g, int procs)
{
    atomic_store(&wanter_done, 0);
    atomic_store(&wants_got, 0);
    atomic_store(&overlaps, 0);
    atomic_store(&hog_iters, 0);
    int gs = (int)hog_in_g + (int)want_in_g;
    if (gs > 0)
        rt_wg_add(&gs_done, gs);
    pthread_t t[2];
    int nt = 0;
    /* The hog starts first, so that the wanter always finds it hogging. */
    if (hog_in_g)
        CHECK(rt_go(hog_g, NULL) > 0);
    else
        CHECK_EQ(pthread_create(&t[nt++], NULL, hog_thread, NULL), 0);
    if (want_in_g)
        CHECK(rt_go(want_g, NULL) > 0);
    else
        CHECK_EQ(pthread_create(&t[nt++], NULL, want_thread, NULL), 0);
    if (gs > 0)
        rt_wg_wait(&gs_done); /* this foreign thread blocks on the futex */
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    long iters = atomic_load(&hog_iters);
    if (!CHECK(iters < HOG_LIMIT))
        fprintf(stderr, "hog %s, wanter %s, GOMAXPROCS=%d: the wanter got the mutex %d of "
                        "%d times while the hog locked it %ld times\n",
                hog_in_g ? "G" : "thread", want_in_g ? "G" : "thread", procs,
                atomic_load(&wants_got), WANTS, iters);
    CHECK_EQ(atomic_load(&wants_got), WANTS);
    CHECK_EQ(atomic_load(&overlaps), 0);
    /* Left free and out of starvation mode: a trylock takes it. */
    CHECK(rt_mutex_trylock(&mu));
    rt_mutex_unlock(&mu);
}

int main(void)
{
    for (int procs = 1; procs <= 2; procs++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = procs };
        CHECK_RC(rt_init(&cfg), RT_OK);
        run_case(false, true, procs); /* a foreign thread hogs, a G wants */
        run_case(true, false, procs); /* a G hogs, a foreign thread wants */
        run_case(true, true, procs);  /* both Gs */
        if (procs == 1)
            run_case(false, false, procs); /* both foreign threads (no P involved) */
        CHECK_RC(rt_shutdown(-1), RT_OK);
    }
    return test_summary();
}
