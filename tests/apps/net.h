/* Shared helpers for the network test apps: socket errno names, argument parsing and a
 * listening socket. */
#ifndef UVM_TEST_NET_H
#define UVM_TEST_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
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

/* A TCP socket of `type_flags` (SOCK_NONBLOCK, SOCK_CLOEXEC) listening on `port` of every
 * IPv4 address (SO_REUSEADDR); -1 with errno and `*failed` naming the call that failed. */
static inline int tcp_listen(int port, int type_flags, const char **failed) {
    int l = socket(AF_INET, SOCK_STREAM | type_flags, 0);
    if (l < 0) {
        *failed = "socket";
        return -1;
    }
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) {
        *failed = "bind";
        return -1;
    }
    if (listen(l, 128) != 0) {
        *failed = "listen";
        return -1;
    }
    return l;
}

#endif
