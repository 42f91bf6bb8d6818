/*
 * $MRT_SCHEDTRACE, $MRT_SCHEDDETAIL and the $MRT_DEBUG key check (issue 11 item 2):
 *  - MRT_SCHEDTRACE=<ms> prints Go's SCHED line on stderr again and again (the test
 *    waits for two, with no bound but the harness's alarm): gomaxprocs, idleprocs,
 *    threads, spinningthreads, idlethreads, runqueue and one run-queue length per P;
 *  - with MRT_SCHEDDETAIL=1, a line per P, M and G: a G parked on a channel shows
 *    as status=4 (Go's _Gwaiting);
 *  - a value that is no number of milliseconds is refused with one warning and
 *    prints no SCHED line; without MRT_SCHEDTRACE nothing is printed;
 *  - MRT_DEBUG with an unknown key warns once, naming it and the known keys; known
 *    keys alone give no warning.
 * Each case runs in a forked child whose stderr goes to a file it reads back.
 */
#include "test.h"

#include <fcntl.h>

static char errpath[64];

static void redirect_stderr(void)
{
    snprintf(errpath, sizeof errpath, "/tmp/mrt-schedtrace-%d", (int)getpid());
    int fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 2) < 0)
        FAIL("redirect: %s", strerror(errno));
    close(fd);
}

static char *read_err(void)
{
    static char buf[1 << 16];
    int fd = open(errpath, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Waits (the harness's alarm is the bound) until stderr holds `n` copies of `s`. */
static char *wait_for(const char *s, int n)
{
    char *t;
    while (count(t = read_err(), s) < n)
        usleep(2000);
    return t;
}

static rt_chan *never;

static void parked(void *arg)
{
    (void)arg;
    int v;
    rt_chan_recv(never, &v);
}

static void schedtrace(void *arg)
{
    (void)arg;
    redirect_stderr();
    setenv("MRT_SCHEDTRACE", "5", 1);
    rt_config cfg = {.size = sizeof cfg, .maxprocs = 3};
    CHECK_RC(rt_init(&cfg), RT_OK);
    char *t = wait_for("SCHED ", 2);
    const char *line = strstr(t, "SCHED ");
    CHECK(strstr(line, "ms: gomaxprocs=3 idleprocs=") != NULL);
    static const char *fields[] = {" threads=", " spinningthreads=", " idlethreads=", " runqueue="};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!CHECK(strstr(line, fields[i]) != NULL))
            FAIL("no %s in: %s", fields[i], line);
    int a, b, c;
    const char *l = strchr(line, '[');
    CHECK(l && sscanf(l, "[%d %d %d]", &a, &b, &c) == 3);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    unlink(errpath);
}

static void main_detail(void *arg)
{
    (void)arg;
    CHECK_RC(rt_chan_make(sizeof(int), 0, &never), RT_OK);
    int64_t id = rt_go(parked, NULL);
    CHECK(id > 0);
    char want[64];
    snprintf(want, sizeof want, "  G%lld: status=4", (long long)id);
    /* rt_sleep parks this G too, so the scheduler is free to park the other. */
    while (!strstr(read_err(), want))
        rt_sleep(2 * 1000 * 1000);
    char *t = read_err();
    CHECK(strstr(t, "  P0: status=") && strstr(t, "  P1: status=") && strstr(t, " schedtick="));
    CHECK(strstr(t, "  M1: p=") != NULL);
    CHECK(strstr(t, " runqsize=") && strstr(t, " lockedg=") && strstr(t, " timerslen="));
    rt_chan_close(never);
}

static void scheddetail(void *arg)
{
    (void)arg;
    redirect_stderr();
    setenv("MRT_SCHEDTRACE", "5", 1);
    setenv("MRT_SCHEDDETAIL", "1", 1);
    rt_config cfg = {.size = sizeof cfg, .maxprocs = 2};
    CHECK_RC(rt_init(&cfg), RT_OK);
    CHECK_RC(rt_main(main_detail, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    rt_chan_free(never);
    unlink(errpath);
}

static void g_nop(void *arg) { (void)arg; }

static void bad_value(void *arg)
{
    (void)arg;
    redirect_stderr();
    setenv("MRT_SCHEDTRACE", "10ms", 1);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_main(g_nop, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    char *t = read_err();
    CHECK(strstr(t, "libmrt: MRT_SCHEDTRACE=\"10ms\" ignored") != NULL);
    CHECK_EQ(count(t, "\n"), 1);
    CHECK(strstr(t, "SCHED ") == NULL);
    unlink(errpath);
}

static void quiet(void *arg)
{
    (void)arg;
    redirect_stderr();
    unsetenv("MRT_SCHEDTRACE");
    setenv("MRT_DEBUG", "migrate,asyncpreemptoff", 1);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_main(g_nop, NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_STR_EQ(read_err(), "");
    unlink(errpath);
}

static void debug_unknown(void *arg)
{
    (void)arg;
    redirect_stderr();
    setenv("MRT_DEBUG", "migrate,no-such-key", 1);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    char *t = read_err();
    CHECK(strstr(t, "libmrt: MRT_DEBUG: unknown key(s) no-such-key ignored; known keys: migrate,") != NULL);
    CHECK(strstr(t, "asyncpreemptoff") != NULL);
    CHECK_EQ(count(t, "\n"), 1); /* one line, once */
    unlink(errpath);
}

int main(void)
{
    void (*cases[])(void *) = {schedtrace, scheddetail, bad_value, quiet, debug_unknown};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = test_spawn(cases[i], NULL, NULL, 0);
        if (!CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            FAIL("case %zu: status %#x", i, st);
    }
    return test_summary();
}
