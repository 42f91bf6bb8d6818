/*
 * Asynchronous preemption (rt_go_ex with RT_G_ASYNC_PREEMPT): before it, a G that
 * computes without calling into libmrt kept its P for ever, so at GOMAXPROCS=1 two
 * spinning Gs hung (Go's TestPreemption) and no timer fired.
 *
 * - TestPreemption's shape: two async Gs that each spin, with no call at all, until
 *   the other hands them the turn, N rounds, at GOMAXPROCS=1; then both spin until a
 *   third G's 1 ms sleep has returned.
 * - Every register survives: an async G runs preempt_reg_loop (GPRs, ymm0-15, x87
 *   stack and control word, MXCSR, the direction flag and its red zone, checked on
 *   every iteration) until a ticker G on the same single P has run 20 times, which
 *   it can only do while the looping G is preempted; the ticker overwrites every
 *   caller-saved register each time it runs. Where the CPU has AVX-512, the same
 *   with zmm0-31 and k1-k7.
 * - The negative control: the same loop without the flag is never interrupted (the
 *   ticker does not run during it), although sysmon marks it (rt_checkpoint yields
 *   afterwards). The same with the flag but preempt_signal = -1, and with
 *   MRT_DEBUG=asyncpreemptoff.
 * - The same with one spinner wired to its M: it resumes on its own thread.
 * - preempt_signal = SIGUSR2 works, and a host handler for the signal that was there
 *   first still gets the deliveries that are not libmrt's (a kill of the process,
 *   a tgkill from another thread), while the runtime's own never reach it.
 * - Bad input: rt_go_ex's attr (size, flags, NULL fn), rt_config.preempt_signal;
 *   an old caller's shorter rt_config; rt_go_ex's name shown by rt_dump.
 *
 * No check depends on timing: the waits are for events (a turn, a tick count), bounded
 * by test_spawn's 20 s alarm, which names a hang. Under valgrind asynchronous
 * preemption is off (the library detects it): only the checks that do not need it run.
 */
#include "test.h"
#include "preempt_regs.h"

#include <cpuid.h>
#include <signal.h>

static rt_go_attr async_attr(const char *name)
{
    rt_go_attr a = { sizeof(rt_go_attr), RT_G_ASYNC_PREEMPT, name };
    return a;
}

static void init1(int sig)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1, .preempt_signal = sig };
    CHECK_RC(rt_init(&cfg), RT_OK);
}

/* ---- TestPreemption ---- */

#define ROUNDS 5
static atomic_uint turn;
static atomic_int sleeper_woke;
static rt_wg wg;

static bool wire_spinner0;
static atomic_int wired_moved;

static void spinner(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    bool wired = me == 0 && wire_spinner0;
    int64_t tid = test_gettid();
    if (wired)
        CHECK_RC(rt_lockosthread(), RT_OK);
    for (int i = 0; i < ROUNDS; i++) {
        while (atomic_load_explicit(&turn, memory_order_relaxed) != me)
            ;
        atomic_store(&turn, 1 - me);
    }
    while (!atomic_load_explicit(&sleeper_woke, memory_order_relaxed))
        ;
    if (wired) {
        /* Preempted several times, it always resumed on its own thread. */
        if (test_gettid() != tid)
            atomic_store(&wired_moved, 1);
        CHECK_RC(rt_unlockosthread(), RT_OK);
    }
    rt_wg_done(&wg);
}

static void sleeper(void *arg)
{
    (void)arg;
    CHECK_RC(rt_sleep(1000000), RT_OK);
    atomic_store(&sleeper_woke, 1);
    rt_wg_done(&wg);
}

static void preemption_main(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 3);
    for (unsigned g = 0; g < 2; g++) {
        rt_go_attr a = async_attr("spinner");
        CHECK(rt_go_ex(spinner, (void *)(uintptr_t)g, &a) > 0);
    }
    CHECK(rt_go(sleeper, NULL) > 0);
    rt_wg_wait(&wg);
    CHECK(atomic_load(&sleeper_woke));
}

static void test_preemption(void *arg)
{
    init1((int)(intptr_t)arg);
    CHECK_RC(rt_main(preemption_main, NULL), RT_OK);
}

/* The same with spinner 0 wired to its M (rt_lockosthread): a preempted wired G goes
 * back to its own M, as a G that yields at rt_checkpoint does. */
static void test_preemption_wired(void *arg)
{
    (void)arg;
    wire_spinner0 = true;
    init1(0);
    CHECK_RC(rt_main(preemption_main, NULL), RT_OK);
    CHECK_EQ(atomic_load(&wired_moved), 0);
}

/* ---- registers ---- */

#define TICKS 20
static volatile long ticks;
static atomic_int loop_done;
static uint8_t pattern[16 * 32];

static bool zmm_test;

