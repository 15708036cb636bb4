/* Shared helpers for the uvm test apps: errno names (strerror text differs between libcs). */
#ifndef UVM_TEST_COMMON_H
#define UVM_TEST_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

/* The symbolic name of an errno value, or "E<number>" for one not listed here. */
static inline const char *errname(int e) {
    static char buf[16];
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    }
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* 32-bit FNV-1a, continued from `h` (start with 2166136261u). */
static inline unsigned fnv1a(unsigned h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

#endif
