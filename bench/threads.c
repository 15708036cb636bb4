// Thread benchmarks for docs/PERFORMANCE.md (bench/threads.sh runs them natively and in uvm).
//   threads cpu N      a fixed CPU-bound job (integer hashing) split over N threads
//   threads pingpong K K round trips of a futex hand-off between two threads
// Prints the elapsed wall time of the measured part in microseconds.
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

#define WORK 400000000UL
static unsigned long per_thread;
static void *hash_work(void *arg) {
    uint64_t x = (uint64_t)(uintptr_t)arg + 1;
    for (unsigned long i = 0; i < per_thread; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (void *)(uintptr_t)x;
}

static _Atomic uint32_t turn;
static long rounds;
static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(_Atomic uint32_t *addr) { syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }
static void *pong(void *arg) {
    for (long i = 0; i < rounds; i++) {
        while (atomic_load(&turn) != 1) futex_wait(&turn, 0);
        atomic_store(&turn, 0);
        futex_wake(&turn);
    }
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: threads cpu N | threads pingpong K\n");
        return 2;
    }
    long n = atol(argv[2]);
    pthread_t t[64];
    long start = now_us();
    if (strcmp(argv[1], "cpu") == 0 && n >= 1 && n <= 64) {
        per_thread = WORK / n;
        for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, hash_work, (void *)i);
        uint64_t sum = 0;
        for (long i = 0; i < n; i++) {
            void *r;
            pthread_join(t[i], &r);
            sum += (uintptr_t)r;
        }
        if (sum == 42) puts("unlikely");
    } else if (strcmp(argv[1], "pingpong") == 0 && n >= 1) {
        rounds = n;
        pthread_create(&t[0], NULL, pong, NULL);
        start = now_us();
        for (long i = 0; i < n; i++) {
            atomic_store(&turn, 1);
            futex_wake(&turn);
            while (atomic_load(&turn) != 0) futex_wait(&turn, 1);
        }
        pthread_join(t[0], NULL);
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    printf("%ld\n", now_us() - start);
    return 0;
}
