/* POSIX threads: a counter behind a mutex (4 threads), a bounded queue with condition variables
 * (1 producer, 2 consumers), __thread variables, pthread_join values, detached threads, 200
 * threads one after another, pthread_exit while another thread keeps running, gettid/getpid,
 * a barrier, pthread_kill to one thread, the CPU count; last, main leaves with pthread_exit
 * and the thread left ends the process. Only main (then that last thread) prints, never an id
 * or a time, so the output is the same on every run. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "compat.h"

/* Prints "<what>: <got>"; a value other than `want` is a failure. */
static void report(const char *what, long got, long want) {
    printf("%s: %ld\n", what, got);
    if (got != want) {
        failures++;
        printf("  FAILED: expected %ld\n", want);
    }
}

/* Prints "<what>: yes" or "<what>: no"; "no" is a failure. */
static void yes(const char *what, int cond) {
    printf("%s: %s\n", what, cond ? "yes" : "no");
    if (!cond)
        failures++;
}

static void die(const char *what, int err) {
    printf("%s failed: %s\n", what, err == EAGAIN ? "EAGAIN" : errname(err));
    exit(1);
}

static pthread_t start(void *(*fn)(void *), void *arg) {
    pthread_t t;
    int e = pthread_create(&t, NULL, fn, arg);
    if (e)
        die("pthread_create", e);
    return t;
}

static long join(pthread_t t) {
    void *ret;
    int e = pthread_join(t, &ret);
    if (e)
        die("pthread_join", e);
    return (long)(intptr_t)ret;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits (1 ms naps, at most 10 s) until *v >= want; whether it got there. */
static int wait_for(atomic_int *v, int want) {
    for (int i = 0; i < 10000 && atomic_load(v) < want; i++)
        sleep_ms(1);
    return atomic_load(v) >= want;
}

/* ---- a counter behind a mutex */
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count_up(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        pthread_mutex_unlock(&counter_lock);
    }
    return NULL;
}

/* ---- a bounded queue: 1 producer, 2 consumers */
#define QUEUE_CAP 8
#define ITEMS 10000
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER, q_not_full = PTHREAD_COND_INITIALIZER;
static long q_items[QUEUE_CAP];
static int q_head, q_len, q_max_len, q_done;

static void *produce(void *arg) {
    (void)arg;
    for (long v = 1; v <= ITEMS; v++) {
        pthread_mutex_lock(&q_lock);
        while (q_len == QUEUE_CAP)
            pthread_cond_wait(&q_not_full, &q_lock);
        q_items[(q_head + q_len++) % QUEUE_CAP] = v;
        if (q_len > q_max_len)
            q_max_len = q_len;
        pthread_cond_signal(&q_not_empty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    q_done = 1;
    pthread_cond_broadcast(&q_not_empty);
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

struct consumed {
    long count, sum;
};

static void *consume(void *arg) {
    struct consumed *c = arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && !q_done)
            pthread_cond_wait(&q_not_empty, &q_lock);
        if (q_len == 0) {
            pthread_mutex_unlock(&q_lock);
            return NULL;
        }
        long v = q_items[q_head];
        q_head = (q_head + 1) % QUEUE_CAP;
        q_len--;
        pthread_cond_signal(&q_not_full);
        pthread_mutex_unlock(&q_lock);
        c->count++;
        c->sum += v;
    }
}

/* ---- __thread variables */
static __thread int tls_value = 7;
static atomic_int tls_ready;
static int *tls_addr[4];

static void *tls_worker(void *arg) {
    int id = (int)(intptr_t)arg;
    int initial = tls_value;
    tls_value = 100 + id;
    tls_addr[id] = &tls_value;
    atomic_fetch_add(&tls_ready, 1);
    while (atomic_load(&tls_ready) < 4) /* every thread has written its own before any reads */
        sched_yield();
    return (void *)(intptr_t)(initial == 7 && tls_value == 100 + id);
}

/* ---- join values and detached threads */
static void *square(void *arg) {
    long i = (long)(intptr_t)arg;
    return (void *)(intptr_t)(i * i);
}

static sem_t detached_done;

static void *detached_worker(void *arg) {
    (void)arg;
    sleep_ms(2);
    sem_post(&detached_done);
    return NULL;
}

static void *plus_one(void *arg) {
    return (void *)((intptr_t)arg + 1);
}

/* ---- pthread_exit while another thread keeps running */
static atomic_int early_joined;
static int cleanup_ran;

static void note_cleanup(void *arg) {
    (void)arg;
    cleanup_ran = 1;
}

static void leave_early(void) {
    pthread_exit((void *)123);
}

static void *exits_early(void *arg) {
    (void)arg;
    pthread_cleanup_push(note_cleanup, NULL);
    leave_early();
    pthread_cleanup_pop(0);
    return NULL; /* not reached */
}

static void *keeps_running(void *arg) {
    (void)arg;
    if (!wait_for(&early_joined, 1))
        return (void *)-1;
    long sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += i;
    return (void *)(intptr_t)sum;
}

/* ---- gettid and getpid */
struct ids {
    long tid, pid;
};
static atomic_int ids_recorded, ids_go;

static void *record_ids(void *arg) {
    struct ids *ids = arg;
    ids->tid = syscall(SYS_gettid);
    ids->pid = getpid();
    atomic_fetch_add(&ids_recorded, 1);
    wait_for(&ids_go, 1); /* both threads alive at once: their tids cannot be the same */
    return NULL;
}

/* ---- a barrier of 3 threads, 3 rounds */
static pthread_barrier_t barrier;
static atomic_int arrivals, serials, saw_all, barrier_errors;

static void *barrier_worker(void *arg) {
    (void)arg;
    for (int round = 1; round <= 3; round++) {
        atomic_fetch_add(&arrivals, 1);
        int r = pthread_barrier_wait(&barrier);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD)
            atomic_fetch_add(&serials, 1);
        else if (r != 0)
            atomic_fetch_add(&barrier_errors, 1);
        if (atomic_load(&arrivals) == 3 * round)
            atomic_fetch_add(&saw_all, 1);
        pthread_barrier_wait(&barrier); /* nobody starts the next round before all have looked */
    }
    return NULL;
}

