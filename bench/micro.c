/* Micro-benchmarks of the Linux ABI, run natively and inside uvm by bench/abi.sh:
 *   micro clock N      ns per clock_gettime(CLOCK_MONOTONIC) (the vDSO in both cases)
 *   micro syscall N    ns per getppid() syscall (a real trap into the kernel)
 *   micro cpuid N      ns per `cpuid` (leaf 0): a trap to the hypervisor in a VM, and on a
 *                      host that is itself a VM natively too (glibc's start-up makes ~30)
 *   micro read FILE    MB/s reading FILE in 1 MiB read() calls (page cache vs. the image)
 *   micro touch N      ns per page for the first write to each of N fresh anonymous pages
 *                      (the memory an app's start-up and growth first touch)
 *   micro refault N    ns per page for the first write to each of N anonymous pages after
 *                      madvise(MADV_DONTNEED) dropped them (best of 5 rounds): a demand
 *                      fault each, which in uvm on PVM runs the ring-0 exception stub
 *   micro shm N        ns per page for the first write to each of N pages of a memfd
 *                      (memfd_create, ftruncate) mapped MAP_SHARED
 *   micro tmpfs MIB    MB/s writing MIB MiB to a new file in /dev/shm (a tmpfs on both
 *                      sides) in 64 KiB write() calls, then reading it back in 64 KiB
 *                      pread() calls (printed as write/read)
 *   micro volume MIB DIR  as tmpfs, in a file of DIR (a volume, `uvm run -v`, in the VM)
 *   micro stat N DIR   ns per stat() of a file of DIR
 *   micro lines N FILE ns per line fprintf'd to FILE (created), line-buffered: a write per
 *                      line through the C library's stdio (musl's comes from a `syscall`
 *                      whose number is in a register)
 *   micro exec N       ns per execve: the program runs itself N times through execve of
 *                      /proc/self/exe (each run up to its main), then prints
 *   micro fork N       ns per fork + _exit in the child + waitpid in the parent
 *   micro spawn N      ns per posix_spawn of /proc/self/exe (run up to its main, which
 *                      exits at once) + waitpid
 *   micro maps N       ns per mmap + munmap of one page (PROT_NONE) with N other mappings
 *                      in place (alternately PROT_NONE and PROT_READ, so that Linux cannot
 *                      merge them into one) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Writes one byte to each of the `n` pages at `pages` (MAP_FAILED: `what` failed) and prints
 * the time per page under `label`. */
static int first_writes(volatile char *pages, long n, const char *what, const char *label) {
    if (pages == MAP_FAILED) {
        perror(what);
        return 1;
    }
    double start = now();
    for (long i = 0; i < n; i++)
        pages[i * 4096] = 1;
    printf("%s: %.0f ns per page\n", label, (now() - start) * 1e9 / n);
    return 0;
}

/* MB/s writing MIB MiB to a new file at `path` in 64 KiB write() calls, then reading it back
 * in 64 KiB pread() calls (printed as write/read); the file is removed. */
