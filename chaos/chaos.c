/*
 * chaos.c: libmrt's chaos harness (`make chaos`, `chaos/run.sh`).
 *
 * For a bounded time it runs epochs; each epoch is rt_init, a random workload, and
 * rt_shutdown, so the runtime is started and stopped many times. A workload mixes
 * Gs and foreign threads doing exactly-accounted channel traffic (blocking, try and
 * select-with-timeout sends and receives, with timers and ticks in the same selects),
 * rt_sleep, rt_poll_fd on pipes and socketpairs fed by foreign threads, rt_mutex and
 * rt_wg, Gs wired with rt_lockosthread, and blocking syscalls bracketed with
 * rt_entersyscall / rt_exitsyscall. Meanwhile disturbers toggle rt_gomaxprocs, fork
 * (from a G and from a foreign thread; the child starts its own runtime, runs a small
 * checked workload and reports through its exit status), send SIGUSR1 storms to every
 * thread of the process with tgkill (a counting SA_RESTART handler), adopt foreign
 * threads as Ms (rt_acquirep, rt_main) and let them exit, start Ms with rt_newm,
 * exhaust file descriptors and address space for a few milliseconds,
 * spawn and churn Gs, channels and pipes, and call rt_shutdown(0) while Gs still run.
 *
 * Every message is checked exactly: each value is received once (a bitmap per
 * channel), in order per producer and consumer, and the sent and received counts and
 * checksums agree at the end of the epoch; a channel closed while producers still
 * send delivers exactly the values whose send succeeded. After each rt_shutdown the
 * process is back to the harness's threads and fds. A watchdog thread prints the harness's
 * state and rt_dump and exits 3 if no counter moves for --watchdog seconds (hang
 * detection, not a speed check).
 *
 * Seeding: every decision (epoch configuration, each actor's choices) comes from a
 * PRNG stream derived from (seed, epoch, actor); `--seed N` replays the same
 * decisions, and `--from E --epochs K` replays epochs E..E+K-1 alone. The threads'
 * interleaving is the OS's and differs from run to run, as do the number of
 * iterations of the time-bounded disturbers.
 *
 * Usage: chaos [--seed N] [--duration S] [--from E] [--epochs K] [--watchdog S]
 *              [--no-oom] [--oom-hard] [--no-fork] [--no-signals] [--no-fds] [--migrate]
 *              [-v]
 *   (default)   RLIMIT_AS lowered to the current size plus 0-8 MiB for 2-22 ms at a
 *               time, and now and then around rt_init; --no-oom leaves it alone
 *   --oom-hard  to the exact size, for 50-150 ms every 1-11 ms (with these, the
 *               allocations on the wake path still abort: see docs/chaos.md)
 *   --migrate   MRT_DEBUG=migrate in every epoch (by default in one in four)
 * Environment: CHAOS_HANG_WAIT=1 keeps a hung process (after the dump) for gdb.
 * Exit status: 0 all checks passed; 1 a check failed; 3 hang (watchdog); 2 usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mrt.h"

/* ---- options ---------------------------------------------------------------- */

static uint64_t opt_seed;
static double opt_duration = 60;
static long opt_from;
static long opt_epochs = -1; /* < 0: until the duration is up */
static int opt_watchdog = 30;
static bool opt_oom = true;
static bool opt_oom_hard; /* windows at the exact size, long and frequent */
static bool opt_fork = true;
static bool opt_signals = true;
static bool opt_fds = true;
static bool opt_verbose;
static bool opt_migrate; /* MRT_DEBUG=migrate in every epoch (else in one in four) */

static atomic_int run_stop; /* the run is over: the signal storm stops */
static void *storm_thread(void *arg);

/* ---- counters ----------------------------------------------------------------- */

#define COUNTERS(X)                                                                    \
    X(epochs) X(msgs_sent) X(msgs_recv) X(send_blocking) X(send_try) X(send_select)    \
    X(recv_blocking) X(recv_try) X(recv_select) X(select_timeouts) X(select_eagain)    \
    X(ticks_sent) X(ticks_recv) X(sleeps) X(poll_waits) X(poll_timeouts)               \
    X(poll_eagain) X(poll_bytes) X(mutex_locks) X(mutex_trylocks) X(wg_waits)          \
    X(locked_gs) X(locked_exits) X(locked_rounds) X(syscalls) X(gs_spawned)            \
    X(gs_goexit) X(chan_churn) X(pipe_churn) X(gomaxprocs_sets) X(forks_from_g)        \
    X(forks_from_thread) X(fork_children_ok) X(storms) X(signals_sent)                 \
    X(signals_handled) X(adopt_acquirep) X(adopt_rt_main) X(adopt_busy) X(newm)        \
    X(sched_once_gs) X(busy_shutdowns) X(oom_windows) X(fd_windows) X(enomem)          \
    X(emfile) X(eagain_thread) X(abrupt_closes) X(sends_closed) X(exit_holding_p) X(oom_inits) X(wide_selects) X(migrate_epochs) X(failures)

enum {
#define X(n) C_##n,
    COUNTERS(X)
#undef X
        NCOUNTERS
};
static const char *counter_names[] = {
#define X(n) #n,
    COUNTERS(X)
#undef X
};
static atomic_ulong counters[NCOUNTERS];
#define COUNT(n) atomic_fetch_add_explicit(&counters[C_##n], 1, memory_order_relaxed)
#define COUNT_N(n, k) atomic_fetch_add_explicit(&counters[C_##n], (k), memory_order_relaxed)

/* Progress of the workload (the watchdog's measure): the disturbers' counters are
 * left out, since they go on counting while a worker hangs. */
static unsigned long progress(void)
{
    static const int work[] = {C_epochs,     C_msgs_sent,      C_msgs_recv,
                               C_poll_bytes, C_mutex_locks,    C_mutex_trylocks,
                               C_syscalls,   C_locked_rounds,  C_forks_from_g,
                               C_busy_shutdowns};
    unsigned long sum = 0;
    for (size_t i = 0; i < sizeof work / sizeof work[0]; i++)
        sum += atomic_load_explicit(&counters[work[i]], memory_order_relaxed);
    return sum;
}

/* ---- failures ----------------------------------------------------------------- */

static atomic_long cur_epoch = -1;

