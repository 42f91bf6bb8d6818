/*
 * Regression test (issue 8): with thread creation refused (RLIMIT_NPROC, a full thread
 * table), every rt_go whose wakep found an idle P tried to make an M (an mmap and a
 * pthread_create retried with sleeps of 0.5 + 1 + 2 + 4 + 8 ms), and so did sysmon's
 * start, so each rt_go cost 15 ms or more and 10,000 of them minutes. Now the
 * scheduler backs off after a failure.
 * In a forked child, pthread_create is interposed (this program's definition takes
 * precedence for libmrt) and refuses every thread with EAGAIN from the start: the
 * host's thread runs rt_main, whose G makes 10,000 Gs while 3 Ps are idle; all the
 * rt_go calls succeed, every G runs on that one M, and at most one pthread_create
 * per 20 rt_go was attempted (counted, not timed; the negative control: at least one
 * attempt was made and refused). An explicit rt_newm still tries, and reports
 * RT_EAGAIN; once threads can be made again, rt_newm works and the runtime runs a G
 * and moves a message.
 */
#include "test.h"

#include "test_nothreads.h"

#define NGO 10000


static atomic_long ran;
static test_latch started = TEST_LATCH_INIT;

static void body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void spawner(void *arg)
{
    (void)arg;
    for (int i = 0; i < NGO; i++)
        if (!CHECK(rt_go(body, NULL) > 0))
            return;
    /* The Gs run here, on the only M. */
    while (atomic_load(&ran) < NGO)
        rt_gosched();
}

static void note_start(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

static void sender(void *arg)
{
    int v = 42;
    CHECK_RC(rt_chan_send(arg, &v), RT_OK);
}

static void child(void *arg)
{
    (void)arg;
    atomic_store(&test_refuse_threads, 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 4 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(spawner, NULL), RT_OK);
    CHECK_EQ(atomic_load(&ran), NGO);
    long tried = atomic_load(&test_refused_threads);
    CHECK(tried > 0);
    if (!CHECK(tried * 20 <= NGO))
        fprintf(stderr, "%ld refused pthread_create attempts for %d rt_go\n", tried, NGO);

    /* The host's own request is not held back by the scheduler's backoff. */
    rt_m *m = NULL;
    CHECK_RC(rt_newm(note_start, NULL, NULL, &m), RT_EAGAIN);
    CHECK(atomic_load(&test_refused_threads) > tried);

    atomic_store(&test_refuse_threads, 0);
    CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 1);
    rt_chan *c = NULL;
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
    if (!CHECK(dlsym(RTLD_NEXT, "pthread_create") != NULL))
        return test_summary();
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
