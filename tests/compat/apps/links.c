/* Links: hard links (link, linkat) share data and count in st_nlink; symlinks (symlink,
 * readlink, lstat), a dangling one, a loop (ELOOP), O_NOFOLLOW, and a symlink to a directory. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compat.h"

int main(void) {
    struct stat st, st2;
    char buf[256];
    int fd = open("/tmp/orig", O_CREAT | O_WRONLY, 0644);
    write(fd, "shared data\n", 12);
    close(fd);

    CHECK("link /tmp/orig /tmp/hard", link("/tmp/orig", "/tmp/hard") == 0);
    CHECK("both names have st_nlink 2 and one inode", stat("/tmp/orig", &st) == 0 && stat("/tmp/hard", &st2) == 0 &&
                                                        st.st_nlink == 2 && st.st_ino == st2.st_ino);
    fd = open("/tmp/hard", O_WRONLY | O_APPEND);
    write(fd, "more\n", 5);
    close(fd);
    CHECK("a write through one name shows through the other", stat("/tmp/orig", &st) == 0 && st.st_size == 17);
    CHECK("linkat", linkat(AT_FDCWD, "/tmp/orig", AT_FDCWD, "/tmp/third", 0) == 0 && stat("/tmp/orig", &st) == 0 &&
                        st.st_nlink == 3);
    CHECK("unlink one name", unlink("/tmp/orig") == 0 && stat("/tmp/hard", &st) == 0 && st.st_nlink == 2);
    EXPECT_ERR("link onto an existing name", link("/tmp/hard", "/tmp/third"), EEXIST);
    EXPECT_ERR("link a directory", link("/tmp", "/tmp/dirlink"), EPERM);
    EXPECT_ERR("link into a packaged directory", link("/tmp/hard", "/usr/share/compat/hard"), EROFS);

    CHECK("symlink /tmp/sym -> hard", symlink("hard", "/tmp/sym") == 0);
    ssize_t n = readlink("/tmp/sym", buf, sizeof buf);
    CHECK("readlink gives the target verbatim", n == 4 && memcmp(buf, "hard", 4) == 0);
    CHECK("lstat sees a link of size 4", lstat("/tmp/sym", &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 4);
    CHECK("stat follows it", stat("/tmp/sym", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 17);
    fd = open("/tmp/sym", O_RDONLY);
    CHECK("open follows it", fd >= 0 && read(fd, buf, 12) == 12 && memcmp(buf, "shared data\n", 12) == 0);
    close(fd);
    EXPECT_ERR("O_NOFOLLOW refuses it", open("/tmp/sym", O_RDONLY | O_NOFOLLOW), ELOOP);
    EXPECT_ERR("readlink of a regular file", readlink("/tmp/hard", buf, sizeof buf), EINVAL);

    CHECK("a dangling symlink", symlink("/tmp/nowhere", "/tmp/dangling") == 0);
    EXPECT_ERR("open a dangling symlink", open("/tmp/dangling", O_RDONLY), ENOENT);
    CHECK("O_CREAT through a dangling symlink creates its target",
          (fd = open("/tmp/dangling", O_CREAT | O_WRONLY, 0644)) >= 0 && close(fd) == 0 && stat("/tmp/nowhere", &st) == 0);

    CHECK("a symlink loop", symlink("loop2", "/tmp/loop1") == 0 && symlink("loop1", "/tmp/loop2") == 0);
    EXPECT_ERR("open a symlink loop", open("/tmp/loop1", O_RDONLY), ELOOP);

    CHECK("a symlink to a packaged directory", symlink("/usr/share/compat/text", "/tmp/textdir") == 0);
    CHECK("a path through it", stat("/tmp/textdir/words.txt", &st) == 0 && st.st_size == 90);
    CHECK("chdir through it", chdir("/tmp/textdir") == 0 && getcwd(buf, sizeof buf) && strcmp(buf, "/usr/share/compat/text") == 0);
    CHECK("the packaged symlink links/link", readlink("/usr/share/compat/links/link", buf, sizeof buf) == 10 &&
                                                 memcmp(buf, "target.txt", 10) == 0);
    CHECK("unlink a symlink leaves its target", unlink("/tmp/sym") == 0 && stat("/tmp/hard", &st) == 0);
    return finish();
}
