/*
 * pipe_pair.h: a pair of Gs that ping-pong bytes through two pipes with rt_poll_fd,
 * shared by the tests that need the netpoller busy (t_fork_busy_ms and the
 * fault matrix's fork-while-busy scenarios). pinger writes, waits for the reply and
 * reads it, `rounds` times (< 0: until `stop` is set), then sends 'q'; ponger echoes
 * until 'q'. Each posts `pdone` when it ends.
 */
#ifndef MRT_PIPE_PAIR_H
#define MRT_PIPE_PAIR_H

#include "test.h"

typedef struct pair {
    int ab[2], ba[2];
    int rounds; /* < 0: until `stop` */
} pair;

static atomic_int stop;
static test_latch pdone = TEST_LATCH_INIT;

static void pinger(void *arg)
{
    pair *p = arg;
    char c = 'x';
    for (int i = 0; p->rounds < 0 ? !atomic_load(&stop) : i < p->rounds; i++) {
        CHECK_EQ(write(p->ab[1], &c, 1), 1);
        if (!CHECK_EQ(rt_poll_fd(p->ba[0], RT_POLLIN, -1), RT_POLLIN))
            break;
        CHECK_EQ(read(p->ba[0], &c, 1), 1);
    }
    c = 'q';
    CHECK_EQ(write(p->ab[1], &c, 1), 1);
    test_latch_post(&pdone);
}

static void ponger(void *arg)
{
    pair *p = arg;
    char c;
    for (;;) {
        if (!CHECK_EQ(rt_poll_fd(p->ab[0], RT_POLLIN, -1), RT_POLLIN))
            break;
        CHECK_EQ(read(p->ab[0], &c, 1), 1);
        if (c == 'q')
            break;
        CHECK_EQ(write(p->ba[1], &c, 1), 1);
    }
    test_latch_post(&pdone);
}

static void make_pair(pair *p, int rounds)
{
    CHECK_EQ(pipe(p->ab), 0);
    CHECK_EQ(pipe(p->ba), 0);
    p->rounds = rounds;
}

#endif
