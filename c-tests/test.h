/*
 * test.h: the tiny assertion header of libmrt's C tests.
 *
 * Include it first in every t_<behaviour>.c (it sets _GNU_SOURCE). A test is one
 * process; its main() ends with `return test_summary();`, which prints exactly
 * `N passed, M failed` as the last line and yields a nonzero exit status on failure.
 * Nothing else is printed on success; every failed check prints `file:line: what`
 * with the values to stderr.
 *
 *   CHECK(cond)              cond is true
 *   CHECK_EQ(a, b)           integers (or anything that converts to intmax_t) equal
 *   CHECK_PTR_EQ(a, b)       pointers equal
 *   CHECK_STR_EQ(a, b)       C strings equal (NULL compares unequal to any string)
 *   CHECK_RC(expr, want)     an rt_* return code, printed with rt_err_name on failure
 *
 * Each macro returns true when the check passed, so `if (!CHECK(p)) return;` stops a
 * test function that cannot go on. Checks may run on any thread (counts are atomic).
 *
 * Helpers: test_latch (a counter threads can wait on: real handshakes, no sleeps),
 * test_spawn (run a function in a forked child, fold its counts into this process,
 * optionally capture its stderr; a child that hangs dies of SIGALRM after 20 s),
 * test_under_valgrind, test_os_threads, test_stats, test_gettid, test_m_tid,
 * test_relax, test_dump_text, test_sigpipe_blocked.
 */
#ifndef MRT_TEST_H
#define MRT_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mrt.h"

static atomic_int test_passed_;
static atomic_int test_failed_;

static void test_failf_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void test_failf_(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One write so that lines from several threads do not interleave. */
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    atomic_fetch_add(&test_failed_, 1);
}

static inline bool test_check_(bool ok, const char *file, int line, const char *expr)
{
    if (ok)
        atomic_fetch_add(&test_passed_, 1);
    else
        test_failf_(file, line, "CHECK(%s) failed", expr);
    return ok;
}

static inline bool test_check_eq_(intmax_t a, intmax_t b, const char *file, int line,
                                  const char *ea, const char *eb)
{
    if (a == b) {
        atomic_fetch_add(&test_passed_, 1);
        return true;
    }
    test_failf_(file, line, "CHECK_EQ(%s, %s) failed: %jd (0x%jx) != %jd (0x%jx)", ea, eb, a,
                (uintmax_t)a, b, (uintmax_t)b);
    return false;
}

static inline bool test_check_ptr_eq_(const void *a, const void *b, const char *file, int line,
                                      const char *ea, const char *eb)
{
    if (a == b) {
        atomic_fetch_add(&test_passed_, 1);
        return true;
    }
    test_failf_(file, line, "CHECK_PTR_EQ(%s, %s) failed: %p != %p", ea, eb, a, b);
    return false;
}

static inline bool test_check_str_eq_(const char *a, const char *b, const char *file, int line,
                                      const char *ea, const char *eb)
{
    if (a && b && strcmp(a, b) == 0) {
        atomic_fetch_add(&test_passed_, 1);
        return true;
    }
    test_failf_(file, line, "CHECK_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"", ea, eb,
                a ? a : "(null)", b ? b : "(null)");
    return false;
}

static inline bool test_check_rc_(int got, int want, const char *file, int line, const char *expr,
                                  const char *ewant)
{
    if (got == want) {
        atomic_fetch_add(&test_passed_, 1);
        return true;
    }
    test_failf_(file, line, "CHECK_RC(%s, %s) failed: got %d (%s), want %d (%s)", expr, ewant, got,
                rt_err_name(got), want, rt_err_name(want));
    return false;
}

