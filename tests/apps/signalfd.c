/* signalfd: signals read through a file, as event loops and container init processes read
 * them. Creation and its errors, what the file shows of itself, reads that find nothing, one
 * signal and many (real-time ones queue), a changed mask, poll and edge-triggered epoll,
 * sigqueue's value (and rt_sigqueueinfo's refusals), a
 * blocking read woken by another process's kill, a child's end read as SIGCHLD (with its pid
 * and status), an interval timer's SIGALRM and a POSIX timer's signal (with its value) read
 * from the file, and a blocking read interrupted by a signal it does not read. Prints facts
 * only (no pids or times that differ by run). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static sigset_t set_of(int a, int b) {
    sigset_t set;
    sigemptyset(&set);
    if (a)
        sigaddset(&set, a);
    if (b)
        sigaddset(&set, b);
    return set;
}

/* A signal's number as the test prints it: real-time ones from SIGRTMIN (which differs
 * between glibc and musl). */
static const char *signame(unsigned sig) {
    static char buf[16];
    if (sig >= (unsigned)SIGRTMIN)
        snprintf(buf, sizeof buf, "RTMIN+%u", sig - (unsigned)SIGRTMIN);
    else
        snprintf(buf, sizeof buf, "%u", sig);
    return buf;
}

/* One read of up to `max` entries; prints each entry's signal number and code. */
static int read_entries(int fd, int max, struct signalfd_siginfo *out) {
    struct signalfd_siginfo buf[8];
    ssize_t r = read(fd, buf, sizeof buf[0] * (size_t)max);
    if (r < 0) {
        printf("  read: %s\n", call_result(r));
        return -1;
    }
    int n = (int)(r / (ssize_t)sizeof buf[0]);
    printf("  read: %d entr%s (%zd bytes):", n, n == 1 ? "y" : "ies", r);
    for (int i = 0; i < n; i++)
        printf(" %s/%d", signame(buf[i].ssi_signo), buf[i].ssi_code);
    printf("\n");
    if (out && n > 0)
        *out = buf[0];
    return n;
}

