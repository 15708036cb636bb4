/* creds: user and group ids, as su-exec, gosu and daemons that drop root use them. Starts
 * as root (or as the user `uvm run --user` names: with an argument "user" it only reports
 * what it was started as). Each scenario runs in a child of its own, so they start alike:
 * supplementary groups, setuid/setgid as root and after, setreuid's saved-id rule,
 * setresuid and a way back to root through the saved uid, setfsuid, the capabilities that
 * follow the uids (PR_SET_KEEPCAPS), the owner of a file made, a signal's si_uid, a forked
 * child's ids, /proc/self/status's lines, and who owns its /proc files (root once its ids
 * changed, until PR_SET_DUMPABLE). Prints facts only (capabilities as relations:
 * the host's root may lack some). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* The value of `key` (e.g. "CapEff:") in /proc/self/status, as text. */
static const char *status_line(const char *key) {
    static char value[128];
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *at = strstr(buf, key);
    value[0] = 0;
    if (at) {
        at += strlen(key);
        while (*at == '\t' || *at == ' ')
            at++;
        size_t len = strcspn(at, "\n");
        if (len >= sizeof value)
            len = sizeof value - 1;
        memcpy(value, at, len);
        value[len] = 0;
    }
    return value;
}

static uint64_t cap_set(const char *key) { return strtoull(status_line(key), NULL, 16); }

/* The capabilities as relations: the permitted set is the bounding set ("all"), or none;
 * the effective set is the permitted one, or none. */
static void print_caps(const char *when) {
    uint64_t prm = cap_set("CapPrm:"), eff = cap_set("CapEff:"), bnd = cap_set("CapBnd:");
    printf("  %s: permitted %s, effective %s\n", when, prm == bnd ? "all" : prm == 0 ? "none" : "some",
           eff == 0 ? "none" : eff == prm ? "all permitted" : "some");
}

static void print_ids(const char *when) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("  %s: uid %u %u %u fs %d, gid %u %u %u fs %d\n", when, r, e, s, setfsuid(-1), gr, ge, gs, setfsgid(-1));
}

static void print_groups(void) {
    gid_t list[16];
    int n = getgroups(16, list);
    printf("  groups (%d):", n);
    for (int i = 0; i < n; i++)
        printf(" %u", list[i]);
    printf("\n");
}

