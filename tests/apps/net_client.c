/* A client to reach a host from inside the VM: connects to HOST:PORT (an IPv4 or IPv6 literal,
 * or a name for getaddrinfo), sends LINE and a newline, and prints the reply line; with "udp"
 * first it sends LINE as one datagram and prints the answer. With "spin" first it sends LINE
 * (after a non-blocking read, which gives the socket its rings in a VM) and then computes for
 * 500 ms without a syscall (the clock is the vDSO's) before it reads the reply: the line must
 * reach the peer meanwhile. A failure prints the call and the errno name ("connect:
 * ECONNREFUSED") and exits 1.
 * Usage: net_client [udp|spin] HOST PORT LINE */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "net.h"

static int fail(const char *what, int err) {
    printf("%s: %s\n", what, net_errname(err));
    return 1;
}

int main(int argc, char **argv) {
    int udp = argc > 1 && strcmp(argv[1], "udp") == 0;
    int spin = argc > 1 && strcmp(argv[1], "spin") == 0;
    if (argc != 4 + udp + spin) {
        fprintf(stderr, "usage: net_client [udp|spin] HOST PORT LINE\n");
        return 2;
    }
    udp += spin; /* the arguments shift the same way */
    const char *host = argv[1 + udp], *line = argv[3 + udp];
    int port = port_arg(argv[2 + udp]);

    struct sockaddr_storage to = {0};
    socklen_t tolen;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&to;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        tolen = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        tolen = sizeof *in6;
    } else {
        struct addrinfo hints = {.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM}, *res;
        int e = getaddrinfo(host, argv[2 + udp], &hints, &res);
        if (e != 0) {
            printf("getaddrinfo: %s\n", gai_strerror(e));
            return 1;
        }
        memcpy(&to, res->ai_addr, res->ai_addrlen);
        tolen = res->ai_addrlen;
        freeaddrinfo(res);
    }

    int s = socket(to.ss_family, (udp && !spin ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (s < 0)
        return fail("socket", errno);
    char buf[4096];
    ssize_t r;
    if (udp && !spin) {
        if (sendto(s, line, strlen(line), 0, (struct sockaddr *)&to, tolen) < 0)
            return fail("sendto", errno);
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1)
            return fail("recv", ETIMEDOUT);
        r = recv(s, buf, sizeof buf - 1, 0);
        if (r < 0)
            return fail("recv", errno);
        buf[r] = 0;
        printf("reply: %s\n", buf);
        return 0;
    }
    if (connect(s, (struct sockaddr *)&to, tolen) != 0)
        return fail("connect", errno);
    if (spin && recv(s, buf, sizeof buf, MSG_DONTWAIT) >= 0)
        return fail("recv before the line", 0);
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s\n", line);
    if (send(s, msg, n, MSG_NOSIGNAL) != n)
        return fail("send", errno);
    if (spin) {
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        do
            clock_gettime(CLOCK_MONOTONIC, &now);
        while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 500000000L);
    }
    size_t got = 0;
    while (got < sizeof buf - 1) {
        r = recv(s, buf + got, sizeof buf - 1 - got, 0);
        if (r < 0)
            return fail("recv", errno);
        if (r == 0)
            break;
        got += r;
        if (memchr(buf, '\n', got))
            break;
    }
    buf[got] = 0;
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    printf("reply: %s\n", buf);
    close(s);
    return 0;
}
