/* Tests eventfd and epoll within one thread: counter and semaphore reads, EAGAIN, epoll_ctl's errors, level, edge and one-shot reporting on pipes and eventfds, timeouts. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* errno names beyond common.h's. */
static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case ELOOP: return "ELOOP";
    case ESPIPE: return "ESPIPE";
    }
    return errname(e);
}

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s (errno %s)\n", what, ename(errno));
        exit(1);
    }
}

/* "<result>" or "-1 <errno name>" of a call that returned `r` (errno saved right after it). */
static const char *res(long r, int err) {
    static char bufs[4][32];
    static int next;
    char *buf = bufs[next++ % 4];
    if (r < 0)
        snprintf(buf, 32, "%ld %s", r, ename(err));
    else
        snprintf(buf, 32, "%ld", r);
    return buf;
}

/* Runs `call`, printing "<what>: <result>". */
#define SHOW(what, call)                                                                           \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(call);                                                                    \
        int e_ = errno;                                                                            \
        printf("%s: %s\n", what, res(r_, e_));                                                     \
    } while (0)

static long write_u64(int fd, uint64_t value) {
    return write(fd, &value, sizeof value);
}

/* Reads a counter; the value, or -1 with errno. */
static long long read_u64(int fd) {
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    return n == 8 ? (long long)value : -1;
}

/* One epoll_wait (timeout 0, up to `max` events), shown as "<n>: <data>=<events>, ..."
 * with the events sorted by data (Linux's order is the order they became ready). */
