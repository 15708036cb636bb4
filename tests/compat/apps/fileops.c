/* File operations in /tmp and on packaged files: open/read/write/lseek/pread/pwrite,
 * O_APPEND/O_EXCL/O_TRUNC, ftruncate, rename, unlink while open, dup/fcntl, readv/writev,
 * stdio, mmap of a file, a 1 MiB round trip, and the errors Linux gives for misuse. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "compat.h"

static int read_all(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return (int)n;
}

int main(void) {
    char buf[4096];
    struct stat st;

    /* create, write, read back */
    int fd = open("/tmp/a.txt", O_CREAT | O_EXCL | O_RDWR, 0644);
    CHECK("create /tmp/a.txt with O_EXCL", fd >= 0);
    CHECK("write 12 bytes", write(fd, "hello, world", 12) == 12);
    CHECK("fsync", fsync(fd) == 0);
    CHECK("fstat size 12, regular, mode 0644", fstat(fd, &st) == 0 && st.st_size == 12 && S_ISREG(st.st_mode) &&
                                                   (st.st_mode & 0777) == 0644);
    CHECK("lseek SEEK_SET 7", lseek(fd, 7, SEEK_SET) == 7);
    CHECK("read 5 at offset 7", read(fd, buf, 5) == 5 && memcmp(buf, "world", 5) == 0);
    CHECK("read at end gives 0", read(fd, buf, 10) == 0);
    CHECK("lseek SEEK_CUR -5", lseek(fd, -5, SEEK_CUR) == 7);
    CHECK("lseek SEEK_END +3 (past the end)", lseek(fd, 3, SEEK_END) == 15);
    CHECK("write after a hole", write(fd, "!", 1) == 1);
    CHECK("the hole reads as zeros", pread(fd, buf, 16, 0) == 16 && memcmp(buf, "hello, world\0\0\0!", 16) == 0);
    CHECK("pwrite at 0 leaves the offset alone", pwrite(fd, "HELLO", 5, 0) == 5 && lseek(fd, 0, SEEK_CUR) == 16);
    CHECK("ftruncate to 5", ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5);
    CHECK("ftruncate up to 8 pads with zeros",
          ftruncate(fd, 8) == 0 && pread(fd, buf, 8, 0) == 8 && memcmp(buf, "HELLO\0\0\0", 8) == 0);
    close(fd);
    EXPECT_ERR("O_EXCL on an existing file", open("/tmp/a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);

    /* O_APPEND and O_TRUNC */
    fd = open("/tmp/log.txt", O_CREAT | O_WRONLY | O_APPEND, 0600);
    CHECK("open O_APPEND", fd >= 0);
    write(fd, "one\n", 4);
    lseek(fd, 0, SEEK_SET);
    write(fd, "two\n", 4);
    close(fd);
    CHECK("O_APPEND writes at the end", read_all("/tmp/log.txt", buf, sizeof buf) == 8 && strcmp(buf, "one\ntwo\n") == 0);
    fd = open("/tmp/log.txt", O_WRONLY | O_TRUNC);
    CHECK("O_TRUNC empties the file", fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0);
    close(fd);

    /* rename, unlink */
    CHECK("rename a.txt -> b.txt", rename("/tmp/a.txt", "/tmp/b.txt") == 0);
    EXPECT_ERR("open the old name", open("/tmp/a.txt", O_RDONLY), ENOENT);
    CHECK("rename over an existing file", rename("/tmp/b.txt", "/tmp/log.txt") == 0);
    CHECK("the target has the new content", read_all("/tmp/log.txt", buf, sizeof buf) == 8 && memcmp(buf, "HELLO", 5) == 0);
    fd = open("/tmp/log.txt", O_RDONLY);
    CHECK("unlink while open", unlink("/tmp/log.txt") == 0);
    CHECK("an unlinked open file is still readable", pread(fd, buf, 5, 0) == 5 && memcmp(buf, "HELLO", 5) == 0);
    EXPECT_ERR("stat the unlinked name", stat("/tmp/log.txt", &st), ENOENT);
    close(fd);

    /* dup, dup2, fcntl */
    fd = open("/tmp/dup.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    int fd2 = dup(fd);
    CHECK("dup shares the offset", fd2 > fd && write(fd, "abc", 3) == 3 && lseek(fd2, 0, SEEK_CUR) == 3);
    CHECK("dup2 onto 10", dup2(fd, 10) == 10 && write(10, "def", 3) == 3 && lseek(fd, 0, SEEK_CUR) == 6);
    CHECK("F_GETFL says O_RDWR", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
    CHECK("F_SETFD FD_CLOEXEC", fcntl(fd2, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd2, F_GETFD) == FD_CLOEXEC);
    CHECK("F_DUPFD gives the lowest fd >= 20", fcntl(fd, F_DUPFD, 20) == 20);
    CHECK("F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND) == 0 && (fcntl(fd, F_GETFL) & O_APPEND));
    close(fd2);
    close(10);
    close(20);
    EXPECT_ERR("write to a closed fd", write(fd2, "x", 1), EBADF);

    /* readv / writev */
    struct iovec out[3] = {{"first ", 6}, {"second ", 7}, {"third", 5}};
    CHECK("writev 3 buffers", lseek(fd, 0, SEEK_SET) == 0 && ftruncate(fd, 0) == 0 && writev(fd, out, 3) == 18);
    char x[7] = {0}, y[12] = {0};
    struct iovec in[2] = {{x, 6}, {y, 11}};
    CHECK("readv 2 buffers", lseek(fd, 0, SEEK_SET) == 0 && readv(fd, in, 2) == 17 && strcmp(x, "first ") == 0 &&
                                 strcmp(y, "second thir") == 0);
    close(fd);

    /* misuse */
    fd = open("/tmp/dup.txt", O_RDONLY);
    EXPECT_ERR("write to a read-only fd", write(fd, "x", 1), EBADF);
    close(fd);
    EXPECT_ERR("open a directory for writing", open("/tmp", O_WRONLY), EISDIR);
    EXPECT_ERR("read a directory", (fd = open("/tmp", O_RDONLY | O_DIRECTORY), read(fd, buf, 10)), EISDIR);
    close(fd);
    EXPECT_ERR("open a missing file", open("/tmp/missing", O_RDONLY), ENOENT);
    EXPECT_ERR("open through a file", open("/tmp/dup.txt/x", O_RDONLY), ENOTDIR);
    EXPECT_ERR("write to a packaged file", open("/usr/share/compat/text/words.txt", O_WRONLY), EROFS);
    EXPECT_ERR("create in a packaged directory", open("/usr/share/compat/text/new", O_CREAT | O_WRONLY, 0644), EROFS);
    EXPECT_ERR("lseek to a negative offset",
               (fd = open("/tmp/dup.txt", O_RDONLY), lseek(fd, -1, SEEK_SET)), EINVAL);
    close(fd);

    /* packaged file */
    int n = read_all("/usr/share/compat/text/words.txt", buf, sizeof buf);
    CHECK("read the packaged words.txt (90 bytes, 15 lines)", n == 90 && strncmp(buf, "pear\napple\n", 11) == 0);
    CHECK("stat the packaged words.txt", stat("/usr/share/compat/text/words.txt", &st) == 0 && st.st_size == 90 &&
                                            st.st_uid == 0 && st.st_gid == 0 && st.st_nlink == 1);

    /* stdio */
    FILE *f = fopen("/tmp/stdio.txt", "w+");
    CHECK("fopen w+", f != NULL);
    for (int i = 1; i <= 100; i++)
        fprintf(f, "line %03d\n", i);
    CHECK("ftell after 100 lines", ftell(f) == 900);
    CHECK("fseek to line 42", fseek(f, 41 * 9, SEEK_SET) == 0);
    CHECK("fgets line 42", fgets(buf, sizeof buf, f) && strcmp(buf, "line 042\n") == 0);
    rewind(f);
    int lines = 0;
    while (fgets(buf, sizeof buf, f))
        lines++;
    CHECK("100 lines read back", lines == 100 && feof(f));
    CHECK("fclose", fclose(f) == 0);

    /* mmap of a file */
    fd = open("/tmp/stdio.txt", O_RDONLY);
    char *map = mmap(NULL, 900, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK("mmap a /tmp file", map != MAP_FAILED && memcmp(map + 9 * 99, "line 100\n", 9) == 0);
    munmap(map, 900);
    close(fd);
    fd = open("/usr/share/compat/text/jabberwocky.txt", O_RDONLY);
    map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK("mmap a packaged file", map != MAP_FAILED && memcmp(map, "'Twas brillig", 13) == 0);
    munmap(map, 4096);
    close(fd);

    /* 1 MiB round trip */
    static unsigned char big[1 << 20], back[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(rng() >> 56);
    fd = open("/tmp/big.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    size_t done = 0;
    while (done < sizeof big) {
        ssize_t w = write(fd, big + done, 65536 + done % 1000 < sizeof big - done ? 65536 + done % 1000 : sizeof big - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    CHECK("write 1 MiB in odd-sized pieces", done == sizeof big);
    CHECK("read 1 MiB back", pread(fd, back, sizeof back, 0) == (ssize_t)sizeof back && memcmp(big, back, sizeof big) == 0);
    CHECK("stat says 1 MiB", fstat(fd, &st) == 0 && st.st_size == 1 << 20 && st.st_blocks >= (1 << 20) / 512);
    close(fd);
    CHECK("unlink big.bin", unlink("/tmp/big.bin") == 0);
    return finish();
}
