/* Directory operations: mkdir/rmdir, sorted readdir with d_type, rename of files and
 * directories, chdir/getcwd and relative paths, the *at() calls on a directory fd, scandir of
 * a packaged directory, a tree walk, chmod/umask, utimensat, access and realpath. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compat.h"

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Prints the entries of `path` (without . and ..), sorted, with their d_type. */
static void list(const char *path) {
    DIR *d = opendir(path);
    char *names[64];
    int n = 0;
    struct dirent *e;
    if (!d) {
        printf("opendir %s: %s\n", path, errname(errno));
        failures++;
        return;
    }
    while ((e = readdir(d)) && n < 64) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *s = malloc(strlen(e->d_name) + 3);
        sprintf(s, "%s %c", e->d_name, e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?');
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("ls %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" [%s]", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static int touch(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    return fd < 0 ? -1 : close(fd);
}

/* Counts files and directories under `path` and sums the file sizes (order-independent). */
static void walk(const char *path, int *files, int *dirs, long *bytes) {
    DIR *d = opendir(path);
    struct dirent *e;
    if (!d)
        return;
    ++*dirs;
    while ((e = readdir(d))) {
        char sub[PATH_MAX];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (lstat(sub, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(sub, files, dirs, bytes);
        } else if (S_ISREG(st.st_mode)) {
            ++*files;
            *bytes += st.st_size;
        }
    }
    closedir(d);
}

int main(void) {
    char cwd[PATH_MAX];
    struct stat st;

    umask(022);
    CHECK("mkdir /tmp/d", mkdir("/tmp/d", 0777) == 0);
    CHECK("umask 022 gives mode 0755", stat("/tmp/d", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755);
    EXPECT_ERR("mkdir it again", mkdir("/tmp/d", 0755), EEXIST);
    EXPECT_ERR("mkdir with a missing parent", mkdir("/tmp/nope/x", 0755), ENOENT);
    EXPECT_ERR("mkdir in a packaged directory", mkdir("/usr/share/compat/new", 0755), EROFS);
    CHECK("mkdir /tmp/d/sub and /tmp/d/sub/deeper", mkdir("/tmp/d/sub", 0755) == 0 && mkdir("/tmp/d/sub/deeper", 0700) == 0);
    CHECK("create three files", touch("/tmp/d/c.txt") == 0 && touch("/tmp/d/a.txt") == 0 && touch("/tmp/d/b.txt") == 0);
    CHECK("symlink /tmp/d/link -> a.txt", symlink("a.txt", "/tmp/d/link") == 0);
    list("/tmp/d");
    CHECK("a directory's link count is 2 + subdirectories", stat("/tmp/d", &st) == 0 && st.st_nlink == 3);

    EXPECT_ERR("rmdir a non-empty directory", rmdir("/tmp/d/sub"), ENOTEMPTY);
    EXPECT_ERR("rmdir a file", rmdir("/tmp/d/a.txt"), ENOTDIR);
    EXPECT_ERR("unlink a directory", unlink("/tmp/d/sub"), EISDIR);
    EXPECT_ERR("rename a directory into itself", rename("/tmp/d/sub", "/tmp/d/sub/deeper/x"), EINVAL);
    EXPECT_ERR("rename a directory over a file", rename("/tmp/d/sub", "/tmp/d/a.txt"), ENOTDIR);
    EXPECT_ERR("rename a file over a directory", rename("/tmp/d/a.txt", "/tmp/d/sub"), EISDIR);
    CHECK("rename a file into a subdirectory", rename("/tmp/d/b.txt", "/tmp/d/sub/b.txt") == 0);
    CHECK("rename a directory", rename("/tmp/d/sub", "/tmp/d/moved") == 0);
    list("/tmp/d");
    list("/tmp/d/moved");

    CHECK("chdir /tmp/d/moved", chdir("/tmp/d/moved") == 0);
    CHECK("getcwd", getcwd(cwd, sizeof cwd) && strcmp(cwd, "/tmp/d/moved") == 0);
    printf("cwd: %s\n", cwd);
    CHECK("relative open ../a.txt", (touch("../a.txt") == 0) && access("../a.txt", F_OK) == 0);
    CHECK("chdir ..", chdir("..") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/tmp/d") == 0);
    CHECK("stat ./moved/./b.txt", stat("./moved/./b.txt", &st) == 0 && S_ISREG(st.st_mode));
    EXPECT_ERR("chdir into a file", chdir("a.txt"), ENOTDIR);

    int dfd = open("/tmp/d", O_RDONLY | O_DIRECTORY);
    CHECK("open /tmp/d as a directory fd", dfd >= 0);
    CHECK("mkdirat", mkdirat(dfd, "at", 0755) == 0);
    int fd = openat(dfd, "at/file", O_CREAT | O_WRONLY, 0600);
    CHECK("openat creates at/file", fd >= 0 && write(fd, "12345", 5) == 5);
    close(fd);
    CHECK("fstatat at/file: 5 bytes, 0600", fstatat(dfd, "at/file", &st, 0) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0600);
    CHECK("fstatat AT_SYMLINK_NOFOLLOW sees the link", fstatat(dfd, "link", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
    CHECK("renameat at/file -> at/renamed", renameat(dfd, "at/file", dfd, "at/renamed") == 0);
    CHECK("unlinkat the file", unlinkat(dfd, "at/renamed", 0) == 0);
    CHECK("unlinkat AT_REMOVEDIR", unlinkat(dfd, "at", AT_REMOVEDIR) == 0);
    EXPECT_ERR("fstatat the removed directory", fstatat(dfd, "at", &st, 0), ENOENT);
    CHECK("faccessat", faccessat(dfd, "c.txt", R_OK | W_OK, 0) == 0);
    close(dfd);

    CHECK("chmod 0600", chmod("/tmp/d/c.txt", 0600) == 0 && stat("/tmp/d/c.txt", &st) == 0 && (st.st_mode & 07777) == 0600);
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 500}};
    CHECK("utimensat sets the mtime", utimensat(AT_FDCWD, "/tmp/d/c.txt", times, 0) == 0 &&
                                          stat("/tmp/d/c.txt", &st) == 0 && st.st_mtime == 1234567890);
    CHECK("packaged files have mtime 0 and belong to root",
          stat("/usr/share/compat/text/words.txt", &st) == 0 && st.st_mtime == 0 && st.st_uid == 0);

    char real[PATH_MAX];
    CHECK("realpath resolves . .. and symlinks",
          realpath("/tmp/d/moved/../link", real) && strcmp(real, "/tmp/d/a.txt") == 0);
    printf("realpath: %s\n", real);

    struct dirent **names;
    int n = scandir("/usr/share/compat/text", &names, NULL, alphasort);
    printf("scandir /usr/share/compat/text: %d entries:", n);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]->d_name);
        free(names[i]);
    }
    printf("\n");
    free(names);

    int files = 0, dirs = 0;
    long bytes = 0;
    walk("/usr/share/compat", &files, &dirs, &bytes);
    printf("walk /usr/share/compat: %d directories, %d files, %ld bytes\n", dirs, files, bytes);

    CHECK("remove the tree", unlink("/tmp/d/link") == 0 && unlink("/tmp/d/a.txt") == 0 && unlink("/tmp/d/c.txt") == 0 &&
                                 unlink("/tmp/d/moved/b.txt") == 0 && rmdir("/tmp/d/moved/deeper") == 0 &&
                                 rmdir("/tmp/d/moved") == 0 && rmdir("/tmp/d") == 0);
    list("/tmp");
    return finish();
}