static void on_alarm(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sigset_t usr1 = set_of(SIGUSR1, 0), both = set_of(SIGUSR1, SIGUSR2);
    sigset_t blocked = set_of(SIGUSR1, SIGUSR2);
    sigaddset(&blocked, SIGCHLD);
    sigaddset(&blocked, SIGALRM);
    sigaddset(&blocked, SIGRTMIN);
    sigaddset(&blocked, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &blocked, NULL);

    /* Creation and its errors. */
    printf("sizemask 4: %s\n", call_result(syscall(SYS_signalfd4, -1, &usr1, 4, 0)));
    printf("flag 1: %s\n", call_result(syscall(SYS_signalfd4, -1, &usr1, 8, 1)));
    printf("bad mask pointer: %s\n", call_result(syscall(SYS_signalfd4, -1, (void *)8, 8, 0)));
    int pipefd[2];
    pipe(pipefd);
    printf("change a pipe's mask: %s\n", call_result(signalfd(pipefd[0], &usr1, 0)));
    printf("change a closed fd's mask: %s\n", call_result(signalfd(999, &usr1, 0)));

    int fd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
    struct stat st;
    fstat(fd, &st);
    char link[64] = {0}, path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (readlink(path, link, sizeof link - 1) < 0)
        snprintf(link, sizeof link, "%s", errname(errno));
    printf("signalfd: mode %04o, cloexec %s, nonblock %s, access %s, link %s\n", (unsigned)st.st_mode,
           fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no", fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no",
           (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR ? "rdwr" : "other", link);
    uint64_t word = 1;
    printf("write: %s\n", call_result(write(fd, &word, sizeof word)));
    struct signalfd_siginfo one;
    printf("read 64 bytes: %s\n", call_result(read(fd, &one, 64)));
    printf("read, nothing pending: %s\n", call_result(read(fd, &one, sizeof one)));

    /* One signal: poll sees it, a read takes it (the sender's pid and uid with it). */
    struct pollfd pfd = {fd, POLLIN, 0};
    printf("poll, nothing pending: %d\n", poll(&pfd, 1, 0));
    kill(getpid(), SIGUSR1);
    int ready = poll(&pfd, 1, 0);
    printf("poll after kill: %d, POLLIN %s\n", ready, pfd.revents & POLLIN ? "yes" : "no");
    struct signalfd_siginfo info;
    read_entries(fd, 4, &info);
    printf("  sender is this process: %s, uid %s\n", info.ssi_pid == (uint32_t)getpid() ? "yes" : "no",
           info.ssi_uid == getuid() ? "mine" : "other");
    sigset_t pending;
    sigpending(&pending);
    printf("SIGUSR1 pending after the read: %s\n", sigismember(&pending, SIGUSR1) ? "yes" : "no");

    /* A signal outside the mask stays pending; a changed mask reads it. */
    kill(getpid(), SIGUSR2);
    printf("SIGUSR2, not in the mask: ");
    read_entries(fd, 4, NULL);
    int same = signalfd(fd, &both, 0);
    printf("change the mask: %s\n", same == fd ? "the same fd" : call_result(same));
    raise(SIGUSR1);
    kill(getpid(), SIGRTMIN);
    kill(getpid(), SIGRTMIN);
    sigset_t rt = set_of(SIGRTMIN, 0);
    int rtfd = signalfd(-1, &rt, SFD_NONBLOCK);
    printf("three entries' room, USR1 (tgkill) and USR2 pending:\n");
    read_entries(fd, 3, NULL);
    printf("real-time signals queue:\n");
    read_entries(rtfd, 1, NULL);
    read_entries(rtfd, 4, NULL);
    read_entries(rtfd, 4, NULL);

    /* Edge-triggered epoll: one report per signal queued. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 5};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event got[2];
    printf("epoll, nothing pending: %d\n", epoll_wait(ep, got, 2, 0));
    kill(getpid(), SIGUSR2);
    int n = epoll_wait(ep, got, 2, 0);
    printf("epoll after kill: %d (data %llu)\n", n, n > 0 ? (unsigned long long)got[0].data.u64 : 0ULL);
    printf("epoll, edge again: %d\n", epoll_wait(ep, got, 2, 0));
    read_entries(fd, 4, NULL);

    /* sigqueue: the value comes with the signal; a kill's si_code may not be forged for
     * another process. */
    union sigval value = {.sival_int = 99};
    sigqueue(getpid(), SIGUSR1, value);
    printf("sigqueue:\n");
    read_entries(fd, 1, &info);
    printf("  value %d, SI_QUEUE %s, sender is this process %s\n", info.ssi_int, info.ssi_code == SI_QUEUE ? "yes" : "no",
           info.ssi_pid == (uint32_t)getpid() ? "yes" : "no");
    pid_t idle = fork();
    if (idle == 0) {
        for (;;)
            pause();
    }
    siginfo_t forged;
    memset(&forged, 0, sizeof forged);
    forged.si_code = SI_USER;
    printf("rt_sigqueueinfo, SI_USER, to a child: %s\n", call_result(syscall(SYS_rt_sigqueueinfo, idle, SIGUSR1, &forged)));
    printf("rt_sigqueueinfo, signal 65: %s\n", call_result(syscall(SYS_rt_sigqueueinfo, getpid(), 65, &forged)));
    forged.si_code = SI_QUEUE;
    printf("rt_tgsigqueueinfo, SI_QUEUE, to the child's thread: %s\n",
           call_result(syscall(SYS_rt_tgsigqueueinfo, idle, idle, 0, &forged)));
    kill(idle, SIGKILL);
    waitpid(idle, NULL, 0);
    struct timespec no_wait = {0, 0};
    sigset_t chld_only = set_of(SIGCHLD, 0);
    sigtimedwait(&chld_only, NULL, &no_wait);

    /* A blocking read, woken by another process's kill. */
    int waitfd = signalfd(-1, &both, 0);
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    printf("blocking read, a child sends SIGUSR2:\n");
    read_entries(waitfd, 1, &info);
    printf("  sender is the child: %s\n", info.ssi_pid == (uint32_t)child ? "yes" : "no");
    waitpid(child, NULL, 0);

    /* A child's end read as SIGCHLD (a container init's loop); the first child's is taken
     * first. */
    sigset_t chld = set_of(SIGCHLD, 0);
    struct timespec zero = {0, 0};
    printf("the first child's SIGCHLD: %s\n", sigtimedwait(&chld, NULL, &zero) == SIGCHLD ? "taken" : "missing");
    int chldfd = signalfd(-1, &chld, 0);
    child = fork();
    if (child == 0) {
        usleep(10000);
        _exit(7);
    }
    printf("SIGCHLD through poll then a read:\n");
    pfd.fd = chldfd;
    ready = poll(&pfd, 1, 2000);
    printf("  poll: %d\n", ready);
    read_entries(chldfd, 2, &info);
    printf("  child pid matches: %s, status %d\n", info.ssi_pid == (uint32_t)child ? "yes" : "no", info.ssi_status);
    int status = 0;
    pid_t waited = waitpid(child, &status, 0);
    printf("  waitpid: %s, exit %d\n", waited == child ? "the child" : "other", WEXITSTATUS(status));

    /* An interval timer's SIGALRM, waited for with epoll. */
    sigset_t alrm = set_of(SIGALRM, 0);
    int alrmfd = signalfd(-1, &alrm, SFD_NONBLOCK);
    int ep2 = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.u64 = 9;
    epoll_ctl(ep2, EPOLL_CTL_ADD, alrmfd, &ev);
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    n = epoll_wait(ep2, got, 2, 2000);
    printf("setitimer's SIGALRM through epoll: %d (data %llu)\n", n, n > 0 ? (unsigned long long)got[0].data.u64 : 0ULL);
    read_entries(alrmfd, 1, NULL);

    /* A POSIX timer's signal, with its value. */
    sigset_t rt1 = set_of(SIGRTMIN + 1, 0);
    int timerfd_ = signalfd(-1, &rt1, 0);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 1;
    sev.sigev_value.sival_int = 42;
    timer_t timer;
    timer_create(CLOCK_MONOTONIC, &sev, &timer);
    struct itimerspec its = {{0, 0}, {0, 10000000}};
    timer_settime(timer, 0, &its, NULL);
    printf("a POSIX timer's signal, blocking read:\n");
    read_entries(timerfd_, 1, &info);
    printf("  value %d, overrun %u, code SI_TIMER %s\n", info.ssi_int, info.ssi_overrun,
           info.ssi_code == SI_TIMER ? "yes" : "no");

    /* A blocking read that a handled signal interrupts. */
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    printf("a blocking read interrupted by a handled SIGALRM:\n");
    read_entries(waitfd, 1, NULL);
    return 0;
}
