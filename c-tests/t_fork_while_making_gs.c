/*
 * fork() while other threads of the parent are inside rt_go (a foreign thread making
 * Gs), rt_main (a host thread entering and leaving it over and over) and Gs run on
 * 2 Ps. The child has only the forking thread: its rt_init starts a fresh runtime,
 * which must not wait for the parent's calls counted at the fork (the scheduler
 * stays and the G makers): it runs Gs, an rt_main of its own, and rt_shutdown ends
 * within its bound. The parent's Gs all finish.
 */
#include "test.h"

#define FORKS 12

static atomic_int stop;
static atomic_long made, ran;

static void body(void *arg)
{
    (void)arg;
    rt_gosched();
    atomic_fetch_add(&ran, 1);
}

static void *go_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        if (rt_go(body, NULL) > 0)
            atomic_fetch_add(&made, 1);
    return NULL;
}

static void *main_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        atomic_fetch_add(&made, 1);
        if (rt_main(body, NULL) != RT_OK)
            atomic_fetch_sub(&made, 1);
    }
    return NULL;
}

static atomic_long child_ran;
static rt_wg child_wg = RT_WG_INIT;

static void child_g(void *arg)
{
    (void)arg;
    rt_gosched();
    atomic_fetch_add(&child_ran, 1);
    rt_wg_done(&child_wg);
}

static void child_main(void *arg)
{
    (void)arg;
    rt_wg_add(&child_wg, 50);
    for (int i = 0; i < 50; i++)
        CHECK(rt_go(child_g, NULL) > 0);
    rt_wg_wait(&child_wg);
}

static void child(void *arg)
{
    (void)arg;
    CHECK_RC(rt_go(body, NULL), RT_ESHUTDOWN);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(child_main, NULL), RT_OK);
    CHECK_EQ(atomic_load(&child_ran), 50);
    CHECK_RC(rt_shutdown(3000000000LL), RT_OK);
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, NULL, go_thread, NULL), 0);
    CHECK_EQ(pthread_create(&b, NULL, main_thread, NULL), 0);
    for (int i = 0; i < FORKS; i++) {
        usleep(2000);
        CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    }
    atomic_store(&stop, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_RC(rt_shutdown(5000000000LL), RT_OK);
    CHECK_EQ(atomic_load(&ran), atomic_load(&made));
    return test_summary();
}
