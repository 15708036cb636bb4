/* Reads and writes of many sizes (4 KiB to 516 KiB, pseudo-random) through a tmpfs file and
 * a pipe, ROUNDS times (default 3000), each checked; prints "io_sizes: ROUNDS rounds, every
 * byte back" or the first mismatch. The guest kernel's heap holds a buffer the size of each
 * call: its free runs must merge, or it grows with every new size (`uvm run --timings` shows
 * the guest's memory in use). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char out[(512 << 10) + 4096], in[(512 << 10) + 4096];

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3000;
    int fd = open("/tmp/io_sizes", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    unsigned seed = 1;
    for (int i = 0; i < rounds; i++) {
        seed = seed * 1103515245 + 12345;
        size_t n = 4096 + (seed >> 8) % (512 << 10);
        memset(out, i & 0xff, n);
        int p[2];
        if (pwrite(fd, out, n, 0) != (ssize_t)n || pread(fd, in, n, 0) != (ssize_t)n || memcmp(in, out, n) != 0 ||
            pipe(p) != 0) {
            printf("io_sizes: round %d (%zu bytes) through the file FAILED\n", i, n);
            return 1;
        }
        size_t m = n < 60000 ? n : 60000;
        ssize_t w = write(p[1], out, m), r = read(p[0], in, n);
        close(p[0]);
        close(p[1]);
        if (w != (ssize_t)m || r != (ssize_t)m || memcmp(in, out, m) != 0) {
            printf("io_sizes: round %d (%zu bytes) through a pipe FAILED\n", i, m);
            return 1;
        }
    }
    printf("io_sizes: %d rounds, every byte back\n", rounds);
    return 0;
}
