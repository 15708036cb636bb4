/* Tests mremap: growing in place, moving (MAYMOVE, FIXED), shrinking, with the content kept; realloc of big blocks. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s (errno %s)\n", what, errname(errno));
        exit(1);
    }
}

/* Fills page i of p with i + 1 (pages first..first+count). */
static void fill(unsigned char *p, size_t first, size_t count) {
    for (size_t i = first; i < first + count; i++)
        memset(p + i * PAGE, (int)(i + 1), PAGE);
}

/* Whether page i of p holds i + 1 (pages 0..count). */
static int intact(const unsigned char *p, size_t count) {
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < PAGE; j++)
            if (p[i * PAGE + j] != (unsigned char)(i + 1))
                return 0;
    return 1;
}

static int zero(const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Whether [p, p + len) is mapped: msync says ENOMEM for an unmapped range. */
static const char *mapped(void *p, size_t len) {
    errno = 0;
    int r = msync(p, len, MS_ASYNC);
    return r == 0 ? "mapped" : errno == ENOMEM ? "unmapped" : errname(errno);
}

int main(void) {
    /* 1: grow in place: the pages after the mapping are free (the upper half was unmapped). */
    unsigned char *p = mmap(NULL, 4 * PAGE, RW, ANON, -1, 0);
    check(p != MAP_FAILED, "mmap");
    check(munmap(p + 2 * PAGE, 2 * PAGE) == 0, "munmap");
    fill(p, 0, 2);
    unsigned char *q = mremap(p, 2 * PAGE, 4 * PAGE, 0);
    printf("grow in place: %s, content kept %s, new pages zero %s\n", q == p ? "same address" : "moved?",
           q != MAP_FAILED && intact(q, 2) ? "yes" : "no", q != MAP_FAILED && zero(q + 2 * PAGE, 2 * PAGE) ? "yes" : "no");
    fill(p, 2, 2);

    /* 2: grow where the next page is taken: ENOMEM without MREMAP_MAYMOVE, a move with it. */
    errno = 0;
    q = mremap(p, PAGE, 2 * PAGE, 0);
    printf("grow into the next page without MAYMOVE: %s\n", q == MAP_FAILED ? errname(errno) : "grew?");
    /* Make sure the page after the mapping is taken (EEXIST: it already was). */
    void *guard = mmap(p + 4 * PAGE, PAGE, PROT_NONE, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    check(guard != MAP_FAILED || errno == EEXIST, "guard page");
    q = mremap(p, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    check(q != MAP_FAILED, "mremap MAYMOVE");
    printf("grow with MAYMOVE: moved %s, content kept %s, new pages zero %s, old range %s\n", q != p ? "yes" : "no",
           intact(q, 4) ? "yes" : "no", zero(q + 4 * PAGE, 4 * PAGE) ? "yes" : "no", mapped(p, 4 * PAGE));
    if (guard != MAP_FAILED)
        check(munmap(guard, PAGE) == 0, "munmap guard");
    p = q;

    /* 3: move one page out of the middle of a mapping. */
    q = mremap(p + PAGE, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    check(q != MAP_FAILED, "mremap middle");
    printf("middle page moved: %s, holds 2 %s; left of the hole %s, hole %s, right %s\n",
           q != p + PAGE ? "yes" : "no", q[0] == 2 && q[PAGE - 1] == 2 ? "yes" : "no",
           p[0] == 1 ? "intact" : "changed", mapped(p + PAGE, PAGE), p[2 * PAGE] == 3 ? "intact" : "changed");
    check(munmap(q, 3 * PAGE) == 0, "munmap moved page");

    /* 4: MREMAP_FIXED onto another mapping, which it replaces. */
    unsigned char *target = mmap(NULL, 2 * PAGE, RW, ANON, -1, 0);
    check(target != MAP_FAILED, "mmap target");
    memset(target, 'T', 2 * PAGE);
    q = mremap(p + 2 * PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    printf("MREMAP_FIXED: at the target %s, holds pages 3 and 4 %s, source %s\n", q == target ? "yes" : "no",
           q == target && q[0] == 3 && q[PAGE] == 4 ? "yes" : "no", mapped(p + 2 * PAGE, 2 * PAGE));

    /* 5: shrink: the tail is unmapped. */
    q = mremap(target, 2 * PAGE, PAGE, 0);
    printf("shrink: same address %s, first page %s, tail %s\n", q == target ? "yes" : "no",
           q[0] == 3 ? "kept" : "lost", mapped(target + PAGE, PAGE));

    /* 6: errors. */
    errno = 0;
    q = mremap(target + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
    printf("unaligned: %s\n", q == MAP_FAILED ? errname(errno) : "ok?");
    errno = 0;
    q = mremap(target, PAGE, 0, MREMAP_MAYMOVE);
    printf("new size 0: %s\n", q == MAP_FAILED ? errname(errno) : "ok?");
    errno = 0;
    q = mremap(target, PAGE, PAGE, MREMAP_FIXED, p);
    printf("MREMAP_FIXED without MAYMOVE: %s\n", q == MAP_FAILED ? errname(errno) : "ok?");
    errno = 0;
    q = mremap(target, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    printf("range past the mapping: %s\n", q == MAP_FAILED ? errname(errno) : "ok?");
    errno = 0;
    q = mremap(p + PAGE, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
    printf("nothing mapped there: %s\n", q == MAP_FAILED ? errname(errno) : "ok?");

    /* 7: realloc of large blocks (mmap'd by malloc, grown with mremap by both libcs). */
    size_t len = 1 << 20;
    unsigned char *block = malloc(len);
    check(block != NULL, "malloc");
    for (size_t i = 0; i < len; i++)
        block[i] = (unsigned char)(i * 13 + 5);
    unsigned h = fnv1a(2166136261u, block, len);
    block = realloc(block, 16 * len);
    check(block != NULL, "realloc up");
    printf("realloc 1 MiB -> 16 MiB: content kept %s\n", fnv1a(2166136261u, block, len) == h ? "yes" : "no");
    memset(block + len, 0x77, 15 * len);
    block = realloc(block, len / 2);
    check(block != NULL, "realloc down");
    int kept = 1;
    for (size_t i = 0; i < len / 2; i++)
        kept &= block[i] == (unsigned char)(i * 13 + 5);
    printf("realloc -> 512 KiB: content kept %s\n", kept ? "yes" : "no");
    free(block);
    return 0;
}
