/*
 * dump_stuck.h: a deliberately stuck program for the goroutine-dump tests (rt_dump,
 * the SIGQUIT dump, the gdb extension): Gs parked in known functions, one per way
 * of waiting, and the means to let every one of them go again.
 *
 *   ds_start()    make the Gs (from the main G)
 *   ds_release()  wake every one, wait until all have returned
 *
 * The functions are noinline and the tests are linked with -rdynamic, so their names
 * reach the dump through dladdr.
 */
#ifndef MRT_DUMP_STUCK_H
#define MRT_DUMP_STUCK_H

#include "test.h"

static rt_chan *ds_never;  /* unbuffered; nobody sends: receivers wait */
static rt_chan *ds_nobody; /* unbuffered; nobody receives: senders wait */
static rt_chan *ds_quiet;  /* only selected on */
static rt_mutex ds_mu = RT_MUTEX_INIT;
static rt_wg ds_wg = RT_WG_INIT;   /* waited on by ds_stuck_wg */
static rt_wg ds_done = RT_WG_INIT; /* every stuck G, done when it returns */
static int ds_pipe[2];
static _Atomic(rt_g *) ds_parked;
static atomic_bool ds_stop;

#define DS_NOINLINE __attribute__((noinline, used))

DS_NOINLINE void ds_stuck_recv(void *a)
{
    (void)a;
    int v;
    CHECK_RC(rt_chan_recv(ds_never, &v), RT_ECLOSED);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_send(void *a)
{
    (void)a;
    int v = 1;
    CHECK_RC(rt_chan_send(ds_nobody, &v), RT_ECLOSED);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_select(void *a)
{
    (void)a;
    int v;
    rt_select_case c[1] = { { ds_quiet, RT_RECV, &v, 0 } };
    CHECK_EQ(rt_select(c, 1, -1), 0);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_mutex(void *a)
{
    (void)a;
    rt_mutex_lock(&ds_mu);
    rt_mutex_unlock(&ds_mu);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_wg(void *a)
{
    (void)a;
    rt_wg_wait(&ds_wg);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_fd(void *a)
{
    (void)a;
    CHECK(rt_poll_fd(ds_pipe[0], RT_POLLIN, -1) & RT_POLLIN);
    rt_wg_done(&ds_done);
}

static bool ds_park_cb(rt_g *g, void *arg)
{
    (void)arg;
    atomic_store(&ds_parked, g);
    return true;
}

DS_NOINLINE void ds_stuck_park(void *a)
{
    (void)a;
    CHECK_RC(rt_park(ds_park_cb, NULL), RT_OK);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_locked(void *a)
{
    (void)a;
    CHECK_RC(rt_lockosthread(), RT_OK);
    int v;
    CHECK_RC(rt_chan_recv(ds_never, &v), RT_ECLOSED);
    CHECK_RC(rt_unlockosthread(), RT_OK);
    rt_wg_done(&ds_done);
}

DS_NOINLINE void ds_stuck_sleep(void *a)
{
    (void)a;
    while (!atomic_load(&ds_stop))
        rt_sleep(2000000);
    rt_wg_done(&ds_done);
}

enum { DS_NGS = 12 };

/* From the main G: 3 receivers, 2 senders, and one G of each other kind. */
DS_NOINLINE void ds_start(void)
{
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ds_never), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ds_nobody), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &ds_quiet), RT_OK);
    CHECK(pipe(ds_pipe) == 0);
    rt_mutex_lock(&ds_mu);
    rt_wg_add(&ds_wg, 1);
    rt_wg_add(&ds_done, DS_NGS);
    for (int i = 0; i < 3; i++)
        CHECK(rt_go(ds_stuck_recv, NULL) > 0);
    for (int i = 0; i < 2; i++)
        CHECK(rt_go(ds_stuck_send, NULL) > 0);
    CHECK(rt_go(ds_stuck_select, NULL) > 0);
    CHECK(rt_go(ds_stuck_mutex, NULL) > 0);
    CHECK(rt_go(ds_stuck_wg, NULL) > 0);
    CHECK(rt_go(ds_stuck_fd, NULL) > 0);
    rt_go_attr attr = { .size = sizeof attr, .name = "parker-7" };
    CHECK(rt_go_ex(ds_stuck_park, NULL, &attr) > 0);
    CHECK(rt_go(ds_stuck_locked, NULL) > 0);
    CHECK(rt_go(ds_stuck_sleep, NULL) > 0);
}

/* From the main G: wake them all and wait for them. */
static inline void ds_release(void)
{
    atomic_store(&ds_stop, true);
    CHECK_RC(rt_chan_close(ds_never), RT_OK);
    CHECK_RC(rt_chan_close(ds_nobody), RT_OK);
    CHECK_RC(rt_chan_close(ds_quiet), RT_OK);
    rt_mutex_unlock(&ds_mu);
    rt_wg_done(&ds_wg);
    CHECK(write(ds_pipe[1], "x", 1) == 1);
    while (atomic_load(&ds_parked) == NULL)
        rt_sleep(1000000);
    CHECK_RC(rt_ready(atomic_load(&ds_parked)), RT_OK);
    rt_wg_wait(&ds_done);
    CHECK_RC(rt_chan_free(ds_never), RT_OK);
    CHECK_RC(rt_chan_free(ds_nobody), RT_OK);
    CHECK_RC(rt_chan_free(ds_quiet), RT_OK);
    close(ds_pipe[0]);
    close(ds_pipe[1]);
}

#endif
