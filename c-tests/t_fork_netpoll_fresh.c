/*
 * fork() and the netpoller (issue 8): the child must make its own poller. The old
 * child kept the parent's epoll fd, eventfd and descriptor table: both processes then
 * waited on one epoll instance (an open file description, shared across fork), so a
 * readiness event went to whichever process waited first. The child readied the
 * parent's (stale) waiters or missed its own, and the parent lost wake-ups.
 *
 * Each round: a parent G parks in rt_poll_fd on the parent's pipe (so the parent's
 * poller exists, with a waiter) before the fork. In the child (1 P), G `r` parks on a
 * pipe of the child and G `w` parks on `ack`; the child tells the parent it is
 * waiting; the parent wakes its own G (its write must reach the parent: bounded
 * wait), then writes `ack`, whose event must reach the child: `w` wakes and writes
 * the child's pipe, which wakes `r`. After the child exits, the parent's poller still
 * delivers a wake-up. Negative control: the same child, forked before the parent's
 * poller exists, shares nothing and passes on any version.
 */
#include "test.h"
#include <poll.h>

static int ppipe[2];  /* parent's own */
static int hello[2];  /* child -> parent: "my Gs are parked" */
static int ack[2];    /* parent -> child */
static test_latch pwoke = TEST_LATCH_INIT;
static test_latch cdone = TEST_LATCH_INIT;
static test_latch parking = TEST_LATCH_INIT;
static int cpipe[2];

static void parent_waiter(void *arg)
{
    (void)arg;
    test_latch_post(&parking);
    int rc = rt_poll_fd(ppipe[0], RT_POLLIN, -1);
    CHECK_EQ(rc, RT_POLLIN);
    char c;
    CHECK_EQ(read(ppipe[0], &c, 1), 1);
    test_latch_post(&pwoke);
}

static void child_reader(void *arg)
{
    (void)arg;
    CHECK_EQ(rt_poll_fd(cpipe[0], RT_POLLIN, -1), RT_POLLIN);
    test_latch_post(&cdone);
}

static void child_acker(void *arg)
{
    (void)arg;
    /* Runs after child_reader parked (1 P, queued behind it). */
    CHECK_EQ(write(hello[1], "h", 1), 1);
    CHECK_EQ(rt_poll_fd(ack[0], RT_POLLIN, -1), RT_POLLIN);
    CHECK_EQ(write(cpipe[1], "c", 1), 1);
    test_latch_post(&cdone);
}

static void child(void *arg)
{
    bool talk = arg != NULL;
    alarm(10); /* a hang is a failure, reported as SIGALRM */
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK_EQ(pipe(cpipe), 0);
    CHECK(rt_go(child_reader, NULL) > 0);
    if (talk) {
        CHECK(rt_go(child_acker, NULL) > 0);
        CHECK(test_latch_wait_for(&cdone, 2, 8));
    } else {
        CHECK_EQ(write(cpipe[1], "c", 1), 1);
        CHECK(test_latch_wait_for(&cdone, 1, 8));
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void *spawner(void *arg)
{
    *(int *)arg = test_spawn(child, (void *)1, NULL, 0);
    return NULL;
}

int main(void)
{
    setenv("MRT_MAXPROCS", "2", 1);
    CHECK_EQ(pipe(ppipe), 0);
    CHECK_EQ(pipe(hello), 0);
    CHECK_EQ(pipe(ack), 0);
    CHECK_RC(rt_init(NULL), RT_OK);

    /* Negative control: no poller in the parent yet. */
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));

    int rounds = test_under_valgrind() ? 2 : 5;
    for (int i = 0; i < rounds; i++) {
        CHECK(rt_go(parent_waiter, NULL) > 0);
        test_latch_wait(&parking, 2 * i + 1);
        int status = -1;
        pthread_t th;
        pthread_create(&th, NULL, spawner, &status);
        /* The child's Gs are parked (bounded: a child that died never says so). */
        struct pollfd hp = { .fd = hello[0], .events = POLLIN };
        char h;
        if (CHECK_EQ(poll(&hp, 1, 10000), 1))
            CHECK_EQ(read(hello[0], &h, 1), 1);
        CHECK_EQ(write(ppipe[1], "p", 1), 1);
        bool woke = test_latch_wait_for(&pwoke, 2 * i + 1, 5);
        CHECK(woke); /* the parent got its own event */
        CHECK_EQ(write(ack[1], "a", 1), 1);
        pthread_join(th, NULL);
        bool ok = CHECK_CHILD_OK(status);
        if (!woke) {
            /* Unstick the parent's G (its event went to the child). */
            CHECK_EQ(write(ppipe[1], "p", 1), 1);
            if (!test_latch_wait_for(&pwoke, 2 * i + 1, 5))
                return test_summary();
        }
        /* After the child exited, the parent's poller still delivers. */
        CHECK(rt_go(parent_waiter, NULL) > 0);
        test_latch_wait(&parking, 2 * i + 2);
        CHECK_EQ(write(ppipe[1], "p", 1), 1);
        if (!CHECK(test_latch_wait_for(&pwoke, 2 * i + 2, 5)))
            return test_summary(); /* a G of ours is stuck: no shutdown */
        if (!ok)
            break;
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