static void fail_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (COUNT(failures) < 50)
        fprintf(stderr, "chaos: FAIL (seed=%" PRIu64 " epoch=%ld) %s:%d: %s\n", opt_seed,
                atomic_load(&cur_epoch), file, line, msg);
}
#define FAIL(...) fail_(__FILE__, __LINE__, __VA_ARGS__)
/* An rt_* call that must return `want`. */
#define EXPECT_RC(expr, want)                                                          \
    do {                                                                               \
        int rc_ = (int)(expr);                                                         \
        if (rc_ != (want))                                                             \
            FAIL("%s = %s, want %s", #expr, rt_err_name(rc_), rt_err_name(want));      \
    } while (0)

/* ---- PRNG: splitmix64 streams -------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t next(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}
static uint64_t rnd(rng *r, uint64_t n) { return n ? next(r) % n : 0; }
static bool chance(rng *r, unsigned pct) { return rnd(r, 100) < pct; }
static rng stream(uint64_t epoch, uint64_t actor)
{
    rng r = {mix64(opt_seed ^ mix64(epoch * 0x100000001b3ULL + 1) ^ mix64(actor + 7))};
    return r;
}

/* ---- small helpers --------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* nanosleep for a plain thread (or inside rt_entersyscall), through signal storms. */
static void os_sleep(int64_t ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000}, rem;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* Sleep in any context: rt_sleep (a G parks; a thread nanosleeps). */
static void any_sleep(int64_t ns)
{
    int rc = rt_sleep(ns);
    if (rc != RT_OK)
        FAIL("rt_sleep(%" PRId64 ") = %s", ns, rt_err_name(rc));
    COUNT(sleeps);
}

static const int64_t timeouts[] = {0, 1000, 20000, 300000, 2000000, -1};
static int64_t pick_timeout(rng *r, bool allow_forever)
{
    size_t n = sizeof timeouts / sizeof timeouts[0];
    return timeouts[rnd(r, allow_forever ? n : n - 1)];
}

/* Errors that resource exhaustion may give back (counted, then the caller retries). */
static bool exhausted(int rc)
{
    if (rc == RT_ENOMEM) {
        COUNT(enomem);
        return true;
    }
    return false;
}

/* ---- epoch state ----------------------------------------------------------------- */

#define MAXCHAN 4
#define MAXPROD 3
#define MAXCONS 3
#define MAXPOLL 3
#define MAXLOCKED 3
#define MAXTHREADS 64

typedef struct chan_state {
    int id;
    rt_chan *c;
    int nprod, ncons, nmsgs;
    atomic_ulong sent_n, recv_n, sent_sum, recv_sum;
    _Atomic uint64_t *seen; /* bitmap, nprod * nmsgs bits */
    rt_wg prod_wg;
    /* Abrupt: closed while producers still send, once close_at values arrived;
     * a send that returns RT_ECLOSED ends its producer. */
    bool abrupt;
    unsigned long close_at;
    atomic_int prod_done;
    int sent_upto[MAXPROD]; /* each producer's values 0..sent_upto-1 were sent */
} chan_state;

typedef struct actor {
    struct epoch *e;
    rng r;
    int kind, idx;
    chan_state *cs;
    int k; /* a producer's index in its channel's values */
    bool as_thread;
    void *extra;
    void (*fn)(void *); /* what a foreign-thread actor runs */
    const char *_Atomic where; /* what it does now (the watchdog prints it) */
    atomic_int finished;
} actor;
#define WHERE(a, s) atomic_store_explicit(&(a)->where, (s), memory_order_relaxed)

typedef struct poll_pair {
    int id;
    int gfd, tfd;  /* the G's end (non-blocking) and the thread's end (blocking) */
    bool g_reads;  /* else the G writes and the thread reads */
    long nbytes;
} poll_pair;

typedef struct mutex_group {
    rt_mutex mu;
    long counter;
    rt_wg wg;
    int workers, iters;
} mutex_group;

typedef struct locked_pair {
    rt_chan *ping, *pong;
    int rounds;
    bool exit_locked;
} locked_pair;

typedef struct epoch {
    long n;
    int maxprocs;
    bool migrate;
    atomic_int stop;
    rt_wg work_wg; /* workload actors: the epoch ends when they are done */
    rt_wg dist_wg; /* disturber Gs: stop when `stop` is set */
    int nchan;
    chan_state chans[MAXCHAN];
    rt_chan *tick, *never, *sentinel;
    atomic_ulong ticks_sent, ticks_recv;
    int npoll;
    poll_pair polls[MAXPOLL];
    mutex_group mg;
    locked_pair lp[MAXLOCKED];
    int nlocked;
    atomic_ulong spawned, spawn_ran;
    pthread_t threads[MAXTHREADS];
    atomic_int nthreads;
    actor actors[128];
    int nactors;
} epoch;

/* Serialises the fault windows (limits lowered) with fork, so that a child is never
 * born with an exhausted limit it did not ask for. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

static actor *new_actor(epoch *e, int kind)
{
    if (e->nactors >= (int)(sizeof e->actors / sizeof e->actors[0])) {
        fprintf(stderr, "chaos: too many actors\n");
        abort();
    }
    actor *a = &e->actors[e->nactors];
    memset(a, 0, sizeof *a);
    a->e = e;
    a->kind = kind;
    a->idx = e->nactors++;
    a->r = stream((uint64_t)e->n, (uint64_t)a->idx + 1);
    return a;
}

static void *thread_tramp(void *arg)
{
    actor *a = arg;
    a->fn(a);
    return NULL;
}

/* Start fn(a) as a G or, with a->as_thread, as a foreign thread (joined at the end). */
static void launch(epoch *e, actor *a, void (*fn)(void *))
{
    if (a->as_thread) {
        int i = atomic_fetch_add(&e->nthreads, 1);
        if (i >= MAXTHREADS) {
            fprintf(stderr, "chaos: too many threads\n");
            abort();
        }
        a->fn = fn;
        /* A fault window may be open (the disturbers start first): retry. */
        int rc;
        while ((rc = pthread_create(&e->threads[i], NULL, thread_tramp, a)) == EAGAIN)
            os_sleep(1000000);
        if (rc != 0) {
            fprintf(stderr, "chaos: pthread_create: %s\n", strerror(rc));
            abort();
        }
    } else {
        int64_t id;
        while ((id = rt_go(fn, a)) == RT_ENOMEM) {
            COUNT(enomem);
            os_sleep(1000000);
        }
        if (id <= 0) {
            FAIL("rt_go at epoch start = %s", rt_err_name((int)id));
            abort();
        }
    }
}

static void finish(actor *a, rt_wg *wg)
{
    WHERE(a, "finished");
    atomic_store(&a->finished, 1);
    rt_wg_done(wg);
}

/* ---- channel producers and consumers ------------------------------------------ */

static uint64_t msg_value(const chan_state *cs, int prod, int seq)
{
    return ((uint64_t)(cs->id + 1) << 48) | ((uint64_t)prod << 32) | (uint64_t)seq;
}

static void producer(void *arg)
{
    actor *a = arg;
    chan_state *cs = a->cs;
    epoch *e = a->e;
    int mode = (int)rnd(&a->r, 4); /* 0 send, 1 trysend, 2 select, 3 mixed */
    bool closed = false;
    for (int seq = 0; seq < cs->nmsgs && !closed; seq++) {
        uint64_t v = msg_value(cs, a->k, seq);
        int m = mode == 3 ? (int)rnd(&a->r, 3) : mode;
        for (;;) {
            int rc;
            if (m == 0) {
                WHERE(a, "rt_chan_send");
                rc = rt_chan_send(cs->c, &v);
                if (rc == RT_OK) {
                    COUNT(send_blocking);
                    break;
                }
                if (rc == RT_ECLOSED && cs->abrupt) {
                    closed = true;
                    break;
                }
                FAIL("rt_chan_send = %s", rt_err_name(rc));
                break;
            } else if (m == 1) {
                WHERE(a, "rt_chan_trysend loop");
                rc = rt_chan_trysend(cs->c, &v);
                if (rc == RT_OK) {
                    COUNT(send_try);
                    break;
                }
                if (rc == RT_ECLOSED && cs->abrupt) {
                    closed = true;
                    break;
                }
                if (rc != RT_EAGAIN) {
                    FAIL("rt_chan_trysend = %s", rt_err_name(rc));
                    break;
                }
                if (chance(&a->r, 10))
                    m = 0; /* both ends trying on an unbuffered channel never meet */
                else if (chance(&a->r, 50))
                    rt_gosched();
                else
                    any_sleep((int64_t)rnd(&a->r, 20000));
            } else {
                uint64_t junk = 0;
                rt_select_case cases[2] = {
                    {cs->c, RT_SEND, &v, -1},
                    {chance(&a->r, 50) ? e->never : NULL, RT_RECV, &junk, -1},
                };
                WHERE(a, "rt_select send");
                rc = rt_select(cases, 2, pick_timeout(&a->r, true));
                if (rc == 0) {
                    if (cases[0].result == RT_ECLOSED && cs->abrupt)
                        closed = true;
                    else if (cases[0].result != RT_OK)
                        FAIL("select send result %s", rt_err_name(cases[0].result));
                    else
                        COUNT(send_select);
                    break;
                }
                if (rc == RT_ETIMEDOUT)
                    COUNT(select_timeouts);
                else if (rc == RT_EAGAIN)
                    COUNT(select_eagain);
                else if (exhausted(rc))
                    any_sleep(100000);
                else {
                    FAIL("rt_select(send) = %s", rt_err_name(rc));
                    break;
                }
            }
        }
        if (closed) {
            COUNT(sends_closed);
            break;
        }
        cs->sent_upto[a->k] = seq + 1;
        atomic_fetch_add(&cs->sent_n, 1);
        atomic_fetch_add(&cs->sent_sum, mix64(v));
        COUNT(msgs_sent);
        if (chance(&a->r, 2))
            any_sleep((int64_t)rnd(&a->r, 50000));
    }
    atomic_fetch_add(&cs->prod_done, 1);
    rt_wg_done(&cs->prod_wg);
    finish(a, &e->work_wg);
}

/* Closes the channel once every producer is done. */
static void closer(void *arg)
{
    actor *a = arg;
    chan_state *cs = a->cs;
    if (cs->abrupt) {
        WHERE(a, "waiting to close abruptly");
        while (atomic_load(&cs->recv_n) < cs->close_at &&
               atomic_load(&cs->prod_done) < cs->nprod)
            any_sleep((int64_t)rnd(&a->r, 200000));
        COUNT(abrupt_closes);
    } else {
        WHERE(a, "rt_wg_wait producers");
        rt_wg_wait(&cs->prod_wg);
        COUNT(wg_waits);
    }
    EXPECT_RC(rt_chan_close(a->cs->c), RT_OK);
    finish(a, &a->e->work_wg);
}

static void got_value(actor *a, uint64_t v, int *last)
{
    chan_state *cs = a->cs;
    int ch = (int)(v >> 48) - 1, prod = (int)((v >> 32) & 0xffff), seq = (int)(v & 0xffffffff);
    if (ch != cs->id || prod >= cs->nprod || seq >= cs->nmsgs) {
        FAIL("channel %d: bad value %#" PRIx64, cs->id, v);
        return;
    }
    if (seq <= last[prod])
        FAIL("channel %d: consumer %d got seq %d of producer %d after %d", cs->id, a->idx,
             seq, prod, last[prod]);
    last[prod] = seq;
    uint64_t bit = (uint64_t)prod * (uint64_t)cs->nmsgs + (uint64_t)seq;
    uint64_t old = atomic_fetch_or(&cs->seen[bit / 64], 1ULL << (bit % 64));
    if (old & (1ULL << (bit % 64)))
        FAIL("channel %d: value %#" PRIx64 " received twice", cs->id, v);
    atomic_fetch_add(&cs->recv_n, 1);
    atomic_fetch_add(&cs->recv_sum, mix64(v));
    COUNT(msgs_recv);
}

static void consumer(void *arg)
{
    actor *a = arg;
    chan_state *cs = a->cs;
    epoch *e = a->e;
    int last[MAXPROD];
    for (int i = 0; i < MAXPROD; i++)
        last[i] = -1;
    int mode = (int)rnd(&a->r, 4); /* 0 recv, 1 tryrecv, 2 select, 3 mixed */
    int force = -1;
    for (bool done = false; !done;) {
        int m = force >= 0 ? force : mode == 3 ? (int)rnd(&a->r, 3) : mode;
        force = -1;
        uint64_t v = 0;
        int rc;
        if (m == 0) {
            WHERE(a, "rt_chan_recv");
            rc = rt_chan_recv(cs->c, &v);
            if (rc == RT_OK) {
                COUNT(recv_blocking);
                got_value(a, v, last);
            } else if (rc == RT_ECLOSED) {
                if (v != 0)
                    FAIL("recv on closed channel left %#" PRIx64, v);
                done = true;
            } else {
                FAIL("rt_chan_recv = %s", rt_err_name(rc));
                done = true;
            }
        } else if (m == 1) {
            WHERE(a, "rt_chan_tryrecv loop");
            rc = rt_chan_tryrecv(cs->c, &v);
            if (rc == RT_OK) {
                COUNT(recv_try);
                got_value(a, v, last);
            } else if (rc == RT_ECLOSED) {
                done = true;
            } else if (rc == RT_EAGAIN) {
                if (chance(&a->r, 10))
                    force = 0; /* both ends trying on an unbuffered channel never meet */
                else if (chance(&a->r, 50))
                    rt_gosched();
                else
                    any_sleep((int64_t)rnd(&a->r, 20000));
            } else {
                FAIL("rt_chan_tryrecv = %s", rt_err_name(rc));
                done = true;
            }
        } else {
            /* The data channel in 1-4 cases (each with its own element), the
             * ticker, and a channel nobody sends on or a NULL case, shuffled. */
            uint64_t elems[8] = {0};
            rt_select_case cases[8];
            int nd = 1 + (int)rnd(&a->r, 4), nc = 0;
            for (int k = 0; k < nd; k++)
                cases[nc++] = (rt_select_case){cs->c, RT_RECV, &elems[k], -1};
            int tick_at = nc;
            cases[nc] = (rt_select_case){e->tick, RT_RECV, &elems[nc], -1};
            nc++;
            cases[nc] = (rt_select_case){chance(&a->r, 50) ? e->never : NULL, RT_RECV,
                                         &elems[nc], -1};
            nc++;
            for (int k = nc - 1; k > 0; k--) {
                int o = (int)rnd(&a->r, (uint64_t)k + 1);
                rt_select_case t = cases[k];
                cases[k] = cases[o];
                cases[o] = t;
                if (tick_at == k)
                    tick_at = o;
                else if (tick_at == o)
                    tick_at = k;
            }
            if (nd > 1)
                COUNT(wide_selects);
            /* Forever only when ticks come or the channel closes: always true. */
            WHERE(a, "rt_select recv");
            rc = rt_select(cases, (size_t)nc, pick_timeout(&a->r, true));
            if (rc >= 0 && rc < nc && rc != tick_at && cases[rc].chan == cs->c) {
                uint64_t got = *(uint64_t *)cases[rc].elem;
                if (cases[rc].result == RT_OK) {
                    COUNT(recv_select);
                    got_value(a, got, last);
                } else if (cases[rc].result == RT_ECLOSED) {
                    if (got != 0)
                        FAIL("select recv on closed channel left %#" PRIx64, got);
                    done = true;
                } else {
                    FAIL("select recv result %s", rt_err_name(cases[rc].result));
                }
            } else if (rc == tick_at) {
                uint64_t tick = *(uint64_t *)cases[rc].elem;
                if (cases[rc].result != RT_OK || tick == 0)
                    FAIL("tick case result %s value %" PRIu64, rt_err_name(cases[rc].result),
                         tick);
                atomic_fetch_add(&e->ticks_recv, 1);
                COUNT(ticks_recv);
            } else if (rc >= 0) {
                FAIL("rt_select chose case %d (chan %p), which cannot proceed", rc,
                     (void *)cases[rc].chan);
            } else if (rc == RT_ETIMEDOUT) {
                COUNT(select_timeouts);
            } else if (rc == RT_EAGAIN) {
                COUNT(select_eagain);
            } else if (exhausted(rc)) {
                any_sleep(100000);
            } else {
                FAIL("rt_select(recv) = %s", rt_err_name(rc));
                done = true;
            }
        }
    }
    finish(a, &e->work_wg);
}

/* ---- poll pairs --------------------------------------------------------------------- */

static unsigned char pattern(const poll_pair *pp, long i)
{
    return (unsigned char)((i * 7 + pp->id * 13 + (i >> 9)) & 0xff);
}

/* rt_poll_fd in a G, with a random timeout; true when the fd is ready. */
static bool g_poll(actor *a, int fd, uint32_t ev)
{
    int64_t t = pick_timeout(&a->r, true);
    WHERE(a, ev == RT_POLLIN ? "rt_poll_fd in" : "rt_poll_fd out");
    int rc = rt_poll_fd(fd, ev, t);
    COUNT(poll_waits);
    if (rc > 0) {
        if (!(rc & (int)ev))
            FAIL("rt_poll_fd(%d, %u) = %d", fd, ev, rc);
        return true;
    }
    if (rc == RT_ETIMEDOUT && t != 0 && t != -1)
        COUNT(poll_timeouts);
    else if (rc == RT_EAGAIN && t == 0)
        COUNT(poll_eagain);
    else if (exhausted(rc))
        any_sleep(100000);
    else
        FAIL("rt_poll_fd(%d, %u, %" PRId64 ") = %s", fd, ev, t, rt_err_name(rc));
    return false;
}

static void poll_g(void *arg)
{
    actor *a = arg;
    poll_pair *pp = a->extra;
    unsigned char buf[4096];
    long done = 0;
    if (pp->g_reads) {
        for (;;) {
            size_t want = 1 + rnd(&a->r, sizeof buf);
            ssize_t n = read(pp->gfd, buf, want);
            if (n > 0) {
                for (ssize_t i = 0; i < n; i++)
                    if (buf[i] != pattern(pp, done + i)) {
                        FAIL("poll pair %d: byte %ld is %u, want %u", pp->id, done + i,
                             buf[i], pattern(pp, done + i));
                        break;
                    }
                done += n;
                COUNT_N(poll_bytes, (unsigned long)n);
            } else if (n == 0) {
                break;
            } else if (errno == EAGAIN) {
                g_poll(a, pp->gfd, RT_POLLIN);
            } else if (errno != EINTR) {
                FAIL("poll pair %d: read: %s", pp->id, strerror(errno));
                break;
            }
        }
        if (done != pp->nbytes)
            FAIL("poll pair %d: read %ld bytes, want %ld", pp->id, done, pp->nbytes);
    } else {
        while (done < pp->nbytes) {
            size_t want = 1 + rnd(&a->r, sizeof buf);
            if ((long)want > pp->nbytes - done)
                want = (size_t)(pp->nbytes - done);
            for (size_t i = 0; i < want; i++)
                buf[i] = pattern(pp, done + (long)i);
            ssize_t n = write(pp->gfd, buf, want);
            if (n > 0) {
                done += n;
                COUNT_N(poll_bytes, (unsigned long)n);
            } else if (n < 0 && errno == EAGAIN) {
                g_poll(a, pp->gfd, RT_POLLOUT);
            } else if (!(n < 0 && errno == EINTR)) {
                FAIL("poll pair %d: write: %s", pp->id, strerror(errno));
                break;
            }
        }
    }
    close(pp->gfd);
    finish(a, &a->e->work_wg);
}

static void poll_thread(void *arg)
{
    actor *a = arg;
    poll_pair *pp = a->extra;
    unsigned char buf[4096];
    long done = 0;
    if (pp->g_reads) {
        while (done < pp->nbytes) {
            size_t want = 1 + rnd(&a->r, sizeof buf);
            if ((long)want > pp->nbytes - done)
                want = (size_t)(pp->nbytes - done);
            for (size_t i = 0; i < want; i++)
                buf[i] = pattern(pp, done + (long)i);
            ssize_t n = write(pp->tfd, buf, want);
            if (n > 0)
                done += n;
            else if (!(n < 0 && errno == EINTR)) {
                FAIL("poll pair %d: thread write: %s", pp->id, strerror(errno));
                break;
            }
            if (chance(&a->r, 20))
                os_sleep((int64_t)rnd(&a->r, 500000));
        }
    } else {
        for (;;) {
            ssize_t n = read(pp->tfd, buf, 1 + rnd(&a->r, sizeof buf));
            if (n > 0) {
                for (ssize_t i = 0; i < n; i++)
                    if (buf[i] != pattern(pp, done + i)) {
                        FAIL("poll pair %d: thread byte %ld is %u", pp->id, done + i, buf[i]);
                        break;
                    }
                done += n;
            } else if (n == 0) {
                break;
            } else if (errno != EINTR) {
                FAIL("poll pair %d: thread read: %s", pp->id, strerror(errno));
                break;
            }
            if (chance(&a->r, 20))
                os_sleep((int64_t)rnd(&a->r, 500000));
        }
        if (done != pp->nbytes)
            FAIL("poll pair %d: thread read %ld bytes, want %ld", pp->id, done, pp->nbytes);
    }
    close(pp->tfd);
    finish(a, &a->e->work_wg);
}

/* ---- mutex and wait group ----------------------------------------------------------- */

static void mutex_worker(void *arg)
{
    actor *a = arg;
    mutex_group *mg = &a->e->mg;
    for (int i = 0; i < mg->iters; i++) {
        WHERE(a, "rt_mutex_lock");
        if (chance(&a->r, 20)) {
            while (!rt_mutex_trylock(&mg->mu))
                rt_gosched();
            COUNT(mutex_trylocks);
        } else {
            rt_mutex_lock(&mg->mu);
            COUNT(mutex_locks);
        }
        long v = mg->counter;
        unsigned what = (unsigned)rnd(&a->r, 20);
        if (what == 0)
            rt_gosched();
        else if (what == 1)
            any_sleep((int64_t)rnd(&a->r, 10000));
        mg->counter = v + 1;
        rt_mutex_unlock(&mg->mu);
    }
    rt_wg_done(&mg->wg);
    finish(a, &a->e->work_wg);
}

static void mutex_waiter(void *arg)
{
    actor *a = arg;
    mutex_group *mg = &a->e->mg;
    WHERE(a, "rt_wg_wait mutex workers");
    rt_wg_wait(&mg->wg);
    COUNT(wg_waits);
    rt_mutex_lock(&mg->mu);
    if (mg->counter != (long)mg->workers * mg->iters)
        FAIL("mutex counter %ld, want %ld", mg->counter, (long)mg->workers * mg->iters);
    rt_mutex_unlock(&mg->mu);
    finish(a, &a->e->work_wg);
}

/* ---- wired Gs ----------------------------------------------------------------------- */

static void locked_g(void *arg)
{
    actor *a = arg;
    locked_pair *lp = a->extra;
    EXPECT_RC(rt_lockosthread(), RT_OK);
    COUNT(locked_gs);
    pid_t tid = gettid_();
    for (int i = 0; i < lp->rounds; i++) {
        uint64_t v = (uint64_t)i * 2 + 1, w = 0;
        WHERE(a, "locked ping-pong");
        EXPECT_RC(rt_chan_send(lp->ping, &v), RT_OK);
        EXPECT_RC(rt_chan_recv(lp->pong, &w), RT_OK);
        WHERE(a, "locked round");
        if (w != v + 1)
            FAIL("locked G: pong %" PRIu64 ", want %" PRIu64, w, v + 1);
        switch (rnd(&a->r, 4)) {
        case 0:
            rt_gosched();
            break;
        case 1:
            any_sleep((int64_t)rnd(&a->r, 200000));
            break;
        case 2:
            EXPECT_RC(rt_entersyscall(), RT_OK);
            os_sleep((int64_t)rnd(&a->r, 200000));
            EXPECT_RC(rt_exitsyscall(), RT_OK);
            break;
        default:
            break;
        }
        if (gettid_() != tid)
            FAIL("wired G moved from thread %d to %d", (int)tid, (int)gettid_());
        COUNT(locked_rounds);
    }
    finish(a, &a->e->work_wg);
    if (lp->exit_locked) {
        COUNT(locked_exits); /* returns wired: the G takes its M's thread along */
        return;
    }
    EXPECT_RC(rt_unlockosthread(), RT_OK);
}

static void locked_partner(void *arg)
{
    actor *a = arg;
    locked_pair *lp = a->extra;
    for (int i = 0; i < lp->rounds; i++) {
        uint64_t v = 0;
        WHERE(a, "partner ping-pong");
        EXPECT_RC(rt_chan_recv(lp->ping, &v), RT_OK);
        v++;
        EXPECT_RC(rt_chan_send(lp->pong, &v), RT_OK);
    }
    finish(a, &a->e->work_wg);
}

/* ---- system calls ------------------------------------------------------------------- */

static void syscall_g(void *arg)
{
    actor *a = arg;
    int rounds = 5 + (int)rnd(&a->r, 40);
    for (int i = 0; i < rounds; i++) {
        WHERE(a, "syscall round");
        EXPECT_RC(rt_entersyscall(), RT_OK);
        if (chance(&a->r, 50))
            os_sleep((int64_t)rnd(&a->r, 2000000));
        else
            (void)poll(NULL, 0, (int)rnd(&a->r, 3));
        EXPECT_RC(rt_exitsyscall(), RT_OK);
        COUNT(syscalls);
        if (chance(&a->r, 30))
            rt_gosched();
    }
    finish(a, &a->e->work_wg);
}

/* ---- fork ------------------------------------------------------------------------ */

static void child_fail(const char *what, int rc)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf, "chaos: fork child %d: %s: %s\n", (int)getpid(), what,
                     rt_err_name(rc));
    if (n > 0)
        (void)!write(2, buf, (size_t)n);
}

