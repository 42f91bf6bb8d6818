/*
 * Handles belong to the process, not to one run of the runtime (docs/api.md,
 * "Registered fds"): a handle opened before rt_init works in the run that follows,
 * stays open across rt_shutdown (a plain thread may wait on it meanwhile), and a G
 * of the next run waits on it and is woken by an edge (a write from a foreign thread,
 * made once the G has looked and found nothing). Only rt_pollfd_close ends it.
 */
#include "test_chan.h"

static int p[2];
static rt_pollfd *h;
static test_latch looked = TEST_LATCH_INIT; /* posted once per run */
static long runs;

static void *writer(void *arg)
{
    (void)arg;
    test_latch_wait(&looked, runs);
    CHECK_EQ(write(p[1], "x", 1), 1);
    return NULL;
}

/* Reads one byte, waiting through the handle on EAGAIN. */
static void reader(void *arg)
{
    (void)arg;
    char c;
    bool told = false;
    for (;;) {
        rt_pollfd_reset(h, RT_POLLIN);
        if (read(p[0], &c, 1) == 1)
            break;
        if (!CHECK_EQ(errno, EAGAIN))
            return;
        if (!told) {
            test_latch_post(&looked);
            told = true;
        }
        if (!CHECK_EQ(rt_pollfd_wait(h, RT_POLLIN, -1), RT_POLLIN))
            return;
    }
    if (!told)
        FAIL("the byte was there before the reader looked");
}

static void run(int procs)
{
    runs++;
    tc_init(procs);
    pthread_t t = tc_thread(writer, NULL);
    CHECK_RC(rt_main(reader, NULL), RT_OK);
    tc_join(t);
    tc_fini();
}

int main(void)
{
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_pollfd_open(p[0], &h), RT_OK); /* before rt_init */
    run(2);
    /* Between runs: open, and a plain thread's look works. */
    CHECK_RC(rt_pollfd_wait(h, RT_POLLIN, 0), RT_EAGAIN);
    run(1);
    run(2);
    CHECK_RC(rt_pollfd_close(h), RT_OK);
    CHECK_RC(rt_pollfd_wait(h, RT_POLLIN, 0), RT_EINVAL);
    close(p[0]);
    close(p[1]);
    return test_summary();
}
