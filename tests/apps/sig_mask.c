/* Tests signal masks: a blocked signal stays pending (sigpending) until unblocked, then runs
 * once before sigprocmask returns; standard signals coalesce, real-time ones queue; several
 * unblocked at once nest (the highest runs first); SIG_IGN discards a pending signal;
 * sigsuspend and sigtimedwait take a pending signal; ppoll and pselect run with their mask
 * (a pending signal it unblocks interrupts them, and the old mask is back after). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common.h"

static volatile int hits[65];
static char order[64];
static volatile int order_len;

static void on_signal(int sig) {
    hits[sig]++;
    if (order_len < (int)sizeof order - 4)
        order_len += snprintf(order + order_len, sizeof order - order_len, "%s ",
                              sig == SIGUSR1 ? "USR1" : sig == SIGUSR2 ? "USR2" : "RT");
}

static void handle(int sig) {
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void mask(int how, int a, int b) {
    sigset_t set;

    sigemptyset(&set);
    if (a)
        sigaddset(&set, a);
    if (b)
        sigaddset(&set, b);
    sigprocmask(how, &set, NULL);
}

static const char *pending_names(void) {
    static char buf[64];
    sigset_t p;

    sigpending(&p);
    snprintf(buf, sizeof buf, "%s%s%s", sigismember(&p, SIGUSR1) ? "USR1 " : "", sigismember(&p, SIGUSR2) ? "USR2 " : "",
             sigismember(&p, SIGRTMIN + 2) ? "RT " : "");
    return buf[0] ? buf : "none";
}

int main(void) {
    int rt = SIGRTMIN + 2, r;
    sigset_t empty, set, now;
    siginfo_t info;
    struct timespec zero = {0, 0};

    handle(SIGUSR1);
    handle(SIGUSR2);
    handle(rt);

    mask(SIG_BLOCK, SIGUSR1, 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    printf("blocked: ran %d, pending %s\n", hits[SIGUSR1], pending_names());
    mask(SIG_UNBLOCK, SIGUSR1, 0);
    printf("unblocked: ran %d, pending %s\n", hits[SIGUSR1], pending_names());

    mask(SIG_BLOCK, rt, 0);
    raise(rt);
    raise(rt);
    raise(rt);
    printf("real-time blocked: ran %d, pending %s\n", hits[rt], pending_names());
    mask(SIG_UNBLOCK, rt, 0);
    printf("real-time unblocked: ran %d (queued, not merged)\n", hits[rt]);

    order_len = 0;
    mask(SIG_BLOCK, SIGUSR1, SIGUSR2);
    raise(SIGUSR2);
    raise(SIGUSR1);
    mask(SIG_UNBLOCK, SIGUSR1, SIGUSR2);
    printf("both unblocked at once, handlers ran: %s\n", order);

    mask(SIG_BLOCK, SIGUSR1, 0);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_IGN);
    printf("SIG_IGN on a pending signal: pending %s\n", pending_names());
    handle(SIGUSR1);
    mask(SIG_UNBLOCK, SIGUSR1, 0);
    printf("unblocked after SIG_IGN: ran %d in all\n", hits[SIGUSR1]);

    mask(SIG_BLOCK, SIGUSR1, 0);
    raise(SIGUSR1);
    sigemptyset(&empty);
    r = sigsuspend(&empty);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("sigsuspend = %d (%s), ran %d in all, SIGUSR1 blocked again %s\n", r, errno == EINTR ? "EINTR" : errname(errno), hits[SIGUSR1],
           sigismember(&now, SIGUSR1) ? "yes" : "no");

    mask(SIG_BLOCK, SIGUSR2, 0);
    raise(SIGUSR2);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    r = sigtimedwait(&set, &info, &zero);
    /* glibc reports raise()'s SI_TKILL as SI_USER here; musl does not. */
    printf("sigtimedwait = %s, si_signo %s, from raise %s, handler not run %s\n", r == SIGUSR2 ? "SIGUSR2" : "other",
           info.si_signo == SIGUSR2 ? "ok" : "WRONG", info.si_code == SI_TKILL || info.si_code == SI_USER ? "yes" : "no",
           hits[SIGUSR2] == 1 ? "yes" : "no");
    r = sigtimedwait(&set, &info, &zero);
    printf("sigtimedwait with nothing pending = %d (%s)\n", r, errno == EAGAIN ? "EAGAIN" : errname(errno));
    zero.tv_nsec = 20 * 1000 * 1000;
    r = sigtimedwait(&set, &info, &zero);
    printf("sigtimedwait for 20 ms = %d (%s)\n", r, errno == EAGAIN ? "EAGAIN" : errname(errno));

    /* SIGUSR1 is blocked and pending: a ppoll whose mask unblocks it is interrupted at once
     * (its handler runs), one whose mask keeps it blocked times out. */
    raise(SIGUSR1);
    int before = hits[SIGUSR1];
    struct timespec second = {1, 0}, short_wait = {0, 10 * 1000 * 1000};
    sigset_t keep;
    sigemptyset(&keep);
    sigaddset(&keep, SIGUSR1);
    r = ppoll(NULL, 0, &short_wait, &keep);
    printf("ppoll keeping SIGUSR1 blocked = %d, handler ran %d\n", r, hits[SIGUSR1] - before);
    r = ppoll(NULL, 0, &second, &empty);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("ppoll unblocking it = %d (%s), handler ran %d, SIGUSR1 blocked again %s\n", r,
           r < 0 ? errname(errno) : "OK", hits[SIGUSR1] - before, sigismember(&now, SIGUSR1) ? "yes" : "no");
    raise(SIGUSR1);
    r = pselect(0, NULL, NULL, NULL, &second, &empty);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("pselect unblocking it = %d (%s), handler ran %d, SIGUSR1 blocked again %s\n", r,
           r < 0 ? errname(errno) : "OK", hits[SIGUSR1] - before, sigismember(&now, SIGUSR1) ? "yes" : "no");
    return 0;
}
