/*
 * A G handle from an earlier runtime names no G of a later one, even when the later
 * runtime's G sits in the same registry slot (greg: a slot's generation survives
 * rt_shutdown, and a new descriptor in that slot starts after it).
 *
 * Each run (one P, rt_init .. rt_shutdown) has its main G start one G that parks with
 * rt_park and publishes its handle from the park callback; the first run's G is then
 * readied and exits. In the second run the parked G is in the same slot (the slot
 * index is the handle's low word: checked, so that the test does exercise the reuse).
 * rt_ready with the first run's handle must say RT_EINVAL and leave the new G parked;
 * its own handle wakes it. A third run checks the same against both earlier handles.
 * No timing: every wait is for an event.
 */
#include "test.h"

#define RUNS 3

static rt_g *volatile parked;
static rt_g *handles[RUNS];
static rt_chan *woke;

static bool publish(rt_g *g, void *arg)
{
    (void)arg;
    parked = g;
    return true;
}

static void parker(void *arg)
{
    (void)arg;
    CHECK_RC(rt_park(publish, NULL), RT_OK);
    int one = 1;
    CHECK_RC(rt_chan_send(woke, &one), RT_OK);
}

static void main_g(void *arg)
{
    int run = (int)(intptr_t)arg;
    parked = NULL;
    CHECK(rt_go(parker, NULL) > 0);
    while (parked == NULL)
        rt_gosched();
    rt_g *h = parked;
    handles[run] = h;
    for (int r = 0; r < run; r++) {
        /* The same slot (low word), another generation (high word). */
        CHECK_EQ((uintptr_t)handles[r] & 0xffffffffu, (uintptr_t)h & 0xffffffffu);
        CHECK((uintptr_t)handles[r] != (uintptr_t)h);
        CHECK_RC(rt_ready(handles[r]), RT_EINVAL);
    }
    /* Still parked: a stale handle that had woken it would make this RT_EINVAL. */
    CHECK_RC(rt_ready(h), RT_OK);
    int v = 0;
    CHECK_RC(rt_chan_recv(woke, &v), RT_OK);
    CHECK_EQ(v, 1);
}

int main(void)
{
    for (int run = 0; run < RUNS; run++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        if (CHECK_RC(rt_chan_make(sizeof(int), 0, &woke), RT_OK)) {
            CHECK_RC(rt_main(main_g, (void *)(intptr_t)run), RT_OK);
            CHECK_RC(rt_chan_free(woke), RT_OK);
        }
        CHECK_RC(rt_shutdown(-1), RT_OK);
    }
    return test_summary();
}
