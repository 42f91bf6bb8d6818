/*
 * The goroutine dump of a deliberately stuck program (issue 11): Gs parked on a
 * channel receive (3, grouped), a send (2), a select, an rt_mutex, an rt_wg, an fd,
 * rt_park (named by rt_go_ex), a sleep, and one wired to its thread. rt_dump must
 * show each group's count and wait reason, each G's wait time, creator and call
 * site, its start function and a backtrace through the function it parked in, and
 * the dumping G itself as running. The dump is taken again (the parks race the
 * first dumps) until it shows every G parked, or 2000 tries.
 */
#include "dump_stuck.h"

static char *last;

static bool has(const char *s)
{
    return last && strstr(last, s) != NULL;
}

/* Everything the dump must say once every G has parked. */
static bool complete(int64_t me)
{
    char created[96];
    snprintf(created, sizeof created, "created by goroutine %lld at ds_start+0x", (long long)me);
    return has("goroutine profile: total 13\n") && has("3 goroutines [chan receive]:\n") &&
           has("2 goroutines [chan send]:\n") && has("1 goroutine [select]:\n") &&
           has("1 goroutine [sync.Mutex.Lock]:\n") && has("1 goroutine [sync.WaitGroup.Wait]:\n") &&
           has("1 goroutine [IO wait]:\n") && has("1 goroutine [rt_park]:\n") &&
           has("1 goroutine [sleep]:\n") && has(created) &&
           /* the wired G, in a group of its own once it has parked */
           has("ds_stuck_locked+0x") && has(", locked to thread M");
}

/* How many "  goroutine " lines follow the group header `hdr`. */
static int group_size(const char *hdr)
{
    const char *p = last ? strstr(last, hdr) : NULL;
    if (!p)
        return -1;
    p += strlen(hdr);
    int n = 0;
    while (strncmp(p, "  goroutine ", 12) == 0) {
        n++;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return n;
}

DS_NOINLINE void main_g(void *arg)
{
    (void)arg;
    int64_t me = rt_goid();
    ds_start();
    for (int i = 0; i < 2000; i++) {
        free(last);
        last = test_dump_text();
        if (complete(me))
            break;
        rt_sleep(1000000);
    }
    CHECK(complete(me));
    /* Each group names its start function and the function it parked in. */
    const char *want[] = {
        "    start ds_stuck_recv+0x0\n", "ds_stuck_recv+0x", "rt_chan_recv+0x",
        "    start ds_stuck_send+0x0\n", "ds_stuck_send+0x", "rt_chan_send+0x",
        "ds_stuck_select+0x", "rt_select+0x", "ds_stuck_mutex+0x", "rt_mutex_lock+0x",
        "ds_stuck_wg+0x", "rt_wg_wait+0x", "ds_stuck_fd+0x", "rt_poll_fd+0x",
        "ds_stuck_park+0x", "rt_park+0x", "ds_stuck_sleep+0x", "rt_sleep+0x",
        "ds_stuck_locked+0x",
        /* rt_go_ex's name, the wired G, the dumping G itself */
        "name=\"parker-7\" created by goroutine", ", locked to thread M", "[running (this dump)]",
        /* the Ms and Ps still come first */
        "libmrt: gomaxprocs=2", "  P0: ", "  M",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!CHECK(has(want[i])))
            fprintf(stderr, "missing from the dump: \"%s\"\n", want[i]);
    /* Grouped: the receivers' group lists three goroutines, the senders' two. */
    CHECK_EQ(group_size("3 goroutines [chan receive]:\n"), 3);
    CHECK_EQ(group_size("2 goroutines [chan send]:\n"), 2);
    if (atomic_load(&test_failed_) > 0 && last)
        fputs(last, stderr);
    if (getenv("DS_PRINT") && last)
        fputs(last, stdout);
    ds_release();
    free(last);
    last = NULL;
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_RC(rt_shutdown(test_under_valgrind() ? 60000000000LL : 20000000000LL), RT_OK);
    return test_summary();
}
