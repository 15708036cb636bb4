/* Calls a one-process VM answers without doing anything, as Linux allows, once their arguments
 * are checked: the wait family (no child can exist: ECHILD), the mlock family (the guest never
 * pages memory out), readahead and sync_file_range (files live in memory); and, with the
 * argument "xattr", extended attributes, which no file system of the VM stores (VM only: the
 * host's file systems have them). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *name(int r) {
    if (r >= 0)
        return "ok";
    switch (errno) {
    case ECHILD: return "ECHILD";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case ESPIPE: return "ESPIPE";
    case ENOENT: return "ENOENT";
    case ENOTSUP: return "ENOTSUP";
    default: return strerror(errno);
    }
}

#define SHOW(what, call)                                 \
    do {                                                 \
        errno = 0;                                       \
        long r_ = (long)(call);                          \
        printf("%s: %s\n", what, name((int)r_));         \
    } while (0)

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "xattr") == 0) {
        char buf[64];
        SHOW("getxattr", getxattr("/bin/misc_calls", "user.note", buf, sizeof buf));
        SHOW("lgetxattr", lgetxattr("/bin/misc_calls", "user.note", buf, sizeof buf));
        SHOW("setxattr on /tmp", (close(open("/tmp/x", O_CREAT | O_WRONLY, 0600)),
                                  setxattr("/tmp/x", "user.note", "v", 1, 0)));
        SHOW("removexattr", removexattr("/tmp/x", "user.note"));
        printf("listxattr: %zd\n", listxattr("/tmp/x", buf, sizeof buf));
        SHOW("getxattr of a missing file", getxattr("/nonexistent", "user.note", buf, sizeof buf));
        int fd = open("/bin/misc_calls", O_RDONLY);
        SHOW("fgetxattr", fgetxattr(fd, "user.note", buf, sizeof buf));
        printf("flistxattr: %zd\n", flistxattr(fd, buf, sizeof buf));
        SHOW("fgetxattr of a closed fd", fgetxattr(99, "user.note", buf, sizeof buf));
        return 0;
    }
    int status;
    siginfo_t info;
    SHOW("wait", wait(&status));
    SHOW("waitpid WNOHANG", waitpid(-1, &status, WNOHANG));
    SHOW("wait4 with an unknown option", syscall(SYS_wait4, -1, &status, 0x10000, NULL));
    SHOW("waitid P_ALL WEXITED", waitid(P_ALL, 0, &info, WEXITED));
    SHOW("waitid without WEXITED", waitid(P_ALL, 0, &info, WNOHANG));

    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mlock", mlock(page + 100, 5000));
    SHOW("munlock", munlock(page, 8192));
    munmap(page + 4096, 4096);
    SHOW("mlock past the mapping", mlock(page, 8192));
    SHOW("mlockall", mlockall(MCL_CURRENT | MCL_FUTURE));
    SHOW("munlockall", munlockall());
    SHOW("mlockall without a flag", mlockall(0));

    int fd = open("/bin/misc_calls", O_RDONLY);
    int pipefd[2];
    pipe(pipefd);
    SHOW("readahead", readahead(fd, 0, 4096));
    SHOW("readahead of a pipe", readahead(pipefd[0], 0, 4096));
    int tmp = open("/tmp/f", O_CREAT | O_RDWR, 0600);
    write(tmp, "data", 4);
    SHOW("sync_file_range", sync_file_range(tmp, 0, 4, SYNC_FILE_RANGE_WRITE));
    SHOW("sync_file_range with an unknown flag", sync_file_range(tmp, 0, 4, 8));
    SHOW("sync_file_range of a pipe", sync_file_range(pipefd[1], 0, 4, SYNC_FILE_RANGE_WRITE));
    return 0;
}
