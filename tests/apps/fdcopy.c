/* Tests copies between fds (sendfile, copy_file_range) and vectored positioned I/O (preadv/pwritev and their v2). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common.h"

/* Raw numbers: not every libc has wrappers for these. */
#define NR_COPY_FILE_RANGE 326
#define NR_PREADV2 327
#define NR_PWRITEV2 328

static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case ESPIPE: return "ESPIPE";
    case EXDEV: return "EXDEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    }
    return errname(e);
}

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s (errno %s)\n", what, ename(errno));
        exit(1);
    }
}

static unsigned char data[10000];

/* FNV-1a of `len` bytes of `fd` at `offset`. */
static unsigned hash_at(int fd, off_t offset, size_t len) {
    static unsigned char buf[20000];
    check(len <= sizeof buf && pread(fd, buf, len, offset) == (ssize_t)len, "pread for the hash");
    return fnv1a(2166136261u, buf, len);
}

static long copy_file_range_raw(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags) {
    return syscall(NR_COPY_FILE_RANGE, in, off_in, out, off_out, len, flags);
}

static off_t position(int fd) {
    return lseek(fd, 0, SEEK_CUR);
}

/* Prints `what: result errno`, with errno cleared before the call. */
#define TRY(what, call)                                                                                                \
    do {                                                                                                               \
        errno = 0;                                                                                                     \
        long r_ = (long)(call);                                                                                        \
        printf("%s: %ld %s\n", what, r_, ename(errno));                                                                \
    } while (0)

