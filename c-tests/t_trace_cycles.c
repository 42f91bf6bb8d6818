/*
 * The execution trace started and stopped over and over, from a foreign thread and
 * from a G, while Gs ping-pong over channels, lock a mutex and sleep on 2 Ps, with
 * rt_gomaxprocs changing, an rt_shutdown + rt_init between some cycles, and a fork
 * in the middle of a running trace; one trace spans a shutdown and the next rt_init. Checked: every start/stop gives RT_OK (the
 * stop from a G included), each file is one JSON document (starts with '[' or '{'
 * and ends with ']' or '}'), the Gs' work completes, the fork child's trace calls
 * behave as documented, and nothing crashes.
 */
#include "test.h"

#include <sys/stat.h>

#define CYCLES_NATIVE 30
#define CYCLES_VALGRIND 4
#define PAIRS 3

static rt_mutex mu = RT_MUTEX_INIT;
static long shared_count; /* under mu */
static atomic_int stop_work;
static rt_wg workers = RT_WG_INIT;
static char dir[64];

static void pinger(void *arg)
{
    rt_chan **c = arg;
    long v = 0;
    while (!atomic_load(&stop_work)) {
        if (rt_chan_send(c[0], &v) != RT_OK)
            break;
        if (rt_chan_recv(c[1], &v) != RT_OK)
            break;
        rt_mutex_lock(&mu);
        shared_count++;
        rt_mutex_unlock(&mu);
        if (v % 64 == 0)
            rt_sleep(20000);
    }
    rt_chan_close(c[0]);
    rt_wg_done(&workers);
}

static void ponger(void *arg)
{
    rt_chan **c = arg;
    long v;
    while (rt_chan_recv(c[0], &v) == RT_OK) {
        v++;
        if (rt_chan_send(c[1], &v) != RT_OK)
            break;
    }
    rt_wg_done(&workers);
}

static rt_chan *chans[PAIRS][2];

static void start_work(void)
{
    atomic_store(&stop_work, 0);
    rt_wg_add(&workers, 2 * PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(rt_chan_make(sizeof(long), i, &chans[i][0]), RT_OK);
        CHECK_RC(rt_chan_make(sizeof(long), 0, &chans[i][1]), RT_OK);
        CHECK(rt_go(pinger, chans[i]) > 0);
        CHECK(rt_go(ponger, chans[i]) > 0);
    }
}

static void stop_workers(void)
{
    atomic_store(&stop_work, 1);
    rt_wg_wait(&workers);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(rt_chan_free(chans[i][0]), RT_OK);
        CHECK_RC(rt_chan_free(chans[i][1]), RT_OK);
    }
}

static bool json_whole(const char *path)
{
    char *b = test_slurp(path);
    if (!b)
        return false;
    size_t n = strlen(b);
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == ' '))
        n--;
    bool ok = n >= 2 && (b[0] == '[' || b[0] == '{') && (b[n - 1] == ']' || b[n - 1] == '}');
    free(b);
    return ok;
}

static atomic_int g_stop_rc;
static rt_wg g_done = RT_WG_INIT;

static void g_stopper(void *arg)
{
    (void)arg;
    rt_sleep(200000);
    atomic_store(&g_stop_rc, rt_trace_stop());
    rt_wg_done(&g_done);
}

static void fork_child(void *arg)
{
    (void)arg;
    CHECK_RC(rt_trace_stop(), RT_EINVAL);
    char p[96];
    snprintf(p, sizeof p, "%s/child.json", dir);
    CHECK_RC(rt_trace_start(p), RT_ESHUTDOWN);
    /* The parent's Gs that used these do not exist here: start them afresh. */
    memset(&workers, 0, sizeof workers);
    memset(&mu, 0, sizeof mu);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_trace_start(p), RT_OK);
    start_work();
    rt_sleep(1000000);
    stop_workers();
    CHECK_RC(rt_trace_stop(), RT_OK);
    CHECK(json_whole(p));
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/mrt_trace_cycles_%d", (int)getpid());
    if (!CHECK_EQ(mkdir(dir, 0700), 0))
        return test_summary();
    int cycles = test_under_valgrind() ? CYCLES_VALGRIND : CYCLES_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    start_work();
    for (int c = 0; c < cycles; c++) {
        char p[96];
        snprintf(p, sizeof p, "%s/t%d.json", dir, c);
        CHECK_RC(rt_trace_start(p), RT_OK);
        rt_gomaxprocs(c % 2 + 1);
        usleep(2000);
        if (c % 3 == 1) {
            /* stopped from a G */
            rt_wg_add(&g_done, 1);
            CHECK(rt_go(g_stopper, NULL) > 0);
            rt_wg_wait(&g_done);
            CHECK_RC(atomic_load(&g_stop_rc), RT_OK);
        } else if (c == cycles / 2) {
            /* Forked while tracing. The child frees its copy of the parent's trace
             * writer (t_trace_fork_child_frees_writer: it used to leak it, 1 MiB
             * from trace::start, which valgrind's leak check in the child saw). */
            CHECK_CHILD_OK(test_spawn(fork_child, NULL, NULL, 0));
            CHECK_RC(rt_trace_stop(), RT_OK);
        } else {
            CHECK_RC(rt_trace_stop(), RT_OK);
        }
        CHECK(json_whole(p));
        unlink(p);
        if (c % 5 == 4) {
            /* a whole new runtime, trace started before the Gs are back */
            stop_workers();
            CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
            snprintf(p, sizeof p, "%s/s%d.json", dir, c);
            /* Any context: also between two runtimes. */
            CHECK_RC(rt_trace_start(p), RT_OK);
            CHECK_RC(rt_init(&cfg), RT_OK);
            start_work();
            usleep(1000);
            CHECK_RC(rt_trace_stop(), RT_OK);
            CHECK(json_whole(p));
            unlink(p);
        }
    }
    stop_workers();
    rt_mutex_lock(&mu);
    CHECK(shared_count > 0);
    rt_mutex_unlock(&mu);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    char p[96];
    snprintf(p, sizeof p, "%s/child.json", dir);
    unlink(p);
    rmdir(dir);
    return test_summary();
}
