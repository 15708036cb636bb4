/* Timers that signal: setitimer(ITIMER_REAL) and alarm. SIGALRM reaches a loop that makes no
 * syscall, a thread parked in pause() or in a read, a periodic timer fires again, alarm and
 * getitimer report what is left, and the timer survives execve.
 *   itimer          the checks, then execve of itself in "after-exec" mode with a timer armed
 *   itimer kill     an armed timer and no handler: SIGALRM ends the app (status 142) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t fired;

static void on_alarm(int sig) {
    (void)sig;
    fired++;
}

static void handle(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked read ends with EINTR */
    sigaction(SIGALRM, &sa, NULL);
}

static void arm(long value_us, long interval_us) {
    struct itimerval it = {{interval_us / 1000000, interval_us % 1000000}, {value_us / 1000000, value_us % 1000000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        handle();
        while (!fired)
            pause();
        printf("the timer survived execve: SIGALRM came\n");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        arm(30000, 0);
        printf("spinning until SIGALRM\n");
        fflush(stdout);
        for (;;)
            __asm__ volatile("" ::: "memory");
    }
    handle();

    arm(50000, 0);
    while (!fired)
        __asm__ volatile("" ::: "memory");
    printf("a one-shot timer reached a loop without syscalls\n");

    fired = 0;
    arm(20000, 20000);
    while (fired < 3)
        pause();
    arm(0, 0);
    struct itimerval now;
    getitimer(ITIMER_REAL, &now);
    printf("a periodic timer fired 3 times, then disarmed: %ld.%06ld left\n", (long)now.it_value.tv_sec,
           (long)now.it_value.tv_usec);

    fired = 0;
    int fds[2];
    pipe(fds);
    arm(30000, 0);
    char byte;
    ssize_t n = read(fds[0], &byte, 1);
    printf("a read waiting on an empty pipe: %zd %s, SIGALRM %s\n", n, n < 0 && errno == EINTR ? "EINTR" : strerror(errno),
           fired ? "came" : "missing");

    arm(2000000, 500000);
    getitimer(ITIMER_REAL, &now);
    long left_ms = now.it_value.tv_sec * 1000 + now.it_value.tv_usec / 1000;
    printf("getitimer: %s, interval %ld.%06ld\n", left_ms > 1900 && left_ms <= 2000 ? "about 2 s left" : "WRONG",
           (long)now.it_interval.tv_sec, (long)now.it_interval.tv_usec);
    arm(0, 0);

    unsigned first = alarm(5);
    unsigned left = alarm(0);
    unsigned none = alarm(0);
    printf("alarm: %u, then %u left, then %u\n", first, left, none);

    fflush(stdout);
    arm(50000, 0);
    char *next[] = {argv[0], "after-exec", NULL};
    execv("/proc/self/exe", next);
    perror("execv");
    return 1;
}