int main(void) {
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 % 251);
    int src = open("/tmp/src", O_CREAT | O_RDWR | O_TRUNC, 0644);
    check(src >= 0 && write(src, data, sizeof data) == sizeof data, "make /tmp/src");

    /* 1: sendfile between files: with an offset (the position stays), then from the position. */
    int dst = open("/tmp/dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
    check(dst >= 0, "open /tmp/dst");
    off_t off = 100;
    ssize_t n = sendfile(dst, src, &off, 5000);
    printf("sendfile 5000 at 100: %zd, offset now %lld, source position %lld\n", n, (long long)off,
           (long long)position(src));
    check(lseek(src, 9000, SEEK_SET) == 9000, "lseek");
    n = sendfile(dst, src, NULL, 5000);
    printf("sendfile from 9000: %zd (end of file), source position %lld, target position %lld\n", n,
           (long long)position(src), (long long)position(dst));
    unsigned want = fnv1a(fnv1a(2166136261u, data + 100, 5000), data + 9000, 1000);
    printf("copied bytes intact: %s\n", hash_at(dst, 0, 6000) == want ? "yes" : "no");

    /* 2: sendfile from a packaged file into a pipe. */
    int conf = open("/etc/app.conf", O_RDONLY);
    check(conf >= 0, "open /etc/app.conf");
    struct stat st;
    check(fstat(conf, &st) == 0, "fstat");
    int fds[2];
    check(pipe(fds) == 0, "pipe");
    n = sendfile(fds[1], conf, NULL, 1 << 20);
    static char buf[20000];
    ssize_t got = read(fds[0], buf, sizeof buf);
    printf("sendfile /etc/app.conf to a pipe: %s, read back %s\n", n == st.st_size ? "whole file" : "short",
           got == st.st_size && fnv1a(2166136261u, (unsigned char *)buf, (size_t)got) == hash_at(conf, 0, (size_t)got)
               ? "intact"
               : "differs");

    /* 3: sendfile errors. */
    int wronly = open("/tmp/dst", O_WRONLY);
    int append = open("/tmp/dst", O_WRONLY | O_APPEND);
    TRY("sendfile from a write-only fd", sendfile(dst, wronly, NULL, 10));
    TRY("sendfile to a read-only fd", sendfile(conf, src, NULL, 10));
    TRY("sendfile to an O_APPEND file", sendfile(append, src, NULL, 10));
    off = 0;
    TRY("sendfile from a pipe with an offset", sendfile(dst, fds[0], &off, 10));
    off = -1;
    TRY("sendfile at a negative offset", sendfile(dst, src, &off, 10));

    /* 4: copy_file_range within /tmp: offsets, positions, the end of the input. */
    int cdst = open("/tmp/copy", O_CREAT | O_RDWR | O_TRUNC, 0644);
    check(cdst >= 0, "open /tmp/copy");
    off_t in_off = 2000, out_off = 10;
    long c = copy_file_range_raw(src, &in_off, cdst, &out_off, 3000, 0);
    printf("copy_file_range 3000 from 2000 to 10: %ld, offsets now %lld %lld\n", c, (long long)in_off,
           (long long)out_off);
    printf("copied bytes intact: %s, hole before them zero: %s\n",
           hash_at(cdst, 10, 3000) == fnv1a(2166136261u, data + 2000, 3000) ? "yes" : "no",
           hash_at(cdst, 0, 10) == fnv1a(2166136261u, (const unsigned char *)"\0\0\0\0\0\0\0\0\0\0", 10) ? "yes"
                                                                                                         : "no");
    check(lseek(src, 9500, SEEK_SET) == 9500 && lseek(cdst, 0, SEEK_SET) == 0, "lseek");
    c = copy_file_range_raw(src, NULL, cdst, NULL, 100000, 0);
    printf("copy_file_range from the positions: %ld, positions now %lld %lld\n", c, (long long)position(src),
           (long long)position(cdst));
    in_off = 10000;
    TRY("copy_file_range at the end of the input", copy_file_range_raw(src, &in_off, cdst, NULL, 10, 0));
    in_off = 0;
    out_off = 100;
    TRY("copy_file_range overlapping in one file", copy_file_range_raw(src, &in_off, src, &out_off, 1000, 0));
    out_off = 20000;
    TRY("copy_file_range within one file", copy_file_range_raw(src, &in_off, src, &out_off, 1000, 0));
    TRY("copy_file_range with flags", copy_file_range_raw(src, NULL, cdst, NULL, 10, 1));
    TRY("copy_file_range from /etc to /tmp", copy_file_range_raw(conf, NULL, cdst, NULL, 10, 0));
    TRY("copy_file_range to a pipe", copy_file_range_raw(src, NULL, fds[1], NULL, 10, 0));
    TRY("copy_file_range from a directory", copy_file_range_raw(open("/tmp", O_RDONLY), NULL, cdst, NULL, 10, 0));
    TRY("copy_file_range to an O_APPEND file", copy_file_range_raw(src, NULL, append, NULL, 10, 0));

    /* 5: preadv/pwritev at offsets (the position stays), and the v2 calls at the position (-1). */
    int v = open("/tmp/vec", O_CREAT | O_RDWR | O_TRUNC, 0644);
    check(v >= 0, "open /tmp/vec");
    char a[] = "alpha-", b[] = "beta-", g[] = "gamma";
    struct iovec out[3] = {{a, 6}, {b, 5}, {g, 5}};
    n = pwritev(v, out, 3, 100);
    printf("pwritev 3 buffers at 100: %zd, size %lld, position %lld\n", n, (long long)lseek(v, 0, SEEK_END),
           (long long)position(v));
    char x[4] = {0}, y[9] = {0}, z[20] = {0};
    struct iovec in[3] = {{x, 3}, {y, 8}, {z, 20}};
    n = preadv(v, in, 3, 98);
    printf("preadv at 98: %zd <%c%c%c|%s|%s> (two zero bytes of the hole first)\n", n, x[0] ? x[0] : '0',
           x[1] ? x[1] : '0', x[2], y, z);
    check(lseek(v, 100, SEEK_SET) == 100, "lseek");
    memset(y, 0, sizeof y);
    struct iovec one[1] = {{y, 6}};
    n = syscall(NR_PREADV2, v, one, 1, -1L, 0L, 0);
    printf("preadv2 at the position: %zd <%s>, position now %lld\n", n, y, (long long)position(v));
    struct iovec w[1] = {{"XY", 2}};
    n = syscall(NR_PWRITEV2, v, w, 1, -1L, 0L, 0);
    n = pread(v, z, 8, 104);
    printf("pwritev2 at the position then pread: <%.8s>, position %lld\n", z, (long long)position(v));
    TRY("preadv at a negative offset", preadv(v, in, 1, -5));
    TRY("preadv of a pipe", preadv(fds[0], in, 1, 0));
    TRY("preadv2 with an unknown flag", syscall(NR_PREADV2, v, one, 1, 0L, 0L, 0x1000));
    TRY("pwritev of a read-only fd", pwritev(conf, w, 1, 0));
    return 0;
}
