/* Tests that stdout and stderr stay apart (and are fully flushed) and that the exit status is kept. */
#include <stdio.h>

int main(void) {
    printf("this goes to stdout\n");
    fprintf(stderr, "this goes to stderr\n");
    for (int i = 1; i <= 2000; i++)
        printf("stdout line %04d\n", i);
    for (int i = 1; i <= 200; i++)
        fprintf(stderr, "stderr line %03d\n", i);
    printf("stdout done\n");
    fprintf(stderr, "stderr done, exiting with 3\n");
    return 3;
}
