/*
 * The execution trace (rt_trace_start / rt_trace_stop):
 *  - bad input is a named error: NULL or empty path, a path in a missing directory
 *    (RT_EINVAL), a second start (RT_EALREADY), a stop with no trace (RT_EINVAL);
 *    the refused calls leave no trace running (a later start works);
 *  - a channel pipeline with a mutex, a wait group, a sleep, a select with a timeout,
 *    a host park (rt_park) and a system call, on 2 Ps, is traced; the file is one
 *    JSON document whose events name every wait reason, the host's park function,
 *    creations, wakes with flow arrows and system calls. (The structure — balanced
 *    slices, monotonic lanes, resolved flows — is checked by
 *    python-bindings/tests/test_trace.py, which parses the file this test leaves in
 *    $MRT_TRACE_KEEP if that is set.)
 *  - a ping-pong on 1 P (two Gs handing a value back and forth over two unbuffered
 *    channels, whose switches the trace writes in its shortest form): every round
 *    trip arrives; test_trace.py checks its wakes, flows and wait objects.
 *  - a trace started again while a G woken in the one before has yet to run
 *    (t_trace_restart_no_stale_flow): the new trace ends no flow arrow that it
 *    did not start (the G's start used to end its old wake's arrow, a flow
 *    finish with no start); test_trace.py checks that trace, kept in
 *    $MRT_TRACE_KEEP2, whole.
 *  - fork: in a child forked while the trace runs no trace runs (rt_trace_stop
 *    says so) and none starts before the child's rt_init (RT_ESHUTDOWN); the
 *    parent's file is still one whole JSON document afterwards.
 */
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>

static long N = 2000; /* 200 under valgrind */

static rt_chan *c1, *c2;
static rt_mutex mu = RT_MUTEX_INIT;
static rt_wg wg = RT_WG_INIT;
static long sum; /* under mu */
static rt_g *parked;
static atomic_int parked_flag;

static void producer(void *arg)
{
    (void)arg;
    for (long i = 1; i <= N; i++)
        rt_chan_send(c1, &i);
    rt_chan_close(c1);
    rt_wg_done(&wg);
}

void stage(void *arg);
void stage(void *arg)
{
    (void)arg;
    long v;
    while (rt_chan_recv(c1, &v) == RT_OK) {
        v *= 2;
        rt_chan_send(c2, &v);
    }
    rt_wg_done(&wg);
}

static void consumer(void *arg)
{
    (void)arg;
    long v;
    for (;;) {
        rt_select_case cs[1] = {{c2, RT_RECV, &v, 0}};
        int i = rt_select(cs, 1, 200 * 1000 * 1000LL);
        if (i == RT_ETIMEDOUT)
            break;
        rt_mutex_lock(&mu);
        sum += v;
        rt_mutex_unlock(&mu);
    }
    rt_wg_done(&wg);
}

bool host_wait_here(rt_g *g, void *arg);
bool host_wait_here(rt_g *g, void *arg)
{
    (void)arg;
    parked = g;
    atomic_store(&parked_flag, 1);
    return true;
}

static void host_parker(void *arg)
{
    (void)arg;
    rt_park(host_wait_here, NULL);
    rt_wg_done(&wg);
}

static void waker(void *arg)
{
    (void)arg;
    do
        rt_sleep(1000 * 1000);
    while (!atomic_load(&parked_flag));
    CHECK_RC(rt_ready(parked), RT_OK);
    rt_entersyscall();
    usleep(1000);
    rt_exitsyscall();
    rt_wg_done(&wg);
}

static void main_g(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 6);
    rt_go(producer, NULL);
    rt_go(stage, NULL);
    rt_go(stage, NULL);
    rt_go(host_parker, NULL);
    rt_go(waker, NULL);
    rt_go_attr a = {sizeof a, 0, "consumer"};
    rt_go_ex(consumer, NULL, &a);
    rt_wg_wait(&wg);
}

/* On 1 P: A holds mu while B locks it, so B parks on it ("why":"mutex"). A yields
 * until B has started: on one P, B gives the P back only by parking (it calls nothing
 * else between the flag and the lock). One yield was not always enough: the yield's
 * slow path may pick A again before B. */
static atomic_int mutex_b_started;

static void mutex_b(void *arg)
{
    (void)arg;
    atomic_store(&mutex_b_started, 1);
    rt_mutex_lock(&mu);
    rt_mutex_unlock(&mu);
}

static void mutex_a(void *arg)
{
    (void)arg;
    rt_mutex_lock(&mu);
    rt_go(mutex_b, NULL);
    while (!atomic_load(&mutex_b_started))
        rt_gosched();
    rt_mutex_unlock(&mu);
}

/* The ping-pong: pp_pinger sends i on pa, pp_ponger answers i + 1 on pb. Named (not
 * static) so that the trace's creation events name them. */
#define PP_N 500
static rt_chan *pa, *pb;
static long pp_bad; /* answers that were not i + 1 */

void pp_pinger(void *arg);
void pp_pinger(void *arg)
{
    (void)arg;
    for (long i = 0; i < PP_N; i++) {
        long v = i, w = -1;
        rt_chan_send(pa, &v);
        rt_chan_recv(pb, &w);
        if (w != i + 1)
            pp_bad++;
    }
    rt_wg_done(&wg);
}

void pp_ponger(void *arg);
void pp_ponger(void *arg)
{
    (void)arg;
    for (long i = 0; i < PP_N; i++) {
        long v = -1;
        rt_chan_recv(pa, &v);
        v++;
        rt_chan_send(pb, &v);
    }
    rt_wg_done(&wg);
}

