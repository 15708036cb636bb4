/* Tests signals the app sends itself: raise(SIGUSR1) runs its handler before raise returns,
 * with the signal and sa_mask blocked inside; kill() and tgkill-based raise() fill siginfo
 * (SI_USER / SI_TKILL, pid, uid); SA_NODEFER, SA_RESETHAND, SIG_IGN and ignored defaults;
 * SIGTERM's default action ends it (143). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include "common.h"

static volatile int usr1_hits, usr1_blocked, usr2_blocked_by_mask, info_code, info_pid_ok, info_uid_ok;
static volatile int nodefer_blocked = -1, resethand_hits;

static void on_usr1(int sig) {
    sigset_t now;

    usr1_hits++;
    sigprocmask(SIG_BLOCK, NULL, &now);
    usr1_blocked = sigismember(&now, SIGUSR1);
    usr2_blocked_by_mask = sigismember(&now, SIGUSR2);
    (void)sig;
}

static void on_usr2_info(int sig, siginfo_t *si, void *ctx) {
    info_code = si->si_code;
    info_pid_ok = si->si_pid == getpid();
    info_uid_ok = si->si_uid == getuid();
    (void)sig;
    (void)ctx;
}

static void on_nodefer(int sig) {
    sigset_t now;

    sigprocmask(SIG_BLOCK, NULL, &now);
    nodefer_blocked = sigismember(&now, sig);
}

static void on_resethand(int sig) {
    resethand_hits++;
    (void)sig;
}

static const char *code_name(int code) {
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    }
    return "other";
}

static int set(int sig, void (*handler)(int), int flags, int masked) {
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (masked)
        sigaddset(&sa.sa_mask, masked);
    return sigaction(sig, &sa, NULL);
}

int main(void) {
    struct sigaction sa, old;
    sigset_t now;
    int r;

    if (set(SIGUSR1, on_usr1, 0, SIGUSR2) != 0) {
        printf("sigaction: %s\n", errname(errno));
        return 1;
    }
    printf("raise(SIGUSR1) = %d\n", raise(SIGUSR1));
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("handler ran %d time(s); inside: SIGUSR1 blocked %s, SIGUSR2 (sa_mask) blocked %s; after: unblocked %s\n",
           usr1_hits, usr1_blocked ? "yes" : "no", usr2_blocked_by_mask ? "yes" : "no",
           !sigismember(&now, SIGUSR1) && !sigismember(&now, SIGUSR2) ? "yes" : "no");

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr2_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, NULL);
    r = kill(getpid(), SIGUSR2);
    printf("kill(getpid(), SIGUSR2) = %d: %s, si_pid %s, si_uid %s\n", r, code_name(info_code),
           info_pid_ok ? "ok" : "WRONG", info_uid_ok ? "ok" : "WRONG");
    info_code = -1;
    info_pid_ok = 0;
    raise(SIGUSR2);
    printf("raise(SIGUSR2): %s, si_pid %s\n", code_name(info_code), info_pid_ok ? "ok" : "WRONG");

    set(SIGUSR1, on_nodefer, SA_NODEFER, 0);
    raise(SIGUSR1);
    printf("SA_NODEFER: blocked in its handler %s\n", nodefer_blocked == 1 ? "yes" : nodefer_blocked == 0 ? "no" : "?");

    set(SIGUSR1, on_resethand, SA_RESETHAND, 0);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &old);
    printf("SA_RESETHAND: ran %d time(s), disposition now %s\n", resethand_hits,
           old.sa_handler == SIG_DFL ? "SIG_DFL" : "still the handler");

    signal(SIGUSR1, SIG_IGN);
    r = raise(SIGUSR1);
    printf("ignored SIGUSR1: raise = %d\n", r);
    r = raise(SIGCHLD) | raise(SIGURG) | raise(SIGWINCH) | raise(SIGCONT);
    printf("SIGCHLD, SIGURG, SIGWINCH, SIGCONT (default: ignore): %d\n", r);
    r = kill(0, 0);
    printf("kill(0, 0) = %d, kill(getpid(), 0) = %d\n", r, kill(getpid(), 0));
    printf("rt_sigaction(SIGKILL): %s\n", sigaction(SIGKILL, &sa, NULL) == 0 ? "ok" : errname(errno));
    fflush(stdout);
    raise(SIGTERM);
    printf("still alive after SIGTERM?!\n");
    return 0;
}
