/*
 * rt_m_free and rt_m_launch with an old M handle never touch an M that the runtime
 * (here rt_newm) makes and launches itself (found by a bug hunt: a segfault in
 * mstart1, the new M's g0 freed under it).
 *
 * An M handle is the M's address, and docs/api.md says an old one may name a later
 * M. rt_newm (like the scheduler and sysmon) puts its M on allm, then launches it;
 * rt_m_free through an old handle that named that M in between freed it (it was
 * "never launched"), and the launch went on with freed memory; rt_m_launch through
 * such a handle launched it under its maker. Both now refuse an M that the host did
 * not make with rt_allocm.
 *
 * The main thread makes Ms with rt_newm that go idle and retire at once
 * (MRT_DEBUG=idlemretire=1), so their memory is reused by the next ones; two host
 * threads keep calling rt_m_getinfo, rt_m_free and rt_m_launch on the
 * handles of the last 64 (live, retired or reused): only RT_EINVAL, RT_EBUSY or
 * RT_EALREADY may come back, and nothing may crash. A race: it failed in about 4 runs
 * of 10 (3 of them a segfault) on the old library, and this test (then with four
 * rounds, three now) in 10 of 10 (7 segfaults, 2 aborts, 1 hang).
 */
#include "test.h"

#define SLOTS 64

static rt_m *ms[SLOTS];
static atomic_int stop;
static atomic_long bad;

static void mstart(void *arg)
{
    (void)arg;
}

static void *poker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < SLOTS; i++) {
            rt_m *m = __atomic_load_n(&ms[i], __ATOMIC_ACQUIRE);
            if (!m)
                continue;
            rt_m_info mi;
            memset(&mi, 0, sizeof mi);
            mi.size = sizeof mi;
            int rc = rt_m_getinfo(m, &mi);
            if (rc != RT_OK && rc != RT_EINVAL && atomic_fetch_add(&bad, 1) < 5)
                FAIL("rt_m_getinfo: %s", rt_err_name(rc));
            rc = rt_m_free(m);
            if (rc != RT_EBUSY && rc != RT_EINVAL && atomic_fetch_add(&bad, 1) < 5)
                FAIL("rt_m_free of an M the host did not allocate: %s", rt_err_name(rc));
            rc = rt_m_launch(m, NULL);
            if (rc != RT_EALREADY && rc != RT_EINVAL && atomic_fetch_add(&bad, 1) < 5)
                FAIL("rt_m_launch of an M the host did not allocate: %s", rt_err_name(rc));
        }
    }
    return NULL;
}

int main(void)
{
    setenv("MRT_DEBUG", "idlemretire=1", 1);
    int rounds = test_under_valgrind() ? 1 : 3;
    int per = test_under_valgrind() ? 100 : 2000;
    for (int round = 0; round < rounds; round++) {
        CHECK_RC(rt_init(NULL), RT_OK);
        memset(ms, 0, sizeof ms);
        atomic_store(&stop, 0);
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, poker, NULL), 0);
        for (int r = 0; r < per; r++) {
            rt_m *m = NULL;
            int rc = rt_newm(mstart, NULL, NULL, &m);
            if (rc == RT_OK)
                __atomic_store_n(&ms[r % SLOTS], m, __ATOMIC_RELEASE);
            else if (rc != RT_EAGAIN && rc != RT_ENOMEM)
                FAIL("rt_newm: %s", rt_err_name(rc));
            if (r % 16 == 0)
                usleep(2000); /* let some retire */
        }
        atomic_store(&stop, 1);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        CHECK_RC(rt_shutdown(-1), RT_OK);
    }
    CHECK_EQ(atomic_load(&bad), 0);
    return test_summary();
}
