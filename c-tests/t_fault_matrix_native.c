/*
 * The fault matrix, native half (see t_fault_matrix.c for the runner and the other
 * scenarios). Not run under valgrind (run.sh's no_valgrind list): a tight RLIMIT_AS
 * breaks valgrind itself, which manages the address space, and forks that race other
 * threads' allocations make memcheck report the parent's in-flight blocks as lost in
 * the child.
 *
 * The signal storm is here too: under valgrind it once reported the futex_wake that a
 * channel's waker issues right after releasing a thread waiter (the waiter, woken
 * early from futex(2) by a signal, may have returned already: harmless for the kernel,
 * which only hashes the address, but memcheck checks the word).
 *
 * Scenario                                   Control (the fault really bit)
 * 100k Gs under RLIMIT_AS (4 limits)         an mmap beyond the limit fails; rt_go
 *                                            really ran out (RT_ENOMEM seen)
 * close of a channel with 2000 waiters       malloc(1) and malloc(64) return NULL
 *   with malloc exhausted
 * API calls with malloc exhausted            as above
 * select over 8 channels, malloc exhausted   as above
 * rt_init, rt_gomaxprocs, malloc exhausted   as above
 * fork from a runtime M while 4 Ms are busy  no P is idle at the fork
 * fork from a foreign thread, 4 Ms busy      as above
 * forks while foreign threads feed the       the feeders' rt_go count moved during the
 *   global run queue                         forks, and the global queue was seen non-empty
 * signals during syscalls (SIGUSR1 storm,    the handler ran at least 50 times, on at
 *   no SA_RESTART; all counts exact)         least 3 threads
 */
#include "fault_matrix.h" /* first: it sets _GNU_SOURCE */

#include <signal.h>

#include "pipe_pair.h"

/* Bounded wait until f() holds (about 10 s). */
static bool wait_until(bool (*f)(void))
{
    for (int i = 0; i < 10000; i++) {
        if (f())
            return true;
        usleep(1000);
    }
    return false;
}

/* ==== memory ==== */

static rt_chan *gate;
static atomic_long gate_closed, gate_other, short_ran;
static long parked_want;

static void parks_on_gate(void *arg)
{
    (void)arg;
    int v;
    if (rt_chan_recv(gate, &v) == RT_ECLOSED)
        atomic_fetch_add(&gate_closed, 1);
    else
        atomic_fetch_add(&gate_other, 1);
}

static void short_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&short_ran, 1);
}

static bool gate_parked(void)
{
    rt_stats st;
    return test_stats(&st) == RT_OK && st.goroutines == parked_want && st.runnable == 0;
}

static void many_gs_under_rlimit_as(void *arg)
{
    long headroom = (long)(intptr_t)arg;
    fm_start(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &gate), RT_OK);
    fm_still_runs();
    if (!fm_limit_as(headroom))
        return;
    /* Gs that park, until the address space is gone. */
    fm_step("rt_go of parking Gs until RT_ENOMEM");
    long parked = 0, enomem = 0, bad = 0, ok_short = 0, tries = 0;
    while (parked < 100000) {
        int64_t id = rt_go(parks_on_gate, NULL);
        if (id > 0) {
            parked++;
            continue;
        }
        if (id == RT_ENOMEM)
            enomem++;
        else if (bad++ < 5)
            FAIL("rt_go of a parking G: %" PRId64 " (%s)", id, rt_err_name((int)id));
        break;
    }
    CONTROL(enomem == 1); /* it ran out before 100k */
    /* Every parked G wakes with RT_ECLOSED, still under the limit. */
    fm_step("rt_chan_close of the parked Gs' channel, under the limit");
    parked_want = parked;
    wait_until(gate_parked);
    CHECK_RC(rt_chan_close(gate), RT_OK);
    for (long i = 0; atomic_load(&gate_closed) + atomic_load(&gate_other) < parked &&
                     i < 100000000L;
         i++)
        sched_yield();
    CHECK_EQ(atomic_load(&gate_closed), parked);
    /* Then up to 100k in all of Gs that end at once, under the same limit, their
       stacks and descriptors going back to the caches (a batch at a time). */
    fm_step("rt_go of short Gs, up to 100k in all");
    for (tries = parked; tries < 100000; tries++) {
        int64_t id = rt_go(short_g, NULL);
        if (id > 0)
            ok_short++;
        else if (id == RT_ENOMEM)
            enomem++;
        else if (bad++ < 5)
            FAIL("rt_go of a short G: %" PRId64 " (%s)", id, rt_err_name((int)id));
        if ((tries & 255) == 0)
            for (long i = 0; atomic_load(&short_ran) < ok_short && i < 100000000L; i++)
                sched_yield();
    }
    CHECK_EQ(bad, 0);
    for (long i = 0; atomic_load(&short_ran) < ok_short && i < 100000000L; i++)
        sched_yield();
    CHECK_EQ(atomic_load(&short_ran), ok_short);
    CHECK(ok_short > 0); /* the freed stacks were reused */
    fm_step("raise the limit, check the runtime");
    fm_unlimit_as();
    CHECK_RC(rt_chan_free(gate), RT_OK);
    fm_finish();
    printf("  RLIMIT_AS +%ld MiB: %ld parked Gs, %ld short Gs, %ld RT_ENOMEM\n",
           headroom >> 20, parked, ok_short, enomem);
    fflush(stdout);
}

