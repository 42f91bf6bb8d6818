/*
 * rt_gomaxprocs shrinking while Gs run: a P beyond the new count may finish the G it
 * is running ("shrink lazily as surplus Ps are released"), but once that G is done
 * its M gives the P up; Gs created after rt_gomaxprocs returned run only on the
 * remaining Ps (as in Go, where nothing runs on a surplus P after GOMAXPROCS
 * returns).
 */
#include "test.h"

#define BOUND 5000000L

static atomic_int release_spinners, spinning;
static rt_wg spin_wg = RT_WG_INIT, late_wg = RT_WG_INIT;

static void spin_until_released(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spinning, 1);
    for (long n = 0; !atomic_load(&release_spinners) && n < BOUND; n++)
        test_relax();
    rt_wg_done(&spin_wg);
}

#define LATE 200
static atomic_int late_on_surplus;
static _Atomic int late_max_p;

static void late(void *arg)
{
    (void)arg;
    int id = rt_p_id(rt_getp());
    if (id >= 1)
        atomic_fetch_add(&late_on_surplus, 1);
    int m = atomic_load(&late_max_p);
    while (id > m && !atomic_compare_exchange_weak(&late_max_p, &m, id))
        ;
    /* keep the Ms busy for a moment, so that the surplus P's M finds work */
    for (int i = 0; i < 100; i++)
        test_relax();
    rt_wg_done(&late_wg);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);

    for (int round = 0; round < 5; round++) {
        CHECK_EQ(rt_gomaxprocs(2), round == 0 ? 2 : 1);
        atomic_store(&release_spinners, 0);
        atomic_store(&spinning, 0);
        atomic_store(&late_on_surplus, 0);
        atomic_store(&late_max_p, 0);
        /* Both Ps busy ... */
        rt_wg_add(&spin_wg, 2);
        CHECK(rt_go(spin_until_released, NULL) > 0);
        CHECK(rt_go(spin_until_released, NULL) > 0);
        for (long n = 0; atomic_load(&spinning) < 2 && n < BOUND; n++)
            test_relax();
        CHECK_EQ(atomic_load(&spinning), 2);
        /* ... shrink to 1 while they run, then let them finish. */
        CHECK_EQ(rt_gomaxprocs(1), 2);
        rt_wg_add(&late_wg, LATE);
        for (int i = 0; i < LATE; i++)
            CHECK(rt_go(late, NULL) > 0);
        atomic_store(&release_spinners, 1);
        rt_wg_wait(&spin_wg);
        rt_wg_wait(&late_wg);
        if (!CHECK_EQ(atomic_load(&late_on_surplus), 0))
            fprintf(stderr,
                    "  round %d: %d of %d Gs created after rt_gomaxprocs(1) ran on P %d\n",
                    round, atomic_load(&late_on_surplus), LATE, atomic_load(&late_max_p));
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