/* Runs `scenario` in a child and waits for it. */
static void in_child(const char *name, void (*scenario)(void)) {
    printf("%s:\n", name);
    pid_t pid = fork();
    if (pid == 0) {
        scenario();
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
}

static void groups(void) {
    gid_t want[] = {30, 10, 20, 10};
    printf("  setgroups: %s\n", call_result(setgroups(4, want)));
    print_groups();
    printf("  getgroups(0): %d\n", getgroups(0, NULL));
    gid_t small[1];
    printf("  getgroups(1): %s\n", call_result(getgroups(1, small)));
    printf("  status Groups: %s\n", status_line("Groups:"));
    printf("  setgroups(-1): %s\n", call_result(setgroups((size_t)-1, want)));
    printf("  setgroups(0): %s\n", call_result(setgroups(0, NULL)));
    print_groups();
}

static void drop_for_good(void) {
    setgroups(0, NULL);
    printf("  setgid(100): %s\n", call_result(setgid(100)));
    printf("  setuid(1000): %s\n", call_result(setuid(1000)));
    print_ids("after");
    print_caps("after");
    printf("  setuid(0): %s\n", call_result(setuid(0)));
    printf("  setgid(0): %s\n", call_result(setgid(0)));
    gid_t one = 5;
    printf("  setgroups: %s\n", call_result(setgroups(1, &one)));
    printf("  setuid(1000) again: %s\n", call_result(setuid(1000)));
    printf("  setuid(-1): %s\n", call_result(setuid((uid_t)-1)));
    struct stat environ;
    stat("/proc/self/environ", &environ);
    int environ_fd = open("/proc/self/environ", O_RDONLY);
    printf("  its /proc/self/environ: owner %u:%u, readable %s\n", environ.st_uid, environ.st_gid,
           environ_fd >= 0 ? "yes" : "no");
    close(environ_fd);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    stat("/proc/self/environ", &environ);
    environ_fd = open("/proc/self/environ", O_RDONLY);
    printf("  dumpable again: owner %u:%u, readable %s\n", environ.st_uid, environ.st_gid, environ_fd >= 0 ? "yes" : "no");
    close(environ_fd);
    printf("  status Uid: %s\n", status_line("Uid:"));
    printf("  status Gid: %s\n", status_line("Gid:"));
    int fd = open("/tmp/made-by-1000", O_CREAT | O_WRONLY, 0600);
    struct stat st;
    fstat(fd, &st);
    printf("  a file it made: owner %u:%u\n", st.st_uid, st.st_gid);
    close(fd);
    /* Natively the file would need a root to remove it; the VM goes anyway. */
    pid_t pid = fork();
    if (pid == 0) {
        printf("  its child: uid %u, euid %u, gid %u\n", getuid(), geteuid(), getgid());
        exit(0);
    }
    waitpid(pid, NULL, 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    kill(getpid(), SIGUSR1);
    siginfo_t info;
    sigwaitinfo(&usr1, &info);
    printf("  a signal it sent itself: si_uid %u\n", info.si_uid);
}

static void saved_root(void) {
    printf("  setresgid(100, 100, 0): %s\n", call_result(setresgid(100, 100, 0)));
    printf("  setresuid(1000, 1000, 0): %s\n", call_result(setresuid(1000, 1000, 0)));
    print_ids("after");
    print_caps("after");
    printf("  setresuid(5, -1, -1): %s\n", call_result(setresuid(5, -1, -1)));
    printf("  seteuid(0) through the saved uid: %s\n", call_result(seteuid(0)));
    print_ids("back");
    print_caps("back");
    printf("  setreuid(-1, 7): %s\n", call_result(setreuid(-1, 7)));
    print_ids("setreuid(-1, 7)");
    printf("  setreuid(0, 0): %s\n", call_result(setreuid(0, 0)));
    print_ids("setreuid(0, 0)");
    printf("  setreuid(7, 0): %s\n", call_result(setreuid(7, 0)));
    print_ids("setreuid(7, 0)");
    printf("  setregid(-1, 3): %s\n", call_result(setregid(-1, 3)));
    print_ids("setregid(-1, 3)");
}

static void fs_ids(void) {
    printf("  setfsuid(1000) was %d\n", setfsuid(1000));
    printf("  setfsgid(100) was %d\n", setfsgid(100));
    print_ids("after");
    print_caps("after");
    int fd = open("/tmp/made-by-fsuid", O_CREAT | O_WRONLY, 0600);
    struct stat st;
    fstat(fd, &st);
    printf("  a file it made: owner %u:%u\n", st.st_uid, st.st_gid);
    close(fd);
    mkdir("/tmp/dir-by-fsuid", 0700);
    stat("/tmp/dir-by-fsuid", &st);
    printf("  a directory it made: owner %u:%u\n", st.st_uid, st.st_gid);
    printf("  setfsuid(0) was %d\n", setfsuid(0));
    print_caps("fsuid 0 again");
}

static void keep_caps(void) {
    printf("  PR_SET_KEEPCAPS: %s\n", call_result(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)));
    printf("  setresuid(1000, 1000, 1000): %s\n", call_result(setresuid(1000, 1000, 1000)));
    print_caps("after");
    printf("  PR_GET_KEEPCAPS: %d\n", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "user") == 0) {
        print_ids("started as");
        print_groups();
        print_caps("started as");
        printf("  setuid(0): %s\n", call_result(setuid(0)));
        int fd = open("/tmp/made", O_CREAT | O_WRONLY, 0600);
        struct stat st;
        fstat(fd, &st);
        printf("  a file it made: owner %u:%u\n", st.st_uid, st.st_gid);
        return 0;
    }
    setgroups(0, NULL);
    in_child("groups", groups);
    in_child("dropping root for good", drop_for_good);
    in_child("keeping root as the saved uid", saved_root);
    in_child("file-system ids", fs_ids);
    in_child("PR_SET_KEEPCAPS", keep_caps);
    return 0;
}
