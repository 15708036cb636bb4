/* Tests guest RAM size: maps and touches argv[1] MiB of anonymous memory (needs --memory-mib large enough). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "common.h"

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1, len = mib << 20;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned long long sum = 0;

    if (p == MAP_FAILED) {
        printf("mmap %zu MiB: %s\n", mib, errname(errno));
        return 1;
    }
    for (size_t i = 0; i < len; i += 4096)
        p[i] = (unsigned char)(i >> 12);
    for (size_t i = 0; i < len; i += 4096)
        sum += p[i];
    printf("touched %zu MiB, checksum %llu\n", mib, sum);
    return 0;
}
