/*
 * Host threads entering rt_main and rt_schedule(RT_SCHED_FOREVER) over and over
 * while the main thread shuts the runtime down and starts it again; the same host
 * threads (adopted Ms that outlive each runtime) go on in the next runtime.
 * Checked: rt_main returns RT_OK (its G ran to its end) or RT_ESHUTDOWN; every G
 * that rt_main or rt_go said was made ran to its end before rt_shutdown returned;
 * rt_shutdown(-1) returns RT_OK; no crash (valgrind: no invalid access).
 */
#include "test.h"

#define ROUNDS_NATIVE 150
#define ROUNDS_VALGRIND 10
#define HOSTS 2

static atomic_int stop_all;
static atomic_long made, finished;
static pthread_barrier_t bar;
static atomic_int bad_rc;

static void body(void *arg)
{
    rt_gosched();
    /* A child made by a G: waited for by rt_shutdown. */
    if (arg == NULL && rt_go(body, &stop_all) > 0)
        atomic_fetch_add(&made, 1);
    atomic_fetch_add(&finished, 1);
}

static void main_body(void *arg)
{
    (void)arg;
    rt_gosched();
    atomic_fetch_add(&finished, 1);
}

static void *main_host(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&bar); /* the round's runtime runs */
        if (atomic_load(&stop_all))
            return NULL;
        for (int i = 0; i < 1000; i++) {
            atomic_fetch_add(&made, 1);
            int rc = rt_main(main_body, NULL);
            if (rc == RT_ESHUTDOWN) {
                atomic_fetch_sub(&made, 1); /* refused (or its G freed): see below */
                break;
            }
            if (rc != RT_OK && atomic_fetch_add(&bad_rc, 1) == 0)
                fprintf(stderr, "rt_main: %s\n", rt_err_name(rc));
        }
        pthread_barrier_wait(&bar); /* the round is over */
    }
}

static void *forever_host(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&bar);
        if (atomic_load(&stop_all))
            return NULL;
        for (;;) {
            rt_p *p = rt_p_get(1);
            if (!p)
                break;
            int rc = rt_acquirep(p);
            if (rc == RT_OK) {
                int n = rt_schedule(RT_SCHED_FOREVER);
                if (n == RT_ESHUTDOWN || n >= 0) {
                    rt_p *back = rt_releasep();
                    if (back)
                        rt_p_put(back);
                    if (n == RT_ESHUTDOWN)
                        break;
                    continue;
                }
                /* The shutdown took the P between rt_acquirep and rt_schedule:
                 * an M without a P (documented RT_EINVAL). */
                if (!(n == RT_EINVAL && rt_getp() == NULL) &&
                    atomic_fetch_add(&bad_rc, 1) == 0)
                    fprintf(stderr, "rt_schedule: %s\n", rt_err_name(n));
                break;
            }
            if (rc == RT_ESHUTDOWN || rc == RT_EINVAL)
                break;
            if (rc != RT_EBUSY) {
                if (atomic_fetch_add(&bad_rc, 1) == 0)
                    fprintf(stderr, "rt_acquirep: %s\n", rt_err_name(rc));
                break;
            }
            sched_yield();
        }
        pthread_barrier_wait(&bar);
    }
}

static void *go_host(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&bar);
        if (atomic_load(&stop_all))
            return NULL;
        for (int i = 0; i < 300; i++) {
            int64_t id = rt_go(body, NULL);
            if (id == RT_ESHUTDOWN)
                break;
            if (id > 0)
                atomic_fetch_add(&made, 1);
            else if (atomic_fetch_add(&bad_rc, 1) == 0)
                fprintf(stderr, "rt_go: %s\n", rt_err_name((int)id));
        }
        pthread_barrier_wait(&bar);
    }
}

int main(void)
{
    int rounds = test_under_valgrind() ? ROUNDS_VALGRIND : ROUNDS_NATIVE;
    pthread_barrier_init(&bar, NULL, HOSTS + 3);
    pthread_t ts[HOSTS + 2];
    for (int i = 0; i < HOSTS; i++)
        pthread_create(&ts[i], NULL, main_host, NULL);
    pthread_create(&ts[HOSTS], NULL, forever_host, NULL);
    pthread_create(&ts[HOSTS + 1], NULL, go_host, NULL);
    long mismatched = 0;
    for (int r = 0; r < rounds; r++) {
        rt_config cfg = { .size = sizeof cfg, .maxprocs = 3 };
        if (!CHECK_RC(rt_init(&cfg), RT_OK))
            break;
        atomic_store(&made, 0);
        atomic_store(&finished, 0);
        pthread_barrier_wait(&bar); /* go */
        for (int i = 0; i < (r % 20) * 50; i++)
            test_relax();
        int rc = rt_shutdown(20000000000LL);
        CHECK_RC(rc, RT_OK);
        pthread_barrier_wait(&bar); /* every host saw the shutdown */
        if (atomic_load(&made) != atomic_load(&finished)) {
            if (mismatched++ == 0)
                fprintf(stderr, "round %d: made %ld finished %ld\n", r, atomic_load(&made),
                        atomic_load(&finished));
        }
        if (rc != RT_OK)
            break;
    }
    atomic_store(&stop_all, 1);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < HOSTS + 2; i++)
        pthread_join(ts[i], NULL);
    CHECK_EQ(mismatched, 0);
    CHECK_EQ(atomic_load(&bad_rc), 0);
    return test_summary();
}
