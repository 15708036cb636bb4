/* jobs: stopped processes, as shells, supervisors and `kill -STOP` use them. A child with two
 * threads spinning in app code is stopped by SIGSTOP (the parent's wait and SIGCHLD say so,
 * /proc shows it, its counters freeze), continued by SIGCONT (WCONTINUED, CLD_CONTINUED, the
 * counters move again) and killed while stopped; a child blocked in read and one in
 * nanosleep stop in their calls and go on after the SIGCONT without an error; SIGTSTP stops
 * a child in a group of its own but runs its handler if it has one; a SIGCONT discards a
 * blocked, pending SIGTSTP; SA_NOCLDSTOP keeps the stops' SIGCHLD away; waitid sees
 * WSTOPPED and WCONTINUED (WNOWAIT leaves them). Prints facts only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static volatile uint64_t *counters;

static void *spin(void *arg) {
    volatile uint64_t *mine = arg;
    for (;;)
        (*mine)++;
    return NULL;
}

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The state letter of process `pid` in /proc/PID/stat. */
static char state_of(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *end = strrchr(buf, ')');
    return end && end[1] == ' ' ? end[2] : '?';
}

static const char *describe(int status) {
    static char buf[64];
    if (WIFSTOPPED(status))
        snprintf(buf, sizeof buf, "stopped by %d", WSTOPSIG(status));
    else if (WIFCONTINUED(status))
        snprintf(buf, sizeof buf, "continued");
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "killed by %d", WTERMSIG(status));
    else
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
    return buf;
}

/* The SIGCHLD queued for the parent (blocked), within `ms`: its si_code, or "none". */
static const char *sigchld(int ms) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    siginfo_t info;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    if (sigtimedwait(&chld, &info, &ts) < 0)
        return "none";
    switch (info.si_code) {
    case CLD_STOPPED: return info.si_status == SIGSTOP ? "CLD_STOPPED (SIGSTOP)" : "CLD_STOPPED (other)";
    case CLD_CONTINUED: return info.si_status == SIGCONT ? "CLD_CONTINUED (SIGCONT)" : "CLD_CONTINUED (other)";
    case CLD_KILLED: return "CLD_KILLED";
    case CLD_EXITED: return "CLD_EXITED";
    }
    return "other";
}

/* Takes every SIGCHLD still to come from the children so far. */
static void drain_sigchld(void) {
    while (strcmp(sigchld(50), "none") != 0)
        ;
}

static void spinning_threads(void) {
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        pthread_create(&t, NULL, spin, (void *)&counters[1]);
        spin((void *)&counters[0]);
    }
    while (counters[0] == 0 || counters[1] == 0)
        pause_ms(1);
    int status;
    kill(pid, SIGSTOP);
    printf("SIGSTOP: waitpid WUNTRACED: %s\n", waitpid(pid, &status, WUNTRACED) == pid ? describe(status) : "failed");
    printf("  SIGCHLD: %s\n", sigchld(1000));
    printf("  /proc state: %c\n", state_of(pid));
    uint64_t a0 = counters[0], a1 = counters[1];
    pause_ms(50);
    printf("  both threads frozen: %s\n", a0 == counters[0] && a1 == counters[1] ? "yes" : "no");
    printf("  waitpid WUNTRACED|WNOHANG again: %d\n", (int)waitpid(pid, &status, WUNTRACED | WNOHANG));
    kill(pid, SIGCONT);
    printf("SIGCONT: waitpid WCONTINUED: %s\n", waitpid(pid, &status, WCONTINUED) == pid ? describe(status) : "failed");
    printf("  SIGCHLD: %s\n", sigchld(1000));
    pause_ms(50);
    printf("  both threads move: %s\n", a0 != counters[0] && a1 != counters[1] ? "yes" : "no");
    printf("  /proc state: %c\n", state_of(pid));
    kill(pid, SIGSTOP);
    waitpid(pid, &status, WUNTRACED);
    sigchld(1000);
    kill(pid, SIGKILL);
    printf("SIGKILL while stopped: %s\n", waitpid(pid, &status, 0) == pid ? describe(status) : "failed");
    printf("  SIGCHLD: %s\n", sigchld(1000));
}