static atomic_int child_bad;

static void child_producer(void *arg)
{
    rt_chan *c = arg;
    for (uint64_t i = 1; i <= 500; i++)
        if (rt_chan_send(c, &i) != RT_OK)
            atomic_store(&child_bad, 1);
}

static void child_main(void *arg)
{
    (void)arg;
    rt_chan *c;
    int rc = rt_chan_make(8, (size_t)(getpid() % 4), &c);
    if (rc != RT_OK) {
        child_fail("rt_chan_make", rc);
        atomic_store(&child_bad, 1);
        return;
    }
    for (int i = 0; i < 2; i++)
        if (rt_go(child_producer, c) <= 0)
            atomic_store(&child_bad, 1);
    uint64_t sum = 0, v;
    for (int i = 0; i < 1000; i++) {
        if ((rc = rt_chan_recv(c, &v)) != RT_OK) {
            child_fail("rt_chan_recv", rc);
            atomic_store(&child_bad, 1);
            break;
        }
        sum += v;
    }
    if (sum != 2 * 500 * 501 / 2) {
        child_fail("channel sum", (int)sum);
        atomic_store(&child_bad, 1);
    }
    rt_select_case sc = {c, RT_RECV, &v, -1};
    if ((rc = rt_select(&sc, 1, 1000000)) != RT_ETIMEDOUT) {
        child_fail("rt_select timeout", rc);
        atomic_store(&child_bad, 1);
    }
    rt_chan_free(c);
    int p[2];
    if (pipe(p) == 0) {
        char ch = 'x';
        (void)!write(p[1], &ch, 1);
        if ((rc = rt_poll_fd(p[0], RT_POLLIN, 5000000000LL)) != RT_POLLIN) {
            child_fail("rt_poll_fd", rc);
            atomic_store(&child_bad, 1);
        }
        close(p[0]);
        close(p[1]);
    }
    if ((rc = rt_sleep(100000)) != RT_OK) {
        child_fail("rt_sleep", rc);
        atomic_store(&child_bad, 1);
    }
}

