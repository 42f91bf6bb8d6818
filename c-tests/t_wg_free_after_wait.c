/*
 * A wait group freed by its waiter as soon as rt_wg_wait returned (api.md: "may be
 * reused or freed as soon as rt_wg_wait returned"), while the Done calls that ended
 * the wait, from Gs on 2 Ps and foreign threads, may still be inside rt_wg_add.
 * Each wait group sits alone in its own mmap'd page and "free" is munmap, so a late
 * access faults natively. The waiter alternates between a G and a foreign thread;
 * every other round it reuses the wait group once more before freeing it.
 * Checked: nothing faults; every wait returns only after all its Dones.
 */
#include "test.h"

#include <sys/mman.h>

#define ROUNDS_NATIVE 2000
#define ROUNDS_VALGRIND 100
#define DONERS 3

typedef struct box {
    rt_wg wg;
    atomic_int done;
} box;

static box *_Atomic cur;
static atomic_int round_no, early;
static rt_chan *go_g, *go_t; /* round numbers to the G and thread doners */

static void done_one(box *b)
{
    atomic_fetch_add(&b->done, 1);
    rt_wg_done(&b->wg);
}

static void g_doner(void *arg)
{
    (void)arg;
    int r;
    while (rt_chan_recv(go_g, &r) == RT_OK)
        done_one(atomic_load(&cur));
}

static void *t_doner(void *arg)
{
    (void)arg;
    int r;
    while (rt_chan_recv(go_t, &r) == RT_OK)
        done_one(atomic_load(&cur));
    return NULL;
}

static void wait_and_free(box *b, bool reuse)
{
    rt_wg_wait(&b->wg);
    if (atomic_load(&b->done) != DONERS)
        atomic_fetch_add(&early, 1);
    if (reuse) {
        /* reuse at once: the counter and queue start from zero */
        rt_wg_add(&b->wg, 1);
        rt_wg_done(&b->wg);
        rt_wg_wait(&b->wg);
    }
    munmap(b, 4096);
}

static rt_wg g_waited = RT_WG_INIT;

static void g_waiter(void *arg)
{
    wait_and_free(arg, atomic_load(&round_no) % 4 == 0);
    rt_wg_done(&g_waited);
}

int main(void)
{
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 4, &go_g), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 4, &go_t), RT_OK);
    for (int i = 0; i < 2; i++)
        CHECK(rt_go(g_doner, NULL) > 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, t_doner, NULL), 0);
    for (int r = 0; r < rounds; r++) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (!CHECK(p != MAP_FAILED))
            break;
        box *b = p;
        memset(b, 0, sizeof *b);
        rt_wg_add(&b->wg, DONERS);
        atomic_store(&cur, b);
        atomic_store(&round_no, r);
        bool in_g = r % 2 == 0;
        if (in_g) {
            rt_wg_add(&g_waited, 1);
            CHECK(rt_go(g_waiter, b) > 0);
        }
        /* two Dones from Gs, one from the thread */
        CHECK_RC(rt_chan_send(go_g, &r), RT_OK);
        CHECK_RC(rt_chan_send(go_t, &r), RT_OK);
        CHECK_RC(rt_chan_send(go_g, &r), RT_OK);
        if (in_g)
            rt_wg_wait(&g_waited);
        else
            wait_and_free(b, r % 4 == 1);
    }
    rt_chan_close(go_g);
    rt_chan_close(go_t);
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&early), 0);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    return test_summary();
}
