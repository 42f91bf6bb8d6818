/*
 * fork(): the child has only the forking thread, so its runtime is not running:
 * everything that needs it says RT_ESHUTDOWN (pointer getters NULL) until the child
 * calls rt_init, which starts a fresh runtime. The parent goes on unaffected. Forks
 * racing with thread creation (the exec lock) leave consistent children.
 */
#include "test.h"

static test_latch started = TEST_LATCH_INIT;

static void note_start(void *arg)
{
    (void)arg;
    test_latch_post(&started);
}

static rt_p *parent_p;

static void child_checks(void *arg)
{
    (void)arg;
    rt_stats st;
    rt_m *m = NULL;
    CHECK_PTR_EQ(rt_getp(), NULL);
    CHECK_PTR_EQ(rt_p_get(0), NULL);
    CHECK_PTR_EQ(rt_releasep(), NULL);
    CHECK_RC(rt_gomaxprocs(0), RT_ESHUTDOWN);
    CHECK_RC(test_stats(&st), RT_ESHUTDOWN);
    CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_ESHUTDOWN);
    CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_ESHUTDOWN);
    CHECK_RC(rt_acquirep(parent_p), RT_ESHUTDOWN);
    CHECK_RC(rt_p_put(parent_p), RT_ESHUTDOWN);
    CHECK_RC(rt_shutdown(-1), RT_ESHUTDOWN);
    CHECK_RC(rt_init(NULL), RT_OK); /* a fresh runtime */

    /* The fresh runtime works: Ms start, Ps move. The parent's Ms do not exist here. */
    rt_config cfg = { .size = sizeof cfg };
    CHECK_RC(rt_init(&cfg), RT_EALREADY);
    CHECK_EQ(rt_gomaxprocs(0), 2);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.idle_procs, 2);
    CHECK(st.threads <= 1); /* at most the forking thread's adoption */
    long base = started.count;
    for (int i = 0; i < 3; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, base + 3);
    rt_p *p = rt_p_get(1);
    CHECK(p != NULL);
    CHECK_RC(rt_acquirep(p), RT_OK);
    CHECK_PTR_EQ(rt_getp(), p);
    CHECK_PTR_EQ(rt_releasep(), p);
    CHECK_RC(rt_p_put(p), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

/* ---- fork while another thread creates Ms ---- */

static atomic_int stop_creating;
static void *creator(void *arg)
{
    /* Bounded: each M stays parked on the idle list until rt_shutdown. */
    int max = test_under_valgrind() ? 20 : 100;
    (void)arg;
    for (int i = 0; i < max && !atomic_load(&stop_creating); i++) {
        int rc = rt_newm(NULL, NULL, NULL, NULL);
        if (!CHECK_RC(rc, RT_OK))
            break;
    }
    return NULL;
}

static void racing_child(void *arg)
{
    (void)arg;
    CHECK_RC(rt_gomaxprocs(0), RT_ESHUTDOWN);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
}

int main(void)
{
    setenv("MRT_MAXPROCS", "2", 1); /* the child's fresh runtime uses the defaults */
    CHECK_RC(rt_init(NULL), RT_OK);
    for (int i = 0; i < 4; i++)
        CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 4);

    /* Fork from a plain foreign thread. */
    parent_p = rt_p_get(0);
    int status = test_spawn(child_checks, NULL, NULL, 0);
    if (!CHECK_CHILD_OK(status)) {
        CHECK_RC(rt_shutdown(-1), RT_OK);
        return test_summary(); /* the rest would fail the same way, slowly */
    }

    /* Fork from an adopted M holding a P. */
    CHECK_RC(rt_acquirep(parent_p), RT_OK);
    status = test_spawn(child_checks, NULL, NULL, 0);
    CHECK_CHILD_OK(status);
    CHECK_PTR_EQ(rt_getp(), parent_p); /* the parent still holds it */
    CHECK_PTR_EQ(rt_releasep(), parent_p);
    CHECK_RC(rt_p_put(parent_p), RT_OK);

    /* The parent is unaffected. */
    CHECK_RC(rt_newm(note_start, NULL, NULL, NULL), RT_OK);
    test_latch_wait(&started, 5);
    rt_stats st;
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK_EQ(st.idle_procs, 2);

    /* Forks racing with thread creation. */
    pthread_t th;
    pthread_create(&th, NULL, creator, NULL);
    int forks = test_under_valgrind() ? 3 : 10;
    for (int i = 0; i < forks; i++) {
        status = test_spawn(racing_child, NULL, NULL, 0);
        if (!CHECK_CHILD_OK(status))
            break; /* one broken child says it all; do not wait for ten */
    }
    atomic_store(&stop_creating, 1);
    pthread_join(th, NULL);

    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
