/* Tests pipes within one process: data, EOF, EPIPE and SIGPIPE, O_NONBLOCK, capacity, poll/select readiness. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

/* errno names beyond common.h's. */
static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
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

/* poll() of one fd without waiting. */
static const char *poll1(int fd, short want) {
    struct pollfd p = {fd, want, 0};
    check(poll(&p, 1, 0) >= 0, "poll");
    return events(p.revents);
}

static int sigpipes;
static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

/* Writes to a pipe without readers with SIGPIPE at its default: the app dies of it. */
static int die_of_sigpipe(void) {
    int fds[2];
    check(pipe(fds) == 0, "pipe");
    close(fds[0]);
    printf("writing to a pipe without readers\n");
    fflush(stdout);
    ssize_t n = write(fds[1], "x", 1);
    printf("still alive: write = %zd (%s)\n", n, ename(errno));
    return 1;
}

int main(int argc, char **argv) {
    int fds[2];
    char buf[256];
    ssize_t n;
    if (argc > 1 && strcmp(argv[1], "sigpipe") == 0)
        return die_of_sigpipe();

    /* 1: bytes in order; what the ends are. */
    check(pipe(fds) == 0, "pipe");
    struct stat st, st2;
    check(fstat(fds[0], &st) == 0 && fstat(fds[1], &st2) == 0, "fstat");
    printf("fstat: fifo %s, size %lld, same inode %s\n", S_ISFIFO(st.st_mode) ? "yes" : "no", (long long)st.st_size,
           st.st_ino == st2.st_ino ? "yes" : "no");
    snprintf(buf, sizeof buf, "/proc/self/fd/%d", fds[1]);
    char link[64] = {0}, want[64];
    check(readlink(buf, link, sizeof link - 1) > 0, "readlink");
    snprintf(want, sizeof want, "pipe:[%llu]", (unsigned long long)st.st_ino);
    printf("readlink /proc/self/fd: pipe:[inode] %s\n", strcmp(link, want) == 0 ? "yes" : link);
    errno = 0;
    off_t offset = lseek(fds[0], 0, SEEK_CUR);
    printf("lseek: %lld %s\n", (long long)offset, ename(errno));
    printf("write: %zd\n", write(fds[1], "hello, pipe", 11));
    int avail = -1;
    check(ioctl(fds[0], FIONREAD, &avail) == 0, "FIONREAD");
    printf("FIONREAD: %d\n", avail);
    n = read(fds[0], buf, 5);
    printf("read 5: %zd <%.*s>\n", n, (int)n, buf);
    n = read(fds[0], buf, sizeof buf);
    printf("read the rest: %zd <%.*s>\n", n, (int)n, buf);
    errno = 0;
    n = read(fds[1], buf, 1);
    printf("read the write end: %zd %s\n", n, ename(errno));
    errno = 0;
    n = write(fds[0], "x", 1);
    printf("write the read end: %zd %s\n", n, ename(errno));

    /* 2: O_NONBLOCK: an empty pipe says EAGAIN; a full one holds 64 KiB. */
    check(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0, "F_SETFL");
    errno = 0;
    n = read(fds[0], buf, 1);
    const char *error = ename(errno);
    printf("empty: read %zd %s; poll read end %s, write end %s\n", n, error, poll1(fds[0], POLLIN | POLLOUT),
           poll1(fds[1], POLLIN | POLLOUT));
    printf("F_GETPIPE_SZ: %d\n", fcntl(fds[1], F_GETPIPE_SZ));
    static char page[4096];
    memset(page, 'p', sizeof page);
    size_t total = 0;
    while ((n = write(fds[1], page, sizeof page)) > 0)
        total += (size_t)n;
    printf("filled with 4 KiB writes: %zu bytes, then %s\n", total, ename(errno));
    errno = 0;
    n = write(fds[1], "x", 1);
    error = ename(errno);
    printf("full: write 1 byte %zd %s; poll read end %s, write end %s\n", n, error,
           poll1(fds[0], POLLIN | POLLOUT), poll1(fds[1], POLLIN | POLLOUT));
    check(ioctl(fds[0], FIONREAD, &avail) == 0, "FIONREAD");
    total = 0;
    int same = 1;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
        total += (size_t)n;
        for (ssize_t i = 0; i < n; i++)
            same &= buf[i] == 'p';
    }
    printf("FIONREAD %d, drained %zu bytes, all intact %s, then %s\n", avail, total, same ? "yes" : "no",
           ename(errno));

    /* 3: writes of at most PIPE_BUF bytes are all or nothing. */
    static char big[61540];
    memset(big, 'b', sizeof big);
    printf("write 61540: %zd\n", write(fds[1], big, sizeof big));
    errno = 0;
    n = write(fds[1], page, sizeof page);
    printf("4096 into 3996 bytes of room: %zd %s\n", n, ename(errno));
    printf("100 into 3996 bytes of room: %zd\n", write(fds[1], page, 100));
    while (read(fds[0], buf, sizeof buf) > 0)
        ;

    /* 4: end of file once every writer is closed (a dup keeps the pipe open). */
    int writer2 = dup(fds[1]);
    close(fds[1]);
    printf("one writer left: poll %s\n", poll1(fds[0], POLLIN));
    check(write(writer2, "last", 4) == 4, "write last");
    close(writer2);
    printf("no writer, data left: poll %s\n", poll1(fds[0], POLLIN));
    n = read(fds[0], buf, sizeof buf);
    printf("read %zd <%.*s>\n", n, (int)n, buf);
    n = read(fds[0], buf, sizeof buf);
    printf("then read %zd (end of file), poll %s\n", n, poll1(fds[0], POLLIN));
    close(fds[0]);

    /* 5: pipe2 flags; no reader: EPIPE, with SIGPIPE handled and ignored. */
    check(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
    printf("pipe2: cloexec %s, nonblock %s, read end O_RDONLY %s, write end O_WRONLY %s\n",
           fcntl(fds[0], F_GETFD) & FD_CLOEXEC ? "yes" : "no", fcntl(fds[1], F_GETFL) & O_NONBLOCK ? "yes" : "no",
           (fcntl(fds[0], F_GETFL) & O_ACCMODE) == O_RDONLY ? "yes" : "no",
           (fcntl(fds[1], F_GETFL) & O_ACCMODE) == O_WRONLY ? "yes" : "no");
    int bad[2];
    errno = 0;
    int r2 = pipe2(bad, O_APPEND);
    printf("pipe2(O_APPEND): %d %s\n", r2, ename(errno));
    close(fds[0]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigpipe;
    check(sigaction(SIGPIPE, &sa, NULL) == 0, "sigaction");
    errno = 0;
    n = write(fds[1], "x", 1);
    printf("no reader, SIGPIPE handled: write %zd %s, handler ran %d time(s)\n", n, ename(errno), sigpipes);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    n = write(fds[1], "x", 1);
    error = ename(errno);
    printf("no reader, SIGPIPE ignored: write %zd %s; poll write end %s\n", n, error,
           poll1(fds[1], POLLOUT));
    close(fds[1]);

    /* 6: select and poll with timeouts. */
    check(pipe(fds) == 0, "pipe");
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(fds[0], &r);
    FD_SET(fds[1], &w);
    struct timeval tv = {0, 0};
    int ready = select(fds[1] + 1, &r, &w, NULL, &tv);
    printf("select empty: %d, readable %s, writable %s\n", ready, FD_ISSET(fds[0], &r) ? "yes" : "no",
           FD_ISSET(fds[1], &w) ? "yes" : "no");
    check(write(fds[1], "s", 1) == 1, "write");
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(fds[0], &r);
    FD_SET(fds[1], &w);
    ready = select(fds[1] + 1, &r, &w, NULL, NULL);
    printf("select with data: %d, readable %s, writable %s\n", ready, FD_ISSET(fds[0], &r) ? "yes" : "no",
           FD_ISSET(fds[1], &w) ? "yes" : "no");
    check(read(fds[0], buf, 1) == 1, "read");
    FD_ZERO(&r);
    FD_SET(fds[0], &r);
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    ready = select(fds[0] + 1, &r, NULL, NULL, &tv);
    printf("select timing out: %d, readable %s\n", ready, FD_ISSET(fds[0], &r) ? "yes" : "no");
    // A closed descriptor below the fd table's size: Linux's select ignores
    // descriptors past the table's end, which depends on the environment.
    int closed_fd = dup(fds[0]);
    check(closed_fd >= 0 && close(closed_fd) == 0, "dup and close");
    FD_ZERO(&r);
    FD_SET(closed_fd, &r);
    errno = 0;
    tv.tv_usec = 0;
    ready = select(closed_fd + 1, &r, NULL, NULL, &tv);
    printf("select of a closed fd: %d %s\n", ready, ename(errno));
    FD_ZERO(&r);
    FD_SET(fds[0], &r);
    struct timespec ts = {0, 10000000};
    printf("pselect timing out: %d\n", pselect(fds[0] + 1, &r, NULL, NULL, &ts, NULL));
    struct pollfd pfds[3] = {{fds[0], POLLIN, 0}, {-1, POLLIN, 0}, {99, POLLIN, 0}};
    ready = poll(pfds, 3, 20);
    printf("poll with a closed fd: %d: %s, %s, %s\n", ready, events(pfds[0].revents), events(pfds[1].revents),
           events(pfds[2].revents));
    ready = poll(pfds, 2, 20);
    printf("poll timing out: %d\n", ready);
    close(fds[1]);
    ready = poll(pfds, 1, -1);
    printf("poll after the writer closed: %d %s\n", ready, events(pfds[0].revents));
    return 0;
}
