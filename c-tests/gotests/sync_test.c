/*
 * sync_test.c: Go's sync/mutex_test.go and sync/waitgroup_test.go (Mutex and
 * WaitGroup; RWMutex has no libmrt equivalent), ported to rt_mutex and rt_wg.
 * Go's misuse tests re-run the test binary and look for the panic's text in its
 * output; here a forked child makes the misuse and libmrt's fatal error (abort) is
 * looked for in its stderr. Left out: TestSemaphore (runtime-internal semaphores),
 * the mutex profile of TestMutex.
 */
#include "gotests.h"

#include <sys/resource.h>
#include <sys/wait.h>

/* Fork; the child runs fn with stderr into a pipe. Returns the wait status and puts
 * the child's stderr in out. The parent's reads are system calls of the G. */
static int run_misuse(void (*fn)(void), char *out, size_t len)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        FATALF("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        FATALF("fork: %s", strerror(errno));
    if (pid == 0) {
        /* The misuse aborts: no core file. */
        struct rlimit nocore = { 0, 0 };
        setrlimit(RLIMIT_CORE, &nocore);
        close(pfd[0]);
        dup2(pfd[1], 2);
        close(pfd[1]);
        fn();
        printf("test completed\n");
        fflush(stdout);
        _exit(0);
    }
    close(pfd[1]);
    size_t used = 0;
    rt_entersyscall();
    for (;;) {
        char buf[512];
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && used + 1 < len; i++)
            out[used++] = buf[i];
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    rt_exitsyscall();
    close(pfd[0]);
    out[used] = 0;
    return status;
}

/* ---- TestMutex ---- */

struct hammer {
    rt_mutex *m;
    int loops;
    rt_chan *cdone;
};

static void hammer_mutex_g(void *p)
{
    struct hammer *h = p;
    for (int i = 0; i < h->loops; i++) {
        if (i % 3 == 0) {
            if (rt_mutex_trylock(h->m))
                rt_mutex_unlock(h->m);
            continue;
        }
        rt_mutex_lock(h->m);
        rt_mutex_unlock(h->m);
    }
    bool t = true;
    gt_send(h->cdone, &t);
}

GO_TEST(TestMutex)
{
    static rt_mutex m = RT_MUTEX_INIT;
    rt_mutex_lock(&m);
    if (rt_mutex_trylock(&m))
        FATALF("TryLock succeeded with mutex locked");
    rt_mutex_unlock(&m);
    if (!rt_mutex_trylock(&m))
        FATALF("TryLock failed with mutex unlocked");
    rt_mutex_unlock(&m);

    struct hammer h = { &m, 1000, gt_make(sizeof(bool), 0) };
    for (int i = 0; i < 10; i++)
        gt_go(hammer_mutex_g, &h);
    for (int i = 0; i < 10; i++)
        gt_recv(h.cdone, NULL);
}

/* ---- TestMutexMisuse ---- */

static void misuse_unlock(void)
{
    rt_mutex mu = RT_MUTEX_INIT;
    rt_mutex_unlock(&mu);
}

static void misuse_unlock2(void)
{
    rt_mutex mu = RT_MUTEX_INIT;
    rt_mutex_lock(&mu);
    rt_mutex_unlock(&mu);
    rt_mutex_unlock(&mu);
}

/* Unlocking an unlocked mutex is a fatal error that mentions "unlocked". */
GO_TEST(TestMutexMisuse)
{
    static const struct {
        const char *name;
        void (*f)(void);
    } tests[] = { { "Mutex.Unlock", misuse_unlock }, { "Mutex.Unlock2", misuse_unlock2 } };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        char out[2048];
        int st = run_misuse(tests[i].f, out, sizeof out);
        bool ok_exit = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (ok_exit || !strstr(out, "unlocked"))
            ERRORF("%s: did not find failure with message about unlocked lock: status %#x\n%s",
                   tests[i].name, st, out);
    }
}

/* ---- TestMutexFairness ---- */

struct mutex_fair {
    rt_mutex mu;
    rt_chan *stop, *done;
};

static void fair_holder_g(void *p)
{
    struct mutex_fair *f = p;
    for (;;) {
        rt_mutex_lock(&f->mu);
        gt_sleep(100 * GT_US);
        rt_mutex_unlock(&f->mu);
        bool v;
        rt_select_case cs[1] = { gt_case_recv(f->stop, &v) };
        if (gt_select(cs, 1, 0) == 0)
            return;
    }
}

static void fair_wanter_g(void *p)
{
    struct mutex_fair *f = p;
    for (int i = 0; i < 10; i++) {
        gt_sleep(100 * GT_US);
        rt_mutex_lock(&f->mu);
        rt_mutex_unlock(&f->mu);
    }
    bool t = true;
    gt_send(f->done, &t);
}

/* One G holds the mutex nearly all the time; another must still get it ten times
 * (Go's starvation mode). Go's limit: 10 s. */
