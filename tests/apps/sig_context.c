/* Tests the signal frame's ucontext: a SIGILL handler (ud2) sees ILL_ILLOPN at the
 * instruction and the interrupted registers and FP state; what it changes there (rip, rax,
 * xmm0) is what rt_sigreturn resumes with, and its own FP use does not leak back. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "common.h"

static volatile int ill_code, saw_rax, saw_rbx, saw_xmm0, saw_mxcsr, aligned, fpregs_set;
static void *volatile ill_addr;
static void *volatile ud2_at;

static void on_ill(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    double d;
    uint64_t bits;

    ill_code = si->si_code;
    ill_addr = si->si_addr;
    aligned = ((uintptr_t)__builtin_frame_address(0) % 16) == 0;
    saw_rax = uc->uc_mcontext.gregs[REG_RAX] == 7;
    saw_rbx = uc->uc_mcontext.gregs[REG_RBX] == 0x1234;
    fpregs_set = uc->uc_mcontext.fpregs != NULL;
    if (fpregs_set) {
        memcpy(&bits, &uc->uc_mcontext.fpregs->_xmm[0], 8);
        memcpy(&d, &bits, 8);
        saw_xmm0 = d == 42.5;
        saw_mxcsr = uc->uc_mcontext.fpregs->mxcsr == 0x1f80;
        /* Resume with xmm0 = 99.25. */
        d = 99.25;
        memcpy(&bits, &d, 8);
        memcpy(&uc->uc_mcontext.fpregs->_xmm[0], &bits, 8);
    }
    /* Skip the 2-byte ud2 and change rax. */
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    uc->uc_mcontext.gregs[REG_RAX] = 1234;
    /* Use the FP registers here: the interrupted code must not see it. */
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tpcmpeqd %%xmm1, %%xmm1" ::: "xmm0", "xmm1");
    (void)sig;
}

int main(void) {
    struct sigaction sa;
    uint64_t rax, rbx, xmm0, xmm1;
    double d0, d1;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_ill;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGILL, &sa, NULL) != 0) {
        printf("sigaction: %s\n", errname(errno));
        return 1;
    }
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %[at]\n\t"
                     "mov $0x4045400000000000, %%rax\n\t" /* 42.5 */
                     "movq %%rax, %%xmm0\n\t"
                     "mov $0x4000000000000000, %%rax\n\t" /* 2.0 */
                     "movq %%rax, %%xmm1\n\t"
                     "mov $7, %%rax\n\t"
                     "mov $0x1234, %%rbx\n\t"
                     "1: ud2\n\t"
                     "movq %%xmm0, %[x0]\n\t"
                     "movq %%xmm1, %[x1]\n\t"
                     : "=a"(rax), "=b"(rbx), [x0] "=r"(xmm0), [x1] "=r"(xmm1), [at] "=m"(ud2_at)
                     :
                     : "xmm0", "xmm1", "memory");
    memcpy(&d0, &xmm0, 8);
    memcpy(&d1, &xmm1, 8);
    printf("SIGILL: code %s, si_addr %s\n", ill_code == ILL_ILLOPN ? "ILL_ILLOPN" : "other",
           ill_addr == ud2_at ? "is the ud2" : "WRONG");
    printf("handler saw rax=7 %s, rbx=0x1234 %s, xmm0=42.5 %s, mxcsr=0x1f80 %s, fpregs %s, 16-byte aligned frame %s\n",
           saw_rax ? "yes" : "no", saw_rbx ? "yes" : "no", saw_xmm0 ? "yes" : "no", saw_mxcsr ? "yes" : "no",
           fpregs_set ? "set" : "NULL", aligned ? "yes" : "no");
    printf("after return: rax=%lu rbx=%#lx xmm0=%g xmm1=%g\n", (unsigned long)rax, (unsigned long)rbx, d0, d1);
    return 0;
}
