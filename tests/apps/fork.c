/* More than one process: fork (copies of memory, fds shared as open file descriptions), the
 * wait family, children's deaths by signal, SIGCHLD, execve and posix_spawn in a child, vfork,
 * orphans, process groups and sessions, and many children. Only the parent prints (children
 * report through pipes and exit statuses), and never a pid: relations such as
 * `ppid==parent 1` (1 true, 0 false), so the output is Linux's under any pids.
 *
 *   fork              every part below, in this order, in one process
 *   fork PART         one part: fork pipe wait signals fds exec orphan pgroup many reuse big
 *                     sibling sigchld
 *   fork hello-child  prints its argv and exits 3 (what the exec part runs in a child)
 *   fork fd-check C K R
 *                     run by execve in the fds part's child: writes to fd R whether fd C
 *                     (close-on-exec) was closed and fd K (not) kept
 *
 * Exits 0 only if every check passed; a failed check prints a FAILED line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"
#include "parts.h"
#include "pipe_io.h"

#define SELF "/proc/self/exe"

extern char **environ;

static int failures;

/* Counts and reports a failed check (with errno's name, which may be stale). */
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            failures++;                                                                      \
            printf("FAILED at line %d: %s (errno %s)\n", __LINE__, #cond, errname(errno));   \
        }                                                                                    \
    } while (0)

/* fork, after flushing stdout (a child must not print the parent's buffered lines again). */
static pid_t xfork(const char *what) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        failures++;
        printf("%s: fork FAILED %s\n", what, errname(errno));
    }
    return pid;
}