/* In the child of a fork: a fresh runtime, a checked workload, the exit status. */
static void __attribute__((noreturn)) fork_child(void)
{
    alarm(20); /* a hang dies of SIGALRM, which the parent reports */
    atomic_store(&child_bad, 0);
    /* The child's own signal storm, against its own threads. */
    pthread_t storm;
    atomic_store(&run_stop, 0);
    bool storming = opt_signals && pthread_create(&storm, NULL, storm_thread, NULL) == 0;
    rt_config cfg = {.size = sizeof cfg, .maxprocs = 2};
    int rc = rt_init(&cfg);
    if (rc != RT_OK) {
        child_fail("rt_init", rc);
        _exit(10);
    }
    if ((rc = rt_main(child_main, NULL)) != RT_OK) {
        child_fail("rt_main", rc);
        _exit(11);
    }
    if ((rc = rt_shutdown(10000000000LL)) != RT_OK) {
        child_fail("rt_shutdown", rc);
        _exit(12);
    }
    if (storming) {
        atomic_store(&run_stop, 1);
        pthread_join(storm, NULL);
    }
    _exit(atomic_load(&child_bad) ? 13 : 0);
}

static void check_child(pid_t pid, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        COUNT(fork_children_ok);
        return;
    }
    if (WIFSIGNALED(status))
        FAIL("fork child %d killed by signal %d (%s)", (int)pid, WTERMSIG(status),
             strsignal(WTERMSIG(status)));
    else
        FAIL("fork child %d exited %d", (int)pid, WEXITSTATUS(status));
}

static void fork_g(void *arg)
{
    actor *a = arg;
    any_sleep((int64_t)rnd(&a->r, 50000000));
    while (pthread_mutex_trylock(&fault_lock) != 0)
        any_sleep(1000000);
    pid_t pid = fork();
    if (pid == 0)
        fork_child();
    pthread_mutex_unlock(&fault_lock);
    if (pid < 0) {
        if (errno != EAGAIN && errno != ENOMEM)
            FAIL("fork: %s", strerror(errno));
    } else {
        COUNT(forks_from_g);
        int status;
        pid_t w;
        WHERE(a, "waitpid loop");
        while ((w = waitpid(pid, &status, WNOHANG)) == 0)
            any_sleep(1000000);
        if (w != pid)
            FAIL("waitpid: %s", strerror(errno));
        else
            check_child(pid, status);
    }
    finish(a, &a->e->work_wg);
}

static void *fork_thread(void *arg)
{
    epoch *e = arg;
    rng r = stream((uint64_t)e->n, 1000);
    while (!atomic_load(&e->stop)) {
        os_sleep(20000000 + (int64_t)rnd(&r, 200000000));
        if (atomic_load(&e->stop))
            break;
        pthread_mutex_lock(&fault_lock);
        pid_t pid = fork();
        if (pid == 0)
            fork_child();
        pthread_mutex_unlock(&fault_lock);
        if (pid < 0)
            continue;
        COUNT(forks_from_thread);
        int status;
        pid_t w;
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
            ;
        if (w != pid)
            FAIL("waitpid: %s", strerror(errno));
        else
            check_child(pid, status);
    }
    return NULL;
}

