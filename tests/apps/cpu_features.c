/* What the app learns about the CPU: the CPUID instruction-set bits a libc picks its code by
 * (string functions, crypto), whether the OS enabled AVX state (OSXSAVE and XCR0), and glibc's
 * or the compiler's verdict. Then it executes AES-NI and AVX2 instructions where reported, so a
 * bit shown without a working instruction would crash. Expected: the host CPU's own answers. */
#include <cpuid.h>
#include <stdio.h>

static int bit(unsigned leaf, unsigned sub, int reg, int b) {
    unsigned r[4] = {0};
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
    return (r[reg] >> b) & 1;
}

int main(void) {
    int osxsave = bit(1, 0, 2, 27);
    unsigned xcr0 = 0;
    if (osxsave) {
        unsigned hi;
        __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(hi) : "c"(0));
    }
    int ymm = osxsave && (xcr0 & 6) == 6;
    printf("sse3 %d ssse3 %d sse4.1 %d sse4.2 %d popcnt %d aes %d pclmul %d\n", bit(1, 0, 2, 0), bit(1, 0, 2, 9),
           bit(1, 0, 2, 19), bit(1, 0, 2, 20), bit(1, 0, 2, 23), bit(1, 0, 2, 25), bit(1, 0, 2, 1));
    printf("avx %d avx2 %d bmi2 %d erms %d sha %d ymm state %d\n", bit(1, 0, 2, 28), bit(7, 0, 1, 5), bit(7, 0, 1, 8),
           bit(7, 0, 1, 9), bit(7, 0, 1, 29), ymm);
    __builtin_cpu_init();
    printf("compiler runtime: avx2 %d aes %d\n", !!__builtin_cpu_supports("avx2"), !!__builtin_cpu_supports("aes"));
    if (bit(1, 0, 2, 25)) {
        __asm__ volatile("aesenc %%xmm1, %%xmm0" ::: "xmm0");
        puts("aesenc executed");
    }
    if (ymm && bit(7, 0, 1, 5)) {
        __asm__ volatile("vpaddd %%ymm1, %%ymm2, %%ymm0\n\tvzeroupper" ::: "xmm0");
        puts("vpaddd ymm executed");
    }
    return 0;
}
