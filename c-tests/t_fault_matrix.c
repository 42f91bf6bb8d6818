/*
 * The fault matrix (issue 8, "How it is shown"): every hostile-host scenario of the
 * issue, and more, each in a forked child of its own with a timeout (a hang or a crash
 * is that scenario's failure) and a negative control showing that the fault really
 * bit. The scenarios that valgrind cannot run (RLIMIT_AS, malloc exhaustion, forks
 * that race other threads' allocations, the signal storm) are in
 * t_fault_matrix_native.c.
 *
 * Scenario                                   Control (the fault really bit)
 * fork from a G; child rt_init + rt_newm     the child runs on the G's stack, outside
 *                                            its thread's own stack
 * child polls its own pipe, parent polls     the child inherited the parent's epoll fd;
 *                                            its pipe fds differ from the parent's
 * fork child calls before its rt_init        the child has one thread, the parent more
 * out of fds before the netpoller: select    open, pipe and epoll_create1 fail (EMFILE)
 *   and sleep with timeouts in a G
 * rt_poll_fd out of fds                      as above
 * garbage channel/M/P/G handles              the kernel says they point at nothing
 *                                            (mincore(2) of their page: ENOMEM)
 * rt_select(cases, SIZE_MAX)                 the array ends at a PROT_NONE page
 * rt_releasep from a G                       the G's M really holds a running P
 * rt_init with huge stack sizes              rounding them up to pages wraps to 0
 * NULL-channel select case with a bad dir    the same case with RT_RECV is accepted
 * huge channel buffer                        malloc of that size fails; no overflow
 * double close, double free, use after free  the first close and free succeeded
 * rt_ready of a G waiting in a channel        the G is parked
 * rt_dump to a pipe with no reader           a plain write gives EPIPE and SIGPIPE
 * rt_shutdown while Gs are parked            they are parked (live, none runnable)
 * calls before rt_init (lazy start)          no runtime thread exists before
 * calls after rt_shutdown                    the runtime's threads are gone
 * threads refused (RLIMIT_NPROC, uid 65534)  pthread_create fails with EAGAIN
 */
#include "fault_matrix.h" /* first: it sets _GNU_SOURCE */

#include <limits.h>
#include <signal.h>
#include <sys/epoll.h>

/* ---- helpers ---- */


/* Nothing is mapped at addr: mincore(2) of its page fails with ENOMEM. (Not a read
 * through the pointer, which valgrind would report.) */
static bool points_at_nothing(const void *addr)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    unsigned char vec;
    errno = 0;
    return mincore((void *)((uintptr_t)addr & ~(pg - 1)), pg, &vec) == -1 && errno == ENOMEM;
}

/* The mapping that holds addr has no access rights (/proc/self/maps says ---). */
static bool no_access(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi) {
            found = strncmp(perms, "---", 3) == 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static int count_epoll_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[128];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strstr(target, "eventpoll") != NULL;
        }
    }
    closedir(d);
    return n;
}

static test_latch latch_a = TEST_LATCH_INIT;
static test_latch latch_b = TEST_LATCH_INIT;

static void post_a(void *arg)
{
    (void)arg;
    test_latch_post(&latch_a);
}

/* ==== fork ==== */

static _Thread_local int tls_word;
static int fork_status;

static void fresh_child_runtime(void *arg)
{
    (void)arg;
    /* Control: this thread runs on the G's stack, not on its own thread stack. */
    pthread_attr_t at;
    void *lo = NULL;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &at) == 0) {
        pthread_attr_getstack(&at, &lo, &sz);
        pthread_attr_destroy(&at);
    }
    char here;
    CONTROL(lo != NULL && ((char *)&here < (char *)lo || (char *)&here >= (char *)lo + sz));
    tls_word = 0x5eed;
    fm_start(2);
    long base = latch_a.count;
    for (int i = 0; i < 3; i++)
        CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&latch_a, base + 3, 10));
    base = latch_a.count;
    for (int i = 0; i < 100; i++)
        CHECK(rt_go(post_a, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, base + 100, 10));
    CHECK_EQ(tls_word, 0x5eed);
    fm_finish();
}

