/* A single-threaded HTTP server on one epoll loop, for the network benchmark: it isolates the
 * cost of the VM's socket path from a language runtime's. Listens on 0.0.0.0:PORT, answers
 * every request ("GET / HTTP/1.1" and headers up to an empty line) with a fixed keep-alive
 * response (closing after one that says "Connection: close"), and "GET /quit" with "bye"
 * before exiting 0. Level-triggered, non-blocking, one
 * read and one write per request (as the C servers it stands for do).
 * Prints "listening on PORT" once it listens.
 * Usage: epoll_http PORT */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF_SIZE 16384

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\n\r\nhello from uvm\n";
static const char BYE[] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbye\n";

struct conn {
    char buf[BUF_SIZE];
    size_t len;
};

static struct conn *conns[65536];

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

enum { KEEP, CLOSE, QUIT };

/* Answers every complete request in the connection's buffer: QUIT when /quit was asked,
 * CLOSE after a request saying "Connection: close". */
static int answer(int fd, struct conn *c) {
    char out[64 * sizeof RESPONSE];
    size_t out_len = 0;
    int quit = 0, close_after = 0;
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL) {
        size_t request = (size_t)(end - c->buf) + 4;
        if (c->len >= 9 && memcmp(c->buf, "GET /quit", 9) == 0)
            quit = 1;
        if (memmem(c->buf, request, "Connection: close", 17) != NULL)
            close_after = 1;
        if (out_len + sizeof RESPONSE <= sizeof out) {
            memcpy(out + out_len, RESPONSE, sizeof RESPONSE - 1);
            out_len += sizeof RESPONSE - 1;
        }
        memmove(c->buf, c->buf + request, c->len - request);
        c->len -= request;
    }
    if (quit) {
        (void)!write(fd, BYE, sizeof BYE - 1);
        return QUIT;
    }
    if (out_len > 0)
        (void)!write(fd, out, out_len);
    return close_after ? CLOSE : KEEP;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 80;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1024) < 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    printf("listening on %d\n", port);
    fflush(stdout);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client >= 65536) {
                        close(client);
                        continue;
                    }
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[client] = calloc(1, sizeof(struct conn));
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(ep, EPOLL_CTL_ADD, client, &cev);
                }
                continue;
            }
            struct conn *c = conns[fd];
            if (!c)
                continue;
            ssize_t got = read(fd, c->buf + c->len, BUF_SIZE - c->len);
            if (got <= 0) {
                drop(ep, fd);
                continue;
            }
            c->len += (size_t)got;
            int next = answer(fd, c);
            if (next == QUIT)
                return 0;
            if (next == CLOSE || c->len == BUF_SIZE)
                drop(ep, fd);
        }
    }
}
