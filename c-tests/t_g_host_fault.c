/*
 * A fault in a G that is not a stack overflow goes to the handler the host installed
 * before libmrt, as if libmrt were not loaded: SIGSEGV on a PROT_NONE page of the
 * host's (SA_SIGINFO, with the right si_addr), SIGBUS past the end of a mapped file,
 * a NULL read; the handler siglongjmps back into the G, which goes on (yields,
 * finishes; the runtime keeps working). Gs on runtime Ms and rt_main's G on the host
 * thread. Without a host handler, a G's fault kills the process with SIGSEGV, and
 * libmrt reports no stack overflow. Each case runs in a child process.
 * (Not run under valgrind: see t_host_sigsegv in run.sh.)
 */
#include "test.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

/* Per thread: Gs fault at the same time on two Ms. A G reads them right after the
 * fault, before any call that could move it to another thread. */
static _Thread_local sigjmp_buf *jump_back;
static _Thread_local volatile sig_atomic_t handled_sig;
static _Thread_local void *volatile handled_addr;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    handled_sig = sig;
    handled_addr = si->si_addr;
    if (jump_back)
        siglongjmp(*jump_back, 1);
    _exit(40);
}

static char *noaccess;
static char *beyond_eof;

/* Touch addr in the current G; true if the host handler caught signal `sig` there.
 * (No switch between the sigsetjmp and the fault: the thread-local is safe here.) */
static bool fault_caught(char *addr, int sig, bool write_access, void **addr_out)
{
    sigjmp_buf env;
    handled_sig = 0;
    handled_addr = NULL;
    if (sigsetjmp(env, 1) == 0) {
        jump_back = &env;
        if (write_access)
            *(volatile char *)addr = 1;
        else
            (void)*(volatile char *)addr;
        jump_back = NULL;
        FAIL("no fault at %p", (void *)addr);
        return false;
    }
    jump_back = NULL;
    *addr_out = handled_addr;
    return CHECK_EQ(handled_sig, sig);
}

static rt_wg wg = RT_WG_INIT;
static atomic_int finished;

static void faulting_g(void *arg)
{
    (void)arg;
    int64_t id = rt_goid();
    for (int round = 0; round < 3; round++) {
        void *at = NULL;
        if (fault_caught(noaccess, SIGSEGV, true, &at))
            CHECK_PTR_EQ(at, noaccess);
        rt_gosched();
        if (fault_caught(beyond_eof, SIGBUS, false, &at))
            CHECK_PTR_EQ(at, beyond_eof);
        rt_gosched();
        at = (void *)1;
        if (fault_caught(NULL, SIGSEGV, false, &at))
            CHECK_PTR_EQ(at, NULL);
        rt_gosched();
        CHECK_EQ(rt_goid(), id); /* still the same G */
    }
    atomic_fetch_add(&finished, 1);
    rt_wg_done(&wg);
}

static int64_t main_tid;

static void main_g(void *arg)
{
    (void)arg;
    CHECK_EQ(test_gettid(), main_tid);
    rt_wg_add(&wg, 1);
    faulting_g(NULL);
}

static void setup_pages(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    noaccess = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char path[] = "/tmp/mrt-t_g_host_fault-XXXXXX";
    int fd = mkstemp(path);
    if (noaccess == MAP_FAILED || fd < 0) {
        FAIL("setup: %s", strerror(errno));
        _exit(3);
    }
    unlink(path);
    if (ftruncate(fd, 1) != 0)
        _exit(3);
    char *m = mmap(NULL, 2 * (size_t)pg, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        _exit(3);
    beyond_eof = m + pg; /* the second page lies wholly past EOF: SIGBUS */
}

static void with_host_handler(void *arg)
{
    (void)arg;
    setup_pages();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    main_tid = test_gettid();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_wg_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        CHECK(rt_go(faulting_g, NULL) > 0);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&finished), 4);
    /* rt_main's G on this (host) thread, 1 P so that it runs here */
    CHECK_EQ(rt_gomaxprocs(1), 2);
    CHECK(test_wait_all_idle());
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_EQ(atomic_load(&finished), 5);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void null_read(void *arg)
{
    (void)arg;
    (void)*(volatile char *)NULL;
}

static void without_host_handler(void *arg)
{
    (void)arg;
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    CHECK_RC(rt_init(NULL), RT_OK);
    rt_go(null_read, NULL);
    for (;;)
        pause();
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(with_host_handler, NULL, NULL, 0));

    char err[4096];
    int status = test_spawn(without_host_handler, NULL, err, sizeof err);
    if (!CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV))
        fprintf(stderr, "  child status 0x%x, stderr: %s\n", status, err);
    CHECK(strstr(err, "stack overflow") == NULL);
    return test_summary();
}
