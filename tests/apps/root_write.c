/* The writable root: packaged files and directories change like any others (append,
 * truncate, rename, unlink, rmdir, hard and symbolic links, chmod, a shared mapping), new
 * directories and files appear outside /tmp, a program written there runs, and statfs names
 * the root an overlay; a larger packaged file keeps its bytes when it is made writable. Every boot starts from the image again: run it twice, same output.
 * With "child" it only says so (the program it copies and runs). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define CHECK(what, call)                                                \
    do {                                                                 \
        if ((call) < 0) {                                                \
            printf("%s: FAILED %s\n", what, errname(errno));             \
            exit(1);                                                     \
        }                                                                \
    } while (0)

static void show_file(const char *path) {
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: %s\n", path, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    printf("%s (%zd bytes): %s", path, n, buf);
    if (n > 0 && buf[n - 1] != '\n')
        printf("\n");
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of `path` (without . and ..), sorted. */
static void show_dir(const char *path) {
    char *names[64];
    int count = 0;
    DIR *dir = opendir(path);
    if (!dir) {
        printf("ls %s: %s\n", path, errname(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) && count < 64)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            names[count++] = strdup(entry->d_name);
    closedir(dir);
    qsort(names, count, sizeof names[0], compare_names);
    printf("ls %s:", path);
    for (int i = 0; i < count; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

/* FNV-1a of what `fd` holds from offset 0. */
static unsigned hash_file(int fd) {
    unsigned char buf[8192];
    unsigned h = 2166136261u;
    ssize_t n;
    for (off_t at = 0; (n = pread(fd, buf, sizeof buf, at)) > 0; at += n)
        h = fnv1a(h, buf, n);
    return h;
}

static void write_all(int fd, const char *text) {
    CHECK("write", write(fd, text, strlen(text)));
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "child")) {
        printf("the copy in /usr/local/bin runs\n");
        return 0;
    }
    struct stat st;
    struct statfs fs;
    int fd;

    CHECK("statfs /", statfs("/", &fs));
    printf("root is an overlay: %s\n", fs.f_type == 0x794c7630 ? "yes" : "no");
    printf("access W_OK /etc/app.conf: %s\n", access("/etc/app.conf", W_OK) == 0 ? "ok" : errname(errno));

    /* A packaged file: an earlier reader sees what a writer appends. */
    int reader = open("/etc/app.conf", O_RDONLY);
    CHECK("open for reading", reader);
    CHECK("open for appending", fd = open("/etc/app.conf", O_WRONLY | O_APPEND));
    write_all(fd, "added = yes\n");
    close(fd);
    char buf[512];
    ssize_t n = read(reader, buf, sizeof buf);
    close(reader);
    printf("the earlier reader reads %zd bytes\n", n);
    show_file("/etc/app.conf");

    /* A larger packaged file (11 pages) keeps its bytes when it gets its own copy. */
    int lines = open("/var/lib/app/lines.txt", O_RDONLY);
    CHECK("open lines.txt", lines);
    unsigned before = hash_file(lines);
    CHECK("open lines.txt for writing", fd = open("/var/lib/app/lines.txt", O_RDWR));
    printf("lines.txt: same bytes once writable: %s\n", hash_file(fd) == before ? "yes" : "no");
    CHECK("pwrite", pwrite(fd, "LINE", 4, 40000));
    char line[16] = {0};
    CHECK("pread", pread(lines, line, 14, 40000));
    printf("lines.txt at 40000 through the first fd: %s\n", line);
    close(fd);
    close(lines);

    /* Truncated, chmod-ed, linked. */
    CHECK("truncate", truncate("/usr/share/app/numbers.txt", 6));
    show_file("/usr/share/app/numbers.txt");
    CHECK("chmod", chmod("/usr/share/app/numbers.txt", 0600));
    CHECK("link", link("/usr/share/app/numbers.txt", "/usr/share/app/numbers.link"));
    CHECK("stat", stat("/usr/share/app/numbers.link", &st));
    printf("numbers.link: mode %o, %ld links\n", (unsigned)(st.st_mode & 07777), (long)st.st_nlink);

    /* New directories and files outside /tmp. */
    CHECK("mkdir /var/run", mkdir("/var/run", 0755));
    CHECK("create pid file", fd = open("/var/run/app.pid", O_CREAT | O_EXCL | O_WRONLY, 0644));
    write_all(fd, "1\n");
    close(fd);
    show_file("/var/run/app.pid");
    CHECK("create in /etc", fd = open("/etc/new.conf", O_CREAT | O_EXCL | O_WRONLY, 0644));
    write_all(fd, "new\n");
    close(fd);
    CHECK("symlink", symlink("/etc/new.conf", "/etc/current.conf"));
    show_file("/etc/current.conf");

    /* Renamed and removed: a packaged directory is empty once its files are gone. */
    CHECK("rename", rename("/usr/share/app/README.txt", "/usr/share/app/README.old"));
    show_dir("/usr/share/app");
    printf("rmdir a packaged directory with files: %s\n", rmdir("/usr/share/app/sub") == 0 ? "ok" : errname(errno));
    CHECK("unlink nested", unlink("/usr/share/app/sub/nested.txt"));
    CHECK("rmdir sub", rmdir("/usr/share/app/sub"));
    show_dir("/usr/share/app");
    show_dir("/etc");
    printf("rename across to /tmp: %s\n", rename("/etc/new.conf", "/tmp/new.conf") == 0 ? "ok" : errname(errno));

    /* A shared mapping of a packaged file writes the file. */
    CHECK("open for the mapping", fd = open("/usr/share/app/README.old", O_RDWR));
    char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        printf("mmap: %s\n", errname(errno));
        return 1;
    }
    memcpy(map, "MAPPED", 6);
    munmap(map, 4096);
    close(fd);
    show_file("/usr/share/app/README.old");

    /* A program written into the root runs. */
    CHECK("mkdir /usr/local", mkdir("/usr/local", 0755));
    CHECK("mkdir /usr/local/bin", mkdir("/usr/local/bin", 0755));
    int in = open("/proc/self/exe", O_RDONLY);
    CHECK("open /proc/self/exe", in);
    CHECK("create the copy", fd = open("/usr/local/bin/copy", O_CREAT | O_WRONLY | O_TRUNC, 0755));
    char chunk[65536];
    while ((n = read(in, chunk, sizeof chunk)) > 0)
        CHECK("copy", write(fd, chunk, n));
    close(in);
    close(fd);
    fflush(stdout);
    pid_t child = fork();
    CHECK("fork", child);
    if (child == 0) {
        execl("/usr/local/bin/copy", "copy", "child", (char *)NULL);
        printf("execl: %s\n", errname(errno));
        _exit(1);
    }
    int status;
    CHECK("waitpid", waitpid(child, &status, 0));
    printf("the copy's status: %d\n", WEXITSTATUS(status));
    return 0;
}
