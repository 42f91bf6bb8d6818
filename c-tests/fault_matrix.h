/*
 * fault_matrix.h: the scenario runner of the fault-matrix tests (t_fault_matrix.c, run
 * natively and under valgrind; t_fault_matrix_native.c, native only). Include it
 * instead of test.h.
 *
 * A scenario is one forked child (test_spawn) with a timeout of its own: a hang dies of
 * SIGALRM and a crash or abort of its signal, and either is that scenario's failure,
 * never a stuck or dead test. Each scenario must show, with at least one CONTROL check,
 * that the fault it is about really bit (malloc really failed, the fd table was really
 * full, the handle really points at nothing, ...): a scenario whose control never ran
 * fails. Most scenarios end with fm_still_runs(): the runtime runs a G that receives
 * one message from the child's thread.
 *
 *   FM_SCENARIO(name, control, fn, arg, timeout_s)  run one scenario (fn(arg) in a child)
 *   CONTROL(cond)              a negative-control check (counted per scenario)
 *   fm_still_runs()            a G receives a message over a fresh channel
 *   fm_exhaust_fds()           lower RLIMIT_NOFILE and open until EMFILE (with controls)
 *   fm_vm_bytes()              the process's address space (statm)
 *   fm_limit_as(headroom)      RLIMIT_AS = what is mapped + headroom; fm_unlimit_as()
 *   fm_hoard() / fm_unhoard()  allocate until even malloc(1) fails (with controls) / free
 *   fm_step(what)              a progress note, shown if the scenario fails
 *   fm_list()                  print the scenarios, their controls and times (stdout)
 */
#ifndef MRT_FAULT_MATRIX_H
#define MRT_FAULT_MATRIX_H

#include "test.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>

/* Shared with the children: how many control checks passed in the current one. */
static atomic_int *fm_controls_;

#define CONTROL(cond)                                                           \
    do {                                                                        \
        if (test_check_((cond) ? true : false, __FILE__, __LINE__, "control: " #cond) && \
            fm_controls_)                                                       \
            atomic_fetch_add(fm_controls_, 1);                                  \
    } while (0)

typedef struct fm_scenario_ {
    const char *name, *control;
    void (*fn)(void *);
    void *arg;
    int timeout_s;
} fm_scenario_;

#define FM_MAX 64
static const char *fm_names_[FM_MAX], *fm_ctls_[FM_MAX];
static int fm_ok_[FM_MAX];
static long fm_ms_[FM_MAX];
static int fm_n_;

static void fm_child_(void *a)
{
    const fm_scenario_ *s = a;
    alarm((unsigned)(test_under_valgrind() ? 3 * s->timeout_s : s->timeout_s));
    s->fn(s->arg);
}

static inline bool fm_run_(const char *name, const char *control, void (*fn)(void *), void *arg,
                           int timeout_s)
{
    if (!fm_controls_) {
        fm_controls_ = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (fm_controls_ == MAP_FAILED) {
            fm_controls_ = NULL;
            FAIL("mmap: %s", strerror(errno));
            return false;
        }
    }
    atomic_store(fm_controls_, 0);
    fm_scenario_ s = { name, control, fn, arg, timeout_s };
    static char err[16384];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = test_spawn(fm_child_, &s, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    int controls = atomic_load(fm_controls_);
    if (!ok) {
        FAIL("scenario \"%s\": %s %d%s", name, WIFEXITED(st) ? "exit status" : "killed by signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
             WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (hung: its timeout passed)" : "");
        fprintf(stderr, "  its stderr:\n%s\n", err);
    } else if (controls == 0) {
        ok = false;
        FAIL("scenario \"%s\": its negative control never ran", name);
    } else {
        CHECK(true);
    }
    if (fm_n_ < FM_MAX) {
        fm_names_[fm_n_] = name;
        fm_ctls_[fm_n_] = control;
        fm_ms_[fm_n_] = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        fm_ok_[fm_n_++] = ok;
    }
    return ok;
}

#define FM_SCENARIO(name, control, fn, arg, timeout_s) fm_run_((name), (control), (fn), (arg), (timeout_s))

static inline void fm_list(void)
{
    for (int i = 0; i < fm_n_; i++)
        printf("%-4s %s (%ld ms)\n     control: %s\n", fm_ok_[i] ? "ok" : "FAIL", fm_names_[i],
               fm_ms_[i], fm_ctls_[i]);
    fflush(stdout);
}

/* A progress note on stderr (write(2): no malloc), shown only if the scenario fails,
 * so that an abort is tied to the step it happened in. */
static inline void fm_step(const char *what)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "  step: %s\n", what);
    if (n > 0 && write(2, buf, (size_t)n) < 0)
        return;
}

/* ---- the runtime still works ---- */

static rt_chan *fm_live_ch_;
static atomic_int fm_live_got_;

static void fm_live_rx_(void *arg)
{
    (void)arg;
    int v = 0;
    if (rt_chan_recv(fm_live_ch_, &v) == RT_OK)
        atomic_store(&fm_live_got_, v);
}

/* A G receives one message from this thread (a foreign thread or an adopted M without
 * a P), then the channel is freed. */
static inline bool fm_still_runs(void)
{
    if (!CHECK_RC(rt_chan_make(sizeof(int), 0, &fm_live_ch_), RT_OK))
        return false;
    atomic_store(&fm_live_got_, 0);
    int v = 4242;
    bool ok = CHECK(rt_go(fm_live_rx_, NULL) > 0) && CHECK_RC(rt_chan_send(fm_live_ch_, &v), RT_OK);
    /* the receive happened; its store follows at once */
    for (long i = 0; ok && atomic_load(&fm_live_got_) != v && i < 100000000L; i++)
        sched_yield();
    ok = CHECK_EQ(atomic_load(&fm_live_got_), v) && ok;
    for (int i = 0; i < 100000 && rt_chan_free(fm_live_ch_) == RT_EBUSY; i++)
        usleep(100);
    return ok;
}

/* A scenario's runtime: rt_init with `procs` Ps (fm_start), and at its end the
 * liveness check and a clean rt_shutdown (fm_finish). */
static inline void fm_start(int procs)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = procs };
    CHECK_RC(rt_init(&cfg), RT_OK);
}

