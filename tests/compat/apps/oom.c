/* Memory exhaustion. `oom N`: mallocs N MiB in 1 MiB blocks, writing every page, then checks
 * every block; in a VM too small for N MiB, Linux's OOM killer ends it (SIGKILL) part way.
 * `oom huge`: malloc of 1 TiB, far more than the machine has, returns NULL (ENOMEM) under
 * Linux's default overcommit heuristic, and the program carries on.
 * The kernel's own memory, which the app grows through calls:
 * `oom files DIR`: empty files in DIR until a create fails (a full tmpfs: ENOSPC) or 300000
 * are made; then all are removed and a new file takes 16 MiB of data.
 * `oom sigqueue`: a blocked real-time signal queued until sigqueue fails: EAGAIN once
 * RLIMIT_SIGPENDING are queued (the user's count on Linux: the process's own here).
 * `oom mappings`: one-page mappings made and written until mmap fails. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include "compat.h"

#define MOST_FILES 300000

static int many_files(const char *dir) {
    char path[256];
    long made = 0;
    int err = 0;
    for (; made < MOST_FILES; made++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, made);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) {
            err = errno;
            break;
        }
        close(fd);
    }
    printf("files in %s: %s after %s\n", dir, made == MOST_FILES ? "all made" : errname(err),
           made > 10000 ? "more than 10000" : "too few");
    for (long i = 0; i < made; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        if (unlink(path) != 0) {
            printf("unlink %s: %s\n", path, errname(errno));
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/after", dir);
    /* Its data takes frames the files' kernel memory gave back. */
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    static char data[1 << 20];
    memset(data, 'x', sizeof data);
    long wrote = 0;
    for (int i = 0; fd >= 0 && i < 16 && write(fd, data, sizeof data) == (ssize_t)sizeof data; i++)
        wrote += sizeof data;
    printf("all removed; a new file afterwards: %s\n", wrote == 16 << 20 ? "16 MiB written" : errname(errno));
    if (fd >= 0)
        close(fd);
    unlink(path);
    return 0;
}

static int queued_signals(void) {
    struct rlimit limit;
    getrlimit(RLIMIT_SIGPENDING, &limit);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    long queued = 0;
    union sigval value = {0};
    while (queued <= (long)limit.rlim_cur && sigqueue(getpid(), SIGRTMIN, value) == 0)
        queued++;
    int err = errno;
    /* Linux counts every signal pending for the user, so a few of other processes may count. */
    int at_limit = queued <= (long)limit.rlim_cur && queued + 64 >= (long)limit.rlim_cur;
    printf("sigqueue: %s %s RLIMIT_SIGPENDING\n", errname(err), at_limit ? "at" : "not at");
    return 0;
}

static int many_mappings(void) {
    for (long made = 0;; made++) {
        char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) {
            printf("mmap: %s after %s mappings\n", errname(errno), made > 10000 ? "more than 10000" : "a few");
            return 0;
        }
        page[0] = 1;
    }
}

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : "16";
    if (strcmp(arg, "files") == 0 && argc > 2)
        return many_files(argv[2]);
    if (strcmp(arg, "sigqueue") == 0)
        return queued_signals();
    if (strcmp(arg, "mappings") == 0)
        return many_mappings();
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
