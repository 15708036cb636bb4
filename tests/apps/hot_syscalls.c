// Hot syscall sites (the kernel rewrites a site that keeps trapping so that it jumps into the
// kernel instead): results stay right through a rewritten site, including a call that a
// signal interrupts there and that restarts (SA_RESTART), and calls from two threads. The pipe
// round trips run twice, before and after the first thread: glibc's `read` takes another path
// (another `syscall`) once the process has threads, and the interrupted read comes after both.
// Then sites whose number comes from a register (stdio, the generic syscall()). Last, signals
// that arrive during the round trips: their handler sees the pc in the program's
// own code, as natively, not in the kernel a rewritten site jumps through.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int pipefd[2];
static volatile sig_atomic_t handled;
static pthread_t main_thread;

static void on_usr1(int sig) { (void)sig; handled++; }

// The program's own code (the linker's symbols): where a handler must see the interrupted pc.
extern char __executable_start[], etext[];
static volatile sig_atomic_t seen, outside;

// Notes whether the pc the handler sees is in the program's code, as it is natively (the
// static libc's wrappers included), not in the kernel's trampoline a patched call went through.
static void on_usr2(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    uintptr_t pc = (uintptr_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
    seen++;
    if (pc < (uintptr_t)__executable_start || pc >= (uintptr_t)etext) outside++;
}

static volatile int round_trips_done;

// Signals the main thread while it makes pipe round trips, until they are done.
static void *signaller(void *arg) {
    (void)arg;
    while (!round_trips_done) {
        pthread_kill(main_thread, SIGUSR2);
        usleep(200);
    }
    return NULL;
}

// Interrupts the main thread's blocking read, then gives it something to read.
static void *interrupter(void *arg) {
    (void)arg;
    usleep(50000);
    pthread_kill(main_thread, SIGUSR1);
    usleep(50000);
    if (write(pipefd[1], "late", 4) != 4) return (void *)1;
    return NULL;
}

// Writes a byte to the pipe and reads it back, `n` times; returns how many came back wrong.
static long pipe_round_trips(int n) {
    char buf[1];
    long mismatched = 0;
    for (int i = 0; i < n; i++) {
        char c = (char)('a' + i % 26);
        if (write(pipefd[1], &c, 1) != 1 || read(pipefd[0], buf, 1) != 1 || buf[0] != c) mismatched++;
    }
    return mismatched;
}

static void *noop(void *arg) { return arg; }

static int early[2];

// Blocks in a read on `early` (the first call at its syscall site) until a write comes.
static void *early_reader(void *arg) {
    char buf[8];
    (void)arg;
    return (void *)(long)read(early[0], buf, sizeof buf);
}

// Many calls from a second thread at the same sites as the main thread's.
static void *worker(void *arg) {
    long bad = 0;
    pid_t parent = getppid();
    for (int i = 0; i < 500; i++) bad += getppid() != parent;
    (void)arg;
    return (void *)bad;
}

int main(void) {
    // First, while every site is fresh: a read blocks at its site; the main thread's calls at
    // the same site get it rewritten meanwhile; then a signal interrupts the read, and its
    // SA_RESTART handler has it made again, at a site whose code is not what it trapped at.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    if (pipe(early) != 0 || pipe(pipefd) != 0) return 1;
    pthread_t blocked;
    void *r;
    pthread_create(&blocked, NULL, early_reader, NULL);
    usleep(50000);
    long early_wrong = pipe_round_trips(20);
    pthread_kill(blocked, SIGUSR1);
    usleep(20000);
    if (write(early[1], "late", 4) != 4) return 1;
    pthread_join(blocked, &r);
    printf("a read blocked before its site was rewritten, restarted after: %ld bytes, %d signal(s), %ld wrong\n",
           (long)r, (int)handled, early_wrong);
    handled = 0;

    pid_t parent = getppid();
    long bad = 0;
    for (int i = 0; i < 1000; i++) bad += getppid() != parent;
    printf("getppid x1000: %s\n", bad ? "wrong" : "same every time");

    printf("pipe round trips x200: %ld wrong\n", pipe_round_trips(200));

    // From the first thread on, glibc's read takes its other path (another `syscall`), which
    // the interrupted read below then comes through too, rewritten by then.
    pthread_t first;
    pthread_create(&first, NULL, noop, NULL);
    pthread_join(first, &r);
    printf("pipe round trips with threads x200: %ld wrong\n", pipe_round_trips(200));

    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, interrupter, NULL);
    char buf[16];
    ssize_t n = read(pipefd[0], buf, sizeof buf);
    pthread_join(t, &r);
    printf("interrupted read: %zd bytes \"%.*s\" after %d signal(s)\n", n, n > 0 ? (int)n : 0, buf, (int)handled);

    pthread_t w;
    pthread_create(&w, NULL, worker, NULL);
    for (int i = 0; i < 500; i++) bad += getppid() != parent;
    pthread_join(w, &r);
    printf("two threads x500: %s\n", bad || r ? "wrong" : "same every time");

    // Calls whose wrappers set up arguments after the number (musl's stat is `mov $4, %eax;
    // mov %r9, %rdi; mov %rdx, %rsi; syscall`, its fstat, mmap and munmap alike): their results
    // stay right through their rewritten sites.
    int fd = open("/tmp/hot-stat", O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (fd < 0 || write(fd, "0123456789", 10) != 10) return 1;
    long stat_wrong = 0, map_wrong = 0;
    for (int i = 0; i < 1000; i++) {
        struct stat st, fst;
        memset(&st, 0, sizeof st);
        memset(&fst, 0, sizeof fst);
        if (stat("/tmp/hot-stat", &st) != 0 || st.st_size != 10 + i % 2 || !S_ISREG(st.st_mode)) stat_wrong++;
        if (fstat(fd, &fst) != 0 || fst.st_ino != st.st_ino || fst.st_size != st.st_size) stat_wrong++;
        if (ftruncate(fd, 10 + (i + 1) % 2) != 0) stat_wrong++;
        char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) {
            map_wrong++;
            continue;
        }
        page[0] = (char)i;
        page[4096] = (char)(i + 1);
        if (page[0] != (char)i || page[4096] != (char)(i + 1) || munmap(page, 8192) != 0) map_wrong++;
    }
    close(fd);
    unlink("/tmp/hot-stat");
    printf("stat and fstat x1000: %ld wrong; mmap and munmap x1000: %ld wrong\n", stat_wrong, map_wrong);

    // Sites whose number comes from a register: musl's stdio writes and reads (its
    // `__stdio_write` is `mov %r12, %rax; ...; syscall`) and the generic syscall(), in both C
    // libraries. A line-buffered file makes a write per line, an 8-byte buffer a read per 8 bytes.
    FILE *out = fopen("/tmp/hot-stdio", "w");
    if (!out || setvbuf(out, NULL, _IOLBF, BUFSIZ) != 0) return 1;
    for (int i = 0; i < 1000; i++) fprintf(out, "line %d\n", i);
    if (fclose(out) != 0) return 1;
    FILE *in = fopen("/tmp/hot-stdio", "r");
    static char small[8];
    if (!in || setvbuf(in, small, _IOFBF, sizeof small) != 0) return 1;
    char line[32], want[32];
    long lines = 0, lines_wrong = 0;
    while (fgets(line, sizeof line, in)) {
        snprintf(want, sizeof want, "line %ld\n", lines++);
        if (strcmp(line, want) != 0) lines_wrong++;
    }
    fclose(in);
    unlink("/tmp/hot-stdio");
    long generic_wrong = 0;
    for (int i = 0; i < 1000; i++) generic_wrong += syscall(SYS_getppid) != parent;
    printf("stdio lines x1000: %ld read back, %ld wrong; syscall(SYS_getppid) x1000: %ld wrong\n", lines, lines_wrong,
           generic_wrong);

    struct sigaction sa2;
    memset(&sa2, 0, sizeof sa2);
    sa2.sa_sigaction = on_usr2;
    sa2.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR2, &sa2, NULL);
    pthread_t s;
    pthread_create(&s, NULL, signaller, NULL);
    long wrong = 0;
    for (int i = 0; seen < 20 && i < 2000; i++) wrong += pipe_round_trips(100);
    round_trips_done = 1;
    pthread_join(s, &r);
    printf("signals during round trips: %s, %d at a pc outside the program's code, %ld wrong\n",
           seen >= 20 ? "20 or more" : "fewer than 20", (int)outside, wrong);
    return 0;
}
