/*
 * test_membarrier.h: a seccomp filter that makes membarrier(2) fail with EPERM, as a
 * sandbox may (include after test.h).
 *   test_deny_membarrier(tsync)   installs it; false (and a failed check) if that
 *                                 could not be done. With `tsync` it also goes on
 *                                 every thread of the process that runs already
 *                                 (seccomp(2) with SECCOMP_FILTER_FLAG_TSYNC; valgrind
 *                                 does not run that call); without, on the calling
 *                                 thread and every thread it starts later
 *                                 (prctl(PR_SET_SECCOMP), which valgrind runs).
 *   test_membarrier_denied()      the filter bites on the calling thread.
 */
#ifndef MRT_TEST_MEMBARRIER_H
#define MRT_TEST_MEMBARRIER_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#define TEST_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

static inline bool test_membarrier_denied(void)
{
    return syscall(SYS_membarrier, TEST_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED, 0, 0) == -1 &&
           errno == EPERM;
}

static inline bool test_deny_membarrier(bool tsync)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        FAIL("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return false;
    }
    if (tsync) {
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
            FAIL("seccomp(SECCOMP_SET_MODE_FILTER): %s", strerror(errno));
            return false;
        }
    } else if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        FAIL("prctl(PR_SET_SECCOMP): %s", strerror(errno));
        return false;
    }
    return CHECK(test_membarrier_denied());
}

#endif
