/* Tests that mapping changes take effect: unmapped/replaced pages never show stale content. */
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

static const char *round_name = "?";

static void fail(const char *what) {
    printf("%s FAIL: %s (errno %s)\n", round_name, what, errname(errno));
    exit(1);
}

/* Whether every byte of p[0..len) equals c. */
static int all(const volatile unsigned char *p, size_t len, unsigned char c) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static unsigned char *map(void *addr, size_t len, int flags) {
    unsigned char *p = mmap(addr, len, RW, flags, -1, 0);
    if (p == MAP_FAILED)
        fail("mmap");
    if ((flags & MAP_FIXED) && p != addr)
        fail("MAP_FIXED mapping at another address");
    return p;
}

int main(void) {
    unsigned char *p, *q;

    /* 1: map, fill, unmap, map again at the same address: fresh zeros, then new content. */
    round_name = "round1 munmap+MAP_FIXED";
    p = map(NULL, PAGE, ANON);
    memset(p, 'A', PAGE);
    if (munmap(p, PAGE))
        fail("munmap");
    q = map(p, PAGE, ANON | MAP_FIXED);
    if (!all(q, PAGE, 0))
        fail("remapped page is not zero (stale content)");
    memset(q, 'B', PAGE);
    if (!all(q, PAGE, 'B'))
        fail("new content not visible");
    printf("%s: OK\n", round_name);

    /* 2: MAP_FIXED straight over a live mapping replaces it. */
    round_name = "round2 MAP_FIXED over live mapping";
    q = map(p, PAGE, ANON | MAP_FIXED);
    if (!all(q, PAGE, 0))
        fail("replaced page is not zero (stale content)");
    memset(q, 'C', PAGE);
    if (!all(q, PAGE, 'C'))
        fail("new content not visible");
    printf("%s: OK\n", round_name);

    /* 3: unmap, then map with the old address only as a hint: wherever it lands, it is zero. */
    round_name = "round3 munmap+hint";
    if (munmap(p, PAGE))
        fail("munmap");
    q = map(p, PAGE, ANON);
    if (!all(q, PAGE, 0))
        fail("hinted page is not zero (stale content)");
    memset(q, 'D', PAGE);
    if (!all(q, PAGE, 'D'))
        fail("new content not visible");
    if (munmap(q, PAGE))
        fail("munmap");
    printf("%s: OK\n", round_name);

    /* 4: 8 MiB: punch a hole across a 2 MiB boundary, refill it, then replace it all. */
    round_name = "round4 8 MiB mapping";
    size_t len = 8 << 20, pages = len / PAGE, lo = 400, hi = 700; /* 2 MiB = page 512 */
    p = map(NULL, len, ANON);
    for (size_t i = 0; i < pages; i++)
        memset(p + i * PAGE, (int)(i % 251) + 1, PAGE);
    if (munmap(p + lo * PAGE, (hi - lo) * PAGE))
        fail("munmap hole");
    map(p + lo * PAGE, (hi - lo) * PAGE, ANON | MAP_FIXED);
    for (size_t i = 0; i < pages; i++) {
        unsigned char want = i >= lo && i < hi ? 0 : (unsigned char)(i % 251 + 1);
        if (!all(p + i * PAGE, PAGE, want))
            fail(i >= lo && i < hi ? "refilled hole is not zero" : "page around the hole changed");
    }
    memset(p, 0xEE, len);
    if (munmap(p, len))
        fail("munmap all");
    map(p, len, ANON | MAP_FIXED);
    if (!all(p, len, 0))
        fail("remapped 8 MiB are not zero (stale content)");
    memset(p, 0x5A, len);
    if (!all(p, len, 0x5A))
        fail("new content not visible");
    if (munmap(p, len))
        fail("munmap");
    printf("%s: OK\n", round_name);

    /* 5: private file mapping of a packaged file, copy-on-write, then replaced by anonymous memory. */
    round_name = "round5 file mapping";
    char file[PAGE];
    int fd = open("/etc/app.conf", O_RDONLY);
    if (fd < 0)
        fail("open /etc/app.conf");
    ssize_t n = read(fd, file, sizeof file);
    if (n <= 0)
        fail("read /etc/app.conf");
    p = mmap(NULL, PAGE, RW, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        fail("mmap file");
    if (memcmp(p, file, (size_t)n) != 0)
        fail("mapped content differs from read()");
    if (!all(p + n, PAGE - (size_t)n, 0))
        fail("bytes past end of file are not zero");
    memset(p, '#', (size_t)n); /* private: must not reach the file */
    char again[PAGE];
    if (pread(fd, again, sizeof again, 0) != n || memcmp(again, file, (size_t)n) != 0)
        fail("write to a private mapping changed the file");
    if (munmap(p, PAGE))
        fail("munmap file");
    q = map(p, PAGE, ANON | MAP_FIXED);
    if (!all(q, PAGE, 0))
        fail("anonymous page over the old file mapping is not zero");
    q = mmap(p, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    if (q != p || memcmp(q, file, (size_t)n) != 0)
        fail("file mapped again over anonymous memory shows other content");
    close(fd);
    printf("%s: OK\n", round_name);

    printf("all rounds OK\n");
    return 0;
}
