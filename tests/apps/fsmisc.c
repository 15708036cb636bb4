/* Tests the small file and process calls: link/linkat, mknod, creat, statfs, flock, fallocate, fadvise, close_range, ids, nice values, I/O priorities, the older time setters, affinity. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define NR_CLOSE_RANGE 436
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define FALLOC_KEEP_SIZE 0x1
#define FALLOC_PUNCH_HOLE 0x2
#define FALLOC_ZERO_RANGE 0x10

static const char *ename(int e) {
    switch (e) {
    case EXDEV: return "EXDEV";
    case ESRCH: return "ESRCH";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    }
    return errname(e);
}

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s (errno %s)\n", what, ename(errno));
        exit(1);
    }
}

/* Prints `what: result errno`, with errno cleared before the call. */
#define TRY(what, call)                                                                                                \
    do {                                                                                                               \
        errno = 0;                                                                                                     \
        long r_ = (long)(call);                                                                                        \
        printf("%s: %ld %s\n", what, r_, ename(errno));                                                                \
    } while (0)

static long links_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_nlink : -1;
}

int main(void) {
    /* Hard links. */
    int fd = creat("/tmp/a", 0600);
    check(fd >= 0 && write(fd, "data", 4) == 4, "creat /tmp/a");
    TRY("link /tmp/a /tmp/b", link("/tmp/a", "/tmp/b"));
    printf("links of /tmp/a: %ld\n", links_of("/tmp/a"));
    TRY("link onto an existing name", link("/tmp/a", "/tmp/b"));
    TRY("link a directory", link("/tmp", "/tmp/dir"));
    TRY("link across file systems", link("/etc/app.conf", "/tmp/conf"));
    TRY("link a missing file", link("/tmp/missing", "/tmp/c"));
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    TRY("linkat AT_EMPTY_PATH of an open file", linkat(fd, "", AT_FDCWD, "/tmp/c", AT_EMPTY_PATH));
    TRY("linkat AT_SYMLINK_FOLLOW through /proc/self/fd", linkat(AT_FDCWD, path, AT_FDCWD, "/tmp/d", AT_SYMLINK_FOLLOW));
    printf("links of /tmp/a: %ld\n", links_of("/tmp/a"));
    TRY("linkat with an unknown flag", linkat(AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/e", 0x8000));
    TRY("mknod a regular file", mknod("/tmp/node", S_IFREG | 0600, 0));
    TRY("mknod with a bad type", mknod("/tmp/bad", 0170000 | 0600, 0));

    /* statfs. */
    struct statfs fs;
    check(statfs("/tmp", &fs) == 0, "statfs /tmp");
    printf("statfs /tmp: tmpfs %s\n", fs.f_type == 0x01021994 ? "yes" : "no");
    check(statfs("/proc/self", &fs) == 0, "statfs /proc");
    printf("statfs /proc: proc %s\n", fs.f_type == 0x9fa0 ? "yes" : "no");
    int fds[2];
    check(pipe(fds) == 0, "pipe");
    check(fstatfs(fds[0], &fs) == 0, "fstatfs pipe");
    printf("fstatfs of a pipe: pipefs %s\n", fs.f_type == 0x50495045 ? "yes" : "no");
    TRY("statfs of a missing path", statfs("/tmp/missing", &fs));

    /* flock, fadvise, fallocate. */
    TRY("flock LOCK_EX|LOCK_NB", flock(fd, LOCK_EX | LOCK_NB));
    TRY("flock LOCK_UN", flock(fd, LOCK_UN));
    TRY("flock with a bad operation", flock(fd, 0));
    printf("posix_fadvise DONTNEED: %d\n", posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    printf("posix_fadvise of a pipe: %s\n", ename(posix_fadvise(fds[0], 0, 0, POSIX_FADV_NORMAL)));
    TRY("fallocate 8192", fallocate(fd, 0, 0, 8192));
    struct stat st;
    check(fstat(fd, &st) == 0, "fstat");
    printf("size %lld\n", (long long)st.st_size);
    TRY("fallocate KEEP_SIZE past the end", fallocate(fd, FALLOC_KEEP_SIZE, 8192, 8192));
    check(fstat(fd, &st) == 0, "fstat");
    printf("size %lld\n", (long long)st.st_size);
    TRY("fallocate PUNCH_HOLE", fallocate(fd, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, 0, 2));
    char buf[8] = {0};
    int rd = open("/tmp/a", O_RDONLY);
    check(rd >= 0 && pread(rd, buf, 4, 0) == 4, "pread");
    close(rd);
    printf("after the hole: <%c%c%s>\n", buf[0] ? buf[0] : '0', buf[1] ? buf[1] : '0', buf + 2);
    TRY("fallocate ZERO_RANGE", fallocate(fd, FALLOC_ZERO_RANGE, 0, 10));
    TRY("fallocate of a pipe", fallocate(fds[1], 0, 0, 10));
    TRY("fallocate of length 0", fallocate(fd, 0, 0, 0));
    TRY("sync of the fd's file system", syncfs(fd));

    /* close_range. */
    int low = dup(fd);
    int high = dup(fd);
    TRY("close_range CLOEXEC", syscall(NR_CLOSE_RANGE, low, ~0U, CLOSE_RANGE_CLOEXEC));
    printf("close-on-exec: %s %s\n", fcntl(low, F_GETFD) == FD_CLOEXEC ? "yes" : "no",
           fcntl(high, F_GETFD) == FD_CLOEXEC ? "yes" : "no");
    TRY("close_range", syscall(NR_CLOSE_RANGE, low, ~0U, 0));
    errno = 0;
    int r = fcntl(high, F_GETFD);
    printf("after close_range: fcntl %d %s, the fds below stay: %s\n", r, ename(errno),
           fcntl(fd, F_GETFD) >= 0 ? "yes" : "no");
    TRY("close_range with first > last", syscall(NR_CLOSE_RANGE, 10, 5, 0));

    /* ids and scheduling. */
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    check(getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0, "getres*id");
    printf("getresuid/getresgid match getuid/getgid: %s\n",
           ru == getuid() && eu == getuid() && su == getuid() && rg == getgid() && eg == getgid() && sg == getgid()
               ? "yes"
               : "no");
    TRY("setuid to the uid", setuid(getuid()));
    TRY("setgid to the gid", setgid(getgid()));
    TRY("setresuid(-1, -1, -1)", setresuid(-1, -1, -1));
    printf("getpgid(0) is getpgrp(): %s, getsid(0) is getsid(pid): %s\n", getpgid(0) == getpgrp() ? "yes" : "no",
           getsid(0) == getsid(getpid()) ? "yes" : "no");
    TRY("getpgid of no such process", getpgid(999999));
    /* The raw call: musl's sched_getscheduler() is ENOSYS without asking the kernel. */
    printf("sched_getscheduler: %ld, priority range FIFO %d..%d, OTHER %d..%d\n", syscall(SYS_sched_getscheduler, 0),
           sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_FIFO), sched_get_priority_min(SCHED_OTHER),
           sched_get_priority_max(SCHED_OTHER));
    printf("sched_getcpu: %s\n", sched_getcpu() >= 0 ? "ok" : "failed");

    /* sysinfo, times, getrusage. */
    struct sysinfo si;
    check(sysinfo(&si) == 0, "sysinfo");
    printf("sysinfo: total ram > 0 %s, free <= total %s, mem_unit %u, procs >= 1 %s\n", si.totalram > 0 ? "yes" : "no",
           si.freeram <= si.totalram ? "yes" : "no", si.mem_unit, si.procs >= 1 ? "yes" : "no");
    struct tms t;
    printf("times: %s\n", times(&t) != (clock_t)-1 ? "ok" : "failed");
    struct rusage ru_self, ru_children;
    check(getrusage(RUSAGE_SELF, &ru_self) == 0 && getrusage(RUSAGE_CHILDREN, &ru_children) == 0, "getrusage");
    printf("getrusage: self maxrss > 0 %s, children maxrss %ld\n", ru_self.ru_maxrss > 0 ? "yes" : "no",
           ru_children.ru_maxrss);
    TRY("getrusage of an unknown who", getrusage(5, &ru_self));

    /* Nice values: set, clamped, read back, inherited by a child; bad arguments. (By pid
     * only: a group or user would reach processes outside the test when run natively.) */
    TRY("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
    printf("getpriority: %d\n", getpriority(PRIO_PROCESS, 0));
    TRY("setpriority 40 (clamped)", setpriority(PRIO_PROCESS, getpid(), 40));
    printf("getpriority: %d\n", getpriority(PRIO_PROCESS, getpid()));
    TRY("setpriority -30 (clamped)", setpriority(PRIO_PROCESS, 0, -30));
    printf("getpriority: %d\n", getpriority(PRIO_PROCESS, 0));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        printf("a child's: %d\n", getpriority(PRIO_PROCESS, 0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    TRY("setpriority of no such process", setpriority(PRIO_PROCESS, 999999, 0));
    TRY("getpriority of no such process", getpriority(PRIO_PROCESS, 999999));
    TRY("setpriority with a bad which", setpriority(7, 0, 0));
    TRY("setpriority back to 0", setpriority(PRIO_PROCESS, 0, 0));

    /* I/O priorities (ionice): none at first, set, read back by pid, inherited by a child
     * when they have a class; Linux's checks. (By pid only, as above.) */
#define IOPRIO(class, data) (((class) << 13) | (data))
    TRY("ioprio_get at first", syscall(SYS_ioprio_get, 1, 0));
    TRY("ioprio_set best-effort 7", syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 7)));
    TRY("ioprio_get", syscall(SYS_ioprio_get, 1, getpid()));
    fflush(stdout);
    child = fork();
    if (child == 0) {
        TRY("a child's ioprio", syscall(SYS_ioprio_get, 1, 0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    TRY("ioprio_set idle", syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
    TRY("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    TRY("ioprio_set real-time 0 (as root)", syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 0)));
    TRY("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    TRY("ioprio_set no class with a level", syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 1)));
    TRY("ioprio_set class 5", syscall(SYS_ioprio_set, 1, 0, IOPRIO(5, 0)));
    TRY("ioprio_set with a bad which", syscall(SYS_ioprio_set, 9, 0, 0));
    TRY("ioprio_get of no such process", syscall(SYS_ioprio_get, 1, 999999));
    TRY("ioprio_set back to none", syscall(SYS_ioprio_set, 1, 0, 0));
    TRY("ioprio_get", syscall(SYS_ioprio_get, 1, 0));

    /* The older time setters, as raw calls (libcs implement them with utimensat). */
    close(open("/tmp/times", O_CREAT | O_WRONLY, 0644));
    struct timeval tv[2] = {{1000, 500000}, {2000, 250000}};
    struct stat ts;
    TRY("utimes", syscall(SYS_utimes, "/tmp/times", tv));
    stat("/tmp/times", &ts);
    printf("after utimes: atime %ld.%09ld, mtime %ld.%09ld\n", (long)ts.st_atim.tv_sec, ts.st_atim.tv_nsec,
           (long)ts.st_mtim.tv_sec, ts.st_mtim.tv_nsec);
    long utimbuf[2] = {3000, 4000};
    TRY("utime", syscall(SYS_utime, "/tmp/times", utimbuf));
    stat("/tmp/times", &ts);
    printf("after utime: atime %ld, mtime %ld.%09ld\n", (long)ts.st_atim.tv_sec, (long)ts.st_mtim.tv_sec,
           ts.st_mtim.tv_nsec);
    TRY("futimesat", syscall(SYS_futimesat, AT_FDCWD, "/tmp/times", tv));
    stat("/tmp/times", &ts);
    printf("after futimesat: mtime %ld\n", (long)ts.st_mtim.tv_sec);
    TRY("utimes with NULL (now)", syscall(SYS_utimes, "/tmp/times", NULL));
    stat("/tmp/times", &ts);
    printf("now: %s\n", ts.st_mtim.tv_sec > 1000000000 ? "yes" : "no");
    tv[1].tv_usec = 1000000;
    TRY("utimes with 1000000 microseconds", syscall(SYS_utimes, "/tmp/times", tv));
    TRY("utime of a missing file", syscall(SYS_utime, "/tmp/missing", utimbuf));

    /* Affinity: narrowed to CPU 0, seen by a child, restored; bad masks and threads. */
    cpu_set_t all, one, seen;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    check(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity");
    TRY("sched_setaffinity to CPU 0", sched_setaffinity(0, sizeof one, &one));
    sched_getaffinity(getpid(), sizeof seen, &seen);
    printf("affinity now: %d CPU(s), CPU 0 %s\n", CPU_COUNT(&seen), CPU_ISSET(0, &seen) ? "yes" : "no");
    fflush(stdout);
    child = fork();
    if (child == 0) {
        sched_getaffinity(0, sizeof seen, &seen);
        printf("a child's affinity: %d CPU(s)\n", CPU_COUNT(&seen));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    cpu_set_t none, far;
    CPU_ZERO(&none);
    CPU_ZERO(&far);
    CPU_SET(1000, &far);
    TRY("sched_setaffinity to no CPU", sched_setaffinity(0, sizeof none, &none));
    TRY("sched_setaffinity to CPU 1000 only", sched_setaffinity(0, sizeof far, &far));
    TRY("sched_setaffinity of no such thread", sched_setaffinity(999999, sizeof one, &one));
    TRY("sched_getaffinity of no such thread", sched_getaffinity(999999, sizeof seen, &seen));
    TRY("sched_setaffinity back", sched_setaffinity(0, sizeof all, &all));
    sched_getaffinity(0, sizeof seen, &seen);
    printf("restored: %s\n", CPU_EQUAL(&seen, &all) ? "yes" : "no");

    /* Scheduling policies (the raw calls: musl's wrappers say ENOSYS without asking): set,
     * read back, a child after SCHED_RESET_ON_FORK, the round-robin slice, bad values. */
    struct sched_param sp = {.sched_priority = 0};
    TRY("SCHED_BATCH with SCHED_RESET_ON_FORK", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH | 0x40000000, &sp));
    TRY("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
    fflush(stdout);
    child = fork();
    if (child == 0) {
        printf("a child's policy: %ld\n", syscall(SYS_sched_getscheduler, 0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    sp.sched_priority = 10;
    TRY("SCHED_RR at 10", syscall(SYS_sched_setscheduler, getpid(), SCHED_RR, &sp));
    struct timespec slice = {-1, -1};
    TRY("sched_rr_get_interval", syscall(SYS_sched_rr_get_interval, 0, &slice));
    printf("slice %ld.%09ld\n", (long)slice.tv_sec, slice.tv_nsec);
    sp.sched_priority = 20;
    TRY("sched_setparam 20", syscall(SYS_sched_setparam, 0, &sp));
    sp.sched_priority = -1;
    syscall(SYS_sched_getparam, 0, &sp);
    printf("priority now %d\n", sp.sched_priority);
    sp.sched_priority = 0;
    TRY("SCHED_FIFO at 0", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp));
    sp.sched_priority = 5;
    TRY("SCHED_OTHER at 5", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
    TRY("SCHED_DEADLINE", syscall(SYS_sched_setscheduler, 0, 6, &sp));
    TRY("a null sched_param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
    TRY("sched_setscheduler of no such thread", syscall(SYS_sched_setscheduler, 999999, SCHED_OTHER, &sp));
    sp.sched_priority = 0;
    TRY("SCHED_OTHER back", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
    TRY("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));

    /* fchmodat2 (the raw call, 452: libcs reach it only for AT_SYMLINK_NOFOLLOW): a path, a
     * symlink itself (EOPNOTSUPP), an O_PATH fd with AT_EMPTY_PATH, an unknown flag. */
    struct stat mst;
    TRY("fchmodat2 0640", syscall(452, AT_FDCWD, "/tmp/a", 0640, 0));
    stat("/tmp/a", &mst);
    printf("mode %o\n", (unsigned)(mst.st_mode & 07777));
    symlink("/tmp/a", "/tmp/a-link");
    TRY("fchmodat2 of a symlink itself", syscall(452, AT_FDCWD, "/tmp/a-link", 0600, AT_SYMLINK_NOFOLLOW));
    TRY("fchmodat2 through a symlink", syscall(452, AT_FDCWD, "/tmp/a-link", 0604, 0));
    int opath = open("/tmp/a", O_PATH);
    TRY("fchmodat2 AT_EMPTY_PATH of an O_PATH fd", syscall(452, opath, "", 0600, AT_EMPTY_PATH));
    stat("/tmp/a", &mst);
    printf("mode %o\n", (unsigned)(mst.st_mode & 07777));
    TRY("fchmodat2 with an unknown flag", syscall(452, AT_FDCWD, "/tmp/a", 0600, 0x2));
    close(opath);

    return 0;
}
