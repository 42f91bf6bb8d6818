/*
 * vsgo.h: what the libmrt side of a "vs Go" bench shares (bench/<name>.c, whose peer
 * is bench/<name>.go; bench/vsgo.go is this file's Go twin).
 *
 * Output protocol, one line each, read by bench/run.sh (run_vsgo), which runs both
 * programs a few times, alternately, each in a fresh process, and takes medians:
 *   metric <key> <value> <unit>    one sample; the same key on both sides is compared
 *   goal <key> ratio<=X            libmrt/Go median must be <= X
 *   goal <key> max<=X              the libmrt median must be <= X (absolute)
 *   anything else                  information, shown from the first run only
 *
 * Options common to every program (bench_args; each program checks their ranges):
 *   -p N  Ps (rt_config.maxprocs / GOMAXPROCS)   -n N  size of the workload
 *   -r N  rounds inside one process
 */
#ifndef MRT_BENCH_VSGO_H
#define MRT_BENCH_VSGO_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mrt.h>

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void metric(const char *key, double value, const char *unit) {
    printf("metric %s %.6g %s\n", key, value, unit);
    fflush(stdout);
}

/* CPU time of the whole process (every thread) so far, in ns. */
static inline int64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* With $MRT_BENCH_CPU set (bench/run.sh sets it for the trace kind), a sample of
 * `<key>_cpu`: the process's CPU time over a round (`cpu` ns) per unit of work
 * (`n`), beside the wall time of the same key. On a shared machine another load
 * stretches the wall time of a round (the bench's thread waits for a core) far more
 * than its CPU time. Peers do not print it: vsgo comparisons never see the key. */
static inline void metric_cpu(const char *key, int64_t cpu, double n) {
    static int on = -1;
    if (on < 0)
        on = getenv("MRT_BENCH_CPU") != NULL;
    if (!on)
        return;
    printf("metric %s_cpu %.6g ns\n", key, (double)cpu / n);
    fflush(stdout);
}

static inline void goal_ratio(const char *key, double x) {
    printf("goal %s ratio<=%g\n", key, x);
}

static inline void goal_max(const char *key, double x) {
    printf("goal %s max<=%g\n", key, x);
}

/* A goal on libmrt's own figure, not on its ratio to Go: its median at least x. */
static inline void goal_min(const char *key, double x) {
    printf("goal %s min>=%g\n", key, x);
}

/* The -p procs, -n N and -r rounds options of the vsgo benches: each one given
 * replaces the caller's default; anything else prints a usage line and exits 2.
 * Ranges are each bench's own to check. */
static inline void bench_args(int argc, char **argv, const char *name, int *procs, long *n,
                              int *rounds) {
    int opt;
    while ((opt = getopt(argc, argv, "p:n:r:")) != -1) {
        switch (opt) {
        case 'p': *procs = atoi(optarg); break;
        case 'n': *n = atol(optarg); break;
        case 'r': *rounds = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-p procs] [-n N] [-r rounds]\n", name);
            exit(2);
        }
    }
}

static inline void die(const char *what, long rc) {
    fprintf(stderr, "%s failed: %ld (%s)\n", what, rc,
            rc < 0 && rc > -4096 ? rt_err_name((int)rc) : "?");
    exit(1);
}

/* Resident set of the process, bytes (/proc/self/statm, second field). */
static inline long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f || fscanf(f, "%ld %ld", &size, &res) != 2)
        die("read /proc/self/statm", -errno);
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

/* Lines of /proc/self/maps: the process's VMA count. */
static inline long maps_count(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        die("open /proc/self/maps", -errno);
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static inline long read_long_file(const char *path) {
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Minor page faults of the process so far. */
static inline long minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* CPU time (user + system) of the whole process so far, in ms: a phase's CPU cost,
 * which other load on a shared machine changes far less than its wall time. */
static inline double cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static inline long maxrss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024;
}

static inline rt_stats stats(void) {
    rt_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    int rc = rt_getstats(&s);
    if (rc != RT_OK)
        die("rt_getstats", rc);
    return s;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static inline int64_t median_i64(int64_t *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Starts the runtime with `procs` Ps (0: the default) and runs fn as the main G. */
static inline void run_main(int procs, rt_fn fn, void *arg) {
    rt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.size = sizeof cfg;
    cfg.maxprocs = procs;
    int rc = rt_init(&cfg);
    if (rc != RT_OK)
        die("rt_init", rc);
    rc = rt_main(fn, arg);
    if (rc != RT_OK)
        die("rt_main", rc);
}

#endif
