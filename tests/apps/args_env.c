/* Tests the process start state: argc/argv (argv[0] = binary name), the exact environment, the cwd. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    static const char *names[] = {"GREETING", "MODE", "EMPTY", "SPACES", "EQUALS", "EXTRA",
                                  "PATH", "HOME", "UVM_HOST_LEAK"};
    char cwd[4096];
    int envc = 0;

    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=<%s>\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        envc++;
    printf("envc=%d\n", envc);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v)
            printf("%s=<%s>\n", names[i], v);
        else
            printf("%s unset\n", names[i]);
    }
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "(getcwd failed)");
    return 0;
}
