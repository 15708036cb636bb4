/* A line echo server on one epoll loop: a non-blocking listener on 0.0.0.0:PORT and its clients,
 * all edge-triggered, each client's lines sent back as they complete (with a pending-output
 * buffer when the socket is full); a client that shuts down its writing half gets the rest of
 * its echo, then the server closes it. After N clients it prints a summary and exits 0.
 * Usage: net_epoll_server PORT N */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net.h"

#define MAX_FDS 4096

struct client {
    char *in;     /* bytes received, not yet a whole line */
    size_t in_len, in_cap;
    char *out;    /* echo not yet sent */
    size_t out_off, out_len, out_cap;
    int eof;      /* the client shut down its writing half */
    int open;
};

static struct client clients[MAX_FDS];
static long lines, bytes;

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, net_errname(errno));
    exit(1);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n > *cap) {
        *cap = (*len + n) * 2 + 256;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            die("realloc");
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

/* Sends what is pending; 0 when all is sent or the socket is full, -1 on an error. */
static int flush(int fd, struct client *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->out_off += w;
        bytes += w;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* Reads everything available (edge-triggered: until EAGAIN) and queues the whole lines. */
static int drain(int fd, struct client *c) {
    char buf[16384];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0) {
            c->eof = 1;
            return 0;
        }
        if (r < 0)
            return errno == EAGAIN ? 0 : -1;
        append(&c->in, &c->in_len, &c->in_cap, buf, r);
        char *start = c->in, *end = c->in + c->in_len, *nl;
        while ((nl = memchr(start, '\n', end - start))) {
            append(&c->out, &c->out_len, &c->out_cap, start, nl + 1 - start);
            lines++;
            start = nl + 1;
        }
        memmove(c->in, start, end - start);
        c->in_len = end - start;
    }
}

static void finish_client(int ep, int fd) {
    struct client *c = &clients[fd];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: net_epoll_server PORT N\n");
        return 2;
    }
    int port = port_arg(argv[1]);
    long want = strtol(argv[2], NULL, 10);
    signal(SIGPIPE, SIG_IGN);

    const char *failed = "";
    int l = tcp_listen(port, SOCK_NONBLOCK | SOCK_CLOEXEC, &failed);
    if (l < 0)
        die(failed);
    int one = 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = l};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) != 0)
        die("epoll");
    printf("listening on port %d\n", port);
    fflush(stdout);

    long served = 0, accepted = 0, errors = 0;
    struct epoll_event events[64];
    while (served < want) {
        int n = epoll_wait(ep, events, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == l) {
                /* Edge-triggered: accept until EAGAIN. */
                for (;;) {
                    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (s < 0) {
                        if (errno == EAGAIN)
                            break;
                        if (errno == ECONNABORTED || errno == EINTR)
                            continue;
                        die("accept4");
                    }
                    if (s >= MAX_FDS)
                        die("too many clients");
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    clients[s].open = 1;
                    accepted++;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = s};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &cev) != 0)
                        die("epoll_ctl");
                }
                continue;
            }
            struct client *c = &clients[fd];
            if (!c->open)
                continue;
            int bad = 0;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                bad = drain(fd, c) != 0;
            if (!bad)
                bad = flush(fd, c) != 0;
            if (bad) {
                errors++;
                finish_client(ep, fd);
                served++;
            } else if (c->eof && c->out_len == 0) {
                finish_client(ep, fd);
                served++;
            }
        }
    }
    printf("served %ld clients (%ld accepted, %ld errors), echoed %ld lines\n", served, accepted, errors, lines);
    return errors ? 1 : 0;
}
