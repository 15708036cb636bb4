/* IP networking inside one process over the loopback (127.0.0.1 and ::1): TCP listen, connect,
 * accept4, send/recv, MSG_PEEK, shutdown and EOF, a 1 MiB transfer to another thread,
 * non-blocking connect (EINPROGRESS, POLLOUT, SO_ERROR), ECONNREFUSED, EADDRINUSE,
 * SO_REUSEADDR, TCP_NODELAY, poll and epoll readiness (level and edge), a dual-stack [::]
 * listener taking a 127.0.0.1 client, UDP sendto/recvfrom over IPv4 and IPv6 (the sender's
 * address is the sending socket's), a connected UDP socket, sendmmsg/recvmmsg, getaddrinfo;
 * on a socket that is full: an MSG_OOB send times out at SO_SNDTIMEO, and a sender blocked in
 * another thread returns when the writing half is shut down.
 * Port numbers are never printed, only whether they are non-zero or equal, so the output is the
 * same on every run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "compat.h"

/* Prints "<what>: <yes|no>"; "no" is a failure. */
static void yes(const char *what, int cond) {
    printf("%s: %s\n", what, cond ? "yes" : "no");
    if (!cond)
        failures++;
}

/* Prints "<what>: <text>"; a text other than `want` is a failure. */
static void says(const char *what, const char *got, const char *want) {
    printf("%s: %s\n", what, got);
    if (strcmp(got, want) != 0) {
        failures++;
        printf("  FAILED: expected %s\n", want);
    }
}

static void die(const char *what) {
    printf("%s failed: %s\n", what, errname(errno));
    exit(1);
}

/* poll bits by name: IN, OUT, HUP, ERR, RDHUP (or "none"). */
static const char *pollnames(unsigned ev) {
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
    if (ev & POLLRDHUP)
        strcat(buf, "RDHUP ");
    if (!buf[0])
        strcpy(buf, "none ");
    buf[strlen(buf) - 1] = 0;
    return buf;
}

/* One poll of `fd` for `events`, waiting at most `ms`; returns revents (0 on timeout). */
static unsigned poll1(int fd, short events, int ms) {
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, ms);
    if (n < 0)
        die("poll");
    return n ? (unsigned)p.revents : 0;
}

static struct sockaddr_in v4(const char *ip, int port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 v6(const char *ip, int port) {
    struct sockaddr_in6 a = {0};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

/* The address of a socket (`peer`: its peer's) as text, without the port. */
static const char *addr_text(int fd, int peer) {
    static char bufs[4][INET6_ADDRSTRLEN];
    static int next;
    char *buf = bufs[next++ % 4];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len)) != 0) {
        snprintf(buf, INET6_ADDRSTRLEN, "error %s", errname(errno));
        return buf;
    }
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, INET6_ADDRSTRLEN);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, INET6_ADDRSTRLEN);
    else
        snprintf(buf, INET6_ADDRSTRLEN, "family %d", ss.ss_family);
    return buf;
}

/* The port of a socket's own address (`peer`: its peer's), or -1. */
static int port_of(int fd, int peer) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len)) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* Whether two sockaddrs (as returned by the kernel) hold the same family, address and port. */
static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static struct sockaddr_storage name_of(int fd) {
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        die("getsockname");
    return ss;
}

static struct sockaddr_storage peer_of(int fd) {
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        die("getpeername");
    return ss;
}

/* A TCP listener on 127.0.0.1, port chosen by the kernel. */
static int listener4(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = v4("127.0.0.1", 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0)
        die("listener");
    return fd;
}

static int connect_to(int family, const void *addr, socklen_t len) {
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, addr, len) != 0)
        die("connect");
    return fd;
}

/* Reads exactly n bytes (blocking socket). */
static int read_full(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += r;
    }
    return 0;
}

/* ---------------------------------------------------------------- a 1 MiB stream */

#define BULK (1 << 20)

