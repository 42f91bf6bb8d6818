/*
 * A P handed off with Gs in its local queue while no thread can be made: the Gs
 * run once threads can be made again (found by a bug hunt: malloc failing at random
 * under a mixed workload left runnable Gs queued on an idle P, with no M but the
 * host's, which waited for its wired G among them, and sysmon asleep for good).
 *
 * handoffp gives such a P to startm, which could make no M: the P went back to the
 * idle pool with its queue full. Sysmon retries thread creation only for Gs in the
 * global queue, and sleeps deeply while every P is idle, so nothing ever looked at
 * that queue again. Now the Gs go to the global queue when the P goes back.
 *
 * rt_main's G, on the main thread (1 P), makes N Gs (queued on its P), wires itself
 * (rt_lockosthread) and waits on a channel: its M hands the P off (stoplockedm)
 * while pthread_create refuses. A host thread lets threads be made again and waits
 * (30 s at most: a hang guard, not a timing check) until the N Gs ran, doing nothing
 * that would wake an M itself; only then does it wake rt_main's G.
 */
#include "test_chan.h"

#include "test_nothreads.h"

#define N 8

static atomic_int ran;
static atomic_int parked;
static rt_chan *ch;

static void body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void main_g(void *arg)
{
    (void)arg;
    /* sysmon runs (it is started with the first G), and this G's M is the only
     * other one: threads are refused from here on. */
    atomic_store(&test_refuse_threads, 1);
    for (int i = 0; i < N; i++)
        CHECK(rt_go(body, NULL) > 0);
    CHECK_RC(rt_lockosthread(), RT_OK);
    atomic_store(&parked, 1);
    int v = 0;
    CHECK_RC(rt_chan_recv(ch, &v), RT_OK);
    CHECK_EQ(v, 7);
    CHECK_RC(rt_unlockosthread(), RT_OK);
}

static void *host(void *arg)
{
    (void)arg;
    while (!atomic_load(&parked))
        usleep(1000);
    /* Until the handoff found no thread to make (the G may still be on its way to
     * park: its M refuses a thread only once it hands the P off). */
    for (int i = 0; i < 30000 && atomic_load(&test_refused_threads) == 0; i++)
        usleep(1000);
    CHECK(atomic_load(&test_refused_threads) > 0);
    atomic_store(&test_refuse_threads, 0);
    for (int i = 0; i < 30000 && atomic_load(&ran) < N; i++)
        usleep(1000);
    CHECK_EQ(atomic_load(&ran), N);
    int v = 7;
    CHECK_RC(rt_chan_send(ch, &v), RT_OK);
    return NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ch), RT_OK);
    pthread_t t = tc_thread(host, NULL);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    tc_join(t);
    CHECK_EQ(atomic_load(&ran), N);
    CHECK_RC(rt_chan_free(ch), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