#define WAITERS 2000
static rt_wg waiters_wg;

static void waiter(void *arg)
{
    (void)arg;
    int v = 5;
    if (rt_chan_recv(gate, &v) == RT_ECLOSED && v == 0)
        atomic_fetch_add(&gate_closed, 1);
    else
        atomic_fetch_add(&gate_other, 1);
    rt_wg_done(&waiters_wg);
}

static void close_2000_waiters_no_malloc(void *arg)
{
    (void)arg;
    fm_one_arena();
    fm_start(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &gate), RT_OK);
    rt_wg_add(&waiters_wg, WAITERS);
    for (int i = 0; i < WAITERS; i++)
        CHECK(rt_go(waiter, NULL) > 0);
    parked_want = WAITERS;
    CHECK(wait_until(gate_parked));
    CHECK_RC(rt_chan_free(gate), RT_EBUSY);
    if (!fm_limit_as(1 << 20))
        return;
    fm_hoard();
    fm_step("rt_chan_close with 2000 waiters, malloc exhausted");
    CHECK_RC(rt_chan_close(gate), RT_OK);
    fm_step("rt_wg_wait for the woken waiters");
    rt_wg_wait(&waiters_wg);
    CHECK_EQ(atomic_load(&gate_closed), WAITERS);
    CHECK_EQ(atomic_load(&gate_other), 0);
    fm_unhoard();
    fm_unlimit_as();
    CHECK_RC(rt_chan_free(gate), RT_OK);
    fm_finish();
}

static rt_chan *go_ch, *sel_ch;
static atomic_int sel_rc = 1, sleep_rc = 1;

static void selector(void *arg)
{
    (void)arg;
    int v = 0;
    CHECK_RC(rt_chan_recv(go_ch, &v), RT_OK); /* told to start: malloc is exhausted */
    rt_select_case cs = { sel_ch, RT_RECV, &v, 7 };
    atomic_store(&sel_rc, rt_select(&cs, 1, 1000000));
    atomic_store(&sleep_rc, rt_sleep(1000000));
    CHECK_RC(rt_chan_send(go_ch, &v), RT_OK);
}

static atomic_int ran_under;

static void ran_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran_under, 1);
}

