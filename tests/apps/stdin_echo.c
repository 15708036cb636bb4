/* Tests stdin: reads everything until EOF, prints the byte count, line count and FNV-1a checksum. */
#include <stdio.h>
#include <unistd.h>
#include "common.h"

int main(void) {
    unsigned char buf[4096];
    unsigned long long total = 0, lines = 0;
    unsigned h = 2166136261u;
    ssize_t n;

    while ((n = read(0, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            printf("read error: %s\n", errname(errno));
            return 1;
        }
        h = fnv1a(h, buf, (size_t)n);
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        total += (unsigned long long)n;
    }
    printf("bytes=%llu lines=%llu fnv1a=%08x\n", total, lines, h);
    /* A read after EOF must report EOF again, not block or fail. */
    printf("read after eof=%zd\n", read(0, buf, sizeof buf));
    return 0;
}
