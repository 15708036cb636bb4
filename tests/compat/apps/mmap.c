/* mmap churn: 3000 anonymous mmap/write/check/munmap cycles of 1..64 pages, partial munmap
 * (the middle of a mapping), mprotect to read-only and back, MAP_FIXED over a live mapping,
 * a MAP_SHARED anonymous mapping, and a file mapping of a packaged file. Every content is
 * checked, so stale pages would show. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "compat.h"

#define PAGE 4096

static int check_pattern(const unsigned char *p, size_t len, unsigned char seed) {
    for (size_t i = 0; i < len; i += 61)
        if (p[i] != (unsigned char)(seed ^ (i >> 12) ^ i))
            return 0;
    return 1;
}

static void put_pattern(unsigned char *p, size_t len, unsigned char seed) {
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(seed ^ (i >> 12) ^ i);
}

int main(void) {
    int bad = 0, fresh_dirty = 0, failed = 0;
    for (int i = 0; i < 3000; i++) {
        size_t len = (1 + rng() % 64) * PAGE;
        unsigned char seed = (unsigned char)rng();
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            failed++;
            continue;
        }
        for (size_t j = 0; j < len; j += PAGE)
            if (p[j] != 0 || p[j + PAGE - 1] != 0)
                fresh_dirty++;
        put_pattern(p, len, seed);
        if (!check_pattern(p, len, seed))
            bad++;
        munmap(p, len);
    }
    printf("mmap churn: 3000 cycles\n");
    CHECK("every mmap succeeded", failed == 0);
    CHECK("fresh anonymous pages are zero", fresh_dirty == 0);
    CHECK("every mapping kept its content", bad == 0);

    unsigned char *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    put_pattern(p, 16 * PAGE, 0x5a);
    CHECK("munmap the middle 4 pages", munmap(p + 6 * PAGE, 4 * PAGE) == 0);
    CHECK("the pages on both sides are intact",
          check_pattern(p, 6 * PAGE, 0x5a) && p[10 * PAGE] == (unsigned char)(0x5a ^ 10 ^ (10 * PAGE)));
    unsigned char *hole = mmap(p + 6 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK("MAP_FIXED refills the hole with zeros", hole == p + 6 * PAGE && hole[0] == 0 && hole[4 * PAGE - 1] == 0);
    CHECK("mprotect read-only", mprotect(p, 16 * PAGE, PROT_READ) == 0 && p[5] == (unsigned char)(0x5a ^ 5));
    CHECK("mprotect read-write again", mprotect(p, 16 * PAGE, PROT_READ | PROT_WRITE) == 0 && (p[5] = 1) == 1);
    unsigned char *over = mmap(p, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK("MAP_FIXED over a live mapping gives zeros", over == p && p[5] == 0 && p[15 * PAGE] == 0);
    munmap(p, 16 * PAGE);

    unsigned char *shared = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK("MAP_SHARED|MAP_ANONYMOUS", shared != MAP_FAILED && (shared[3 * PAGE] = 7) == 7 && shared[0] == 0);
    munmap(shared, 4 * PAGE);

    int fd = open("/usr/share/compat/text/users.txt", O_RDONLY);
    char *file = mmap(NULL, 236, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK("map a packaged file", file != MAP_FAILED && memcmp(file, "alice:1001", 10) == 0 && file[235] == '\n');
    char *cow = mmap(NULL, 236, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK("a private writable file mapping is copy-on-write", cow != MAP_FAILED && (cow[0] = 'A') == 'A' && file[0] == 'a');
    close(fd);

    EXPECT_ERR("mmap with length 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0, EINVAL);
    EXPECT_ERR("munmap of an unaligned address", munmap((void *)0x10001, PAGE), EINVAL);
    EXPECT_ERR("mmap a bad fd", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 99, 0) == MAP_FAILED ? -1 : 0, EBADF);
    return finish();
}
