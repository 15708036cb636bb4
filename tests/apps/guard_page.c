/* Tests mprotect: a PROT_NONE page between two writable pages faults with SIGSEGV (status 139). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    volatile char *p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        printf("mmap: %s\n", errname(errno));
        return 1;
    }
    memset((char *)p, 'x', 3 * page);
    if (mprotect((char *)p + page, page, PROT_NONE) != 0) {
        printf("mprotect: %s\n", errname(errno));
        return 1;
    }
    p[0] = 'a';
    p[3 * page - 1] = 'c';
    printf("guard page ready, neighbours hold %c%c%c%c\n", p[0], p[1], p[3 * page - 2], p[3 * page - 1]);
    fflush(stdout);
    p[page + 100] = 'b';
    printf("wrote into the guard page?!\n");
    return 0;
}
