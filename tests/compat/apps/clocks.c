/* Time: CLOCK_MONOTONIC never goes back (in one thread and across threads) and advances,
 * CLOCK_REALTIME, time() and gettimeofday agree, time() is within a minute of the host's
 * clock (argv[1], seconds since the epoch), the other clocks answer, and the calendar
 * functions convert fixed times exactly (UTC). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "compat.h"

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

/* The latest CLOCK_MONOTONIC reading any thread published, and how often a thread read the
 * clock behind it. */
static _Atomic long long cross_latest;
static _Atomic long cross_backwards;

static void *read_against_the_others(void *unused) {
    (void)unused;
    for (int i = 0; i < 1000000; i++) {
        long long seen = atomic_load(&cross_latest);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long long now = ns(&t);
        if (now < seen)
            atomic_fetch_add(&cross_backwards, 1);
        long long latest = atomic_load(&cross_latest);
        while (now > latest && !atomic_compare_exchange_weak(&cross_latest, &latest, now)) {
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    struct timespec a, b, res;
    long long host = argc > 1 ? atoll(argv[1]) : 0;

    int backwards = 0, advanced = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long long first = ns(&a);
    for (int i = 0; i < 100000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (ns(&b) < ns(&a))
            backwards++;
        if (ns(&b) > ns(&a))
            advanced++;
        a = b;
    }
    CHECK("CLOCK_MONOTONIC never goes back in 100000 reads", backwards == 0);
    CHECK("CLOCK_MONOTONIC advances", advanced > 0 && ns(&a) > first);

    /* Across threads (each on a vCPU of its own in the VM): a time one thread read and
     * published, another must never read the clock behind it. */
    pthread_t readers[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&readers[i], NULL, read_against_the_others, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    CHECK("CLOCK_MONOTONIC never goes back across threads", atomic_load(&cross_backwards) == 0);

    /* Spin until 20 ms of monotonic time have passed; the real-time clock must agree. */
    struct timespec m0, m1, r0, r1;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &r0);
    long spins = 0;
    do
        clock_gettime(CLOCK_MONOTONIC, &m1);
    while (ns(&m1) - ns(&m0) < 20000000LL && ++spins < 200000000L);
    clock_gettime(CLOCK_REALTIME, &r1);
    long long real_ms = (ns(&r1) - ns(&r0)) / 1000000;
    CHECK("20 ms of CLOCK_MONOTONIC are 15..1000 ms of CLOCK_REALTIME", real_ms >= 15 && real_ms <= 1000);

    struct timeval tv;
    time_t now = time(NULL);
    clock_gettime(CLOCK_REALTIME, &r0);
    gettimeofday(&tv, NULL);
    CHECK("time() and CLOCK_REALTIME agree within 1 s", r0.tv_sec - now <= 1 && r0.tv_sec >= now);
    CHECK("gettimeofday and CLOCK_REALTIME agree within 1 s", tv.tv_sec - r0.tv_sec <= 1 && tv.tv_sec >= r0.tv_sec);
    CHECK("time() is within a minute of the host's clock", now - host <= 60 && host - now <= 60);
    CHECK("time() is after 2020", now > 1577836800);

    CHECK("clock_getres(CLOCK_MONOTONIC) is at most 1 ms",
          clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000);
    CHECK("CLOCK_MONOTONIC_COARSE answers", clock_gettime(CLOCK_MONOTONIC_COARSE, &a) == 0);
    CHECK("CLOCK_REALTIME_COARSE answers", clock_gettime(CLOCK_REALTIME_COARSE, &a) == 0 && a.tv_sec > 1577836800);
    CHECK("CLOCK_BOOTTIME answers", clock_gettime(CLOCK_BOOTTIME, &a) == 0);
    CHECK("CLOCK_PROCESS_CPUTIME_ID answers", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a) == 0);
    EXPECT_ERR("an invalid clock id", clock_gettime((clockid_t)12345, &a), EINVAL);

    char text[64];
    time_t zero = 0, fixed = 1700000000;
    struct tm tm;
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %a", gmtime_r(&zero, &tm));
    printf("gmtime(0): %s\n", text);
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %A %B %j", gmtime_r(&fixed, &tm));
    printf("gmtime(1700000000): %s\n", text);
    /* No TZ and no /etc/localtime: local time is UTC. */
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&fixed, &tm));
    printf("localtime(1700000000): %s\n", text);
    struct tm leap = {.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 12, .tm_min = 34, .tm_sec = 56};
    printf("timegm(2024-02-29 12:34:56): %lld\n", (long long)timegm(&leap));
    return finish();
}
