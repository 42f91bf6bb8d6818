/*
 * test_oom.h: an out-of-memory switch for the tests of allocation failure. Include it
 * (after test.h) in exactly one translation unit: it defines malloc, calloc, realloc,
 * posix_memalign, aligned_alloc and memalign in the test program, which take
 * precedence over glibc's for the whole process (libmrt included), and forward to
 * glibc's __libc_* entry points unless told to fail:
 *
 *   test_oom_set(TEST_OOM_OFF)      every allocation succeeds (the default)
 *   test_oom_set(TEST_OOM_ALL)      every allocation fails (returns NULL, ENOMEM)
 *   test_oom_set(TEST_OOM_HALF)     about every second allocation fails, in a fixed
 *                                   pseudo-random pattern (a strict alternation
 *                                   could always fail the same step of a path)
 *   test_oom_failures()             allocations refused so far
 *   test_oom_go(mode, n, fn, &c)    n rt_go(fn, NULL) calls with the switch at `mode`,
 *                                   counted as made, RT_ENOMEM or anything else
 *
 * free is glibc's own: what was allocated here came from glibc's malloc. Unlike an
 * RLIMIT_AS squeeze, only the heap is exhausted (stack mmaps still work), so the test
 * shows exactly which paths allocate. Not usable under valgrind, which replaces the
 * allocator itself (see run.sh's no_valgrind list).
 */
#ifndef MRT_TEST_OOM_H
#define MRT_TEST_OOM_H

#include "test.h"

enum { TEST_OOM_OFF = 0, TEST_OOM_ALL = 1, TEST_OOM_HALF = 2 };

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int test_oom_mode_;
static atomic_long test_oom_calls_;
static atomic_long test_oom_failures_;

static inline void test_oom_set(int mode)
{
    atomic_store(&test_oom_calls_, 0);
    atomic_store(&test_oom_mode_, mode);
}

static inline long test_oom_failures(void)
{
    return atomic_load(&test_oom_failures_);
}

/* What n rt_go calls gave under an out-of-memory mode (test_oom_go). */
typedef struct {
    long made, nomem, other;
} test_oom_gos;

/* n rt_go(fn, NULL) calls with the switch at `mode` (off again afterwards), each
 * counted into *c by its result: a G id, RT_ENOMEM, or anything else. */
static inline void test_oom_go(int mode, long n, void (*fn)(void *), test_oom_gos *c)
{
    test_oom_set(mode);
    for (long i = 0; i < n; i++) {
        int64_t id = rt_go(fn, NULL);
        if (id > 0)
            c->made++;
        else if (id == RT_ENOMEM)
            c->nomem++;
        else
            c->other++;
    }
    test_oom_set(TEST_OOM_OFF);
}

/* Whether this allocation is to fail. */
static inline bool test_oom_fail_(void)
{
    int mode = atomic_load_explicit(&test_oom_mode_, memory_order_relaxed);
    if (mode == TEST_OOM_OFF)
        return false;
    if (mode == TEST_OOM_HALF) {
        /* splitmix64 of the call number: its low bit decides. */
        uint64_t z = (uint64_t)atomic_fetch_add(&test_oom_calls_, 1) + 0x9E3779B97F4A7C15u;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        if (((z ^ (z >> 31)) & 1) == 0)
            return false;
    }
    atomic_fetch_add(&test_oom_failures_, 1);
    errno = ENOMEM;
    return true;
}

void *malloc(size_t n)
{
    return test_oom_fail_() ? NULL : __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    return test_oom_fail_() ? NULL : __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    if (p && n == 0)
        return __libc_realloc(p, n);
    return test_oom_fail_() ? NULL : __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    return test_oom_fail_() ? NULL : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

#endif
