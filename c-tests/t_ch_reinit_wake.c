/*
 * After rt_shutdown and rt_init, a G parked on a channel is still woken by a foreign
 * thread's send: the G becomes runnable on the global queue and an idle M must be
 * woken to run it. Three runs in one process, each: the main G blocks in
 * rt_chan_recv, the main thread (its M) goes idle, then a foreign thread sends.
 * Also: right after rt_init, with nothing running, no M counts as spinning.
 * (A hang here is caught by test_spawn's alarm.)
 */
#include "test_chan.h"

static rt_chan *c;
static pid_t main_tid;

static void *sender_t(void *arg)
{
    (void)arg;
    /* the main G parked and its M has nothing else to do: it sleeps on a futex */
    tc_wait_thread_blocked(main_tid);
    int v = 42;
    CHECK_RC(rt_chan_send(c, &v), RT_OK);
    return NULL;
}

static void body(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_make(sizeof(int), 0, &c), RT_OK);
    pthread_t t = tc_thread(sender_t, NULL);
    int v = 0;
    CHECK_RC(rt_chan_recv(c, &v), RT_OK);
    CHECK_EQ(v, 42);
    tc_join(t);
    CHECK_RC(rt_chan_free(c), RT_OK);
}

static void child(void *arg)
{
    (void)arg;
    alarm(test_under_valgrind() ? 30 : 8); /* a hang dies of SIGALRM */
    main_tid = tc_gettid();
    for (int run = 0; run < 3; run++) {
        tc_init(1);
        rt_stats st;
        CHECK_RC(test_stats(&st), RT_OK);
        if (!CHECK_EQ(st.spinning_threads, 0))
            fprintf(stderr, "  (run %d: spinning_threads %" PRId64 " right after rt_init)\n", run,
                    st.spinning_threads);
        CHECK_RC(rt_main(body, NULL), RT_OK);
        tc_fini();
    }
}

int main(void)
{
    char err[4096];
    int st = test_spawn(child, NULL, err, sizeof err);
    if (!CHECK_CHILD_OK(st))
        fprintf(stderr, "child stderr:\n%s", err);
    return test_summary();
}
