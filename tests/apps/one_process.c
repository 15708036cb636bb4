/* A uvm VM runs one process: fork and posix_spawn fail with ENOSYS, and uvm says why once on
 * stderr. A VM-only case: natively these calls succeed. (execve, which keeps the one process,
 * is served: tests/apps/exec.c.) */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *outcome(int error) { return error == ENOSYS ? "ENOSYS" : strerror(error); }

static void try_fork(const char *label) {
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        waitpid(pid, NULL, 0);
        printf("%s: a child\n", label);
    } else {
        printf("%s: %s\n", label, outcome(errno));
    }
}

int main(void) {
    char *argv[] = {"true", NULL};
    pid_t pid;

    try_fork("fork");
    int error = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
    printf("posix_spawn: %s\n", error == 0 ? "a child" : outcome(error));
    try_fork("fork again");
    return 0;
}
