/* Shared helpers for the uvm test apps: errno names (strerror text differs between libcs). */
#ifndef UVM_TEST_COMMON_H
#define UVM_TEST_COMMON_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The symbolic name of an errno value, or "E<number>" for one not listed here. */
static inline const char *errname(int e) {
    static char buf[16];
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
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
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EMSGSIZE: return "EMSGSIZE";
    }
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* A call's result as the test apps print it: the value, or "-1 ENAME" (errno's name). */
static inline const char *call_result(long r) {
    static char buf[32];
    if (r < 0)
        snprintf(buf, sizeof buf, "-1 %s", errname(errno));
    else
        snprintf(buf, sizeof buf, "%ld", r);
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

/* The poll (or epoll: EPOLLIN == POLLIN, ...) events that matter here, by name, as "IN HUP"
 * or "none" (each call its own buffer, 4 at a time). */
static inline const char *events(unsigned ev) {
    static char bufs[4][64];
    static int next;
    char *buf = bufs[next++ % 4];
    buf[0] = 0;
    if (ev & POLLIN)
        strcat(buf, "IN ");
    if (ev & POLLOUT)
        strcat(buf, "OUT ");
    if (ev & POLLHUP)
        strcat(buf, "HUP ");
    if (ev & POLLERR)
        strcat(buf, "ERR ");
    if (ev & POLLNVAL)
        strcat(buf, "NVAL ");
    if (!buf[0])
        strcpy(buf, "none ");
    buf[strlen(buf) - 1] = 0;
    return buf;
}

#endif
