/* Tests the basics: argv and one env var reach the app, and its stdout reaches the host. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *who = argc > 1 ? argv[1] : "nobody";
    const char *greeting = getenv("GREETING");
    printf("%s, %s!\n", greeting ? greeting : "(no GREETING)", who);
    return 0;
}