static void pingpong_main(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 2);
    rt_go(pp_pinger, NULL);
    rt_go(pp_ponger, NULL);
    rt_wg_wait(&wg);
}

/* t_trace_restart_no_stale_flow: the waiter is woken in one trace and runs in the
 * next. */
static rt_chan *ra, *rb;
static const char *restart_path;
static int restart_rc = -1;

static void restart_waiter(void *arg)
{
    (void)arg;
    long v = 0;
    rt_chan_recv(ra, &v);
    rt_chan_send(rb, &v);
}

static void restart_main(void *arg)
{
    (void)arg;
    long v = 7;
    rt_go(restart_waiter, NULL);
    rt_gosched(); /* 1 P: the waiter parks on ra */
    rt_chan_send(ra, &v); /* wakes it; it runs when we park */
    if (rt_trace_stop() == RT_OK)
        restart_rc = rt_trace_start(restart_path);
    rt_chan_recv(rb, &v);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

static void bad_input(void)
{
    CHECK_RC(rt_trace_stop(), RT_EINVAL);
    CHECK_RC(rt_trace_start(NULL), RT_EINVAL);
    CHECK_RC(rt_trace_start(""), RT_EINVAL);
    CHECK_RC(rt_trace_start("/nonexistent-dir-of-libmrt/trace.json"), RT_EINVAL);
    CHECK_RC(rt_trace_stop(), RT_EINVAL);
}

int main(void)
{
    char path[64];
    const char *keep = getenv("MRT_TRACE_KEEP");
    snprintf(path, sizeof path, "/tmp/mrt-t-trace-%d.json", (int)getpid());
    bad_input();
    if (test_under_valgrind())
        N = 200;

    rt_config cfg = {.size = sizeof cfg, .maxprocs = 2};
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &c1), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 4, &c2), RT_OK);

    CHECK_RC(rt_trace_start(keep ? keep : path), RT_OK);
    CHECK_RC(rt_trace_start(path), RT_EALREADY);

    /* A child forked mid-trace: tracing is off there. */
    pid_t pid = fork();
    if (pid == 0) {
        /* No trace runs here, and none starts before the child's rt_init. */
        int rc = rt_trace_stop();
        int rc2 = rt_trace_start(path);
        _exit(rc == RT_EINVAL && rc2 == RT_ESHUTDOWN ? 0 : 1);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(sum, (long)N * (N + 1));
    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK_RC(rt_main(mutex_a, NULL), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &pa), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &pb), RT_OK);
    CHECK_RC(rt_main(pingpong_main, NULL), RT_OK);
    CHECK_EQ(pp_bad, 0);
    CHECK_RC(rt_trace_stop(), RT_OK);
    CHECK_RC(rt_trace_stop(), RT_EINVAL);

    char *t = test_slurp(keep ? keep : path);
    if (CHECK(t != NULL)) {
        CHECK(strncmp(t, "{\"traceEvents\":[", 16) == 0);
        size_t n = strlen(t);
        CHECK(n > 2 && strcmp(t + n - 2, "}\n") == 0);
        static const char *want[] = {
            "\"why\":\"chan send\"", "\"why\":\"chan recv\"", "\"why\":\"select\"",
            "\"why\":\"mutex\"",     "\"why\":\"wg\"",        "\"why\":\"sleep\"",
            "\"why\":\"exit\"",      "host: host_wait_here", "\"name\":\"consumer\"",
            "\"ph\":\"s\"",          "\"ph\":\"f\"",          "\"name\":\"syscall\"",
            "\"src\":\"timer\"",     "\"fn\":\"stage\"",      "\"name\":\"P",
            "\"name\":\"thread_name\"", "\"fn\":\"pp_pinger\"", "\"fn\":\"pp_ponger\"",
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            if (!strstr(t, want[i]))
                FAIL("trace lacks %s", want[i]);
        free(t);
    }
    if (!keep)
        unlink(path);

    /* t_trace_restart_no_stale_flow (1 P from above) */
    char path2[80];
    const char *keep2 = getenv("MRT_TRACE_KEEP2");
    snprintf(path2, sizeof path2, "/tmp/mrt-t-trace2-%d.json", (int)getpid());
    restart_path = keep2 ? keep2 : path2;
    CHECK_RC(rt_chan_make(sizeof(long), 0, &ra), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(long), 0, &rb), RT_OK);
    CHECK_RC(rt_trace_start(path), RT_OK);
    CHECK_RC(rt_main(restart_main, NULL), RT_OK);
    CHECK_RC(restart_rc, RT_OK);
    CHECK_RC(rt_trace_stop(), RT_OK);
    unlink(path);
    char *t2 = test_slurp(restart_path);
    if (CHECK(t2 != NULL)) {
        /* The waiter's wake of main has its arrow; the waiter's own start ends none. */
        CHECK(count(t2, "\"ph\":\"s\"") >= 1);
        CHECK_EQ(count(t2, "\"ph\":\"f\""), count(t2, "\"ph\":\"s\""));
        free(t2);
    }
    if (!keep2)
        unlink(path2);
    CHECK_RC(rt_chan_free(ra), RT_OK);
    CHECK_RC(rt_chan_free(rb), RT_OK);

    /* After a stop a new trace starts afresh. */
    CHECK_RC(rt_trace_start(path), RT_OK);
    CHECK_RC(rt_trace_stop(), RT_OK);
    unlink(path);
    CHECK_RC(rt_chan_free(c1), RT_OK);
    CHECK_RC(rt_chan_free(c2), RT_OK);
    CHECK_RC(rt_chan_free(pa), RT_OK);
    CHECK_RC(rt_chan_free(pb), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
