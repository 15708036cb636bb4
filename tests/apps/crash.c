/* Tests fault reporting: a write through a wild pointer kills the app with SIGSEGV (status 139). */
#include <stdio.h>

int main(void) {
    int *volatile wild = (int *)0x10;

    printf("about to write through 0x10\n");
    fflush(stdout);
    *wild = 42;
    printf("still alive?!\n");
    return 0;
}
