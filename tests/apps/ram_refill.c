/* Fills the VM's RAM with a /tmp file until ENOSPC, deletes it, then makes 20000 files in
 * one directory (900 of them kept open): every frame of RAM has then been handed out once,
 * and the guest kernel's heap must still grow (its directory and fd tables) from the frames
 * kept for it. Prints "ram_refill: ENOSPC, then 20000 files" or what failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char page[4096];

int main(void) {
    memset(page, 'y', sizeof page);
    int fd = open("/tmp/big", O_RDWR | O_CREAT | O_TRUNC, 0600);
    ssize_t w;
    while ((w = write(fd, page, sizeof page)) > 0) {
    }
    int full = errno;
    close(fd);
    if (w == 0 || full != ENOSPC || unlink("/tmp/big") != 0) {
        printf("ram_refill: the fill ended with %s, not ENOSPC\n", strerror(full));
        return 1;
    }
    if (mkdir("/tmp/d", 0700) != 0) {
        printf("ram_refill: mkdir: %s\n", strerror(errno));
        return 1;
    }
    char name[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "/tmp/d/file-with-a-longer-name-%06d", i);
        int f = open(name, O_CREAT | O_WRONLY, 0600);
        if (f < 0) {
            printf("ram_refill: file %d: %s\n", i, strerror(errno));
            return 1;
        }
        if (i >= 900)
            close(f);
    }
    printf("ram_refill: ENOSPC, then 20000 files\n");
    return 0;
}