static void forking_g(void *arg)
{
    (void)arg;
    fork_status = test_spawn(fresh_child_runtime, NULL, NULL, 0);
    test_latch_post(&latch_b);
}

static void fork_from_g(void *arg)
{
    (void)arg;
    fm_start(2);
    /* Ms whose stacks go to the cache the child's next M takes from. */
    for (int i = 0; i < 2; i++)
        CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&latch_a, 2, 10));
    for (int i = 0; i < 3; i++) {
        CHECK(rt_go(forking_g, NULL) > 0);
        if (!CHECK(test_latch_wait_for(&latch_b, i + 1, 30)) || !CHECK_CHILD_OK(fork_status))
            return;
    }
    fm_finish();
}

/* The child polls its own pipe while the parent's G polls the parent's. */
static int ppipe[2], cpipe[2], hello[2], ack[2];

static void parent_poller(void *arg)
{
    (void)arg;
    test_latch_post(&latch_a);
    CHECK_EQ(rt_poll_fd(ppipe[0], RT_POLLIN, -1), RT_POLLIN);
    char c;
    CHECK_EQ(read(ppipe[0], &c, 1), 1);
    test_latch_post(&latch_b);
}

static test_latch cdone = TEST_LATCH_INIT;

static void child_reader(void *arg)
{
    (void)arg;
    CHECK_EQ(rt_poll_fd(cpipe[0], RT_POLLIN, -1), RT_POLLIN);
    test_latch_post(&cdone);
}

static void child_acker(void *arg)
{
    (void)arg;
    CHECK_EQ(write(hello[1], "h", 1), 1);
    CHECK_EQ(rt_poll_fd(ack[0], RT_POLLIN, -1), RT_POLLIN);
    CHECK_EQ(write(cpipe[1], "c", 1), 1);
    test_latch_post(&cdone);
}

static void polling_child(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe(cpipe), 0);
    CONTROL(cpipe[0] != ppipe[0] && cpipe[0] != ppipe[1] && cpipe[1] != ppipe[0] &&
            cpipe[1] != ppipe[1]);
    fm_start(1);
    CHECK(rt_go(child_reader, NULL) > 0);
    CHECK(rt_go(child_acker, NULL) > 0);
    CHECK(test_latch_wait_for(&cdone, 2, 10));
    fm_finish();
}

static void *spawn_polling_child(void *arg)
{
    *(int *)arg = test_spawn(polling_child, NULL, NULL, 0);
    return NULL;
}

static void fork_netpoll(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe(ppipe), 0);
    CHECK_EQ(pipe(hello), 0);
    CHECK_EQ(pipe(ack), 0);
    fm_start(2);
    CHECK(rt_go(parent_poller, NULL) > 0);
    test_latch_wait(&latch_a, 1);
    /* the G parks in rt_poll_fd (bounded: the poller exists once an epoll fd does) */
    for (int i = 0; i < 10000 && count_epoll_fds() < 1; i++)
        usleep(1000);
    /* Control: the parent's poller exists (an epoll fd the child inherits). */
    CONTROL(count_epoll_fds() >= 1);
    int status = -1;
    pthread_t th;
    pthread_create(&th, NULL, spawn_polling_child, &status);
    char h;
    CHECK_EQ(read(hello[0], &h, 1), 1); /* the child's Gs wait */
    CHECK_EQ(write(ppipe[1], "p", 1), 1);
    CHECK(test_latch_wait_for(&latch_b, 1, 10)); /* the parent got its own event */
    CHECK_EQ(write(ack[1], "a", 1), 1);           /* the child gets its own */
    pthread_join(th, NULL);
    CHECK_CHILD_OK(status);
    fm_finish();
}

