/* Tests sigaltstack: an SA_ONSTACK handler runs on the alternate stack (SS_ONSTACK reported
 * there), so a stack overflow's SIGSEGV is caught (SEGV_MAPERR) and left by siglongjmp. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "common.h"

#define ALT_SIZE (64 * 1024)

static char *alt;
static sigjmp_buf env;
static volatile int on_alt, reported_onstack, segv_code, usr1_on_alt = -1;
static volatile uintptr_t fault_addr, deepest;

static int on_alt_stack(void *p) {
    return (uintptr_t)p >= (uintptr_t)alt && (uintptr_t)p < (uintptr_t)alt + ALT_SIZE;
}

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    stack_t now;
    int local;

    on_alt = on_alt_stack(&local);
    sigaltstack(NULL, &now);
    reported_onstack = (now.ss_flags & SS_ONSTACK) != 0;
    segv_code = si->si_code;
    fault_addr = (uintptr_t)si->si_addr;
    (void)sig;
    (void)ctx;
    siglongjmp(env, 1);
}

static void on_usr1(int sig) {
    int local;

    usr1_on_alt = on_alt_stack(&local);
    (void)sig;
}

static int recurse(int depth) {
    volatile char buf[1024];

    buf[0] = (char)depth;
    deepest = (uintptr_t)buf;
    if (depth > 1000000000)
        return 0;
    return recurse(depth + 1) + buf[0];
}

int main(void) {
    struct sigaction sa;
    struct rlimit rl;
    stack_t ss, now;

    /* Overflow at Linux's default 8 MiB, whatever the environment says. */
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8 << 20))) {
        rl.rlim_cur = 8 << 20;
        setrlimit(RLIMIT_STACK, &rl);
    }
    alt = malloc(ALT_SIZE);
    ss.ss_sp = alt;
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        printf("sigaltstack: %s\n", errname(errno));
        return 1;
    }
    sigaltstack(NULL, &now);
    printf("alternate stack installed: flags %d, size ok %s\n", now.ss_flags,
           now.ss_sp == alt && now.ss_size == ALT_SIZE ? "yes" : "no");

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("SA_ONSTACK handler on the alternate stack: %s\n", usr1_on_alt ? "yes" : "no");
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("handler without SA_ONSTACK on the alternate stack: %s\n", usr1_on_alt ? "yes" : "no");

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(env, 1) == 0) {
        printf("recursion returned %d?!\n", recurse(0));
        return 1;
    }
    printf("stack overflow caught: on the alternate stack %s, SS_ONSTACK reported %s, %s, fault just below the deepest frame %s\n",
           on_alt ? "yes" : "no", reported_onstack ? "yes" : "no", segv_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other",
           fault_addr < deepest && deepest - fault_addr < 65536 ? "yes" : "no");
    sigaltstack(NULL, &now);
    printf("after siglongjmp: flags %d\n", now.ss_flags);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    sigaltstack(NULL, &now);
    printf("disabled: flags %s\n", now.ss_flags == SS_DISABLE ? "SS_DISABLE" : "other");
    return 0;
}
