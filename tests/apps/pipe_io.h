/* Whole reads and writes on pipes, for the apps whose processes talk through them (fork.c,
 * locks.c): a pipe may take or give fewer bytes than asked, and a signal may interrupt. */
#ifndef PIPE_IO_H
#define PIPE_IO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Writes all `n` bytes (stops at an error other than EINTR). */
static inline void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until `n` bytes or EOF; how many came. */
static inline size_t read_full(int fd, void *buf, size_t n) {
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

#endif
