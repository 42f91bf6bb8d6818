/*
 * G stack allocation failure: in a child process with big G stacks
 * (rt_config.g_stack_size = 256 MiB), RLIMIT_AS is lowered after init so that no new
 * stack can be mapped while the stack caches are empty. Then rt_go fails with
 * RT_ENOMEM from a foreign thread and from a G, and rt_main with RT_ENOMEM; nothing is
 * counted as created or left alive; the Gs that already run go on. After the limit is
 * raised again, rt_go and the new Gs work as before.
 * (Not run under valgrind: valgrind manages the address space itself.)
 */
#include "test.h"

#define BOUND 50000000L

static long vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = -1;
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = -1;
        fclose(f);
    }
    return pages < 0 ? -1 : pages * sysconf(_SC_PAGESIZE);
}

static atomic_int go_now, g_result_ready, ran;
static _Atomic int64_t g_rc;

static void nop(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

/* Runs before the limit; tries rt_go once told to, then reports. */
static void tries_later(void *arg)
{
    (void)arg;
    for (long n = 0; !atomic_load(&go_now) && n < BOUND; n++)
        rt_gosched();
    atomic_store(&g_rc, rt_go(nop, NULL));
    atomic_store(&g_result_ready, 1);
}

static void child(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1, .g_stack_size = (size_t)256 << 20 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    /* One G that will call rt_go under the limit; it holds the only stack there is. */
    CHECK(rt_go(tries_later, NULL) > 0);
    for (long n = 0; n < BOUND; n++) {
        rt_stats st;
        if (test_stats(&st) == RT_OK && st.switches > 0)
            break;
        test_relax();
    }
    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);
    CHECK_EQ(st0.goroutines, 1);

    free(malloc(256 << 10)); /* room for small mallocs in the heap we already have */
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    long vm = vm_bytes();
    if (!CHECK(vm > 0))
        return;
    lim.rlim_cur = (rlim_t)vm + (64 << 20); /* far less than one 256 MiB stack */
    lim.rlim_max = old.rlim_max;
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
        FAIL("setrlimit(RLIMIT_AS): %s", strerror(errno));
        return;
    }

    /* From this foreign thread. */
    CHECK_RC(rt_go(nop, NULL), RT_ENOMEM);
    CHECK_RC(rt_go(nop, NULL), RT_ENOMEM);
    /* From a G. */
    atomic_store(&go_now, 1);
    for (long n = 0; !atomic_load(&g_result_ready) && n < BOUND; n++)
        test_relax();
    CHECK(atomic_load(&g_result_ready));
    CHECK_RC(atomic_load(&g_rc), RT_ENOMEM);
    /* (rt_main is not checked here: it queues its G on the P it takes, whose own
     * stack cache may still hold the stack of a G that ran there, and then it
     * rightly needs no new mapping.) */

    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.gs_created, st0.gs_created);
    CHECK(st.goroutines <= 1);
    CHECK_EQ(atomic_load(&ran), 0);

    /* Raise the limit again: everything works. */
    if (setrlimit(RLIMIT_AS, &old) != 0)
        FAIL("setrlimit(RLIMIT_AS) back: %s", strerror(errno));
    for (int i = 0; i < 10; i++)
        CHECK(rt_go(nop, NULL) > 0);
    for (long n = 0; atomic_load(&ran) < 10 && n < BOUND; n++)
        test_relax();
    CHECK_EQ(atomic_load(&ran), 10);
    CHECK(test_wait_all_idle());
    CHECK_RC(rt_main(nop, NULL), RT_OK);
    CHECK_EQ(atomic_load(&ran), 11);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
