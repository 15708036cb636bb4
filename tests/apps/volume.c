/* Volumes (`uvm run -v HOST:GUEST`): file operations in a host directory mounted in the VM.
 *
 *   volume DIR rw      every kind of file operation in DIR (which holds seed.txt, "from the
 *                      host\n", and an empty directory sub/), leaving out.txt and shared.bin
 *                      behind; the output is the same natively (DIR a plain directory) and in
 *                      the VM
 *   volume DIR ro      DIR mounted read-only: reads work, every change is EROFS
 *   volume DIR escape  DIR holds symlinks up -> ../outside.txt and abs -> an absolute host
 *                      path: in the VM both resolve in the VM's own tree, never the host's
 *   volume DIR tmpfs   DIR is a new tmpfs (`uvm run --tmpfs DIR`): empty, writable, listed
 *   volume DIR host-change  a host process grows DIR/seed.txt after "ready": seen in time
 *   volume DIR host-append  DIR/seed.txt read to its end, then a host process appends to it
 *                      after "ready": the next reads return what it appended
 *   volume DIR mapped  writes DIR/kept.bin through a shared mapping only, says "ready" and
 *                      waits for a signal to end it (no handler): what it wrote must reach
 *                      the host file all the same
 *
 * Prints facts and errno names only (no inode numbers, times or paths that differ by host). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static char dir[4096];

/* DIR/name in a static buffer (two at a time). */
static const char *at(const char *name) {
    static char bufs[2][8192];
    static int next;
    char *buf = bufs[next++ % 2];
    snprintf(buf, sizeof bufs[0], "%s/%s", dir, name);
    return buf;
}

