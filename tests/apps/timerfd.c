/* timerfd: timers read through a file. Creation and its errors, one-shot and periodic timers
 * read without and with blocking, poll and edge-triggered epoll waking at the deadline, an
 * absolute CLOCK_REALTIME time, disarming, what the file shows of itself (fstat,
 * /proc/self/fd) and the calls it refuses. Prints facts only (no times that differ by run). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static int arm(int fd, int flags, long value_ms, long interval_ms) {
    struct itimerspec it = {{interval_ms / 1000, (interval_ms % 1000) * 1000000L},
                            {value_ms / 1000, (value_ms % 1000) * 1000000L}};
    return timerfd_settime(fd, flags, &it, NULL);
}

static long read_count(int fd) {
    uint64_t n = 0;
    ssize_t r = read(fd, &n, sizeof n);
    return r < 0 ? -1 : (long)n;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("clock CLOCK_PROCESS_CPUTIME_ID: %s\n", call_result(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0)));
    printf("flag 4: %s\n", call_result(timerfd_create(CLOCK_MONOTONIC, 4)));

    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct stat st;
    fstat(fd, &st);
    char link[64] = {0}, path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (readlink(path, link, sizeof link - 1) < 0)
        snprintf(link, sizeof link, "%s", errname(errno));
    printf("timerfd: mode %04o, cloexec %s, nonblock %s, link %s\n", (unsigned)st.st_mode,
           fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no", fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no", link);
    uint64_t n = 1;
    printf("write: %s\n", call_result(write(fd, &n, sizeof n)));
    printf("read 4 bytes: %s\n", call_result(read(fd, &n, 4)));
    printf("read, disarmed: %s\n", call_result(read(fd, &n, sizeof n)));
    struct itimerspec bad = {{0, 0}, {0, 1000000000}};
    printf("settime with 1e9 ns: %s\n", call_result(timerfd_settime(fd, 0, &bad, NULL)));
    printf("settime flag 4: %s\n", call_result(arm(fd, 4, 10, 0)));
    int pipes[2];
    if (pipe(pipes) != 0)
        return 1;
    printf("settime of a pipe: %s\n", call_result(arm(pipes[0], 0, 10, 0)));

    /* A one-shot timer: not yet, then poll wakes at the deadline, one expiration. */
    long long start = now_ms();
    arm(fd, 0, 50, 0);
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    long left_ms = cur.it_value.tv_sec * 1000 + cur.it_value.tv_nsec / 1000000;
    printf("gettime: 0 < left <= 50 ms %s, interval %ld\n", cur.it_value.tv_nsec > 0 && left_ms <= 50 ? "yes" : "no",
           (long)cur.it_interval.tv_nsec);
    printf("read before the deadline: %s\n", call_result(read(fd, &n, sizeof n)));
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = poll(&pfd, 1, 2000);
    printf("poll: %d, POLLIN %s, after the deadline %s\n", ready, pfd.revents & POLLIN ? "yes" : "no",
           now_ms() - start >= 50 ? "yes" : "no");
    printf("read: %ld expiration(s)\n", read_count(fd));
    printf("read again: %s\n", call_result(read(fd, &n, sizeof n)));
    timerfd_gettime(fd, &cur);
    printf("gettime after it fired: %ld.%09ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_nsec);

    /* A periodic timer counts every interval that passed. */
    arm(fd, 0, 10, 10);
    struct timespec nap = {0, 55 * 1000000L};
    nanosleep(&nap, NULL);
    printf("periodic, after 55 ms: at least 5 expirations %s\n", read_count(fd) >= 5 ? "yes" : "no");
    struct itimerspec zero = {{0, 0}, {0, 0}}, old;
    timerfd_settime(fd, 0, &zero, &old);
    printf("disarmed: the old interval %ld ms, the old value set %s\n", old.it_interval.tv_nsec / 1000000,
           old.it_value.tv_nsec > 0 || old.it_value.tv_sec > 0 ? "yes" : "no");
    printf("read after disarming: %s\n", call_result(read(fd, &n, sizeof n)));

    /* A blocking timerfd: read waits for the deadline. */
    int blocking = timerfd_create(CLOCK_BOOTTIME, 0);
    start = now_ms();
    arm(blocking, 0, 30, 0);
    long got = read_count(blocking);
    printf("blocking read: %ld expiration(s), after the deadline %s\n", got, now_ms() - start >= 30 ? "yes" : "no");

    /* An absolute CLOCK_REALTIME time 40 ms ahead. */
    int real = timerfd_create(CLOCK_REALTIME, 0);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    wall.tv_nsec += 40 * 1000000L;
    if (wall.tv_nsec >= 1000000000L) {
        wall.tv_sec++;
        wall.tv_nsec -= 1000000000L;
    }
    struct itimerspec at = {{0, 0}, wall};
    start = now_ms();
    printf("settime ABSTIME|CANCEL_ON_SET: %s\n",
           call_result(timerfd_settime(real, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &at, NULL)));
    got = read_count(real);
    printf("absolute realtime: %ld expiration(s), after it %s\n", got, now_ms() - start >= 39 ? "yes" : "no");

    /* Edge-triggered epoll wakes when the timer fires, once. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN | EPOLLET, {.u64 = 7}}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    printf("epoll, disarmed: %d\n", epoll_wait(ep, out, 2, 0));
    start = now_ms();
    arm(fd, 0, 20, 0);
    ready = epoll_wait(ep, out, 2, 2000);
    printf("epoll: %d (data %llu), after the deadline %s\n", ready, ready > 0 ? (unsigned long long)out[0].data.u64 : 0,
           now_ms() - start >= 20 ? "yes" : "no");
    printf("epoll, edge again: %d\n", epoll_wait(ep, out, 2, 0));
    printf("read: %ld expiration(s)\n", read_count(fd));
    return 0;
}