#define CHECK(cond) test_check_((cond) ? true : false, __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b) test_check_eq_((intmax_t)(a), (intmax_t)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_PTR_EQ(a, b) \
    test_check_ptr_eq_((const void *)(a), (const void *)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_STR_EQ(a, b) test_check_str_eq_((a), (b), __FILE__, __LINE__, #a, #b)
#define CHECK_RC(expr, want) test_check_rc_((int)(expr), (want), __FILE__, __LINE__, #expr, #want)
/* A failure that is not a comparison (e.g. a libc call the test needs failed). */
#define FAIL(...) test_failf_(__FILE__, __LINE__, __VA_ARGS__)

/* Print `N passed, M failed` and return the exit status for main(). */
static inline int test_summary(void)
{
    int passed = atomic_load(&test_passed_), failed = atomic_load(&test_failed_);
    fflush(stderr);
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

/* ---- latch: a counter that threads bump and wait on (mutex + condvar) ---- */

typedef struct test_latch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long count;
} test_latch;

#define TEST_LATCH_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void test_latch_post(test_latch *l)
{
    pthread_mutex_lock(&l->mu);
    l->count++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Wait until at least n posts have happened in total. */
static inline void test_latch_wait(test_latch *l, long n)
{
    pthread_mutex_lock(&l->mu);
    while (l->count < n)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

/* Wait until at least n posts, or give up after `seconds` (returns false): for
 * waits whose failure the test reports (e.g. with rt_dump) instead of hanging. */
static inline bool test_latch_wait_for(test_latch *l, long n, int seconds)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += seconds;
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    while (l->count < n && rc == 0)
        rc = pthread_cond_timedwait(&l->cv, &l->mu, &dl);
    bool ok = l->count >= n;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* ---- child processes ---- */

/* Running under valgrind? (run.sh sets MRT_TEST_VALGRIND=1 for its valgrind pass.) */
static inline bool test_under_valgrind(void)
{
    const char *v = getenv("MRT_TEST_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}


/*
 * Fork; the child runs fn(arg) and _exits with status 0 if none of its checks failed
 * (1 otherwise). The child's pass/fail counts are added to this process's. If err is
 * non-NULL, the child's stderr is captured there (NUL-terminated, truncated to errlen)
 * instead of being inherited. Returns the raw wait status (or -1 if fork failed).
 */
static inline int test_spawn(void (*fn)(void *), void *arg, char *err, size_t errlen)
{
    int counts[2], errp[2] = { -1, -1 };
    if (pipe(counts) != 0 || (err && pipe(errp) != 0)) {
        FAIL("pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        FAIL("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(counts[0]);
        if (err) {
            close(errp[0]);
            dup2(errp[1], 2);
            close(errp[1]);
        }
        atomic_store(&test_passed_, 0);
        atomic_store(&test_failed_, 0);
        alarm(test_under_valgrind() ? 60 : 20); /* a hung child dies of SIGALRM */
        fn(arg);
        int c[2] = { atomic_load(&test_passed_), atomic_load(&test_failed_) };
        if (write(counts[1], c, sizeof c) != (ssize_t)sizeof c)
            _exit(3);
        _exit(c[1] ? 1 : 0);
    }
    close(counts[1]);
    size_t used = 0;
    if (err) {
        close(errp[1]);
        for (;;) {
            char buf[512];
            ssize_t n = read(errp[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n && used + 1 < errlen; i++)
                err[used++] = buf[i];
        }
        close(errp[0]);
        if (errlen)
            err[used] = 0;
    }
    int c[2] = { 0, 0 };
    ssize_t got;
    do
        got = read(counts[0], c, sizeof c);
    while (got < 0 && errno == EINTR);
    close(counts[0]);
    if (got == (ssize_t)sizeof c) {
        atomic_fetch_add(&test_passed_, c[0]);
        atomic_fetch_add(&test_failed_, c[1]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* A child from test_spawn ran to its end with no failed check (counts as one check).
 * The status expression is evaluated once (it is usually the test_spawn call). */
static inline bool test_check_child_ok_(int status, const char *file, int line)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return test_check_(true, file, line, "child ok");
    test_failf_(file, line, "child failed: %s %d",
                WIFEXITED(status) ? "exit status" : "killed by signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return false;
}

#define CHECK_CHILD_OK(status) test_check_child_ok_((status), __FILE__, __LINE__)

/* ---- environment ---- */

/* Number of OS threads in this process (entries of /proc/self/task). */
static inline int test_os_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* rt_getstats with the size set; returns the code. */
/* The whole file at `path`, NUL-terminated, in memory the caller frees; NULL if it
 * cannot be read. */
static inline char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

static inline int test_stats(rt_stats *st)
{
    memset(st, 0, sizeof *st);
    st->size = sizeof *st;
    return rt_getstats(st);
}

/* The calling thread's OS thread id (gettid(2)). */
/* Whether SIGPIPE is blocked on the calling thread. */
static inline bool test_sigpipe_blocked(void)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

/* rt_dump into a fresh buffer (malloc'd, NUL-terminated); NULL on failure. */
static inline char *test_dump_text(void)
{
    int fd = memfd_create("mrt-dump", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = NULL;
    if (rt_dump(fd) == RT_OK) {
        off_t len = lseek(fd, 0, SEEK_END);
        buf = malloc((size_t)len + 1);
        if (buf && pread(fd, buf, (size_t)len, 0) == len) {
            buf[len] = 0;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    close(fd);
    return buf;
}

static inline int64_t test_gettid(void)
{
    return (int64_t)syscall(SYS_gettid);
}

/* The OS thread id that libmrt reports for the calling thread's M (rt_m_getinfo);
 * 0 on a foreign thread, -1 if rt_m_getinfo failed. */
static inline int64_t test_m_tid(void)
{
    rt_m *m = rt_getm();
    if (!m)
        return 0;
    rt_m_info mi;
    memset(&mi, 0, sizeof mi);
    mi.size = sizeof mi;
    if (rt_m_getinfo(m, &mi) != RT_OK)
        return -1;
    return mi.tid;
}

/* Bounded wait (about 10 s at most) until every P is in the idle pool and no M
 * spins: after a G exits, handoffp may lend a P to a spinning M for a moment (as Go
 * does), and rt_p_status reports such a reserved P as RT_P_IDLE too. */
static inline bool test_wait_all_idle(void)
{
    for (int i = 0; i < 10000; i++) {
        rt_stats st;
        if (test_stats(&st) == RT_OK && st.idle_procs == st.maxprocs &&
            st.spinning_threads == 0)
            return true;
        usleep(1000);
    }
    return false;
}

/* One step of a bounded busy-wait: lets another OS thread run (valgrind runs one
 * thread at a time) without yielding the P (it is not rt_gosched). */
static inline void test_relax(void)
{
    sched_yield();
}

#endif /* MRT_TEST_H */