static void api_no_malloc(void *arg)
{
    (void)arg;
    fm_one_arena();
    fm_start(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &go_ch), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &sel_ch), RT_OK);
    CHECK(rt_go(selector, NULL) > 0);
    parked_want = 1;
    CHECK(wait_until(gate_parked));
    if (!fm_limit_as(1 << 20))
        return;
    fm_hoard();
    fm_step("rt_chan_make");
    /* A channel cannot be made: RT_ENOMEM, out untouched. */
    rt_chan *c = (rt_chan *)&c;
    CHECK_RC(rt_chan_make(sizeof(int), 4, &c), RT_ENOMEM);
    CHECK_RC(rt_chan_make(0, 0, &c), RT_ENOMEM);
    CHECK_PTR_EQ(c, (rt_chan *)&c);
    fm_step("rt_go");
    /* A G may come from the caches, or not: an id that runs, or RT_ENOMEM. */
    int made = 0;
    for (int i = 0; i < 10; i++) {
        int64_t id = rt_go(ran_g, NULL);
        if (id > 0)
            made++;
        else
            CHECK_RC(id, RT_ENOMEM);
    }
    fm_step("rt_newm");
    /* A new M: refused with a named error. */
    int rc = rt_newm(NULL, NULL, NULL, NULL);
    CHECK(rc == RT_ENOMEM || rc == RT_EAGAIN);
    /* A select with a timeout and a sleep in a G: they time out, or say RT_ENOMEM
       (select) / return early (sleep), and leave nothing waiting. */
    fm_step("a G's rt_select with a timeout and rt_sleep");
    int v = 1;
    CHECK_RC(rt_chan_send(go_ch, &v), RT_OK);
    CHECK_RC(rt_chan_recv(go_ch, &v), RT_OK);
    rc = atomic_load(&sel_rc);
    CHECK(rc == RT_ETIMEDOUT || rc == RT_ENOMEM);
    CHECK_RC(atomic_load(&sleep_rc), RT_OK);
    CHECK_RC(rt_chan_trysend(sel_ch, &v), RT_EAGAIN); /* no receiver left behind */
    fm_step("the Gs made run");
    for (long i = 0; atomic_load(&ran_under) < made && i < 100000000L; i++)
        sched_yield();
    CHECK_EQ(atomic_load(&ran_under), made);
    fm_step("free the hoard, raise the limit, check the runtime");
    fm_unhoard();
    fm_unlimit_as();
    CHECK_RC(rt_chan_free(go_ch), RT_OK);
    CHECK_RC(rt_chan_free(sel_ch), RT_OK);
    fm_finish();
}

/* A select over up to 8 channels keeps its bookkeeping on the G's stack: with malloc
 * exhausted it still blocks and completes. It used to allocate eight vectors per call
 * and returned RT_ENOMEM here (and paid eight malloc/free pairs on every select). */
#define SEL_N 8
static rt_chan *sel8[SEL_N];
static atomic_int sel8_rc = -100, sel8_got;

static void selector8(void *arg)
{
    (void)arg;
    int v = 0, got[SEL_N] = { 0 };
    CHECK_RC(rt_chan_recv(go_ch, &v), RT_OK); /* told to start: malloc is exhausted */
    rt_select_case cs[SEL_N];
    for (int i = 0; i < SEL_N; i++)
        cs[i] = (rt_select_case){ sel8[i], RT_RECV, &got[i], 0 };
    int rc = rt_select(cs, SEL_N, -1);
    if (rc >= 0 && rc < SEL_N)
        atomic_store(&sel8_got, got[rc]);
    atomic_store(&sel8_rc, rc);
}

static void select_no_malloc(void *arg)
{
    (void)arg;
    fm_one_arena();
    fm_start(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &go_ch), RT_OK);
    for (int i = 0; i < SEL_N; i++)
        CHECK_RC(rt_chan_make(sizeof(int), 0, &sel8[i]), RT_OK);
    CHECK(rt_go(selector8, NULL) > 0);
    if (!fm_limit_as(1 << 20))
        return;
    fm_hoard();
    fm_step("a G's rt_select over 8 channels, no timeout");
    int v = 1;
    CHECK_RC(rt_chan_send(go_ch, &v), RT_OK);
    fm_step("a send on the sixth channel completes it");
    v = 42;
    int rc;
    while ((rc = rt_chan_trysend(sel8[5], &v)) == RT_EAGAIN && atomic_load(&sel8_rc) == -100)
        sched_yield();
    CHECK_RC(rc, RT_OK);
    while (atomic_load(&sel8_rc) == -100)
        sched_yield();
    CHECK_EQ(atomic_load(&sel8_rc), 5);
    CHECK_EQ(atomic_load(&sel8_got), 42);
    fm_unhoard();
    fm_unlimit_as();
    CHECK_RC(rt_chan_free(go_ch), RT_OK);
    for (int i = 0; i < SEL_N; i++)
        CHECK_RC(rt_chan_free(sel8[i]), RT_OK);
    fm_finish();
}