/* A child's report of a call's result `r` through `fd`; then it ends. */
static void tell_and_exit(int fd, long r) {
    char line[32];
    int n = snprintf(line, sizeof line, "%s", call_result(r));
    write(fd, line, (size_t)n);
    _exit(0);
}

/* Stops child `pid` (blocked in `what`) 20 ms after its start and prints what the wait says. */
static void stop_blocked_child(pid_t pid, const char *what) {
    pause_ms(20);
    int status;
    kill(pid, SIGSTOP);
    printf("blocked in %s: %s\n", what, waitpid(pid, &status, WUNTRACED) == pid ? describe(status) : "failed");
    sigchld(1000);
}

/* A child that reads one byte from `in` and writes what read returned to `out`. */
static void blocked_in_read(void) {
    int in[2], out[2];
    pipe(in);
    pipe(out);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        tell_and_exit(out[1], read(in[0], &c, 1));
    }
    stop_blocked_child(pid, "read");
    write(in[1], "x", 1);
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    printf("  data written while it is stopped: answered %s\n", poll(&p, 1, 50) == 0 ? "no" : "yes");
    kill(pid, SIGCONT);
    char line[32] = {0};
    read(out[0], line, sizeof line - 1);
    printf("  after SIGCONT its read returned %s\n", line);
    waitpid(pid, NULL, 0);
    drain_sigchld();
}

/* Continues child `pid`, stopped in `what`, 30 ms later, and prints what the call returned
 * (its report on `out`). */
static void continue_and_report(pid_t pid, int out, const char *what) {
    pause_ms(30);
    kill(pid, SIGCONT);
    char line[32] = {0};
    read(out, line, sizeof line - 1);
    printf("  after SIGCONT %s returned %s\n", what, line);
    waitpid(pid, NULL, 0);
    drain_sigchld();
}

static void blocked_in_nanosleep(void) {
    int out[2];
    pipe(out);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, 200 * 1000000L};
        tell_and_exit(out[1], nanosleep(&ts, NULL));
    }
    stop_blocked_child(pid, "nanosleep");
    continue_and_report(pid, out[0], "nanosleep");
}

/* A child blocked in epoll_wait (an empty pipe, 2 s) or rt_sigtimedwait (SIGUSR1, blocked, 2 s):
 * after a stop and a continue these end with EINTR on Linux (signal(7)), where read and
 * nanosleep go on. */
static void blocked_in_epoll_and_sigtimedwait(void) {
    for (int which = 0; which < 2; which++) {
        int in[2], out[2];
        pipe(in);
        pipe(out);
        pid_t pid = fork();
        if (pid == 0) {
            if (which == 0) {
                int ep = epoll_create1(0);
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = in[0]}, got;
                epoll_ctl(ep, EPOLL_CTL_ADD, in[0], &ev);
                tell_and_exit(out[1], epoll_wait(ep, &got, 1, 2000));
            }
            sigset_t usr1;
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            sigprocmask(SIG_BLOCK, &usr1, NULL);
            struct timespec ts = {2, 0};
            /* The raw call: musl's sigtimedwait retries on EINTR. */
            tell_and_exit(out[1], syscall(SYS_rt_sigtimedwait, &usr1, NULL, &ts, 8));
        }
        const char *what = which == 0 ? "epoll_wait" : "sigtimedwait";
        stop_blocked_child(pid, what);
        continue_and_report(pid, out[0], what);
    }
}

static volatile sig_atomic_t tstp_handled;
static void on_tstp(int sig) {
    (void)sig;
    tstp_handled = 1;
}