static int write_then_read(const char *path, long mib, const char *label) {
    static char buf[64 << 10];
    long total = mib << 20;
    memset(buf, 0x5a, sizeof buf);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    double start = now();
    for (long done = 0; done < total; done += sizeof buf)
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
            perror("write");
            return 1;
        }
    double wrote = now() - start;
    start = now();
    long got = 0;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, got)) > 0)
        got += n;
    double read_secs = now() - start;
    close(fd);
    unlink(path);
    printf("%s %ld MiB in 64 KiB calls: %.0f/%.0f MB/s\n", label, total >> 20, total / wrote / 1e6, got / read_secs / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: micro clock|syscall|touch|refault|log|shm|exec|fork|spawn|maps N | micro tmpfs MIB | micro volume MIB DIR | micro stat N DIR | micro lines N FILE | micro read FILE\n");
        return 2;
    }
    if (strcmp(argv[1], "maps") == 0) {
        long others = atol(argv[2]), n = 20000;
        for (long i = 0; i < others; i++)
            if (mmap(NULL, 4096, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
                perror("mmap");
                return 1;
            }
        double start = now();
        for (long i = 0; i < n; i++)
            munmap(mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 4096);
        printf("mmap + munmap with %ld other mappings: %.0f ns\n", others, (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "clock") == 0) {
        long n = atol(argv[2]);
        struct timespec t;
        double start = now();
        for (long i = 0; i < n; i++)
            clock_gettime(CLOCK_MONOTONIC, &t);
        printf("clock_gettime: %.1f ns per call\n", (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "syscall") == 0) {
        long n = atol(argv[2]);
        double start = now();
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
        printf("getppid syscall: %.0f ns per call\n", (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "cpuid") == 0) {
        long n = atol(argv[2]);
        double start = now();
        for (long i = 0; i < n; i++) {
            unsigned a = 0, b, c = 0, d;
            __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        }
        printf("cpuid: %.0f ns per call\n", (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "touch") == 0) {
        long n = atol(argv[2]);
        volatile char *pages = mmap(NULL, (size_t)n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return first_writes(pages, n, "mmap", "first write to a fresh page");
    } else if (strcmp(argv[1], "refault") == 0) {
        long n = atol(argv[2]);
        size_t len = (size_t)n * 4096;
        volatile char *pages = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        for (long i = 0; i < n; i++)
            pages[i * 4096] = 1;
        double best = 0;
        for (int round = 0; round < 5; round++) {
            if (madvise((void *)pages, len, MADV_DONTNEED) != 0) {
                perror("madvise");
                return 1;
            }
            double start = now();
            for (long i = 0; i < n; i++)
                pages[i * 4096] = 2;
            double took = now() - start;
            if (round == 0 || took < best)
                best = took;
        }
        printf("write after MADV_DONTNEED: %.0f ns per page\n", best * 1e9 / n);
    } else if (strcmp(argv[1], "fork") == 0) {
        long n = atol(argv[2]);
        double start = now();
        for (long i = 0; i < n; i++) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(0);
            if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
                perror("fork");
                return 1;
            }
        }
        printf("fork: %.0f ns per fork, exit and wait\n", (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "spawn") == 0) {
        long n = atol(argv[2]);
        char *child[] = {argv[0], "spawned", "0", NULL};
        extern char **environ;
        double start = now();
        for (long i = 0; i < n; i++) {
            pid_t pid;
            if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, child, environ) != 0 || waitpid(pid, NULL, 0) != pid) {
                perror("posix_spawn");
                return 1;
            }
        }
        printf("posix_spawn: %.0f ns per spawn, exit and wait\n", (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "spawned") == 0) {
        return 0;
    } else if (strcmp(argv[1], "exec") == 0) {
        /* micro exec LEFT [START TOTAL]: the start time and the count travel in argv. */
        long left = atol(argv[2]);
        double start = argc > 3 ? atof(argv[3]) : now();
        long total = argc > 4 ? atol(argv[4]) : left;
        if (left <= 0) {
            printf("execve: %.0f ns per call\n", total > 0 ? (now() - start) * 1e9 / total : 0.0);
            return 0;
        }
        char next_left[32], at[32], all[32];
        snprintf(next_left, sizeof next_left, "%ld", left - 1);
        snprintf(at, sizeof at, "%.9f", start);
        snprintf(all, sizeof all, "%ld", total);
        char *next[] = {argv[0], "exec", next_left, at, all, NULL};
        execv("/proc/self/exe", next);
        perror("execv /proc/self/exe");
        return 1;
    } else if (strcmp(argv[1], "log") == 0) {
        /* A service's logging: a line per write(2) to stderr (bench/abi.sh sends it to
         * /dev/null; in uvm each went out through an exit before the console ring). */
        long n = atol(argv[2]);
        char line[64];
        double start = now();
        for (long i = 0; i < n; i++) {
            int len = snprintf(line, sizeof line, "request %ld served in 12 us\n", i);
            if (write(2, line, (size_t)len) != len)
                return 1;
        }
        printf("log line write: %.0f ns per call\n", (now() - start) * 1e9 / n);
    } else if (strcmp(argv[1], "read") == 0) {
        static char buf[1 << 20];
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            perror(argv[2]);
            return 1;
        }
        long total = 0;
        ssize_t n;
        double start = now();
        while ((n = read(fd, buf, sizeof buf)) > 0)
            total += n;
        double secs = now() - start;
        printf("read %ld MiB in 1 MiB reads: %.0f MB/s\n", total >> 20, total / secs / 1e6);
    } else if (strcmp(argv[1], "shm") == 0) {
        long n = atol(argv[2]);
        int fd = memfd_create("micro", 0);
        volatile char *pages = fd < 0 || ftruncate(fd, n * 4096) != 0
                                   ? MAP_FAILED
                                   : mmap(NULL, (size_t)n * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        return first_writes(pages, n, "memfd", "first write to a page of a shared memfd");
    } else if (strcmp(argv[1], "tmpfs") == 0) {
        return write_then_read("/dev/shm/micro-tmpfs", atol(argv[2]), "tmpfs");
    } else if (strcmp(argv[1], "volume") == 0 && argc > 3) {
        char path[4096];
        snprintf(path, sizeof path, "%s/micro-volume", argv[3]);
        return write_then_read(path, atol(argv[2]), "volume");
    } else if (strcmp(argv[1], "lines") == 0 && argc > 3) {
        FILE *out = fopen(argv[3], "w");
        if (!out || setvbuf(out, NULL, _IOLBF, BUFSIZ) != 0) {
            perror(argv[3]);
            return 1;
        }
        long n = atol(argv[2]);
        double start = now();
        for (long i = 0; i < n; i++)
            if (fprintf(out, "request %ld served in 12 us\n", i) < 0)
                return 1;
        double secs = now() - start;
        if (fclose(out) != 0)
            return 1;
        unlink(argv[3]);
        printf("stdio line: %.0f ns per line\n", secs * 1e9 / n);
    } else if (strcmp(argv[1], "stat") == 0 && argc > 3) {
        char path[4096];
        snprintf(path, sizeof path, "%s/micro-stat", argv[3]);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        close(fd);
        long n = atol(argv[2]);
        struct stat st;
        double start = now();
        for (long i = 0; i < n; i++)
            stat(path, &st);
        double took = now() - start;
        unlink(path);
        printf("stat of a file: %.0f ns per call\n", took * 1e9 / n);
    }
    return 0;
}
