/* POSIX timers (timer_create and friends): a NULL sigevent (SIGALRM, SI_TIMER),
 * a signal that reaches an app spinning in its own code, a periodic timer, an absolute
 * CLOCK_REALTIME time, a timer aimed at one thread (SIGEV_THREAD_ID), the C library's
 * SIGEV_THREAD (a function run in a thread), gettime, getoverrun and delete, the calls
 * refused; and a blocked timer signal taken by sigwaitinfo. Prints facts only (no times that differ by run). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static volatile sig_atomic_t count, last_code, last_value, last_signo;

static void on_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    last_signo = sig;
    last_code = info->si_code;
    last_value = info->si_value.sival_int;
    count++;
}

static void handle(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(sig, &sa, NULL);
}

static long long now_ms(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void arm(timer_t t, int flags, long value_ms, long interval_ms) {
    struct itimerspec it = {{interval_ms / 1000, (interval_ms % 1000) * 1000000L},
                            {value_ms / 1000, (value_ms % 1000) * 1000000L}};
    timer_settime(t, flags, &it, NULL);
}

/* Spins in app code (the vDSO's clock, no syscall) until `count` reaches `want` or 3 s pass. */
static int spin_until(int want) {
    long long start = now_ms(CLOCK_MONOTONIC);
    while (count < want)
        if (now_ms(CLOCK_MONOTONIC) - start > 3000)
            return 0;
    return 1;
}

static const char *yes(int ok) {
    return ok ? "yes" : "no";
}

static volatile pid_t target_tid;
static volatile int thread_got;

static void *waiter(void *arg) {
    (void)arg;
    target_tid = (pid_t)syscall(SYS_gettid);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    siginfo_t info;
    if (sigwaitinfo(&set, &info) == SIGRTMIN + 3)
        thread_got = info.si_code == SI_TIMER && info.si_value.sival_int == 77;
    return NULL;
}

static volatile int function_ran;

static void timer_function(union sigval value) {
    function_ran = value.sival_int;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    long bad = syscall(SYS_timer_delete, 12345);
    printf("timer_delete of no timer: %ld %s\n", bad, bad ? errname(errno) : "");
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 65;
    int raw_id;
    bad = syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &raw_id);
    printf("signal 65: %ld %s\n", bad, bad ? errname(errno) : "");
    sev.sigev_signo = SIGUSR1;
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_notify_thread_id = 999999;
    bad = syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &raw_id);
    printf("a thread of another process: %ld %s\n", bad, bad ? errname(errno) : "");

    /* NULL sigevent: SIGALRM with the timer's id as its value. */
    handle(SIGALRM);
    timer_t alarm_timer;
    timer_create(CLOCK_MONOTONIC, NULL, &alarm_timer);
    arm(alarm_timer, 0, 20, 0);
    while (count < 1)
        pause();
    printf("NULL sigevent: SIGALRM %s, SI_TIMER %s\n", yes(last_signo == SIGALRM), yes(last_code == SI_TIMER));
    timer_delete(alarm_timer);

    /* A signal reaches an app spinning in its own code. */
    handle(SIGUSR1);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 42;
    timer_t t;
    timer_create(CLOCK_MONOTONIC, &sev, &t);
    count = 0;
    arm(t, 0, 30, 0);
    int reached = spin_until(1);
    printf("one-shot, spinning: reached %s, SIGUSR1 %s, value %d\n", yes(reached), yes(last_signo == SIGUSR1),
           (int)last_value);
    printf("timer_getoverrun: %d\n", timer_getoverrun(t));

    /* Periodic: three signals while spinning; gettime; delete. */
    count = 0;
    arm(t, 0, 10, 10);
    printf("periodic, spinning: 3 signals %s\n", yes(spin_until(3)));
    struct itimerspec cur;
    timer_gettime(t, &cur);
    printf("gettime: interval 10 ms %s, 0 < left <= 10 ms %s\n", yes(cur.it_interval.tv_nsec == 10000000),
           yes(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10000000));
    arm(t, 0, 0, 0);
    timer_gettime(t, &cur);
    printf("disarmed: %ld.%09ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_nsec);
    printf("timer_delete: %d\n", timer_delete(t));

    /* An absolute CLOCK_REALTIME time 30 ms ahead. */
    timer_t real;
    sev.sigev_value.sival_int = 7;
    timer_create(CLOCK_REALTIME, &sev, &real);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long start = now_ms(CLOCK_MONOTONIC);
    wall.tv_nsec += 30000000L;
    if (wall.tv_nsec >= 1000000000L) {
        wall.tv_sec++;
        wall.tv_nsec -= 1000000000L;
    }
    struct itimerspec at = {{0, 0}, wall};
    count = 0;
    timer_settime(real, TIMER_ABSTIME, &at, NULL);
    while (count < 1)
        pause();
    printf("absolute realtime: value %d, after its time %s\n", (int)last_value,
           yes(now_ms(CLOCK_MONOTONIC) - start >= 29));
    timer_delete(real);

    /* SIGEV_THREAD_ID: the signal goes to that thread (which waits for it in sigwaitinfo). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t th;
    pthread_create(&th, NULL, waiter, NULL);
    while (!target_tid)
        sched_yield();
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN + 3;
    sev.sigev_value.sival_int = 77;
    sev.sigev_notify_thread_id = target_tid;
    timer_t aimed;
    printf("SIGEV_THREAD_ID: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &aimed));
    arm(aimed, 0, 20, 0);
    pthread_join(th, NULL);
    printf("a thread-directed timer reached its thread: %s\n", yes(thread_got));
    timer_delete(aimed);

    /* SIGEV_THREAD: the C library runs the function in a thread of its own. */
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = timer_function;
    sev.sigev_value.sival_int = 5;
    timer_t threaded;
    printf("SIGEV_THREAD: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &threaded));
    arm(threaded, 0, 20, 0);
    for (int i = 0; i < 300 && !function_ran; i++) {
        struct timespec nap = {0, 10000000L};
        nanosleep(&nap, NULL);
    }
    printf("its function ran: value %d\n", function_ran);

    /* A timer's signal, blocked, taken by sigwaitinfo in the only thread that could take it
     * (the wait itself must look at the timer: nobody else will). */
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct itimerval itv = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &itv, NULL);
    siginfo_t info;
    printf("sigwaitinfo of a blocked SIGALRM from setitimer: %s\n", yes(sigwaitinfo(&set, &info) == SIGALRM));
    return 0;
}
