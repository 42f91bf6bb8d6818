/*
 * rt_gosched's fast path (sched::gosched_fast: a user G yields straight to the next G
 * of its P, marking itself inside libmrt on its own, without the FFI boundary):
 *
 * - The mark is undone: an RT_G_ASYNC_PREEMPT G that has yielded many times through
 *   the fast path, then spins without any call, is still preempted by signal, so the
 *   other G on the single P runs and ends the spin. (A count left raised by the fast
 *   path would make every preemption signal decline: the spinner would keep the P and
 *   the child would die of test_spawn's alarm.) Under valgrind asynchronous
 *   preemption is off: only the yields run there.
 * - The floating-point control state is each G's own across a switch: Gs with each
 *   combination of MXCSR (default or rounding toward zero) and x87 control word
 *   (default or 53-bit precision), and one G that changes its combination every 64
 *   yields, yield to each other many times and each finds its own state after every
 *   yield; on one P (direct G-to-G switches) and on two with MRT_DEBUG=migrate
 *   (through g0, the Gs moving between Ms). Not under valgrind, which does not
 *   model a changed MXCSR.
 * - A G that yields while rt_gosched's general path is forced (MRT_DEBUG=migrate)
 *   and while another G runs its fast path: both make progress (the two paths meet).
 *
 * No check depends on timing: every wait is for an event, bounded by a number of
 * yields or by test_spawn's alarm.
 */
#include "test.h"
#include "fp_state.h"

#define YIELDS 20000L
#define MAX_YIELDS 5000000L

static void init1(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
}

/* ---- the in-runtime mark is balanced ---- */

static atomic_int spinning, released;
static rt_wg wg;

static void async_yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < YIELDS; i++)
        rt_gosched();
    atomic_store(&spinning, 1);
    /* No call at all: only the preemption signal lets the other G run. */
    while (!atomic_load_explicit(&released, memory_order_relaxed))
        ;
    rt_wg_done(&wg);
}

static void releaser(void *arg)
{
    (void)arg;
    long n = 0;
    while (!atomic_load(&spinning) && n < MAX_YIELDS) {
        rt_gosched();
        n++;
    }
    CHECK(atomic_load(&spinning));
    atomic_store(&released, 1);
    rt_wg_done(&wg);
}

static void main_mark(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 2);
    rt_go_attr a = { sizeof(rt_go_attr), RT_G_ASYNC_PREEMPT, "async_yielder" };
    CHECK(rt_go_ex(async_yielder, NULL, &a) > 0);
    CHECK(rt_go(releaser, NULL) > 0);
    rt_wg_wait(&wg);
}

static void test_mark(void *arg)
{
    (void)arg;
    init1();
    CHECK_RC(rt_main(main_mark, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void async_yields_only(void *arg)
{
    (void)arg;
    for (long i = 0; i < YIELDS; i++)
        rt_gosched();
    rt_wg_done(&wg);
}

static void main_mark_valgrind(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 2);
    rt_go_attr a = { sizeof(rt_go_attr), RT_G_ASYNC_PREEMPT, "async_yielder" };
    CHECK(rt_go_ex(async_yields_only, NULL, &a) > 0);
    CHECK(rt_go(async_yields_only, NULL) > 0);
    rt_wg_wait(&wg);
}

static void test_mark_valgrind(void *arg)
{
    (void)arg;
    init1();
    CHECK_RC(rt_main(main_mark_valgrind, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- the floating-point control state ---- */

static atomic_long fp_bad, fp_checks;

/* The four combinations of the two control registers, and a G that moves through
 * them: every one resumes with its own state whichever state the G before it left
 * (the switch reloads MXCSR and the x87 control word separately, so each register
 * differing alone must be covered). */
static const uint32_t fp_mx[4] = { MXCSR_DEFAULT, MXCSR_RZ, MXCSR_RZ, MXCSR_DEFAULT };
static const uint16_t fp_cw[4] = { X87CW_DEFAULT, X87CW_53BIT, X87CW_DEFAULT, X87CW_53BIT };
#define FP_CHANGER 4 /* switches to the next combination every 64 yields */
#define FP_GS 5

static void fp_g(void *arg)
{
    int kind = (int)(intptr_t)arg;
    int mode = kind == FP_CHANGER ? 0 : kind;
    set_mxcsr(fp_mx[mode]);
    set_x87cw(fp_cw[mode]);
    for (long i = 0; i < YIELDS; i++) {
        if (kind == FP_CHANGER && i % 64 == 0) {
            mode = (int)(i / 64) % 4;
            set_mxcsr(fp_mx[mode]);
            set_x87cw(fp_cw[mode]);
        }
        rt_gosched();
        /* Only the control bits matter; the sticky exception flags may differ. */
        if ((get_mxcsr() & ~0x3fu) != fp_mx[mode] || get_x87cw() != fp_cw[mode])
            atomic_fetch_add(&fp_bad, 1);
        atomic_fetch_add_explicit(&fp_checks, 1, memory_order_relaxed);
    }
    set_mxcsr(MXCSR_DEFAULT);
    set_x87cw(X87CW_DEFAULT);
    rt_wg_done(&wg);
}

static void main_fp(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, FP_GS);
    for (int k = 0; k < FP_GS; k++)
        CHECK(rt_go(fp_g, (void *)(intptr_t)k) > 0);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&fp_checks), FP_GS * YIELDS);
    CHECK_EQ(atomic_load(&fp_bad), 0);
}

/* One P (every yield a direct G-to-G switch), or two with MRT_DEBUG=migrate (every
 * yield through g0 and the global queue: the Gs resume on either M). */
static void test_fp(void *arg)
{
    const char *debug = arg;
    if (debug)
        setenv("MRT_DEBUG", debug, 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = debug ? 2 : 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_fp, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- the general path (MRT_DEBUG=migrate) beside a ring of yielders ---- */

#define RING 4
static atomic_long turn;

static void ring_g(void *arg)
{
    long me = (long)(intptr_t)arg;
    for (long r = 0; r < 200; r++) {
        long want = r * RING + me, n = 0;
        while (atomic_load(&turn) != want && n < MAX_YIELDS) {
            rt_gosched();
            n++;
        }
        if (!CHECK_EQ(atomic_load(&turn), want))
            break;
        atomic_store(&turn, want + 1);
    }
    rt_wg_done(&wg);
}

static void main_ring(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, RING);
    for (long i = 0; i < RING; i++)
        CHECK(rt_go(ring_g, (void *)(intptr_t)i) > 0);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&turn), 200 * RING);
}

static void test_ring(void *arg)
{
    const char *debug = arg;
    if (debug)
        setenv("MRT_DEBUG", debug, 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_ring, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

static void run(const char *name, void (*fn)(void *), void *arg)
{
    int st = test_spawn(fn, arg, NULL, 0);
    if (!CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "subtest %s: status %#x\n", name, st);
}

int main(void)
{
    if (test_under_valgrind())
        run("mark_valgrind", test_mark_valgrind, NULL);
    else
        run("mark", test_mark, NULL);
    /* Valgrind does not model a changed MXCSR rounding mode (stmxcsr reads back
     * the default): the check is for the real CPU only. */
    if (!test_under_valgrind()) {
        run("fp", test_fp, NULL);
        run("fp_migrate", test_fp, "migrate");
    }
    run("ring", test_ring, NULL);
    run("ring_migrate", test_ring, "migrate");
    return test_summary();
}
