/* Tests abort(): SIGABRT kills the app (status 134), also when a SIGABRT handler runs and
 * returns (with argument "handler"): abort() then restores the default and raises again. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_abrt(int sig) {
    static const char msg[] = "SIGABRT handler ran\n";

    (void)sig;
    write(1, msg, sizeof msg - 1);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "handler") == 0)
        signal(SIGABRT, on_abrt);
    printf("about to abort\n");
    fflush(stdout);
    abort();
    printf("still alive after abort?!\n");
    return 0;
}