/* rt_init and rt_gomaxprocs with malloc exhausted: RT_ENOMEM, nothing half made. */
static void init_no_malloc(void *arg)
{
    (void)arg;
    fm_one_arena();
    if (!fm_limit_as(1 << 20))
        return;
    fm_hoard();
    fm_step("rt_init");
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 64 };
    CHECK_RC(rt_init(&cfg), RT_ENOMEM);
    CHECK_RC(rt_init(&cfg), RT_ENOMEM); /* again: nothing was left half made */
    fm_step("rt_gomaxprocs after the hoard is freed, then with malloc exhausted again");
    fm_unhoard();
    CHECK_EQ(test_os_threads(), 1); /* (opendir needs malloc) */
    fm_start(2);
    fm_hoard();
    int rc = rt_gomaxprocs(64);
    CHECK(rc == RT_ENOMEM || rc == 2); /* refused, or the Ps fitted */
    fm_unhoard();
    fm_unlimit_as();
    rc = rt_gomaxprocs(2);
    CHECK(rc == 2 || rc == 64);
    fm_finish();
}

/* ==== signals during syscalls ==== */

#define SIG_TIDS 64
static atomic_long sig_count;
static _Atomic pid_t sig_tids[SIG_TIDS];
static atomic_int sig_stop;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    atomic_fetch_add(&sig_count, 1);
    pid_t me = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < SIG_TIDS; i++) {
        pid_t t = atomic_load(&sig_tids[i]);
        if (t == me)
            break;
        pid_t zero = 0;
        if (t == 0 && atomic_compare_exchange_strong(&sig_tids[i], &zero, me))
            break;
    }
    errno = saved;
}

static void *storm(void *arg)
{
    (void)arg;
    pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
    while (!atomic_load(&sig_stop)) {
        DIR *d = opendir("/proc/self/task");
        if (!d)
            break;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            pid_t t = (pid_t)atoi(e->d_name);
            if (t > 0 && t != self)
                syscall(SYS_tgkill, pid, t, SIGUSR1);
        }
        closedir(d);
        usleep(50);
    }
    return NULL;
}

static rt_chan *sig_ch, *sig_empty, *sig_back;
static int sig_pipe[2];
static rt_wg sig_wg;
static rt_mutex sig_mu;
static long sig_shared;
static int sig_n;

static void sig_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < sig_n; i++)
        CHECK_RC(rt_chan_send(sig_ch, &i), RT_OK);
    rt_wg_done(&sig_wg);
}

static void sig_receiver(void *arg)
{
    (void)arg;
    long sum = 0;
    for (int i = 0; i < sig_n; i++) {
        int v = -1;
        CHECK_RC(rt_chan_recv(sig_ch, &v), RT_OK);
        sum += v;
    }
    CHECK_EQ(sum, (long)sig_n * (sig_n - 1) / 2);
    rt_wg_done(&sig_wg);
}

static void sig_sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < sig_n / 10; i++) {
        CHECK_RC(rt_sleep(50000), RT_OK);
        rt_mutex_lock(&sig_mu);
        sig_shared++;
        rt_mutex_unlock(&sig_mu);
    }
    rt_wg_done(&sig_wg);
}

static void sig_selector(void *arg)
{
    (void)arg;
    for (int i = 0; i < sig_n / 20; i++) {
        int v = 0;
        rt_select_case cs = { sig_empty, RT_RECV, &v, 7 };
        CHECK_RC(rt_select(&cs, 1, 100000), RT_ETIMEDOUT);
    }
    rt_wg_done(&sig_wg);
}

static void sig_poller(void *arg)
{
    (void)arg;
    for (int i = 0; i < sig_n / 10; i++) {
        CHECK_EQ(rt_poll_fd(sig_pipe[0], RT_POLLIN, -1), RT_POLLIN);
        char c;
        CHECK_EQ(read(sig_pipe[0], &c, 1), 1);
        CHECK_RC(rt_chan_send(sig_back, &i), RT_OK);
    }
    rt_wg_done(&sig_wg);
}