/* A fork child before rt_init: the runtime is not running there. */
static void child_before_init(void *arg)
{
    (void)arg;
    CONTROL(test_os_threads() == 1);
    CHECK_RC(rt_go(post_a, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_gomaxprocs(0), RT_ESHUTDOWN);
    rt_stats st = { .size = sizeof st };
    CHECK_RC(rt_getstats(&st), RT_ESHUTDOWN);
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_ESHUTDOWN);
    CHECK_PTR_EQ(rt_getm(), NULL);
    CHECK_RC(rt_shutdown(-1), RT_ESHUTDOWN);
    fm_start(2);
    fm_finish();
}

static void fork_child_before_init(void *arg)
{
    (void)arg;
    fm_start(2);
    CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    CONTROL(test_os_threads() > 1);
    CHECK_CHILD_OK(test_spawn(child_before_init, NULL, NULL, 0));
    fm_finish();
}

/* ==== file descriptors ==== */

static void timeouts_in_g(void *arg)
{
    (void)arg;
    CHECK_RC(rt_sleep(2000000), RT_OK);
    rt_chan *c = NULL;
    if (!CHECK_RC(rt_chan_make(8, 0, &c), RT_OK))
        return;
    uint64_t e = 0x1111;
    rt_select_case cs[1] = { { c, RT_RECV, &e, 7 } };
    CHECK_RC(rt_select(cs, 1, 2000000), RT_ETIMEDOUT);
    CHECK_EQ(cs[0].result, 7);
    CHECK_EQ(e, 0x1111);
    uint64_t v = 1;
    CHECK_RC(rt_chan_trysend(c, &v), RT_EAGAIN); /* no receiver left behind */
    CHECK_RC(rt_chan_free(c), RT_OK);
    test_latch_post(&latch_a);
}

