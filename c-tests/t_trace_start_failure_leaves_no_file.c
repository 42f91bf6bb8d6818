/*
 * rt_trace_start that fails leaves no file behind (found by a bug hunt): it created
 * (or emptied) the host's file first and only then reserved its memory and made its
 * scratch file, so a failure of those (RT_ENOMEM, RT_EAGAIN with no fd left) or of
 * the header's write left a new file with a half header. Now the memory and the
 * scratch file come first, and a file the call created is removed if its header
 * cannot be written. Each case runs in a child after rt_init:
 *   no fd     exactly one fd free: the scratch file takes it, the trace's file cannot
 *             be opened: RT_EAGAIN and no file (before: the file, then RT_EAGAIN);
 *   no room   RLIMIT_FSIZE 0 (SIGXFSZ ignored): the header's write fails (EFBIG):
 *             RT_EINVAL and no file (before: an empty file);
 *   existing  the same with a file that was there before: it stays (emptied: the
 *             call truncated it, as a successful start does).
 */
#include "test_chan.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

enum { NO_FD, NO_ROOM, EXISTING, NCASES };
static const char *const names[NCASES] = { "no fd", "no room", "existing" };
static char path[128];

static bool exists(void)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void child(void *arg)
{
    int how = (int)(intptr_t)arg;
    tc_init(1);
    if (how == EXISTING) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!CHECK(fd >= 0))
            return;
        CHECK_EQ(write(fd, "old", 3), 3);
        close(fd);
    }
    if (how == NO_FD) {
        struct rlimit lim = { 64, 64 };
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
        int last = -1;
        for (;;) {
            int fd = open("/dev/null", O_RDONLY);
            if (fd < 0)
                break;
            last = fd;
        }
        if (!CHECK(last >= 0))
            return;
        close(last);
        CHECK_RC(rt_trace_start(path), RT_EAGAIN);
        /* The fds stay open: the child exits. */
    } else {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = { 0, RLIM_INFINITY };
        CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
        CHECK_RC(rt_trace_start(path), RT_EINVAL);
    }
    CHECK_EQ(exists(), how == EXISTING);
    CHECK_RC(rt_trace_stop(), RT_EINVAL);
}

int main(void)
{
    char dir[] = "/tmp/mrt-trace-fail-XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL))
        return test_summary();
    snprintf(path, sizeof path, "%s/trace.json", dir);
    for (intptr_t how = 0; how < NCASES; how++) {
        /* Valgrind keeps fds of its own and refuses a lower RLIMIT_NOFILE. */
        if (how == NO_FD && test_under_valgrind())
            continue;
        int st = test_spawn(child, (void *)how, NULL, 0);
        if (!CHECK_CHILD_OK(st))
            fprintf(stderr, "case %s failed\n", names[how]);
        unlink(path);
    }
    rmdir(dir);
    return test_summary();
}
