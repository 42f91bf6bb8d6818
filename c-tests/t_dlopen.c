/*
 * libmrt loaded with dlopen (as ctypes does), not linked: its static TLS fits in what
 * glibc keeps for dlopen'ed initial-exec TLS (docs/api.md: under 256 bytes; run.sh checks
 * PT_TLS with readelf), rt_newm works and the Ms see their TLS slot; dlclose never
 * unmaps it (-z nodelete), so Ms running or parked in it are safe and the function
 * pointers stay valid. Built by run.sh without -lmrt; the library path comes from
 * $MRT_LIB or the MRT_LIB_PATH define.
 */
#include "test.h"

#include <dlfcn.h>

#ifndef MRT_LIB_PATH
#define MRT_LIB_PATH "libmrt.so"
#endif

/* The functions used, looked up by name. test.h's CHECK_RC needs rt_err_name: this
   file defines it as a forwarder to the dlsym'ed one. */
static int (*p_init)(const rt_config *);
static int (*p_shutdown)(int64_t);
static int (*p_newm)(rt_fn, void *, rt_p *, rt_m **);
static rt_m *(*p_getm)(void);
static int64_t (*p_m_id)(const rt_m *);
static int (*p_m_getinfo)(const rt_m *, rt_m_info *);
static rt_p *(*p_p_get)(int);
static int (*p_acquirep)(rt_p *);
static rt_p *(*p_releasep)(void);
static rt_p *(*p_getp)(void);
static int (*p_p_put)(rt_p *);
static const char *(*p_err_name)(int);

const char *rt_err_name(int err)
{
    return p_err_name ? p_err_name(err) : "?";
}

struct seen {
    rt_m *m;
    int64_t id;
    pid_t tid;
    rt_m_info info;
    uintptr_t local;
};

static struct seen seen[8];
static test_latch started = TEST_LATCH_INIT;

static void record(void *arg)
{
    struct seen *s = arg;
    volatile int local = 0;
    s->m = p_getm();
    s->id = p_m_id(s->m);
    s->tid = gettid();
    memset(&s->info, 0, sizeof s->info);
    s->info.size = sizeof s->info;
    p_m_getinfo(s->m, &s->info);
    s->local = (uintptr_t)&local;
    test_latch_post(&started);
}

#define LOAD(var, name)                                   \
    do {                                                  \
        *(void **)&var = dlsym(h, name);                  \
        if (!CHECK(var != NULL))                          \
            fprintf(stderr, "  dlsym(%s) failed\n", name); \
    } while (0)

int main(void)
{
    const char *path = getenv("MRT_LIB");
    if (!path || !*path)
        path = MRT_LIB_PATH;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!CHECK(h != NULL)) {
        fprintf(stderr, "  dlopen(%s): %s\n", path, dlerror());
        return test_summary();
    }
    LOAD(p_err_name, "rt_err_name");
    LOAD(p_init, "rt_init");
    LOAD(p_shutdown, "rt_shutdown");
    LOAD(p_newm, "rt_newm");
    LOAD(p_getm, "rt_getm");
    LOAD(p_m_id, "rt_m_id");
    LOAD(p_m_getinfo, "rt_m_getinfo");
    LOAD(p_p_get, "rt_p_get");
    LOAD(p_acquirep, "rt_acquirep");
    LOAD(p_releasep, "rt_releasep");
    LOAD(p_getp, "rt_getp");
    LOAD(p_p_put, "rt_p_put");
    if (atomic_load(&test_failed_))
        return test_summary();

    CHECK_RC(p_init(NULL), RT_OK);
    for (int i = 0; i < 8; i++)
        CHECK_RC(p_newm(record, &seen[i], NULL, NULL), RT_OK);
    test_latch_wait(&started, 8);
    for (int i = 0; i < 8; i++) {
        CHECK(seen[i].m != NULL);
        CHECK(seen[i].id > 0);
        CHECK_EQ(seen[i].info.id, seen[i].id);
        CHECK_EQ(seen[i].info.tid, seen[i].tid);
        CHECK(seen[i].info.g0_lo <= seen[i].local && seen[i].local < seen[i].info.g0_hi);
        for (int j = 0; j < i; j++)
            CHECK(seen[i].m != seen[j].m && seen[i].id != seen[j].id);
    }
    /* The TLS slot works for an adopted thread too. */
    CHECK_PTR_EQ(p_getm(), NULL);
    rt_p *p = p_p_get(0);
    CHECK_RC(p_acquirep(p), RT_OK);
    CHECK(p_getm() != NULL);
    CHECK_PTR_EQ(p_getp(), p);
    CHECK_PTR_EQ(p_releasep(), p);
    CHECK_RC(p_p_put(p), RT_OK);

    /* dlclose with Ms parked in the library: it stays mapped (nodelete). */
    CHECK_EQ(dlclose(h), 0);
    void *again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (CHECK(again != NULL))
        dlclose(again);
    /* The old function pointers are still good. */
    CHECK_RC(p_newm(record, &seen[0], NULL, NULL), RT_OK);
    test_latch_wait(&started, 9);
    CHECK_RC(p_shutdown(-1), RT_OK);
    return test_summary();
}
