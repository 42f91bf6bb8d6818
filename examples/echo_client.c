/*
 * echo_client: drives an echo server with CONNS concurrent connections from its own
 * process (plain threads and blocking sockets, no libmrt), each sending BYTES of a
 * per-connection pattern in chunks and checking that every byte comes back in order.
 *
 *   echo_client PORT [CONNS=100] [BYTES=65536]
 * Exit 0 and "N passed, 0 failed" when every connection got every byte back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static long nbytes = 65536;
static atomic_int ok, bad;
static pthread_barrier_t start;

static unsigned char pattern(long conn, long i) { return (unsigned char)((conn * 131 + i * 7 + (i >> 8)) & 0xff); }

static void *client(void *arg) {
    long id = (long)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_barrier_wait(&start);  /* every connection is open at once */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("connect");
        atomic_fetch_add(&bad, 1);
        close(fd);
        return NULL;
    }
    unsigned char out[4096], in[4096];
    long sent = 0, got = 0, errors = 0;
    while (got < nbytes) {
        long chunk = 1 + (id * 37 + sent) % (long)sizeof out;
        if (chunk > nbytes - sent) chunk = nbytes - sent;
        for (long i = 0; i < chunk; i++) out[i] = pattern(id, sent + i);
        if (chunk > 0 && write(fd, out, (size_t)chunk) != chunk) { errors++; break; }
        sent += chunk;
        long want = sent - got;
        while (want > 0) {
            ssize_t n = read(fd, in, want < (long)sizeof in ? (size_t)want : sizeof in);
            if (n <= 0) { errors++; goto done; }
            for (ssize_t i = 0; i < n; i++)
                if (in[i] != pattern(id, got + i)) errors++;
            got += n;
            want -= n;
        }
    }
done:
    close(fd);
    if (errors == 0 && got == nbytes) atomic_fetch_add(&ok, 1);
    else { atomic_fetch_add(&bad, 1); fprintf(stderr, "conn %ld: %ld errors, %ld/%ld bytes\n", id, errors, got, nbytes); }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: echo_client PORT [CONNS] [BYTES]\n"); return 2; }
    port = atoi(argv[1]);
    long conns = argc > 2 ? atol(argv[2]) : 100;
    if (argc > 3) nbytes = atol(argv[3]);
    pthread_t *t = calloc((size_t)conns, sizeof *t);
    pthread_barrier_init(&start, NULL, (unsigned)conns);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < conns; i++) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 << 10);
        pthread_create(&t[i], &a, client, (void *)i);
        pthread_attr_destroy(&a);
    }
    for (long i = 0; i < conns; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("echo_client: %ld connections x %ld bytes in %.3f s (%.1f MB/s round trip)\n", conns, nbytes, s,
           (double)conns * (double)nbytes / s / 1e6);
    printf("%d passed, %d failed\n", ok, bad);
    free(t);
    return bad == 0 && ok == conns ? 0 : 1;
}
