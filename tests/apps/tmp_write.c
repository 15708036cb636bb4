/* Tests the writable /tmp (mkdir, write, read back, lseek, append, unlink) and read-only packaged files. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

#define CHECK(what, call)                                                \
    do {                                                                 \
        if ((call) < 0) {                                                \
            printf("%s: FAILED %s\n", what, errname(errno));             \
            return 1;                                                    \
        }                                                                \
    } while (0)

int main(void) {
    char buf[64];
    struct stat st;
    ssize_t n;
    int fd;

    CHECK("mkdir /tmp/x", mkdir("/tmp/x", 0755));
    printf("mkdir /tmp/x: ok\n");

    CHECK("create /tmp/x/y.txt", fd = open("/tmp/x/y.txt", O_CREAT | O_EXCL | O_RDWR, 0644));
    CHECK("write", n = write(fd, "hello\n", 6));
    printf("wrote %zd bytes\n", n);
    CHECK("lseek set", lseek(fd, 0, SEEK_SET));
    CHECK("read", n = read(fd, buf, sizeof buf - 1));
    buf[n] = 0;
    printf("read back %zd bytes: %s", n, buf);
    printf("lseek end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    CHECK("lseek 2", lseek(fd, 2, SEEK_SET));
    CHECK("read at 2", n = read(fd, buf, 3));
    buf[n] = 0;
    printf("read at offset 2: %s\n", buf);
    close(fd);

    CHECK("open append", fd = open("/tmp/x/y.txt", O_WRONLY | O_APPEND));
    CHECK("append", write(fd, "world\n", 6));
    close(fd);
    CHECK("stat", stat("/tmp/x/y.txt", &st));
    printf("size after append: %lld\n", (long long)st.st_size);

    CHECK("reopen", fd = open("/tmp/x/y.txt", O_RDONLY));
    CHECK("read all", n = read(fd, buf, sizeof buf - 1));
    buf[n] = 0;
    close(fd);
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = '|';
    printf("content: %s\n", buf);

    DIR *d = opendir("/tmp/x");
    printf("ls /tmp/x:");
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            printf(" %s", e->d_name);
    printf("\n");
    if (d)
        closedir(d);

    printf("rmdir non-empty /tmp/x: %s\n", rmdir("/tmp/x") == 0 ? "removed?!" : errname(errno));
    CHECK("unlink", unlink("/tmp/x/y.txt"));
    printf("unlink: ok\n");
    printf("open after unlink: %s\n", open("/tmp/x/y.txt", O_RDONLY) >= 0 ? "opened?!" : errname(errno));
    printf("stat after unlink: %s\n", stat("/tmp/x/y.txt", &st) == 0 ? "exists?!" : errname(errno));
    CHECK("rmdir", rmdir("/tmp/x"));
    printf("rmdir: ok\n");

    printf("write packaged /etc/app.conf: %s\n",
           open("/etc/app.conf", O_WRONLY) >= 0 ? "opened?!" : errname(errno));
    printf("create /etc/new.txt: %s\n",
           open("/etc/new.txt", O_CREAT | O_WRONLY, 0644) >= 0 ? "created?!" : errname(errno));
    printf("packaged /etc/app.conf still readable: %s\n",
           open("/etc/app.conf", O_RDONLY) >= 0 ? "yes" : errname(errno));
    return 0;
}