static const char *result(int rc) {
    return rc < 0 ? errname(errno) : "ok";
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in DIR (but . and ..), sorted, space-separated. */
static void list_dir(const char *label) {
    DIR *d = opendir(dir);
    if (!d) {
        printf("%s: opendir %s\n", label, errname(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_names);
    printf("%s:", label);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void read_write(void) {
    char buf[64] = {0};
    int fd = open(at("seed.txt"), O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    printf("seed.txt: %zd bytes: %s", n, buf);
    close(fd);

    fd = open(at("new.txt"), O_CREAT | O_EXCL | O_RDWR, 0644);
    const char *again = result(open(at("new.txt"), O_CREAT | O_EXCL | O_RDWR, 0644));
    printf("create new.txt: %s; again with O_EXCL: %s\n", result(fd), again);
    ssize_t wrote = write(fd, "hello", 5);
    printf("write: %zd, pwrite at 10: %zd\n", wrote, pwrite(fd, "X", 1, 10));
    struct stat st;
    fstat(fd, &st);
    printf("size %lld, regular %d, mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
    memset(buf, '?', sizeof buf);
    n = pread(fd, buf, sizeof buf, 0);
    printf("pread: %zd: hello %d, hole zeros %d, X %d\n", n, !memcmp(buf, "hello", 5),
           buf[5] == 0 && buf[9] == 0, buf[10] == 'X');
    printf("lseek end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    close(fd);

    fd = open(at("new.txt"), O_WRONLY | O_APPEND);
    wrote = write(fd, "tail", 4);
    printf("append: %zd, then position %lld\n", wrote, (long long)lseek(fd, 0, SEEK_CUR));
    const char *synced = result(fsync(fd));
    printf("fsync %s, fdatasync %s\n", synced, result(fdatasync(fd)));
    close(fd);
    stat(at("new.txt"), &st);
    printf("stat size %lld\n", (long long)st.st_size);

    fd = open(at("new.txt"), O_RDWR | O_TRUNC);
    fstat(fd, &st);
    printf("O_TRUNC: size %lld\n", (long long)st.st_size);
    write(fd, "hello world", 11);
    printf("ftruncate 5: %s\n", result(ftruncate(fd, 5)));
    memset(buf, 0, sizeof buf);
    pread(fd, buf, sizeof buf, 0);
    printf("content: %s\n", buf);
    close(fd);
}

static void names(void) {
    const char *first = result(mkdir(at("d1"), 0755));
    printf("mkdir d1: %s, again: %s\n", first, result(mkdir(at("d1"), 0755)));
    printf("rename new.txt -> d1/moved.txt: %s\n", result(rename(at("new.txt"), at("d1/moved.txt"))));
    printf("new.txt now: %s\n", result(access(at("new.txt"), F_OK)));
    printf("link hard.txt: %s\n", result(link(at("d1/moved.txt"), at("hard.txt"))));
    struct stat a, b;
    stat(at("hard.txt"), &a);
    printf("nlink %lu\n", (unsigned long)a.st_nlink);
    printf("symlink lnk -> d1/moved.txt: %s\n", result(symlink("d1/moved.txt", at("lnk"))));
    char target[256] = {0};
    ssize_t n = readlink(at("lnk"), target, sizeof target - 1);
    printf("readlink: %zd %s\n", n, target);
    stat(at("lnk"), &b);
    lstat(at("lnk"), &a);
    printf("stat follows the link: %d; lstat: a link %d\n", b.st_ino != a.st_ino && S_ISREG(b.st_mode),
           S_ISLNK(a.st_mode));
    stat(at("hard.txt"), &a);
    printf("hard.txt and the link's target are one file: %d\n", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    list_dir("listing");
    printf("rmdir d1 (not empty): %s\n", result(rmdir(at("d1"))));
    printf("unlink d1 (a directory): %s\n", result(unlink(at("d1"))));
    printf("chmod 600: %s", result(chmod(at("hard.txt"), 0600)));
    stat(at("hard.txt"), &a);
    printf(", mode %o\n", a.st_mode & 0777);
    struct timespec times[2] = {{1000000000, 0}, {1000000000, 500}};
    printf("utimensat: %s", result(utimensat(AT_FDCWD, at("hard.txt"), times, 0)));
    stat(at("hard.txt"), &a);
    printf(", mtime %lld.%09ld\n", (long long)a.st_mtim.tv_sec, a.st_mtim.tv_nsec);
    printf("rename across mounts to /dev/shm: %s\n", result(rename(at("hard.txt"), "/dev/shm/hard.txt")));
    const char *gone[4];
    gone[0] = result(unlink(at("lnk")));
    gone[1] = result(unlink(at("hard.txt")));
    gone[2] = result(unlink(at("d1/moved.txt")));
    gone[3] = result(rmdir(at("d1")));
    printf("unlink lnk, hard.txt, d1/moved.txt: %s %s %s; rmdir d1: %s\n", gone[0], gone[1], gone[2], gone[3]);
    list_dir("after");
}

static void bigger(void) {
    /* 3 MiB in one write and one read: more than one host call each. */
    size_t len = 3 << 20;
    unsigned char *data = malloc(len), *back = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 7 + i / 4096);
    int fd = open(at("big.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("big write: %zd\n", write(fd, data, len));
    memset(back, 0, len);
    ssize_t got = pread(fd, back, len, 0);
    printf("big pread: %zd, equal %d\n", got, !memcmp(data, back, len));
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("private mmap: %s, equal %d\n", map == MAP_FAILED ? errname(errno) : "ok",
           map != MAP_FAILED && !memcmp(map, data, len));
    if (map != MAP_FAILED)
        munmap(map, len);
    close(fd);
    unlink(at("big.bin"));
    free(data);
    free(back);
}

/* Small reads through one descriptor (which the VM's kernel serves from a window it reads
 * ahead) see every change the app makes through another descriptor, a write, a truncation
 * or a shared mapping, at once, and read the file right sequentially and at random. */
static void reads_see_changes(void) {
    size_t len = 3 << 20;
    unsigned char *data = malloc(len), *back = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 13 + i / 4093);
    int writer = open(at("ahead.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(writer, data, len);
    int reader = open(at("ahead.bin"), O_RDONLY);
    size_t done = 0, sizes[] = {1, 4096, 100, 65536, 7, 300000};
    for (int i = 0; done < len; i++) {
        size_t want = sizes[i % 6] < len - done ? sizes[i % 6] : len - done;
        ssize_t got = read(reader, back + done, want);
        if (got <= 0)
            break;
        done += (size_t)got;
    }
    printf("read ahead: sequential reads of %zu bytes equal %d\n", done, done == len && !memcmp(data, back, len));
    int equal = 1;
    for (int i = 0; i < 200; i++) {
        size_t at_ = ((size_t)i * 7919 * 4096 + (size_t)i * 131) % (len - 5000);
        char buf[5000];
        equal &= pread(reader, buf, sizeof buf, (off_t)at_) == (ssize_t)sizeof buf && !memcmp(buf, data + at_, sizeof buf);
    }
    printf("read ahead: 200 reads at random equal %d\n", equal);
    /* Each change comes after two reads in a row, the second of which reads a window ahead. */
    char buf[16] = {0};
    lseek(reader, 0, SEEK_SET);
    read(reader, buf, 4);
    read(reader, buf, 4);
    pwrite(writer, "CHANGED", 7, 8);
    read(reader, buf, 7);
    printf("read ahead: a write through another descriptor seen: %d\n", !memcmp(buf, "CHANGED", 7));
    lseek(reader, 100, SEEK_SET);
    read(reader, buf, 4);
    read(reader, buf, 4);
    ftruncate(writer, 110);
    memset(buf, 0, sizeof buf);
    ssize_t got = read(reader, buf, 16);
    printf("read ahead: after a truncation to 110 bytes, a read at 108 gets %zd\n", got);
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, writer, 0);
    if (m != MAP_FAILED) {
        lseek(reader, 0, SEEK_SET);
        read(reader, buf, 4);
        read(reader, buf, 4);
        memcpy(m + 8, "MAPPED", 6);
        read(reader, buf, 6);
        printf("read ahead: a shared mapping's write seen: %d\n", !memcmp(buf, "MAPPED", 6));
        munmap(m, 4096);
    }
    close(reader);
    close(writer);
    unlink(at("ahead.bin"));
    free(data);
    free(back);
}

/* DIR/seed.txt read to its end (a window read ahead holds all of it), then "ready": a host
 * process appends to it, and the next reads at the end return what it appended (only the
 * bytes already read ahead may be up to a second old). */
static void host_append(void) {
    int fd = open(at("seed.txt"), O_RDONLY);
    char buf[256] = {0};
    while (read(fd, buf, 4) > 0) {
    }
    printf("ready\n");
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 250; i++) {
        ssize_t got = read(fd, buf, sizeof buf - 1);
        if (got > 0) {
            buf[got] = 0;
            printf("the host's append read: %s", buf);
            return;
        }
        nanosleep(&tick, NULL);
    }
    printf("the host's append not read in 5 s\n");
}

/* A MAP_SHARED mapping of a file in DIR: coherent with read and write, shared with a forked
 * child, in the file after msync (the file stays, for the host to check). */
static void shared_mapping(void) {
    int fd = open(at("shared.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("shared mapping: ftruncate %s", result(ftruncate(fd, 8192)));
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf(", mmap %s\n", m == MAP_FAILED ? errname(errno) : "ok");
    if (m == MAP_FAILED)
        return;
    memcpy(m + 100, "via the mapping", 15);
    char buf[32] = {0};
    pread(fd, buf, 15, 100);
    printf("read sees the mapping's write: %d\n", !memcmp(buf, "via the mapping", 15));
    pwrite(fd, "via write", 9, 5000);
    printf("the mapping sees the write: %d\n", !memcmp(m + 5000, "via write", 9));
    pid_t pid = fork();
    if (pid == 0) {
        memcpy(m + 200, "the child", 9);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("the parent sees the child's write: %d\n", !memcmp(m + 200, "the child", 9));
    printf("msync: %s\n", result(msync(m, 8192, MS_SYNC)));
    munmap(m, 8192);
    close(fd);

    /* A page half a terabyte into a sparse file, mapped shared, written and read back. */
    fd = open(at("sparse.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t far = (off_t)1 << 39;
    printf("sparse file: ftruncate %s", result(ftruncate(fd, far + 4096)));
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, far);
    printf(", mmap far in %s", p == MAP_FAILED ? errname(errno) : "ok");
    if (p != MAP_FAILED) {
        p[7] = 'Z';
        munmap(p, 4096);
    }
    char byte = 0;
    pread(fd, &byte, 1, far + 7);
    printf(", read back %c\n", byte);
    close(fd);
    unlink(at("sparse.bin"));
}

static void processes(void) {
    /* A child writes a file; the parent reads it after the child exited. */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(at("child.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
        write(fd, "from the child\n", 15);
        close(fd);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    char buf[64] = {0};
    int fd = open(at("child.txt"), O_RDONLY);
    read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(at("child.txt"));
    printf("child wrote: %s", buf);
}

static void misc(void) {
    struct statfs sfs = {0};
    const char *asked = result(statfs(dir, &sfs));
    printf("statfs: %s, block size > 0 %d\n", asked, sfs.f_bsize > 0);
    char cwd[4096];
    printf("chdir sub: %s", result(chdir(at("sub"))));
    int in_sub = getcwd(cwd, sizeof cwd) && strlen(cwd) > 4 && !strcmp(cwd + strlen(cwd) - 4, "/sub");
    printf(", getcwd ends with /sub %d", in_sub);
    int fd = open("rel.txt", O_CREAT | O_WRONLY, 0644);
    printf(", relative create %s", result(fd));
    close(fd);
    printf(", seen from DIR %s\n", result(access(at("sub/rel.txt"), F_OK)));
    unlink(at("sub/rel.txt"));
    chdir("/");
    printf("open a directory for writing: %s\n", result(open(dir, O_WRONLY)));
    printf("open a missing file: %s\n", result(open(at("missing"), O_RDONLY)));
    fd = open(at("out.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0640);
    write(fd, "written inside\n", 15);
    close(fd);
}

static void read_only(void) {
    char buf[64] = {0};
    int fd = open(at("seed.txt"), O_RDONLY);
    read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("seed.txt: %s", buf);
    printf("open for writing: %s\n", result(open(at("seed.txt"), O_WRONLY)));
    printf("create: %s\n", result(open(at("new.txt"), O_CREAT | O_WRONLY, 0644)));
    const char *r[11];
    r[0] = result(mkdir(at("d"), 0755));
    r[1] = result(rmdir(at("sub")));
    r[2] = result(unlink(at("seed.txt")));
    printf("mkdir: %s, rmdir: %s, unlink: %s\n", r[0], r[1], r[2]);
    r[3] = result(rename(at("seed.txt"), at("x")));
    r[4] = result(symlink("seed.txt", at("l")));
    r[5] = result(link(at("seed.txt"), at("h")));
    printf("rename: %s, symlink: %s, link: %s\n", r[3], r[4], r[5]);
    r[6] = result(chmod(at("seed.txt"), 0600));
    r[7] = result(truncate(at("seed.txt"), 0));
    r[8] = result(utimensat(AT_FDCWD, at("seed.txt"), NULL, 0));
    printf("chmod: %s, truncate: %s, utimensat: %s\n", r[6], r[7], r[8]);
    r[9] = result(access(at("seed.txt"), W_OK));
    r[10] = result(access(at("seed.txt"), R_OK));
    printf("access W_OK: %s, R_OK: %s\n", r[9], r[10]);
    struct statfs sfs = {0};
    statfs(dir, &sfs);
    printf("statfs ST_RDONLY: %d\n", (sfs.f_flags & ST_RDONLY) != 0);
    list_dir("listing");
}

/* DIR is a new tmpfs (`uvm run --tmpfs DIR`): empty, writable, a tmpfs, in /proc/mounts. */
static void tmpfs(void) {
    list_dir("empty");
    int fd = open(at("pid"), O_CREAT | O_RDWR, 0644);
    char buf[16] = {0};
    ssize_t wrote = write(fd, "1234\n", 5);
    printf("write %zd, pread %zd: %s", wrote, pread(fd, buf, sizeof buf - 1, 0), buf);
    close(fd);
    printf("mkdir: %s\n", result(mkdir(at("cache"), 0755)));
    list_dir("listing");
    struct statfs sfs = {0};
    statfs(dir, &sfs);
    printf("a tmpfs: %d\n", sfs.f_type == 0x01021994);
    char mounts[4096] = {0}, line[4200];
    fd = open("/proc/mounts", O_RDONLY);
    read(fd, mounts, sizeof mounts - 1);
    close(fd);
    snprintf(line, sizeof line, "tmpfs %s tmpfs ", dir);
    printf("in /proc/mounts: %d\n", strstr(mounts, line) != NULL);
}

/* DIR/seed.txt is changed by a host process once this prints "ready": a stat sees the new
 * size within the volume's metadata timeout (1 s), as with FUSE's default. */
static void host_change(void) {
    struct stat st;
    stat(at("seed.txt"), &st);
    off_t before = st.st_size;
    printf("ready\n");
    struct timespec start, now, tick = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        nanosleep(&tick, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
        stat(at("seed.txt"), &st);
        if (st.st_size != before) {
            printf("the host's change seen within 2 s: %d\n", waited < 2.0);
            return;
        }
        if (waited > 5.0) {
            printf("the host's change not seen in 5 s\n");
            return;
        }
    }
}

static void escape(void) {
    char target[256] = {0};
    printf("readlink up: %s\n", readlink(at("up"), target, sizeof target - 1) > 0 ? target : errname(errno));
    printf("open up (../outside.txt): %s\n", result(open(at("up"), O_RDONLY)));
    printf("open abs (the host's absolute path): %s\n", result(open(at("abs"), O_RDONLY)));
    printf("open DIR/../outside.txt: %s\n", result(open(at("../outside.txt"), O_RDONLY)));
    struct stat root, parent;
    stat("/", &root);
    stat(at(".."), &parent);
    printf("DIR/.. is the VM's /: %d\n", root.st_ino == parent.st_ino && root.st_dev == parent.st_dev);
}

static void mapped_until_killed(void) {
    int fd = open(at("kept.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 8192) != 0) {
        printf("kept.bin: %s\n", errname(errno));
        exit(1);
    }
    char *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        printf("mmap: %s\n", errname(errno));
        exit(1);
    }
    strcpy(map, "written through a shared mapping\n");
    strcpy(map + 4096, "and its second page\n");
    printf("ready\n");
    for (;;)
        pause();
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: volume DIR rw|ro|escape|tmpfs|host-change|host-append|mapped\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(argv[2], "rw")) {
        list_dir("before");
        read_write();
        names();
        bigger();
        reads_see_changes();
        shared_mapping();
        processes();
        misc();
        list_dir("at the end");
    } else if (!strcmp(argv[2], "ro")) {
        read_only();
    } else if (!strcmp(argv[2], "escape")) {
        escape();
    } else if (!strcmp(argv[2], "tmpfs")) {
        tmpfs();
    } else if (!strcmp(argv[2], "host-change")) {
        host_change();
    } else if (!strcmp(argv[2], "host-append")) {
        host_append();
    } else if (!strcmp(argv[2], "mapped")) {
        mapped_until_killed();
    } else {
        return 2;
    }
    return 0;
}
