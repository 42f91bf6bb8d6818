/*
 * Regression test (hunt6): rt_gomaxprocs shrinks past a P whose M runs a G that keeps
 * it, while another G waits in that P's queue. Such a P dies when its G gives it up,
 * but sysmon's retake (which asks a G that has run a whole time slice to yield, and
 * takes a P from an M in a system call) looked only at Ps below gomaxprocs, and no
 * thief steals from a P beyond it:
 *  - a G computing with rt_checkpoint calls, as a long computation should, was never
 *    asked to yield, so the queued G never ran (here the computing G runs until the
 *    queued G has run: it never ended);
 *  - a G that entered a system call on such a P after the shrink kept the P, and the
 *    queued G with it, for as long as the call (here: until the queued G has run).
 * Now sysmon also watches Ps beyond gomaxprocs, their time slice over at once (the P
 * is to die): it asks their Gs to yield and takes them out of system calls at once,
 * so the P dies and its queue moves to the global queue.
 * Each case in a child process. (The waits below are bounds for a hang, not timing
 * assertions: 15 s, within the child's alarm.)
 */
#include "shrink_past.h"

#include <poll.h>

static atomic_int queued_ran, hog_running, give_up, yielded;
static int in_call_mode;

static void queued(void *arg)
{
    (void)arg;
    atomic_store(&queued_ran, 1);
}

/* Queues a G behind itself, then computes, offering to yield, until that G ran; or
 * (in_call_mode) computes without offering until the shrink, then waits for it in a
 * system call. */
static void hog(void *arg)
{
    (void)arg;
    CHECK(rt_go(queued, NULL) > 0);
    atomic_store(&hog_running, 1);
    if (in_call_mode) {
        while (rt_gomaxprocs(0) != 1 && !atomic_load(&give_up))
            ;
        CHECK_RC(rt_entersyscall(), RT_OK);
        while (!atomic_load(&queued_ran) && !atomic_load(&give_up))
            poll(NULL, 0, 1);
        CHECK_RC(rt_exitsyscall(), RT_OK);
        return;
    }
    while (!atomic_load(&queued_ran) && !atomic_load(&give_up))
        if (rt_checkpoint())
            atomic_store(&yielded, 1);
}

static bool hog_is_running(void) { return atomic_load(&hog_running); }
static bool queued_has_run(void) { return atomic_load(&queued_ran); }

static void *shrinker(void *arg)
{
    (void)arg;
    if (!CHECK(shrink_past_p1(hog_is_running, queued_has_run, 15)))
        fprintf(stderr, "the G queued on a %s P past gomaxprocs did not run in 15 s "
                        "(its G yielded: %d)\n",
                in_call_mode ? "system-call" : "running", atomic_load(&yielded));
    atomic_store(&give_up, 1);
    return NULL;
}

static void scenario(void *arg)
{
    in_call_mode = arg != NULL;
    pthread_t h = shrink_stage(shrinker);
    CHECK(rt_go(hog, NULL) > 0);
    CHECK(rt_schedule(RT_SCHED_ONCE) >= 0);
    shrink_unstage(h);
    CHECK(atomic_load(&queued_ran));
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(scenario, NULL, NULL, 0));
    CHECK_CHILD_OK(test_spawn(scenario, (void *)1, NULL, 0));
    return test_summary();
}
