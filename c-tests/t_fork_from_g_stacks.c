/*
 * fork() from a G (issue 8): the forking thread runs on the G's stack, while its M's
 * thread stack (which holds the thread's TCB and TLS) and signal stack stay in use
 * in the child. rt_init in the child must not recycle them: the old code kept only
 * the stack holding sp, put the M's stack in the M-stack cache, and the child's next
 * rt_newm handed it to pthread_create ("stack smashing detected", or a crash).
 *
 * Each child: rt_init, three rt_newm (their threads start and run their start
 * functions), 100 Gs that run to the end, rt_shutdown. The forking thread's own
 * errno and TLS are checked after the Ms started. Negative control: a child forked
 * from a plain foreign thread does the same (it never had the bug), showing that
 * what fails from a G is the G case.
 */
#include "test.h"

static test_latch started = TEST_LATCH_INIT;
static test_latch ran = TEST_LATCH_INIT;
static test_latch forked = TEST_LATCH_INIT;
static _Thread_local int tls_word;

static void note_start(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

static void bump(void *arg)
{
    (void)arg;
    test_latch_post(&ran);
}

static void fresh_runtime(void *arg)
{
    (void)arg;
    tls_word = 0x5eed;
    CHECK_RC(rt_init(NULL), RT_OK);
    long base = started.count;
    for (int i = 0; i < 3; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&started, base + 3, 10));
    long rbase = ran.count;
    for (int i = 0; i < 100; i++)
        CHECK(rt_go(bump, NULL) > 0);
    CHECK(test_latch_wait_for(&ran, rbase + 100, 10));
    CHECK_EQ(tls_word, 0x5eed); /* the forking thread's TLS was not handed away */
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static int g_status;

static void forking_g(void *arg)
{
    (void)arg;
    g_status = test_spawn(fresh_runtime, NULL, NULL, 0);
    test_latch_post(&forked);
}

int main(void)
{
    CHECK_RC(rt_init(NULL), RT_OK);
    /* Ms with cached stacks of the same size as the child's next M's. */
    for (int i = 0; i < 2; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&started, 2, 10));

    /* Negative control: from a foreign thread. */
    CHECK_CHILD_OK(test_spawn(fresh_runtime, NULL, NULL, 0));

    int rounds = test_under_valgrind() ? 2 : 5;
    for (int i = 0; i < rounds; i++) {
        CHECK(rt_go(forking_g, NULL) > 0);
        if (!CHECK(test_latch_wait_for(&forked, i + 1, 60)))
            break;
        if (!CHECK_CHILD_OK(g_status))
            break;
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
