/* A program that uses an installed libmrt, as a project outside this repository
 * would: `#include <mrt.h>`, then link through pkg-config, CMake or libmrt.a
 * (ci/test-install.sh builds it all three ways from a temporary directory).
 * A G sends 1..100 on a buffered channel to the main G, which adds them up. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mrt.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static rt_chan *numbers;

static void producer(void *arg) {
    long n = (long)(intptr_t)arg;
    for (long i = 1; i <= n; i++) {
        if (rt_chan_send(numbers, &i) != RT_OK) return;
    }
    rt_chan_close(numbers);
}

static void main_g(void *arg) {
    long *sum = arg, v;
    if (rt_chan_make(sizeof v, 4, &numbers) != RT_OK) return;
    if (rt_go(producer, (void *)(intptr_t)100) <= 0) return;
    while (rt_chan_recv(numbers, &v) == RT_OK) *sum += v;
    rt_chan_free(numbers);
}

int main(void) {
    const char *want = STR(MRT_VERSION_MAJOR) "." STR(MRT_VERSION_MINOR) "." STR(MRT_VERSION_PATCH);
    long sum = 0;
    int rc = rt_main(main_g, &sum);
    if (rc != RT_OK) {
        fprintf(stderr, "rt_main: %s\n", rt_strerror(rc));
        return 1;
    }
    rc = rt_shutdown(-1);
    printf("libmrt %s (header %s): sum %ld, shutdown %s\n", rt_version(), want, sum,
           rt_err_name(rc));
    return sum == 5050 && rc == RT_OK && strcmp(rt_version(), want) == 0 ? 0 : 1;
}
