// Process-directed signals with threads: a kill() that the sender blocks is taken by the thread
// that does not block it, even while it spins in app code without syscalls (the VMM interrupts
// it); a signal every thread blocks is taken by the thread waiting for it in sigwait.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile int got;
static void handler(int s) { got = 1; }
static void *spin(void *a) { while (!got) {} return a; }
static void *waiter(void *a) { sigset_t s; sigemptyset(&s); sigaddset(&s, SIGUSR2); int sig; sigwait(&s, &sig); return (void *)(long)sig; }
int main(void) {
    signal(SIGUSR1, handler);
    sigset_t s; sigemptyset(&s); sigaddset(&s, SIGUSR2); pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_t w; pthread_create(&w, NULL, waiter, NULL);
    pthread_t t; pthread_create(&t, NULL, spin, NULL);
    sigaddset(&s, SIGUSR1); pthread_sigmask(SIG_BLOCK, &s, NULL);  /* main blocks both */
    usleep(20000);
    kill(getpid(), SIGUSR1);   /* only the spinning thread can take it */
    pthread_join(t, NULL);
    kill(getpid(), SIGUSR2);   /* blocked everywhere: the sigwait thread takes it */
    void *r; pthread_join(w, &r);
    printf("spinner took SIGUSR1: yes, sigwait got %ld\n", (long)r);
    return 0;
}