/* ---- pthread_kill to one thread */
static __thread int my_label; /* 0: main, 1: bystander, 2: target */
static __thread volatile sig_atomic_t got_usr1;
static volatile sig_atomic_t handler_label = -1;
static atomic_int target_ready, signal_done;

static void on_usr1(int sig) {
    (void)sig;
    got_usr1 = 1;
    handler_label = my_label;
}

static void *signal_target(void *arg) {
    (void)arg;
    my_label = 2;
    atomic_store(&target_ready, 1);
    for (int i = 0; i < 10000 && !got_usr1; i++)
        sleep_ms(1);
    return (void *)(intptr_t)got_usr1;
}

static void *bystander(void *arg) {
    (void)arg;
    my_label = 1;
    wait_for(&signal_done, 1);
    return (void *)(intptr_t)got_usr1;
}

/* ---- main leaves with pthread_exit; this thread finishes the program */
static pthread_t main_thread;

static void *finisher(void *arg) {
    (void)arg;
    report("main called pthread_exit(77); a thread joining main got", join(main_thread), 77);
    exit(finish());
}

static atomic_int gate;
static void *gated(void *arg) {
    while (!atomic_load(&gate))
        sched_yield();
    return arg;
}

/* The "Threads:" count of /proc/self/status (-1 if missing). */
static int status_threads(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* a hang or a crash still shows how far it got */
    pthread_t t[8];

    for (int i = 0; i < 4; i++)
        t[i] = start(count_up, NULL);
    for (int i = 0; i < 4; i++)
        join(t[i]);
    report("mutex: 4 threads x 100000 increments, counter", counter, 400000);

    struct consumed c[2] = {{0, 0}, {0, 0}};
    t[0] = start(produce, NULL);
    t[1] = start(consume, &c[0]);
    t[2] = start(consume, &c[1]);
    for (int i = 0; i < 3; i++)
        join(t[i]);
    report("condvar queue (8 slots, 1 producer, 2 consumers): items consumed", c[0].count + c[1].count, ITEMS);
    report("condvar queue: sum of the items", c[0].sum + c[1].sum, (long)ITEMS * (ITEMS + 1) / 2);
    yes("condvar queue: never held more than 8", q_max_len <= QUEUE_CAP);

    tls_value = 42;
    int tls_ok = 1;
    for (int i = 0; i < 4; i++)
        t[i] = start(tls_worker, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++)
        tls_ok &= join(t[i]) == 1;
    yes("__thread: 4 threads each saw the initial 7, then read back their own value", tls_ok);
    int distinct = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            distinct &= i == j || tls_addr[i] != tls_addr[j];
    yes("__thread: each thread's variable is its own", distinct && tls_addr[0] != &tls_value);
    yes("__thread: main's value unchanged (42)", tls_value == 42);

    for (int i = 0; i < 4; i++)
        t[i] = start(square, (void *)(intptr_t)(i + 1));
    printf("pthread_join values:");
    for (int i = 0; i < 4; i++)
        printf(" %ld", join(t[i]));
    printf("\n");

    sem_init(&detached_done, 0, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int detached = 0;
    for (int i = 0; i < 4; i++) {
        pthread_t d;
        int e = pthread_create(&d, i < 2 ? &attr : NULL, detached_worker, NULL);
        if (e)
            die("pthread_create (detached)", e);
        if (i >= 2 && (e = pthread_detach(d)) != 0)
            die("pthread_detach", e);
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    while (detached < 4 && sem_timedwait(&detached_done, &deadline) == 0)
        detached++;
    report("detached threads (2 created detached, 2 pthread_detach'ed) that finished", detached, 4);

    long sum = 0;
    for (int i = 0; i < 200; i++)
        sum += join(start(plus_one, (void *)(intptr_t)i));
    report("200 threads created and joined one after another, sum of their results", sum, 20100);

    t[0] = start(exits_early, NULL);
    t[1] = start(keeps_running, NULL);
    report("pthread_exit(123) from a nested call, value at pthread_join", join(t[0]), 123);
    yes("pthread_exit ran the cleanup handler", cleanup_ran);
    atomic_store(&early_joined, 1);
    report("the other thread kept running after it and returned", join(t[1]), 499500);

    struct ids ids[2];
    for (int i = 0; i < 2; i++)
        t[i] = start(record_ids, &ids[i]);
    wait_for(&ids_recorded, 2);
    atomic_store(&ids_go, 1);
    join(t[0]);
    join(t[1]);
    long main_tid = syscall(SYS_gettid), pid = getpid();
    yes("main: gettid() == getpid()", main_tid == pid);
    int tids_differ = ids[0].tid > 0 && ids[1].tid > 0 && ids[0].tid != ids[1].tid;
    yes("threads: gettid() differs from main's and from each other",
        tids_differ && ids[0].tid != main_tid && ids[1].tid != main_tid);
    yes("threads: getpid() is main's", ids[0].pid == pid && ids[1].pid == pid);

    pthread_barrier_init(&barrier, NULL, 3);
    for (int i = 0; i < 3; i++)
        t[i] = start(barrier_worker, NULL);
    for (int i = 0; i < 3; i++)
        join(t[i]);
    yes("barrier (3 threads, 3 rounds): every thread saw all 3 arrivals in every round", saw_all == 9);
    yes("barrier: one PTHREAD_BARRIER_SERIAL_THREAD per round, 0 for the others", serials == 3 && barrier_errors == 0);
    pthread_barrier_destroy(&barrier);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    t[0] = start(bystander, NULL);
    t[1] = start(signal_target, NULL);
    wait_for(&target_ready, 1);
    int e = pthread_kill(t[1], SIGUSR1);
    if (e)
        die("pthread_kill", e);
    yes("pthread_kill(SIGUSR1) to a thread napping in nanosleep: its handler ran", join(t[1]) == 1);
    atomic_store(&signal_done, 1);
    yes("the handler ran in the target thread", handler_label == 2);
    yes("not in main nor in the other thread", join(t[0]) == 0 && got_usr1 == 0);

    for (int i = 0; i < 3; i++)
        t[i] = start(gated, NULL);
    int while_running = status_threads();
    atomic_store(&gate, 1);
    for (int i = 0; i < 3; i++)
        join(t[i]);
    /* Linux wakes a joiner as the thread clears its id, before its task has left the
     * group: the count may lag for a moment (seen natively, 1 run in ~100). Up to 1 s. */
    int after = status_threads();
    for (int i = 0; i < 1000 && after != 1; i++) {
        usleep(1000);
        after = status_threads();
    }
    yes("/proc/self/status Threads: 4 with 3 threads running, 1 after they ended",
        while_running == 4 && after == 1);

    yes("sysconf(_SC_NPROCESSORS_ONLN) >= 1", sysconf(_SC_NPROCESSORS_ONLN) >= 1);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    yes("sched_getaffinity: CPU_COUNT >= 1", sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) >= 1);

    main_thread = pthread_self();
    start(finisher, NULL);
    pthread_exit((void *)77);
}
