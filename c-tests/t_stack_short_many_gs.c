/*
 * G stacks short (MRT_DEBUG=guardmprotect,gstackvmas=201: 100 stacks): Gs and a
 * foreign thread make many more Gs than there are stacks, each sleeping a little,
 * while rt_gomaxprocs changes; a refused rt_go (RT_ENOMEM) is retried after a yield.
 * Checked: every G that rt_go made runs to its end, the stack-waiting Gs (made when a
 * stack was cached but found none) all run once stacks come free, and rt_shutdown
 * finishes.
 */
#include "test.h"

#define TOTAL_G 1500
#define TOTAL_T 500

static atomic_long made, ran, refused; /* refused: RT_ENOMEM seen (not checked: a G
                                        * made while a stack is cached waits instead) */
static rt_wg all = RT_WG_INIT;

static void body(void *arg)
{
    (void)arg;
    rt_sleep(1000000);
    rt_gosched();
    atomic_fetch_add(&ran, 1);
    rt_wg_done(&all);
}

static void g_spawner(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n;) {
        rt_wg_add(&all, 1);
        int64_t id = rt_go(body, NULL);
        if (id > 0) {
            atomic_fetch_add(&made, 1);
            i++;
            continue;
        }
        rt_wg_add(&all, -1);
        if (!CHECK_RC(id, RT_ENOMEM))
            break;
        atomic_fetch_add(&refused, 1);
        rt_sleep(100000);
    }
    rt_wg_done(&all);
}

static void *t_spawner(void *arg)
{
    (void)arg;
    for (long i = 0; i < TOTAL_T;) {
        rt_wg_add(&all, 1);
        int64_t id = rt_go(body, NULL);
        if (id > 0) {
            atomic_fetch_add(&made, 1);
            i++;
            if (i % 100 == 0)
                rt_gomaxprocs((int)(i / 100) % 3 + 1);
            continue;
        }
        rt_wg_add(&all, -1);
        if (!CHECK_RC(id, RT_ENOMEM))
            break;
        atomic_fetch_add(&refused, 1);
        usleep(100);
    }
    return NULL;
}

static void child(void *arg)
{
    (void)arg;
    setenv("MRT_DEBUG", "guardmprotect,gstackvmas=201", 1);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_wg_add(&all, 3);
    for (int i = 0; i < 3; i++) {
        int64_t id;
        long tries = 0;
        while ((id = rt_go(g_spawner, (void *)(intptr_t)(TOTAL_G / 3))) < 0) {
            if (!CHECK_RC(id, RT_ENOMEM))
                break;
            if (++tries == 20000) { /* 2 s */
                rt_stats st;
                test_stats(&st);
                fprintf(stderr, "spawner %d: rt_go still %s after 2 s; made %ld ran %ld, "
                        "goroutines %lld runnable %lld idle_procs %d\n", i,
                        rt_err_name((int)id), atomic_load(&made), atomic_load(&ran),
                        (long long)st.goroutines, (long long)st.runnable, st.idle_procs);
                rt_dump(2);
            }
            usleep(100);
        }
    }
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, t_spawner, NULL), 0);
    pthread_join(t, NULL);
    rt_wg_wait(&all);
    CHECK_EQ(atomic_load(&made), TOTAL_G / 3 * 3 + TOTAL_T);
    CHECK_EQ(atomic_load(&ran), atomic_load(&made));
    CHECK_RC(rt_shutdown(10000000000LL), RT_OK);
}

int main(void)
{
    CHECK_CHILD_OK(test_spawn(child, NULL, NULL, 0));
    return test_summary();
}
