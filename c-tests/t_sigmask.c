/*
 * The signal mask of an M: the mask the initialising thread had when the runtime
 * started (Go's initSigmask), except SIGSEGV/SIGBUS/SIGFPE/SIGILL, which are always
 * unblocked on Ms; later changes of the caller's mask do not matter; rt_newm restores
 * the caller's mask after the create; an M has an alternate signal stack. Ms created
 * by Ms, and the Ms of a second runtime (new init-time mask), too.
 */
#include "test.h"

#include <signal.h>

static sigset_t seen_mask;
static unsigned long long seen_sigblk; /* the kernel's view: SigBlk of the M's thread */
static stack_t seen_altstack;
static int seen_altstack_rc;

/* SigBlk from /proc/thread-self/status: bit n-1 is signal n. Unlike sigismember,
   this shows glibc's internal signals 32 (SIGCANCEL) and 33 (SIGSETXID) too. */
static unsigned long long thread_sigblk(void)
{
    unsigned long long v = ~0ull;
    FILE *f = fopen("/proc/thread-self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}
static test_latch started = TEST_LATCH_INIT;

static void record_mask(void *arg)
{
    (void)arg;
    pthread_sigmask(SIG_BLOCK, NULL, &seen_mask);
    seen_sigblk = thread_sigblk();
    seen_altstack_rc = sigaltstack(NULL, &seen_altstack);
    test_latch_post(&started);
}

static void spawn_from_m(void *arg)
{
    (void)arg;
    /* Change this M's own mask; the child M must still get the init-time mask. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    CHECK_RC(rt_newm(record_mask, NULL, NULL, NULL), RT_OK);
}

static bool is_fault(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

/* The M's mask equals `want` except that the fault signals are unblocked. */
static void check_m_mask(const sigset_t *want, const char *what)
{
    for (int sig = 1; sig < SIGRTMAX; sig++) {
        int got = sigismember(&seen_mask, sig);
        int exp = is_fault(sig) ? 0 : sigismember(want, sig);
        if (got != exp)
            FAIL("%s: signal %d (%s) is %s on the M, want %s", what, sig, strsignal(sig),
                 got ? "blocked" : "unblocked", exp ? "blocked" : "unblocked");
        else
            CHECK(true);
    }
    /* glibc's SIGCANCEL / SIGSETXID must stay deliverable (setuid in a threaded
       process signals every thread and waits for each). */
    if (!CHECK((seen_sigblk & (3ull << 31)) == 0))
        fprintf(stderr, "  %s: SigBlk %016llx blocks signal 32 or 33\n", what, seen_sigblk);
    CHECK_RC(seen_altstack_rc, 0);
    CHECK(!(seen_altstack.ss_flags & SS_DISABLE));
    CHECK(seen_altstack.ss_size >= (size_t)MINSIGSTKSZ);
}

int main(void)
{
    /* The init-time mask: a mix, fault signals included (they must be unblocked). */
    sigset_t init_mask, cur;
    sigemptyset(&init_mask);
    int blocked[] = { SIGUSR1, SIGUSR2, SIGTERM, SIGHUP, SIGCHLD, SIGRTMIN + 1,
                      SIGSEGV, SIGBUS, SIGFPE,  SIGILL };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        sigaddset(&init_mask, blocked[i]);
    pthread_sigmask(SIG_SETMASK, &init_mask, NULL);
    sigset_t init_effective;
    pthread_sigmask(SIG_BLOCK, NULL, &init_effective);

    CHECK_RC(rt_init(NULL), RT_OK);

    /* The caller's mask is its own business afterwards. */
    sigset_t later;
    sigemptyset(&later);
    sigaddset(&later, SIGINT);
    sigaddset(&later, SIGALRM);
    pthread_sigmask(SIG_SETMASK, &later, NULL);

    CHECK_RC(rt_newm(record_mask, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 1);
    check_m_mask(&init_effective, "M from main");
    /* rt_newm blocked every signal around the create and restored the caller's mask. */
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    for (int sig = 1; sig < SIGRTMAX; sig++)
        if (sigismember(&cur, sig) != sigismember(&later, sig))
            FAIL("caller's mask changed for signal %d", sig);

    /* An M created by an M whose own mask changed. */
    CHECK_RC(rt_newm(spawn_from_m, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 2);
    check_m_mask(&init_effective, "M from an M");

    /* An M launched via rt_allocm + rt_m_launch with a P. */
    rt_m *m = NULL;
    CHECK_RC(rt_allocm(NULL, record_mask, NULL, &m), RT_OK);
    CHECK_RC(rt_m_launch(m, rt_p_get(0)), RT_OK);
    test_latch_wait(&started, 3);
    check_m_mask(&init_effective, "M from rt_m_launch");
    CHECK_RC(rt_shutdown(-1), RT_OK);

    /* A second runtime takes the mask of its own initialisation. */
    CHECK_RC(rt_init(NULL), RT_OK);
    pthread_sigmask(SIG_SETMASK, &init_mask, NULL); /* after init: irrelevant */
    CHECK_RC(rt_newm(record_mask, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 4);
    check_m_mask(&later, "M of the second runtime");
    CHECK_RC(rt_shutdown(-1), RT_OK);

    return test_summary();
}
