/* Signals from outside: what uvm passes on to the app when it gets SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1 or SIGUSR2. Each mode writes "ready" once its handlers are set; the test
 * then signals uvm.
 *
 *   outside_signal wait    handles TERM, INT, HUP, USR1 (SA_RESTART) while paused: reports
 *                          each with its si_code and si_pid; ends with status 3 after TERM or
 *                          INT, having "cleaned up"
 *   outside_signal spin    the same handler, but the app spins in its own code (no syscall)
 *   outside_signal ignore  ignores TERM and INT, and sleeps
 *   outside_signal read    a SA_RESTART handler for USR1 while it reads a line from stdin:
 *                          the read goes on after the handler, and the line is echoed
 *   outside_signal default sleeps with every default action (a signal ends it)
 *   outside_signal sigwait blocks SIGTERM and waits for it in sigwaitinfo (as daemons that
 *                          handle their signals in a loop do)
 *   outside_signal signalfd blocks SIGTERM and SIGINT and waits for them with epoll on a
 *                          signalfd, then reads one (as container init processes do)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

static volatile sig_atomic_t last_signal, last_code, last_pid, count;

static void on_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    last_signal = sig;
    last_code = info->si_code;
    last_pid = info->si_pid;
    count++;
}

static void say(const char *text) {
    if (write(1, text, strlen(text)) < 0)
        _exit(9);
}

static void handle(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

static void report(void) {
    char line[128];
    snprintf(line, sizeof line, "got signal %d (si_code %s, si_pid %d)\n", (int)last_signal,
             last_code == SI_USER ? "SI_USER" : "other", (int)last_pid);
    say(line);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "wait";
    if (strcmp(mode, "wait") == 0 || strcmp(mode, "spin") == 0) {
        int spin = strcmp(mode, "spin") == 0;
        handle(SIGTERM);
        handle(SIGINT);
        handle(SIGHUP);
        handle(SIGUSR1);
        say("ready\n");
        for (int seen = 0;;) {
            if (spin) {
                while (count == seen)
                    ;
            } else {
                while (count == seen)
                    pause();
            }
            seen = count;
            report();
            if (last_signal == SIGTERM || last_signal == SIGINT) {
                say("cleaned up\n");
                return 3;
            }
        }
    }
    if (strcmp(mode, "ignore") == 0) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        say("ready\n");
        for (;;)
            pause();
    }
    if (strcmp(mode, "read") == 0) {
        handle(SIGUSR1);
        say("ready\n");
        char line[64];
        ssize_t n = read(0, line, sizeof line - 1);
        if (n < 0) {
            perror("read");
            return 1;
        }
        line[n] = 0;
        if (count)
            report();
        printf("read: %s", line);
        return 0;
    }
    if (strcmp(mode, "sigwait") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, NULL);
        say("ready\n");
        siginfo_t info;
        int sig = sigwaitinfo(&set, &info);
        printf("sigwaitinfo: signal %d (si_code %s, si_pid %d)\n", sig, info.si_code == SI_USER ? "SI_USER" : "other",
               (int)info.si_pid);
        return 4;
    }
    if (strcmp(mode, "signalfd") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        int fd = signalfd(-1, &set, SFD_CLOEXEC);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        say("ready\n");
        int n = epoll_wait(ep, &ev, 1, -1);
        struct signalfd_siginfo info;
        ssize_t got = read(fd, &info, sizeof info);
        printf("epoll_wait: %d; signalfd read %zd bytes: signal %u (si_code %s, si_pid %u)\n", n, got, info.ssi_signo,
               info.ssi_code == SI_USER ? "SI_USER" : "other", info.ssi_pid);
        return 5;
    }
    if (strcmp(mode, "default") == 0) {
        say("ready\n");
        for (;;)
            pause();
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
