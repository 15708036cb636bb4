/* AF_UNIX sockets: socketpair (stream, dgram), a path-bound listener with a client thread,
 * accept4 flags, non-blocking EAGAIN, shutdown, EPIPE/SIGPIPE, names, SCM_RIGHTS, SO_PEERCRED,
 * poll/epoll readiness, abstract names, connect errors, unlink. One line per check. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EADDRINUSE: return "EADDRINUSE";
    case ENOTCONN: return "ENOTCONN";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EISCONN: return "EISCONN";
    case ENXIO: return "ENXIO";
    case ENOTSOCK: return "ENOTSOCK";
    }
    return errname(e);
}

/* "N" or "-1 ENAME". */
static const char *res(long r) {
    static char bufs[4][32];
    static int next;
    char *buf = bufs[next++ % 4];
    if (r < 0)
        snprintf(buf, 32, "-1 %s", ename(errno));
    else
        snprintf(buf, 32, "%ld", r);
    return buf;
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static const char *show_addr(const struct sockaddr_un *a, socklen_t len) {
    static char buf[160];
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (len <= off)
        snprintf(buf, sizeof buf, "unnamed (len %u)", (unsigned)len);
    else if (a->sun_path[0] == 0)
        snprintf(buf, sizeof buf, "@%.*s (len %u)", (int)(len - off - 1), a->sun_path + 1, (unsigned)len);
    else
        snprintf(buf, sizeof buf, "%s (len %u)", a->sun_path, (unsigned)len);
    return buf;
}

#define SOCK_PATH "/tmp/uvm_unix_test.sock"

static void *client(void *arg) {
    (void)arg;
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, SOCK_PATH);
    if (connect(c, (struct sockaddr *)&a, len) != 0) {
        printf("client connect: %s\n", res(-1));
        return NULL;
    }
    if (send(c, "ping", 4, 0) != 4)
        return NULL;
    char buf[16] = {0};
    ssize_t n = recv(c, buf, 4, MSG_WAITALL);
    /* Printed by main after join, to keep the order fixed. */
    static char line[64];
    snprintf(line, sizeof line, "client got %zd: %.*s", n, (int)(n > 0 ? n : 0), buf);
    close(c);
    return line;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int sv[2];
    char buf[256];
    struct stat st;

    /* socketpair stream */
    printf("socketpair stream: %s\n", res(socketpair(AF_UNIX, SOCK_STREAM, 0, sv)));
    printf("write: %s\n", res(write(sv[0], "hello", 5)));
    printf("send: %s\n", res(send(sv[0], " world", 6, 0)));
    memset(buf, 0, sizeof buf);
    printf("peek 3: %s %.3s\n", res(recv(sv[1], buf, 3, MSG_PEEK)), buf);
    memset(buf, 0, sizeof buf);
    printf("read: %s %s\n", res(read(sv[1], buf, sizeof buf)), buf);
    printf("recv empty DONTWAIT: %s\n", res(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)));
    fstat(sv[0], &st);
    printf("fstat: sock %s, mode %o\n", S_ISSOCK(st.st_mode) ? "yes" : "no", (unsigned)(st.st_mode & 07777));
    char link[64] = {0}, fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", sv[0]);
    ssize_t ll = readlink(fdpath, link, sizeof link - 1);
    printf("readlink: %s\n", ll > 0 && strncmp(link, "socket:[", 8) == 0 && link[ll - 1] == ']' ? "socket:[N]" : link);
    printf("lseek: %s\n", res(lseek(sv[0], 0, SEEK_CUR)));
    int type = 0, domain = 0, proto = -1;
    socklen_t ol = sizeof type;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &ol);
    ol = sizeof domain;
    getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &domain, &ol);
    ol = sizeof proto;
    getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &proto, &ol);
    printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d\n", type, domain, proto);
    int val = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &val, sizeof val);
    ol = sizeof val;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &val, &ol);
    printf("SO_SNDBUF 4096 -> %d\n", val);
    printf("unknown option: %s\n", res(getsockopt(sv[0], SOL_SOCKET, 12345, &val, &ol)));
    struct ucred cred;
    ol = sizeof cred;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &ol);
    printf("SO_PEERCRED: pid %s uid %s gid %s len %u\n", cred.pid == getpid() ? "self" : "other",
           cred.uid == getuid() ? "self" : "other", cred.gid == getgid() ? "self" : "other", (unsigned)ol);
    struct sockaddr_un a;
    socklen_t al = sizeof a;
    getsockname(sv[0], (struct sockaddr *)&a, &al);
    printf("getsockname pair: %s\n", show_addr(&a, al));
    struct pollfd pfd = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&pfd, 1, 0);
    printf("poll idle: %s\n", events(pfd.revents));
    printf("shutdown WR: %s\n", res(shutdown(sv[0], SHUT_WR)));
    poll(&pfd, 1, 0);
    printf("poll after peer SHUT_WR: %s%s\n", events(pfd.revents), pfd.revents & POLLRDHUP ? " RDHUP" : "");
    printf("read at EOF: %s\n", res(read(sv[1], buf, sizeof buf)));
    printf("send after SHUT_WR, NOSIGNAL: %s\n", res(send(sv[0], "x", 1, MSG_NOSIGNAL)));
    close(sv[1]);
    signal(SIGPIPE, on_sigpipe);
    printf("write to closed peer: %s\n", res(write(sv[0], "x", 1)));
    printf("sigpipes: %d\n", (int)sigpipes);
    close(sv[0]);

    /* EPIPE without SHUT_WR */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    printf("send NOSIGNAL to closed: %s, sigpipes %d\n", res(send(sv[0], "x", 1, MSG_NOSIGNAL)), (int)sigpipes);
    close(sv[0]);

    /* socketpair dgram */
    printf("socketpair dgram: %s\n", res(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)));
    printf("nonblock %s cloexec %s\n", fcntl(sv[0], F_GETFL) & O_NONBLOCK ? "yes" : "no",
           fcntl(sv[0], F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    send(sv[0], "one", 3, 0);
    send(sv[0], "", 0, 0);
    send(sv[0], "three!", 6, 0);
    printf("recv 2 of 3: %s\n", res(recv(sv[1], buf, 2, 0)));
    printf("recv empty datagram: %s\n", res(recv(sv[1], buf, sizeof buf, 0)));
    printf("recv MSG_TRUNC 2 of 6: %s\n", res(recv(sv[1], buf, 2, MSG_TRUNC)));
    printf("recv none: %s\n", res(recv(sv[1], buf, sizeof buf, 0)));
    send(sv[0], "abcdef", 6, 0);
    struct iovec iov = {buf, 4};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    long r = recvmsg(sv[1], &mh, 0);
    printf("recvmsg 4 of 6: %s flags %s\n", res(r), mh.msg_flags & MSG_TRUNC ? "TRUNC" : "none");
    al = sizeof a;
    send(sv[0], "q", 1, 0);
    printf("recvfrom unnamed sender: %s\n", res(recvfrom(sv[1], buf, sizeof buf, 0, (struct sockaddr *)&a, &al)));
    close(sv[0]);
    close(sv[1]);

    /* path-bound listener */
    unlink(SOCK_PATH);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = path_addr(&a, SOCK_PATH);
    printf("bind path: %s\n", res(bind(l, (struct sockaddr *)&a, len)));
    stat(SOCK_PATH, &st);
    printf("stat: sock %s\n", S_ISSOCK(st.st_mode) ? "yes" : "no");
    printf("open socket file: %s\n", res(open(SOCK_PATH, O_RDWR)));
    int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("bind again: %s\n", res(bind(l2, (struct sockaddr *)&a, len)));
    printf("connect before listen: %s\n", res(connect(l2, (struct sockaddr *)&a, len)));
    printf("listen: %s\n", res(listen(l, 4)));
    int acc = 0;
    ol = sizeof acc;
    getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &ol);
    printf("SO_ACCEPTCONN: %d\n", acc);
    int lflags = fcntl(l, F_GETFL);
    fcntl(l, F_SETFL, lflags | O_NONBLOCK);
    printf("accept none, nonblocking: %s\n", res(accept(l, NULL, NULL)));
    fcntl(l, F_SETFL, lflags);
    al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    printf("getsockname listener: %s\n", show_addr(&a, al));
    pthread_t t;
    pthread_create(&t, NULL, client, NULL);
    al = sizeof a;
    int s = accept4(l, (struct sockaddr *)&a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
    printf("accept4: %s, peer %s\n", s >= 0 ? "ok" : res(-1), show_addr(&a, al));
    printf("accepted nonblock %s cloexec %s\n", fcntl(s, F_GETFL) & O_NONBLOCK ? "yes" : "no",
           fcntl(s, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    printf("getsockname accepted: %s\n", show_addr(&a, al));
    pfd.fd = s;
    pfd.events = POLLIN;
    poll(&pfd, 1, -1);
    memset(buf, 0, sizeof buf);
    printf("server recv: %s %s\n", res(recv(s, buf, sizeof buf, 0)), buf);
    printf("server send: %s\n", res(send(s, "pong", 4, 0)));
    void *line;
    pthread_join(t, &line);
    printf("%s\n", line ? (char *)line : "client failed");
    pfd.events = POLLIN | POLLOUT;
    poll(&pfd, 1, 0);
    printf("poll after client closed: %s\n", events(pfd.revents));
    printf("recv after client closed: %s\n", res(recv(s, buf, sizeof buf, 0)));
    close(s);
    close(l2);

    /* epoll on a listener and a connection */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    struct epoll_event got[4];
    printf("epoll listener idle: %s\n", res(epoll_wait(ep, got, 4, 0)));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    len = path_addr(&a, SOCK_PATH);
    printf("connect: %s\n", res(connect(c, (struct sockaddr *)&a, len)));
    printf("connect again: %s\n", res(connect(c, (struct sockaddr *)&a, len)));
    int n = epoll_wait(ep, got, 4, 0);
    printf("epoll listener pending: %d %s\n", n, n > 0 ? events(got[0].events) : "");
    s = accept(l, NULL, NULL);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL);
    printf("epoll ET empty: %s\n", res(epoll_wait(ep, got, 4, 0)));
    write(c, "abc", 3);
    printf("epoll ET after write: %s\n", res(epoll_wait(ep, got, 4, 0)));
    printf("epoll ET again: %s\n", res(epoll_wait(ep, got, 4, 0)));
    write(c, "d", 1);
    printf("epoll ET after more: %s\n", res(epoll_wait(ep, got, 4, 0)));
    printf("read all: %s\n", res(read(s, buf, sizeof buf)));
    close(ep);

    /* SCM_RIGHTS: pass a pipe's write end */
    int pp[2];
    pipe(pp);
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    iov.iov_base = "F";
    iov.iov_len = 1;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pp[1], sizeof(int));
    printf("sendmsg SCM_RIGHTS: %s\n", res(sendmsg(c, &mh, 0)));
    close(pp[1]);
    char rbuf[CMSG_SPACE(sizeof(int))];
    memset(rbuf, 0, sizeof rbuf);
    iov.iov_base = buf;
    iov.iov_len = sizeof buf;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = rbuf;
    mh.msg_controllen = sizeof rbuf;
    printf("recvmsg: %s\n", res(recvmsg(s, &mh, MSG_CMSG_CLOEXEC)));
    cm = CMSG_FIRSTHDR(&mh);
    int passed = -1;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&passed, CMSG_DATA(cm), sizeof(int));
    printf("control: len %u, fd %s, flags %d\n", (unsigned)mh.msg_controllen, passed >= 0 ? "yes" : "no", mh.msg_flags);
    printf("passed fd cloexec: %s\n", fcntl(passed, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    printf("write through passed fd: %s\n", res(write(passed, "via", 3)));
    close(passed);
    memset(buf, 0, sizeof buf);
    printf("pipe read: %s %s\n", res(read(pp[0], buf, sizeof buf)), buf);
    printf("pipe read EOF: %s\n", res(read(pp[0], buf, sizeof buf)));
    /* Too small a control buffer: MSG_CTRUNC */
    int p2[2];
    pipe(p2);
    iov.iov_base = "G";
    iov.iov_len = 1;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p2[1], sizeof(int));
    sendmsg(c, &mh, 0);
    close(p2[1]);
    iov.iov_base = buf;
    iov.iov_len = sizeof buf;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = rbuf;
    mh.msg_controllen = 8;
    r = recvmsg(s, &mh, 0);
    printf("recvmsg small control: %s ctrunc %s controllen %u\n", res(r), mh.msg_flags & MSG_CTRUNC ? "yes" : "no",
           (unsigned)mh.msg_controllen);
    printf("dropped fd's pipe at EOF: %s\n", res(read(p2[0], buf, sizeof buf)));
    close(p2[0]);
    close(pp[0]);
    close(c);
    close(s);

    /* abstract names */
    int d1 = socket(AF_UNIX, SOCK_DGRAM, 0);
    int d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    len = abstract_addr(&a, "uvm-test");
    printf("bind abstract: %s\n", res(bind(d1, (struct sockaddr *)&a, len)));
    printf("bind abstract again: %s\n", res(bind(d2, (struct sockaddr *)&a, len)));
    al = sizeof a;
    getsockname(d1, (struct sockaddr *)&a, &al);
    printf("getsockname abstract: %s\n", show_addr(&a, al));
    len = abstract_addr(&a, "uvm-test");
    printf("sendto abstract: %s\n", res(sendto(d2, "dg", 2, 0, (struct sockaddr *)&a, len)));
    struct sockaddr_un b;
    socklen_t bl = abstract_addr(&b, "uvm-peer");
    bind(d2, (struct sockaddr *)&b, bl);
    sendto(d2, "dg2", 3, 0, (struct sockaddr *)&a, len);
    al = sizeof a;
    printf("recvfrom: %s from unnamed\n", res(recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&a, &al)));
    al = sizeof a;
    printf("recvfrom: %s", res(recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&a, &al)));
    printf(" from %s\n", show_addr(&a, al));
    printf("getpeername unconnected: %s\n", res(getpeername(d1, (struct sockaddr *)&a, &al)));
    close(d1);
    len = abstract_addr(&a, "uvm-test");
    printf("sendto closed abstract: %s\n", res(sendto(d2, "x", 1, 0, (struct sockaddr *)&a, len)));
    close(d2);

    /* connect errors, unlink */
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    len = path_addr(&a, "/tmp/uvm_no_such.sock");
    printf("connect missing path: %s\n", res(connect(c, (struct sockaddr *)&a, len)));
    len = abstract_addr(&a, "uvm-nobody");
    printf("connect missing abstract: %s\n", res(connect(c, (struct sockaddr *)&a, len)));
    close(l);
    len = path_addr(&a, SOCK_PATH);
    printf("connect closed listener: %s\n", res(connect(c, (struct sockaddr *)&a, len)));
    printf("unlink: %s\n", res(unlink(SOCK_PATH)));
    printf("stat after unlink: %s\n", res(stat(SOCK_PATH, &st)));
    printf("connect after unlink: %s\n", res(connect(c, (struct sockaddr *)&a, len)));
    close(c);

    /* families and types */
    /* AF_INET is not served yet in uvm (EAFNOSUPPORT); Linux has it. */
    int in4 = socket(AF_INET, SOCK_STREAM, 0);
    printf("socket AF_INET: %s\n", in4 >= 0 || errno == EAFNOSUPPORT ? "ok or EAFNOSUPPORT" : res(-1));
    printf("socket unknown family: %s\n", res(socket(AF_MAX + 5, SOCK_DGRAM, 0)));
    printf("socket bad flags: %s\n", res(socket(AF_UNIX, SOCK_STREAM | 0x100, 0)));
    pipe(pp);
    printf("getsockopt on a pipe: %s\n", res(getsockopt(pp[0], SOL_SOCKET, SO_TYPE, &val, &ol)));
    printf("done\n");
    return 0;
}
