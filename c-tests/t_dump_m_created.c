/*
 * rt_dump's "created by" lines of an M. By default an M records the call site of the
 * host's rt_allocm / rt_newm (one line, naming the calling function, as a G's
 * "created by" does); with MRT_DEBUG=createstack (read by rt_init) it records the
 * whole call stack, so the caller's callers show too.
 */
#include "test.h"

#define DM_NOINLINE __attribute__((noinline, used))

/* The "created by" lines that follow M `id`'s line, copied into `out`; their count. */
static int created_lines(const char *dump, int64_t id, char *out, size_t cap)
{
    char hdr[48];
    snprintf(hdr, sizeof hdr, "\n  M%lld: ", (long long)id);
    const char *p = dump ? strstr(dump, hdr) : NULL;
    out[0] = 0;
    if (!p)
        return -1;
    p = strchr(p + 1, '\n');
    int n = 0;
    while (p && strncmp(p + 1, "      created by ", 17) == 0) {
        const char *e = strchr(p + 1, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (strlen(out) + len + 1 < cap)
            strncat(out, p + 1, len);
        n++;
        p = e;
    }
    return n;
}

static volatile int dm_sink;

DM_NOINLINE rt_m *dm_make(void)
{
    rt_m *m = NULL;
    CHECK_RC(rt_allocm(NULL, NULL, NULL, &m), RT_OK);
    dm_sink++; /* not a tail call: dm_make's frame stays on the stack */
    return m;
}

DM_NOINLINE rt_m *dm_outer(void)
{
    rt_m *m = dm_make();
    dm_sink++;
    return m;
}

static atomic_int dm_ran;

static void dm_start(void *arg)
{
    (void)arg;
    atomic_store(&dm_ran, 1);
}

DM_NOINLINE rt_m *dm_newm(void)
{
    rt_m *m = NULL;
    CHECK_RC(rt_newm(dm_start, NULL, NULL, &m), RT_OK);
    dm_sink++;
    return m;
}

int main(void)
{
    char lines[4096];
    rt_config cfg = {.size = sizeof cfg};
    unsetenv("MRT_DEBUG");

    /* Default: the call site only. */
    CHECK_RC(rt_init(&cfg), RT_OK);
    rt_m *a = dm_outer();
    rt_m *b = dm_newm();
    char *d = test_dump_text();
    CHECK(d != NULL);
    CHECK_EQ(created_lines(d, rt_m_id(a), lines, sizeof lines), 1);
    CHECK(strstr(lines, "dm_make+0x") != NULL);
    CHECK(strstr(lines, "dm_outer") == NULL);
    CHECK_EQ(created_lines(d, rt_m_id(b), lines, sizeof lines), 1);
    CHECK(strstr(lines, "dm_newm+0x") != NULL);
    free(d);
    CHECK_RC(rt_m_free(a), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);

    /* MRT_DEBUG=createstack: the whole stack, callers included. */
    setenv("MRT_DEBUG", "createstack", 1);
    CHECK_RC(rt_init(&cfg), RT_OK);
    a = dm_outer();
    d = test_dump_text();
    CHECK(d != NULL);
    CHECK(created_lines(d, rt_m_id(a), lines, sizeof lines) >= 3);
    CHECK(strstr(lines, "dm_make+0x") != NULL);
    CHECK(strstr(lines, "dm_outer+0x") != NULL);
    CHECK(strstr(lines, "main+0x") != NULL);
    free(d);
    CHECK_RC(rt_m_free(a), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    unsetenv("MRT_DEBUG");
    return test_summary();
}