static void ticker(void *arg)
{
    bool clobber = arg != NULL;
    while (!atomic_load(&loop_done)) {
        if (clobber)
            preempt_clobber();
        if (clobber && zmm_test)
            preempt_clobber512();
        ticks++;
        rt_sleep(100000);
    }
    rt_wg_done(&wg);
}

static long loop_rc, loop_iters;
static uint8_t zpattern[32 * 64];

static void reg_checker(void *arg)
{
    (void)arg;
    if (zmm_test) {
        loop_rc = preempt_zmm_loop(&ticks, TICKS, zpattern);
        loop_iters = 1;
    } else {
        loop_rc = preempt_reg_loop(&ticks, TICKS, pattern, &loop_iters);
    }
    atomic_store(&loop_done, 1);
    rt_wg_done(&wg);
}

static void regs_main(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 131 + 7);
    for (size_t i = 0; i < sizeof zpattern; i++)
        zpattern[i] = (uint8_t)(i * 37 + 11);
    rt_wg_add(&wg, 2);
    rt_go_attr a = async_attr("regs");
    CHECK(rt_go_ex(reg_checker, NULL, &a) > 0);
    CHECK(rt_go(ticker, (void *)1) > 0);
    rt_wg_wait(&wg);
    CHECK_EQ(loop_rc, 0);
    CHECK(ticks >= TICKS);
    CHECK(loop_iters > 0);
}

static void test_registers(void *arg)
{
    zmm_test = arg != NULL;
    init1(0);
    CHECK_RC(rt_main(regs_main, NULL), RT_OK);
}

/* ---- not interrupted: no flag, preempt_signal -1, MRT_DEBUG=asyncpreemptoff ---- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long ticks_during;

/* Spins, without a call into libmrt, for at least 60 ms (6 time slices) of wall
 * time and then until sysmon has marked it (rt_checkpoint yields): the ticker on the
 * same P must not run meanwhile. The duration only makes the check meaningful (a
 * signal, had one been sent, would have had time to preempt it); no check depends on
 * it. */
static void plain_spinner(void *arg)
{
    (void)arg;
    long t0 = ticks;
    int64_t start = now_ns();
    for (;;) {
        int64_t end = now_ns() + 5000000;
        while (now_ns() < end)
            ;
        ticks_during = ticks - t0;
        if (now_ns() - start >= 60000000 && rt_checkpoint() == 1)
            break;
    }
    atomic_store(&loop_done, 1);
    rt_wg_done(&wg);
}

static void not_interrupted_main(void *arg)
{
    bool with_flag = arg != NULL;
    rt_wg_add(&wg, 2);
    CHECK(rt_go(ticker, NULL) > 0);
    rt_gosched(); /* the ticker starts and sleeps */
    rt_go_attr a = async_attr("plain");
    CHECK(rt_go_ex(plain_spinner, NULL, with_flag ? &a : NULL) > 0);
    rt_wg_wait(&wg);
    /* sysmon did ask it to give up its P, but only the cooperative path honoured it. */
    CHECK_EQ(ticks_during, 0);
}

static void test_no_flag(void *arg)
{
    (void)arg;
    init1(0);
    CHECK_RC(rt_main(not_interrupted_main, NULL), RT_OK);
}

static void test_signal_off(void *arg)
{
    (void)arg;
    init1(-1);
    CHECK_RC(rt_main(not_interrupted_main, (void *)1), RT_OK);
}

static void test_debug_off(void *arg)
{
    (void)arg;
    setenv("MRT_DEBUG", "asyncpreemptoff", 1);
    init1(0);
    CHECK_RC(rt_main(not_interrupted_main, (void *)1), RT_OK);
}

static void test_valgrind_off(void *arg)
{
    (void)arg;
    init1(0);
    CHECK_RC(rt_main(not_interrupted_main, (void *)1), RT_OK);
}

/* ---- the host's handler is chained ---- */

static atomic_int host_calls, host_bad;

static void host_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (sig != SIGUSR2 || si->si_signo != SIGUSR2)
        atomic_fetch_add(&host_bad, 1);
    atomic_fetch_add(&host_calls, 1);
}

static void chain_main(void *arg)
{
    (void)arg;
    /* Preemption by SIGUSR2 works ... */
    preemption_main(NULL);
    /* ... and never reached the host's handler: */
    CHECK_EQ(atomic_load(&host_calls), 0);
    /* A signal that is not the runtime's does, from another process's view ... */
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    /* ... and sent to this very thread. */
    CHECK_EQ(syscall(SYS_tgkill, getpid(), test_gettid(), SIGUSR2), 0);
    while (atomic_load(&host_calls) < 2)
        rt_gosched();
    CHECK_EQ(atomic_load(&host_calls), 2);
    CHECK_EQ(atomic_load(&host_bad), 0);
}

