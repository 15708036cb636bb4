/* pidfd: processes named by files, as Go's os/exec, systemd and process supervisors use
 * them. pidfd_open and its errors, what the file shows of itself, the caller's own pidfd
 * (the checks Go makes at start), signals through a pidfd (kill's and sigqueue's), a copy of
 * another process's fd, readiness as a process ends and is reaped (poll and epoll),
 * waitid(P_PIDFD) (blocking, WNOHANG, a PIDFD_NONBLOCK pidfd), a zombie's pidfd, a child
 * reaped by its parent's SIG_IGN, and clone's and clone3's CLONE_PIDFD. Prints facts only
 * (no pids or fd numbers). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define PIDFD_NONBLOCK O_NONBLOCK

/* clone3's arguments (CLONE_ARGS_SIZE_VER0). */
struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static long pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }

static long pidfd_send(int fd, int sig, siginfo_t *info, unsigned flags) {
    return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

/* waitid through a pidfd (a raw call: glibc's wrapper asks for a pid_t id). */
static long wait_pidfd(int fd, siginfo_t *info, int options) {
    return syscall(SYS_waitid, P_PIDFD, fd, info, options, NULL);
}

/* The poll events of `fd` now. */
static const char *ready(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long n = poll(&p, 1, 0);
    return n < 0 ? call_result(n) : events(p.revents);
}

/* A child that waits until its end of `gate` is written to (or closed), then exits with
 * `status`. */
static pid_t gated_child(int gate[2], int status) {
    if (pipe(gate) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(gate[1]);
        ssize_t r = read(gate[0], &c, 1);
        _exit(r == 1 ? c : status);
    }
    close(gate[0]);
    return pid;
}

/* How a waitid ended, as "exited N" / "killed N" / "none". */
static const char *ending(const siginfo_t *info) {
    static char buf[32];
    if (info->si_pid == 0)
        return "none";
    snprintf(buf, sizeof buf, "%s %d", info->si_code == CLD_EXITED ? "exited" : info->si_code == CLD_KILLED ? "killed" : "other", info->si_status);
    return buf;
}

/* A thread that says its tid through `fds[1]` and waits until `fds[0]` can be read. */
static void *thread_tid(void *arg) {
    int *fds = arg;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    char c;
    write(fds[1], &tid, sizeof tid);
    read(fds[2], &c, 1);
    return NULL;
}

static void errors(void) {
    printf("open, flag 1: %s\n", call_result(pidfd_open(getpid(), 1)));
    printf("open, pid 0: %s\n", call_result(pidfd_open(0, 0)));
    printf("open, pid -1: %s\n", call_result(pidfd_open(-1, 0)));
    printf("open, no such pid: %s\n", call_result(pidfd_open(0x3ffffff0, 0)));
    int said[2], go[2];
    pthread_t t;
    pid_t tid = 0;
    if (pipe(said) != 0 || pipe(go) != 0)
        return;
    int fds[3] = {said[0], said[1], go[0]};
    pthread_create(&t, NULL, thread_tid, fds);
    read(said[0], &tid, sizeof tid);
    printf("open, a thread's tid: %s\n", call_result(pidfd_open(tid, 0)));
    write(go[1], "", 1);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        close(said[i]);
        close(go[i]);
    }
    printf("send_signal to stdin: %s\n", call_result(pidfd_send(0, 0, NULL, 0)));
    printf("send_signal, flag 8: %s\n", call_result(pidfd_send(0, 0, NULL, 8)));
    printf("getfd of stdin: %s\n", call_result(syscall(SYS_pidfd_getfd, 0, 0, 0)));
    siginfo_t info;
    printf("waitid P_PIDFD on stdin: %s\n", call_result(wait_pidfd(0, &info, WEXITED)));
    printf("waitid P_PIDFD -1: %s\n", call_result(wait_pidfd(-1, &info, WEXITED)));
}

