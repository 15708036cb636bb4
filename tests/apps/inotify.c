/* inotify: file-system change notification, as config reloaders and file watchers use it.
 * Creation and its errors, what the file shows of itself, a directory watch seeing its
 * children made, written, read, closed, changed, renamed (one cookie) and removed, a watch
 * on a file itself until the file is deleted, one-shot watches, IN_MASK_ADD/CREATE, a
 * directory that moves keeps its watch, rm_watch, poll/epoll/FIONREAD, a read too small for
 * the next event, and a blocking read woken by another process's change. Runs in /tmp and in
 * the root file system. Prints facts only (no wd numbers or cookies). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* The watch descriptors the test added, by label, so the output names them. */
static int wds[8];
static const char *labels[8];
static int nwds;

static void label(int wd, const char *name) {
    wds[nwds] = wd;
    labels[nwds++] = name;
}

static const char *wd_name(int wd) {
    for (int i = 0; i < nwds; i++)
        if (wds[i] == wd)
            return labels[i];
    return wd == -1 ? "-1" : "?";
}

static void mask_names(uint32_t mask, char *out, size_t size) {
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {{IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},       {IN_ATTRIB, "ATTRIB"},
                 {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
                 {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},   {IN_CREATE, "CREATE"},
                 {IN_DELETE, "DELETE"},         {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
                 {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},     {IN_ISDIR, "ISDIR"}};
    out[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (mask & names[i].bit)
            snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? "|" : "", names[i].name);
}

/* Reads what is queued (the fd is non-blocking) and prints one line per event; cookies are
 * shown as "c" (0 as "-"), and a MOVED_TO whose cookie is its MOVED_FROM's as "c=". */
static void drain(int fd, const char *what) {
    char buf[4096] __attribute__((aligned(8)));
    printf("%s:", what);
    uint32_t last_cookie = 0;
    int any = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *at = buf; at < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)at;
            char names[128];
            mask_names(ev->mask, names, sizeof names);
            const char *cookie = "-";
            if (ev->cookie && (ev->mask & IN_MOVED_TO) && ev->cookie == last_cookie)
                cookie = "c=";
            else if (ev->cookie)
                cookie = "c";
            if (ev->mask & IN_MOVED_FROM)
                last_cookie = ev->cookie;
            printf(" [%s %s %s%s%s]", wd_name(ev->wd), names, cookie, ev->len ? " " : "", ev->len ? ev->name : "");
            at += sizeof *ev + ev->len;
            any = 1;
        }
    }
    printf("%s\n", any ? "" : " none");
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (write(fd, text, strlen(text)) < 0)
        perror("write");
    close(fd);
}

