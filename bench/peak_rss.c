/* Peak RSS of a command, as the kernel accounts it (wait4's ru_maxrss), over N runs.
 * A C launcher because a child forked or spawned from a big process (Python) inherits that
 * process's RSS high-water mark until it execs, which would hide the command's own.
 * Usage: peak_rss N COMMAND [ARGS...]   (the command's stdout goes to /dev/null) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: %s N COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    long *kib = calloc(n, sizeof *kib);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            execvp(argv[2], argv + 2);
            perror(argv[2]);
            _exit(127);
        }
        int status;
        struct rusage usage;
        if (pid < 0 || wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s: run %d failed\n", argv[2], i + 1);
            return 1;
        }
        kib[i] = usage.ru_maxrss;
    }
    qsort(kib, n, sizeof *kib, cmp);
    printf("peak RSS over %d runs: median %ld KiB, min %ld KiB, max %ld KiB\n", n, kib[n / 2], kib[0], kib[n - 1]);
    return 0;
}
