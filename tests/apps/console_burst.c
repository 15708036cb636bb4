/* Many small writes to stdout and stderr, each its own write(2) (what a service that logs a
 * line per request does): past the first few they go through the console ring, without an
 * exit each. Modes (argv[1]):
 *   interleave N   N rounds of "out i" to stdout, then "err i" to stderr
 *   crash N        N lines to stdout, then a segfault
 *   endless        lines to stdout until a write fails (SIGPIPE ends it first by default)
 *   ignore N       N lines to stdout, failures counted, not fatal; the count to stderr
 *   prompt N       N lines to stdout, a prompt without a newline, then one line read from
 *                  stdin and echoed
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(int fd, const char *what, long i) {
    char line[64];
    int len = snprintf(line, sizeof line, "%s %ld\n", what, i);
    if (write(fd, line, (size_t)len) != len) {
        perror("write");
        exit(1);
    }
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "interleave";
    long n = argc > 2 ? atol(argv[2]) : 1000;
    if (strcmp(mode, "interleave") == 0) {
        for (long i = 0; i < n; i++) {
            put(1, "out", i);
            put(2, "err", i);
        }
        return 0;
    }
    if (strcmp(mode, "crash") == 0) {
        for (long i = 0; i < n; i++)
            put(1, "line", i);
        raise(SIGSEGV);
        return 2;
    }
    if (strcmp(mode, "endless") == 0) {
        for (long i = 0;; i++)
            put(1, "line", i);
    }
    if (strcmp(mode, "ignore") == 0) {
        long failed = 0;
        for (long i = 0; i < n; i++) {
            char line[64];
            int len = snprintf(line, sizeof line, "line %ld\n", i);
            if (write(1, line, (size_t)len) != len)
                failed++;
        }
        fprintf(stderr, "failed writes: %ld\n", failed);
        return 0;
    }
    if (strcmp(mode, "prompt") == 0) {
        for (long i = 0; i < n; i++)
            put(1, "line", i);
        const char prompt[] = "name? ";
        if (write(1, prompt, sizeof prompt - 1) != (ssize_t)(sizeof prompt - 1))
            return 1;
        char name[64];
        ssize_t got = read(0, name, sizeof name);
        if (got <= 0)
            return 1;
        if (write(1, name, (size_t)got) != got)
            return 1;
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
