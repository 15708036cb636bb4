/* Tests waiting on the host's stdin: `poll_stdin poll|select MS` waits up to MS milliseconds
 * (-1: for ever) for input, then reports what it saw and what a read returns. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int ms = argc > 2 ? atoi(argv[2]) : -1;
    int ready;
    if (argc > 1 && strcmp(argv[1], "select") == 0) {
        fd_set in;
        FD_ZERO(&in);
        FD_SET(0, &in);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        ready = select(1, &in, NULL, NULL, ms < 0 ? NULL : &tv);
    } else {
        struct pollfd p = {0, POLLIN, 0};
        ready = poll(&p, 1, ms);
    }
    if (ready == 0) {
        printf("nothing to read after %d ms\n", ms);
        return 0;
    }
    char buf[64];
    ssize_t n = read(0, buf, sizeof buf);
    printf("ready: %d, read %zd bytes\n", ready, n);
    return 0;
}
