/* Connection set-up rate: WORKERS threads each open a TCP connection to HOST:PORT, send one
 * HTTP/1.1 GET with "Connection: close", read the answer to EOF, close, COUNT/WORKERS times.
 * Prints "<connections> <errors> <seconds>" (the measured part only).
 * Usage: connrate HOST PORT WORKERS COUNT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static long per_worker;

static void *worker(void *arg) {
    (void)arg;
    static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    long errors = 0;
    char buf[4096];
    for (long i = 0; i < per_worker; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&target, sizeof target) != 0 ||
            send(s, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
            errors++;
            if (s >= 0)
                close(s);
            continue;
        }
        size_t got = 0;
        ssize_t r;
        char head[16] = "";
        while ((r = recv(s, buf, sizeof buf, 0)) > 0) {
            if (got < sizeof head - 1)
                memcpy(head + got, buf, (size_t)r < sizeof head - 1 - got ? (size_t)r : sizeof head - 1 - got);
            got += r;
        }
        if (r < 0 || strncmp(head, "HTTP/1.1 200", 12) != 0)
            errors++;
        close(s);
    }
    return (void *)errors;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: connrate HOST PORT WORKERS COUNT\n");
        return 2;
    }
    target.sin_family = AF_INET;
    target.sin_port = htons(atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: %s\n", argv[1]);
        return 2;
    }
    int workers = atoi(argv[3]);
    per_worker = atol(argv[4]) / workers;
    pthread_t t[256];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < workers; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    long errors = 0;
    for (int i = 0; i < workers; i++) {
        void *e;
        pthread_join(t[i], &e);
        errors += (long)e;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld %ld %.6f\n", per_worker * workers, errors, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
