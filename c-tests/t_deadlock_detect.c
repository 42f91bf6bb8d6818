/*
 * RT_CFG_DEADLOCK_DETECT (issue 11): "all goroutines are asleep - deadlock!" and
 * RT_EDEADLK from rt_main when every G is parked and nothing can wake one, and no
 * report whenever something can.
 *
 * Reported (each in its own child, stderr captured): the main G receives on a
 * channel nobody sends on while another G waits to send on another, at GOMAXPROCS 1
 * and 2; the same with the second G parked by rt_park (host-parked Gs count as
 * asleep once no thread is left to rt_ready them); the same with the main G wired to
 * rt_main's thread by rt_lockosthread (that M waits in stoplockedm, not on the idle
 * list: rt_main used to stay there). The report carries the dump.
 *
 * Not reported (rt_main returns RT_OK, stderr has no "deadlock"): the main G waits
 * on a channel that a G sends on after a 50 ms rt_sleep (a pending timer); after
 * rt_poll_fd sees a pipe written by another process (an fd waiter); after a
 * blocking read between rt_entersyscall/rt_exitsyscall (a G in a system call); or
 * that a foreign thread sends on after a 50 ms nanosleep outside libmrt (a thread
 * that might wake a G). The delays only give sysmon time to look (it looks every
 * 10 ms while idle); no assertion depends on them.
 */
#include "test.h"

#include <sys/resource.h>

static rt_chan *dl_ch, *dl_ch2;
static int dl_go[2], dl_data[2];

__attribute__((noinline, used)) void dl_sender_stuck(void *a)
{
    (void)a;
    int v = 1;
    rt_chan_send(dl_ch2, &v);
}

static bool dl_keep(rt_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return true;
}

__attribute__((noinline, used)) void dl_host_parked(void *a)
{
    (void)a;
    rt_park(dl_keep, NULL);
}

__attribute__((noinline, used)) void dl_main_stuck(void *a)
{
    intptr_t how = (intptr_t)a;
    if (how == 3)
        CHECK_RC(rt_lockosthread(), RT_OK);
    CHECK(rt_go(how == 2 ? dl_host_parked : dl_sender_stuck, NULL) > 0);
    int v;
    rt_chan_recv(dl_ch, &v);
    FAIL("the deadlocked main G was woken");
}

static void deadlocked(void *arg)
{
    intptr_t how = (intptr_t)arg;
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    rt_config cfg = { .size = sizeof cfg, .maxprocs = how == 1 ? 2 : 1,
                      .flags = RT_CFG_DEADLOCK_DETECT };
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &dl_ch), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &dl_ch2), RT_OK);
    CHECK_RC(rt_main(dl_main_stuck, arg), RT_EDEADLK);
    CHECK_STR_EQ(rt_err_name(RT_EDEADLK), "RT_EDEADLK");
    /* The Gs stay parked: exit without rt_shutdown (it would wait for them). */
}

/* ---- the cases where a wake is possible ---- */

static void dl_wake_after_sleep(void *a)
{
    (void)a;
    rt_sleep(50000000);
    int v = 7;
    CHECK_RC(rt_chan_send(dl_ch, &v), RT_OK);
}

static void dl_wake_after_fd(void *a)
{
    (void)a;
    CHECK(write(dl_go[1], "g", 1) == 1);
    CHECK(rt_poll_fd(dl_data[0], RT_POLLIN, -1) & RT_POLLIN);
    int v = 7;
    CHECK_RC(rt_chan_send(dl_ch, &v), RT_OK);
}

static void dl_wake_after_syscall(void *a)
{
    (void)a;
    CHECK(write(dl_go[1], "g", 1) == 1);
    char c;
    CHECK_RC(rt_entersyscall(), RT_OK);
    ssize_t n = read(dl_data[0], &c, 1);
    CHECK_RC(rt_exitsyscall(), RT_OK);
    CHECK_EQ(n, 1);
    int v = 7;
    CHECK_RC(rt_chan_send(dl_ch, &v), RT_OK);
}

