/* Tests named pipes (mkfifo): the file's type and permissions, opens that wait for the other
 * side (both ways, across processes), a non-blocking writer with no reader (ENXIO), O_RDWR,
 * data and end of file, fstat of an end, one pipe shared by every open while any is open
 * (what it held gone once all closed), an unlinked FIFO still open, and a blocking open
 * interrupted by a signal (EINTR without SA_RESTART). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static const char *ename(int e) {
    switch (e) {
    case ENXIO: return "ENXIO";
    }
    return errname(e);
}

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s (errno %s)\n", what, ename(errno));
        exit(1);
    }
}

static const char *yes(int ok) {
    return ok ? "yes" : "no";
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads until end of file into buf (at most size - 1 bytes, NUL-terminated). */
static ssize_t read_all(int fd, char *buf, size_t size) {
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n <= 0) {
            buf[got] = 0;
            return n < 0 ? n : (ssize_t)got;
        }
        got += (size_t)n;
    }
}

/* poll() of a reader without waiting: its events, or "none". */
static const char *poll1(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    check(poll(&p, 1, 0) >= 0, "poll");
    return p.revents ? events(p.revents) : "none";
}

static void on_alarm(int sig) {
    (void)sig;
}

int main(void) {
    const char *path = "/tmp/fifo-test";
    char buf[256];
    struct stat st, fst;
    umask(022);
    unlink(path);

    check(mkfifo(path, 0640) == 0, "mkfifo");
    check(stat(path, &st) == 0, "stat");
    printf("mkfifo: a FIFO: %s, mode %o\n", yes(S_ISFIFO(st.st_mode)), st.st_mode & 07777);
    errno = 0;
    int again = mkfifo(path, 0640);
    printf("mkfifo again: %d %s\n", again, ename(errno));

    errno = 0;
    int fd = open(path, O_WRONLY | O_NONBLOCK);
    printf("non-blocking writer, no reader: %d %s\n", fd, ename(errno));

    int reader = open(path, O_RDONLY | O_NONBLOCK);
    check(reader >= 0, "non-blocking reader");
    printf("non-blocking reader, no writer: opened; read = %zd; poll: %s\n", read(reader, buf, sizeof buf),
           poll1(reader));
    int writer = open(path, O_WRONLY | O_NONBLOCK);
    check(writer >= 0, "non-blocking writer with a reader");
    check(write(writer, "hello", 5) == 5, "write");
    ssize_t n = read(reader, buf, sizeof buf);
    printf("through the FIFO: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    check(fstat(writer, &fst) == 0, "fstat");
    printf("fstat of an end: a FIFO: %s, the file's inode: %s\n", yes(S_ISFIFO(fst.st_mode)),
           yes(fst.st_ino == st.st_ino && fst.st_dev == st.st_dev));
    errno = 0;
    n = read(reader, buf, sizeof buf);
    printf("empty, a writer open: %zd %s\n", n, ename(errno));
    close(writer);
    printf("the writer closed: read = %zd; poll: %s\n", read(reader, buf, sizeof buf), poll1(reader));
    close(reader);

    /* A blocking reader waits for a writer: the child opens it 150 ms later. */
    pid_t child = fork();
    check(child >= 0, "fork");
    if (child == 0) {
        sleep_ms(150);
        int w = open(path, O_WRONLY);
        if (w < 0 || write(w, "from the child", 14) != 14)
            _exit(1);
        _exit(0);
    }
    double began = now_ms();
    reader = open(path, O_RDONLY);
    check(reader >= 0, "blocking reader");
    double waited = now_ms() - began;
    n = read_all(reader, buf, sizeof buf);
    int status;
    waitpid(child, &status, 0);
    printf("blocking reader waited for the writer: %s; read \"%s\" then end of file; child %d\n",
           yes(waited >= 100), buf, WEXITSTATUS(status));
    close(reader);

    /* A blocking writer waits for a reader: the child reads it 150 ms later. */
    child = fork();
    check(child >= 0, "fork");
    if (child == 0) {
        sleep_ms(150);
        int r = open(path, O_RDONLY);
        char got[64];
        if (r < 0 || read_all(r, got, sizeof got) != 15 || strcmp(got, "from the parent") != 0)
            _exit(1);
        _exit(0);
    }
    began = now_ms();
    writer = open(path, O_WRONLY);
    check(writer >= 0, "blocking writer");
    waited = now_ms() - began;
    check(write(writer, "from the parent", 15) == 15, "write to the child");
    close(writer);
    waitpid(child, &status, 0);
    printf("blocking writer waited for the reader: %s; the child read it: %s\n", yes(waited >= 100),
           yes(WIFEXITED(status) && WEXITSTATUS(status) == 0));

    /* O_RDWR opens at once; what it wrote is gone once every end has closed. */
    int both = open(path, O_RDWR | O_NONBLOCK);
    check(both >= 0, "O_RDWR");
    check(write(both, "kept", 4) == 4, "write O_RDWR");
    int second = open(path, O_RDONLY | O_NONBLOCK);
    n = read(second, buf, sizeof buf);
    printf("O_RDWR: opened at once; another open reads its bytes: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    check(write(both, "lost", 4) == 4, "write again");
    close(second);
    close(both);
    both = open(path, O_RDWR | O_NONBLOCK);
    errno = 0;
    n = read(both, buf, sizeof buf);
    printf("every end closed, then opened again: %zd %s\n", n, ename(errno));

    /* Unlinked while open: the pipe goes on. */
    check(unlink(path) == 0, "unlink");
    check(write(both, "still", 5) == 5, "write after unlink");
    n = read(both, buf, sizeof buf);
    errno = 0;
    int gone = stat(path, &st);
    printf("unlinked while open: %zd \"%.*s\"; stat: %d %s\n", n, (int)(n > 0 ? n : 0), buf, gone, ename(errno));
    close(both);

    /* A blocking open with nobody on the other side ends with a signal (no SA_RESTART). */
    check(mkfifo(path, 0600) == 0, "mkfifo for EINTR");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval timer = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &timer, NULL);
    errno = 0;
    fd = open(path, O_RDONLY);
    printf("blocking open interrupted by a signal: %d %s\n", fd, ename(errno));
    unlink(path);
    return 0;
}