/* ---- disturber Gs ------------------------------------------------------------------- */

static void ticker(void *arg)
{
    actor *a = arg;
    epoch *e = a->e;
    uint64_t t = 0;
    while (!atomic_load(&e->stop)) {
        any_sleep(50000 + (int64_t)rnd(&a->r, 1000000));
        t++;
        int rc = rt_chan_trysend(e->tick, &t);
        if (rc == RT_OK) {
            atomic_fetch_add(&e->ticks_sent, 1);
            COUNT(ticks_sent);
        } else if (rc != RT_EAGAIN) {
            FAIL("tick trysend = %s", rt_err_name(rc));
        }
    }
    finish(a, &e->dist_wg);
}

static _Thread_local int spawn_tls; /* not used across switches: just touched */

static void spawned(void *arg)
{
    actor *a = arg;
    epoch *e = a->e;
    uint64_t h = mix64((uint64_t)rt_goid());
    atomic_fetch_add(&e->spawn_ran, 1);
    spawn_tls++;
    rt_wg *wg = &((rt_wg *)a->extra)[0];
    switch (h % 5) {
    case 0:
        rt_gosched();
        break;
    case 1:
        any_sleep((int64_t)(h % 100000));
        break;
    case 2:
        rt_wg_done(wg);
        COUNT(gs_goexit);
        rt_goexit();
        FAIL("rt_goexit returned");
        return;
    default:
        break;
    }
    rt_wg_done(wg);
}

static void spawner(void *arg)
{
    actor *a = arg;
    epoch *e = a->e;
    rt_wg wg = RT_WG_INIT;
    actor child = *a;
    child.extra = &wg;
    while (!atomic_load(&e->stop)) {
        /* Mostly small batches; now and then a crowd (queues and free lists grow). */
        int n = chance(&a->r, 3) ? 200 + (int)rnd(&a->r, 2000) : 1 + (int)rnd(&a->r, 32);
        for (int i = 0; i < n; i++) {
            rt_wg_add(&wg, 1);
            int64_t id = rt_go(spawned, &child);
            if (id > 0) {
                atomic_fetch_add(&e->spawned, 1);
                COUNT(gs_spawned);
            } else {
                rt_wg_done(&wg);
                if (!exhausted((int)id))
                    FAIL("rt_go = %s", rt_err_name((int)id));
            }
        }
        rt_wg_wait(&wg);
        COUNT(wg_waits);
        any_sleep((int64_t)rnd(&a->r, 2000000));
    }
    finish(a, &e->dist_wg);
}

static void chan_churn(void *arg)
{
    actor *a = arg;
    epoch *e = a->e;
    static const size_t caps[] = {0, 1, 7, 1024, 1 << 16};
    while (!atomic_load(&e->stop)) {
        rt_chan *c;
        size_t cap = caps[rnd(&a->r, sizeof caps / sizeof caps[0])];
        int rc = rt_chan_make(8, cap, &c);
        if (rc == RT_OK) {
            uint64_t v = 42, w = 0;
            int want = cap ? RT_OK : RT_EAGAIN;
            EXPECT_RC(rt_chan_trysend(c, &v), want);
            EXPECT_RC(rt_chan_tryrecv(c, &w), want);
            if (cap && w != 42)
                FAIL("churn channel value %" PRIu64, w);
            EXPECT_RC(rt_chan_free(c), RT_OK);
            COUNT(chan_churn);
        } else if (!exhausted(rc)) {
            FAIL("rt_chan_make = %s", rt_err_name(rc));
        }
        any_sleep((int64_t)rnd(&a->r, 3000000));
    }
    finish(a, &e->dist_wg);
}

static void pipe_churn(void *arg)
{
    actor *a = arg;
    epoch *e = a->e;
    while (!atomic_load(&e->stop)) {
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
            if (errno == EMFILE || errno == ENFILE)
                COUNT(emfile);
            else
                FAIL("pipe2: %s", strerror(errno));
        } else {
            char c = 'p';
            if (write(p[1], &c, 1) != 1)
                FAIL("pipe churn write: %s", strerror(errno));
            int rc = rt_poll_fd(p[0], RT_POLLIN, chance(&a->r, 50) ? 0 : -1);
            if (rc == RT_POLLIN) {
                if (read(p[0], &c, 1) != 1)
                    FAIL("pipe churn read: %s", strerror(errno));
                COUNT(pipe_churn);
            } else if (!exhausted(rc)) {
                FAIL("pipe churn rt_poll_fd = %s", rt_err_name(rc));
            }
            close(p[0]);
            close(p[1]);
        }
        any_sleep((int64_t)rnd(&a->r, 3000000));
    }
    finish(a, &e->dist_wg);
}

static void sentinel(void *arg)
{
    actor *a = arg;
    uint64_t v;
    EXPECT_RC(rt_chan_recv(a->e->sentinel, &v), RT_ECLOSED);
    finish(a, &a->e->dist_wg);
}

/* ---- disturber threads ------------------------------------------------------------ */

static void *gomaxprocs_thread(void *arg)
{
    epoch *e = arg;
    rng r = stream((uint64_t)e->n, 1001);
    while (!atomic_load(&e->stop)) {
        int n = 1 + (int)rnd(&r, 6);
        int rc = rt_gomaxprocs(n);
        if (rc > 0)
            COUNT(gomaxprocs_sets);
        else if (!exhausted(rc))
            FAIL("rt_gomaxprocs(%d) = %s", n, rt_err_name(rc));
        os_sleep(100000 + (int64_t)rnd(&r, 5000000));
    }
    return NULL;
}

/* Small Gs an adopted thread starts: a wait group, and the count of those not done
 * (rt_wg has no try-wait). */
typedef struct small_set {
    rt_wg wg;
    atomic_int left;
} small_set;

static void small_g(void *arg);

static bool small_add(small_set *ss)
{
    rt_wg_add(&ss->wg, 1);
    atomic_fetch_add(&ss->left, 1);
    int64_t id = rt_go(small_g, ss);
    if (id > 0)
        return true;
    atomic_fetch_sub(&ss->left, 1);
    rt_wg_done(&ss->wg);
    if (!exhausted((int)id))
        FAIL("rt_go from an adopted thread = %s", rt_err_name((int)id));
    return false;
}

static void small_g(void *arg)
{
    small_set *ss = arg;
    rt_gosched();
    atomic_fetch_sub(&ss->left, 1);
    rt_wg_done(&ss->wg);
}

static void adopt_acquirep_body(rng *r)
{
    rt_p *p = rt_p_get((int)rnd(r, 6));
    if (!p)
        return; /* beyond the current rt_gomaxprocs */
    int rc = rt_acquirep(p);
    if (rc == RT_EBUSY || rc == RT_EINVAL) {
        COUNT(adopt_busy); /* running, promised, or died since rt_p_get */
        return;
    }
    if (rc != RT_OK) {
        if (!exhausted(rc))
            FAIL("rt_acquirep = %s", rt_err_name(rc));
        return;
    }
    COUNT(adopt_acquirep);
    if (rt_getp() != p)
        FAIL("rt_getp after rt_acquirep");
    small_set ss = {RT_WG_INIT, 0};
    int n = (int)rnd(r, 4);
    for (int i = 0; i < n; i++)
        small_add(&ss);
    /* It may run a G that wires itself to this thread: then it returns once that G
     * has unlocked or exited (c-tests/t_wired_g_outlives_adopted_m.c). */
    rc = rt_schedule(RT_SCHED_ONCE);
    if (rc < 0)
        FAIL("rt_schedule(ONCE) = %s", rt_err_name(rc));
    else
        COUNT_N(sched_once_gs, (unsigned long)rc);
    if (chance(r, 15)) {
        /* Exit holding the P: the thread-exit destructor gives it and the M back.
         * Our Gs first: run them here, since with one P left (GOMAXPROCS shrank)
         * nobody else could. */
        while (rt_getp() && atomic_load(&ss.left) != 0 && rt_schedule(RT_SCHED_ONCE) >= 0)
            sched_yield();
        rt_wg_wait(&ss.wg);
        COUNT(exit_holding_p);
        return;
    }
    /* Maybe another P: one of our Gs left a system call after its P was handed on,
     * and the M took the first P that came free (documented). */
    rt_p *q = rt_releasep();
    if (!q)
        FAIL("rt_releasep gave NULL after rt_acquirep");
    if (q) {
        rc = rt_p_put(q);
        if (rc != RT_OK && rc != RT_EINVAL) /* EINVAL: died in a shrink meanwhile */
            FAIL("rt_p_put = %s", rt_err_name(rc));
    }
    rt_wg_wait(&ss.wg);
}