/* waitpid that goes on after EINTR (the SIGCHLD handler's). */
static pid_t xwaitpid(pid_t pid, int *status, int options) {
    pid_t r;
    do
        r = waitpid(pid, status, options);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Reaps `pid`, checking that it was that child; its status. */
static int reap(pid_t pid) {
    int status = -1;
    pid_t r = xwaitpid(pid, &status, 0);
    CHECK(r == pid);
    return status;
}

/* How a wait status reads. */
static const char *describe(int status) {
    static char buf[64];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "WIFEXITED 1 WEXITSTATUS %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "WIFSIGNALED 1 WTERMSIG %d", WTERMSIG(status));
    else
        snprintf(buf, sizeof buf, "neither exited nor signaled: 0x%x", status);
    return buf;
}


/* A child's findings: `n` ints through a pipe. */
static void send_ints(int fd, const int *v, int n) { write_all(fd, v, sizeof(int) * (size_t)n); }

static int recv_ints(int fd, int *v, int n) {
    memset(v, 0, sizeof(int) * (size_t)n);
    return read_full(fd, v, sizeof(int) * (size_t)n) == sizeof(int) * (size_t)n;
}

/* ---------------------------------------------------------------- fork */

static int data_var = 1;

static void part_fork(void) {
    int heap_before = 10;
    int *heap = malloc(sizeof *heap);
    *heap = heap_before;
    int stack_var = 100;
    pid_t parent = getpid();
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t pid = xfork("fork");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        int seen[4] = {getpid(), getpid() != parent, getppid() == parent, 0};
        data_var = 2;
        *heap = 20;
        stack_var = 200;
        char go;
        read_full(down[0], &go, 1); /* the parent has written its own copies */
        seen[3] = data_var == 2 && *heap == 20 && stack_var == 200;
        send_ints(up[1], seen, 4);
        _exit(7);
    }
    close(up[1]);
    close(down[0]);
    /* The child waits for "g": its /proc directory names it and its parent. */
    char path[64], text[512] = {0};
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int statfd = open(path, O_RDONLY);
    ssize_t got = statfd >= 0 ? read(statfd, text, sizeof text - 1) : -1;
    int stat_pid = 0, stat_ppid = 0;
    char state = 0;
    int fields = got > 0 ? sscanf(text, "%d (%*[^)]) %c %d", &stat_pid, &state, &stat_ppid) : 0;
    if (statfd >= 0)
        close(statfd);
    printf("fork: /proc/PID/stat of the child names it %d and its parent %d\n", fields == 3 && stat_pid == pid,
           fields == 3 && stat_ppid == getpid());
    CHECK(fields == 3 && stat_pid == pid && stat_ppid == getpid());
    data_var = 3;
    *heap = 30;
    stack_var = 300;
    write_all(down[1], "g", 1);
    int seen[4];
    CHECK(recv_ints(up[0], seen, 4));
    close(up[0]);
    close(down[1]);
    printf("fork: pid!=parent %d, ppid==parent %d, fork returned the child's pid %d\n", seen[1], seen[2],
           seen[0] == pid);
    printf("fork: the child's copies kept its writes, not the parent's %d\n", seen[3]);
    printf("fork: the parent's copies kept its writes, not the child's %d\n",
           data_var == 3 && *heap == 30 && stack_var == 300);
    CHECK(seen[1] && seen[2] && seen[0] == pid && seen[3]);
    int status = reap(pid);
    printf("fork: waitpid %s\n", describe(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    errno = 0;
    pid_t again = waitpid(pid, &status, 0);
    printf("fork: second waitpid %d %s\n", again, errname(errno));
    CHECK(again == -1 && errno == ECHILD);
    free(heap);

    /* MAP_SHARED memory (anonymous, and of a /dev/shm file) is the same memory in both. */
    int *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int shm = open("/dev/shm/fork-test", O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(anon != MAP_FAILED && shm >= 0 && ftruncate(shm, 4096) == 0);
    int *file = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    int *private = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(file != MAP_FAILED && private != MAP_FAILED);
    anon[0] = file[0] = private[0] = 1;
    pid = xfork("fork");
    if (pid == 0) {
        anon[0] = file[0] = private[0] = 2;
        anon[1] = 5;
        _exit(0);
    }
    status = reap(pid);
    printf("fork: the child's writes to MAP_SHARED memory show in the parent: anonymous %d, a /dev/shm file %d; "
           "to MAP_PRIVATE memory not %d\n",
           anon[0] == 2 && anon[1] == 5, file[0] == 2, private[0] == 1);
    CHECK(anon[0] == 2 && file[0] == 2 && private[0] == 1);
    unlink("/dev/shm/fork-test");
    close(shm);

    /* A process-shared semaphore in MAP_SHARED memory: the child blocks in sem_wait (a
     * futex wait on that memory) until the parent's sem_post wakes it. */
    sem_t *sem = mmap(NULL, sizeof *sem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int woke[2];
    CHECK(sem != MAP_FAILED && sem_init(sem, 1, 0) == 0 && pipe(woke) == 0);
    pid = xfork("fork");
    if (pid == 0) {
        close(woke[0]);
        int waited = sem_wait(sem) == 0;
        write_all(woke[1], &waited, sizeof waited);
        _exit(0);
    }
    close(woke[1]);
    struct pollfd early = {.fd = woke[0], .events = POLLIN};
    int blocked = poll(&early, 1, 100) == 0;
    CHECK(sem_post(sem) == 0);
    int waited = 0;
    int reported = read_full(woke[0], &waited, sizeof waited) == sizeof waited;
    close(woke[0]);
    reap(pid);
    printf("fork: a process-shared semaphore: the child waited 100 ms %d, then the parent's sem_post woke it %d\n",
           blocked, reported && waited);
    CHECK(blocked && reported && waited);

    /* A process-shared robust mutex whose owner (a child) ends while the parent waits for
     * it: the parent gets it with EOWNERDEAD. */
    pthread_mutex_t *mutex = mmap(NULL, sizeof *mutex, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int locked[2];
    CHECK(mutex != MAP_FAILED && pthread_mutex_init(mutex, &attr) == 0 && pipe(locked) == 0);
    pid = xfork("fork");
    if (pid == 0) {
        close(locked[0]);
        int ok = pthread_mutex_lock(mutex) == 0;
        write_all(locked[1], &ok, sizeof ok);
        usleep(100000); /* the parent is blocked in pthread_mutex_lock by then */
        _exit(0);
    }
    close(locked[1]);
    int child_locked = 0;
    CHECK(read_full(locked[0], &child_locked, sizeof child_locked) == sizeof child_locked);
    close(locked[0]);
    int error = pthread_mutex_lock(mutex);
    reap(pid);
    printf("fork: a robust process-shared mutex the child held when it ended: the parent's lock %s\n",
           child_locked && error == EOWNERDEAD ? "EOWNERDEAD" : errname(error));
    CHECK(child_locked && error == EOWNERDEAD);
    if (error == EOWNERDEAD) {
        pthread_mutex_consistent(mutex);
        pthread_mutex_unlock(mutex);
    }
}

/* ---------------------------------------------------------------- pipe */

#define PIPE_BYTES (100 * 1024)

static unsigned char pattern_byte(size_t i) { return (unsigned char)(i * 31 + (i >> 9) + 7); }

static short poll_now(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static void part_pipe(void) {
    int data[2], go[2];
    CHECK(pipe(data) == 0 && pipe(go) == 0);
    pid_t pid = xfork("pipe");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(data[0]);
        close(go[1]);
        static unsigned char buf[PIPE_BYTES];
        for (size_t i = 0; i < PIPE_BYTES; i++)
            buf[i] = pattern_byte(i);
        /* Uneven pieces; the pipe (64 KiB) fills, so the child waits for the parent. */
        for (size_t off = 0, piece = 1000; off < PIPE_BYTES; off += piece, piece += 777) {
            if (piece > PIPE_BYTES - off)
                piece = PIPE_BYTES - off;
            write_all(data[1], buf + off, piece);
        }
        char byte;
        read_full(go[0], &byte, 1); /* stays alive, its write end open, until told */
        _exit(0);
    }
    close(go[0]);
    static unsigned char got[PIPE_BYTES];
    size_t n = read_full(data[0], got, PIPE_BYTES);
    unsigned want = 2166136261u;
    for (size_t i = 0; i < PIPE_BYTES; i++) {
        unsigned char b = pattern_byte(i);
        want = fnv1a(want, &b, 1);
    }
    printf("pipe: read %zu bytes, checksum matches %d\n", n, fnv1a(2166136261u, got, n) == want);
    CHECK(n == PIPE_BYTES && fnv1a(2166136261u, got, n) == want);
    printf("pipe: the child alive, both write ends open: poll %s\n", events(poll_now(data[0])));
    close(data[1]);
    printf("pipe: the child alive, the parent's write end closed: poll %s\n", events(poll_now(data[0])));
    write_all(go[1], "x", 1);
    int status = reap(pid);
    char byte;
    short ev = poll_now(data[0]);
    ssize_t r = read(data[0], &byte, 1);
    printf("pipe: the child exited (%s): poll %s, read %zd\n", describe(status), events(ev), r);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && r == 0);
    close(data[0]);
    close(go[1]);

    /* The other order: the child's write end goes first, the parent's is still open. */
    CHECK(pipe(data) == 0);
    pid = xfork("pipe");
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(0);
    reap(pid);
    const char *open_ev = events(poll_now(data[0]));
    close(data[1]);
    r = read(data[0], &byte, 1);
    printf("pipe: the child exited, the parent's write end open: poll %s; closed: read %zd\n", open_ev, r);
    CHECK(r == 0);
    close(data[0]);
}

/* ---------------------------------------------------------------- wait */

static void part_wait(void) {
    int status = -1;
    pid_t pid = xfork("wait");
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(11);
    pid_t r = xwaitpid(-1, &status, 0);
    printf("wait: waitpid(-1) returned the child %d, %s\n", r == pid, describe(status));
    CHECK(r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 11);

    int go[2];
    CHECK(pipe(go) == 0);
    pid = xfork("wait");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(go[1]);
        char byte = 0;
        read_full(go[0], &byte, 1);
        _exit(byte == 'x' ? 12 : 1);
    }
    close(go[0]);
    status = -1;
    pid_t early = xwaitpid(pid, &status, WNOHANG);
    write_all(go[1], "x", 1);
    close(go[1]);
    r = xwaitpid(pid, &status, 0);
    printf("wait: WNOHANG while the child waits: %d; after it ran on: the child %d, %s\n", early, r == pid,
           describe(status));
    CHECK(early == 0 && r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 12);

    pid = xfork("wait");
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(13);
    struct rusage ru;
    memset(&ru, 0xff, sizeof ru);
    do
        r = wait4(pid, &status, 0, &ru);
    while (r < 0 && errno == EINTR);
    int filled = ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec >= 0 &&
                 ru.ru_stime.tv_usec < 1000000 && ru.ru_maxrss >= 0;
    printf("wait: wait4 returned the child %d, %s, rusage filled %d\n", r == pid, describe(status), filled);
    CHECK(r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 13 && filled);

    pid = xfork("wait");
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(14);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int w;
    do
        w = waitid(P_PID, (id_t)pid, &si, WEXITED);
    while (w < 0 && errno == EINTR);
    printf("wait: waitid %d: si_signo SIGCHLD %d, si_pid==child %d, si_code CLD_EXITED %d, si_status %d\n", w,
           si.si_signo == SIGCHLD, si.si_pid == pid, si.si_code == CLD_EXITED, si.si_status);
    CHECK(w == 0 && si.si_signo == SIGCHLD && si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 14);
    errno = 0;
    r = waitpid(pid, &status, WNOHANG);
    printf("wait: waitpid after waitid reaped it: %d %s\n", r, errname(errno));
    CHECK(r == -1 && errno == ECHILD);

    pid = xfork("wait");
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(15);
    int kept = 1;
    for (int round = 0; round < 2; round++) {
        memset(&si, 0, sizeof si);
        do
            w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
        while (w < 0 && errno == EINTR);
        kept = kept && w == 0 && si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 15;
    }
    status = -1;
    r = xwaitpid(pid, &status, 0);
    printf("wait: waitid WNOWAIT twice saw it %d, then waitpid reaped the child %d, %s\n", kept, r == pid,
           describe(status));
    CHECK(kept && r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 15);

    errno = 0;
    r = waitpid(getpid(), &status, 0);
    printf("wait: waitpid of its own pid (not a child): %d %s\n", r, errname(errno));
    CHECK(r == -1 && errno == ECHILD);
}

/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t chld_count;
static volatile pid_t chld_pid;
static volatile int chld_code, chld_status;

static void on_chld(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    chld_pid = si->si_pid;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_count++;
}

static void part_signals(void) {
    pid_t pid = xfork("signals");
    if (pid < 0)
        return;
    if (pid == 0) {
        for (;;)
            pause();
    }
    CHECK(kill(pid, SIGKILL) == 0);
    int status = reap(pid);
    printf("signals: SIGKILL from the parent: %s\n", describe(status));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    pid = xfork("signals");
    if (pid < 0)
        return;
    if (pid == 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none); /* no core file, whatever the host's settings */
        volatile int *volatile null = NULL;
        *null = 1;
        _exit(1);
    }
    status = reap(pid);
    printf("signals: a write to NULL in the child: %s\n", describe(status));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);

    /* SIGCHLD blocked except inside sigsuspend: no exit is missed or counted twice. */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    sigset_t waiting = old;
    sigdelset(&waiting, SIGCHLD);
    struct sigaction sa = {0}, prev;
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &prev);
    chld_count = 0;
    int children = 3, info_ok = 1;
    for (int i = 0; i < children; i++) {
        int before = chld_count;
        pid = xfork("signals");
        if (pid < 0)
            break;
        if (pid == 0)
            _exit(20 + i);
        while (chld_count == before)
            sigsuspend(&waiting);
        info_ok = info_ok && chld_pid == pid && chld_code == CLD_EXITED && chld_status == 20 + i;
        status = reap(pid);
        info_ok = info_ok && WIFEXITED(status) && WEXITSTATUS(status) == 20 + i;
    }
    sigaction(SIGCHLD, &prev, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("signals: SIGCHLD handler ran %d times for %d children, si_pid/si_code/si_status right %d\n",
           (int)chld_count, children, info_ok);
    CHECK(chld_count == children && info_ok);

    /* SIGCHLD ignored: children are not kept as zombies; wait waits for them, then ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    pid = xfork("signals");
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        errno = 0;
        pid_t r = xwaitpid(pid, &status, 0);
        printf("signals: SIGCHLD ignored, the child exited: waitpid %d %s\n", r, errname(errno));
        CHECK(r == -1 && errno == ECHILD);
    }
    signal(SIGCHLD, SIG_DFL);

    /* A signal every thread of a process blocks, waited for in sigwaitinfo, sent by another
     * process: the child's kill wakes the parent's wait, then the parent's the child's. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid = xfork("signals");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(ready[0]);
        usleep(20000);
        kill(getppid(), SIGUSR1);
        siginfo_t got;
        int sig = sigwaitinfo(&usr1, &got);
        int facts[2] = {sig == SIGUSR1, got.si_pid == getppid()};
        send_ints(ready[1], facts, 2);
        _exit(0);
    }
    close(ready[1]);
    siginfo_t got;
    int sig = sigwaitinfo(&usr1, &got);
    int from_child = got.si_pid == pid;
    usleep(20000);
    kill(pid, SIGUSR1);
    int facts[2] = {0, 0};
    CHECK(recv_ints(ready[0], facts, 2));
    close(ready[0]);
    reap(pid);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("signals: sigwaitinfo across processes: the parent's %d (from the child %d), the child's %d (from the "
           "parent %d)\n",
           sig == SIGUSR1, from_child, facts[0], facts[1]);
    CHECK(sig == SIGUSR1 && from_child && facts[0] && facts[1]);
}

/* ---------------------------------------------------------------- fds */

#define SHARED "/tmp/fork-shared"

static void part_fds(void) {
    int fd = open(SHARED, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    write_all(fd, "parent\n", 7);
    int cloexec = open(SHARED, O_RDONLY | O_CLOEXEC);
    CHECK(cloexec >= 0);
    int flags[2], report[2];
    CHECK(pipe(flags) == 0 && pipe(report) == 0);
    pid_t pid = xfork("fds");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(report[0]);
        write_all(fd, "child\n", 6);
        close(fd);
        fcntl(flags[0], F_SETFL, O_NONBLOCK); /* the open file description's: shared */
        fcntl(flags[0], F_SETFD, FD_CLOEXEC); /* the fd's own: not */
        char buf[8] = {0};
        int seen[2] = {fcntl(cloexec, F_GETFD) == FD_CLOEXEC, pread(cloexec, buf, 7, 0) == 7};
        send_ints(report[1], seen, 2);
        char c[16], k[16], r[16];
        snprintf(c, sizeof c, "%d", cloexec);
        snprintf(k, sizeof k, "%d", flags[1]);
        snprintf(r, sizeof r, "%d", report[1]);
        char *argv[] = {"fork", "fd-check", c, k, r, NULL};
        execve(SELF, argv, environ);
        _exit(127);
    }
    close(report[1]);
    int seen[4];
    CHECK(recv_ints(report[0], seen, 4));
    close(report[0]);
    int status = reap(pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    off_t offset = lseek(fd, 0, SEEK_CUR);
    write_all(fd, "parent again\n", 13);
    char content[64] = {0};
    ssize_t n = pread(fd, content, sizeof content - 1, 0);
    for (ssize_t i = 0; i < n; i++)
        if (content[i] == '\n')
            content[i] = '|';
    printf("fds: the child's write moved the shared offset to %lld; the file: %s\n", (long long)offset, content);
    CHECK(offset == 13 && strcmp(content, "parent|child|parent again|") == 0);
    int parent_fd_open = fcntl(fd, F_GETFD) >= 0;
    printf("fds: the parent's fd open after the child closed its copy %d\n", parent_fd_open);
    int nonblock = (fcntl(flags[0], F_GETFL) & O_NONBLOCK) != 0, not_cloexec = fcntl(flags[0], F_GETFD) == 0;
    printf("fds: O_NONBLOCK set by the child shows in the parent %d, FD_CLOEXEC set by the child does not %d\n",
           nonblock, not_cloexec);
    printf("fds: close-on-exec fd inherited with its flag %d and readable %d; after execve closed %d, "
           "other fds kept %d\n",
           seen[0], seen[1], seen[2], seen[3]);
    CHECK(parent_fd_open && nonblock && not_cloexec && seen[0] && seen[1] && seen[2] && seen[3]);
    close(fd);
    close(cloexec);
    close(flags[0]);
    close(flags[1]);
    unlink(SHARED);
}

/* `fork fd-check C K R`, run by execve in part_fds's child. */
static int fd_check(char **argv) {
    int c = atoi(argv[2]), k = atoi(argv[3]), r = atoi(argv[4]);
    errno = 0;
    int seen[2] = {fcntl(c, F_GETFD) < 0 && errno == EBADF, fcntl(k, F_GETFD) >= 0 && fcntl(r, F_GETFD) >= 0};
    send_ints(r, seen, 2);
    return 0;
}

/* ---------------------------------------------------------------- exec */

/* A page the parent maps where nothing else is: an exec'd child's /proc/self/maps must not
 * show it (its memory is the new program's, not a copy or a loan of its parent's). */
#define PARENT_MARK ((void *)0x2a0000000UL)

static void part_exec(void) {
    char *argv[] = {"fork", "hello-child", NULL};
    CHECK(mmap(PARENT_MARK, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == PARENT_MARK);
    pid_t pid = xfork("exec");
    if (pid < 0)
        return;
    if (pid == 0) {
        execve(SELF, argv, environ);
        _exit(127);
    }
    int status = reap(pid);
    printf("exec: fork, then execve in the child: %s\n", describe(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);

    fflush(stdout);
    int error = posix_spawn(&pid, SELF, NULL, NULL, argv, environ);
    if (error == 0) {
        status = reap(pid);
        printf("exec: posix_spawn: %s\n", describe(status));
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    } else {
        printf("exec: posix_spawn: %s\n", errname(error));
        failures++;
    }
    char *missing[] = {"missing", NULL};
    error = posix_spawn(&pid, "/nonexistent", NULL, NULL, missing, environ);
    if (error == 0) /* only an old glibc reports the failed execve as an exit status */
        reap(pid);
    printf("exec: posix_spawn of a missing program: %s\n", errname(error));
    CHECK(error == ENOENT);

    fflush(stdout);
    pid = vfork();
    if (pid == 0)
        _exit(5);
    if (pid < 0) {
        printf("exec: vfork FAILED %s\n", errname(errno));
        failures++;
        return;
    }
    status = reap(pid);
    printf("exec: vfork, then _exit in the child: %s\n", describe(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);
}

/* ---------------------------------------------------------------- orphan */

static void part_orphan(void) {
    pid_t top = getpid();
    int report[2];
    CHECK(pipe(report) == 0);
    pid_t pid = xfork("orphan");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(report[0]);
        pid_t child = getpid();
        pid_t grandchild = fork();
        if (grandchild < 0)
            _exit(1);
        if (grandchild == 0) {
            int seen[3] = {0, 0, getpid()};
            /* Wait (up to 10 s) for the child's exit to hand this process on. */
            for (int i = 0; i < 10000 && getppid() == child; i++)
                usleep(1000);
            seen[0] = getppid() != child;
            seen[1] = getppid() == top; /* the app is the reaper (pid 1 of the VM) */
            send_ints(report[1], seen, 3);
            _exit(0);
        }
        _exit(0);
    }
    close(report[1]);
    int status = reap(pid);
    int seen[3];
    int got = recv_ints(report[0], seen, 3);
    char byte;
    read_full(report[0], &byte, 1); /* EOF: the grandchild is gone */
    close(report[0]);
    if (got && seen[1])
        reap(seen[2]);
    printf("orphan: the child %s\n", describe(status));
    printf("orphan reparented %d\n", seen[0]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got && seen[0]);

    /* PR_SET_PDEATHSIG: a grandchild that asked for SIGKILL at its parent's end dies with it
     * (its end closes the pipe it holds: EOF here, wherever it was reparented). */
    int held[2], ready[2];
    CHECK(pipe(held) == 0 && pipe(ready) == 0);
    pid = xfork("orphan");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(held[0]);
        close(ready[0]);
        pid_t child = getpid();
        pid_t grandchild = fork();
        if (grandchild == 0) {
            pid_t me = getpid();
            write_all(ready[1], &me, sizeof me);
            close(ready[1]);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != child) /* the parent is gone already: no signal comes */
                _exit(0);
            for (;;)
                pause();
        }
        close(held[1]);
        close(ready[1]);
        /* Give the grandchild time to reach prctl, then end. */
        usleep(100000);
        _exit(0);
    }
    close(held[1]);
    close(ready[1]);
    pid_t grandchild = 0;
    CHECK(read_full(ready[0], &grandchild, sizeof grandchild) == sizeof grandchild);
    reap(pid);
    char none;
    int eof = read(held[0], &none, 1) == 0;
    close(held[0]);
    close(ready[0]);
    /* The app is the VM's pid 1, so the grandchild became its child: reap it (natively it
     * is not this process's child: ECHILD). */
    waitpid(grandchild, NULL, 0);
    printf("orphan: a grandchild with PR_SET_PDEATHSIG SIGKILL ended with its parent %d\n", eof);
    CHECK(eof);
}

/* ---------------------------------------------------------------- pgroup */

static void part_pgroup(void) {
    pid_t group = getpgrp(), session = getsid(0);
    int report[2];
    CHECK(pipe(report) == 0);
    pid_t pid = xfork("pgroup");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(report[0]);
        int seen[3] = {getpgrp() == group, getsid(0) == session, 0};
        seen[2] = setpgid(0, 0) == 0 && getpgrp() == getpid();
        send_ints(report[1], seen, 3);
        for (;;)
            pause();
    }
    close(report[1]);
    int seen[3];
    CHECK(recv_ints(report[0], seen, 3));
    close(report[0]);
    printf("pgroup: the child's group is the parent's %d, its session the parent's %d\n", seen[0], seen[1]);
    int own = getpgid(pid) == pid;
    printf("pgroup: after setpgid(0, 0) getpgrp()==getpid() %d, getpgid from the parent %d\n", seen[2], own);
    CHECK(seen[0] && seen[1] && seen[2] && own);
    CHECK(kill(-pid, SIGTERM) == 0);
    int status = reap(pid);
    errno = 0;
    int gone = kill(-pid, 0);
    printf("pgroup: kill(-pgid, SIGTERM): %s; then kill(-pgid, 0) %d %s\n", describe(status), gone,
           errname(errno));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && gone == -1 && errno == ESRCH);

    CHECK(pipe(report) == 0);
    pid = xfork("pgroup");
    if (pid < 0)
        return;
    if (pid == 0) {
        close(report[0]);
        pid_t sid = setsid();
        int ok[1] = {sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid()};
        send_ints(report[1], ok, 1);
        _exit(0);
    }
    close(report[1]);
    int ok[1];
    CHECK(recv_ints(report[0], ok, 1));
    close(report[0]);
    status = reap(pid);
    printf("pgroup: setsid in the child leads a new session and group %d, %s\n", ok[0], describe(status));
    CHECK(ok[0] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---------------------------------------------------------------- many */

#define SEQUENTIAL 200
#define AT_ONCE 8

static void part_many(void) {
    int good = 0;
    for (int i = 0; i < SEQUENTIAL; i++) {
        pid_t pid = xfork("many");
        if (pid < 0)
            break;
        if (pid == 0)
            _exit(i & 0xff);
        int status = reap(pid);
        good += WIFEXITED(status) && WEXITSTATUS(status) == (i & 0xff);
    }
    printf("many: %d of %d forks one after another exited with their number and were reaped\n", good, SEQUENTIAL);
    CHECK(good == SEQUENTIAL);

    int data[2], go[2];
    CHECK(pipe(data) == 0 && pipe(go) == 0);
    pid_t pids[AT_ONCE];
    int started = 0;
    for (; started < AT_ONCE; started++) {
        pids[started] = xfork("many");
        if (pids[started] < 0)
            break;
        if (pids[started] == 0) {
            close(data[0]);
            close(go[1]);
            unsigned char index = (unsigned char)started;
            write_all(data[1], &index, 1);
            char byte;
            read_full(go[0], &byte, 1); /* EOF once every child has written */
            _exit(40 + started);
        }
    }
    close(data[1]);
    close(go[0]);
    /* Each child wrote and waits for go's EOF: they are all alive at once. */
    unsigned char got[AT_ONCE];
    size_t n = read_full(data[0], got, (size_t)started);
    close(go[1]);
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] < AT_ONCE)
            seen |= 1u << got[i];
    char rest;
    ssize_t more = read(data[0], &rest, 1);
    close(data[0]);
    unsigned reaped = 0;
    for (int i = 0; i < started; i++) {
        int status = -1;
        pid_t r = xwaitpid(-1, &status, 0);
        for (int j = 0; j < started; j++)
            if (r == pids[j] && WIFEXITED(status) && WEXITSTATUS(status) == 40 + j)
                reaped |= 1u << j;
    }
    errno = 0;
    pid_t none = waitpid(-1, NULL, 0);
    int all = (1u << AT_ONCE) - 1;
    printf("many: %d alive at once each wrote its index once %d, then EOF %d\n", AT_ONCE,
           n == AT_ONCE && seen == (unsigned)all, more == 0);
    printf("many: all %d reaped by waitpid(-1) with their statuses %d, then %s\n", AT_ONCE,
           reaped == (unsigned)all, errname(errno));
    CHECK(started == AT_ONCE && n == AT_ONCE && seen == (unsigned)all && more == 0);
    CHECK(reaped == (unsigned)all && none == -1 && errno == ECHILD);
}

/* ---------------------------------------------------------------- reuse */

/* Forks one child after another while the parent's memory changes between the forks, as a
 * shell's does: pages written anew, a page given up and another taken back, a mapping made
 * where the last child had one of its own. Each child checks that it sees the parent's memory
 * as it was at its fork and nothing any earlier child left behind (its writes, its own
 * mappings, pages it gave up), then leaves its own marks for the next one to not see. */
enum { REUSE_ROUNDS = 60, REUSE_PAGES = 48 };

/* Whether `page` is mapped: a write(2) from it into the pipe `fds` succeeds (the byte is read
 * back), EFAULT if not. */
static int page_mapped(const int *fds, const char *page) {
    char byte;
    return write(fds[1], page, 1) == 1 && read(fds[0], &byte, 1) == 1;
}

static void part_reuse(void) {
    const size_t page = 4096;
    int probe[2];
    CHECK(pipe(probe) == 0);
    unsigned char *area = mmap(NULL, REUSE_PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* A range the children map for themselves; the parent maps it too in odd rounds. */
    unsigned char *theirs = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(area != MAP_FAILED && theirs != MAP_FAILED && munmap(theirs, 8 * page) == 0);
    int unmapped = -1, children_ok = 0;
    for (int round = 0; round < REUSE_ROUNDS; round++) {
        /* The parent's change this round: one page given up, last round's taken back. */
        if (unmapped >= 0)
            CHECK(mmap(area + (size_t)unmapped * page, page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
        unmapped = (round * 7) % REUSE_PAGES;
        for (int i = 0; i < REUSE_PAGES; i++)
            memset(area + (size_t)i * page, (round + i) & 0xff, page);
        CHECK(munmap(area + (size_t)unmapped * page, page) == 0);
        int parents = round % 2;
        if (parents) {
            CHECK(mmap(theirs, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                  theirs);
            memset(theirs, 0xa5, 2 * page);
        }
        pid_t pid = xfork("reuse");
        if (pid < 0)
            return;
        if (pid == 0) {
            int ok = 1;
            for (int i = 0; i < REUSE_PAGES; i++) {
                unsigned char *p = area + (size_t)i * page;
                if (i == unmapped) {
                    ok &= !page_mapped(probe, (char *)p);
                    continue;
                }
                unsigned char want = (round + i) & 0xff;
                for (size_t b = 0; b < page; b += 509)
                    ok &= p[b] == want;
                ok &= p[page - 1] == want;
            }
            for (int i = 0; i < 8; i++) {
                int mapped = page_mapped(probe, (char *)theirs + (size_t)i * page);
                ok &= mapped == (parents && i < 2);
                if (mapped)
                    ok &= theirs[(size_t)i * page] == 0xa5 && theirs[(size_t)i * page + page - 1] == 0xa5;
            }
            /* Marks for the next child not to see: writes everywhere, a page given up, a
             * mapping of its own over the whole shared range. */
            for (int i = 0; i < REUSE_PAGES; i++)
                if (i != unmapped)
                    memset(area + (size_t)i * page, 0xee, page);
            munmap(area + (size_t)((unmapped + 1) % REUSE_PAGES) * page, page);
            if (mmap(theirs, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                theirs)
                memset(theirs, 0x5a, 8 * page);
            _exit(ok ? 0 : 1);
        }
        int status = reap(pid);
        children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (parents)
            CHECK(munmap(theirs, 2 * page) == 0);
    }
    printf("reuse: %d of %d children saw the parent's memory as at their fork and nothing of an earlier child's\n",
           children_ok, REUSE_ROUNDS);
    CHECK(children_ok == REUSE_ROUNDS);
    munmap(area, REUSE_PAGES * page);
    close(probe[0]);
    close(probe[1]);
}

/* ---------------------------------------------------------------- big */

#define BIG_PAGES 1024

/* A fork of a process with 4 MiB written: the child sees every page as the parent wrote
 * it, and its writes stay its own. (The guest kernel copies such a parent into frames the
 * host backs ahead of the copy: the boot test counts the shadow-page faults.) */
static void part_big(void) {
    const size_t page = 4096;
    unsigned char *area = mmap(NULL, BIG_PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(area != MAP_FAILED);
    if (area == MAP_FAILED)
        return;
    for (int i = 0; i < BIG_PAGES; i++)
        memset(area + (size_t)i * page, i & 0xff, page);
    pid_t pid = xfork("big");
    if (pid < 0)
        return;
    if (pid == 0) {
        int ok = 1;
        for (int i = 0; i < BIG_PAGES; i++) {
            unsigned char *p = area + (size_t)i * page;
            ok &= p[0] == (i & 0xff) && p[page / 2] == (i & 0xff) && p[page - 1] == (i & 0xff);
            p[page / 2] = 0xee;
        }
        _exit(ok ? 0 : 1);
    }
    int status = reap(pid);
    int parent_ok = 1;
    for (int i = 0; i < BIG_PAGES; i++)
        parent_ok &= area[(size_t)i * page + page / 2] == (i & 0xff);
    printf("big: the child saw the parent's %d pages %d, its writes stayed its own %d\n", BIG_PAGES,
           WIFEXITED(status) && WEXITSTATUS(status) == 0, parent_ok);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && parent_ok);
    munmap(area, BIG_PAGES * page);
}

/* ---------------------------------------------------------------- sibling */

#define SIBLING_ROUNDS 300

/* The parent maps, writes and unmaps a page 300 times while a child spins on a flag in
 * shared memory: each unmap changes the parent's tables only, and the child sees its own
 * memory throughout. (The guest kernel flushes only the vCPUs on the changed tables: the
 * boot test counts the child's vCPU's kicks out of the guest.) */
static void part_sibling(void) {
    volatile int *flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(flag != MAP_FAILED);
    if (flag == MAP_FAILED)
        return;
    flag[0] = 0;
    pid_t pid = xfork("sibling");
    if (pid < 0)
        return;
    if (pid == 0) {
        static int own[1024];
        unsigned long spins = 0;
        flag[1] = 1;
        while (flag[0] == 0) {
            own[spins % 1024] = (int)spins;
            spins++;
        }
        _exit(own[(spins - 1) % 1024] == (int)(spins - 1) ? 0 : 1);
    }
    while (flag[1] == 0)
        ;
    int ok = 1;
    for (int i = 0; i < SIBLING_ROUNDS; i++) {
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            ok = 0;
            break;
        }
        p[0] = (char)i;
        ok &= p[0] == (char)i && munmap(p, 4096) == 0;
    }
    flag[0] = 1;
    int status = reap(pid);
    printf("sibling: %d unmaps while a child spun %d, the child exited 0 %d\n", SIBLING_ROUNDS, ok,
           WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    munmap((void *)flag, 4096);
}

/* ---------------------------------------------------------------- sigchld */

#define SIGCHLD_CHILDREN 20

static volatile sig_atomic_t sigchld_seen;

static void on_sigchld(int sig) {
    (void)sig;
    sigchld_seen++;
}

/* A parent with a SIGCHLD handler waits for 20 children in turn, each of which sleeps 2 ms
 * first: every SIGCHLD reaches a parent waiting in waitpid, whose handler runs once per
 * child. (The guest kernel wakes a thread parked in the kernel for a signal instead of
 * interrupting its vCPU: the boot test counts the interrupt hypercalls.) */
static void part_sigchld(void) {
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGCHLD, &sa, &old) == 0);
    sigchld_seen = 0;
    int reaped = 0;
    for (int i = 0; i < SIGCHLD_CHILDREN; i++) {
        pid_t pid = xfork("sigchld");
        if (pid < 0)
            break;
        if (pid == 0) {
            usleep(2000);
            _exit(0);
        }
        int status = reap(pid);
        reaped += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    sigaction(SIGCHLD, &old, NULL);
    printf("sigchld: %d children reaped, the handler ran once each %d\n", reaped, sigchld_seen == SIGCHLD_CHILDREN);
    CHECK(reaped == SIGCHLD_CHILDREN && sigchld_seen == SIGCHLD_CHILDREN);
}

/* ---------------------------------------------------------------- main */

static const struct part parts[] = {
    {"fork", part_fork},     {"pipe", part_pipe},     {"wait", part_wait},
    {"signals", part_signals}, {"fds", part_fds},       {"exec", part_exec},
    {"orphan", part_orphan},   {"pgroup", part_pgroup}, {"many", part_many},
    {"reuse", part_reuse},     {"big", part_big},       {"sibling", part_sibling},
    {"sigchld", part_sigchld},
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "hello-child") == 0) {
        printf("hello-child: argv");
        for (int i = 0; i < argc; i++)
            printf(" [%s]", argv[i]);
        printf("\n");
        char line[256];
        int parents = 0;
        FILE *maps = fopen("/proc/self/maps", "r");
        while (maps && fgets(line, sizeof line, maps))
            parents += strncmp(line, "2a0000000-", 10) == 0;
        printf("hello-child: /proc/self/maps read %d, shows its parent's page %d\n", maps != NULL, parents);
        return 3;
    }
    if (argc > 4 && strcmp(argv[1], "fd-check") == 0)
        return fd_check(argv);
    return run_parts(parts, sizeof parts / sizeof parts[0], argc, argv, &failures);
}
