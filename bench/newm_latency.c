/*
 * newm_latency: how long from calling rt_newm until the M's start function runs,
 * against bare pthread_create of the same stack, in one run (issue 2, "Measure").
 *
 * What is measured. For each sample the calling thread reads CLOCK_MONOTONIC (t0),
 * then calls rt_newm(start, &slot, NULL, NULL) or pthread_create(..., start, &slot).
 * The first thing the start function does is read CLOCK_MONOTONIC itself (t1) and
 * publish it in the slot. The sample is t1 - t0: the caller's wait for the slot
 * happens after t0 and after the new thread's t1, so how the caller waits does not
 * enter the figure. The caller also reads the clock when the create call returns
 * (t2); t2 - t0 is reported as "call returns", the cost seen by the creator.
 *
 * How the caller waits (-w): `futex` (default) sleeps on the slot word, which the
 * start function wakes after taking its timestamp; `spin` busy-waits on it. On this
 * 2-core machine a spinning caller can hold the very core the new thread was placed
 * on, so futex is the honest default; `spin` is there to compare.
 *
 * Live threads (-b). An M whose start function returns (no nextp) parks on the
 * idle-M list: it does not exit. So that every row creates threads against the same
 * number of live threads, samples are taken in blocks of B (default 100):
 *   rt_newm         rt_init(cfg) -> B x rt_newm -> rt_shutdown (wakes, joins the Ms);
 *   pthread_create  B x pthread_create (joinable); each thread, after publishing t1,
 *                   parks on a futex like an idle M; at block end all are woken and
 *                   joined.
 * So at most B threads are alive besides main, and every row pays its teardown
 * outside the measured window. Rows take turns block by block, and which row leads
 * rotates, so machine noise and drift hit all alike. One warm-up block per row (not
 * recorded) comes first: the first rt_newm loads libgcc_s for backtrace(), glibc
 * fills its stack cache, etc. (1000 live Ms at once, -b 1000, also works, but then
 * each row is one block taken at one moment, and noise no longer evens out.)
 *
 * The rows. `rt_newm` against `pthread_create` is the figure the goal is about
 * (ratio line). Two more rows (off with -x) say where a gap comes from:
 *   pthread, own stack  as pthread_create, but the stack is provisioned the way
 *                       libmrt provisions an M's: a fresh mmap with a guard range
 *                       installed below it (MADV_GUARD_INSTALL, else mprotect), in
 *                       the measured window, passed by pthread_attr_setstack, and
 *                       unmapped after the join. Threads park as above.
 *   pthread, exits      the textbook case: a detached thread that takes t1, signals
 *                       and exits at once.
 * Why the split matters: glibc keeps the stacks of exited/joined threads (up to
 * 40 MiB, ~75 stacks of this size) and hands them to the next pthread_create with no
 * mmap, no guard change and their pages already faulted in. libmrt keeps the stacks
 * of exited Ms the same way (an M-stack cache of the same 40 MiB, which outlives
 * rt_shutdown), so both rows reuse stacks from the previous block; "own stack" shows
 * what a thread costs when its stack is mapped afresh. On this machine (a VM where
 * mmap costs ~2 us, a guard install ~2 us, a first-touch fault ~4 us) that is the
 * dominant cost of a thread. To see pthread_create without its cache, run with
 * GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0.
 *
 * Stack size. All rows get the same usable stack, passed explicitly: libmrt via
 * rt_config.g0_stack_size (-s, default 512 KiB, the library's default), pthread via
 * pthread_attr_setstacksize (or setstack) of usable + __pthread_get_minstack(attr),
 * page-rounded, which is exactly the size libmrt hands pthread_attr_setstack (glibc
 * carves the static TLS and the thread descriptor out of the thread's stack; the
 * library adds that part on top of the usable size, so pthread gets the same total).
 *
 * Usage: newm_latency [-n N] [-b B] [-s BYTES] [-w futex|spin] [-x] [-v]
 *   -n  samples per row (default 1000, rounded up to whole blocks)
 *   -b  block size (default 100)   -s  usable stack bytes (default 524288)
 *   -w  how the caller waits (default futex)   -x  only the two main rows
 *   -v  also print every sample, one line each, to stderr
 * Output: a table in microseconds (p10, median, p90, call returns), then
 *   `ratio median(rt_newm)/median(pthread_create) = R (goal <= 1.10)` and a
 *   machine-readable line `RESULT newm_latency ratio=R ...`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mrt.h"

/* ---- clock, futex ------------------------------------------------------------- */

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void futex_wait(atomic_uint *w, unsigned val) {
    syscall(SYS_futex, (void *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *w, int n) {
    syscall(SYS_futex, (void *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void die(const char *what, int err) {
    fprintf(stderr, "newm_latency: %s: %s\n", what, err < 0 ? rt_strerror(err) : strerror(err));
    exit(1);
}

/* ---- one sample's slot ---------------------------------------------------------- */

/* Written by the new thread, read by the caller once `done` is set. One cache line
 * each so that slots of neighbouring samples do not share lines. */
typedef struct slot {
    _Alignas(64) uint64_t t1; /* the start function's timestamp */
    atomic_uint done;         /* 0 -> 1 after t1 is stored (release) */
    int cpu;                  /* where the start function ran */
} slot;

/* Pthreads of the parked row wait here until their block ends (their "idle list"). */
static atomic_uint pthread_release;

static enum { WAIT_FUTEX, WAIT_SPIN } wait_mode = WAIT_FUTEX;

/* The start function, common to all rows up to what follows the signal. */
static inline void record(slot *s) {
    s->t1 = now_ns();
    s->cpu = sched_getcpu();
    atomic_store_explicit(&s->done, 1, memory_order_release);
    if (wait_mode == WAIT_FUTEX)
        futex_wake(&s->done, 1);
}

static void mrt_start(void *arg) { record(arg); }

static void *pthread_start_park(void *arg) {
    record(arg);
    while (atomic_load_explicit(&pthread_release, memory_order_acquire) == 0)
        futex_wait(&pthread_release, 0);
    return NULL;
}

static void *pthread_start_exit(void *arg) {
    record(arg);
    return NULL;
}

static void wait_done(slot *s) {
    if (wait_mode == WAIT_FUTEX) {
        while (atomic_load_explicit(&s->done, memory_order_acquire) == 0)
            futex_wait(&s->done, 0);
    } else {
        while (atomic_load_explicit(&s->done, memory_order_acquire) == 0)
            __builtin_ia32_pause();
    }
}

/* ---- the three rows ------------------------------------------------------------- */

enum { ROW_MRT, ROW_PT_PARK, ROW_PT_OWN, ROW_PT_EXIT, NROWS };
static const char *row_name[NROWS] = {"rt_newm", "pthread_create", "pthread, own stack",
                                      "pthread, exits"};

typedef struct sample {
    uint64_t start; /* t1 - t0 */
    uint64_t call;  /* t2 - t0 */
    int same_cpu;   /* the start function ran on the caller's CPU */
} sample;

static rt_config cfg;
static size_t pthread_stack; /* usable + glibc's part, as libmrt computes it */

static void take(slot *s, sample *out, int caller_cpu, uint64_t t0, uint64_t t2) {
    wait_done(s);
    if (out) {
        out->start = s->t1 - t0;
        out->call = t2 - t0;
        out->same_cpu = s->cpu == caller_cpu;
    }
}

/* One block of libmrt: rt_init, b x rt_newm, rt_shutdown. `out` NULL: warm-up. */
static void block_mrt(slot *slots, int b, sample *out) {
    int rc = rt_init(&cfg);
    if (rc != RT_OK)
        die("rt_init", rc);
    for (int i = 0; i < b; i++) {
        slot *s = &slots[i];
        atomic_store_explicit(&s->done, 0, memory_order_relaxed);
        int cpu = sched_getcpu();
        uint64_t t0 = now_ns();
        rc = rt_newm(mrt_start, s, NULL, NULL);
        uint64_t t2 = now_ns();
        if (rc != RT_OK)
            die("rt_newm", rc);
        take(s, out ? &out[i] : NULL, cpu, t0, t2);
    }
    rc = rt_shutdown(-1);
    if (rc != RT_OK)
        die("rt_shutdown", rc);
}

/* A fresh stack as libmrt provisions an M's: one mapping, a guard page range below
 * (MADV_GUARD_INSTALL, else mprotect), `pthread_stack` bytes above it. */
#define OWN_GUARD (64 * 1024)
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static void *own_stack_alloc(void) {
    char *p = mmap(NULL, OWN_GUARD + pthread_stack, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        die("mmap", errno);
    if (madvise(p, OWN_GUARD, MADV_GUARD_INSTALL) != 0 && mprotect(p, OWN_GUARD, PROT_NONE) != 0)
        die("guard", errno);
    return p + OWN_GUARD;
}

/* One block of pthreads. `park`: they wait for the block's end and are joined (and,
 * with `own`, their stacks, mapped inside the measured call, are unmapped after). */
static void block_pthread(slot *slots, pthread_t *tids, void **stacks, int b, int park, int own,
                          sample *out) {
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0 && !own)
        rc = pthread_attr_setstacksize(&attr, pthread_stack);
    if (rc == 0 && !park)
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc != 0)
        die("pthread_attr", rc);
    atomic_store(&pthread_release, 0);
    for (int i = 0; i < b; i++) {
        slot *s = &slots[i];
        atomic_store_explicit(&s->done, 0, memory_order_relaxed);
        int cpu = sched_getcpu();
        uint64_t t0 = now_ns();
        if (own) {
            stacks[i] = own_stack_alloc();
            rc = pthread_attr_setstack(&attr, stacks[i], pthread_stack);
            if (rc != 0)
                die("pthread_attr_setstack", rc);
        }
        rc = pthread_create(&tids[i], &attr, park ? pthread_start_park : pthread_start_exit, s);
        uint64_t t2 = now_ns();
        if (rc != 0)
            die("pthread_create", rc);
        take(s, out ? &out[i] : NULL, cpu, t0, t2);
    }
    if (park) {
        atomic_store_explicit(&pthread_release, 1, memory_order_release);
        futex_wake(&pthread_release, b);
        for (int i = 0; i < b; i++)
            pthread_join(tids[i], NULL);
        for (int i = 0; own && i < b; i++)
            munmap((char *)stacks[i] - OWN_GUARD, OWN_GUARD + pthread_stack);
    }
    pthread_attr_destroy(&attr);
}

static void run_block(int row, slot *slots, pthread_t *tids, void **stacks, int b,
                      sample *out) {
    switch (row) {
    case ROW_MRT:
        block_mrt(slots, b, out);
        break;
    case ROW_PT_PARK:
        block_pthread(slots, tids, stacks, b, 1, 0, out);
        break;
    case ROW_PT_OWN:
        block_pthread(slots, tids, stacks, b, 1, 1, out);
        break;
    default:
        block_pthread(slots, tids, stacks, b, 0, 0, out);
        break;
    }
}

/* ---- statistics ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array; the median of an even count is the
 * mean of the two middle values. */
static double pct(const uint64_t *v, int n, int p) {
    if (p == 50)
        return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
    int k = (int)(((long)p * n + 99) / 100) - 1;
    return (double)v[k < 0 ? 0 : k];
}

typedef struct summary {
    double p10, med, p90, call_med, same_cpu_pct;
} summary;

static summary summarize(const sample *s, int n) {
    uint64_t *a = malloc(sizeof *a * (size_t)n), *c = malloc(sizeof *c * (size_t)n);
    if (!a || !c)
        die("malloc", ENOMEM);
    int same = 0;
    for (int i = 0; i < n; i++) {
        a[i] = s[i].start;
        c[i] = s[i].call;
        same += s[i].same_cpu;
    }
    qsort(a, (size_t)n, sizeof *a, cmp_u64);
    qsort(c, (size_t)n, sizeof *c, cmp_u64);
    summary r = {pct(a, n, 10) / 1e3, pct(a, n, 50) / 1e3, pct(a, n, 90) / 1e3,
                 pct(c, n, 50) / 1e3, 100.0 * same / n};
    free(a);
    free(c);
    return r;
}

/* ---- main ---------------------------------------------------------------------- */

static size_t glibc_minstack(void) {
    size_t (*f)(const pthread_attr_t *) =
        (size_t(*)(const pthread_attr_t *))dlsym(RTLD_DEFAULT, "__pthread_get_minstack");
    if (!f)
        return 16384; /* PTHREAD_STACK_MIN; libmrt falls back similarly */
    pthread_attr_t a;
    pthread_attr_init(&a);
    size_t m = f(&a);
    pthread_attr_destroy(&a);
    return m;
}

static void usage(void) {
    fprintf(stderr, "usage: newm_latency [-n N] [-b B] [-s BYTES] [-w futex|spin] [-x] [-v]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int n = 1000, b = 100, extra = 1, verbose = 0;
    size_t stack = 512 * 1024;
    int opt;
    while ((opt = getopt(argc, argv, "n:b:s:w:xv")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 'b': b = atoi(optarg); break;
        case 's': stack = strtoull(optarg, NULL, 0); break;
        case 'w':
            if (strcmp(optarg, "futex") == 0)
                wait_mode = WAIT_FUTEX;
            else if (strcmp(optarg, "spin") == 0)
                wait_mode = WAIT_SPIN;
            else
                usage();
            break;
        case 'x': extra = 0; break;
        case 'v': verbose = 1; break;
        default: usage();
        }
    }
    if (n < 1 || b < 1 || stack < 16384 || optind != argc)
        usage();
    int nblocks = (n + b - 1) / b;
    n = nblocks * b;

    cfg = (rt_config){.size = sizeof cfg, .g0_stack_size = stack};
    size_t minstack = glibc_minstack();
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    pthread_stack = (stack + pg - 1) / pg * pg + (minstack + pg - 1) / pg * pg;

    int rows[NROWS], nrows = 0;
    rows[nrows++] = ROW_MRT;
    rows[nrows++] = ROW_PT_PARK;
    if (extra) {
        rows[nrows++] = ROW_PT_OWN;
        rows[nrows++] = ROW_PT_EXIT;
    }

    slot *slots = aligned_alloc(64, sizeof *slots * (size_t)b);
    pthread_t *tids = calloc((size_t)b, sizeof *tids);
    void **stacks = calloc((size_t)b, sizeof *stacks);
    sample *res[NROWS] = {0};
    if (!slots || !tids || !stacks)
        die("malloc", ENOMEM);
    memset(slots, 0, sizeof *slots * (size_t)b);
    for (int r = 0; r < nrows; r++)
        if (!(res[rows[r]] = calloc((size_t)n, sizeof(sample))))
            die("malloc", ENOMEM);

    /* Warm-up, not recorded. */
    for (int r = 0; r < nrows; r++)
        run_block(rows[r], slots, tids, stacks, b, NULL);

    /* Blocks, rotating which row goes first so each leads equally often. */
    for (int k = 0; k < nblocks; k++)
        for (int j = 0; j < nrows; j++) {
            int row = rows[(k + j) % nrows];
            run_block(row, slots, tids, stacks, b, res[row] + (size_t)k * b);
        }

    if (verbose)
        for (int r = 0; r < nrows; r++)
            for (int i = 0; i < n; i++)
                fprintf(stderr, "%s\t%d\t%llu\t%llu\t%d\n", row_name[rows[r]], i,
                        (unsigned long long)res[rows[r]][i].start,
                        (unsigned long long)res[rows[r]][i].call, res[rows[r]][i].same_cpu);

    summary sm[NROWS];
    for (int r = 0; r < nrows; r++)
        sm[rows[r]] = summarize(res[rows[r]], n);

    size_t usable = (stack + pg - 1) / pg * pg;
    const char *tun = getenv("GLIBC_TUNABLES");
    printf("newm_latency: create call -> start function running, in microseconds"
           " (libmrt %s)\n", rt_version());
    printf("  %d samples per row, blocks of %d, rows take turns; usable stack %zu KiB"
           " (+%zu KiB glibc part); caller waits by %s; %ld CPUs%s%s\n",
           n, b, usable / 1024, (pthread_stack - usable) / 1024,
           wait_mode == WAIT_FUTEX ? "futex" : "spin", sysconf(_SC_NPROCESSORS_ONLN),
           tun ? "; GLIBC_TUNABLES=" : "", tun ? tun : "");
    printf("  %-18s %6s %8s %8s %8s  %12s %9s\n", "", "n", "p10", "median", "p90",
           "call returns", "same CPU");
    for (int r = 0; r < nrows; r++) {
        summary *s = &sm[rows[r]];
        printf("  %-18s %6d %8.1f %8.1f %8.1f  %12.1f %8.0f%%\n", row_name[rows[r]], n, s->p10,
               s->med, s->p90, s->call_med, s->same_cpu_pct);
    }
    printf("  (p10/median/p90: call -> start; call returns: median time until the create"
           " call returned;\n   same CPU: share of start functions that ran on the"
           " caller's CPU)\n");
    double ratio = sm[ROW_MRT].med / sm[ROW_PT_PARK].med;
    printf("  ratio median(rt_newm)/median(pthread_create) = %.2f (goal <= 1.10)\n", ratio);
    if (extra)
        printf("  for information: rt_newm / pthread, own stack = %.2f;"
               " rt_newm / pthread, exits = %.2f\n",
               sm[ROW_MRT].med / sm[ROW_PT_OWN].med, sm[ROW_MRT].med / sm[ROW_PT_EXIT].med);
    printf("RESULT newm_latency ratio=%.3f mrt_median_us=%.2f pthread_median_us=%.2f n=%d\n",
           ratio, sm[ROW_MRT].med, sm[ROW_PT_PARK].med, n);

    free(slots);
    free(tids);
    free(stacks);
    for (int r = 0; r < nrows; r++)
        free(res[rows[r]]);
    return 0;
}
