/*
 * test_nothreads.h: a switch that makes thread creation fail, for the tests of a
 * runtime that cannot get a thread (include after test.h, in exactly one translation
 * unit). It defines pthread_create in the test program, which takes precedence over
 * glibc's for the whole process (libmrt included), and forwards to the next
 * definition unless told to refuse:
 *   atomic_store(&test_refuse_threads, 1)   every pthread_create returns EAGAIN
 *   atomic_load(&test_refused_threads)      pthread_create calls refused so far
 */
#ifndef MRT_TEST_NOTHREADS_H
#define MRT_TEST_NOTHREADS_H

#include <dlfcn.h>

static atomic_int test_refuse_threads;
static atomic_long test_refused_threads;

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    static _Atomic(create_fn) real;
    if (atomic_load(&test_refuse_threads)) {
        atomic_fetch_add(&test_refused_threads, 1);
        return EAGAIN;
    }
    create_fn f = atomic_load(&real);
    if (!f) {
        f = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
        if (!f)
            return EAGAIN;
        atomic_store(&real, f);
    }
    return f(t, attr, fn, arg);
}

#endif
