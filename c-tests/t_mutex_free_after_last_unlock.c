/*
 * A mutex freed by the last of its users as soon as its own unlock returned (the
 * reference-count pattern: lock, drop a reference, unlock, free if it was the last),
 * as pthread mutexes allow (glibc bug 13690). rt_mutex_unlock must not touch the
 * mutex once another party can have locked, unlocked and freed it.
 *
 * Each object sits alone in its own mmap'd page, and "free" is munmap: a late access
 * by an unlock still under way faults (natively), as valgrind would report it.
 * USERS parties (Gs on 2 Ps and foreign threads) share each object; each one locks,
 * yields or spins a little to make the others queue, drops its reference, unlocks
 * and, if it was the last, frees. Checked: nothing faults, every object is freed
 * once.
 */
#include "test.h"

#include <sys/mman.h>

#define OBJS_NATIVE 3000
#define OBJS_VALGRIND 200
#define GS 3
#define THREADS 2
#define USERS (GS + THREADS)

typedef struct obj {
    rt_mutex mu;
    int refs; /* under mu */
} obj;

static obj *_Atomic cur[OBJS_NATIVE];
static atomic_long freed;
static int nobjs;
static rt_wg gs_done = RT_WG_INIT;

static obj *obj_new(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    obj *o = p;
    memset(o, 0, sizeof *o);
    o->refs = USERS;
    return o;
}

static void use(int i, bool in_g)
{
    obj *o;
    while ((o = atomic_load(&cur[i])) == NULL) /* made by the main thread */
        sched_yield();
    rt_mutex_lock(&o->mu);
    if (in_g && i % 2 == 0)
        rt_gosched();
    else
        for (volatile int k = 0; k < 50; k++)
            ;
    bool last = --o->refs == 0;
    rt_mutex_unlock(&o->mu);
    if (last) {
        munmap(o, 4096);
        atomic_fetch_add(&freed, 1);
    }
}

static void g_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < nobjs; i++)
        use(i, true);
    rt_wg_done(&gs_done);
}

static void *t_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < nobjs; i++)
        use(i, false);
    return NULL;
}

int main(void)
{
    nobjs = test_under_valgrind() ? OBJS_VALGRIND : OBJS_NATIVE;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    for (int i = 0; i < nobjs; i++)
        if (!CHECK((cur[i] = obj_new()) != NULL))
            return test_summary();
    rt_wg_add(&gs_done, GS);
    for (int i = 0; i < GS; i++)
        CHECK(rt_go(g_user, NULL) > 0);
    pthread_t ts[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&ts[i], NULL, t_user, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(ts[i], NULL);
    rt_wg_wait(&gs_done);
    CHECK_EQ(atomic_load(&freed), nobjs);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    return test_summary();
}