static void own_pidfd(void) {
    int fd = (int)pidfd_open(getpid(), 0);
    char link[64] = {0}, path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    readlink(path, link, sizeof link - 1);
    int fl = fcntl(fd, F_GETFL);
    printf("own pidfd: cloexec %s, nonblock %s, access %s, link %s\n", fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no",
           fl & O_NONBLOCK ? "yes" : "no", (fl & O_ACCMODE) == O_RDWR ? "rdwr" : "other", link);
    char c;
    printf("read: %s\n", call_result(read(fd, &c, 1)));
    printf("write: %s\n", call_result(write(fd, "x", 1)));
    printf("poll: %s\n", ready(fd));
    /* What Go checks at start. */
    printf("waitid on itself: %s\n", call_result(wait_pidfd(fd, NULL, WEXITED)));
    printf("signal 0 to itself: %s\n", call_result(pidfd_send(fd, 0, NULL, 0)));

    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    printf("SIGUSR1 to itself: %s\n", call_result(pidfd_send(fd, SIGUSR1, NULL, 0)));
    siginfo_t got;
    struct timespec now = {0, 0};
    int sig = sigtimedwait(&usr1, &got, &now);
    printf("  taken: %s, SI_USER %s, sender is this process %s\n", sig == SIGUSR1 ? "yes" : "no",
           got.si_code == SI_USER ? "yes" : "no", got.si_pid == getpid() ? "yes" : "no");
    siginfo_t q = {0};
    q.si_signo = SIGUSR2;
    q.si_code = SI_QUEUE;
    q.si_value.sival_int = 42;
    printf("a siginfo for another signal: %s\n", call_result(pidfd_send(fd, SIGUSR1, &q, 0)));
    q.si_signo = SIGUSR1;
    printf("sigqueue's siginfo: %s\n", call_result(pidfd_send(fd, SIGUSR1, &q, 0)));
    sig = sigtimedwait(&usr1, &got, &now);
    printf("  taken: %s, SI_QUEUE %s, value %d\n", sig == SIGUSR1 ? "yes" : "no", got.si_code == SI_QUEUE ? "yes" : "no",
           got.si_value.sival_int);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    close(fd);
}

/* A child's pidfd: a copy of its fd, a signal that ends it, readiness before and after it is
 * reaped, and what a pidfd can do once its process is gone. */
static void child_pidfd(void) {
    int gate[2], data[2];
    if (pipe(data) != 0)
        return;
    pid_t pid = gated_child(gate, 0);
    int fd = (int)pidfd_open(pid, 0);
    printf("child: poll %s\n", ready(fd));
    /* The parent drops its read end; the child still has one, which the parent takes. */
    int read_end = data[0];
    close(read_end);
    int copy = (int)syscall(SYS_pidfd_getfd, fd, read_end, 0);
    write(data[1], "ping", 4);
    char buf[8] = {0};
    printf("getfd: cloexec %s, reads %s\n", fcntl(copy, F_GETFD) & FD_CLOEXEC ? "yes" : "no",
           read(copy, buf, 4) == 4 ? buf : "nothing");
    printf("getfd, flag 1: %s\n", call_result(syscall(SYS_pidfd_getfd, fd, read_end, 1)));
    printf("getfd, an fd it lacks: %s\n", call_result(syscall(SYS_pidfd_getfd, fd, 900, 0)));
    close(copy);

    printf("SIGTERM through the pidfd: %s\n", call_result(pidfd_send(fd, SIGTERM, NULL, 0)));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long n = poll(&p, 1, 5000);
    printf("poll until it ends: %ld, %s\n", n, events(p.revents));
    printf("ended, not reaped: signal 0 %s", call_result(pidfd_send(fd, 0, NULL, 0)));
    printf(", kill 0 %s\n", call_result(kill(pid, 0)));
    int late = (int)pidfd_open(pid, 0);
    printf("a pidfd opened now: poll %s\n", ready(late));
    siginfo_t info = {0};
    printf("waitid P_PIDFD, WNOWAIT: %s", call_result(wait_pidfd(fd, &info, WEXITED | WNOWAIT)));
    printf(", %s\n", ending(&info));
    printf("poll after WNOWAIT: %s\n", ready(fd));
    info = (siginfo_t){0};
    printf("waitid P_PIDFD (another pidfd): %s", call_result(wait_pidfd(late, &info, WEXITED)));
    printf(", %s\n", ending(&info));
    printf("reaped: poll %s", ready(fd));
    printf(", signal 0 %s", call_result(pidfd_send(fd, 0, NULL, 0)));
    printf(", getfd %s\n", call_result(syscall(SYS_pidfd_getfd, fd, 0, 0)));
    printf("open a reaped pid: %s\n", call_result(pidfd_open(pid, 0)));
    close(fd);
    close(late);
    close(gate[1]);
    close(data[1]);
}