static const char *wait_now(int ep, int max) {
    static char buf[256];
    struct epoll_event out[8];
    int n = epoll_wait(ep, out, max, 0);
    if (n < 0) {
        snprintf(buf, sizeof buf, "-1 %s", ename(errno));
        return buf;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && out[j - 1].data.u64 > out[j].data.u64; j--) {
            struct epoll_event t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    int at = snprintf(buf, sizeof buf, "%d", n);
    for (int i = 0; i < n; i++)
        at += snprintf(buf + at, sizeof buf - at, "%s %llu=%s", i ? "," : ":", (unsigned long long)out[i].data.u64,
                       events(out[i].events));
    return buf;
}

static int add(int ep, int fd, uint32_t ev, uint64_t data) {
    struct epoll_event e = {.events = ev, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int modify(int ep, int fd, uint32_t ev, uint64_t data) {
    struct epoll_event e = {.events = ev, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* What /proc/self/fd/<fd> links to. */
static const char *fd_link(int fd) {
    static char buf[128];
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    return buf;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void eventfd_checks(void) {
    int efd = eventfd(5, 0);
    check(efd >= 0, "eventfd");
    struct stat st;
    check(fstat(efd, &st) == 0, "fstat eventfd");
    printf("eventfd: mode %04o, type bits %s, O_RDWR %s\n", (unsigned)(st.st_mode & 07777),
           (st.st_mode & S_IFMT) ? "yes" : "none", (fcntl(efd, F_GETFL) & O_ACCMODE) == O_RDWR ? "yes" : "no");
    printf("readlink /proc/self/fd: %s\n", fd_link(efd));
    uint64_t value = 0;
    SHOW("read 4 bytes", read(efd, &value, 4));
    printf("read: %lld\n", read_u64(efd));
    SHOW("write 4 bytes", write(efd, &value, 4));
    SHOW("write 3", write_u64(efd, 3));
    SHOW("write 4", write_u64(efd, 4));
    printf("read: %lld\n", read_u64(efd));
    SHOW("write UINT64_MAX", write_u64(efd, UINT64_MAX));
    SHOW("lseek", lseek(efd, 10, SEEK_SET));
    SHOW("pread", pread(efd, &value, 8, 0));
    close(efd);

    int nb = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    check(nb >= 0, "eventfd nonblocking");
    printf("EFD_NONBLOCK: %s, EFD_CLOEXEC: %s\n", fcntl(nb, F_GETFL) & O_NONBLOCK ? "yes" : "no",
           fcntl(nb, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    errno = 0;
    long long got = read_u64(nb);
    printf("read of 0: %s\n", res(got, errno));
    SHOW("write 0xfffffffffffffffe", write_u64(nb, UINT64_MAX - 1));
    SHOW("write 1 more", write_u64(nb, 1));
    SHOW("write 0 more", write_u64(nb, 0));
    struct pollfd p = {nb, POLLIN | POLLOUT, 0};
    check(poll(&p, 1, 0) >= 0, "poll");
    printf("full: poll %s\n", events(p.revents));
    printf("read: %s\n", read_u64(nb) == (long long)(UINT64_MAX - 1) ? "the max" : "wrong");
    check(poll(&p, 1, 0) >= 0, "poll");
    printf("empty: poll %s\n", events(p.revents));
    close(nb);

    int sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    check(sem >= 0, "eventfd semaphore");
    printf("semaphore reads:");
    for (int i = 0; i < 4; i++) {
        errno = 0;
        long long r = read_u64(sem);
        printf(" %s", res(r, errno));
    }
    printf("\n");
    close(sem);
    SHOW("eventfd2 with flag 2", syscall(SYS_eventfd2, 0, 2));
}

static void ctl_checks(void) {
    SHOW("epoll_create(0)", syscall(SYS_epoll_create, 0));
    SHOW("epoll_create1(1)", epoll_create1(1));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    check(ep >= 0, "epoll_create1");
    struct stat st;
    check(fstat(ep, &st) == 0, "fstat epoll");
    printf("epoll: cloexec %s, mode %04o, link %s\n", fcntl(ep, F_GETFD) & FD_CLOEXEC ? "yes" : "no",
           (unsigned)st.st_mode, fd_link(ep));
    int efd = eventfd(0, 0);
    int file = open("/tmp/epoll_file", O_CREAT | O_RDWR, 0600);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    int other = eventfd(0, 0);
    int closed = dup(efd);
    close(closed);
    check(efd >= 0 && other >= 0 && file >= 0 && dir >= 0, "setup");
    SHOW("ADD a regular file", add(ep, file, EPOLLIN, 0));
    SHOW("ADD a directory", add(ep, dir, EPOLLIN, 0));
    SHOW("ADD the epoll fd itself", add(ep, ep, EPOLLIN, 0));
    SHOW("ADD to an eventfd", add(efd, ep, EPOLLIN, 0));
    SHOW("ADD a closed fd", add(ep, closed, EPOLLIN, 0));
    SHOW("MOD a missing entry", modify(ep, efd, EPOLLIN, 0));
    SHOW("DEL a missing entry", epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
    SHOW("ADD", add(ep, efd, EPOLLIN, 1));
    SHOW("ADD again", add(ep, efd, EPOLLIN, 1));
    SHOW("unknown op", epoll_ctl(ep, 7, efd, &(struct epoll_event){0}));
    SHOW("ADD EPOLLEXCLUSIVE|EPOLLONESHOT", add(ep, other, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
    SHOW("ADD EPOLLEXCLUSIVE", add(ep, other, EPOLLIN | EPOLLEXCLUSIVE, 4));
    SHOW("MOD an EPOLLEXCLUSIVE entry", modify(ep, other, EPOLLIN, 4));
    int inner = epoll_create1(0);
    SHOW("ADD an epoll fd", add(inner, ep, EPOLLIN, 2));
    SHOW("ADD back (a loop)", add(ep, inner, EPOLLIN, 3));
    struct epoll_event out[1];
    SHOW("epoll_wait maxevents 0", epoll_wait(ep, out, 0, 0));
    SHOW("epoll_wait on an eventfd", epoll_wait(efd, out, 1, 0));
    closed = dup(efd);
    close(closed);
    SHOW("epoll_wait on a closed fd", epoll_wait(closed, out, 1, 0));
    close(inner);
    close(other);
    close(file);
    close(dir);
    close(efd);
    close(ep);
    unlink("/tmp/epoll_file");
}

static void level_checks(void) {
    int ep = epoll_create1(0);
    int fds[2];
    check(ep >= 0 && pipe2(fds, O_NONBLOCK) == 0, "setup");
    int efd = eventfd(0, EFD_NONBLOCK);
    check(add(ep, fds[0], EPOLLIN, 10) == 0 && add(ep, fds[1], EPOLLOUT, 11) == 0 && add(ep, efd, EPOLLIN, 12) == 0,
          "ADD");
    printf("level, nothing to read: %s\n", wait_now(ep, 8));
    check(write(fds[1], "ab", 2) == 2 && write_u64(efd, 1) == 8, "write");
    printf("level, after writes: %s\n", wait_now(ep, 8));
    printf("level, again: %s\n", wait_now(ep, 8));
    struct pollfd p = {ep, POLLIN, 0};
    check(poll(&p, 1, 0) >= 0, "poll");
    printf("poll of the epoll fd: %s\n", events(p.revents));
    char c;
    check(read(fds[0], &c, 1) == 1 && read_u64(efd) == 1, "read");
    printf("level, a byte left: %s\n", wait_now(ep, 8));
    check(epoll_ctl(ep, EPOLL_CTL_DEL, fds[0], NULL) == 0, "DEL");
    printf("after DEL of the read end: %s\n", wait_now(ep, 8));
    check(add(ep, fds[0], EPOLLIN, 10) == 0, "ADD");
    close(fds[1]);
    printf("write end closed: %s\n", wait_now(ep, 8));
    check(read(fds[0], &c, 1) == 1, "read");
    printf("drained: %s\n", wait_now(ep, 8));
    close(efd);
    printf("eventfd closed: %s\n", wait_now(ep, 8));
    close(fds[0]);
    printf("all closed: %s\n", wait_now(ep, 8));

    int e[3];
    for (int i = 0; i < 3; i++) {
        e[i] = eventfd(1, 0);
        check(add(ep, e[i], EPOLLIN, 20 + i) == 0, "ADD");
    }
    printf("3 ready, maxevents 2:");
    for (int round = 0; round < 3; round++) {
        struct epoll_event out[2];
        int n = epoll_wait(ep, out, 2, 0);
        printf(" %s", round ? "/" : "");
        for (int i = 0; i < n; i++)
            printf("%s%llu", i ? " " : "", (unsigned long long)out[i].data.u64);
    }
    printf("\n");
    for (int i = 0; i < 3; i++)
        close(e[i]);
    close(ep);
}

static void edge_checks(void) {
    int ep = epoll_create1(0);
    int fds[2];
    check(ep >= 0 && pipe2(fds, O_NONBLOCK) == 0, "setup");
    int efd = eventfd(0, EFD_NONBLOCK);
    check(add(ep, fds[0], EPOLLIN | EPOLLET, 30) == 0 && add(ep, fds[1], EPOLLOUT | EPOLLET, 31) == 0
              && add(ep, efd, EPOLLIN | EPOLLET, 32) == 0,
          "ADD");
    printf("edge, at first: %s\n", wait_now(ep, 8));
    printf("edge, again: %s\n", wait_now(ep, 8));
    check(write(fds[1], "ab", 2) == 2, "write");
    printf("edge, pipe written: %s\n", wait_now(ep, 8));
    printf("edge, again: %s\n", wait_now(ep, 8));
    char c;
    check(read(fds[0], &c, 1) == 1, "read");
    printf("edge, a byte read: %s\n", wait_now(ep, 8));
    check(write(fds[1], "c", 1) == 1, "write");
    printf("edge, written again: %s\n", wait_now(ep, 8));
    check(write_u64(efd, 1) == 8, "write");
    printf("edge, eventfd written: %s\n", wait_now(ep, 8));
    check(write_u64(efd, 1) == 8, "write");
    printf("edge, written again: %s\n", wait_now(ep, 8));
    check(read_u64(efd) == 2, "read");
    printf("edge, eventfd read: %s\n", wait_now(ep, 8));
    check(modify(ep, efd, EPOLLIN | EPOLLOUT | EPOLLET, 32) == 0, "MOD");
    printf("edge, after MOD: %s\n", wait_now(ep, 8));
    close(fds[1]);
    printf("edge, write end closed: %s\n", wait_now(ep, 8));
    printf("edge, again: %s\n", wait_now(ep, 8));
    close(fds[0]);
    close(efd);
    close(ep);
}

static void oneshot_and_timeout_checks(void) {
    int ep = epoll_create1(0);
    int efd = eventfd(1, EFD_NONBLOCK);
    check(ep >= 0 && efd >= 0 && add(ep, efd, EPOLLIN | EPOLLONESHOT, 40) == 0, "setup");
    printf("oneshot: %s\n", wait_now(ep, 8));
    printf("oneshot, again: %s\n", wait_now(ep, 8));
    check(write_u64(efd, 1) == 8, "write");
    printf("oneshot, written: %s\n", wait_now(ep, 8));
    check(modify(ep, efd, EPOLLIN | EPOLLONESHOT, 41) == 0, "MOD");
    printf("oneshot, after MOD: %s\n", wait_now(ep, 8));
    check(read_u64(efd) == 2, "read");

    int inner = epoll_create1(0);
    int inner_efd = eventfd(0, EFD_NONBLOCK);
    check(add(inner, inner_efd, EPOLLIN, 50) == 0 && add(ep, inner, EPOLLIN, 42) == 0, "nest");
    printf("nested, nothing: %s\n", wait_now(ep, 8));
    check(write_u64(inner_efd, 1) == 8, "write");
    printf("nested, inner ready: %s\n", wait_now(ep, 8));
    printf("inner itself: %s\n", wait_now(inner, 8));
    check(read_u64(inner_efd) == 1, "read");

    struct epoll_event out[4];
    SHOW("epoll_wait timeout 0", epoll_wait(ep, out, 4, 0));
    long long start = now_ms();
    SHOW("epoll_wait timeout 20 ms", epoll_wait(ep, out, 4, 20));
    printf("waited at least 20 ms: %s\n", now_ms() - start >= 20 ? "yes" : "no");
    SHOW("epoll_pwait timeout 0", epoll_pwait(ep, out, 4, 0, NULL));
    struct timespec zero = {0, 0}, bad = {0, 2000000000};
    SHOW("epoll_pwait2 timeout {0, 0}", syscall(SYS_epoll_pwait2, ep, out, 4, &zero, NULL, 8));
    SHOW("epoll_pwait2 timeout {0, 2e9}", syscall(SYS_epoll_pwait2, ep, out, 4, &bad, NULL, 8));
    check(write_u64(efd, 1) == 8 && modify(ep, efd, EPOLLIN, 43) == 0, "rearm");
    SHOW("epoll_pwait2 with an event", syscall(SYS_epoll_pwait2, ep, out, 4, NULL, NULL, 8));
    close(inner_efd);
    close(inner);
    close(efd);
    close(ep);
}

int main(void) {
    eventfd_checks();
    ctl_checks();
    level_checks();
    edge_checks();
    oneshot_and_timeout_checks();
    printf("done\n");
    return 0;
}
