/* Shared-memory churn: 20000 random operations on a memfd, a /dev/shm file and a /tmp file
 * (ftruncate, mmap shared or private, munmap, mprotect, MADV_DONTNEED/MADV_FREE, pwrite, hole
 * punching, mremap, and touches of mapped pages, which may be SIGBUS past the end of a file).
 * Every byte written through a shared writable mapping inside its file must read back
 * through pread at once. The SIGBUS count is not printed: a page a truncate cuts off while
 * it is mapped reads zeros under uvm where Linux raises SIGBUS (docs/syscalls.md, mmap). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define PAGE 4096
#define MAXP 64
static unsigned long long s = 88172645463325252ULL;
static unsigned rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (unsigned)s; }
static sigjmp_buf jb;
static volatile int buses, segvs;
static void onsig(int sig) { if (sig == SIGBUS) buses++; else segvs++; siglongjmp(jb, 1); }
struct map { char *p; size_t len; off_t off; int shared, prot, fd; };
int main(int argc, char **argv) {
    long ops = argc > 1 ? atol(argv[1]) : 20000;
    signal(SIGBUS, onsig);
    signal(SIGSEGV, onsig);
    int fds[3];
    fds[0] = memfd_create("a", MFD_ALLOW_SEALING);
    fds[1] = open("/dev/shm/fz", O_CREAT | O_RDWR | O_TRUNC, 0600);
    fds[2] = open("/tmp/fz", O_CREAT | O_RDWR | O_TRUNC, 0600);
    struct map maps[16] = {0};
    long bad = 0, done = 0;
    for (long i = 0; i < ops; i++) {
        int f = rnd() % 3, fd = fds[f], m = rnd() % 16;
        switch (rnd() % 10) {
        case 0: ftruncate(fd, (off_t)(rnd() % MAXP) * PAGE + (rnd() % 2 ? rnd() % PAGE : 0)); break;
        case 1: {
            if (maps[m].p) { munmap(maps[m].p, maps[m].len); maps[m].p = 0; }
            size_t len = (1 + rnd() % 16) * PAGE; off_t off = (rnd() % 32) * PAGE;
            int shared = rnd() % 2, prot = rnd() % 2 ? PROT_READ | PROT_WRITE : PROT_READ;
            char *p = mmap(NULL, len, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd, off);
            if (p != MAP_FAILED) maps[m] = (struct map){p, len, off, shared, prot, fd};
            break;
        }
        case 2: if (maps[m].p) { munmap(maps[m].p, maps[m].len); maps[m].p = 0; } break;
        case 3: if (maps[m].p) { int pr = rnd() % 2 ? PROT_READ : PROT_READ | PROT_WRITE; if (mprotect(maps[m].p, maps[m].len, pr) == 0) maps[m].prot = pr; } break;
        case 4: if (maps[m].p) madvise(maps[m].p, maps[m].len, rnd() % 2 ? MADV_DONTNEED : MADV_FREE); break;
        case 5: {
            char buf[300]; memset(buf, (int)(rnd() & 0xff), sizeof buf);
            pwrite(fd, buf, rnd() % sizeof buf, (off_t)(rnd() % MAXP) * PAGE + rnd() % PAGE);
            break;
        }
        case 6: fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(rnd() % MAXP) * PAGE, (rnd() % 4) * PAGE + rnd() % PAGE); break;
        case 7: if (maps[m].p) {
                char *q = mremap(maps[m].p, maps[m].len, (1 + rnd() % 16) * PAGE, MREMAP_MAYMOVE);
                if (q != MAP_FAILED) { maps[m].len = 0; maps[m].p = 0; munmap(q, PAGE); }
            } break;
        default: {
            struct map *mp = &maps[m];
            if (!mp->p) break;
            size_t at = rnd() % mp->len;
            fd = mp->fd;
            if (sigsetjmp(jb, 1) == 0) {
                off_t size = lseek(fd, 0, SEEK_END);
                if (mp->prot & PROT_WRITE && mp->shared && (off_t)(mp->off + at) < size) {
                    char v = (char)(rnd() | 1);
                    mp->p[at] = v;
                    char back = 0;
                    if (pread(fd, &back, 1, mp->off + at) == 1 && back != v) bad++;
                    done++;
                } else {
                    (void)*(volatile char *)(mp->p + at);
                }
            }
        }
        }
    }
    printf("ops %ld, writes through shared mappings checked %ld, incoherent %ld, SIGSEGV %d\n", ops, done, bad, segvs);
    return bad != 0 || segvs != 0;
}