static void adopt_main_g(void *arg)
{
    rng *r = arg;
    rt_chan *c;
    int rc = rt_chan_make(8, rnd(r, 3), &c);
    if (rc != RT_OK) {
        if (!exhausted(rc))
            FAIL("rt_chan_make = %s", rt_err_name(rc));
        return;
    }
    small_set ss = {RT_WG_INIT, 0};
    small_add(&ss);
    uint64_t v = 7, w = 0;
    EXPECT_RC(rt_chan_trysend(c, &v), rt_chan_cap(c) ? RT_OK : RT_EAGAIN);
    if (rt_chan_cap(c)) {
        EXPECT_RC(rt_chan_recv(c, &w), RT_OK);
        if (w != 7)
            FAIL("adopted rt_main channel value %" PRIu64, w);
    }
    rt_wg_wait(&ss.wg);
    EXPECT_RC(rt_chan_free(c), RT_OK);
}

typedef struct adopt_arg {
    epoch *e;
    rng r;
} adopt_arg;

static void *adopted_thread(void *arg)
{
    rng r = ((adopt_arg *)arg)->r;
    if (chance(&r, 50)) {
        adopt_acquirep_body(&r);
    } else {
        int rc = rt_main(adopt_main_g, &r);
        if (rc == RT_OK)
            COUNT(adopt_rt_main);
        else if (!exhausted(rc))
            FAIL("rt_main on a foreign thread = %s", rt_err_name(rc));
    }
    return NULL; /* the thread exits: its M is given back */
}

static void m_start(void *arg) { (void)arg; }

static void *adopt_thread(void *arg)
{
    epoch *e = arg;
    rng r = stream((uint64_t)e->n, 1002);
    int newms = 0;
    while (!atomic_load(&e->stop)) {
        if (chance(&r, 5) && newms++ < 8) {
            int rc = rt_newm(m_start, NULL, NULL, NULL);
            if (rc == RT_OK)
                COUNT(newm);
            else if (rc == RT_EAGAIN)
                COUNT(eagain_thread);
            else if (!exhausted(rc))
                FAIL("rt_newm = %s", rt_err_name(rc));
        } else {
            pthread_t t;
            adopt_arg sub = {e, {next(&r)}};
            int rc = pthread_create(&t, NULL, adopted_thread, &sub);
            if (rc == 0)
                pthread_join(t, NULL);
            else
                COUNT(eagain_thread);
        }
        os_sleep((int64_t)rnd(&r, 10000000));
    }
    return NULL;
}

/* ---- resource exhaustion ---------------------------------------------------------- */

static long vm_size_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    long pages = 0;
    for (char *s = buf; *s >= '0' && *s <= '9'; s++)
        pages = pages * 10 + (*s - '0');
    return pages * sysconf(_SC_PAGESIZE);
}

static void oom_window(rng *r)
{
    static const long slack[] = {0, 64 << 10, 1 << 20, 8 << 20};
    struct rlimit old, low;
    getrlimit(RLIMIT_AS, &old);
    long vm = vm_size_bytes();
    if (vm < 0)
        return;
    low = old;
    low.rlim_cur = (rlim_t)(vm + (opt_oom_hard ? 0 : slack[rnd(r, 4)]));
    if (setrlimit(RLIMIT_AS, &low) != 0)
        return;
    COUNT(oom_windows);
    if (opt_oom_hard)
        os_sleep(50000000 + (int64_t)rnd(r, 100000000));
    else
        os_sleep(2000000 + (int64_t)rnd(r, 20000000));
    if (setrlimit(RLIMIT_AS, &old) != 0) {
        fprintf(stderr, "chaos: cannot restore RLIMIT_AS\n");
        abort();
    }
}

static int fill_fds[4096];

static void fd_window(rng *r)
{
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int hi = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            hi = fd;
    low = old;
    low.rlim_cur = (rlim_t)hi + 1 + (rlim_t)rnd(r, 3);
    if (low.rlim_cur > old.rlim_cur)
        return;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0)
        return;
    int n = 0;
    while (n < 4096) {
        int fd = fcntl(2, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            break;
        fill_fds[n++] = fd;
    }
    COUNT(fd_windows);
    os_sleep(2000000 + (int64_t)rnd(r, 20000000));
    for (int i = 0; i < n; i++)
        close(fill_fds[i]);
    if (setrlimit(RLIMIT_NOFILE, &old) != 0) {
        fprintf(stderr, "chaos: cannot restore RLIMIT_NOFILE\n");
        abort();
    }
}

static void *fault_thread(void *arg)
{
    epoch *e = arg;
    rng r = stream((uint64_t)e->n, 1003);
    while (!atomic_load(&e->stop)) {
        if (opt_oom_hard)
            os_sleep(1000000 + (int64_t)rnd(&r, 10000000));
        else
            os_sleep(5000000 + (int64_t)rnd(&r, 100000000));
        if (atomic_load(&e->stop))
            break;
        bool oom = opt_oom && (!opt_fds || chance(&r, 50));
        if (!oom && !opt_fds)
            continue;
        pthread_mutex_lock(&fault_lock);
        if (oom)
            oom_window(&r);
        else
            fd_window(&r);
        pthread_mutex_unlock(&fault_lock);
    }
    return NULL;
}

/* ---- signal storms (whole run) ------------------------------------------------------ */

static void on_sigusr1(int sig)
{
    (void)sig;
    COUNT(signals_handled);
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* The process's threads from /proc/self/task into tids (at most cap), without malloc
 * (no opendir). -1 if the directory cannot be opened (out of fds). */
static int list_tids(int *tids, int cap)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[8192];
    int n = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (d->d_name[0] >= '0' && d->d_name[0] <= '9' && n < cap)
                tids[n++] = atoi(d->d_name);
            off += d->d_reclen;
        }
    }
    close(fd);
    return n;
}

static void *storm_thread(void *arg)
{
    (void)arg;
    rng r = stream(UINT64_MAX, 1004);
    pid_t me = gettid_(), pid = getpid();
    static int tids[1024];
    int ntids = 0;
    while (!atomic_load(&run_stop)) {
        uint64_t until = now_ns() + 5000000 + rnd(&r, 100000000);
        COUNT(storms);
        for (int i = 0; now_ns() < until && !atomic_load(&run_stop); i++) {
            if (i % 20 == 0) {
                int n = list_tids(tids, 1024);
                if (n >= 0) /* else out of fds: keep the old list */
                    ntids = n;
            }
            for (int k = 0; k < ntids; k++)
                if (tids[k] != me && syscall(SYS_tgkill, pid, tids[k], SIGUSR1) == 0)
                    COUNT(signals_sent);
            os_sleep(50000);
        }
        os_sleep((int64_t)rnd(&r, 200000000));
    }
    return NULL;
}

/* ---- watchdog ----------------------------------------------------------------------- */

static epoch *volatile cur_e;

static void *watchdog_thread(void *arg)
{
    (void)arg;
    unsigned long last = progress();
    int still = 0;
    while (!atomic_load(&run_stop)) {
        os_sleep(1000000000);
        unsigned long p = progress();
        if (p != last) {
            last = p;
            still = 0;
            continue;
        }
        if (++still < opt_watchdog)
            continue;
        fprintf(stderr,
                "chaos: HANG: no progress for %d s (seed=%" PRIu64 " epoch=%ld); "
                "replay: chaos --seed %" PRIu64 " --from %ld --epochs 1\n",
                opt_watchdog, opt_seed, atomic_load(&cur_epoch), opt_seed,
                atomic_load(&cur_epoch));
        for (int i = 0; i < NCOUNTERS; i++)
            fprintf(stderr, "chaos:   %s=%lu\n", counter_names[i], atomic_load(&counters[i]));
        epoch *e = cur_e;
        if (e) {
            fprintf(stderr, "chaos: epoch maxprocs=%d%s stop=%d nchan=%d npoll=%d\n",
                    e->maxprocs, e->migrate ? " MRT_DEBUG=migrate" : "",
                    atomic_load(&e->stop), e->nchan, e->npoll);
            for (int i = 0; i < e->nchan; i++)
                fprintf(stderr, "chaos:   chan %d: sent %lu recv %lu of %d, len %zu cap %zu\n",
                        i, atomic_load(&e->chans[i].sent_n), atomic_load(&e->chans[i].recv_n),
                        e->chans[i].nprod * e->chans[i].nmsgs, rt_chan_len(e->chans[i].c),
                        rt_chan_cap(e->chans[i].c));
        }
        if (e) {
            static const char *kinds[] = {"disturber G", "producer", "consumer", "closer",
                                          "poll", "mutex", "wired", "syscall", "fork"};
            for (int i = 0; i < e->nactors; i++) {
                actor *a = &e->actors[i];
                if (atomic_load(&a->finished) || a->kind == 0)
                    continue;
                const char *w = atomic_load(&a->where);
                fprintf(stderr, "chaos:   actor %d (%s%s, chan %d): %s\n", i, kinds[a->kind],
                        a->as_thread ? " thread" : " G", a->cs ? a->cs->id : -1,
                        w ? w : "starting");
            }
        }
        rt_stats st = {.size = sizeof st};
        if (rt_getstats(&st) == RT_OK)
            fprintf(stderr,
                    "chaos: stats: maxprocs=%d idle_procs=%d threads=%" PRId64
                    " idle_threads=%" PRId64 " goroutines=%" PRId64 " runnable=%" PRId64
                    " global_runq=%" PRId64 "\n",
                    st.maxprocs, st.idle_procs, st.threads, st.idle_threads, st.goroutines,
                    st.runnable, st.global_runq);
        rt_dump(2);
        fflush(stderr);
        if (getenv("CHAOS_HANG_WAIT")) { /* keep the process for a debugger */
            fprintf(stderr, "chaos: pid %d waits for a debugger\n", (int)getpid());
            for (;;)
                pause();
        }
        _exit(3);
    }
    return NULL;
}

