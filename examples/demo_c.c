/*
 * demo_c.c: libmrt driven from C.
 *
 * 1. Creates 8 Ms with rt_newm. Each M's start function runs on the new thread, on
 *    the M's g0 stack, and records what it sees: its OS thread id, its M id and its
 *    g0 stack bounds (rt_m_getinfo), plus the address of one of its locals, which
 *    must lie inside those bounds. The main thread prints the table.
 * 2. Moves one P between threads: the main thread (adopted as an M by rt_acquirep),
 *    a plain pthread (adopted the same way) and a runtime-created M, handing the P
 *    over with rt_releasep / rt_acquirep, then gives it back to the pool.
 *
 * Build and run: examples/run_demo_c.sh (after `make lib`).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrt.h"

#define NM 8

static void die(const char *what, int rc)
{
    fprintf(stderr, "demo_c: %s: %s (%s)\n", what, rt_err_name(rc), rt_strerror(rc));
    exit(1);
}

/* A one-shot event: set once, waited on by others. */
typedef struct event {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
} event;
#define EVENT_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static void event_post(event *e)
{
    pthread_mutex_lock(&e->mu);
    e->count++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void event_wait(event *e, int n)
{
    pthread_mutex_lock(&e->mu);
    while (e->count < n)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

/* ---- part 1: what each M saw ---- */

struct seen {
    pid_t tid;
    int64_t id;
    uintptr_t g0_lo, g0_hi, local;
};

static struct seen seen[NM];
static event all_started = EVENT_INIT;

static void mstart_fn(void *arg)
{
    struct seen *s = arg;
    volatile int local = 0;
    rt_m *self = rt_getm(); /* non-NULL: this thread is an M */
    rt_m_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    rt_m_getinfo(self, &info);
    s->tid = gettid();
    s->id = rt_m_id(self);
    s->g0_lo = info.g0_lo;
    s->g0_hi = info.g0_hi;
    s->local = (uintptr_t)&local;
    event_post(&all_started);
}

/* ---- part 2: one P moving between threads ---- */

static rt_p *moving_p;
static event handoff = EVENT_INIT;
static char log_lines[4][160];

static const char *status_name(int s)
{
    switch (s) {
    case RT_P_IDLE: return "idle";
    case RT_P_RUNNING: return "running";
    case RT_P_SYSCALL: return "syscall";
    case RT_P_DEAD: return "dead";
    default: return rt_err_name(s);
    }
}

/* Take the held P on this thread, note it, hand it on (held) and signal. */
static void take_and_pass(const char *who, int line)
{
    int rc = rt_acquirep(moving_p);
    if (rc != RT_OK)
        die("rt_acquirep", rc);
    snprintf(log_lines[line], sizeof log_lines[line],
             "%-28s tid %-7d M %-3" PRId64 " holds P%d (%s)", who, (int)gettid(),
             rt_m_id(rt_getm()), rt_p_id(rt_getp()), status_name(rt_p_status(moving_p)));
    rt_releasep();
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    event_wait(&handoff, 1);
    take_and_pass("a plain pthread, adopted:", 1);
    event_post(&handoff); /* 2 */
    return NULL;
}

static void m_takes_p(void *arg)
{
    (void)arg;
    event_wait(&handoff, 2);
    take_and_pass("a runtime-created M:", 2);
    event_post(&handoff); /* 3 */
}

int main(void)
{
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    int rc = rt_init(&cfg);
    if (rc != RT_OK)
        die("rt_init", rc);

    printf("libmrt %s, C host: %d Ms created with rt_newm (%d Ps)\n\n", rt_version(), NM,
           rt_gomaxprocs(0));
    for (int i = 0; i < NM; i++)
        if ((rc = rt_newm(mstart_fn, &seen[i], NULL, NULL)) != RT_OK)
            die("rt_newm", rc);
    event_wait(&all_started, NM);

    printf("  %-4s %-8s %-32s  %8s  %s\n", "M", "tid", "g0 stack [lo, hi)", "size",
           "a local of the start function");
    for (int i = 0; i < NM; i++) {
        const struct seen *s = &seen[i];
        int inside = s->g0_lo <= s->local && s->local < s->g0_hi;
        printf("  %-4" PRId64 " %-8d [0x%012" PRIxPTR ", 0x%012" PRIxPTR ")  %4" PRIuPTR " KiB  "
               "0x%012" PRIxPTR " (%s g0)\n",
               s->id, (int)s->tid, s->g0_lo, s->g0_hi, (s->g0_hi - s->g0_lo) >> 10, s->local,
               inside ? "inside" : "OUTSIDE");
    }
    printf("  (main thread: tid %d, rt_getm() = %s)\n\n", (int)gettid(),
           rt_getm() ? "an M" : "NULL, a foreign thread");

    /* Part 2: P1 goes main -> pthread -> M -> main -> pool. */
    moving_p = rt_p_get(1);
    printf("Moving P%d between threads (rt_acquirep / rt_releasep):\n", rt_p_id(moving_p));
    pthread_t th;
    pthread_create(&th, NULL, foreign_thread, NULL);
    if ((rc = rt_newm(m_takes_p, NULL, NULL, NULL)) != RT_OK)
        die("rt_newm", rc);
    take_and_pass("the main thread, adopted:", 0);
    event_post(&handoff); /* 1: to the pthread */
    event_wait(&handoff, 3);
    pthread_join(th, NULL);
    take_and_pass("back on the main thread:", 3);
    for (int i = 0; i < 4; i++)
        printf("  %d. %s\n", i + 1, log_lines[i]);
    if ((rc = rt_p_put(moving_p)) != RT_OK)
        die("rt_p_put", rc);

    rt_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    rt_getstats(&st);
    printf("  P%d back in the idle pool: %d of %d Ps idle; %" PRId64 " Ms alive\n\n",
           rt_p_id(moving_p), st.idle_procs, st.maxprocs, st.threads);

    rc = rt_shutdown(-1);
    printf("rt_shutdown: %s\n", rt_err_name(rc));
    return rc == RT_OK ? 0 : 1;
}
