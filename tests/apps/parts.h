/* Apps made of parts (fork.c, locks.c): `app PART` runs one, `app` runs them all in order.
 * A part that hangs (a child never reaped, a lock never granted) fails with its name after
 * PART_SECONDS instead of running into the test's timeout, its earlier lines already out
 * (stdout is line-buffered). */
#ifndef PARTS_H
#define PARTS_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PART_SECONDS 20

struct part {
    const char *name;
    void (*run)(void);
};

static const char *current_part;

static inline void on_part_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAILED: no progress for 20 s in part ";
    ssize_t ignored = write(STDOUT_FILENO, msg, sizeof msg - 1);
    ignored += write(STDOUT_FILENO, current_part, strlen(current_part));
    ignored += write(STDOUT_FILENO, "\n", 1);
    (void)ignored;
    _exit(1);
}

/* Runs the part `argv[1]` names, or every part without one; the exit status: 0, 1 when a
 * check failed (`failures`), 2 for an unknown part. */
static inline int run_parts(const struct part *parts, size_t count, int argc, char **argv, const int *failures) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_part_alarm);
    int ran = 0;
    for (size_t i = 0; i < count; i++)
        if (argc < 2 || strcmp(argv[1], parts[i].name) == 0) {
            current_part = parts[i].name;
            alarm(PART_SECONDS);
            parts[i].run();
            alarm(0);
            ran++;
        }
    if (!ran) {
        printf("unknown part: %s\n", argv[1]);
        return 2;
    }
    return *failures ? 1 : 0;
}

#endif
