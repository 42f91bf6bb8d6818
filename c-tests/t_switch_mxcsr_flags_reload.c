/*
 * The bug: mrt_swap reloaded the resumed G's whole MXCSR on every switch, status flags
 * included. A G that had done any floating-point arithmetic (the sticky inexact flag
 * set, MXCSR 0x1fa0) yielding to and from a G that had not (0x1f80) made every switch
 * an ldmxcsr that changes the flags, and the next switch's stmxcsr then cost ~75 ns on
 * Intel (Emerald Rapids VM: gosched_switch went from 13 ns a switch in its first round
 * to 25-47 ns in the rounds after its main G printed a double). The switch now loads
 * the resumed side's MXCSR only when its control bits (rounding, DAZ, FTZ, masks)
 * differ from the current ones; the six status flags are caller-saved in the C
 * convention and stay the thread's.
 *
 * What is checked (no timing; each wait is bounded by a count of yields):
 * - direct (one P, every yield a G-to-G switch, MRT_DEBUG unset): two Gs with the
 *   same control bits but different flags yield to each other; after each yield a G
 *   finds the flags the other one left, i.e. the switch did not load MXCSR. (Before
 *   the fix each G found its own saved flags every time: the check failed on the
 *   first yield.) The x87 control word and the control bits stay each G's own.
 * - control (one P, and two with MRT_DEBUG=migrate): Gs whose control bits differ
 *   (rounding toward zero with the flags set, the default with them clear) each find
 *   their own control bits after every yield: the load still happens when needed.
 * - start: rt_main's G, and Gs started by a G, start with the default control state
 *   (MXCSR 0x1f80, x87 control word 0x037f) whatever their creator's (rounding toward
 *   zero, 53-bit precision), which the creator keeps; one P and two.
 * The flag check needs a real CPU: valgrind's stmxcsr reads back the default value
 * (it does not model the flags), so under valgrind only the control checks run (and
 * not the start checks: valgrind does not model a changed x87 precision either).
 */
#include "test.h"
#include "fp_state.h"

#define YIELDS 20000L
#define MXCSR_FLAGS 0x3fu
#define MXCSR_PE 0x20u /* the inexact (precision) flag */

static rt_wg wg;
static atomic_long bad_flags, bad_control, checks;
static bool check_flags;

/* ---- direct: the flags are the thread's ---- */

/* Each G sets the flags to its own pattern before yielding and, once resumed, expects
 * the pattern of the G that ran in between (the other one; one P, so nothing else
 * runs on this thread meanwhile). */
static void flags_g(void *arg)
{
    uint32_t mine = (uint32_t)(uintptr_t)arg;
    uint32_t theirs = mine == MXCSR_PE ? 0x1u : MXCSR_PE; /* the other G's pattern */
    for (long i = 0; i < YIELDS; i++) {
        set_mxcsr(MXCSR_DEFAULT | mine);
        rt_gosched();
        uint32_t v = get_mxcsr();
        if ((v & ~MXCSR_FLAGS) != MXCSR_DEFAULT || get_x87cw() != X87CW_DEFAULT)
            atomic_fetch_add(&bad_control, 1);
        else if (check_flags && (v & MXCSR_FLAGS) != theirs && i + 1 < YIELDS)
            atomic_fetch_add(&bad_flags, 1);
        atomic_fetch_add_explicit(&checks, 1, memory_order_relaxed);
    }
    set_mxcsr(MXCSR_DEFAULT);
    rt_wg_done(&wg);
}

static void main_flags(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, 2);
    CHECK(rt_go(flags_g, (void *)(uintptr_t)MXCSR_PE) > 0);
    CHECK(rt_go(flags_g, (void *)(uintptr_t)0x1u) > 0); /* invalid-operation flag */
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&checks), 2 * YIELDS);
    CHECK_EQ(atomic_load(&bad_control), 0);
    CHECK_EQ(atomic_load(&bad_flags), 0);
}

