/* Shared helpers for the network test apps: socket errno names and argument parsing. */
#ifndef UVM_TEST_NET_H
#define UVM_TEST_NET_H

#include <stdlib.h>
#include "common.h"

/* errno names of the socket calls (common.h has the file ones). */
static inline const char *net_errname(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case EINTR: return "EINTR";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINPROGRESS: return "EINPROGRESS";
    case ENOTCONN: return "ENOTCONN";
    case EMSGSIZE: return "EMSGSIZE";
    }
    return errname(e);
}

/* A port number argument (1-65535), or exit 2 with a message. */
static inline int port_arg(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < 1 || v > 65535) {
        fprintf(stderr, "not a port: %s\n", s);
        exit(2);
    }
    return (int)v;
}

#endif
