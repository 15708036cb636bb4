/* dac: file permissions against user and group ids, as a daemon that dropped root meets
 * them. Root makes files and directories of several modes; a child that became uid 1000
 * (gid 100, group 50) then opens, reads, writes, creates, removes, renames, searches,
 * lists, runs and changes them, and is refused where Linux refuses it (EACCES, EPERM); root
 * is refused only what needs an execute bit; access() answers for the real ids and
 * faccessat(AT_EACCESS) for the effective ones. Prints facts only. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void make(const char *path, mode_t mode, gid_t gid) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    write(fd, "data\n", 5);
    close(fd);
    chown(path, 0, gid);
    chmod(path, mode);
}

/* Copies this program to `path` with `mode`. */
static void copy_self(const char *path, mode_t mode) {
    int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0700);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        write(out, buf, (size_t)n);
    close(in);
    close(out);
    chmod(path, mode);
}

static const char *try_open(const char *path, int flags) {
    int fd = open(path, flags);
    const char *r = call_result(fd < 0 ? -1 : 0);
    if (fd >= 0)
        close(fd);
    return r;
}

/* Runs `path` (this program) with "hello" and says how it ended or why it could not. */
static const char *run(const char *path) {
    static char buf[32];
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)path, "hello", NULL};
        execv(path, argv);
        _exit(errno == EACCES ? 13 : 99);
    }
    int status;
    waitpid(pid, &status, 0);
    int code = WEXITSTATUS(status);
    snprintf(buf, sizeof buf, "%s", code == 7 ? "ran" : code == 13 ? "EACCES" : "other");
    return buf;
}

static void as_user(void) {
    gid_t groups[] = {50};
    setgroups(1, groups);
    setgid(100);
    setuid(1000);
    printf("as uid 1000, gid 100, group 50:\n");
    printf("  read root's 0600 file: %s\n", try_open("/tmp/d/secret", O_RDONLY));
    printf("  read a 0640 file of group 50: %s\n", try_open("/tmp/d/shared", O_RDONLY));
    printf("  write it: %s\n", try_open("/tmp/d/shared", O_WRONLY));
    printf("  read a 0644 file: %s\n", try_open("/tmp/d/public", O_RDONLY));
    printf("  write it: %s\n", try_open("/tmp/d/public", O_RDWR));
    printf("  truncate it: %s\n", call_result(truncate("/tmp/d/public", 0)));
    printf("  open in a 0700 directory: %s\n", try_open("/tmp/private/x", O_RDONLY));
    struct stat st;
    printf("  stat in it: %s\n", call_result(stat("/tmp/private/x", &st)));
    printf("  list it: %s\n", opendir("/tmp/private") ? "0" : call_result(-1));
    printf("  chdir into it: %s\n", call_result(chdir("/tmp/private")));
    printf("  create in a 0755 directory of root's: %s\n", try_open("/tmp/d/new", O_CREAT | O_WRONLY));
    printf("  mkdir there: %s\n", call_result(mkdir("/tmp/d/newdir", 0755)));
    printf("  unlink there: %s\n", call_result(unlink("/tmp/d/public")));
    printf("  access R_OK root's 0600 file: %s\n", call_result(access("/tmp/d/secret", R_OK)));
    printf("  access R_OK a 0640 file of group 50: %s\n", call_result(access("/tmp/d/shared", R_OK)));
    printf("  access W_OK a 0644 file: %s\n", call_result(access("/tmp/d/public", W_OK)));
    printf("  chmod root's file: %s\n", call_result(chmod("/tmp/d/public", 0666)));
    printf("  utimensat now on root's file: %s\n", call_result(utimensat(AT_FDCWD, "/tmp/d/public", NULL, 0)));
    struct timespec times[2] = {{1, 0}, {1, 0}};
    printf("  utimensat to a time: %s\n", call_result(utimensat(AT_FDCWD, "/tmp/d/public", times, 0)));
    printf("  run a 0700 program of root's: %s\n", run("/tmp/d/tool-private"));
    printf("  run a 0755 one: %s\n", run("/tmp/d/tool"));
    printf("  run a 0711 one (no read permission): %s\n", run("/tmp/d/tool-run-only"));
    printf("  make a file in sticky /tmp/s: %s\n", try_open("/tmp/s/mine", O_CREAT | O_WRONLY));
    stat("/tmp/s/mine", &st);
    printf("  it is owned by %u:%u\n", st.st_uid, st.st_gid);
    printf("  chown it to root: %s\n", call_result(chown("/tmp/s/mine", 0, -1)));
    printf("  chgrp it to group 50: %s\n", call_result(chown("/tmp/s/mine", -1, 50)));
    printf("  chgrp it to group 7: %s\n", call_result(chown("/tmp/s/mine", -1, 7)));
    printf("  chmod it: %s\n", call_result(chmod("/tmp/s/mine", 0640)));
    printf("  unlink root's file there: %s\n", call_result(unlink("/tmp/s/roots")));
    printf("  rename root's file there: %s\n", call_result(rename("/tmp/s/roots", "/tmp/s/moved")));
    printf("  rename its own: %s\n", call_result(rename("/tmp/s/mine", "/tmp/s/mine2")));
    printf("  unlink its own: %s\n", call_result(unlink("/tmp/s/mine2")));
}

static void real_and_effective(void) {
    setresuid(1000, 0, 0);
    printf("real uid 1000, effective 0:\n");
    printf("  open root's 0600 file: %s\n", try_open("/tmp/d/secret", O_RDONLY));
    printf("  access R_OK (real ids): %s\n", call_result(access("/tmp/d/secret", R_OK)));
    printf("  faccessat AT_EACCESS (effective): %s\n",
           call_result(faccessat(AT_FDCWD, "/tmp/d/secret", R_OK, AT_EACCESS)));
}

static void in_child(void (*scenario)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        scenario();
        exit(0);
    }
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "hello") == 0)
        return 7;
    mkdir("/tmp/d", 0755);
    make("/tmp/d/secret", 0600, 0);
    make("/tmp/d/shared", 0640, 50);
    make("/tmp/d/public", 0644, 0);
    copy_self("/tmp/d/tool", 0755);
    copy_self("/tmp/d/tool-private", 0700);
    copy_self("/tmp/d/tool-run-only", 0711);
    mkdir("/tmp/private", 0700);
    make("/tmp/private/x", 0644, 0);
    mkdir("/tmp/s", 0777);
    chmod("/tmp/s", 01777);
    make("/tmp/s/roots", 0666, 0);
    printf("as root:\n");
    printf("  read a 0000 file: %s\n", (chmod("/tmp/d/secret", 0), try_open("/tmp/d/secret", O_RDWR)));
    chmod("/tmp/d/secret", 0600);
    printf("  access X_OK a 0644 file: %s\n", call_result(access("/tmp/d/public", X_OK)));
    printf("  access X_OK a 0700 file: %s\n", call_result(access("/tmp/d/tool-private", X_OK)));
    printf("  run a 0644 file: %s\n", (chmod("/tmp/d/public", 0644), run("/tmp/d/public")));
    in_child(as_user);
    in_child(real_and_effective);
    return 0;
}
