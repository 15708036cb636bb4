/* A single-threaded epoll HTTP/1.1 server with one fixed response: isolates uvm's
 * per-request network cost from a language runtime's. Keep-alive; a request containing
 * "quit" ends it. Usage: http_epoll [PORT]  (default 80).
 *   gcc -static -O2 -o http_epoll bench/http_epoll.c
 *   uvm run --timings -p 8080:80 IMAGE & wrk -t2 -c50 -d5s http://127.0.0.1:8080/ */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nContent-Type: text/plain\r\n\r\nhello from uvm\n";

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 80, one = 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1024) != 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener}, events[64];
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &event);
    printf("listening on :%d\n", port);
    fflush(stdout);
    char buf[4096];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int conn;
                while ((conn = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = conn};
                    epoll_ctl(ep, EPOLL_CTL_ADD, conn, &e);
                }
                continue;
            }
            ssize_t got = read(fd, buf, sizeof buf);
            if (got <= 0) {
                close(fd);
                continue;
            }
            if (memmem(buf, got, "quit", 4))
                return 0;
            if (write(fd, response, sizeof response - 1) < 0)
                close(fd);
        }
    }
}
