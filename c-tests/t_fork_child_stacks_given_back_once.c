/*
 * fork() from a G while other Ps churn G stacks: the child must not hand one stack
 * slot to two owners. fork copies the parent page by page while its other threads run
 * on, and the Ps' stack caches and the Gs' stacks change without a lock, so a child
 * could find a stack both on a P's list and in the G that had just taken it. rt_init
 * in the child gave every such stack back to its arena, so a slot went back twice:
 * the child's runtime then handed it to two Gs (a free list that looped: rt_shutdown
 * spun forever), or counted no stack in use in the arena of the forking G's stack and
 * unmapped it under the child's own thread (SIGSEGV in munmap's return).
 *
 * Each child starts a runtime of its own on the forking G's stack, runs many Gs that
 * each fill a buffer on their stack and check it after all were made (two Gs on one
 * stack overwrite each other), shuts down and exits 0; a hang dies of SIGALRM.
 */
#include "test.h"

static long FORKS = 150, CHILD_GS = 400; /* 4 and 30 under valgrind */

static atomic_int stop;
static atomic_long bad_children;

static void quick(void *arg)
{
    volatile char buf[256];
    buf[0] = (char)(intptr_t)arg;
    (void)buf[0];
}

/* Spawns and reaps short Gs without end: stacks move between the Ps' caches, the
 * global cache and the Gs the whole time. */
static void churner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 32; i++)
            rt_go(quick, (void *)(intptr_t)i);
        rt_gosched();
    }
}

static rt_chan *gate;
static atomic_long child_bad, child_done;

static void filler(void *arg)
{
    long id = (long)(intptr_t)arg;
    volatile long buf[128];
    for (int i = 0; i < 128; i++)
        buf[i] = id ^ i;
    long v;
    rt_chan_recv(gate, &v); /* closed once all are made */
    for (int i = 0; i < 128; i++)
        if (buf[i] != (id ^ i)) {
            atomic_fetch_add(&child_bad, 1);
            break;
        }
    atomic_fetch_add(&child_done, 1);
}

static void child_main(void *arg)
{
    (void)arg;
    for (long i = 0; i < CHILD_GS; i++)
        if (rt_go(filler, (void *)(intptr_t)i) <= 0)
            _exit(3);
    rt_chan_close(gate);
    while (atomic_load(&child_done) < CHILD_GS)
        rt_gosched();
}

static void child(void)
{
    alarm(20);
    if (rt_init(NULL) != RT_OK)
        _exit(2);
    if (rt_chan_make(sizeof(long), 0, &gate) != RT_OK)
        _exit(2);
    if (rt_main(child_main, NULL) != RT_OK)
        _exit(2);
    if (rt_shutdown(-1) != RT_OK)
        _exit(2);
    _exit(atomic_load(&child_bad) ? 4 : 0);
}

static void forker(void *arg)
{
    (void)arg;
    for (long i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid == 0)
            child();
        if (!CHECK(pid > 0))
            break;
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            atomic_fetch_add(&bad_children, 1);
            fprintf(stderr, "fork %ld: child %s %d\n", i,
                    WIFEXITED(st) ? "exited" : "died of signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
        rt_gosched();
    }
    atomic_store(&stop, 1);
}

static void root(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        CHECK(rt_go(churner, NULL) > 0);
    forker(NULL);
}

int main(void)
{
    if (test_under_valgrind()) {
        FORKS = 4;
        CHILD_GS = 30;
    }
    rt_config cfg = {.size = sizeof cfg, .maxprocs = 4};
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(root, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_EQ(atomic_load(&bad_children), 0);
    return test_summary();
}
