/*
 * gotests.h: the harness of libmrt's port of Go's own runtime, time and sync tests.
 *
 * Every test is a function registered with GO_TEST(TestName), named as in Go's
 * sources; it runs as the main G of rt_main (as a Go test runs in a goroutine) in a
 * process of its own, at the GOMAXPROCS the runner gives (c-tests/gotests/run.sh runs
 * each test at 1, 2 and 4, as `go test -cpu 1,2,4`). Sizes are Go's `-short` ones.
 *
 * Reporting follows Go's testing.T:
 *   gt_errorf(...)  t.Errorf: the test fails and goes on;
 *   gt_fatalf(...)  t.Fatalf: the test fails and its process ends here (from any G);
 *   gt_logf(...)    t.Logf: printed (stderr), shown by the runner when the test fails;
 *   gt_skipf(...)   t.Skipf: the test ends here, skipped.
 * The process prints `--- PASS: name`, `--- FAIL: name` or `--- SKIP: name` last and
 * exits 0, 1 or 77; a
 * watchdog thread (not an M) prints `--- HANG: name ...` and rt_dump's state if the
 * test does not end in time, then exits 124.
 *
 * API that libmrt does not have yet (issue 9: rt_checkpoint, rt_go_ex with
 * RT_G_ASYNC_PREEMPT) is found at run time (dlsym) or at compile time (the header's
 * RT_G_ASYNC_PREEMPT), and a stand-in is used meanwhile: gt_checkpoint() is then a
 * no-op and gt_go_async() a plain rt_go, each noted once in the test's output. The
 * tests that need the real thing fail (or hang) until it lands; xfail.txt lists them.
 */
#ifndef MRT_GOTESTS_H
#define MRT_GOTESTS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mrt.h"

typedef void (*gt_test_fn)(void);

void gt_register(const char *name, gt_test_fn fn, const char *env);

/* GO_TEST(TestName) { body }: defines and registers a test. */
#define GO_TEST(name) GO_TEST_ENV(name, NULL)

/* The same, with "VAR=value" put in the environment before rt_init (e.g. MRT_DEBUG). */
#define GO_TEST_ENV(name, env)                                              \
    static void name(void);                                                 \
    __attribute__((constructor)) static void gt_register_##name(void)       \
    {                                                                       \
        gt_register(#name, name, env);                                      \
    }                                                                       \
    static void name(void)

/* ---- testing.T ---- */
void gt_errorf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void gt_fatalf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gt_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* t.Skipf: the test ends here, skipped (exit status 77, `--- SKIP`), from the main G. */
_Noreturn void gt_skipf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool gt_failed(void); /* t.Failed() */
bool gt_short(void);  /* testing.Short(): true unless GOTESTS_LONG=1 */

#define ERRORF(...) gt_errorf(__FILE__, __LINE__, __VA_ARGS__)
#define FATALF(...) gt_fatalf(__FILE__, __LINE__, __VA_ARGS__)

/* ---- runtime helpers: every libmrt error the test does not expect is fatal ---- */

/* go fn(arg); the G's id. */
int64_t gt_go_(rt_fn fn, void *arg, const char *file, int line);
#define gt_go(fn, arg) gt_go_((fn), (arg), __FILE__, __LINE__)

/* go fn(arg), the G created asynchronously preemptible (rt_go_ex with
 * RT_G_ASYNC_PREEMPT) where libmrt has it; rt_go meanwhile. */
int64_t gt_go_async_(rt_fn fn, void *arg, const char *file, int line);
#define gt_go_async(fn, arg) gt_go_async_((fn), (arg), __FILE__, __LINE__)

/* rt_checkpoint() where libmrt has it; 0 (a no-op) meanwhile. The function pointer is
 * resolved once, before the test starts. */
extern int (*gt_checkpoint_fn)(void);
static inline int gt_checkpoint(void)
{
    return gt_checkpoint_fn();
}

/* The OS thread id (gettid) of the thread that called rt_main. */
extern int64_t gt_main_tid;

/* runtime.GOMAXPROCS(n): sets n (> 0) and returns the previous value. */
int gt_gomaxprocs(int n);

/* make(chan T, cap) with sizeof(T) = elem. */
rt_chan *gt_make_(size_t elem, size_t cap, const char *file, int line);
#define gt_make(elem, cap) gt_make_((elem), (cap), __FILE__, __LINE__)
/* c <- *v (a send on a closed channel is Go's panic: fatal here). */
void gt_send_(rt_chan *c, const void *v, const char *file, int line);
#define gt_send(c, v) gt_send_((c), (v), __FILE__, __LINE__)
/* v, ok := <-c; returns ok. v may be NULL (`<-c` with the value dropped). */
bool gt_recv_(rt_chan *c, void *v, const char *file, int line);
#define gt_recv(c, v) gt_recv_((c), (v), __FILE__, __LINE__)
/* close(c) */
void gt_close_(rt_chan *c, const char *file, int line);
#define gt_close(c) gt_close_((c), __FILE__, __LINE__)
/* select over cases; timeout_ns as rt_select (0: a select with a default case, which
 * returns -1 when the default is taken). Any other error is fatal. */
int gt_select_(rt_select_case *cases, size_t n, int64_t timeout_ns, const char *file,
               int line);
#define gt_select(cases, n, timeout_ns) gt_select_((cases), (n), (timeout_ns), __FILE__, __LINE__)

/* Case constructors. */
static inline rt_select_case gt_case_recv(rt_chan *c, void *v)
{
    rt_select_case sc = { c, RT_RECV, v, 0 };
    return sc;
}
static inline rt_select_case gt_case_send(rt_chan *c, const void *v)
{
    rt_select_case sc = { c, RT_SEND, (void *)v, 0 };
    return sc;
}

/* time.Sleep */
void gt_sleep(int64_t ns);
/* time.Now / runtime.nanotime: CLOCK_MONOTONIC in ns. */
int64_t gt_now(void);

/* time.After(d): a channel of int64 (capacity 1) that receives the time (gt_now) once
 * d has passed. libmrt has no timer channels: a G sleeps d (rt_sleep, a runtime timer
 * of its P) and then sends, which is what Go's After did before Go 1.23 in effect (a
 * runtime timer whose function does a non-blocking send on a buffered channel). */
rt_chan *gt_after(int64_t d);

#define GT_MS ((int64_t)1000000)
#define GT_US ((int64_t)1000)
#define GT_S ((int64_t)1000000000)

#endif /* MRT_GOTESTS_H */
