/* The cold-start benchmark's app: the smallest useful program, one line of output. */
#include <stdio.h>

int main(void) {
    puts("hello");
    return 0;
}
