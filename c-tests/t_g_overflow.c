/*
 * Stack overflow in a G, in child processes: a G that recurses without bound dies
 * with exactly one line on stderr containing "stack overflow" and "goroutine <id>"
 * (its id, as rt_go returned it and rt_goid says), then SIGABRT. The same when the
 * host had installed its own SIGSEGV handler before libmrt (an overflow is fatal and
 * reported by libmrt; the host handler is not called), for a G started from a foreign
 * thread (running on a runtime M) and for rt_main's G (running on the host thread),
 * and with a small rt_config.g_stack_size.
 */
#include "test_overflow.h"

static void overflow(void *arg)
{
    (void)arg;
    to_overflow(rt_goid());
}

enum { HOST_HANDLER = 1, VIA_MAIN = 2, SMALL_STACK = 4, AFTER_SWITCHES = 8 };

static void busy(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        rt_gosched();
}

static void main_g(void *arg)
{
    int flags = (int)(intptr_t)arg;
    if (flags & AFTER_SWITCHES) {
        for (int i = 0; i < 10; i++)
            rt_go(busy, NULL);
        for (int i = 0; i < 50; i++)
            rt_gosched();
    }
    overflow(NULL);
}

static void child(void *arg)
{
    int flags = (int)(intptr_t)arg;
    to_child_setup(flags & HOST_HANDLER);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    if (flags & SMALL_STACK)
        cfg.g_stack_size = 16 << 10;
    if (rt_init(&cfg) != RT_OK)
        _exit(6);
    /* A few healthy Gs first, so that the overflowing one is not G 1 by accident. */
    for (int i = 0; i < 5; i++)
        rt_go(busy, NULL);
    if (flags & VIA_MAIN) {
        rt_main(main_g, arg);
    } else {
        if (rt_go(overflow, NULL) <= 0)
            _exit(6);
    }
    for (;;)
        pause(); /* the process dies from the G */
}

static void run(int flags)
{
    char label[32];
    snprintf(label, sizeof label, "flags %d", flags);
    CHECK(to_check(child, (void *)(intptr_t)flags, "goroutine", label) > 0);
}

int main(void)
{
    run(0);
    run(HOST_HANDLER);
    run(VIA_MAIN);
    run(VIA_MAIN | HOST_HANDLER | AFTER_SWITCHES);
    run(SMALL_STACK);
    return test_summary();
}