static void *bulk_writer(void *arg) {
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(BULK);
    for (int i = 0; i < BULK; i++)
        buf[i] = (char)(i * 7 + i / 251);
    size_t off = 0;
    while (off < BULK) {
        /* Uneven pieces, so the reader sees the stream cut anywhere. */
        size_t n = 1 + (off * 31 + 4093) % 70000;
        if (n > BULK - off)
            n = BULK - off;
        ssize_t w = send(fd, buf + off, n, 0);
        if (w <= 0)
            break;
        off += w;
    }
    shutdown(fd, SHUT_WR);
    free(buf);
    return (void *)(intptr_t)off;
}

static void tcp_bulk(void) {
    int l = listener4();
    struct sockaddr_storage la = name_of(l);
    int c = connect_to(AF_INET, &la, sizeof(struct sockaddr_in));
    int s = accept(l, NULL, NULL);
    if (s < 0)
        die("accept");
    pthread_t t;
    pthread_create(&t, NULL, bulk_writer, (void *)(intptr_t)c);
    unsigned h = 2166136261u, want = 2166136261u;
    size_t total = 0;
    char buf[8192];
    ssize_t r;
    while ((r = recv(s, buf, sizeof buf, 0)) > 0) {
        h = fnv1a(h, buf, r);
        total += r;
    }
    void *sent;
    pthread_join(t, &sent);
    for (int i = 0; i < BULK; i++) {
        char b = (char)(i * 7 + i / 251);
        want = fnv1a(want, &b, 1);
    }
    yes("1 MiB from another thread: all bytes arrive", total == BULK && (size_t)(intptr_t)sent == BULK);
    yes("1 MiB from another thread: checksum matches", h == want);
    close(s);
    close(c);
    close(l);
}

/* ---------------------------------------------------------------- an echo thread */

static void *echo_server(void *arg) {
    int l = (int)(intptr_t)arg;
    int s = accept(l, NULL, NULL);
    if (s < 0)
        return NULL;
    char buf[512];
    ssize_t r;
    while ((r = recv(s, buf, sizeof buf, 0)) > 0)
        send(s, buf, r, 0);
    close(s);
    return NULL;
}

static void tcp_echo_thread(void) {
    int l = listener4();
    pthread_t t;
    pthread_create(&t, NULL, echo_server, (void *)(intptr_t)l);
    struct sockaddr_storage la = name_of(l);
    int c = connect_to(AF_INET, &la, sizeof(struct sockaddr_in));
    int all = 1;
    for (int i = 0; i < 100; i++) {
        char line[64], back[64];
        int n = snprintf(line, sizeof line, "line %d of the echo thread\n", i);
        if (send(c, line, n, 0) != n || read_full(c, back, n) != 0 || memcmp(line, back, n) != 0)
            all = 0;
    }
    yes("100 lines echoed by a server thread", all);
    shutdown(c, SHUT_WR);
    char b;
    says("after shutdown(SHUT_WR), the echo thread closes: recv", recv(c, &b, 1, 0) == 0 ? "0 (EOF)" : "data", "0 (EOF)");
    pthread_join(t, NULL);
    close(c);
    close(l);
}

/* ---------------------------------------------------------------- TCP over 127.0.0.1 */