static void directory_events(int in, const char *dir) {
    char path[256], other[256], sub[256];
    mkdir(dir, 0755);
    int wd = inotify_add_watch(in, dir, IN_ALL_EVENTS);
    label(wd, dir);
    snprintf(path, sizeof path, "%s/a", dir);
    snprintf(other, sizeof other, "%s/b", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    drain(in, "  create");
    if (write(fd, "one", 3) < 0 || write(fd, "two", 3) < 0)
        perror("write");
    drain(in, "  two writes");
    close(fd);
    drain(in, "  close");
    char buf[16];
    fd = open(path, O_RDONLY);
    if (read(fd, buf, sizeof buf) < 0)
        perror("read");
    close(fd);
    drain(in, "  open, read, close");
    chmod(path, 0600);
    drain(in, "  chmod");
    truncate(path, 1);
    drain(in, "  truncate");
    rename(path, other);
    drain(in, "  rename a -> b");
    mkdir(sub, 0755);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    close(fd);
    drain(in, "  mkdir sub, open the directory");
    rmdir(sub);
    drain(in, "  rmdir sub");
    link(other, path);
    drain(in, "  link b -> a");
    unlink(other);
    unlink(path);
    drain(in, "  unlink b, unlink a");
    inotify_rm_watch(in, wd);
    drain(in, "  rm_watch");
    rmdir(dir);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("init1 flag 1: %s\n", call_result(inotify_init1(1)));
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    struct stat st;
    fstat(in, &st);
    char link_text[64] = {0}, proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", in);
    if (readlink(proc, link_text, sizeof link_text - 1) < 0)
        snprintf(link_text, sizeof link_text, "%s", errname(errno));
    printf("inotify: mode %04o, cloexec %s, nonblock %s, access %s, link %s\n", (unsigned)st.st_mode,
           fcntl(in, F_GETFD) & FD_CLOEXEC ? "yes" : "no", fcntl(in, F_GETFL) & O_NONBLOCK ? "yes" : "no",
           (fcntl(in, F_GETFL) & O_ACCMODE) == O_RDONLY ? "rdonly" : "other", link_text);
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return 1;
    printf("add_watch, mask 0: %s\n", call_result(inotify_add_watch(in, "/tmp", 0)));
    printf("add_watch, MASK_ADD|MASK_CREATE: %s\n",
           call_result(inotify_add_watch(in, "/tmp", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE)));
    printf("add_watch on a pipe: %s\n", call_result(inotify_add_watch(pipefd[0], "/tmp", IN_MODIFY)));
    printf("add_watch on a closed fd: %s\n", call_result(inotify_add_watch(999, "/tmp", IN_MODIFY)));
    printf("add_watch, a missing path: %s\n", call_result(inotify_add_watch(in, "/tmp/no/such", IN_MODIFY)));
    write_file("/tmp/plain", "x");
    printf("add_watch ONLYDIR on a file: %s\n", call_result(inotify_add_watch(in, "/tmp/plain", IN_MODIFY | IN_ONLYDIR)));
    printf("rm_watch of an unknown wd: %s\n", call_result(inotify_rm_watch(in, 12345)));
    printf("read, nothing queued: %s\n", call_result(read(in, proc, sizeof proc)));

    printf("a directory in /tmp:\n");
    directory_events(in, "/tmp/watched");
    printf("a directory in the root file system:\n");
    directory_events(in, "/srv-watched");

    /* A watch on a file itself, until it is deleted. */
    int wd = inotify_add_watch(in, "/tmp/plain", IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_CLOSE_WRITE);
    label(wd, "plain");
    printf("the same file again, MASK_ADD: %s, MASK_CREATE: %s\n",
           inotify_add_watch(in, "/tmp/plain", IN_OPEN | IN_MASK_ADD) == wd ? "the same wd" : "another wd",
           call_result(inotify_add_watch(in, "/tmp/plain", IN_OPEN | IN_MASK_CREATE)));
    write_file("/tmp/plain", "y");
    drain(in, "file watch: rewrite");
    unlink("/tmp/plain");
    drain(in, "file watch: unlink");
    printf("rm_watch after IN_IGNORED: %s\n", call_result(inotify_rm_watch(in, wd)));

    /* One-shot. */
    write_file("/tmp/once", "1");
    wd = inotify_add_watch(in, "/tmp/once", IN_MODIFY | IN_ONESHOT);
    label(wd, "once");
    write_file("/tmp/once", "2");
    write_file("/tmp/once", "3");
    drain(in, "one-shot, two rewrites");
    unlink("/tmp/once");

    /* A watched directory that moves keeps its watch. */
    mkdir("/tmp/d1", 0755);
    wd = inotify_add_watch(in, "/tmp/d1", IN_CREATE | IN_MOVE_SELF | IN_CLOSE_WRITE);
    label(wd, "d1");
    rename("/tmp/d1", "/tmp/d2");
    write_file("/tmp/d2/new", "z");
    drain(in, "directory moved, then a file made in it");
    unlink("/tmp/d2/new");
    rmdir("/tmp/d2");
    drain(in, "emptied and removed");

    /* Readiness and sizes. */
    mkdir("/tmp/ready", 0755);
    wd = inotify_add_watch(in, "/tmp/ready", IN_CREATE);
    label(wd, "ready");
    struct pollfd pfd = {in, POLLIN, 0};
    printf("poll, nothing queued: %d\n", poll(&pfd, 1, 0));
    write_file("/tmp/ready/abcdefghijklmnop", "");
    int n = poll(&pfd, 1, 0);
    printf("poll after a create: %d, POLLIN %s\n", n, pfd.revents & POLLIN ? "yes" : "no");
    int queued = 0;
    ioctl(in, FIONREAD, &queued);
    printf("FIONREAD: %d bytes (a 16-byte header and a 17-byte name padded to 32)\n", queued);
    char small[20];
    printf("read into 20 bytes: %s\n", call_result(read(in, small, sizeof small)));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 4};
    epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev);
    struct epoll_event got[2];
    printf("epoll, one event queued: %d\n", epoll_wait(ep, got, 2, 0));
    printf("epoll, edge again: %d\n", epoll_wait(ep, got, 2, 0));
    drain(in, "read");
    unlink("/tmp/ready/abcdefghijklmnop");

    /* A blocking read woken by another process's change. */
    int blocking = inotify_init();
    wd = inotify_add_watch(blocking, "/tmp/ready", IN_CREATE);
    label(wd, "ready(2)");
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        write_file("/tmp/ready/from-child", "");
        _exit(0);
    }
    char buf[256] __attribute__((aligned(8)));
    ssize_t got_bytes = read(blocking, buf, sizeof buf);
    struct inotify_event *first = (struct inotify_event *)buf;
    printf("blocking read: %zd bytes, %s %s\n", got_bytes, first->mask == IN_CREATE ? "CREATE" : "other",
           got_bytes > 0 ? first->name : "");
    waitpid(child, NULL, 0);
    unlink("/tmp/ready/from-child");
    rmdir("/tmp/ready");
    return 0;
}