/* A PIDFD_NONBLOCK pidfd: a wait that would block says EAGAIN; epoll sees the end. */
static void nonblocking_pidfd(void) {
    int gate[2];
    pid_t pid = gated_child(gate, 0);
    int fd = (int)pidfd_open(pid, PIDFD_NONBLOCK);
    printf("nonblocking pidfd: nonblock %s\n", fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no");
    siginfo_t info = {0};
    printf("waitid: %s\n", call_result(wait_pidfd(fd, &info, WEXITED)));
    info.si_pid = 1;
    printf("waitid, WNOHANG: %s", call_result(wait_pidfd(fd, &info, WEXITED | WNOHANG)));
    printf(", %s\n", ending(&info));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 7};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event out[2];
    printf("epoll, running: %d\n", epoll_wait(ep, out, 2, 0));
    write(gate[1], "\7", 1);
    int n = epoll_wait(ep, out, 2, 5000);
    printf("epoll until it ends: %d (data %u, %s)\n", n, n > 0 ? out[0].data.u32 : 0, n > 0 ? events(out[0].events) : "-");
    printf("epoll, edge again: %d\n", epoll_wait(ep, out, 2, 0));
    info = (siginfo_t){0};
    printf("waitid: %s", call_result(wait_pidfd(fd, &info, WEXITED)));
    printf(", %s\n", ending(&info));
    n = epoll_wait(ep, out, 2, 0);
    printf("epoll after the reap: %d (%s)\n", n, n > 0 ? events(out[0].events) : "-");
    close(ep);
    close(fd);
    close(gate[1]);
}

/* A child whose parent ignores SIGCHLD is reaped at its end: its pidfd hangs up. */
static void reaped_by_ignore(void) {
    signal(SIGCHLD, SIG_IGN);
    int gate[2];
    pid_t pid = gated_child(gate, 0);
    int fd = (int)pidfd_open(pid, 0);
    close(gate[1]);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long n = poll(&p, 1, 5000);
    /* The end (POLLIN) may come a moment before the reap (POLLHUP) on Linux. */
    for (int i = 0; i < 1000 && !(p.revents & POLLHUP); i++) {
        usleep(1000);
        n = poll(&p, 1, 0);
    }
    printf("SIGCHLD ignored: poll %ld, %s\n", n, events(p.revents));
    printf("  waitid: %s\n", call_result(wait_pidfd(fd, NULL, WEXITED)));
    signal(SIGCHLD, SIG_DFL);
    close(fd);
}

static void clone_pidfd(void) {
    int fd = -1;
    long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &fd, 0, 0);
    if (pid == 0)
        _exit(3);
    printf("clone CLONE_PIDFD: pidfd %s, cloexec %s\n", fd >= 0 ? "set" : "unset",
           fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    siginfo_t info = {0};
    printf("  waitid P_PIDFD: %s", call_result(wait_pidfd(fd, &info, WEXITED)));
    printf(", %s\n", ending(&info));
    close(fd);
    int tid = 0;
    printf("clone CLONE_PIDFD|CLONE_PARENT_SETTID: %s\n",
           call_result(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &tid, 0, 0)));
    printf("clone CLONE_PIDFD, a bad pointer: %s\n", call_result(syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, (void *)8, 0, 0)));
    printf("  no child made: %s\n", call_result(waitpid(-1, NULL, WNOHANG)));

    int fd3 = -1;
    struct clone_args_v0 args = {.flags = CLONE_PIDFD, .pidfd = (uintptr_t)&fd3, .exit_signal = SIGCHLD};
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0)
        _exit(4);
    info = (siginfo_t){0};
    printf("clone3 CLONE_PIDFD: pidfd %s", fd3 >= 0 ? "set" : "unset");
    printf("; waitid %s", call_result(wait_pidfd(fd3, &info, WEXITED)));
    printf(", %s\n", ending(&info));
    close(fd3);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    errors();
    own_pidfd();
    child_pidfd();
    nonblocking_pidfd();
    reaped_by_ignore();
    clone_pidfd();
    return 0;
}
