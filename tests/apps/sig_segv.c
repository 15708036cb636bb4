/* Tests SIGSEGV handlers: SA_SIGINFO with si_addr/si_code (SEGV_MAPERR, SEGV_ACCERR), the
 * trap number in the ucontext, and siglongjmp out of the handler restoring the signal mask. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"

static sigjmp_buf env;
static volatile sig_atomic_t hits;
static void *volatile seen_addr;
static volatile int seen_code, seen_signo, seen_trapno, seen_cr2_matches, blocked_inside, on_main_stack;

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    sigset_t now;
    int local;

    hits++;
    seen_signo = sig == si->si_signo ? sig : -1;
    seen_addr = si->si_addr;
    seen_code = si->si_code;
    seen_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    seen_cr2_matches = (void *)uc->uc_mcontext.gregs[REG_CR2] == si->si_addr;
    sigprocmask(SIG_BLOCK, NULL, &now);
    blocked_inside = sigismember(&now, SIGSEGV);
    /* The frame is on the interrupted stack, just below it (no SA_ONSTACK). */
    on_main_stack = (uintptr_t)&local < (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] &&
                    (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - (uintptr_t)&local < 65536;
    siglongjmp(env, 1);
}

static const char *code_name(int code) {
    switch (code) {
    case SEGV_MAPERR: return "SEGV_MAPERR";
    case SEGV_ACCERR: return "SEGV_ACCERR";
    }
    return "other";
}

static void report(const char *what, void *expected) {
    sigset_t now;

    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("%s: signal %d, %s, si_addr %s, trapno %d, cr2 %s, blocked in handler %s, frame on stack %s, "
           "unblocked after siglongjmp %s\n",
           what, seen_signo, code_name(seen_code), seen_addr == expected ? "ok" : "WRONG", seen_trapno,
           seen_cr2_matches ? "ok" : "WRONG", blocked_inside ? "yes" : "no", on_main_stack ? "yes" : "no",
           sigismember(&now, SIGSEGV) ? "no" : "yes");
}

int main(void) {
    struct sigaction sa;
    long page = sysconf(_SC_PAGESIZE);
    char *ro, *none;
    int *volatile wild = (int *)0x10;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) {
        printf("sigaction: %s\n", errname(errno));
        return 1;
    }
    ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ro == MAP_FAILED || none == MAP_FAILED) {
        printf("mmap: %s\n", errname(errno));
        return 1;
    }

    if (sigsetjmp(env, 1) == 0) {
        *wild = 42;
        printf("wild write did not fault?!\n");
    }
    report("write to 0x10", (void *)0x10);

    if (sigsetjmp(env, 1) == 0) {
        ((volatile char *)ro)[8] = 1;
        printf("write to a read-only page did not fault?!\n");
    }
    report("write to a read-only page", ro + 8);

    if (sigsetjmp(env, 1) == 0) {
        (void)((volatile char *)none)[100];
        printf("read of a PROT_NONE page did not fault?!\n");
    }
    report("read of a PROT_NONE page", none + 100);

    printf("handler ran %d times\n", (int)hits);
    return 0;
}
