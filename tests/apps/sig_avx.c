/* Tests that a signal frame carries the AVX state: the interrupted code's ymm0-15 (upper halves
 * included) survive a handler that clobbers every ymm register, the frame's fpregs is an XSAVE
 * image (UC_FP_XSTATE, FP_XSTATE_MAGIC1, ymm0's upper half at offset 576), and an upper half
 * the handler writes into the frame is what the interrupted code resumes with. Prints one
 * "no AVX" line instead where AVX cannot be used. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

static volatile int handled, xstate_flag, frame_ymm0;
static volatile uint32_t magic1;
static uint8_t in[16][32] __attribute__((aligned(32)));
static uint8_t out[16][32] __attribute__((aligned(32)));
static const uint8_t ones[32] = {[0 ... 31] = 0xff};

static void on_usr1(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;

    handled++;
    xstate_flag = (uc->uc_flags & 1) != 0; /* UC_FP_XSTATE */
    if (fp != NULL) {
        memcpy((void *)&magic1, fp + 464, 4);
        frame_ymm0 = memcmp(fp + 576, &in[0][16], 16) == 0;
        if (magic1 == 0x46505853)
            memset(fp + 576 + 16, 0x77, 16); /* ymm1's upper half, resumed with */
    }
    /* Clobber every ymm register, upper halves included. */
    __asm__ volatile("vmovdqu %0, %%ymm0\n\t"
                     "vmovdqu %%ymm0, %%ymm1\n\tvmovdqu %%ymm0, %%ymm2\n\tvmovdqu %%ymm0, %%ymm3\n\t"
                     "vmovdqu %%ymm0, %%ymm4\n\tvmovdqu %%ymm0, %%ymm5\n\tvmovdqu %%ymm0, %%ymm6\n\t"
                     "vmovdqu %%ymm0, %%ymm7\n\tvmovdqu %%ymm0, %%ymm8\n\tvmovdqu %%ymm0, %%ymm9\n\t"
                     "vmovdqu %%ymm0, %%ymm10\n\tvmovdqu %%ymm0, %%ymm11\n\tvmovdqu %%ymm0, %%ymm12\n\t"
                     "vmovdqu %%ymm0, %%ymm13\n\tvmovdqu %%ymm0, %%ymm14\n\tvmovdqu %%ymm0, %%ymm15\n\t"
                     "vzeroupper"
                     :
                     : "m"(ones)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                       "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    (void)sig;
    (void)si;
}

static sigjmp_buf probe;

static void on_ill(int sig) {
    siglongjmp(probe, sig);
}

/* AVX usable: CPUID says AVX and XCR0 enables SSE and AVX state. CPUID's OSXSAVE bit is not
 * required: under uvm on a PVM host the guest's CPUID reports it clear while XSAVE (the host's
 * XCR0) works, so xgetbv is probed instead, a SIGILL meaning no XSAVE. */
static int has_avx(void) {
    unsigned a, b, c, d;
    volatile unsigned xcr0 = 0;
    struct sigaction sa, old;

    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX))
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_ill;
    sigaction(SIGILL, &sa, &old);
    if (sigsetjmp(probe, 1) == 0) {
        __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
        xcr0 = a;
    }
    sigaction(SIGILL, &old, NULL);
    return (xcr0 & 6) == 6;
}

int main(void) {
    struct sigaction sa;
    long pid = getpid();
    int i, intact = 0, upper_intact = 0, ymm1;
    uint8_t want[16];

    if (!has_avx()) {
        printf("no AVX\n");
        return 0;
    }
    for (i = 0; i < 16; i++)
        for (int j = 0; j < 32; j++)
            in[i][j] = (uint8_t)(i * 32 + j + 1);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGUSR1, &sa, NULL) != 0) {
        printf("sigaction: %s\n", errname(errno));
        return 1;
    }
    /* Load ymm0-15, kill(getpid(), SIGUSR1) with a raw syscall (no library code in between),
     * store ymm0-15. */
#define LOAD(n) "vmovdqu " #n "*32(%[in]), %%ymm" #n "\n\t"
#define STORE(n) "vmovdqu %%ymm" #n ", " #n "*32(%[out])\n\t"
    __asm__ volatile(LOAD(0) LOAD(1) LOAD(2) LOAD(3) LOAD(4) LOAD(5) LOAD(6) LOAD(7) LOAD(8) LOAD(9) LOAD(10)
                         LOAD(11) LOAD(12) LOAD(13) LOAD(14) LOAD(15)
                     "syscall\n\t"
                     STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8) STORE(9)
                         STORE(10) STORE(11) STORE(12) STORE(13) STORE(14) STORE(15)
                     "vzeroupper"
                     : "+a"((long){SYS_kill})
                     : [in] "r"(in), [out] "r"(out), "D"(pid), "S"((long)SIGUSR1)
                     : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    for (i = 0; i < 16; i++) {
        if (i == 1)
            continue;
        intact += memcmp(out[i], in[i], 32) == 0;
        upper_intact += memcmp(&out[i][16], &in[i][16], 16) == 0;
    }
    memset(want, 0x77, 16);
    ymm1 = memcmp(out[1], in[1], 16) == 0 && memcmp(&out[1][16], want, 16) == 0;
    printf("handler ran %d time(s): UC_FP_XSTATE %s, fpregs magic1 %#x, ymm0 upper half in the frame %s\n", handled,
           xstate_flag ? "set" : "clear", (unsigned)magic1, frame_ymm0 ? "yes" : "no");
    printf("after return: ymm0,ymm2-15 intact %d/15 (upper halves %d/15), ymm1 upper half from the frame %s\n", intact,
           upper_intact, ymm1 ? "yes" : "no");
    return 0;
}
