/* Tests time control: `sleep_spin sleep MS` sleeps MS milliseconds (nanosleep) and reports
 * whether at least that long passed; `sleep_spin spin` loops forever without a syscall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        puts("spinning");
        fflush(stdout);
        for (volatile unsigned long i = 0;; i++)
            ;
    }
    long ms = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    long long start = now_ms();
    struct timespec req = {ms / 1000, (ms % 1000) * 1000000L};
    if (nanosleep(&req, NULL) != 0) {
        perror("nanosleep");
        return 1;
    }
    long long took = now_ms() - start;
    printf("slept %s %ld ms\n", took >= ms ? "at least" : "LESS THAN", ms);
    return 0;
}
