/* Tests the exit status: exits with argv[1] (the kernel keeps the low 8 bits). With a second
 * argument `thread`, another thread prints "bye" (no newline: exit flushes it) and exits the
 * process while the main thread waits for it: the status must come from that thread, and its
 * output must not be lost. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status = 99;

static void *exit_from_thread(void *arg) {
    printf("bye");
    exit(status);
    return arg;
}

int main(int argc, char **argv) {
    if (argc > 1)
        status = atoi(argv[1]);
    if (argc > 2 && strcmp(argv[2], "thread") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exit_from_thread, NULL);
        pthread_join(t, NULL);
        return 1; /* not reached: the thread ended the process */
    }
    return status;
}
