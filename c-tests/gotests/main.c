/*
 * main.c: the harness of the Go test port (see gotests.h).
 *
 *   gotests list                        the registered tests, one a line
 *   gotests run <TestName> <procs>      run one test at GOMAXPROCS=procs, in this process
 *
 * Environment: GOTESTS_WATCHDOG (seconds, default 30): the watchdog's limit;
 * GOTESTS_LONG=1: Go's full sizes instead of -short's.
 */
#include "gotests.h"

#include <signal.h>
#include <sys/syscall.h>

#define GT_MAX_TESTS 128

static struct {
    const char *name;
    gt_test_fn fn;
    const char *env;
} gt_tests[GT_MAX_TESTS];
static int gt_ntests;

static const char *gt_name = "?";
static int gt_procs;
static atomic_int gt_nfailed;
static pthread_mutex_t gt_out_mu = PTHREAD_MUTEX_INITIALIZER;

int (*gt_checkpoint_fn)(void);
int64_t gt_main_tid;

void gt_register(const char *name, gt_test_fn fn, const char *env)
{
    if (gt_ntests == GT_MAX_TESTS) {
        fprintf(stderr, "gotests: more than %d tests: raise GT_MAX_TESTS\n", GT_MAX_TESTS);
        _exit(2);
    }
    gt_tests[gt_ntests].name = name;
    gt_tests[gt_ntests].fn = fn;
    gt_tests[gt_ntests].env = env;
    gt_ntests++;
}

static void gt_vprint(const char *prefix, const char *file, int line, const char *fmt,
                      va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&gt_out_mu);
    if (file)
        fprintf(stderr, "    %s%s:%d: %s\n", prefix, file, line, msg);
    else
        fprintf(stderr, "    %s%s\n", prefix, msg);
    fflush(stderr);
    pthread_mutex_unlock(&gt_out_mu);
}

void gt_errorf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gt_vprint("", file, line, fmt, ap);
    va_end(ap);
    atomic_fetch_add(&gt_nfailed, 1);
}

static _Noreturn void gt_finish(void)
{
    bool failed = atomic_load(&gt_nfailed) != 0;
    pthread_mutex_lock(&gt_out_mu);
    fflush(stderr);
    printf("--- %s: %s (GOMAXPROCS=%d)\n", failed ? "FAIL" : "PASS", gt_name, gt_procs);
    fflush(stdout);
    /* _exit, not exit: Ms (and Gs a test leaves behind, as Go's tests may) are still
     * running; the runtime is not shut down (rt_shutdown would wait for those Gs). */
    _exit(failed ? 1 : 0);
}

void gt_fatalf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gt_vprint("", file, line, fmt, ap);
    va_end(ap);
    atomic_fetch_add(&gt_nfailed, 1);
    gt_finish();
}

void gt_logf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gt_vprint("log: ", NULL, 0, fmt, ap);
    va_end(ap);
}

void gt_skipf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gt_vprint("skip: ", NULL, 0, fmt, ap);
    va_end(ap);
    if (atomic_load(&gt_nfailed) != 0)
        gt_finish();
    pthread_mutex_lock(&gt_out_mu);
    printf("--- SKIP: %s (GOMAXPROCS=%d)\n", gt_name, gt_procs);
    fflush(stdout);
    _exit(77);
}

bool gt_failed(void)
{
    return atomic_load(&gt_nfailed) != 0;
}

bool gt_short(void)
{
    const char *v = getenv("GOTESTS_LONG");
    return !(v && strcmp(v, "1") == 0);
}

/* ---- stand-ins for API libmrt does not have yet ---- */

static int gt_checkpoint_missing(void)
{
    return 0;
}

int64_t gt_go_async_(rt_fn fn, void *arg, const char *file, int line)
{
#ifdef RT_G_ASYNC_PREEMPT
    rt_go_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.flags = RT_G_ASYNC_PREEMPT;
    int64_t id = rt_go_ex(fn, arg, &attr);
    if (id <= 0)
        gt_fatalf(file, line, "rt_go_ex(RT_G_ASYNC_PREEMPT): %s", rt_err_name((int)id));
    return id;
#else
    static atomic_bool noted;
    if (!atomic_exchange(&noted, true))
        gt_logf("libmrt has no RT_G_ASYNC_PREEMPT (issue 9): a plain rt_go stands in");
    return gt_go_(fn, arg, file, line);
#endif
}

/* ---- runtime helpers ---- */

int64_t gt_go_(rt_fn fn, void *arg, const char *file, int line)
{
    int64_t id = rt_go(fn, arg);
    if (id <= 0)
        gt_fatalf(file, line, "rt_go: %s", rt_err_name((int)id));
    return id;
}

int gt_gomaxprocs(int n)
{
    int prev = rt_gomaxprocs(n);
    if (prev <= 0)
        gt_fatalf(__FILE__, __LINE__, "rt_gomaxprocs(%d): %s", n, rt_err_name(prev));
    return prev;
}

rt_chan *gt_make_(size_t elem, size_t cap, const char *file, int line)
{
    rt_chan *c = NULL;
    int rc = rt_chan_make(elem, cap, &c);
    if (rc != RT_OK)
        gt_fatalf(file, line, "rt_chan_make(%zu, %zu): %s", elem, cap, rt_err_name(rc));
    return c;
}

void gt_send_(rt_chan *c, const void *v, const char *file, int line)
{
    int rc = rt_chan_send(c, v);
    if (rc != RT_OK)
        gt_fatalf(file, line, "rt_chan_send: %s", rt_err_name(rc));
}

