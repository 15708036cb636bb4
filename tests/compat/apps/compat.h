/* Shared helpers for the compatibility suite's C programs: errno names (strerror text differs
 * between libcs), checks that print one line each, and a deterministic generator. */
#ifndef UVM_COMPAT_H
#define UVM_COMPAT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The symbolic name of an errno value, or "E<number>" for one not listed here. */
static inline const char *errname(int e) {
    static char buf[16];
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINPROGRESS: return "EINPROGRESS";
    case ENETUNREACH: return "ENETUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    }
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

static int failures;

/* Prints "<what>: ok" or "<what>: FAILED (<detail>)" and counts failures. */
#define CHECK(what, cond)                                                                   \
    do {                                                                                    \
        if (cond) {                                                                         \
            printf("%s: ok\n", what);                                                       \
        } else {                                                                            \
            failures++;                                                                     \
            printf("%s: FAILED at line %d (errno %s)\n", what, __LINE__, errname(errno));   \
        }                                                                                   \
    } while (0)

/* Prints "<what>: <errno name>" for a call expected to fail. */
#define EXPECT_ERR(what, call, want)                                                        \
    do {                                                                                    \
        errno = 0;                                                                          \
        long ret_ = (long)(call);                                                           \
        int err_ = errno;                                                                   \
        if (ret_ == -1 && err_ == (want)) {                                                 \
            printf("%s: %s\n", what, errname(err_));                                        \
        } else {                                                                            \
            failures++;                                                                     \
            printf("%s: FAILED, returned %ld with errno %s, expected %s\n", what, ret_,     \
                   errname(err_), errname(want));                                           \
        }                                                                                   \
    } while (0)

/* Ends main: "all ok" (status 0) or the failure count (status 1). */
static inline int finish(void) {
    if (failures == 0) {
        printf("all ok\n");
        return 0;
    }
    printf("%d check(s) failed\n", failures);
    return 1;
}

/* A small deterministic generator (xorshift64*), so runs are reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* 32-bit FNV-1a, continued from `h` (start with 2166136261u). */
static inline unsigned fnv1a(unsigned h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

#endif