static void fds_before_netpoller(void *arg)
{
    (void)arg;
    if (!fm_exhaust_fds())
        return;
    CONTROL(epoll_create1(EPOLL_CLOEXEC) == -1);
    fm_start(2);
    CHECK(rt_go(timeouts_in_g, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    fm_finish();
}

static int pfd[2];
static atomic_int g_poll_rc[3];

static void poll_in_g(void *arg)
{
    (void)arg;
    atomic_store(&g_poll_rc[0], rt_poll_fd(pfd[0], RT_POLLIN, 0));
    atomic_store(&g_poll_rc[1], rt_poll_fd(pfd[0], RT_POLLIN, 1000000));
    test_latch_post(&latch_a);
}

static void ready_poll_in_g(void *arg)
{
    (void)arg;
    atomic_store(&g_poll_rc[2], rt_poll_fd(pfd[0], RT_POLLIN, -1));
    test_latch_post(&latch_a);
}

static void poll_fd_out_of_fds(void *arg)
{
    (void)arg;
    CHECK_EQ(pipe(pfd), 0);
    int spare = open("/dev/null", O_RDONLY | O_CLOEXEC), spare2 = dup(spare);
    if (!fm_exhaust_fds())
        return;
    CONTROL(epoll_create1(EPOLL_CLOEXEC) == -1 && errno == EMFILE);
    fm_start(2);
    CHECK(rt_go(poll_in_g, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    CHECK_RC(atomic_load(&g_poll_rc[0]), RT_EAGAIN); /* only looks: needs no poller */
    CHECK_RC(atomic_load(&g_poll_rc[1]), RT_ENOMEM);  /* no fd for the poller */
    /* Ready at once: answered without the poller. */
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    CHECK_RC(rt_poll_fd(pfd[0], RT_POLLIN, -1), RT_POLLIN); /* a foreign thread: poll(2) */
    CHECK(rt_go(ready_poll_in_g, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 2, 10));
    CHECK_RC(atomic_load(&g_poll_rc[2]), RT_POLLIN);
    char c;
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    /* With two fds free again, the poller is made and a G waits on it. */
    close(spare);
    close(spare2);
    atomic_store(&g_poll_rc[2], 0);
    CHECK(rt_go(ready_poll_in_g, NULL) > 0);
    CHECK_EQ(write(pfd[1], "y", 1), 1);
    CHECK(test_latch_wait_for(&latch_a, 3, 10));
    CHECK_RC(atomic_load(&g_poll_rc[2]), RT_POLLIN);
    fm_finish();
}

/* ==== hostile handles ==== */

static void garbage_handles(void *arg)
{
    (void)arg;
    fm_start(2);
    void *bad[] = { (void *)(uintptr_t)0x1000, (void *)(uintptr_t)0xdead000000000000ull,
                    (void *)(uintptr_t)0x7ff0deadbee0ull };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CONTROL(points_at_nothing(bad[i]));
        int v = 1;
        CHECK_RC(rt_chan_send(bad[i], &v), RT_EINVAL);
        CHECK_RC(rt_chan_recv(bad[i], &v), RT_EINVAL);
        CHECK_RC(rt_chan_close(bad[i]), RT_EINVAL);
        CHECK_RC(rt_chan_free(bad[i]), RT_EINVAL);
        CHECK_EQ(rt_chan_len(bad[i]), 0);
        rt_select_case cs = { .chan = bad[i], .dir = RT_RECV, .elem = &v };
        CHECK_RC(rt_select(&cs, 1, -1), RT_EINVAL);
        CHECK_RC(rt_m_id(bad[i]), RT_EINVAL);
        rt_m_info mi = { .size = sizeof mi };
        CHECK_RC(rt_m_getinfo(bad[i], &mi), RT_EINVAL);
        CHECK_RC(rt_m_launch(bad[i], NULL), RT_EINVAL);
        CHECK_RC(rt_m_free(bad[i]), RT_EINVAL);
        CHECK_RC(rt_p_id(bad[i]), RT_EINVAL);
        CHECK_RC(rt_p_status(bad[i]), RT_EINVAL);
        CHECK_RC(rt_p_put(bad[i]), RT_EINVAL);
        CHECK_RC(rt_newm(NULL, NULL, bad[i], NULL), RT_EINVAL);
        CHECK_RC(rt_ready(bad[i]), RT_EINVAL);
    }
    /* From a thread that is not an M yet: rt_acquirep must not adopt it for nothing. */
    CHECK_RC(rt_acquirep(bad[0]), RT_EINVAL);
    CHECK_PTR_EQ(rt_getm(), NULL);
    fm_finish();
}

static void select_size_max(void *arg)
{
    (void)arg;
    fm_start(2);
    long pg = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (!CHECK(mem != MAP_FAILED))
        return;
    CHECK_EQ(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
    CONTROL(no_access(mem + pg));
    rt_chan *c = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 1, &c), RT_OK);
    int v = 0;
    rt_select_case *cs = (rt_select_case *)(mem + pg) - 1;
    cs[0] = (rt_select_case){ .chan = c, .dir = RT_RECV, .elem = &v };
    CHECK_RC(rt_select(cs, SIZE_MAX, 0), RT_EINVAL);
    CHECK_RC(rt_select(cs, SIZE_MAX, -1), RT_EINVAL);
    CHECK_RC(rt_select(cs, 65537, 1000), RT_EINVAL);
    CHECK_RC(rt_select(cs, 1, 0), RT_EAGAIN);
    CHECK_RC(rt_chan_free(c), RT_OK);
    munmap(mem, 2 * (size_t)pg);
    fm_finish();
}

static void releasep_g(void *arg)
{
    (void)arg;
    rt_p *p = rt_getp();
    CONTROL(p != NULL && rt_p_status(p) == RT_P_RUNNING);
    CHECK_PTR_EQ(rt_releasep(), NULL);
    CHECK_PTR_EQ(rt_getp(), p);
    CHECK_RC(rt_p_status(p), RT_P_RUNNING);
    for (int i = 0; i < 10; i++)
        rt_gosched();
    CHECK(rt_getp() != NULL);
    test_latch_post(&latch_a);
}

static void releasep_from_g(void *arg)
{
    (void)arg;
    fm_start(2);
    CHECK(rt_go(releasep_g, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    fm_finish();
}

static void deep_g(void *arg)
{
    (void)arg;
    volatile char buf[32 << 10];
    memset((char *)buf, 1, sizeof buf);
    CHECK_EQ(buf[sizeof buf - 1], 1);
    test_latch_post(&latch_a);
}

static void huge_stack_sizes(void *arg)
{
    (void)arg;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    CONTROL(((SIZE_MAX + pg) & ~(pg - 1)) == 0); /* (size_t)-1 rounded up wraps to 0 */
    CONTROL(((SIZE_MAX - pg + 2 + pg - 1) & ~(pg - 1)) == 0);
    size_t sizes[] = { SIZE_MAX, SIZE_MAX - pg + 2, ((size_t)1 << 40) + 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rt_config a = { .size = sizeof a, .maxprocs = 2, .g_stack_size = sizes[i] };
        rt_config b = { .size = sizeof b, .maxprocs = 2, .g0_stack_size = sizes[i] };
        CHECK_RC(rt_init(&a), RT_EINVAL);
        CHECK_RC(rt_init(&b), RT_EINVAL);
    }
    CHECK_EQ(test_os_threads(), 1); /* nothing started */
    fm_start(2);                 /* RT_OK, not RT_EALREADY */
    CHECK(rt_go(deep_g, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    fm_finish();
}

static void null_chan_bad_dir(void *arg)
{
    (void)arg;
    fm_start(2);
    int v = 0;
    rt_select_case ok = { .chan = NULL, .dir = RT_RECV, .elem = &v };
    CONTROL(rt_select(&ok, 1, 0) == RT_EAGAIN);
    int dirs[] = { 0, 3, -1, INT_MAX, INT_MIN };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        rt_select_case nc = { .chan = NULL, .dir = dirs[i], .elem = &v };
        CHECK_RC(rt_select(&nc, 1, 0), RT_EINVAL);
        CHECK_RC(rt_select(&nc, 1, -1), RT_EINVAL); /* refused, not a wait forever */
    }
    fm_finish();
}

static void huge_chan_buffer(void *arg)
{
    (void)arg;
    fm_start(2);
    size_t n = (size_t)1 << 62, prod;
    CONTROL(!__builtin_mul_overflow((size_t)1, n, &prod));
    void *m = malloc(n);
    CONTROL(m == NULL);
    free(m);
    rt_chan *c = (rt_chan *)&m;
    CHECK_RC(rt_chan_make(1, n, &c), RT_ENOMEM);
    CHECK_RC(rt_chan_make(4, n / 4, &c), RT_ENOMEM);
    CHECK_RC(rt_chan_make(1, SIZE_MAX, &c), RT_ENOMEM);
    CHECK_RC(rt_chan_make(2, SIZE_MAX, &c), RT_EINVAL); /* overflows */
    CHECK_PTR_EQ(c, (rt_chan *)&m);
    fm_finish();
}

static void double_close_free(void *arg)
{
    (void)arg;
    fm_start(2);
    rt_chan *c = NULL, *c2 = NULL;
    CHECK_RC(rt_chan_make(sizeof(int), 2, &c), RT_OK);
    int v = 9;
    CHECK_RC(rt_chan_send(c, &v), RT_OK);
    CONTROL(rt_chan_close(c) == RT_OK);
    CHECK_RC(rt_chan_close(c), RT_ECLOSED);
    CHECK_RC(rt_chan_send(c, &v), RT_ECLOSED);
    v = 0;
    CHECK_RC(rt_chan_recv(c, &v), RT_OK); /* buffered: still delivered */
    CHECK_EQ(v, 9);
    CHECK_RC(rt_chan_recv(c, &v), RT_ECLOSED);
    CONTROL(rt_chan_free(c) == RT_OK);
    CHECK_RC(rt_chan_free(c), RT_EINVAL);
    CHECK_RC(rt_chan_close(c), RT_EINVAL);
    /* A new channel, likely in the freed one's memory and slot: the old handle stays
       dead and does not reach it. */
    CHECK_RC(rt_chan_make(sizeof(int), 2, &c2), RT_OK);
    CHECK(c2 != c);
    CHECK_RC(rt_chan_send(c, &v), RT_EINVAL);
    CHECK_RC(rt_chan_close(c), RT_EINVAL);
    CHECK_EQ(rt_chan_len(c2), 0);
    CHECK_RC(rt_chan_free(c2), RT_OK);
    fm_finish();
}

/* A host's rt_ready on a G that waits inside the library: refused; the G's own
   wake-up still delivers. */
static rt_chan *rch;
static rt_g *_Atomic rch_g;
static atomic_int rch_rc = 1, rch_v;

static void recv_on_rch(void *arg)
{
    (void)arg;
    rch_g = rt_getg();
    int v = -1;
    atomic_store(&rch_rc, rt_chan_recv(rch, &v));
    atomic_store(&rch_v, v);
}

static void ready_library_parked(void *arg)
{
    (void)arg;
    fm_start(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &rch), RT_OK);
    CHECK(rt_go(recv_on_rch, NULL) > 0);
    bool parked = false;
    for (int i = 0; i < 10000 && !parked; i++) {
        rt_stats st;
        parked = rch_g && test_stats(&st) == RT_OK && st.goroutines == 1 && st.runnable == 0 &&
                 st.idle_procs == st.maxprocs;
        if (!parked)
            usleep(1000);
    }
    CONTROL(parked && atomic_load(&rch_rc) == 1);
    CHECK_RC(rt_ready(rch_g), RT_EINVAL);
    CHECK_RC(rt_ready(rch_g), RT_EINVAL);
    int v = 55;
    CHECK_RC(rt_chan_send(rch, &v), RT_OK); /* its own wake-up */
    for (long i = 0; atomic_load(&rch_rc) == 1 && i < 100000000L; i++)
        sched_yield();
    CHECK_RC(atomic_load(&rch_rc), RT_OK);
    CHECK_EQ(atomic_load(&rch_v), 55);
    CHECK_RC(rt_chan_trysend(rch, &v), RT_EAGAIN); /* no stale receiver left */
    CHECK_RC(rt_chan_free(rch), RT_OK);
    fm_finish();
}

/* rt_dump to a pipe nobody reads: RT_EINVAL, no SIGPIPE. */
static void dump_broken_pipe(void *arg)
{
    (void)arg;
    signal(SIGPIPE, SIG_DFL);
    fm_start(2);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    close(p[0]);
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    errno = 0;
    CONTROL(write(p[1], "x", 1) == -1 && errno == EPIPE);
    struct timespec zero = { 0, 0 };
    CONTROL(sigtimedwait(&s, NULL, &zero) == SIGPIPE); /* a write raises it */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    CHECK_RC(rt_dump(p[1]), RT_EINVAL);
    close(p[1]);
    fm_finish();
}

/* ==== lifecycle ==== */

static rt_chan *gate;
static atomic_int parked_rc_closed;

static void parks_on_gate(void *arg)
{
    (void)arg;
    int v;
    if (rt_chan_recv(gate, &v) == RT_ECLOSED)
        atomic_fetch_add(&parked_rc_closed, 1);
}

static void shutdown_g(void *arg)
{
    (void)arg;
    CHECK_RC(rt_shutdown(0), RT_EPERM);
    test_latch_post(&latch_a);
}

static void shutdown_while_parked(void *arg)
{
    (void)arg;
    fm_start(2);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &gate), RT_OK);
    for (int i = 0; i < 100; i++)
        CHECK(rt_go(parks_on_gate, NULL) > 0);
    rt_stats st;
    bool parked = false;
    for (int i = 0; i < 10000 && !parked; i++) {
        parked = test_stats(&st) == RT_OK && st.goroutines == 100 && st.runnable == 0 &&
                 st.idle_procs == st.maxprocs;
        if (!parked)
            usleep(1000);
    }
    CONTROL(parked);
    CHECK_RC(rt_chan_free(gate), RT_EBUSY);
    CHECK_RC(rt_shutdown(10000000), RT_ETIMEDOUT);
    CHECK_RC(rt_shutdown(0), RT_ETIMEDOUT);
    CHECK(rt_go(shutdown_g, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    fm_still_runs(); /* the runtime kept running */
    CHECK_RC(rt_chan_close(gate), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_EQ(atomic_load(&parked_rc_closed), 100);
    CHECK_RC(rt_chan_free(gate), RT_OK);
    fm_start(2);
    fm_finish();
}

static void before_init(void *arg)
{
    (void)arg;
    CONTROL(test_os_threads() == 1);
    /* Channels need no runtime. */
    rt_chan *c = NULL;
    int v = 5;
    CHECK_RC(rt_chan_make(sizeof(int), 1, &c), RT_OK);
    CHECK_RC(rt_chan_trysend(c, &v), RT_OK);
    CHECK_RC(rt_chan_tryrecv(c, &v), RT_OK);
    CHECK_RC(rt_chan_free(c), RT_OK);
    /* The first call that needs the runtime starts it with defaults. */
    CHECK(rt_go(post_a, NULL) > 0);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    CHECK_RC(rt_init(NULL), RT_EALREADY);
    CHECK(rt_gomaxprocs(0) > 0);
    fm_finish();
}

static void after_shutdown(void *arg)
{
    (void)arg;
    fm_start(2);
    CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CONTROL(test_os_threads() == 1); /* every M was joined */
    CHECK_RC(rt_go(post_a, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_gomaxprocs(0), RT_ESHUTDOWN);
    CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_shutdown(-1), RT_ESHUTDOWN);
    CHECK_EQ(test_os_threads(), 1); /* and nothing was restarted */
    fm_start(2);
    fm_finish();
}

/* ==== threads refused ==== */

static atomic_int nproc_ran;

static void nproc_g(void *arg)
{
    (void)arg;
    atomic_fetch_add(&nproc_ran, 1);
}

static void *nothing_thread(void *arg)
{
    return arg;
}

static void threads_refused(void *arg)
{
    (void)arg;
    fm_start(4);
    CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&latch_a, 1, 10));
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
        FAIL("setresuid(65534): %s", strerror(errno));
        return;
    }
    struct rlimit old, lim;
    getrlimit(RLIMIT_NPROC, &old);
    lim.rlim_cur = (rlim_t)test_os_threads();
    lim.rlim_max = old.rlim_max;
    if (!CHECK(setrlimit(RLIMIT_NPROC, &lim) == 0))
        return;
    pthread_t t;
    int e = pthread_create(&t, NULL, nothing_thread, NULL);
    CONTROL(e == EAGAIN);
    if (e == 0)
        pthread_join(t, NULL);
    /* Gs still run on the Ms there are, and rt_go does not pay for each refused
       thread (2000 of them well within the scenario's 20 s); a new M is refused
       with a named error. */
    int n = test_under_valgrind() ? 50 : 2000;
    for (int i = 0; i < n; i++)
        CHECK(rt_go(nproc_g, NULL) > 0);
    for (long i = 0; atomic_load(&nproc_ran) < n && i < 100000000L; i++)
        sched_yield();
    CHECK_EQ(atomic_load(&nproc_ran), n);
    CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_EAGAIN);
    fm_still_runs();
    if (setrlimit(RLIMIT_NPROC, &old) != 0)
        FAIL("setrlimit back: %s", strerror(errno));
    CHECK_RC(rt_newm(post_a, NULL, NULL, NULL), RT_OK);
    CHECK(test_latch_wait_for(&latch_a, 2, 10));
    fm_finish();
}

int main(void)
{
    FM_SCENARIO("fork from a G, then rt_init + rt_newm in the child",
                "the child runs on the G's stack, outside its thread's own stack",
                fork_from_g, NULL, 20);
    FM_SCENARIO("the child's rt_poll_fd on its own pipe while the parent polls",
                "the parent's poller (an epoll fd) exists at the fork, a G waits in it; the "
                "child's pipe fds differ from the parent's",
                fork_netpoll, NULL, 20);
    FM_SCENARIO("a fork child's calls before its rt_init: RT_ESHUTDOWN",
                "the child has one thread, the parent more", fork_child_before_init, NULL, 20);
    FM_SCENARIO("out of fds before the netpoller exists: sleep and select with timeout in a G",
                "open, pipe and epoll_create1 fail with EMFILE", fds_before_netpoller, NULL,
                20);
    FM_SCENARIO("rt_poll_fd out of fds: RT_ENOMEM, then works once fds are free",
                "open, pipe and epoll_create1 fail with EMFILE", poll_fd_out_of_fds, NULL, 20);
    FM_SCENARIO("garbage channel, M, P and G handles: RT_EINVAL",
                "mincore(2) finds nothing mapped at each address", garbage_handles, NULL, 20);
    FM_SCENARIO("rt_select(cases, SIZE_MAX): RT_EINVAL before reading a case",
                "the array ends where a PROT_NONE page begins (/proc/self/maps)", select_size_max,
                NULL, 20);
    FM_SCENARIO("rt_releasep from a G: NULL, the G keeps its P",
                "the G's M holds a running P", releasep_from_g, NULL, 20);
    FM_SCENARIO("rt_init with huge g / g0 stack sizes: RT_EINVAL",
                "rounding them up to pages wraps to 0", huge_stack_sizes, NULL, 20);
    FM_SCENARIO("select case with a NULL channel and a bad direction: RT_EINVAL",
                "the same case with RT_RECV is accepted (RT_EAGAIN)", null_chan_bad_dir,
                NULL, 20);
    FM_SCENARIO("huge channel buffer: RT_ENOMEM (RT_EINVAL only on overflow)",
                "malloc of that size fails; elem_size * cap does not overflow",
                huge_chan_buffer, NULL, 20);
    FM_SCENARIO("double close, double free, use after rt_chan_free",
                "the first close and the first free succeeded", double_close_free, NULL, 20);
    FM_SCENARIO("rt_ready of a G waiting in rt_chan_recv: RT_EINVAL, its send still delivers",
                "the G is parked (live, not runnable, every P idle)", ready_library_parked,
                NULL, 20);
    FM_SCENARIO("rt_dump to a pipe with no reader: RT_EINVAL, the host is not killed",
                "a plain write there fails with EPIPE and raises SIGPIPE", dump_broken_pipe,
                NULL, 20);
    FM_SCENARIO("rt_shutdown while Gs are parked: RT_ETIMEDOUT, the runtime runs on",
                "100 Gs live, none runnable, every P idle", shutdown_while_parked, NULL, 20);
    FM_SCENARIO("calls before rt_init: the runtime starts lazily",
                "no runtime thread exists before the first call", before_init, NULL, 20);
    FM_SCENARIO("calls after rt_shutdown: RT_ESHUTDOWN, nothing restarts",
                "every M's thread is gone after rt_shutdown", after_shutdown, NULL, 20);
    if (geteuid() == 0)
        FM_SCENARIO("threads refused (RLIMIT_NPROC as uid 65534): Gs run, rt_newm RT_EAGAIN",
                    "pthread_create fails with EAGAIN", threads_refused, NULL, 20);
    else
        printf("SKIP threads refused: needs root to become uid 65534\n");
    fm_list();
    return test_summary();
}
