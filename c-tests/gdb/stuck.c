/*
 * The program c-tests/gdb/run.sh debugs: the Gs of dump_stuck.h parked in known
 * functions, then a call of gdb_here() (where gdb stops and inspects them), then
 * every G released and the runtime shut down.
 */
#include "../dump_stuck.h"

__attribute__((noinline, used)) void gdb_here(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, used)) void stuck_main(void *arg)
{
    (void)arg;
    ds_start();
    /* Until every G is parked (the dump says so), then stop for gdb. */
    for (int i = 0; i < 5000; i++) {
        char *d = test_dump_text();
        bool all = d && strstr(d, "goroutine profile: total 13\n") &&
                   strstr(d, "3 goroutines [chan receive]:\n") &&
                   strstr(d, "2 goroutines [chan send]:\n") && strstr(d, "[sync.Mutex.Lock]") &&
                   strstr(d, "[rt_park]") && strstr(d, "[IO wait]") &&
                   strstr(d, "[sync.WaitGroup.Wait]") && strstr(d, "[select]");
        free(d);
        if (all)
            break;
        rt_sleep(1000000);
    }
    gdb_here();
    ds_release();
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(stuck_main, NULL), RT_OK);
    CHECK_RC(rt_shutdown(20000000000LL), RT_OK);
    return test_summary();
}
