/*
 * rt_schedule(RT_SCHED_FOREVER) runs until rt_shutdown (docs/api.md), also on an M
 * made by rt_newm whose start function calls it: an idle runtime-created M retires
 * (here after 20 ms, MRT_DEBUG=idlemretire=20), and the call used to return then,
 * with the runtime still running, into a host loop that took it for a shutdown.
 *
 * Nor does it return when a G wired to its M exits (which takes a runtime-created
 * M's thread with it, but this one has the host's code on its g0): the M is only
 * unwired, as a host's thread is. It used to return then too.
 *
 * The start function takes an idle P and runs the scheduler forever; the main
 * thread feeds it a G at a time, each time after the M went idle again (its P in the
 * pool), and waits well past the retirement time between Gs; every other G wires
 * itself to the M and exits so. The call must still be running at the end, return
 * only once rt_shutdown has begun, and the M must have run Gs throughout (there is
 * one P, which the start function holds or the pool does).
 */
#include "test.h"

static atomic_int returned;
static atomic_int ret_rc = 1;
static atomic_int in_loop;
static rt_m *loop_m;

static void start(void *arg)
{
    (void)arg;
    rt_p *p = NULL;
    for (int i = 0; i < 2 && !p; i++) {
        rt_p *q = rt_p_get(i);
        if (q && rt_acquirep(q) == RT_OK)
            p = q;
    }
    if (!CHECK(p != NULL)) {
        atomic_store(&returned, 1);
        return;
    }
    loop_m = rt_getm();
    atomic_store(&in_loop, 1);
    atomic_store(&ret_rc, rt_schedule(RT_SCHED_FOREVER));
    atomic_store(&returned, 1);
}

static atomic_int ran;

static void g(void *arg)
{
    if (arg) {
        CHECK_PTR_EQ(rt_getm(), loop_m);
        CHECK_RC(rt_lockosthread(), RT_OK); /* exits wired */
    }
    atomic_fetch_add(&ran, 1);
}

int main(void)
{
    setenv("MRT_DEBUG", "idlemretire=20", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_newm(start, NULL, NULL, NULL), RT_OK);
    for (int i = 0; i < 10000 && !atomic_load(&in_loop); i++)
        usleep(1000);
    CHECK(atomic_load(&in_loop));
    for (int i = 0; i < 6; i++) {
        /* One P: the host's M is the one that runs this G. */
        CHECK(rt_go(g, (void *)(intptr_t)(i % 2)) > 0);
        for (int j = 0; j < 10000 && atomic_load(&ran) < i + 1; j++)
            usleep(1000);
        CHECK_EQ(atomic_load(&ran), i + 1);
        usleep(100000); /* five retirement times idle */
        CHECK(!atomic_load(&returned));
    }
    CHECK_RC(rt_shutdown(-1), RT_OK);
    for (int i = 0; i < 10000 && !atomic_load(&returned); i++)
        usleep(1000);
    CHECK(atomic_load(&returned));
    CHECK(atomic_load(&ret_rc) >= 0);
    return test_summary();
}