static void tcp_basics(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK("socket(AF_INET, SOCK_STREAM)", l >= 0);
    struct sockaddr_in any = v4("127.0.0.1", 0);
    CHECK("bind 127.0.0.1:0", bind(l, (struct sockaddr *)&any, sizeof any) == 0);
    says("getsockname address", addr_text(l, 0), "127.0.0.1");
    int port = port_of(l, 0);
    yes("getsockname port is non-zero", port > 0);
    CHECK("listen", listen(l, 8) == 0);

    int again = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in same = v4("127.0.0.1", port);
    EXPECT_ERR("bind the same address again", bind(again, (struct sockaddr *)&same, sizeof same), EADDRINUSE);
    close(again);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    struct epoll_event got[4];
    says("epoll on the listener before any connect", epoll_wait(ep, got, 4, 0) == 0 ? "no event" : "event", "no event");
    says("poll on the listener before any connect", pollnames(poll1(l, POLLIN, 0)), "none");

    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK("connect to the listener", connect(c, (struct sockaddr *)&same, sizeof same) == 0);
    int n = epoll_wait(ep, got, 4, 1000);
    says("epoll on the listener after a connect", n == 1 && got[0].data.fd == l ? pollnames(got[0].events) : "wrong", "IN");
    says("poll on the listener after a connect", pollnames(poll1(l, POLLIN, 1000)), "IN");
    says("client's address", addr_text(c, 0), "127.0.0.1");
    yes("client's port is non-zero and not the listener's", port_of(c, 0) > 0 && port_of(c, 0) != port);
    says("client's peer address", addr_text(c, 1), "127.0.0.1");
    yes("client's peer port is the listener's", port_of(c, 1) == port);

    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    int s = accept4(l, (struct sockaddr *)&from, &fromlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK("accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)", s >= 0);
    yes("accepted socket is non-blocking", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
    yes("accepted socket is close-on-exec", (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
    struct sockaddr_storage cname = name_of(c), sname = name_of(s), lname = name_of(l);
    yes("accept4's address is the client's getsockname", fromlen == sizeof(struct sockaddr_in) && same_addr(&from, &cname));
    yes("accepted socket's getsockname is the listener's", same_addr(&sname, &lname));
    struct sockaddr_storage speer = peer_of(s);
    yes("accepted socket's getpeername is the client's", same_addr(&speer, &cname));
    says("epoll on the listener once accepted", epoll_wait(ep, got, 4, 0) == 0 ? "no event" : "event", "no event");

    char buf[64];
    EXPECT_ERR("recv on the empty non-blocking socket", recv(s, buf, sizeof buf, 0), EAGAIN);
    says("poll on the client (nothing sent yet)", pollnames(poll1(c, POLLIN | POLLOUT, 0)), "OUT");

    struct epoll_event sev = {.events = EPOLLIN | EPOLLET, .data.fd = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &sev);
    CHECK("send 5 bytes", send(c, "hello", 5, 0) == 5);
    n = epoll_wait(ep, got, 4, 1000);
    says("epoll (edge-triggered) after the send", n == 1 && got[0].data.fd == s ? pollnames(got[0].events) : "wrong", "IN");
    says("poll on the server socket", pollnames(poll1(s, POLLIN | POLLOUT, 1000)), "IN OUT");
    memset(buf, 0, sizeof buf);
    ssize_t r = recv(s, buf, sizeof buf, MSG_PEEK);
    says("recv(MSG_PEEK)", r == 5 ? buf : "wrong length", "hello");
    memset(buf, 0, sizeof buf);
    r = recv(s, buf, sizeof buf, 0);
    says("recv after the peek gets the same bytes", r == 5 ? buf : "wrong length", "hello");
    says("epoll (edge-triggered) with nothing new", epoll_wait(ep, got, 4, 0) == 0 ? "no event" : "event", "no event");
    CHECK("send 3 more bytes", send(c, "abc", 3, 0) == 3);
    n = epoll_wait(ep, got, 4, 1000);
    says("epoll (edge-triggered) after new data", n == 1 ? pollnames(got[0].events) : "wrong", "IN");
    memset(buf, 0, sizeof buf);
    r = recv(s, buf, 2, 0);
    says("recv 2 of 3 bytes", r == 2 ? buf : "wrong length", "ab");
    memset(buf, 0, sizeof buf);
    r = recv(s, buf, sizeof buf, 0);
    says("recv the last byte", r == 1 ? buf : "wrong length", "c");

    /* The reply direction, then half-close from the client: EOF on the server. */
    CHECK("send from the accepted socket", send(s, "world", 5, 0) == 5);
    memset(buf, 0, sizeof buf);
    says("client reads the reply", read_full(c, buf, 5) == 0 ? buf : "short", "world");
    CHECK("shutdown(SHUT_WR) of the client", shutdown(c, SHUT_WR) == 0);
    says("poll on the server after the client's shutdown", pollnames(poll1(s, POLLIN | POLLRDHUP, 1000)), "IN RDHUP");
    r = recv(s, buf, sizeof buf, 0);
    printf("recv after the peer's shutdown: %zd\n", r);
    if (r != 0)
        failures++;
    CHECK("the server can still send", send(s, "bye", 3, 0) == 3);
    memset(buf, 0, sizeof buf);
    says("the client reads it", read_full(c, buf, 3) == 0 ? buf : "short", "bye");
    CHECK("close the server socket", close(s) == 0);
    r = recv(c, buf, sizeof buf, 0);
    printf("client's recv after the server closed: %zd\n", r);
    if (r != 0)
        failures++;
    close(c);
    close(ep);

    /* A peer that closes: the other end sees IN and OUT, then EOF. */
    c = connect_to(AF_INET, &same, sizeof same);
    s = accept(l, NULL, NULL);
    close(c);
    says("poll after the peer's close", pollnames(poll1(s, POLLIN | POLLOUT, 1000)), "IN OUT");
    says("recv after the peer's close", recv(s, buf, sizeof buf, 0) == 0 ? "0 (EOF)" : "data", "0 (EOF)");
    close(s);

    /* A port nobody listens on: one that was just bound and closed. */
    int gone = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in zero = v4("127.0.0.1", 0);
    bind(gone, (struct sockaddr *)&zero, sizeof zero);
    struct sockaddr_in nobody = v4("127.0.0.1", port_of(gone, 0));
    close(gone);
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERR("connect to a port nobody listens on", connect(c, (struct sockaddr *)&nobody, sizeof nobody), ECONNREFUSED);
    close(c);

    /* Non-blocking connect. */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_ERR("non-blocking connect", connect(c, (struct sockaddr *)&same, sizeof same), EINPROGRESS);
    says("poll for POLLOUT", pollnames(poll1(c, POLLOUT, 2000)), "OUT");
    int err = -1;
    socklen_t elen = sizeof err;
    CHECK("getsockopt(SO_ERROR)", getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
    says("SO_ERROR after the connect", errname(err), "OK");
    s = accept(l, NULL, NULL);
    CHECK("the listener accepts it", s >= 0);
    CHECK("send on the non-blocking client", send(c, "x", 1, 0) == 1);
    says("the server gets it", read_full(s, buf, 1) == 0 && buf[0] == 'x' ? "x" : "nothing", "x");
    close(s);
    close(c);

    /* Options. */
    int v = -1;
    socklen_t vlen = sizeof v;
    c = socket(AF_INET, SOCK_STREAM, 0);
    getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vlen);
    says("TCP_NODELAY by default", v ? "on" : "off", "off");
    v = 1;
    CHECK("setsockopt(TCP_NODELAY, 1)", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0);
    v = 0;
    getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vlen);
    says("TCP_NODELAY after setting it", v ? "on" : "off", "on");
    v = -1;
    getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &v, &vlen);
    says("SO_REUSEADDR by default", v ? "on" : "off", "off");
    v = -1;
    getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vlen);
    says("SO_TYPE", v == SOCK_STREAM ? "SOCK_STREAM" : "other", "SOCK_STREAM");
    close(c);

    close(l);

    /* SO_REUSEADDR: a listener with it set serves one connection that the server side closes
     * first (on Linux the port then has a connection in TIME_WAIT) and is closed; a new socket
     * with SO_REUSEADDR binds the same port again and listens. */
    l = socket(AF_INET, SOCK_STREAM, 0);
    v = 1;
    CHECK("setsockopt(SO_REUSEADDR, 1)", setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v) == 0);
    v = 0;
    getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, &vlen);
    says("SO_REUSEADDR after setting it", v ? "on" : "off", "on");
    if (bind(l, (struct sockaddr *)&any, sizeof any) != 0 || listen(l, 8) != 0)
        die("SO_REUSEADDR listener");
    struct sockaddr_in reused = v4("127.0.0.1", port_of(l, 0));
    c = connect_to(AF_INET, &reused, sizeof reused);
    s = accept(l, NULL, NULL);
    close(s);
    says("the client sees the server's close", recv(c, buf, 1, 0) == 0 ? "0 (EOF)" : "data", "0 (EOF)");
    close(c);
    close(l);
    l = socket(AF_INET, SOCK_STREAM, 0);
    v = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
    CHECK("bind that port again with SO_REUSEADDR", bind(l, (struct sockaddr *)&reused, sizeof reused) == 0);
    CHECK("listen again", listen(l, 8) == 0);
    c = connect_to(AF_INET, &reused, sizeof reused);
    s = accept(l, NULL, NULL);
    CHECK("a client reaches the new listener", s >= 0);
    close(s);
    close(c);
    close(l);
}