static void sig_syscaller(void *arg)
{
    (void)arg;
    for (int i = 0; i < sig_n / 20; i++) {
        CHECK_RC(rt_entersyscall(), RT_OK);
        usleep(100);
        CHECK_RC(rt_exitsyscall(), RT_OK);
    }
    rt_wg_done(&sig_wg);
}

static void *sig_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < sig_n / 10; i++) {
        CHECK_EQ(write(sig_pipe[1], "s", 1), 1);
        int v = -1;
        CHECK_RC(rt_chan_recv(sig_back, &v), RT_OK); /* a foreign thread on a futex */
        CHECK_EQ(v, i);
    }
    return NULL;
}

static void signal_storm(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: interrupted syscalls give EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sig_n = 2000;
    fm_start(3);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &sig_ch), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &sig_empty), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &sig_back), RT_OK);
    CHECK_EQ(pipe(sig_pipe), 0);
    pthread_t st, wr;
    pthread_create(&st, NULL, storm, NULL);
    rt_wg_add(&sig_wg, 7);
    CHECK(rt_go(sig_sender, NULL) > 0);
    CHECK(rt_go(sig_receiver, NULL) > 0);
    CHECK(rt_go(sig_sleeper, NULL) > 0);
    CHECK(rt_go(sig_sleeper, NULL) > 0);
    CHECK(rt_go(sig_selector, NULL) > 0);
    CHECK(rt_go(sig_poller, NULL) > 0);
    CHECK(rt_go(sig_syscaller, NULL) > 0);
    pthread_create(&wr, NULL, sig_writer, NULL);
    rt_wg_wait(&sig_wg); /* this thread waits on a futex through the storm */
    pthread_join(wr, NULL);
    atomic_store(&sig_stop, 1);
    pthread_join(st, NULL);
    fm_still_runs();
    CHECK_EQ(sig_shared, 2 * (sig_n / 10));
    int tids = 0;
    for (int i = 0; i < SIG_TIDS; i++)
        tids += atomic_load(&sig_tids[i]) != 0;
    if (atomic_load(&sig_count) < 50 || tids < 3)
        fprintf(stderr, "signals handled: %ld on %d threads\n", atomic_load(&sig_count), tids);
    CONTROL(atomic_load(&sig_count) >= 50);
    CONTROL(tids >= 3);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ==== fork while busy ==== */

#define PAIRS 2
#define FORKS 10





static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        rt_gosched();
    test_latch_post(&pdone);
}


static void busy_child(void *arg)
{
    (void)arg;
    alarm(10);
    atomic_store(&stop, 0);
    fm_start(2);
    CHECK_RC(rt_newm(NULL, NULL, NULL, NULL), RT_OK);
    pair cp;
    make_pair(&cp, 50);
    long base = pdone.count;
    CHECK(rt_go(ponger, &cp) > 0);
    CHECK(rt_go(pinger, &cp) > 0);
    CHECK(test_latch_wait_for(&pdone, base + 2, 8));
    fm_finish();
}

static bool no_idle_p(void)
{
    rt_stats st;
    return test_stats(&st) == RT_OK && st.idle_procs == 0;
}

static void fork_some(void)
{
    for (int i = 0; i < FORKS; i++) {
        CONTROL(wait_until(no_idle_p));
        if (!CHECK_CHILD_OK(test_spawn(busy_child, NULL, NULL, 0)))
            break;
    }
}

static test_latch m_forked = TEST_LATCH_INIT;

static void m_forks(void *arg)
{
    (void)arg;
    fork_some();
    test_latch_post(&m_forked);
}

static void fork_busy(void *arg)
{
    bool from_m = arg != NULL;
    fm_start(4);
    pair pp[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        make_pair(&pp[i], -1);
        CHECK(rt_go(ponger, &pp[i]) > 0);
        CHECK(rt_go(pinger, &pp[i]) > 0);
    }
    for (int i = 0; i < 4; i++)
        CHECK(rt_go(spinner, NULL) > 0);
    if (from_m) {
        CHECK_RC(rt_newm(m_forks, NULL, NULL, NULL), RT_OK);
        CHECK(test_latch_wait_for(&m_forked, 1, 100));
    } else {
        fork_some();
    }
    /* The parent lost no wake-up: every ping-pong and spinner finishes. */
    atomic_store(&stop, 1);
    if (!CHECK(test_latch_wait_for(&pdone, 2 * PAIRS + 4, 10)))
        return;
    fm_finish();
}

