/*
 * Faults that are not stack overflows go to the handler the host had installed before
 * libmrt, as if libmrt were not loaded: on the main thread, on an adopted thread and on
 * a runtime-created M; SA_SIGINFO (with the right si_addr) and plain handlers; SIGSEGV
 * and SIGBUS. With no host handler the process dies of SIGSEGV as usual (and libmrt
 * does not report a stack overflow). Each case runs in a child process.
 */
#include "test.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

static _Thread_local sigjmp_buf *jump_back;
static volatile sig_atomic_t handled_sig;
static void *volatile handled_addr;
static volatile sig_atomic_t plain_calls;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    handled_sig = sig;
    handled_addr = si->si_addr;
    if (jump_back)
        siglongjmp(*jump_back, 1);
    _exit(40);
}

static void plain_handler(int sig)
{
    handled_sig = sig;
    plain_calls++;
    if (jump_back)
        siglongjmp(*jump_back, 1);
    _exit(41);
}

static char *noaccess; /* a PROT_NONE page of the host's own */
static char *beyond_eof; /* a mapped page past the end of its file: SIGBUS */

/* Touch `addr`; returns true if the host handler caught the fault with signal `sig`. */
static bool fault_caught(char *addr, int sig)
{
    sigjmp_buf env;
    handled_sig = 0;
    handled_addr = NULL;
    if (sigsetjmp(env, 1) == 0) {
        jump_back = &env;
        *(volatile char *)addr = 1;
        jump_back = NULL;
        FAIL("no fault at %p", (void *)addr);
        return false;
    }
    jump_back = NULL;
    return CHECK_EQ(handled_sig, sig);
}

struct fault_case {
    bool siginfo;
};

static test_latch done = TEST_LATCH_INIT;

static void fault_on_m(void *arg)
{
    const struct fault_case *fc = arg;
    CHECK(rt_getm() != NULL);
    if (fault_caught(noaccess, SIGSEGV) && fc->siginfo)
        CHECK_PTR_EQ(handled_addr, noaccess);
    if (fault_caught(beyond_eof, SIGBUS) && fc->siginfo)
        CHECK_PTR_EQ(handled_addr, beyond_eof);
    test_latch_post(&done);
}

static void *fault_on_adopted(void *arg)
{
    const struct fault_case *fc = arg;
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_OK);
    if (fault_caught(noaccess, SIGSEGV) && fc->siginfo)
        CHECK_PTR_EQ(handled_addr, noaccess);
    CHECK_PTR_EQ(rt_releasep(), rt_p_get(0));
    CHECK_RC(rt_p_put(rt_p_get(0)), RT_OK);
    return NULL;
}

static void map_fault_pages(void)
{
    long page = sysconf(_SC_PAGESIZE);
    noaccess = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(noaccess != MAP_FAILED);
    FILE *f = tmpfile();
    if (!CHECK(f != NULL))
        return;
    if (ftruncate(fileno(f), page) != 0)
        FAIL("ftruncate");
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(f), 0);
    CHECK(map != MAP_FAILED);
    beyond_eof = map + page;
    fclose(f);
}

static void with_host_handler(void *arg)
{
    struct fault_case *fc = arg;
    map_fault_pages();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (fc->siginfo) {
        sa.sa_sigaction = info_handler;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = plain_handler;
    }
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    /* Start the runtime and some Ms, so libmrt's own fault handler is in place. */
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_newm(fault_on_m, fc, NULL, NULL), RT_OK);
    test_latch_wait(&done, 1);

    /* Main thread, a foreign thread adopted as an M, then main again as an M. */
    if (fault_caught(noaccess, SIGSEGV) && fc->siginfo)
        CHECK_PTR_EQ(handled_addr, noaccess);
    if (fault_caught(beyond_eof, SIGBUS) && fc->siginfo)
        CHECK_PTR_EQ(handled_addr, beyond_eof);
    pthread_t th;
    pthread_create(&th, NULL, fault_on_adopted, fc);
    pthread_join(th, NULL);
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_OK);
    if (fault_caught(noaccess, SIGSEGV) && fc->siginfo)
        CHECK_PTR_EQ(handled_addr, noaccess);
    CHECK_PTR_EQ(rt_releasep(), rt_p_get(0));
    CHECK_RC(rt_p_put(rt_p_get(0)), RT_OK);
    if (!fc->siginfo)
        CHECK_EQ(plain_calls, 6);

    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void no_host_handler(void *arg)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    (void)arg;
    map_fault_pages();
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_newm(NULL, NULL, NULL, NULL), RT_OK);
    CHECK_RC(rt_acquirep(rt_p_get(0)), RT_OK);
    *(volatile char *)noaccess = 1; /* dies here */
    _exit(3);
}

int main(void)
{
    struct fault_case with_info = { true }, plain = { false };
    CHECK_CHILD_OK(test_spawn(with_host_handler, &with_info, NULL, 0));
    CHECK_CHILD_OK(test_spawn(with_host_handler, &plain, NULL, 0));

    char err[4096];
    int status = test_spawn(no_host_handler, NULL, err, sizeof err);
    if (!CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV))
        fprintf(stderr, "  no host handler: status 0x%x, stderr: %s\n", status, err);
    CHECK(strstr(err, "stack overflow") == NULL);
    return test_summary();
}