static void test_chain(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = host_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR2, &sa, NULL), 0);
    init1(SIGUSR2);
    CHECK_RC(rt_main(chain_main, NULL), RT_OK);
}

/* ---- bad input, names ---- */

static void nop(void *arg) { (void)arg; }

static void test_bad_input(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    int bad[] = { -2, 65, 1000, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                  SIGTRAP, SIGABRT, SIGSYS, 32, 33, INT32_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.preempt_signal = bad[i];
        CHECK_RC(rt_init(&cfg), RT_EINVAL);
    }
    /* An older caller's rt_config ends before preempt_signal: SIGURG. */
    rt_config old;
    memset(&old, 0xff, sizeof old); /* whatever lies beyond its size is not read */
    old.size = (uint32_t)offsetof(rt_config, preempt_signal);
    old.maxprocs = 1;
    old.g0_stack_size = 0;
    old.g_stack_size = 0;
    old.flags = 0;
    CHECK_RC(rt_init(&old), RT_OK);

    rt_go_attr a = { 0, 0, NULL };
    CHECK_EQ(rt_go_ex(nop, NULL, &a), RT_EINVAL);
    a.size = 4;
    CHECK_EQ(rt_go_ex(nop, NULL, &a), RT_EINVAL);
    a.size = sizeof a;
    a.flags = 0x2;
    CHECK_EQ(rt_go_ex(nop, NULL, &a), RT_EINVAL);
    a.flags = RT_G_ASYNC_PREEMPT | 0x80000000u;
    CHECK_EQ(rt_go_ex(nop, NULL, &a), RT_EINVAL);
    a.flags = RT_G_ASYNC_PREEMPT;
    CHECK_EQ(rt_go_ex(NULL, NULL, &a), RT_EINVAL);
    CHECK(rt_go_ex(nop, NULL, NULL) > 0);
    CHECK(rt_go_ex(nop, NULL, &a) > 0);
    /* A size that covers flags but not name: the name is not read. */
    struct { uint32_t size, flags; } small = { 8, RT_G_ASYNC_PREEMPT };
    CHECK(rt_go_ex(nop, NULL, (const rt_go_attr *)&small) > 0);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static rt_wg name_wg = RT_WG_INIT;
static atomic_int name_release;

static void named(void *arg)
{
    (void)arg;
    rt_wg_done(&name_wg);
    while (!atomic_load(&name_release))
        rt_gosched();
}

static void test_names(void *arg)
{
    (void)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_wg_add(&name_wg, 2);
    rt_go_attr a = async_attr("worker-7");
    CHECK(rt_go_ex(named, NULL, &a) > 0);
    /* Longer than the 32 bytes kept, cut at a character boundary (é is 2 bytes). */
    rt_go_attr b = { sizeof b, 0, "0123456789012345678901234567890é-tail" };
    CHECK(rt_go_ex(named, NULL, &b) > 0);
    rt_wg_wait(&name_wg);
    char path[] = "/tmp/t_preempt_dump.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_RC(rt_dump(fd), RT_OK);
    atomic_store(&name_release, 1);
    static char buf[65536];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    CHECK(strstr(buf, "async-preempt name=\"worker-7\"") != NULL);
    CHECK(strstr(buf, "name=\"0123456789012345678901234567890\"") != NULL);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static bool have_avx(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    return (c & bit_AVX) && (c & bit_OSXSAVE);
}

/* AVX-512F enabled by the OS (XCR0: opmask, ZMM_Hi256, Hi16_ZMM). */
static bool have_avx512(void)
{
    unsigned a, b, c, d;
    if (!have_avx() || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F))
        return false;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe0) == 0xe0;
}

static void run(const char *name, void (*fn)(void *), void *arg)
{
    int st = test_spawn(fn, arg, NULL, 0);
    if (!CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "subtest %s: status %#x\n", name, st);
}

int main(void)
{
    run("bad_input", test_bad_input, NULL);
    run("names", test_names, NULL);
    run("no_flag", test_no_flag, NULL);
    run("signal_off", test_signal_off, NULL);
    run("debug_off", test_debug_off, NULL);
    if (test_under_valgrind()) {
        /* Detected and off: an async G is preempted only at calls (and runs right). */
        run("valgrind_off", test_valgrind_off, NULL);
        return test_summary();
    }
    run("preemption", test_preemption, (void *)0);
    run("preemption_sigusr2", test_preemption, (void *)(intptr_t)SIGUSR2);
    run("preemption_wired", test_preemption_wired, NULL);
    run("chain", test_chain, NULL);
    if (have_avx())
        run("registers", test_registers, NULL);
    else
        fprintf(stderr, "t_preempt_async: no AVX, register test skipped\n");
    if (have_avx512())
        run("registers_avx512", test_registers, (void *)1);
    return test_summary();
}
