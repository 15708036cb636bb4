/* Tests the vDSO: the auxiliary vector offers it, and clock_gettime, gettimeofday and time
 * agree with each other and move forward (the test harness checks no syscall was made). */
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>

int main(void) {
    printf("vdso offered: %s\n", getauxval(AT_SYSINFO_EHDR) ? "yes" : "no");
    struct timespec mono0, mono1, real;
    struct timeval tv;
    clock_gettime(CLOCK_MONOTONIC, &mono0);
    for (int i = 0; i < 100; i++)
        clock_gettime(CLOCK_MONOTONIC, &mono1);
    clock_gettime(CLOCK_REALTIME, &real);
    gettimeofday(&tv, NULL);
    time_t now = time(NULL);
    long long d = (mono1.tv_sec - mono0.tv_sec) * 1000000000LL + (mono1.tv_nsec - mono0.tv_nsec);
    printf("monotonic moves forward: %s\n", d >= 0 ? "yes" : "no");
    printf("clocks agree: %s\n", (tv.tv_sec - real.tv_sec <= 1 && now - real.tv_sec <= 1 && real.tv_sec > 1700000000) ? "yes" : "no");
    return 0;
}