/* ---- leaks across epochs -------------------------------------------------------------- */

/* Open fds, counting the netpoller's epoll instance and eventfd once at most: the
 * runtime makes them at the first rt_poll_fd that needs them and keeps them for the
 * life of the process, across rt_shutdown and rt_init (docs/design.md). A second
 * instance of either counts. */
static int count_fds(void)
{
    int n = 0, epolls = 0, eventfds = 0;
    for (int fd = 0; fd < 4096; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            continue;
        char path[64], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len > 0 ? len : 0] = 0;
        if (!strcmp(target, "anon_inode:[eventpoll]") && epolls++ == 0)
            continue;
        if (!strcmp(target, "anon_inode:[eventfd]") && eventfds++ == 0)
            continue;
        n++;
    }
    return n;
}

static int count_threads(void)
{
    static int tids[1024];
    return list_tids(tids, 1024);
}

static int base_fds, base_threads;

/* After rt_shutdown every runtime-created M has been joined and every fd of the
 * runtime closed: the process is back to the harness's own threads and fds. The
 * signal storm opens /proc/self/task for a moment, and an M that was leaving gets a
 * little longer, so a difference must last (up to 5 s) to count. */
static void check_no_leaks(long n)
{
    int fds = 0, threads = 0;
    for (int i = 0; i < 500; i++) {
        fds = count_fds();
        threads = count_threads();
        if (fds <= base_fds && threads <= base_threads)
            return;
        os_sleep(10000000);
    }
    if (fds > base_fds) {
        FAIL("epoch %ld: %d fds open after rt_shutdown, %d before the first rt_init", n, fds,
             base_fds);
        for (int fd = 0; fd < 4096; fd++) {
            char path[64], target[256];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            ssize_t len = readlink(path, target, sizeof target - 1);
            if (len > 0) {
                target[len] = 0;
                fprintf(stderr, "chaos:   fd %d: %s\n", fd, target);
            }
        }
    }
    if (threads > base_threads)
        FAIL("epoch %ld: %d threads after rt_shutdown, %d before the first rt_init", n,
             threads, base_threads);
}

/* ---- one epoch ------------------------------------------------------------------------ */

