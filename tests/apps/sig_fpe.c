/* Tests SIGFPE: an integer division by zero runs the handler with FPE_INTDIV and si_addr at
 * the divide; once the handler siglongjmps out, once it skips the instruction and returns. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "common.h"

static sigjmp_buf env;
static volatile int mode, fpe_code, hits;
static void *volatile fpe_addr;
static void *volatile div_at;

static void on_fpe(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;

    hits++;
    fpe_code = si->si_code;
    fpe_addr = si->si_addr;
    if (mode == 0)
        siglongjmp(env, 1);
    /* Skip the 2-byte `div %ecx` and make its quotient 42. */
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    uc->uc_mcontext.gregs[REG_RAX] = 42;
    (void)sig;
}

int main(void) {
    struct sigaction sa;
    volatile int zero = 0;
    unsigned quotient;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGFPE, &sa, NULL) != 0) {
        printf("sigaction: %s\n", errname(errno));
        return 1;
    }

    if (sigsetjmp(env, 1) == 0) {
        printf("100/0 = %d?!\n", 100 / zero);
    } else {
        printf("100/0 caught: %s, si_addr %s\n", fpe_code == FPE_INTDIV ? "FPE_INTDIV" : "other",
               fpe_addr != NULL ? "set" : "NULL");
    }

    mode = 1;
    __asm__ volatile("lea 1f(%%rip), %%rdx\n\t"
                     "mov %%rdx, %[at]\n\t"
                     "xor %%edx, %%edx\n\t"
                     "mov $1, %%eax\n\t"
                     "1: div %%ecx\n\t"
                     : "=a"(quotient), [at] "=m"(div_at)
                     : "c"(zero)
                     : "rdx", "memory");
    printf("div by zero skipped: quotient %u, %s, si_addr %s\n", quotient,
           fpe_code == FPE_INTDIV ? "FPE_INTDIV" : "other", fpe_addr == div_at ? "is the div" : "WRONG");
    printf("handler ran %d times\n", hits);
    return 0;
}