static inline void fm_finish(void)
{
    fm_still_runs();
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- file descriptors ---- */

/* Fills the fd table: RLIMIT_NOFILE a little above what is open, then /dev/null until
 * EMFILE (the fds stay open). Controls: open, pipe and epoll_create1 fail with EMFILE. */
static inline bool fm_exhaust_fds(void)
{
    struct rlimit lim;
    if (!CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0))
        return false;
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!CHECK(probe >= 0))
        return false;
    lim.rlim_cur = (rlim_t)probe + 8;
    close(probe);
    if (!CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0))
        return false;
    int n = 0;
    while (n < 64 && open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
        n++;
    CONTROL(errno == EMFILE);
    int p[2];
    errno = 0;
    CONTROL(pipe(p) == -1 && errno == EMFILE);
    errno = 0;
    CONTROL(open("/dev/null", O_RDONLY) == -1 && errno == EMFILE);
    return true;
}

/* ---- address space and malloc ---- */

static inline long fm_vm_bytes(void)
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

static struct rlimit fm_old_as_;

/* RLIMIT_AS = the address space in use + headroom. Control: an mmap of more than the
 * headroom fails with ENOMEM. */
static inline bool fm_limit_as(long headroom)
{
    getrlimit(RLIMIT_AS, &fm_old_as_);
    long vm = fm_vm_bytes();
    if (!CHECK(vm > 0))
        return false;
    struct rlimit lim = { (rlim_t)vm + (rlim_t)headroom, fm_old_as_.rlim_max };
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
        FAIL("setrlimit(RLIMIT_AS): %s", strerror(errno));
        return false;
    }
    void *big = mmap(NULL, (size_t)headroom + (4 << 20), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CONTROL(big == MAP_FAILED && errno == ENOMEM);
    if (big != MAP_FAILED)
        munmap(big, (size_t)headroom + (4 << 20));
    return true;
}

static inline void fm_unlimit_as(void)
{
    if (setrlimit(RLIMIT_AS, &fm_old_as_) != 0)
        FAIL("setrlimit(RLIMIT_AS) back: %s", strerror(errno));
}

/* The hoard: a list threaded through the blocks themselves (it needs no memory). */
static void *fm_hoard_;

/* Under a tight RLIMIT_AS (fm_limit_as), allocate blocks of falling sizes until even
 * malloc(1) fails. mallopt(M_ARENA_MAX, 1) before any thread exists (fm_one_arena) puts
 * every thread on the main arena, so this empties it for all of them.
 * Controls: malloc(1) and malloc(64) return NULL afterwards. */
static inline void fm_one_arena(void)
{
    mallopt(M_ARENA_MAX, 1);
}

static inline void fm_hoard(void)
{
    for (size_t sz = (size_t)1 << 26; sz >= sizeof(void *); sz /= 2) {
        void *b;
        while ((b = malloc(sz)) != NULL) {
            *(void **)b = fm_hoard_;
            fm_hoard_ = b;
        }
    }
    void *a = malloc(1), *b = malloc(64);
    CONTROL(a == NULL);
    CONTROL(b == NULL);
    free(a);
    free(b);
}

static inline void fm_unhoard(void)
{
    while (fm_hoard_) {
        void *next = *(void **)fm_hoard_;
        free(fm_hoard_);
        fm_hoard_ = next;
    }
}

#endif /* MRT_FAULT_MATRIX_H */
