/*
 * Stack overflow on an M's g0 (infinite recursion in a start function), in a child
 * process: one line on stderr containing "stack overflow" and "g0 of M <id>", then
 * SIGABRT. Also when the host had its own SIGSEGV handler: an overflow is still fatal
 * and reported by libmrt (the host handler is for faults elsewhere).
 */
#include "test_overflow.h"

static void overflow(void *arg)
{
    (void)arg;
    to_overflow(rt_m_id(rt_getm()));
}

static void child(void *arg)
{
    to_child_setup(arg != NULL);
    rt_config cfg = { .size = sizeof cfg, .g0_stack_size = 256 << 10 };
    if (rt_init(&cfg) != RT_OK)
        _exit(6);
    /* A few healthy Ms first, so that the overflowing one is not M 1 by accident. */
    for (int i = 0; i < 3; i++)
        rt_newm(NULL, NULL, NULL, NULL);
    if (rt_newm(overflow, NULL, NULL, NULL) != RT_OK)
        _exit(6);
    for (;;)
        pause(); /* the process dies from the M */
}

int main(void)
{
    to_check(child, NULL, "g0 of M", "no host handler");
    to_check(child, (void *)1, "g0 of M", "with host handler");
    return test_summary();
}
