/*
 * san_racy.c: the live-wire check of c-tests/san.sh. With libmrt telling the
 * sanitizer everything, real bugs in Gs must still be reported:
 *   san_racy race       two Gs (on different Ms or the same one) increment a plain
 *                       counter with no synchronisation: TSan must report a data race
 *                       in racy_inc
 *   san_racy overflow   a G reads one byte past a stack array: ASan must report a
 *                       stack-buffer-overflow in overflow_g
 * Both join through rt_wg, whose edge must not hide the race before it.
 */
#include <stdio.h>
#include <string.h>

#include "mrt.h"

#define NOINLINE __attribute__((noinline))

static long counter;
static rt_wg wg = RT_WG_INIT;

static void NOINLINE racy_inc(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        counter++;
        if (i % 100 == 0)
            rt_gosched();
    }
    rt_wg_done(&wg);
}

static volatile int past = 16;

static void NOINLINE overflow_g(void *arg)
{
    (void)arg;
    char buf[16];
    memset(buf, 1, sizeof buf);
    volatile char c = buf[past]; /* one past the end */
    (void)c;
    rt_wg_done(&wg);
}

static void main_g(void *arg)
{
    const char *mode = arg;
    int n = strcmp(mode, "race") == 0 ? 4 : 1;
    rt_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        rt_go(n == 4 ? racy_inc : overflow_g, NULL);
    rt_wg_wait(&wg);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "race") != 0 && strcmp(argv[1], "overflow") != 0)) {
        fprintf(stderr, "usage: san_racy race|overflow\n");
        return 2;
    }
    rt_config cfg = { .size = sizeof cfg, .maxprocs = 2 };
    if (rt_init(&cfg) != RT_OK || rt_main(main_g, argv[1]) != RT_OK)
        return 3;
    printf("counter %ld\n", counter);
    return 0;
}
