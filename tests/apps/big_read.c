/* Tests large reads of a packaged file (served by the VMM) against small ones (served in the
 * guest): reads its own binary with read() in 4 KiB and in 300001-byte pieces (odd sizes,
 * unaligned buffer), and with pread() at odd offsets, and compares FNV-1a hashes. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    while (n--)
        h = (h ^ *p++) * 0x100000001b3ULL;
    return h;
}

static uint64_t hash_reads(const char *path, size_t piece, char *buf) {
    int fd = open(path, O_RDONLY);
    uint64_t h = 0xcbf29ce484222325ULL;
    ssize_t n;
    while ((n = read(fd, buf, piece)) > 0)
        h = fnv(h, (unsigned char *)buf, n);
    close(fd);
    return h;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/bin/big_read";
    char *buf = malloc((1 << 21) + 7) + 3; /* unaligned on purpose */
    uint64_t small = hash_reads(path, 4096, buf);
    uint64_t large = hash_reads(path, 300001, buf);
    int fd = open(path, O_RDONLY);
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET); /* pread must not move the position */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (off_t at = 0; at < size; at += 200003) {
        ssize_t n = pread(fd, buf, 200003, at);
        h = fnv(h, (unsigned char *)buf, n);
    }
    uint64_t small_again = 0xcbf29ce484222325ULL;
    for (off_t at = 0; at < size; at += 200003) {
        for (off_t k = at; k < at + 200003 && k < size; k += 4096) {
            size_t want = (size_t)(at + 200003 - k) < 4096 ? (size_t)(at + 200003 - k) : 4096;
            ssize_t n = pread(fd, buf, want, k);
            small_again = fnv(small_again, (unsigned char *)buf, n);
        }
    }
    printf("read: large pieces %s small pieces\n", small == large ? "match" : "DIFFER FROM");
    printf("pread: large pieces %s small pieces\n", h == small_again ? "match" : "DIFFER FROM");
    printf("position after preads: %s\n", lseek(fd, 0, SEEK_CUR) == 0 ? "unchanged" : "MOVED");
    return 0;
}
