/* Memory exhaustion. `oom N`: mallocs N MiB in 1 MiB blocks, writing every page, then checks
 * every block; in a VM too small for N MiB, Linux's OOM killer ends it (SIGKILL) part way.
 * `oom huge`: malloc of 1 TiB, far more than the machine has, returns NULL (ENOMEM) under
 * Linux's default overcommit heuristic, and the program carries on. */
#include <string.h>
#include "compat.h"

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : "16";
    if (strcmp(arg, "huge") == 0) {
        errno = 0;
        void *p = malloc(1ull << 40);
        printf("malloc(1 TiB): %s (%s)\n", p ? "succeeded" : "NULL", errname(errno));
        free(p);
        void *q = malloc(1 << 20);
        printf("malloc(1 MiB) afterwards: %s\n", q ? "succeeded" : "NULL");
        free(q);
        return 0;
    }
    int mib = atoi(arg);
    unsigned char **blocks = calloc((size_t)mib, sizeof *blocks);
    int got = 0;
    for (; got < mib; got++) {
        blocks[got] = malloc(1 << 20);
        if (!blocks[got])
            break;
        for (size_t i = 0; i < (1 << 20); i += 4096)
            blocks[got][i] = (unsigned char)(got + i / 4096);
    }
    if (got < mib) {
        printf("malloc returned NULL after %d MiB\n", got);
        return 2;
    }
    int bad = 0;
    for (int b = 0; b < mib; b++)
        for (size_t i = 0; i < (1 << 20); i += 4096)
            if (blocks[b][i] != (unsigned char)(b + i / 4096))
                bad++;
    printf("allocated and wrote %d MiB, %s\n", mib, bad ? "CORRUPTED" : "contents intact");
    return bad != 0;
}
