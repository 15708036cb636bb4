/* madvise: MADV_DONTNEED drops anonymous pages (they read back zero) and private file pages
 * (they read back as the file); MADV_FREE lets the kernel drop pages or keep them, but a write
 * after it always stays; allocations freed and taken again through malloc (musl's frees large
 * slots with MADV_FREE) keep what was written; other advice is accepted; errors. mincore
 * tells touched pages from untouched ones. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* Whether `len` bytes at `p` are all `b`. */
static int all(const unsigned char *p, size_t len, unsigned char b) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != b) return 0;
    return 1;
}

int main(void) {
    unsigned char *p = mmap(NULL, 4 * PAGE, RW, ANON, -1, 0);
    if (p == MAP_FAILED) return 1;
    memset(p, 0xab, 4 * PAGE);
    int r = madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED);
    printf("DONTNEED: %s, dropped pages zero %s, others kept %s\n", errname(r ? errno : 0),
           all(p + PAGE, 2 * PAGE, 0) ? "yes" : "no",
           all(p, PAGE, 0xab) && all(p + 3 * PAGE, PAGE, 0xab) ? "yes" : "no");

    memset(p, 0xcd, 4 * PAGE);
    r = madvise(p, 4 * PAGE, MADV_FREE);
    /* Each page reads back as it was or as zeros, whichever the kernel chose for it. */
    int old_or_zero = 1;
    for (int i = 0; i < 4; i++) old_or_zero &= all(p + i * PAGE, PAGE, 0xcd) || all(p + i * PAGE, PAGE, 0);
    memset(p + 2 * PAGE, 0xef, PAGE);
    printf("FREE: %s, pages old or zero %s, a write after it kept %s\n", errname(r ? errno : 0),
           old_or_zero ? "yes" : "no", all(p + 2 * PAGE, PAGE, 0xef) ? "yes" : "no");

    /* A private mapping of a packaged file: dropped pages come back as the file's bytes. */
    int fd = open("/etc/app.conf", O_RDONLY);
    unsigned char file[PAGE] = {0};
    ssize_t got = fd < 0 ? -1 : read(fd, file, sizeof file);
    unsigned char *f = got <= 0 ? MAP_FAILED : mmap(NULL, PAGE, RW, MAP_PRIVATE, fd, 0);
    if (f == MAP_FAILED) return 1;
    memset(f, 0x11, PAGE);
    r = madvise(f, PAGE, MADV_DONTNEED);
    printf("DONTNEED on a private file mapping: %s, reads the file again %s\n", errname(r ? errno : 0),
           memcmp(f, file, PAGE) == 0 ? "yes" : "no");
    munmap(f, PAGE);
    close(fd);

    /* What an allocator does on every free and malloc of a large slot, many times. */
    long wrong = 0;
    for (int i = 0; i < 2000; i++) {
        unsigned char *a = malloc(20000), *b = malloc(20000);
        if (!a || !b) return 1;
        memset(a, i & 0xff, 20000);
        memset(b, ~i & 0xff, 20000);
        wrong += !all(a, 20000, i & 0xff) || !all(b, 20000, ~i & 0xff);
        free(a);
        free(b);
    }
    printf("malloc/free of 20000-byte blocks x2000: %ld wrong\n", wrong);

    r = madvise(p, 4 * PAGE, MADV_WILLNEED);
    printf("WILLNEED: %s, content kept %s\n", errname(r ? errno : 0),
           all(p + 2 * PAGE, PAGE, 0xef) ? "yes" : "no");
    r = madvise(p + 1, PAGE, MADV_DONTNEED);
    printf("unaligned: %s\n", r ? errname(errno) : "ok?");
    r = madvise(p, PAGE, 12345);
    printf("unknown advice: %s\n", r ? errname(errno) : "ok?");

    /* A touched page is in (untouched ones may be too: the VM fills a small anonymous
     * mapping when it is made, where Linux waits for each page's first touch). */
    char *q = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char vec[4] = {9, 9, 9, 9};
    q[PAGE] = 1;
    r = mincore(q, 4 * PAGE - 100, vec);
    printf("mincore, page 1 touched: %s, page 1 in %d\n", errname(r ? errno : 0), vec[1] & 1);
    r = mincore(q + 1, PAGE, vec);
    printf("mincore, unaligned: %s\n", r ? errname(errno) : "ok?");
    munmap(q + 3 * PAGE, PAGE);
    r = mincore(q, 4 * PAGE, vec);
    printf("mincore over an unmapped page: %s\n", r ? errname(errno) : "ok?");
    return 0;
}
