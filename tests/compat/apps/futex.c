/* futex(2) called directly (syscall(SYS_futex)), the operations libcs build threads on:
 * FUTEX_WAIT on a word that no longer holds the expected value (EAGAIN), FUTEX_WAIT with a
 * relative 10 ms timeout and FUTEX_WAIT_BITSET with absolute deadlines (ETIMEDOUT, after at
 * least 10 ms), FUTEX_WAKE with no waiters (0), FUTEX_WAKE_BITSET waking a FUTEX_WAIT_BITSET
 * waiter only for a matching bitset, and FUTEX_CMP_REQUEUE: 3 waiters on A, wake 1 and move 2
 * to B, then wake B. A waiter counts itself in just before its FUTEX_WAIT; main waits for the
 * count, then 50 ms more for the waiters to block. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "compat.h"

/* From <linux/futex.h> (musl-gcc has no kernel headers). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_BITSET_MATCH_ANY 0xffffffff

static long futex(atomic_int *word, int op, int val, const void *timeout_or_n, atomic_int *word2, int val3) {
    return syscall(SYS_futex, word, op, val, timeout_or_n, word2, val3);
}

/* The outcome of a futex call: its count, or the errno name of its failure. */
static const char *outcome(long ret) {
    static char buf[32];
    if (ret >= 0)
        snprintf(buf, sizeof buf, "%ld", ret);
    else if (errno == EAGAIN)
        return "EAGAIN";
    else if (errno == ETIMEDOUT)
        return "ETIMEDOUT";
    else if (errno == EINTR)
        return "EINTR";
    else
        return errname(errno);
    return buf;
}

/* Prints "<what>: <outcome>"; another outcome than `want` is a failure. */
static void expect(const char *what, long ret, const char *want) {
    const char *got = outcome(ret);
    printf("%s: %s\n", what, got);
    if (strcmp(got, want) != 0) {
        failures++;
        printf("  FAILED: expected %s\n", want);
    }
}

static long long now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits (1 ms naps, at most 10 s) until *v >= want. */
static void wait_for(atomic_int *v, int want) {
    for (int i = 0; i < 10000 && atomic_load(v) < want; i++)
        sleep_ms(1);
}

/* Times out on an absolute deadline 10 ms ahead on `clock`. */
static void timed_bitset_wait(const char *what, int op, clockid_t clock) {
    atomic_int word = 0;
    long long start = now_ns(clock), until = start + 10000000;
    struct timespec deadline = {until / 1000000000, until % 1000000000};
    expect(what, futex(&word, op, 0, &deadline, NULL, FUTEX_BITSET_MATCH_ANY), "ETIMEDOUT");
    int late_enough = now_ns(clock) >= until;
    printf("  ... not before the deadline: %s\n", late_enough ? "yes" : "no");
    if (!late_enough)
        failures++;
}

static pthread_t start_thread(void *(*fn)(void *)) {
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, NULL);
    if (e) {
        printf("pthread_create failed: %s\n", e == EAGAIN ? "EAGAIN" : errname(e));
        exit(1);
    }
    return t;
}

/* ---- FUTEX_WAIT_BITSET / FUTEX_WAKE_BITSET */
static atomic_int bits_word, bits_arrived;

static void *bitset_waiter(void *arg) {
    (void)arg;
    atomic_fetch_add(&bits_arrived, 1);
    long ret = futex(&bits_word, FUTEX_WAIT_BITSET, 0, NULL, NULL, 0x1);
    return (void *)(intptr_t)(ret == 0 ? 0 : errno);
}

/* ---- FUTEX_CMP_REQUEUE */
static atomic_int word_a, word_b, rq_arrived, rq_woken, rq_errors;

static void *requeue_waiter(void *arg) {
    (void)arg;
    atomic_fetch_add(&rq_arrived, 1);
    if (futex(&word_a, FUTEX_WAIT, 0, NULL, NULL, 0) != 0)
        atomic_fetch_add(&rq_errors, 1);
    atomic_fetch_add(&rq_woken, 1);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* a hang or a crash still shows how far it got */
    atomic_int word = 1;
    expect("FUTEX_WAIT, word 1, expecting 0", futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), "EAGAIN");
    expect("FUTEX_WAIT|FUTEX_PRIVATE_FLAG, word 1, expecting 0",
           futex(&word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0), "EAGAIN");

    word = 0;
    struct timespec ten_ms = {0, 10000000};
    long long start = now_ns(CLOCK_MONOTONIC);
    expect("FUTEX_WAIT with a 10 ms timeout", futex(&word, FUTEX_WAIT, 0, &ten_ms, NULL, 0), "ETIMEDOUT");
    int slept = now_ns(CLOCK_MONOTONIC) - start >= 10000000;
    printf("  ... after at least 10 ms: %s\n", slept ? "yes" : "no");
    if (!slept)
        failures++;
    timed_bitset_wait("FUTEX_WAIT_BITSET, CLOCK_MONOTONIC deadline +10 ms", FUTEX_WAIT_BITSET, CLOCK_MONOTONIC);
    timed_bitset_wait("FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, deadline +10 ms",
                      FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, CLOCK_REALTIME);

    expect("FUTEX_WAKE with no waiters", futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), "0");
    expect("FUTEX_WAKE|FUTEX_PRIVATE_FLAG with no waiters",
           futex(&word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0), "0");

    pthread_t t[3];
    t[0] = start_thread(bitset_waiter);
    wait_for(&bits_arrived, 1);
    sleep_ms(50);
    expect("FUTEX_WAKE_BITSET 0x2, waiter on bitset 0x1",
           futex(&bits_word, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 0x2), "0");
    long woken = 0;
    for (int i = 0; i < 10000 && woken == 0; i++) { /* again if the waiter was not asleep yet */
        woken = futex(&bits_word, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 0x1);
        if (woken == 0)
            sleep_ms(1);
    }
    expect("FUTEX_WAKE_BITSET 0x1, waiter on bitset 0x1", woken, "1");
    void *err;
    pthread_join(t[0], &err);
    errno = (int)(intptr_t)err;
    expect("the waiter's FUTEX_WAIT_BITSET returned", errno ? -1 : 0, "0");

    for (int i = 0; i < 3; i++)
        t[i] = start_thread(requeue_waiter);
    wait_for(&rq_arrived, 3);
    sleep_ms(50);
    expect("FUTEX_CMP_REQUEUE expecting A = 5 (A is 0)",
           futex(&word_a, FUTEX_CMP_REQUEUE, 1, (void *)2, &word_b, 5), "EAGAIN");
    expect("FUTEX_CMP_REQUEUE of 3 waiters on A: wake 1, requeue 2 to B (woken + requeued)",
           futex(&word_a, FUTEX_CMP_REQUEUE, 1, (void *)2, &word_b, 0), "3");
    wait_for(&rq_woken, 1);
    sleep_ms(20);
    expect("waiters woken by the requeue", atomic_load(&rq_woken), "1");
    expect("FUTEX_WAKE on A after the requeue", futex(&word_a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0), "0");
    expect("FUTEX_WAKE on B", futex(&word_b, FUTEX_WAKE, INT_MAX, NULL, NULL, 0), "2");
    wait_for(&rq_woken, 3);
    expect("waiters woken in all", atomic_load(&rq_woken), "3");
    /* If some waiter was late, release it rather than hang. */
    atomic_store(&word_a, 1);
    while (atomic_load(&rq_woken) < 3) {
        futex(&word_a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        futex(&word_b, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        sleep_ms(1);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    expect("waiters whose FUTEX_WAIT failed", atomic_load(&rq_errors), "0");
    return finish();
}
