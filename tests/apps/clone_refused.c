/* A clone that asks for a process sharing its parent's fd table (CLONE_FILES) or working
 * directory (CLONE_FS) is not served: it fails with ENOSYS, and uvm says why once on stderr.
 * A VM-only case: natively these calls succeed. (fork, vfork and posix_spawn are served:
 * tests/apps/fork.c.) */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void try_clone(const char *label, unsigned long flags) {
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        waitpid((pid_t)pid, NULL, 0);
        printf("%s: a child\n", label);
    } else {
        printf("%s: %s\n", label, errno == ENOSYS ? "ENOSYS" : "another error");
    }
}

int main(void) {
    try_clone("clone CLONE_FILES", CLONE_FILES);
    try_clone("clone CLONE_FS", CLONE_FS);
    pid_t pid = fork();
    if (pid == 0)
        _exit(4);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("fork: a child that exited %d\n", WEXITSTATUS(status));
    return 0;
}
