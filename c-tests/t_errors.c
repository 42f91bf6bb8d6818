/*
 * rt_version, and rt_strerror / rt_err_name for every error code and for unknown ones.
 * The codes are negative errno values, so -rc is a valid errno.
 */
#include "test.h"

#include <limits.h>

static const struct {
    int code;
    const char *name;
    int errno_value; /* 0: no errno equivalent to check */
} codes[] = {
    { RT_OK, "RT_OK", 0 },
    { RT_EPERM, "RT_EPERM", EPERM },
    { RT_EAGAIN, "RT_EAGAIN", EAGAIN },
    { RT_ENOMEM, "RT_ENOMEM", ENOMEM },
    { RT_EBUSY, "RT_EBUSY", EBUSY },
    { RT_EINVAL, "RT_EINVAL", EINVAL },
    { RT_ECLOSED, "RT_ECLOSED", EPIPE },
    { RT_EDEADLK, "RT_EDEADLK", EDEADLK },
    { RT_ESHUTDOWN, "RT_ESHUTDOWN", ESHUTDOWN },
    { RT_ETIMEDOUT, "RT_ETIMEDOUT", ETIMEDOUT },
    { RT_EALREADY, "RT_EALREADY", EALREADY },
    { RT_EINTERNAL, "RT_EINTERNAL", 0 },
};
#define NCODES (sizeof codes / sizeof codes[0])

int main(void)
{
    /* Version: "MAJOR.MINOR.PATCH", matching the header's macros. */
    const char *v = rt_version();
    if (CHECK(v != NULL)) {
        char want[64];
        snprintf(want, sizeof want, "%d.%d.%d", MRT_VERSION_MAJOR, MRT_VERSION_MINOR,
                 MRT_VERSION_PATCH);
        CHECK_STR_EQ(v, want);
        CHECK_PTR_EQ(rt_version(), v); /* a static string */
    }

    /* Fixed values (the header's decisions) and the errno relation. */
    CHECK_EQ(RT_OK, 0);
    CHECK_EQ(RT_EINTERNAL, -131);
    for (size_t i = 0; i < NCODES; i++) {
        if (codes[i].errno_value)
            CHECK_EQ(-codes[i].code, codes[i].errno_value);
        if (codes[i].code != RT_OK)
            CHECK(codes[i].code < 0);
    }

    /* Every code: its own name, a non-empty message, both static and distinct. */
    for (size_t i = 0; i < NCODES; i++) {
        const char *name = rt_err_name(codes[i].code);
        const char *msg = rt_strerror(codes[i].code);
        CHECK_STR_EQ(name, codes[i].name);
        if (!CHECK(msg != NULL))
            continue;
        CHECK(msg[0] != 0);
        CHECK(strcmp(msg, "unknown error") != 0);
        CHECK_PTR_EQ(rt_strerror(codes[i].code), msg);
        for (size_t j = 0; j < i; j++) {
            CHECK(codes[i].code != codes[j].code);
            CHECK(strcmp(msg, rt_strerror(codes[j].code)) != 0);
        }
    }

    /* Unknown codes: "unknown error" from both. */
    static const int unknown[] = { 1, 22, -2, -23, -9999, 108, INT_MIN, INT_MAX, -130, -132 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_STR_EQ(rt_strerror(unknown[i]), "unknown error");
        CHECK_STR_EQ(rt_err_name(unknown[i]), "unknown error");
    }

    /* Whether or not these pure functions started the runtime, it works after them. */
    int rc = rt_init(NULL);
    CHECK(rc == RT_OK || rc == RT_EALREADY);
    CHECK_RC(rt_shutdown(-1), RT_OK);
    return test_summary();
}