static void test_direct(void *arg)
{
    (void)arg;
    /* Direct switches only: under MRT_DEBUG=migrate a G resumes on another thread,
     * whose flags are its own. */
    unsetenv("MRT_DEBUG");
    check_flags = !test_under_valgrind();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_flags, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- control: different control bits are still loaded ---- */

#define CONTROL_GS 4

static void control_g(void *arg)
{
    /* Odd Gs round toward zero with every flag set; even ones use the default
     * control bits with the flags clear. */
    uint32_t want = ((uintptr_t)arg & 1) ? MXCSR_RZ | MXCSR_FLAGS : MXCSR_DEFAULT;
    set_mxcsr(want);
    for (long i = 0; i < YIELDS; i++) {
        rt_gosched();
        /* Valgrind does not model a changed rounding mode either. */
        if (check_flags && (get_mxcsr() & ~MXCSR_FLAGS) != (want & ~MXCSR_FLAGS))
            atomic_fetch_add(&bad_control, 1);
        atomic_fetch_add_explicit(&checks, 1, memory_order_relaxed);
    }
    set_mxcsr(MXCSR_DEFAULT);
    rt_wg_done(&wg);
}

static void main_control(void *arg)
{
    (void)arg;
    rt_wg_add(&wg, CONTROL_GS);
    for (uintptr_t k = 0; k < CONTROL_GS; k++)
        CHECK(rt_go(control_g, (void *)k) > 0);
    rt_wg_wait(&wg);
    CHECK_EQ(atomic_load(&checks), CONTROL_GS * YIELDS);
    CHECK_EQ(atomic_load(&bad_control), 0);
}

static void test_control(void *arg)
{
    const char *debug = arg;
    if (debug)
        setenv("MRT_DEBUG", debug, 1);
    check_flags = !test_under_valgrind();
    rt_config cfg = { .size = sizeof cfg, .maxprocs = debug ? 2 : 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_control, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- start: a G starts with the default control state (docs/api.md, "G") ---- */

static atomic_int started_default;

static void fresh_g(void *arg)
{
    (void)arg;
    if ((get_mxcsr() & ~MXCSR_FLAGS) == MXCSR_DEFAULT && get_x87cw() == X87CW_DEFAULT)
        atomic_fetch_add(&started_default, 1);
    rt_wg_done(&wg);
}

/* rt_main's G (its host thread rounds toward zero with 53-bit x87 precision), then a
 * G started by a G in that state, on one P (started by the direct path) and on two. */
static void main_start(void *arg)
{
    (void)arg;
    fresh_g(NULL);
    rt_wg_wait(&wg);
    set_mxcsr(MXCSR_RZ | MXCSR_FLAGS);
    set_x87cw(X87CW_53BIT);
    rt_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        CHECK(rt_go(fresh_g, NULL) > 0);
    rt_wg_wait(&wg);
    /* And its own state stayed. */
    CHECK_EQ(get_mxcsr() & ~MXCSR_FLAGS, MXCSR_RZ);
    CHECK_EQ(get_x87cw(), X87CW_53BIT);
    set_mxcsr(MXCSR_DEFAULT);
    set_x87cw(X87CW_DEFAULT);
    CHECK_EQ(atomic_load(&started_default), 9);
}

static void test_start(void *arg)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = arg ? 2 : 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_wg_add(&wg, 1);
    set_mxcsr(MXCSR_RZ);
    set_x87cw(X87CW_53BIT);
    CHECK_RC(rt_main(main_start, NULL), RT_OK);
    set_mxcsr(MXCSR_DEFAULT);
    set_x87cw(X87CW_DEFAULT);
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
    run("direct", test_direct, NULL);
    run("control", test_control, NULL);
    run("control_migrate", test_control, "migrate");
    /* Valgrind does not model a changed rounding mode or x87 precision. */
    if (!test_under_valgrind()) {
        run("start", test_start, NULL);
        run("start_2p", test_start, "2p");
    }
    return test_summary();
}