static void terminal_stop(void) {
    int ready[2];
    pipe(ready);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        write(ready[1], "r", 1);
        for (;;)
            pause();
    }
    char c;
    read(ready[0], &c, 1);
    int status;
    kill(pid, SIGTSTP);
    printf("SIGTSTP, own group: %s\n", waitpid(pid, &status, WUNTRACED) == pid ? describe(status) : "failed");
    sigchld(1000);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    sigchld(1000);

    int answer[2];
    pipe(answer);
    pid = fork();
    if (pid == 0) {
        signal(SIGTSTP, on_tstp);
        write(ready[1], "r", 1);
        while (!tstp_handled)
            pause_ms(1);
        write(answer[1], "h", 1);
        _exit(0);
    }
    read(ready[0], &c, 1);
    kill(pid, SIGTSTP);
    printf("SIGTSTP with a handler: %s\n", read(answer[0], &c, 1) == 1 ? "handled" : "not handled");
    waitpid(pid, &status, 0);
    printf("  then: %s\n", describe(status));
    sigchld(1000);

    pid = fork();
    if (pid == 0) {
        sigset_t tstp, pending;
        sigemptyset(&tstp);
        sigaddset(&tstp, SIGTSTP);
        sigprocmask(SIG_BLOCK, &tstp, NULL);
        write(ready[1], "r", 1);
        read(answer[0], &c, 1);
        sigpending(&pending);
        char line[8];
        line[0] = sigismember(&pending, SIGTSTP) ? 'y' : 'n';
        write(ready[1], line, 1);
        _exit(0);
    }
    read(ready[0], &c, 1);
    kill(pid, SIGTSTP);
    kill(pid, SIGCONT);
    write(answer[1], "g", 1);
    read(ready[0], &c, 1);
    printf("a blocked SIGTSTP after a SIGCONT: still pending %s\n", c == 'y' ? "yes" : "no");
    waitpid(pid, &status, 0);
    sigchld(1000);
}

static volatile sig_atomic_t chld_calls;
static void on_chld(int sig) {
    (void)sig;
    chld_calls++;
}

static void no_cld_stop(void) {
    drain_sigchld();
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    pause_ms(20);
    int status;
    kill(pid, SIGSTOP);
    waitpid(pid, &status, WUNTRACED);
    kill(pid, SIGCONT);
    waitpid(pid, &status, WCONTINUED);
    pause_ms(50);
    printf("SA_NOCLDSTOP: handler calls after a stop and a continue: %d\n", (int)chld_calls);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    printf("  after its end: %d\n", (int)chld_calls);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_BLOCK, &chld, NULL);
}

static void with_waitid(void) {
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    pause_ms(20);
    siginfo_t info = {0};
    kill(pid, SIGSTOP);
    int r = waitid(P_PID, pid, &info, WSTOPPED | WNOWAIT);
    printf("waitid WSTOPPED|WNOWAIT: %d, %s, status %d\n", r, info.si_code == CLD_STOPPED ? "CLD_STOPPED" : "other",
           info.si_status);
    info = (siginfo_t){0};
    r = waitid(P_PID, pid, &info, WSTOPPED | WNOHANG);
    printf("  again: %d, %s\n", r, info.si_code == CLD_STOPPED ? "CLD_STOPPED" : "none");
    info = (siginfo_t){0};
    r = waitid(P_PID, pid, &info, WSTOPPED | WNOHANG);
    printf("  and again: %d, pid %s\n", r, info.si_pid == 0 ? "0" : "set");
    kill(pid, SIGCONT);
    info = (siginfo_t){0};
    r = waitid(P_PID, pid, &info, WCONTINUED);
    printf("waitid WCONTINUED: %d, %s, status %d\n", r, info.si_code == CLD_CONTINUED ? "CLD_CONTINUED" : "other",
           info.si_status);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    drain_sigchld();
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    counters = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    spinning_threads();
    blocked_in_read();
    blocked_in_nanosleep();
    blocked_in_epoll_and_sigtimedwait();
    terminal_stop();
    no_cld_stop();
    with_waitid();
    return 0;
}