GO_TEST(TestMutexFairness)
{
    static struct mutex_fair f;
    f.stop = gt_make(sizeof(bool), 0);
    f.done = gt_make(sizeof(bool), 1);
    gt_go(fair_holder_g, &f);
    gt_go(fair_wanter_g, &f);
    bool v;
    int64_t tv;
    rt_select_case cs[2] = { gt_case_recv(f.done, &v), gt_case_recv(gt_after(10 * GT_S), &tv) };
    int i = gt_select(cs, 2, -1);
    gt_close(f.stop); /* Go's deferred close(stop) */
    if (i == 1)
        FATALF("can't acquire Mutex in 10 seconds");
}

/* ---- TestWaitGroup ---- */

struct wg_pair {
    rt_wg *wg1, *wg2;
    rt_chan *exited;
};

static void wg_pair_g(void *p)
{
    struct wg_pair *a = p;
    rt_wg_done(a->wg1);
    rt_wg_wait(a->wg2);
    bool t = true;
    gt_send(a->exited, &t);
}

/* A barrier: n Gs pass wg1 and wait on wg2, which the main G counts down. */
static void test_wait_group(rt_wg *wg1, rt_wg *wg2)
{
    const int n = 16;
    rt_wg_add(wg1, n);
    rt_wg_add(wg2, n);
    struct wg_pair a = { wg1, wg2, gt_make(sizeof(bool), (size_t)n) };
    for (int i = 0; i != n; i++)
        gt_go(wg_pair_g, &a);
    rt_wg_wait(wg1);
    for (int i = 0; i != n; i++) {
        bool v;
        rt_select_case cs[1] = { gt_case_recv(a.exited, &v) };
        if (gt_select(cs, 1, 0) == 0)
            FATALF("WaitGroup released group too soon");
        rt_wg_done(wg2);
    }
    for (int i = 0; i != n; i++)
        gt_recv(a.exited, NULL); /* blocks if the barrier fails to release someone */
    rt_chan_free(a.exited);
}

GO_TEST(TestWaitGroup)
{
    rt_wg wg1 = RT_WG_INIT, wg2 = RT_WG_INIT;
    /* a few times over, so that the barrier is seen to be reusable */
    for (int i = 0; i != 8; i++)
        test_wait_group(&wg1, &wg2);
}

/* ---- TestWaitGroupMisuse ---- */

static void misuse_wg(void)
{
    rt_wg wg = RT_WG_INIT;
    rt_wg_add(&wg, 1);
    rt_wg_done(&wg);
    rt_wg_done(&wg);
}

/* A negative counter is a fatal error ("negative"), as Go's panic. */
GO_TEST(TestWaitGroupMisuse)
{
    char out[2048];
    int st = run_misuse(misuse_wg, out, sizeof out);
    if ((WIFEXITED(st) && WEXITSTATUS(st) == 0) || !strstr(out, "negative"))
        FATALF("Unexpected outcome: status %#x, output:\n%s", st, out);
}

/* ---- TestWaitGroupRace ---- */

struct wg_race {
    rt_wg wg;
    atomic_int n;
};

static void wg_race_g(void *p)
{
    struct wg_race *r = p;
    atomic_fetch_add(&r->n, 1);
    rt_wg_done(&r->wg);
}

/* Wait does not return before both Dones. */
GO_TEST(TestWaitGroupRace)
{
    for (int i = 0; i < 1000; i++) {
        struct wg_race r;
        memset(&r, 0, sizeof r);
        rt_wg_add(&r.wg, 1);
        gt_go(wg_race_g, &r);
        rt_wg_add(&r.wg, 1);
        gt_go(wg_race_g, &r);
        rt_wg_wait(&r.wg);
        if (atomic_load(&r.n) != 2)
            FATALF("Spurious wakeup from Wait");
    }
}

/* ---- TestWaitGroupAlign ---- */

struct wg_align {
    char x;
    rt_wg wg;
};

static void wg_align_g(void *p)
{
    rt_wg_done(&((struct wg_align *)p)->wg);
}

GO_TEST(TestWaitGroupAlign)
{
    struct wg_align x;
    memset(&x, 0, sizeof x);
    rt_wg_add(&x.wg, 1);
    gt_go(wg_align_g, &x);
    rt_wg_wait(&x.wg);
}

/* ---- TestWaitGroupGo ---- */

struct wg_go {
    rt_wg *wg;
    int *i;
};

static void wg_go_g(void *p)
{
    struct wg_go *a = p;
    (*a->i)++;
    rt_wg_done(a->wg);
}

/* Go's wg.Go(f) is wg.Add(1) and a G that runs f then wg.Done(). */
GO_TEST(TestWaitGroupGo)
{
    rt_wg wg = RT_WG_INIT;
    int i = 0;
    struct wg_go a = { &wg, &i };
    rt_wg_add(&wg, 1);
    gt_go(wg_go_g, &a);
    rt_wg_wait(&wg);
    if (i != 1)
        FATALF("got %d, want 1", i);
}
