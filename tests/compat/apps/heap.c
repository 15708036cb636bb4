/* Heap churn: 100000 malloc/free/realloc/calloc operations of random sizes (1 B .. 1 MiB,
 * so both the brk heap and mmap'd chunks), every block filled with a pattern and checked
 * before it is resized or freed; then a check that freed memory is reused. */
#include <string.h>
#include "compat.h"

#define SLOTS 512

struct block {
    unsigned char *p;
    size_t len;
    unsigned char seed;
};

static void fill(struct block *b) {
    for (size_t i = 0; i < b->len; i++)
        b->p[i] = (unsigned char)(b->seed + i * 7);
}

static int intact(const struct block *b, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (b->p[i] != (unsigned char)(b->seed + i * 7))
            return 0;
    return 1;
}

static size_t random_size(void) {
    uint64_t r = rng();
    if (r % 64 == 0)
        return 1 + (r >> 8) % (1 << 20); /* up to 1 MiB: mmap'd by malloc */
    if (r % 64 < 6)
        return 1 + (r >> 8) % 65536;
    return 1 + (r >> 8) % 512;
}

int main(void) {
    static struct block slots[SLOTS];
    long ops = 0, checked = 0, bad = 0, nulls = 0;
    unsigned long long bytes = 0;

    for (int round = 0; round < 100000; round++) {
        struct block *b = &slots[rng() % SLOTS];
        int what = (int)(rng() % 4);
        ops++;
        if (b->p) {
            checked++;
            if (!intact(b, b->len))
                bad++;
            if (what == 0) { /* realloc: the common prefix must survive */
                size_t len = random_size();
                unsigned char *p = realloc(b->p, len);
                if (!p) {
                    nulls++;
                    continue;
                }
                b->p = p;
                size_t keep = len < b->len ? len : b->len;
                if (!intact(b, keep))
                    bad++;
                b->len = len;
                fill(b);
                bytes += len;
                continue;
            }
            free(b->p);
            b->p = NULL;
            continue;
        }
        b->len = random_size();
        b->seed = (unsigned char)rng();
        if (what == 1) {
            b->p = calloc(1, b->len);
            if (b->p)
                for (size_t i = 0; i < b->len; i++)
                    if (b->p[i])
                        bad++;
        } else {
            b->p = malloc(b->len);
        }
        if (!b->p) {
            nulls++;
            continue;
        }
        fill(b);
        bytes += b->len;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].p) {
            checked++;
            if (!intact(&slots[i], slots[i].len))
                bad++;
            free(slots[i].p);
        }
    }
    printf("malloc churn: %ld operations, %ld blocks checked\n", ops, checked);
    CHECK("every block kept its content", bad == 0);
    CHECK("no allocation failed", nulls == 0);
    CHECK("more than 256 MiB allocated in all", bytes > (256ull << 20));

    /* 64 MiB in 1 MiB pieces, freed, then again: a VM with 64 MiB can only do it with reuse. */
    int reused = 1;
    for (int pass = 0; pass < 8 && reused; pass++) {
        unsigned char *ps[8];
        for (int i = 0; i < 8; i++) {
            ps[i] = malloc(1 << 20);
            if (!ps[i]) {
                reused = 0;
                break;
            }
            memset(ps[i], pass + i, 1 << 20);
        }
        for (int i = 0; i < 8 && ps[i]; i++) {
            if (ps[i][12345] != (unsigned char)(pass + i))
                reused = 0;
            free(ps[i]);
        }
    }
    CHECK("8 passes of 8 x 1 MiB malloc/memset/free", reused);
    return finish();
}
