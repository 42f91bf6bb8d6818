/*
 * rt_go from a foreign thread while no thread can be made (found by a bug hunt):
 * RT_EAGAIN, nothing made. Before the fix rt_go queued the G and returned its id,
 * but its wakep could make no M, and sysmon, the only one that retries thread
 * creation, could not be started either: nothing would ever run the G, and
 * rt_shutdown(-1) waited for it for ever (seen with malloc failing at random across
 * rt_init/rt_go/rt_shutdown rounds: one thread left, in rt_shutdown).
 * With Ms already running, such a G is accepted as before (they run it: the fault
 * matrix's RLIMIT_NPROC scenario); the refusal is only for a runtime with no M at all.
 * In a forked child pthread_create is interposed (this program's definition takes
 * precedence for libmrt) and refuses every thread with EAGAIN: rt_go from the main
 * thread returns RT_EAGAIN, again and again (no G is left queued, so
 * rt_shutdown with a timeout returns RT_OK rather than RT_ETIMEDOUT), and
 * rt_getstats counts no G. Once threads can be made again, rt_go works and its G
 * moves a message to this thread. A G made by a G (rt_main's, on this thread) never
 * needed a thread and still works while they are refused, and so does an rt_go by
 * an adopted M that holds a P (it runs the G with rt_schedule).
 */
#include "test_chan.h"

#include "test_nothreads.h"


static atomic_int ran;

static void body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void sender(void *arg)
{
    int v = 42;
    CHECK_RC(rt_chan_send((rt_chan *)arg, &v), RT_OK);
}

static void main_g(void *arg)
{
    (void)arg;
    /* From a G: queued on this P, run by this thread. */
    CHECK(rt_go(body, NULL) > 0);
    while (atomic_load(&ran) == 0)
        rt_gosched();
}

static void child(void *arg)
{
    (void)arg;
    atomic_store(&test_refuse_threads, 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int i = 0; i < 5; i++)
        CHECK_RC(rt_go(body, NULL), RT_EAGAIN);
    CHECK(atomic_load(&test_refused_threads) > 0);
    rt_stats st;
    if (CHECK_RC(test_stats(&st), RT_OK))
        CHECK_EQ(st.goroutines, 0);
    /* Nothing left to wait for (before the fix: RT_ETIMEDOUT, the G never ran). */
    CHECK_RC(rt_shutdown(1000000000LL), RT_OK);
    CHECK_EQ(atomic_load(&ran), 0);

    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(atomic_load(&ran), 1);

    /* An adopted M holding a P can run a G from the global queue itself
     * (rt_schedule): its rt_go is accepted. */
    rt_p *p = rt_p_get(0);
    if (CHECK_RC(rt_acquirep(p), RT_OK)) {
        CHECK(rt_go(body, NULL) > 0);
        while (atomic_load(&ran) < 2)
            CHECK(rt_schedule(RT_SCHED_ONCE) >= 0);
        CHECK_PTR_EQ(rt_releasep(), p);
        CHECK_RC(rt_p_put(p), RT_OK);
    }

    /* Threads again: a foreign rt_go that finds no M tries sysmon's thread at once,
     * backoff or not (t_trace_nomem's rt_go right after memory came back failed
     * without that); then a new run, the plain case. */
    atomic_store(&test_refuse_threads, 0);
    CHECK(rt_go(body, NULL) > 0); /* in the backoff of the refusals: tried at once */
    while (atomic_load(&ran) < 3)
        sched_yield();
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_chan *c;
    CHECK_RC(rt_chan_make(sizeof(int), 0, &c), RT_OK);
    CHECK(rt_go(sender, c) > 0);
    int v = 0;
    CHECK_RC(rt_chan_recv(c, &v), RT_OK);
    CHECK_EQ(v, 42);
    CHECK_RC(rt_chan_free(c), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
