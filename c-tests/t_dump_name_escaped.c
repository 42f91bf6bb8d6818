/*
 * rt_dump shows a G's rt_go_ex name between double quotes on the G's one line. The
 * name is the host's bytes: a name holding a newline, a quote, a backslash or another
 * control character must not break that line, end the quotes early or forge a line
 * of its own (a name "x\n  goroutine 999 [running]" once printed a second goroutine
 * line, and a quote inside ended the name). The dump escapes such bytes as Go's %q
 * does: \" \\ \n \t \r and \xNN for the other control characters (DEL included);
 * printable text, UTF-8 included, stays as it is.
 */
#include "test.h"

static rt_chan *gate;

static void parked(void *arg)
{
    (void)arg;
    rt_chan_recv(gate, NULL);
}

struct named {
    const char *name; /* what rt_go_ex gets */
    const char *shown; /* what the dump must show between name=" and " */
};

static const struct named names[] = {
    {"x\n  goroutine 999 [running]", "x\\n  goroutine 999 [running]"},
    {"q\"uo\\te", "q\\\"uo\\\\te"},
    {"t\tr\re\x01" "f\x1f" "d\x7f", "t\\tr\\re\\x01f\\x1fd\\x7f"},
    {"caf\xc3\xa9 ok", "caf\xc3\xa9 ok"},
};
#define NNAMES (sizeof names / sizeof names[0])

/* Whether every G made here shows in the dump parked, so its line is final. */
static bool all_parked(const char *d)
{
    char want[32];
    snprintf(want, sizeof want, "%zu goroutines [chan receive]:\n", NNAMES);
    return strstr(d, want) != NULL;
}

int main(void)
{
    CHECK_RC(rt_init(NULL), RT_OK);
    CHECK_RC(rt_chan_make(0, 0, &gate), RT_OK);
    for (size_t i = 0; i < NNAMES; i++) {
        rt_go_attr at = {.size = sizeof at, .name = names[i].name};
        CHECK(rt_go_ex(parked, NULL, &at) > 0);
    }
    char *d = NULL;
    for (int i = 0; i < 2000; i++) {
        free(d);
        d = test_dump_text();
        if (d && all_parked(d))
            break;
        sched_yield();
        usleep(1000);
    }
    if (CHECK(d != NULL) && CHECK(all_parked(d))) {
        for (size_t i = 0; i < NNAMES; i++) {
            char want[128];
            snprintf(want, sizeof want, " name=\"%s\" created by a thread", names[i].shown);
            if (!CHECK(strstr(d, want) != NULL))
                fprintf(stderr, "missing from the dump: %s\n", want);
        }
        /* No line but the Gs' own starts as a goroutine line, and no control
         * character other than the newlines ending lines is written. */
        CHECK(strstr(d, "\n  goroutine 999 ") == NULL);
        const char *bad = NULL;
        for (const char *p = d; *p && !bad; p++)
            if (((unsigned char)*p < 0x20 && *p != '\n') || (unsigned char)*p == 0x7f)
                bad = p;
        if (!CHECK(bad == NULL))
            fprintf(stderr, "control byte %#x at offset %td\n", (unsigned char)*bad, bad - d);
    }
    free(d);
    CHECK_RC(rt_chan_close(gate), RT_OK);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    CHECK_RC(rt_chan_free(gate), RT_OK);
    return test_summary();
}