/* ---------------------------------------------------------------- TCP over IPv6 */

static void tcp_v6(void) {
    /* A dual-stack listener on [::] takes an IPv4 client. */
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK("socket(AF_INET6, SOCK_STREAM)", l >= 0);
    int off = 0;
    CHECK("setsockopt(IPV6_V6ONLY, 0)", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0);
    struct sockaddr_in6 any = v6("::", 0);
    CHECK("bind [::]:0", bind(l, (struct sockaddr *)&any, sizeof any) == 0);
    CHECK("listen on [::]", listen(l, 8) == 0);
    says("[::] listener's address", addr_text(l, 0), "::");
    int port = port_of(l, 0);
    yes("[::] listener's port is non-zero", port > 0);
    struct sockaddr_in to4 = v4("127.0.0.1", port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK("an IPv4 client connects to 127.0.0.1 at that port", connect(c, (struct sockaddr *)&to4, sizeof to4) == 0);
    struct sockaddr_in6 from;
    socklen_t fromlen = sizeof from;
    int s = accept(l, (struct sockaddr *)&from, &fromlen);
    CHECK("the [::] listener accepts it", s >= 0);
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text);
    says("the client's address as the listener sees it", text, "::ffff:127.0.0.1");
    yes("... and its port is the client's", ntohs(from.sin6_port) == port_of(c, 0));
    char buf[16] = "";
    send(c, "v4", 2, 0);
    says("data from the IPv4 client", read_full(s, buf, 2) == 0 ? buf : "short", "v4");
    close(s);
    close(c);
    close(l);

    /* ::1 to ::1. */
    l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 lo = v6("::1", 0);
    CHECK("bind [::1]:0 and listen", bind(l, (struct sockaddr *)&lo, sizeof lo) == 0 && listen(l, 8) == 0);
    says("getsockname", addr_text(l, 0), "::1");
    lo.sin6_port = htons(port_of(l, 0));
    c = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK("connect to [::1]", connect(c, (struct sockaddr *)&lo, sizeof lo) == 0);
    s = accept(l, NULL, NULL);
    says("the client's address", addr_text(c, 0), "::1");
    says("the accepted socket's peer", addr_text(s, 1), "::1");
    yes("the accepted socket's peer port is the client's", port_of(s, 1) == port_of(c, 0));
    memset(buf, 0, sizeof buf);
    send(s, "v6 reply", 8, 0);
    says("data over ::1", read_full(c, buf, 8) == 0 ? buf : "short", "v6 reply");
    close(s);
    close(c);

    /* An IPv6-only listener does not take IPv4 clients: connecting to 127.0.0.1 at the port
     * of a [::1] listener is refused. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    to4 = v4("127.0.0.1", port_of(l, 0));
    EXPECT_ERR("connect to 127.0.0.1 at a [::1] listener's port", connect(c, (struct sockaddr *)&to4, sizeof to4), ECONNREFUSED);
    close(c);
    close(l);
}

/* ---------------------------------------------------------------- UDP */

static void udp_pair(int family, const char *ip) {
    char what[128];
    int a = socket(family, SOCK_DGRAM, 0), b = socket(family, SOCK_DGRAM, 0);
    struct sockaddr_storage sa = {0};
    socklen_t salen;
    if (family == AF_INET) {
        struct sockaddr_in x = v4(ip, 0);
        memcpy(&sa, &x, sizeof x);
        salen = sizeof x;
    } else {
        struct sockaddr_in6 x = v6(ip, 0);
        memcpy(&sa, &x, sizeof x);
        salen = sizeof x;
    }
    snprintf(what, sizeof what, "UDP: bind two sockets to %s", ip);
    CHECK(what, bind(a, (struct sockaddr *)&sa, salen) == 0 && bind(b, (struct sockaddr *)&sa, salen) == 0);
    struct sockaddr_storage an = name_of(a), bn = name_of(b);
    yes("UDP: both ports non-zero and different", port_of(a, 0) > 0 && port_of(b, 0) > 0 && port_of(a, 0) != port_of(b, 0));
    says("UDP: poll on an empty socket", pollnames(poll1(b, POLLIN | POLLOUT, 0)), "OUT");
    char buf[2048];
    EXPECT_ERR("UDP: recv(MSG_DONTWAIT) on an empty socket", recv(b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    CHECK("UDP: sendto", sendto(a, "ping", 4, 0, (struct sockaddr *)&bn, salen) == 4);
    says("UDP: poll after the sendto", pollnames(poll1(b, POLLIN, 1000)), "IN");
    struct sockaddr_storage from = {0};
    socklen_t fromlen = sizeof from;
    memset(buf, 0, sizeof buf);
    ssize_t r = recvfrom(b, buf, sizeof buf, MSG_PEEK, (struct sockaddr *)&from, &fromlen);
    says("UDP: recvfrom(MSG_PEEK)", r == 4 ? buf : "wrong length", "ping");
    memset(buf, 0, sizeof buf);
    fromlen = sizeof from;
    r = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
    says("UDP: recvfrom", r == 4 ? buf : "wrong length", "ping");
    yes("UDP: the sender's address is the sending socket's bound address", fromlen == salen && same_addr(&from, &an));
    CHECK("UDP: reply with sendto to that address", sendto(b, "pong", 4, 0, (struct sockaddr *)&from, fromlen) == 4);
    memset(buf, 0, sizeof buf);
    fromlen = sizeof from;
    r = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
    says("UDP: the reply", r == 4 ? buf : "wrong length", "pong");
    yes("UDP: the reply's sender is the other socket", same_addr(&from, &bn));

    /* Datagram boundaries: two sends, two receives; a short buffer truncates. */
    char big[1400];
    memset(big, 'z', sizeof big);
    sendto(a, big, sizeof big, 0, (struct sockaddr *)&bn, salen);
    sendto(a, "tail", 4, 0, (struct sockaddr *)&bn, salen);
    r = recv(b, buf, sizeof buf, 0);
    printf("UDP: first datagram: %zd bytes\n", r);
    if (r != (ssize_t)sizeof big)
        failures++;
    r = recv(b, buf, 2, 0);
    printf("UDP: second datagram into 2 bytes: %zd\n", r);
    if (r != 2)
        failures++;
    EXPECT_ERR("UDP: its rest is gone", recv(b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

    /* A connected UDP socket: send/recv without addresses. */
    CHECK("UDP: connect", connect(a, (struct sockaddr *)&bn, salen) == 0);
    struct sockaddr_storage ap = peer_of(a);
    yes("UDP: getpeername is the connected address", same_addr(&ap, &bn));
    CHECK("UDP: send on the connected socket", send(a, "conn", 4, 0) == 4);
    memset(buf, 0, sizeof buf);
    fromlen = sizeof from;
    r = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
    says("UDP: received", r == 4 ? buf : "wrong length", "conn");
    yes("UDP: from the connected socket", same_addr(&from, &an));

    /* sendmmsg on the connected socket, recvmmsg with MSG_WAITFORONE. */
    char *texts[3] = {"a", "bb", "ccc"};
    struct iovec out_iov[3], in_iov[4];
    struct mmsghdr out[3], in[4];
    char in_buf[4][8];
    memset(out, 0, sizeof out);
    memset(in, 0, sizeof in);
    memset(in_buf, 0, sizeof in_buf);
    for (int i = 0; i < 3; i++) {
        out_iov[i] = (struct iovec){texts[i], strlen(texts[i])};
        out[i].msg_hdr.msg_iov = &out_iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    for (int i = 0; i < 4; i++) {
        in_iov[i] = (struct iovec){in_buf[i], sizeof in_buf[i]};
        in[i].msg_hdr.msg_iov = &in_iov[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(a, out, 3, 0);
    printf("UDP: sendmmsg of 3 datagrams: %d, lengths %u %u %u\n", sent, out[0].msg_len, out[1].msg_len,
           out[2].msg_len);
    if (sent != 3)
        failures++;
    poll1(b, POLLIN, 1000);
    usleep(20000); /* all three queued, not only the first */
    int got = recvmmsg(b, in, 4, MSG_WAITFORONE, NULL);
    printf("UDP: recvmmsg(MSG_WAITFORONE) into 4: %d: %s %s %s\n", got, in_buf[0], in_buf[1], in_buf[2]);
    if (got != 3 || strcmp(in_buf[2], "ccc") != 0)
        failures++;
    close(a);
    close(b);
}

/* ---------------------------------------------------------------- getaddrinfo */

static void resolve(const char *host, int family, const char *want) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    char what[128], got[256] = "";
    snprintf(what, sizeof what, "getaddrinfo(\"%s\", \"80\", %s)", host,
             family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_UNSPEC");
    int e = getaddrinfo(host, "80", &hints, &res);
    if (e != 0) {
        snprintf(got, sizeof got, "error %d", e);
    } else {
        /* The addresses, sorted (the order depends on the resolver's preferences). */
        char list[8][INET6_ADDRSTRLEN + 8];
        int n = 0;
        for (struct addrinfo *ai = res; ai && n < 8; ai = ai->ai_next) {
            char ip[INET6_ADDRSTRLEN] = "?";
            int port = 0;
            if (ai->ai_family == AF_INET) {
                inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof ip);
                port = ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port);
                snprintf(list[n++], sizeof list[0], "%s:%d", ip, port);
            } else if (ai->ai_family == AF_INET6) {
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof ip);
                port = ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
                snprintf(list[n++], sizeof list[0], "[%s]:%d", ip, port);
            }
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (strcmp(list[i], list[j]) > 0) {
                    char t[sizeof list[0]];
                    strcpy(t, list[i]);
                    strcpy(list[i], list[j]);
                    strcpy(list[j], t);
                }
        for (int i = 0; i < n; i++) {
            if (i)
                strcat(got, " ");
            strcat(got, list[i]);
        }
        freeaddrinfo(res);
    }
    says(what, got, want);
}

/* ---------------------------------------------------------------- sends on a full socket */

/* A connected pair whose receiving end never reads. The sender is the accepted end (in a VM,
 * the end that has a transmit ring from its accept). */
static void full_pair(int *sender, int *receiver, int *listener) {
    *listener = listener4();
    struct sockaddr_storage la = name_of(*listener);
    *receiver = connect_to(AF_INET, &la, sizeof(struct sockaddr_in));
    *sender = accept(*listener, NULL, NULL);
    if (*sender < 0)
        die("accept");
}

/* Sends with MSG_EOR (in a VM they bypass the transmit ring) until the socket takes no more,
 * even after the loopback has moved what it can to the receiving socket. */
static void fill(int fd) {
    static char buf[65536];
    /* Until two rounds 100 ms apart (longer than a delayed acknowledgement) take nothing. */
    for (int round = 0, idle = 0; round < 200; round++) {
        int took = 0;
        while (send(fd, buf, sizeof buf, MSG_EOR | MSG_DONTWAIT) > 0)
            took = 1;
        if (errno != EAGAIN)
            die("filling send");
        idle = took ? 0 : idle + 1;
        if (idle == 2)
            return;
        usleep(100000);
    }
    die("filling: the socket never filled");
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* An urgent byte must wait for room in the socket itself, and give up at SO_SNDTIMEO. */
static void tcp_oob_on_full_socket(void) {
    int s, c, l;
    full_pair(&s, &c, &l);
    fill(s);
    struct timeval tv = {0, 200000};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    double started = now_ms();
    ssize_t n = send(s, "!", 1, MSG_OOB);
    double took = now_ms() - started;
    says("MSG_OOB send on a full socket, SO_SNDTIMEO 200 ms", n < 0 ? errname(errno) : "sent", "EAGAIN");
    yes("... returned after the timeout", took >= 190);
    close(s);
    close(c);
    close(l);
}

static volatile int blocked_sender_returned;

static void *blocked_sender(void *arg) {
    static char buf[16 << 20]; /* more than the socket (and a VM's transmit ring) takes */
    send((int)(intptr_t)arg, buf, sizeof buf, 0);
    blocked_sender_returned = 1;
    return NULL;
}

/* A thread blocked in a send on a full socket returns when another thread shuts the writing
 * half down (natively with EPIPE; in a VM with what its transmit ring took). */
static void tcp_shutdown_wakes_blocked_sender(void) {
    int s, c, l;
    full_pair(&s, &c, &l);
    fill(s);
    pthread_t t;
    pthread_create(&t, NULL, blocked_sender, (void *)(intptr_t)s);
    usleep(200000);
    yes("a send on a full socket blocks", !blocked_sender_returned);
    shutdown(s, SHUT_WR);
    for (int i = 0; i < 500 && !blocked_sender_returned; i++)
        usleep(10000);
    yes("... and returns once another thread shuts the writing half", blocked_sender_returned);
    if (!blocked_sender_returned)
        exit(finish()); /* the stuck thread goes with the process */
    pthread_join(t, NULL);
    close(s);
    close(c);
    close(l);
}

/* A reset that arrives after the peer's FIN (the receiving side has ended, so only a send
 * can meet it) reaches the sender: natively the next send fails; in a VM the send may go into
 * the socket's transmit ring, and then poll shows POLLERR and SO_ERROR names the error once
 * the ring's write-out met it. */
static void tcp_reset_after_fin_reaches_the_sender(void) {
    int s, c, l;
    full_pair(&s, &c, &l);
    shutdown(s, SHUT_WR);
    char b;
    yes("after the peer's FIN, a read says EOF", recv(c, &b, 1, 0) == 0);
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    usleep(50000);
    int reported = 0;
    if (send(c, "x", 1, MSG_NOSIGNAL) < 0) {
        reported = errno == ECONNRESET || errno == EPIPE;
    } else {
        struct pollfd p = {c, POLLOUT, 0};
        poll(&p, 1, 0);
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
        reported = (p.revents & POLLERR) && (err == ECONNRESET || err == EPIPE);
    }
    yes("a reset after it reaches the sender (its send, or POLLERR and SO_ERROR)", reported);
    close(c);
    close(l);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    printf("== TCP over 127.0.0.1\n");
    tcp_basics();
    tcp_echo_thread();
    tcp_bulk();
    printf("== TCP sends on a full socket\n");
    tcp_oob_on_full_socket();
    tcp_shutdown_wakes_blocked_sender();
    tcp_reset_after_fin_reaches_the_sender();
    printf("== TCP over IPv6\n");
    tcp_v6();
    printf("== UDP over 127.0.0.1\n");
    udp_pair(AF_INET, "127.0.0.1");
    printf("== UDP over ::1\n");
    udp_pair(AF_INET6, "::1");
    printf("== getaddrinfo\n");
    resolve("localhost", AF_INET, "127.0.0.1:80");
    resolve("localhost", AF_INET6, "[::1]:80");
    resolve("127.0.0.1", AF_UNSPEC, "127.0.0.1:80");
    resolve("::1", AF_UNSPEC, "[::1]:80");
    return finish();
}
