/*
 * A handle opened before fork() keeps working in the child: the child's poller is a
 * new one that knows none of the parent's registrations, so the handle's first wait
 * there registers the fd again and reports the fd ready once (what happened in
 * between is unknown); the host reads, gets EAGAIN, waits, and an edge made by the
 * parent wakes it. Another handle, on which a parent G was parked at the fork, is
 * waited on in the child too (the parent's waiter is forgotten, not RT_EBUSY) and
 * closed; on a third, a thread of the child blocks (its first wait there) and the
 * child's close wakes it with RT_ECLOSED. The parent's handles are
 * unaffected: its parked G still wakes from an edge after the child exits, and its
 * handles close normally. The fork comes from a G (test_spawn on the main G) and,
 * in the other half, from a foreign thread.
 */
#include "test_chan.h"
#include <poll.h>

static int a[2], b[2], c[2], hello[2];
static rt_pollfd *ha, *hb, *hc;
static test_latch parking = TEST_LATCH_INIT, pwoke = TEST_LATCH_INIT;

static void parent_waiter(void *arg)
{
    (void)arg;
    test_latch_post(&parking);
    CHECK_EQ(rt_pollfd_wait(hb, RT_POLLIN, -1), RT_POLLIN);
    char x;
    CHECK_EQ(read(b[0], &x, 1), 1);
    test_latch_post(&pwoke);
}

static atomic_int ctid, crc;

static void *child_thread(void *arg)
{
    (void)arg;
    atomic_store(&ctid, tc_gettid());
    int r;
    do /* the first wait in the child reports ready once */
        r = rt_pollfd_wait(hc, RT_POLLIN, -1);
    while (r == RT_POLLIN);
    atomic_store(&crc, r);
    return NULL;
}

static void child_main(void *arg)
{
    (void)arg;
    char x;
    /* The first wait in the child registers the fd and reports it ready once. */
    CHECK_EQ(rt_pollfd_wait(ha, RT_POLLIN, 0), RT_POLLIN);
    CHECK_EQ(read(a[0], &x, 1), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK_RC(rt_pollfd_wait(ha, RT_POLLIN, 0), RT_EAGAIN);
    CHECK_EQ(write(hello[1], "h", 1), 1);
    /* Parks in the child's poller until the parent writes. */
    CHECK_EQ(rt_pollfd_wait(ha, RT_POLLIN, -1), RT_POLLIN);
    CHECK_EQ(read(a[0], &x, 1), 1);
    /* The parent's G waits on hb: forgotten here, so a child G may wait. */
    CHECK_EQ(rt_pollfd_wait(hb, RT_POLLIN, -1), RT_POLLIN); /* the once-ready */
    CHECK_RC(rt_pollfd_wait(hb, RT_POLLIN, 1000000), RT_ETIMEDOUT);
    CHECK_RC(rt_pollfd_close(hb), RT_OK);
    pthread_t t = tc_thread(child_thread, NULL);
    while (atomic_load(&ctid) == 0)
        rt_gosched();
    bool blocked = tc_wait_thread_in(atomic_load(&ctid), SYS_ppoll);
    CHECK_RC(rt_pollfd_close(hc), RT_OK);
    tc_join(t);
    if (blocked)
        CHECK_RC(atomic_load(&crc), RT_ECLOSED);
    else /* never seen blocked (best effort): the close may have come first */
        CHECK(atomic_load(&crc) == RT_ECLOSED || atomic_load(&crc) == RT_EINVAL);
    CHECK_RC(rt_pollfd_close(hc), RT_EINVAL);
    CHECK_RC(rt_pollfd_close(ha), RT_OK);
}

static void child(void *arg)
{
    (void)arg;
    alarm(20);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_main(child_main, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void *spawner(void *arg)
{
    *(int *)arg = test_spawn(child, NULL, NULL, 0);
    return NULL;
}

static void round_thread(int i)
{
    CHECK_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(pipe2(c, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_RC(rt_pollfd_open(a[0], &ha), RT_OK);
    CHECK_RC(rt_pollfd_open(b[0], &hb), RT_OK);
    CHECK_RC(rt_pollfd_open(c[0], &hc), RT_OK);
    tc_go(parent_waiter, NULL);
    test_latch_wait(&parking, i + 1);
    tc_park_settle(5);
    int status = -1;
    pthread_t th = tc_thread(spawner, &status);
    struct pollfd hp = { .fd = hello[0], .events = POLLIN };
    char h;
    if (CHECK_EQ(poll(&hp, 1, 10000), 1))
        CHECK_EQ(read(hello[0], &h, 1), 1);
    CHECK_EQ(write(a[1], "p", 1), 1);
    tc_join(th);
    CHECK_CHILD_OK(status);
    /* The parent's G still wakes from the parent's edge. */
    CHECK_EQ(write(b[1], "q", 1), 1);
    CHECK(test_latch_wait_for(&pwoke, i + 1, 10));
    CHECK_RC(rt_pollfd_close(ha), RT_OK);
    CHECK_RC(rt_pollfd_close(hb), RT_OK);
    CHECK_RC(rt_pollfd_close(hc), RT_OK);
    for (int k = 0; k < 2; k++) {
        close(a[k]);
        close(b[k]);
        close(c[k]);
    }
}

static void *writer_after_hello(void *arg)
{
    (void)arg;
    struct pollfd hp = { .fd = hello[0], .events = POLLIN };
    char h;
    if (CHECK_EQ(poll(&hp, 1, 10000), 1))
        CHECK_EQ(read(hello[0], &h, 1), 1);
    CHECK_EQ(write(a[1], "p", 1), 1);
    return NULL;
}

static void body(void *arg)
{
    (void)arg;
    int rounds = tc_scale(4, 2);
    for (int i = 0; i < rounds; i++) {
        if (i % 2) {
            round_thread(i);
        } else {
            /* Fork from this G; a thread plays the parent's part meanwhile. */
            CHECK_EQ(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
            CHECK_EQ(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
            CHECK_EQ(pipe2(c, O_NONBLOCK | O_CLOEXEC), 0);
            CHECK_RC(rt_pollfd_open(a[0], &ha), RT_OK);
            CHECK_RC(rt_pollfd_open(b[0], &hb), RT_OK);
            CHECK_RC(rt_pollfd_open(c[0], &hc), RT_OK);
            tc_go(parent_waiter, NULL);
            test_latch_wait(&parking, i + 1);
            tc_park_settle(5);
            pthread_t th = tc_thread(writer_after_hello, NULL);
            CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
            tc_join(th);
            CHECK_EQ(write(b[1], "q", 1), 1);
            CHECK(test_latch_wait_for(&pwoke, i + 1, 10));
            CHECK_RC(rt_pollfd_close(ha), RT_OK);
            CHECK_RC(rt_pollfd_close(hb), RT_OK);
            CHECK_RC(rt_pollfd_close(hc), RT_OK);
            for (int k = 0; k < 2; k++) {
                close(a[k]);
                close(b[k]);
                close(c[k]);
            }
        }
    }
}

int main(void)
{
    CHECK_EQ(pipe(hello), 0);
    tc_run(2, body, NULL);
    return test_summary();
}