static void *dl_foreign_sender(void *a)
{
    (void)a;
    struct timespec ts = { 0, 50000000 };
    nanosleep(&ts, NULL);
    int v = 7;
    CHECK_RC(rt_chan_send(dl_ch, &v), RT_OK);
    return NULL;
}

static void dl_main_waits(void *a)
{
    rt_fn waker = (rt_fn)a;
    if (waker)
        CHECK(rt_go(waker, NULL) > 0);
    int v = 0;
    CHECK_RC(rt_chan_recv(dl_ch, &v), RT_OK);
    CHECK_EQ(v, 7);
}

enum { W_SLEEP, W_FD, W_SYSCALL, W_FOREIGN, W_N };

static void wakeable(void *arg)
{
    int how = (int)(intptr_t)arg;
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 1, .flags = RT_CFG_DEADLOCK_DETECT };
    CHECK(pipe(dl_go) == 0 && pipe(dl_data) == 0);
    if (how == W_FD || how == W_SYSCALL) {
        /* Another process writes the data once the G is about to wait for it. */
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            if (read(dl_go[0], &c, 1) == 1) {
                struct timespec ts = { 0, 50000000 };
                nanosleep(&ts, NULL);
                if (write(dl_data[1], "d", 1) != 1)
                    _exit(1);
            }
            _exit(0);
        }
        CHECK(pid > 0);
    }
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_chan_make(sizeof(int), 0, &dl_ch), RT_OK);
    pthread_t th;
    rt_fn waker = NULL;
    switch (how) {
    case W_SLEEP: waker = dl_wake_after_sleep; break;
    case W_FD: waker = dl_wake_after_fd; break;
    case W_SYSCALL: waker = dl_wake_after_syscall; break;
    case W_FOREIGN: CHECK(pthread_create(&th, NULL, dl_foreign_sender, NULL) == 0); break;
    }
    CHECK_RC(rt_main(dl_main_waits, (void *)waker), RT_OK);
    if (how == W_FOREIGN)
        pthread_join(th, NULL);
    CHECK_RC(rt_chan_free(dl_ch), RT_OK);
    CHECK_RC(rt_shutdown(test_under_valgrind() ? 60000000000LL : 20000000000LL), RT_OK);
    int st;
    while (wait(&st) > 0)
        ;
}

static char err[1 << 16];

int main(void)
{
    const char *what[] = { "GOMAXPROCS 1", "GOMAXPROCS 2", "rt_park", "wired main G" };
    for (intptr_t how = 0; how < 4; how++) {
        CHECK_CHILD_OK(test_spawn(deadlocked, (void *)how, err, sizeof err));
        bool ok = CHECK(strstr(err, "libmrt: all goroutines are asleep - deadlock!\n") != NULL) &&
                  CHECK(strstr(err, "goroutine profile: total 2\n") != NULL) &&
                  CHECK(strstr(err, "1 goroutine [chan receive]:\n") != NULL) &&
                  CHECK(strstr(err, "dl_main_stuck+0x") != NULL) &&
                  CHECK(strstr(err, how == 2 ? "1 goroutine [rt_park]:\n"
                                             : "1 goroutine [chan send]:\n") != NULL);
        /* Reported once. */
        const char *first = strstr(err, "deadlock!");
        ok = ok && CHECK(first && strstr(first + 1, "deadlock!") == NULL);
        if (!ok)
            fprintf(stderr, "deadlock case %s, stderr:\n%s\n", what[how], err);
    }
    const char *wname[] = { "timer", "fd waiter", "syscall", "foreign thread" };
    for (intptr_t how = 0; how < W_N; how++) {
        CHECK_CHILD_OK(test_spawn(wakeable, (void *)how, err, sizeof err));
        if (!CHECK(strstr(err, "deadlock") == NULL))
            fprintf(stderr, "false report with a %s:\n%s\n", wname[how], err);
    }
    return test_summary();
}
