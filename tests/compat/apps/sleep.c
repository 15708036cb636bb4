/* Sleeping: nanosleep, clock_nanosleep (relative and TIMER_ABSTIME), usleep, select and poll
 * with no descriptors each wait at least as long as asked (measured on CLOCK_MONOTONIC) and
 * not absurdly longer. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include "compat.h"

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void report(const char *what, int ret, long long start, long long want_ms) {
    long long ms = (now_ns() - start) / 1000000;
    if (ret == 0 && ms >= want_ms && ms < want_ms + 2000) {
        printf("%s: ok\n", what);
    } else {
        failures++;
        printf("%s: FAILED (returned %d, errno %s, took %lld ms, wanted %lld)\n", what, ret, errname(errno), ms, want_ms);
    }
}

int main(void) {
    long long t = now_ns();
    struct timespec req = {0, 50000000}, rem;
    report("nanosleep 50 ms", nanosleep(&req, &rem), t, 50);

    t = now_ns();
    req.tv_nsec = 30000000;
    report("clock_nanosleep 30 ms", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), t, 30);

    t = now_ns();
    struct timespec until = {(t + 40000000) / 1000000000, (t + 40000000) % 1000000000};
    report("clock_nanosleep TIMER_ABSTIME +40 ms", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL), t, 40);

    t = now_ns();
    report("usleep 20000", usleep(20000), t, 20);

    /* Short sleeps (as Go's runtime makes, 20 us) last at least as long as asked too. */
    int short_ok = 1;
    long long shortest = 1LL << 62;
    for (int i = 0; i < 200; i++) {
        long long s = now_ns();
        if (usleep(20) != 0)
            short_ok = 0;
        long long took = now_ns() - s;
        shortest = took < shortest ? took : shortest;
    }
    if (short_ok && shortest >= 20000) {
        printf("usleep 20 us, 200 times: ok\n");
    } else {
        failures++;
        printf("usleep 20 us, 200 times: FAILED (shortest %lld ns)\n", shortest);
    }

    t = now_ns();
    struct timeval tv = {0, 25000};
    report("select with no fds, 25 ms", select(0, NULL, NULL, NULL, &tv), t, 25);

    t = now_ns();
    report("poll with no fds, 25 ms", poll(NULL, 0, 25), t, 25);

    t = now_ns();
    report("sleep(1)", (int)sleep(1), t, 1000);
    return finish();
}
