/* Shared memory: memfd_create, MAP_SHARED mappings of tmpfs files (/dev/shm, /tmp, a memfd)
 * seen by read/write and by every other mapping of the file, seals, SIGBUS past the end of
 * the file, and the errors. Every check holds on Linux too (tests/native.rs). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compat.h"

#define PAGE 4096

static sigjmp_buf escape;
static volatile int bus_code;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    bus_code = info->si_code;
    siglongjmp(escape, 1);
}

static int maps_has(const char *needle) {
    int fd = open("/proc/self/maps", O_RDONLY);
    static char text[65536];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = 0;
    return strstr(text, needle) != NULL;
}

int main(void) {
    int fd = memfd_create("cache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK("memfd_create", fd >= 0);
    CHECK("it is close-on-exec", fcntl(fd, F_GETFD) == FD_CLOEXEC);
    char link[64] = {0};
    char path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    CHECK("/proc/self/fd names it /memfd:cache (deleted)",
          readlink(path, link, sizeof link - 1) > 0 && strcmp(link, "/memfd:cache (deleted)") == 0);
    CHECK("ftruncate to 3 pages", ftruncate(fd, 3 * PAGE) == 0);
    struct stat st;
    CHECK("fstat: a regular file of 3 pages", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 3 * PAGE);

    char *a = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *b = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("two shared mappings", a != MAP_FAILED && b != MAP_FAILED && a != b);
    CHECK("a new file reads as zeros", a[0] == 0 && a[3 * PAGE - 1] == 0);
    strcpy(a + PAGE, "written through a");
    CHECK("a write through one mapping shows in the other", strcmp(b + PAGE, "written through a") == 0);
    char buf[32] = {0};
    CHECK("and in read()", pread(fd, buf, 17, PAGE) == 17 && strcmp(buf, "written through a") == 0);
    CHECK("a write() shows in both mappings", pwrite(fd, "by pwrite", 9, 2 * PAGE + 5) == 9 &&
          memcmp(a + 2 * PAGE + 5, "by pwrite", 9) == 0 && memcmp(b + 2 * PAGE + 5, "by pwrite", 9) == 0);
    CHECK("/proc/self/maps shows a shared mapping", maps_has("rw-s"));
    CHECK("and names the memfd", maps_has("/memfd:cache (deleted)"));
    char *tail = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE);
    CHECK("a mapping from an offset", tail != MAP_FAILED && memcmp(tail + 5, "by pwrite", 9) == 0);
    munmap(tail, PAGE);
    CHECK("munmap one mapping, the other keeps the data", munmap(b, 3 * PAGE) == 0 && strcmp(a + PAGE, "written through a") == 0);
    char *fixed = mmap(a, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    CHECK("MAP_FIXED of the file over its own mapping", fixed == a && strcmp(a + PAGE, "written through a") == 0);
    CHECK("MADV_DONTNEED keeps a shared mapping's data", madvise(a, 3 * PAGE, MADV_DONTNEED) == 0 &&
          strcmp(a + PAGE, "written through a") == 0);
    CHECK("mremap moves it with its data", (a = mremap(a, 3 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
                                                      a + 64 * PAGE)) != MAP_FAILED &&
          strcmp(a + PAGE, "written through a") == 0);

    /* SIGBUS past the end of the file. */
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    char *wide = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    volatile char *past = wide + 4 * PAGE;
    int got_bus = 0;
    if (sigsetjmp(escape, 1) == 0)
        (void)*past;
    else
        got_bus = 1;
    CHECK("a page past the end of the file is SIGBUS (BUS_ADRERR)", got_bus && bus_code == BUS_ADRERR);
    munmap(wide, 5 * PAGE);

    /* Seals. */
    CHECK("F_GET_SEALS: none yet", fcntl(fd, F_GET_SEALS) == 0);
    EXPECT_ERR("F_SEAL_WRITE while mapped writable", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
    munmap(a, 3 * PAGE);
    CHECK("F_ADD_SEALS write, shrink, grow", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW) == 0);
    CHECK("F_GET_SEALS shows them", fcntl(fd, F_GET_SEALS) == (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW));
    EXPECT_ERR("write to a write-sealed file", write(fd, "x", 1), EPERM);
    EXPECT_ERR("ftruncate smaller", ftruncate(fd, PAGE), EPERM);
    EXPECT_ERR("ftruncate larger", ftruncate(fd, 8 * PAGE), EPERM);
    EXPECT_ERR("a writable shared mapping", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0, EPERM);
    char *ro = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK("a read-only shared mapping still works", ro != MAP_FAILED && strcmp(ro + PAGE, "written through a") == 0);
    EXPECT_ERR("mprotect it writable", mprotect(ro, PAGE, PROT_READ | PROT_WRITE), EACCES);
    CHECK("F_ADD_SEALS seal", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0);
    EXPECT_ERR("no more seals after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM);
    close(fd);
    CHECK("the mapping outlives the fd", strcmp(ro + PAGE, "written through a") == 0);
    munmap(ro, 3 * PAGE);

    int plain = memfd_create("plain", 0);
    CHECK("without MFD_ALLOW_SEALING: F_SEAL_SEAL", fcntl(plain, F_GET_SEALS) == F_SEAL_SEAL);
    EXPECT_ERR("so F_ADD_SEALS fails", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
    close(plain);
    EXPECT_ERR("memfd_create with unknown flags", memfd_create("x", 0x1000), EINVAL);

    /* POSIX shared memory the way shm_open does it: a file in /dev/shm. */
    int shm = open("/dev/shm/uvm-test", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    CHECK("create /dev/shm/uvm-test", shm >= 0 && ftruncate(shm, 2 * PAGE) == 0);
    long *counter = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    CHECK("map it shared", counter != MAP_FAILED);
    CHECK("/proc/self/maps names it", maps_has("/dev/shm/uvm-test"));
    for (int i = 0; i < 1000 && counter != MAP_FAILED; i++)
        __atomic_fetch_add(&counter[PAGE / sizeof(long)], 1, __ATOMIC_SEQ_CST);
    close(shm);
    if (counter != MAP_FAILED)
        munmap(counter, 2 * PAGE);
    shm = open("/dev/shm/uvm-test", O_RDWR);
    long value = 0;
    CHECK("the file kept what the mapping wrote", pread(shm, &value, sizeof value, PAGE) == sizeof value && value == 1000);
    close(shm);
    CHECK("unlink it", unlink("/dev/shm/uvm-test") == 0);

    /* A file opened read-only maps shared read-only only. */
    int w = open("/tmp/shared.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK("write /tmp/shared.txt", w >= 0 && write(w, "hello", 5) == 5);
    int r = open("/tmp/shared.txt", O_RDONLY);
    EXPECT_ERR("a writable shared mapping of a read-only fd", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, r, 0) == MAP_FAILED ? -1 : 0, EACCES);
    char *view = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, r, 0);
    CHECK("a read-only shared mapping of it", view != MAP_FAILED && memcmp(view, "hello", 5) == 0);
    CHECK("sees a later write()", pwrite(w, "HE", 2, 0) == 2 && memcmp(view, "HEllo", 5) == 0);
    close(r);
    close(w);
    munmap(view, PAGE);

    /* Private mappings of a tmpfs file: they follow the file until written. */
    int pf = open("/tmp/private.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK("write /tmp/private.txt", pf >= 0 && write(pf, "original", 8) == 8);
    int pf_ro = open("/tmp/private.txt", O_RDONLY);
    char *pr = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pf_ro, 0);
    CHECK("a read-only private mapping sees a later write()", pr != MAP_FAILED && pwrite(pf, "ORIG", 4, 0) == 4 &&
          memcmp(pr, "ORIGinal", 8) == 0);
    char *pw = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, pf, 0);
    CHECK("a writable private mapping starts with the file's bytes", pw != MAP_FAILED && memcmp(pw, "ORIGinal", 8) == 0);
    char back[9] = {0};
    CHECK("its writes stay private", (memcpy(pw, "changed!", 8), pread(pf, back, 8, 0) == 8) &&
          strcmp(back, "ORIGinal") == 0 && memcmp(pr, "ORIGinal", 8) == 0);
    CHECK("mprotect makes a private page of a read-only fd writable, as a copy",
          mprotect(pr, PAGE, PROT_READ | PROT_WRITE) == 0 && (pr[0] = 'x') == 'x' && pread(pf, back, 8, 0) == 8 &&
          back[0] == 'O');
    CHECK("MADV_DONTNEED brings the file's bytes back", madvise(pw, PAGE, MADV_DONTNEED) == 0 && memcmp(pw, "ORIGinal", 8) == 0);
    EXPECT_ERR("MADV_FREE on a file mapping", madvise(pw, PAGE, MADV_FREE), EINVAL);
    munmap(pr, PAGE);
    munmap(pw, PAGE);
    close(pf_ro);
    close(pf);
    return finish();
}