bool gt_recv_(rt_chan *c, void *v, const char *file, int line)
{
    /* Go's `<-c` may drop the value; rt_chan_recv needs somewhere to put it (the
     * tests' elements are at most 16 bytes). */
    _Alignas(16) unsigned char sink[64];
    if (!v)
        v = sink;
    int rc = rt_chan_recv(c, v);
    if (rc == RT_ECLOSED)
        return false;
    if (rc != RT_OK)
        gt_fatalf(file, line, "rt_chan_recv: %s", rt_err_name(rc));
    return true;
}

void gt_close_(rt_chan *c, const char *file, int line)
{
    int rc = rt_chan_close(c);
    if (rc != RT_OK)
        gt_fatalf(file, line, "rt_chan_close: %s", rt_err_name(rc));
}

int gt_select_(rt_select_case *cases, size_t n, int64_t timeout_ns, const char *file, int line)
{
    int rc = rt_select(cases, n, timeout_ns);
    if (rc >= 0)
        return rc;
    if (rc == RT_EAGAIN && timeout_ns == 0)
        return -1;
    gt_fatalf(file, line, "rt_select(%zu cases, %" PRId64 "): %s", n, timeout_ns,
              rt_err_name(rc));
}

void gt_sleep(int64_t ns)
{
    int rc = rt_sleep(ns);
    if (rc != RT_OK)
        gt_fatalf(__FILE__, __LINE__, "rt_sleep(%" PRId64 "): %s", ns, rt_err_name(rc));
}

int64_t gt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct gt_after_arg {
    rt_chan *c;
    int64_t d;
};

static void gt_after_g(void *p)
{
    struct gt_after_arg *a = p;
    gt_sleep(a->d);
    int64_t now = gt_now();
    int rc = rt_chan_trysend(a->c, &now);
    if (rc != RT_OK)
        gt_fatalf(__FILE__, __LINE__, "After: rt_chan_trysend: %s", rt_err_name(rc));
    free(a);
}

rt_chan *gt_after(int64_t d)
{
    struct gt_after_arg *a = malloc(sizeof *a);
    if (!a)
        gt_fatalf(__FILE__, __LINE__, "After: out of memory");
    a->c = gt_make(sizeof(int64_t), 1);
    a->d = d;
    rt_chan *c = a->c;
    gt_go(gt_after_g, a);
    return c;
}

/* ---- watchdog and main ---- */

static int gt_watchdog_s = 30;

static void *gt_watchdog(void *unused)
{
    (void)unused;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += gt_watchdog_s;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) == EINTR)
        ;
    /* No lock: whoever holds gt_out_mu may be the hung one. */
    fprintf(stderr, "--- HANG: %s (GOMAXPROCS=%d) did not finish in %d s; libmrt's state:\n",
            gt_name, gt_procs, gt_watchdog_s);
    fflush(stderr);
    rt_dump(2);
    printf("--- HANG: %s (GOMAXPROCS=%d)\n", gt_name, gt_procs);
    fflush(stdout);
    _exit(124);
}

static gt_test_fn gt_fn;

static void gt_main_g(void *unused)
{
    (void)unused;
    gt_fn();
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (int i = 0; i < gt_ntests; i++)
            printf("%s\n", gt_tests[i].name);
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: %s list | run <TestName> <GOMAXPROCS>\n", argv[0]);
        return 2;
    }
    gt_test_fn fn = NULL;
    const char *env = NULL;
    for (int i = 0; i < gt_ntests; i++)
        if (strcmp(gt_tests[i].name, argv[2]) == 0) {
            fn = gt_tests[i].fn;
            env = gt_tests[i].env;
            gt_name = gt_tests[i].name;
        }
    gt_procs = atoi(argv[3]);
    if (!fn || gt_procs <= 0) {
        fprintf(stderr, "gotests: no test %s, or bad GOMAXPROCS %s\n", argv[2], argv[3]);
        return 2;
    }
    const char *w = getenv("GOTESTS_WATCHDOG");
    if (w && atoi(w) > 0)
        gt_watchdog_s = atoi(w);

    *(void **)&gt_checkpoint_fn = dlsym(RTLD_DEFAULT, "rt_checkpoint");
    if (!gt_checkpoint_fn)
        gt_checkpoint_fn = gt_checkpoint_missing;

    pthread_t wd;
    if (pthread_create(&wd, NULL, gt_watchdog, NULL) != 0) {
        fprintf(stderr, "gotests: cannot start the watchdog thread\n");
        return 2;
    }

    if (env) {
        char *kv = strdup(env), *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || (*eq = 0, setenv(kv, eq + 1, 1) != 0)) {
            fprintf(stderr, "gotests: cannot set %s\n", env);
            return 2;
        }
        free(kv);
    }

    rt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.size = sizeof cfg;
    cfg.maxprocs = gt_procs;
    int rc = rt_init(&cfg);
    if (rc != RT_OK)
        gt_fatalf(__FILE__, __LINE__, "rt_init(maxprocs %d): %s", gt_procs, rt_err_name(rc));
    if (gt_checkpoint_fn == gt_checkpoint_missing)
        gt_logf("libmrt has no rt_checkpoint (issue 9): a no-op stands in");
    gt_fn = fn;
    gt_main_tid = (int64_t)syscall(SYS_gettid);
    rc = rt_main(gt_main_g, NULL);
    if (rc != RT_OK)
        gt_fatalf(__FILE__, __LINE__, "rt_main: %s", rt_err_name(rc));
    gt_finish();
}
