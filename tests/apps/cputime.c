/* CPU time: a thread that computes uses CPU time, one that sleeps does not (nor while it still
 * sleeps), and the process's
 * is its threads' together, ended ones included; times, getrusage and /proc/self/stat agree
 * with clock_gettime; a child's time is its parent's children's time once waited for (wait4's
 * rusage, RUSAGE_CHILDREN, times). Prints facts only. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static long long clock_ns(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Computes until this thread has used `ms` of CPU time. */
static void compute(long long ms) {
    volatile unsigned long sink = 0;
    while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < ms * MS)
        for (int i = 0; i < 10000; i++)
            sink += i;
}

static void *worker(void *arg) {
    (void)arg;
    compute(100);
    return NULL;
}

static void *sleeper(void *arg) {
    (void)arg;
    struct timespec nap = {0, 400 * MS};
    nanosleep(&nap, NULL);
    return NULL;
}

static const char *yes(int ok) {
    return ok ? "yes" : "no";
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    compute(100);
    long long before_sleep = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    struct timespec nap = {0, 300 * MS};
    nanosleep(&nap, NULL);
    long long after_sleep = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    printf("computing 100 ms is CPU time: %s\n", yes(before_sleep >= 100 * MS));
    printf("sleeping 300 ms is not: %s\n", yes(after_sleep - before_sleep < 150 * MS));

    /* Another thread's sleep in progress is not CPU time either (read while it sleeps). */
    pthread_t s;
    pthread_create(&s, NULL, sleeper, NULL);
    nanosleep(&(struct timespec){0, 200 * MS}, NULL);
    long long during = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    printf("nor another thread's sleep, while it sleeps: %s\n", yes(during - after_sleep < 100 * MS));
    pthread_join(s, NULL);

    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    long long process = clock_ns(CLOCK_PROCESS_CPUTIME_ID), thread = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    printf("an ended thread's 100 ms count for the process: %s\n", yes(process >= 200 * MS));
    printf("but not for the main thread: %s\n", yes(thread < process - 90 * MS));

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long rusage_ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                          (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    printf("getrusage agrees: %s\n", yes(rusage_ns >= 190 * MS && rusage_ns < process + 150 * MS));
    struct tms tm;
    times(&tm);
    long ticks = sysconf(_SC_CLK_TCK);
    /* Each field is truncated to whole ticks (or microseconds): allow for it. */
    long long times_ms = (long long)(tm.tms_utime + tm.tms_stime) * 1000 / ticks;
    printf("times agrees: %s\n", yes(times_ms >= 180 && times_ms < process / MS + 150));
    FILE *f = fopen("/proc/self/stat", "r");
    char line[1024] = {0};
    if (!f || !fgets(line, sizeof line, f))
        return 1;
    fclose(f);
    /* Fields 14 and 15 (utime, stime), counted after the command name's closing ')'. */
    char *p = strrchr(line, ')');
    long utime = 0, stime = 0;
    for (int field = 3; p && field <= 15; field++) {
        p = strchr(p + 1, ' ');
        if (p && field == 14)
            utime = strtol(p + 1, NULL, 10);
        if (p && field == 15)
            stime = strtol(p + 1, NULL, 10);
    }
    long long stat_ms = (long long)(utime + stime) * 1000 / ticks;
    printf("/proc/self/stat agrees: %s\n", yes(stat_ms >= 180 && stat_ms < process / MS + 150));

    getrusage(RUSAGE_CHILDREN, &ru);
    printf("no child yet: %s\n", yes(ru.ru_utime.tv_sec == 0 && ru.ru_utime.tv_usec == 0));
    pid_t child = fork();
    if (child == 0) {
        compute(100);
        _exit(0);
    }
    int status;
    struct rusage child_ru;
    wait4(child, &status, 0, &child_ru);
    long long child_ms = child_ru.ru_utime.tv_sec * 1000LL + child_ru.ru_utime.tv_usec / 1000 +
                         child_ru.ru_stime.tv_sec * 1000LL + child_ru.ru_stime.tv_usec / 1000;
    printf("wait4's rusage has the child's 100 ms: %s\n", yes(child_ms >= 90 && child_ms < 250));
    getrusage(RUSAGE_CHILDREN, &ru);
    long long children_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL +
                            (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
    printf("RUSAGE_CHILDREN too: %s\n", yes(children_ms >= 90 && children_ms < 250));
    times(&tm);
    long long ctimes_ms = (long long)(tm.tms_cutime + tm.tms_cstime) * 1000 / ticks;
    printf("times' children too: %s\n", yes(ctimes_ms >= 80 && ctimes_ms < 250));
    return 0;
}
