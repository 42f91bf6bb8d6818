/*
 * fork() while 4 Ms are busy (issue 8), from a runtime M's thread (its start
 * function) and from a foreign thread, 20 forks each. The parent's Gs ping-pong
 * through pipes with rt_poll_fd, so its netpoller is in use (waiters parked, an M
 * blocked in epoll_wait) at every fork. Each child starts a fresh runtime and runs
 * its own ping-pong through rt_poll_fd; each must finish (bounded wait, else
 * SIGALRM). The old code shared the parent's epoll instance with every child: children
 * hung or crashed on the parent's waiters and the parent lost wake-ups, which the
 * parent's ping-pong notices (it must finish after the forks, bounded).
 * Negative control: the same child forked before the parent's Gs exist passes on any
 * version.
 */
#include "test.h"
#include "pipe_pair.h"

#define PAIRS 2
#define FORKS 20






static void close_pair(pair *p)
{
    close(p->ab[0]);
    close(p->ab[1]);
    close(p->ba[0]);
    close(p->ba[1]);
}

static void child(void *arg)
{
    (void)arg;
    alarm(10); /* a hang is a failure, reported as SIGALRM */
    atomic_store(&stop, 0);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_newm(NULL, NULL, NULL, NULL), RT_OK);
    pair cp;
    make_pair(&cp, 50);
    long base = pdone.count;
    CHECK(rt_go(ponger, &cp) > 0);
    CHECK(rt_go(pinger, &cp) > 0);
    CHECK(test_latch_wait_for(&pdone, base + 2, 8));
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static atomic_int bad_children;

static void fork_some(void)
{
    for (int i = 0; i < FORKS; i++)
        if (!CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0)))
            atomic_fetch_add(&bad_children, 1);
}

static test_latch m_forked = TEST_LATCH_INIT;

static void m_start(void *arg)
{
    (void)arg;
    fork_some();
    test_latch_post(&m_forked);
}

int main(void)
{
    setenv("MRT_MAXPROCS", "4", 1);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_EQ(rt_gomaxprocs(0), 4);

    /* Negative control: no busy Gs, no poller yet. */
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));

    pair pp[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        make_pair(&pp[i], -1);
        CHECK(rt_go(ponger, &pp[i]) > 0);
        CHECK(rt_go(pinger, &pp[i]) > 0);
    }

    fork_some(); /* from a foreign thread */
    CHECK_RC(rt_newm(m_start, NULL, NULL, NULL), RT_OK);
    bool m_done = test_latch_wait_for(&m_forked, 1, 300);
    CHECK(m_done);
    CHECK_EQ(atomic_load(&bad_children), 0);

    /* The parent lost no wake-up: every ping-pong finishes. */
    atomic_store(&stop, 1);
    if (!CHECK(test_latch_wait_for(&pdone, 2 * PAIRS, 10)) || !m_done)
        return test_summary(); /* Gs of ours are stuck: no shutdown */
    CHECK_RC(rt_shutdown(-1), RT_OK);
    for (int i = 0; i < PAIRS; i++)
        close_pair(&pp[i]);
    return test_summary();
}
