/* Tests that bad syscall arguments end as errors for the app, never as a crash of the guest
 * kernel or of uvm: bad pointers (NULL, low memory, the kernel's own area, the direct map,
 * unmapped, read-only), absurd lengths and counts, invalid flags. Prints one line per probe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void probe(const char *what, long r) {
    printf("%-40s %s\n", what, r < 0 ? errname(errno) : "ok");
}

int main(void) {
    void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    void *kernel = (void *)0x201000, *low = (void *)0x10, *direct_map = (void *)0x400000000000;
    char buf[64];
    int fd = open("/etc/app.conf", O_RDONLY);

    probe("read into NULL", syscall(SYS_read, fd, NULL, 10));
    probe("read into low memory", syscall(SYS_read, fd, low, 10));
    probe("read into the kernel area", syscall(SYS_read, fd, kernel, 10));
    probe("read into the direct map", syscall(SYS_read, fd, direct_map, 10));
    probe("read into an unmapped page", syscall(SYS_read, fd, gone, 10));
    probe("read into a read-only page", syscall(SYS_read, fd, ro, 10));
    probe("write from the kernel area", syscall(SYS_write, 1, kernel, 10));
    probe("write with a huge length", syscall(SYS_write, 1, buf, (size_t)-1));
    probe("open with a NULL path", syscall(SYS_open, NULL, O_RDONLY));
    probe("open with a kernel-area path", syscall(SYS_open, kernel, O_RDONLY));
    probe("stat into the kernel area", syscall(SYS_stat, "/etc/app.conf", kernel));
    probe("clock_gettime into NULL", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, NULL));
    probe("uname into an unmapped page", syscall(SYS_uname, gone));
    probe("getrandom into the direct map", syscall(SYS_getrandom, direct_map, 16, 0));
    probe("writev with 100000 iovecs", syscall(SYS_writev, 1, buf, 100000));
    probe("writev with a bad iovec pointer", syscall(SYS_writev, 1, kernel, 1));
    struct iovec bad = {kernel, 10};
    probe("writev of a kernel-area buffer", syscall(SYS_writev, 1, &bad, 1));
    probe("mmap of length 0", (long)syscall(SYS_mmap, NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    probe("mmap of 2^63 bytes", (long)syscall(SYS_mmap, NULL, 1UL << 63, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    probe("mmap of -1 bytes", (long)syscall(SYS_mmap, NULL, (size_t)-1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    probe("mmap MAP_FIXED over the kernel", (long)syscall(SYS_mmap, kernel, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    probe("mmap MAP_FIXED unaligned", (long)syscall(SYS_mmap, (void *)0x10000001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    probe("mmap with bad flags", (long)syscall(SYS_mmap, NULL, 4096, PROT_READ, 0, -1, 0));
    probe("munmap of the kernel area", syscall(SYS_munmap, kernel, 4096));
    probe("mprotect of the kernel area", syscall(SYS_mprotect, kernel, 4096, PROT_READ | PROT_WRITE));
    probe("mprotect with unknown bits", syscall(SYS_mprotect, ro, 4096, 0x100));
    printf("%-40s %s\n", "brk to the kernel area", syscall(SYS_brk, kernel) == (long)kernel ? "moved" : "refused");
    probe("rt_sigaction with a bad size", syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 3));
    probe("rt_sigaction of signal 0", syscall(SYS_rt_sigaction, 0, NULL, NULL, 8));
    probe("nanosleep with a bad pointer", syscall(SYS_nanosleep, kernel, NULL));
    struct timespec neg = {-1, 0};
    probe("nanosleep of a negative time", syscall(SYS_nanosleep, &neg, NULL));
    probe("close of fd -1", syscall(SYS_close, -1));
    probe("close of fd 100000", syscall(SYS_close, 100000));
    probe("syscall number 100000", syscall(100000));
    printf("still running: yes\n");
    return 0;
}
