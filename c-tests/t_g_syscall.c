/*
 * A system call on one P must not stall the other Gs (the idea of Go's proc_test.go
 * syscall tests): with 1 P, a G brackets a blocking read(2) of a pipe with
 * rt_entersyscall / rt_exitsyscall. The pipe is written only by another G, after it
 * has made progress, which it can only do if the P was handed off to another M while
 * the first one sits in the kernel. When the read returns, the progress counter is
 * past that point; stats.handoffs counts the handoff. (poll(2) with a long timeout
 * stands in for the read so that a failure is a failed CHECK, not a hang.)
 * Also: several Gs in syscalls at once, each released by a G; a sleeping syscall
 * (nanosleep in a loop until progress is seen); the fast path (enter/exit in a row,
 * many times); a locked G in a syscall; errors: enter twice -> RT_EALREADY, exit
 * without enter -> RT_EINVAL, both outside a G -> RT_EPERM.
 */
#include "test.h"

#include <poll.h>
#include <time.h>

#define BOUND 50000000L
#define WRITE_AFTER 1000

static atomic_long progress;
static atomic_int stop_worker, workers_alive;
static int fds[2];

/* Counts while the others are in syscalls; writes the pipe after WRITE_AFTER steps. */
static void worker(void *arg)
{
    int writes = (int)(intptr_t)arg;
    atomic_fetch_add(&workers_alive, 1);
    for (long n = 0; !atomic_load(&stop_worker) && n < BOUND; n++) {
        long p = atomic_fetch_add(&progress, 1) + 1;
        if (p == WRITE_AFTER) {
            char buf[16] = { 0 };
            if (write(fds[1], buf, (size_t)writes) != writes)
                FAIL("write: %s", strerror(errno));
        }
        rt_gosched();
    }
    CHECK(atomic_load(&stop_worker));
    atomic_fetch_sub(&workers_alive, 1);
}

/* Ends a phase: stop the worker and wait (yielding) until it is gone. */
static void stop_workers(void)
{
    atomic_store(&stop_worker, 1);
    for (long n = 0; atomic_load(&workers_alive) > 0 && n < BOUND; n++)
        rt_gosched();
    CHECK_EQ(atomic_load(&workers_alive), 0);
}

static atomic_int readers_done;
static _Atomic long progress_seen[8];

static void reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    CHECK_RC(rt_entersyscall(), RT_OK);
    struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
    int pr = poll(&pfd, 1, test_under_valgrind() ? 50000 : 15000);
    char c = 0;
    ssize_t got = pr == 1 ? read(fds[0], &c, 1) : -1;
    CHECK_RC(rt_exitsyscall(), RT_OK);
    if (!CHECK_EQ(got, 1))
        fprintf(stderr, "  reader %d: the pipe was never written (poll %d)\n", i, pr);
    atomic_store(&progress_seen[i], atomic_load(&progress));
    atomic_fetch_add(&readers_done, 1);
}

static void run_readers(int nreaders)
{
    atomic_store(&progress, 0);
    atomic_store(&stop_worker, 0);
    atomic_store(&readers_done, 0);
    for (int i = 0; i < nreaders; i++)
        CHECK(rt_go(reader, (void *)(intptr_t)i) > 0);
    rt_gosched(); /* the readers enter their syscalls first */
    CHECK(rt_go(worker, (void *)(intptr_t)nreaders) > 0);
    for (long n = 0; atomic_load(&readers_done) < nreaders && n < BOUND; n++)
        rt_gosched();
    CHECK_EQ(atomic_load(&readers_done), nreaders);
    for (int i = 0; i < nreaders; i++)
        CHECK(atomic_load(&progress_seen[i]) >= WRITE_AFTER);
    stop_workers();
}

/* A sleeping syscall: nanosleep until the worker has made progress. */
static void sleeper(void *arg)
{
    (void)arg;
    long before = atomic_load(&progress);
    int rounds = 0;
    while (atomic_load(&progress) == before && rounds < 200) {
        CHECK_RC(rt_entersyscall(), RT_OK);
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        CHECK_RC(rt_exitsyscall(), RT_OK);
        rounds++;
    }
    CHECK(atomic_load(&progress) > before);
    atomic_store(&stop_worker, 1);
}

static void fast_path(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        if (!CHECK_RC(rt_entersyscall(), RT_OK))
            break;
        if (!CHECK_RC(rt_exitsyscall(), RT_OK))
            break;
    }
    CHECK_RC(rt_exitsyscall(), RT_EINVAL);
    CHECK_RC(rt_entersyscall(), RT_OK);
    CHECK_RC(rt_entersyscall(), RT_EALREADY);
    CHECK_RC(rt_exitsyscall(), RT_OK);
    CHECK_RC(rt_exitsyscall(), RT_EINVAL);
}

static void locked_in_syscall(void *arg)
{
    (void)arg;
    CHECK_RC(rt_lockosthread(), RT_OK);
    int64_t tid = test_gettid();
    rt_m *m = rt_getm();
    long before = atomic_load(&progress);
    for (int r = 0; r < 200 && atomic_load(&progress) == before; r++) {
        CHECK_RC(rt_entersyscall(), RT_OK);
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        CHECK_RC(rt_exitsyscall(), RT_OK);
        CHECK_EQ(test_gettid(), tid);
        CHECK_PTR_EQ(rt_getm(), m);
    }
    CHECK(atomic_load(&progress) > before);
    CHECK_RC(rt_unlockosthread(), RT_OK);
    atomic_store(&stop_worker, 1);
}

static void main_g(void *arg)
{
    (void)arg;
    rt_stats st0, st;
    CHECK_RC(test_stats(&st0), RT_OK);

    run_readers(1);
    CHECK_RC(test_stats(&st), RT_OK);
    CHECK(st.handoffs > st0.handoffs);
    run_readers(4);

    atomic_store(&stop_worker, 0);
    CHECK(rt_go(sleeper, NULL) > 0);
    CHECK(rt_go(worker, (void *)0) > 0);
    for (long n = 0; !atomic_load(&stop_worker) && n < BOUND; n++)
        rt_gosched();
    stop_workers();

    atomic_store(&stop_worker, 0);
    CHECK(rt_go(locked_in_syscall, NULL) > 0);
    CHECK(rt_go(worker, (void *)0) > 0);
    for (long n = 0; !atomic_load(&stop_worker) && n < BOUND; n++)
        rt_gosched();
    stop_workers();

    CHECK(rt_go(fast_path, NULL) > 0);
    rt_gosched();
}

int main(void)
{
    if (pipe(fds) != 0) {
        FAIL("pipe: %s", strerror(errno));
        return test_summary();
    }
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1 };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_entersyscall(), RT_EPERM);
    CHECK_RC(rt_exitsyscall(), RT_EPERM);
    CHECK_RC(rt_main(main_g, NULL), RT_OK);
    CHECK_RC(rt_entersyscall(), RT_EPERM); /* adopted thread, no G */
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