static void run_epoch(long n)
{
    epoch *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->n = n;
    atomic_store(&cur_epoch, n);
    rng r = stream((uint64_t)n, 0);
    static const size_t gstacks[] = {0, 32768, 65536, 262144};
    e->maxprocs = 1 + (int)rnd(&r, 4);
    rt_config cfg = {.size = sizeof cfg,
                     .maxprocs = e->maxprocs,
                     .g_stack_size = gstacks[rnd(&r, 4)]};
    /* rt_init reads MRT_DEBUG (migrate: every yield moves the G to another M) and,
     * for maxprocs 0, MRT_MAXPROCS. No other thread reads the environment now. */
    if (chance(&r, 25) || opt_migrate) {
        setenv("MRT_DEBUG", "migrate", 1);
        e->migrate = true;
        COUNT(migrate_epochs);
    } else {
        unsetenv("MRT_DEBUG");
    }
    if (chance(&r, 20)) {
        char buf[8];
        snprintf(buf, sizeof buf, "%d", e->maxprocs);
        setenv("MRT_MAXPROCS", buf, 1);
        cfg.maxprocs = 0;
    }
    int rc;
    if (opt_oom && chance(&r, 10)) {
        /* rt_init with the address space nearly exhausted: RT_OK or RT_ENOMEM with
         * nothing left behind (the next rt_init, with room, must work). */
        struct rlimit old, low;
        getrlimit(RLIMIT_AS, &old);
        long vm = vm_size_bytes();
        low = old;
        low.rlim_cur = (rlim_t)(vm + (long)rnd(&r, 4 << 20));
        pthread_mutex_lock(&fault_lock);
        bool lowered = vm > 0 && setrlimit(RLIMIT_AS, &low) == 0;
        rc = rt_init(&cfg);
        if (lowered && setrlimit(RLIMIT_AS, &old) != 0)
            abort();
        pthread_mutex_unlock(&fault_lock);
        COUNT(oom_inits);
        if (rc == RT_ENOMEM) {
            COUNT(enomem);
            rc = rt_init(&cfg);
        }
    } else {
        rc = rt_init(&cfg);
    }
    if (rc != RT_OK) {
        FAIL("rt_init = %s", rt_err_name(rc));
        free(e);
        return;
    }
    cur_e = e;
    /* A fresh runtime: nothing queued, nothing alive, no count left over. */
    rt_stats st0 = {.size = sizeof st0};
    EXPECT_RC(rt_getstats(&st0), RT_OK);
    if (st0.goroutines != 0 || st0.runnable != 0 || st0.global_runq != 0 ||
        st0.spinning_threads != 0)
        FAIL("after rt_init: goroutines=%" PRId64 " runnable=%" PRId64 " global_runq=%" PRId64
             " spinning=%" PRId64,
             st0.goroutines, st0.runnable, st0.global_runq, st0.spinning_threads);

    if (rt_chan_make(8, 1, &e->tick) != RT_OK || rt_chan_make(8, 0, &e->never) != RT_OK ||
        rt_chan_make(8, 0, &e->sentinel) != RT_OK) {
        FAIL("rt_chan_make at epoch start");
        abort();
    }

    /* Channels with producers, consumers and a closer each. */
    static const size_t caps[] = {0, 0, 1, 2, 8, 64};
    e->nchan = 1 + (int)rnd(&r, MAXCHAN);
    for (int i = 0; i < e->nchan; i++) {
        chan_state *cs = &e->chans[i];
        cs->id = i;
        cs->nprod = 1 + (int)rnd(&r, MAXPROD);
        cs->ncons = 1 + (int)rnd(&r, MAXCONS);
        cs->nmsgs = 100 + (int)rnd(&r, 2000);
        size_t bits = (size_t)cs->nprod * (size_t)cs->nmsgs;
        cs->seen = calloc((bits + 63) / 64, sizeof(uint64_t));
        if (!cs->seen || rt_chan_make(8, caps[rnd(&r, 6)], &cs->c) != RT_OK)
            abort();
        rt_wg_add(&cs->prod_wg, cs->nprod);
        cs->abrupt = chance(&r, 30);
        cs->close_at = rnd(&r, bits);
    }

    /* Poll pairs: a G on a non-blocking end, a foreign thread on the other. */
    e->npoll = (int)rnd(&r, MAXPOLL + 1);
    for (int i = 0; i < e->npoll; i++) {
        poll_pair *pp = &e->polls[i];
        int fds[2];
        pp->id = i;
        pp->g_reads = chance(&r, 50);
        pp->nbytes = 1 + (long)rnd(&r, 200000);
        if (chance(&r, 50)) {
            if (pipe2(fds, O_CLOEXEC) != 0)
                abort();
            pp->gfd = pp->g_reads ? fds[0] : fds[1];
            pp->tfd = pp->g_reads ? fds[1] : fds[0];
        } else {
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
                abort();
            pp->gfd = fds[0];
            pp->tfd = fds[1];
        }
        fcntl(pp->gfd, F_SETFL, fcntl(pp->gfd, F_GETFL) | O_NONBLOCK);
    }

    /* Mutex group. */
    e->mg.workers = 1 + (int)rnd(&r, 6);
    e->mg.iters = 50 + (int)rnd(&r, 500);
    rt_wg_add(&e->mg.wg, e->mg.workers);

    /* Wired Gs with unwired partners. */
    int nlocked = (int)rnd(&r, MAXLOCKED + 1);
    e->nlocked = nlocked;
    for (int i = 0; i < nlocked; i++) {
        locked_pair *lp = &e->lp[i];
        lp->rounds = 10 + (int)rnd(&r, 200);
        lp->exit_locked = chance(&r, 30);
        if (rt_chan_make(8, 0, &lp->ping) != RT_OK || rt_chan_make(8, 0, &lp->pong) != RT_OK)
            abort();
    }

    int nsys = (int)rnd(&r, 4);
    int nfork_g = opt_fork && chance(&r, 30) ? 1 : 0;

    /* Count the workload actors before any starts. */
    int work = nsys + nfork_g + e->mg.workers + 1 + 2 * nlocked + 2 * e->npoll;
    for (int i = 0; i < e->nchan; i++)
        work += e->chans[i].nprod + e->chans[i].ncons + 1;
    rt_wg_add(&e->work_wg, work);
    rt_wg_add(&e->dist_wg, 5);

    /* Disturber Gs. */
    launch(e, new_actor(e, 0), sentinel);
    launch(e, new_actor(e, 0), ticker);
    launch(e, new_actor(e, 0), spawner);
    launch(e, new_actor(e, 0), chan_churn);
    launch(e, new_actor(e, 0), pipe_churn);

    /* Disturber threads. */
    pthread_t dist[4];
    int ndist = 0;
    if (pthread_create(&dist[ndist++], NULL, gomaxprocs_thread, e) != 0 ||
        pthread_create(&dist[ndist++], NULL, adopt_thread, e) != 0 ||
        pthread_create(&dist[ndist++], NULL, fault_thread, e) != 0)
        abort();
    if (opt_fork && chance(&r, 50) && pthread_create(&dist[ndist++], NULL, fork_thread, e) != 0)
        abort();

    /* The workload, in a random order of kinds. */
    for (int i = 0; i < e->nchan; i++) {
        chan_state *cs = &e->chans[i];
        for (int k = 0; k < cs->nprod; k++) {
            actor *a = new_actor(e, 1);
            a->cs = cs;
            a->k = k;
            a->as_thread = chance(&r, 20);
            launch(e, a, producer);
        }
        for (int k = 0; k < cs->ncons; k++) {
            actor *a = new_actor(e, 2);
            a->cs = cs;
            a->as_thread = chance(&r, 20);
            launch(e, a, consumer);
        }
        actor *a = new_actor(e, 3);
        a->cs = cs;
        a->as_thread = chance(&r, 20);
        launch(e, a, closer);
    }
    for (int i = 0; i < e->npoll; i++) {
        actor *g = new_actor(e, 4), *t = new_actor(e, 4);
        g->extra = t->extra = &e->polls[i];
        t->as_thread = true;
        launch(e, g, poll_g);
        launch(e, t, poll_thread);
    }
    for (int i = 0; i < e->mg.workers; i++) {
        actor *a = new_actor(e, 5);
        a->as_thread = chance(&r, 20);
        launch(e, a, mutex_worker);
    }
    launch(e, new_actor(e, 5), mutex_waiter);
    for (int i = 0; i < nlocked; i++) {
        actor *g = new_actor(e, 6), *p = new_actor(e, 6);
        g->extra = p->extra = &e->lp[i];
        launch(e, g, locked_g);
        launch(e, p, locked_partner);
    }
    for (int i = 0; i < nsys; i++)
        launch(e, new_actor(e, 7), syscall_g);
    if (nfork_g)
        launch(e, new_actor(e, 8), fork_g);

    /* rt_shutdown(0) while Gs run (the sentinel at least) must refuse and change
     * nothing. */
    int busy = (int)rnd(&r, 3);
    for (int i = 0; i < busy; i++) {
        os_sleep((int64_t)rnd(&r, 30000000));
        EXPECT_RC(rt_shutdown(0), RT_ETIMEDOUT);
        COUNT(busy_shutdowns);
    }

    rt_wg_wait(&e->work_wg);
    COUNT(wg_waits);
    atomic_store(&e->stop, 1);
    EXPECT_RC(rt_chan_close(e->sentinel), RT_OK);
    rt_wg_wait(&e->dist_wg);
    for (int i = 0; i < ndist; i++)
        pthread_join(dist[i], NULL);
    for (int i = 0; i < atomic_load(&e->nthreads); i++)
        pthread_join(e->threads[i], NULL);

    /* Exact accounting. */
    for (int i = 0; i < e->nchan; i++) {
        chan_state *cs = &e->chans[i];
        unsigned long want = 0;
        for (int k = 0; k < cs->nprod; k++)
            want += (unsigned long)cs->sent_upto[k];
        if (!cs->abrupt && want != (unsigned long)cs->nprod * (unsigned long)cs->nmsgs)
            FAIL("channel %d: %lu values sent, want %lu", i, want,
                 (unsigned long)cs->nprod * (unsigned long)cs->nmsgs);
        if (atomic_load(&cs->sent_n) != want || atomic_load(&cs->recv_n) != want)
            FAIL("channel %d: sent %lu, received %lu, want %lu", i, atomic_load(&cs->sent_n),
                 atomic_load(&cs->recv_n), want);
        if (atomic_load(&cs->sent_sum) != atomic_load(&cs->recv_sum))
            FAIL("channel %d: checksum sent %#lx received %#lx", i,
                 atomic_load(&cs->sent_sum), atomic_load(&cs->recv_sum));
        /* Received: exactly each producer's values 0..sent_upto-1. */
        for (int k = 0; k < cs->nprod; k++)
            for (int q = 0; q < cs->nmsgs; q++) {
                size_t b = (size_t)k * (size_t)cs->nmsgs + (size_t)q;
                bool got = atomic_load(&cs->seen[b / 64]) & (1ULL << (b % 64));
                if (got != (q < cs->sent_upto[k])) {
                    FAIL("channel %d: value %d of producer %d %s", i, q, k,
                         got ? "received but its send failed" : "sent, never received");
                    k = cs->nprod;
                    break;
                }
            }
        EXPECT_RC(rt_chan_len(cs->c), 0);
        EXPECT_RC(rt_chan_free(cs->c), RT_OK);
        free(cs->seen);
    }
    unsigned long left = 0;
    uint64_t t;
    while (rt_chan_tryrecv(e->tick, &t) == RT_OK)
        left++;
    if (atomic_load(&e->ticks_sent) != atomic_load(&e->ticks_recv) + left)
        FAIL("ticks: sent %lu, received %lu + %lu left", atomic_load(&e->ticks_sent),
             atomic_load(&e->ticks_recv), left);
    /* Each spawned G ran (rt_wg_wait returned in the spawner). */
    if (atomic_load(&e->spawned) != atomic_load(&e->spawn_ran))
        FAIL("spawned %lu Gs, %lu ran", atomic_load(&e->spawned), atomic_load(&e->spawn_ran));
    EXPECT_RC(rt_chan_free(e->tick), RT_OK);
    EXPECT_RC(rt_chan_free(e->never), RT_OK);
    EXPECT_RC(rt_chan_free(e->sentinel), RT_OK);
    for (int i = 0; i < nlocked; i++) {
        EXPECT_RC(rt_chan_free(e->lp[i].ping), RT_OK);
        EXPECT_RC(rt_chan_free(e->lp[i].pong), RT_OK);
    }

    rc = rt_shutdown(20000000000LL);
    if (rc != RT_OK) {
        FAIL("rt_shutdown = %s", rt_err_name(rc));
        rt_dump(2);
        exit(1);
    }
    cur_e = NULL;
    check_no_leaks(n);
    COUNT(epochs);
    if (opt_verbose)
        fprintf(stderr, "chaos: epoch %ld done: maxprocs %d%s, %d channels, %d poll pairs\n",
                n, e->maxprocs, e->migrate ? " migrate" : "", e->nchan, e->npoll);
    free(e);
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: chaos [--seed N] [--duration S] [--from E] [--epochs K] "
                    "[--watchdog S] [--no-oom] [--oom-hard] [--no-fork] [--no-signals] "
                    "[--no-fds] [--migrate] [-v]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    opt_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--seed") && v && *v)
            opt_seed = strtoull(v, NULL, 0), i++;
        else if (!strcmp(s, "--duration") && v)
            opt_duration = atof(v), i++;
        else if (!strcmp(s, "--from") && v)
            opt_from = atol(v), i++;
        else if (!strcmp(s, "--epochs") && v)
            opt_epochs = atol(v), i++;
        else if (!strcmp(s, "--watchdog") && v)
            opt_watchdog = atoi(v), i++;
        else if (!strcmp(s, "--oom"))
            opt_oom = true;
        else if (!strcmp(s, "--no-oom"))
            opt_oom = opt_oom_hard = false;
        else if (!strcmp(s, "--oom-hard"))
            opt_oom = opt_oom_hard = true;
        else if (!strcmp(s, "--no-fork"))
            opt_fork = false;
        else if (!strcmp(s, "--no-signals"))
            opt_signals = false;
        else if (!strcmp(s, "--no-fds"))
            opt_fds = false;
        else if (!strcmp(s, "--migrate"))
            opt_migrate = true;
        else if (!strcmp(s, "-v"))
            opt_verbose = true;
        else
            usage();
    }
    printf("chaos: seed=%" PRIu64 " duration=%gs%s%s%s%s\n", opt_seed, opt_duration,
           opt_oom_hard ? " oom-hard" : opt_oom ? "" : " no-oom", opt_fork ? "" : " no-fork", opt_signals ? "" : " no-signals",
           opt_fds ? "" : " no-fds");
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_t wd, storm;
    if (pthread_create(&wd, NULL, watchdog_thread, NULL) != 0)
        abort();
    if (opt_signals && pthread_create(&storm, NULL, storm_thread, NULL) != 0)
        abort();

    base_fds = count_fds();
    base_threads = count_threads();
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(opt_duration * 1e9);
    long n = opt_from;
    for (;;) {
        if (opt_epochs >= 0 ? n >= opt_from + opt_epochs : now_ns() >= end)
            break;
        if (atomic_load(&counters[C_failures]) != 0)
            break;
        run_epoch(n++);
    }
    atomic_store(&run_stop, 1);
    if (opt_signals)
        pthread_join(storm, NULL);
    pthread_join(wd, NULL);

    unsigned long fails = atomic_load(&counters[C_failures]);
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("chaos: %.1fs, epochs %ld..%ld\n", secs, opt_from, n - 1);
    for (int i = 0; i < NCOUNTERS; i++)
        printf("chaos:   %-18s %lu\n", counter_names[i], atomic_load(&counters[i]));
    if (fails) {
        printf("chaos: FAIL seed=%" PRIu64 " (%lu failures); replay: chaos --seed %" PRIu64
               " --from %ld --epochs 1\n",
               opt_seed, fails, opt_seed, n - 1);
        return 1;
    }
    printf("chaos: PASS seed=%" PRIu64 "\n", opt_seed);
    return 0;
}
