/*
 * Regression test: rt_main returns RT_OK when its G returned, also while another
 * thread's rt_shutdown waits for that G.
 *
 * A G's exit was counted (the count rt_shutdown waits on) before its rt_main's M was
 * told that the G was done. When the G ended on another M, rt_shutdown could see no
 * G left and start stopping the Ms in between: rt_main's M saw the shutdown first
 * and rt_main returned RT_ESHUTDOWN ("shut down before the G returned") for a G that
 * had returned, and that rt_shutdown had waited for.
 *
 * Each round: rt_init with 2 Ps and MRT_DEBUG=migrate (every yield moves the G to
 * another M); a host thread runs rt_main(f), f yields a few times; the main thread
 * calls rt_shutdown(-1) as soon as f has begun. Checked: f ran to its end and
 * rt_main returned RT_OK, every round.
 */
#include "test.h"

#define ROUNDS_NATIVE 400
#define ROUNDS_VALGRIND 30

static atomic_int began, ended;
static _Atomic int main_rc;

static void f(void *arg)
{
    (void)arg;
    atomic_store(&began, 1);
    for (int i = 0; i < 4; i++)
        rt_gosched();
    atomic_store(&ended, 1);
}

static void *host(void *arg)
{
    (void)arg;
    atomic_store(&main_rc, rt_main(f, NULL));
    return NULL;
}

int main(void)
{
    setenv("MRT_DEBUG", "migrate", 1);
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    int wrong = 0;
    for (int r = 0; r < rounds; r++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&began, 0);
        atomic_store(&ended, 0);
        atomic_store(&main_rc, 1);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, host, NULL), 0);
        while (!atomic_load(&began) && atomic_load(&main_rc) == 1)
            test_relax();
        int rc = rt_shutdown(-1);
        pthread_join(t, NULL);
        if (!CHECK_RC(rc, RT_OK))
            break;
        CHECK_EQ(atomic_load(&ended), 1);
        if (atomic_load(&main_rc) != RT_OK && wrong++ == 0)
            fprintf(stderr, "round %d: rt_main gave %s though its G returned\n", r,
                    rt_err_name(atomic_load(&main_rc)));
    }
    CHECK_EQ(wrong, 0);
    return test_summary();
}