#define FEEDERS 4
static atomic_int feed_stop;
static atomic_long fed, feed_done;
static test_latch child_ran = TEST_LATCH_INIT;

static void feed_noop(void *arg)
{
    (void)arg;
    atomic_fetch_add(&feed_done, 1);
}

static void *feeder(void *arg)
{
    (void)arg;
    while (!atomic_load(&feed_stop)) {
        if (atomic_load(&fed) - atomic_load(&feed_done) > 20000) {
            sched_yield();
            continue;
        }
        if (rt_go(feed_noop, NULL) <= 0) {
            FAIL("rt_go from a feeder failed");
            break;
        }
        atomic_fetch_add(&fed, 1);
    }
    return NULL;
}

static void mark(void *arg)
{
    (void)arg;
    test_latch_post(&child_ran);
}

static void feed_child(void *arg)
{
    (void)arg;
    alarm(5);
    fm_start(2);
    CHECK(rt_go(mark, NULL) > 0);
    CHECK(test_latch_wait_for(&child_ran, 1, 4));
    fm_finish();
}

static void fork_while_feeding(void *arg)
{
    (void)arg;
    fm_start(2);
    pthread_t th[FEEDERS];
    for (int i = 0; i < FEEDERS; i++)
        pthread_create(&th[i], NULL, feeder, NULL);
    long seen_queued = 0, before = atomic_load(&fed);
    for (int i = 0; i < 20; i++) {
        rt_stats st;
        if (test_stats(&st) == RT_OK && st.global_runq > 0)
            seen_queued++;
        if (!CHECK_CHILD_OK(test_spawn(feed_child, NULL, NULL, 0)))
            break;
    }
    CONTROL(atomic_load(&fed) > before);
    CONTROL(seen_queued > 0);
    atomic_store(&feed_stop, 1);
    for (int i = 0; i < FEEDERS; i++)
        pthread_join(th[i], NULL);
    fm_finish();
}

int main(void)
{
    static const long limits[] = { 16l << 20, 32l << 20, 48l << 20, 64l << 20 };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        FM_SCENARIO("100k Gs under RLIMIT_AS: RT_ENOMEM, parked Gs woken under the limit",
                    "an mmap beyond the limit fails, and rt_go ran out before 100k",
                    many_gs_under_rlimit_as, (void *)(intptr_t)limits[i], 30);
    FM_SCENARIO("rt_chan_close of a channel with 2000 waiters, malloc exhausted",
                "malloc(1) and malloc(64) return NULL", close_2000_waiters_no_malloc, NULL,
                20);
    FM_SCENARIO("rt_chan_make, rt_go, rt_newm, select with timeout, sleep: malloc exhausted",
                "malloc(1) and malloc(64) return NULL", api_no_malloc, NULL, 20);
    FM_SCENARIO("select over 8 channels with malloc exhausted: it blocks and completes",
                "malloc(1) and malloc(64) return NULL", select_no_malloc, NULL, 20);
    FM_SCENARIO("rt_init and rt_gomaxprocs with malloc exhausted: RT_ENOMEM, retry works",
                "malloc(1) and malloc(64) return NULL", init_no_malloc, NULL, 20);
    FM_SCENARIO("signals during syscalls: a SIGUSR1 storm (no SA_RESTART) through channel, "
                "sleep, select, poll_fd, syscall, mutex and wg work",
                "the handler ran at least 50 times, on at least 3 threads", signal_storm,
                NULL, 40);
    FM_SCENARIO("fork from a runtime M while 4 Ms are busy", "no P is idle at each fork",
                fork_busy, (void *)1, 60);
    FM_SCENARIO("fork from a foreign thread while 4 Ms are busy", "no P is idle at each fork",
                fork_busy, NULL, 60);
    FM_SCENARIO("forks while foreign threads feed the global run queue",
                "the feeders' count moved during the forks; the global queue was non-empty",
                fork_while_feeding, NULL, 60);
    fm_list();
    return test_summary();
}
