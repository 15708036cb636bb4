/* Tests packaged files: read /etc/app.conf, list /usr/share/app (sorted), stat and checksum files. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints "<type> <name>" for each entry of `dir` except . and .., sorted by name. */
static void list(const char *dir) {
    char *names[64];
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        printf("opendir %s: %s\n", dir, errname(errno));
        return;
    }
    for (struct dirent *e; (e = readdir(d)) && n < 64;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("ls %s:\n", dir);
    for (int i = 0; i < n; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0)
            printf("  ? %s (%s)\n", names[i], errname(errno));
        else
            printf("  %c %s\n", S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : '?', names[i]);
        free(names[i]);
    }
}

/* Prints the size (from stat) and the FNV-1a of the content (from read) of a file. */
static void sum(const char *path) {
    struct stat st;
    unsigned char buf[1000]; /* deliberately not a page multiple */
    unsigned h = 2166136261u;
    long long total = 0;
    ssize_t n;
    int fd;

    if (stat(path, &st) != 0) {
        printf("stat %s: %s\n", path, errname(errno));
        return;
    }
    if ((fd = open(path, O_RDONLY)) < 0) {
        printf("open %s: %s\n", path, errname(errno));
        return;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        h = fnv1a(h, buf, (size_t)n);
        total += n;
    }
    close(fd);
    printf("%s: size=%lld read=%lld fnv1a=%08x\n", path, (long long)st.st_size, total, h);
}

int main(void) {
    struct stat st;
    char buf[4096];
    FILE *f = fopen("/etc/app.conf", "r");

    if (!f) {
        printf("fopen /etc/app.conf: %s\n", errname(errno));
        return 1;
    }
    printf("== /etc/app.conf\n");
    while (fgets(buf, sizeof buf, f))
        fputs(buf, stdout);
    fclose(f);
    printf("==\n");

    list("/usr/share/app");
    list("/usr/share/app/sub");
    sum("/etc/app.conf");
    sum("/usr/share/app/numbers.txt");
    sum("/usr/share/app/sub/nested.txt");

    printf("/usr/share/app is a directory: %s\n",
           stat("/usr/share/app", &st) == 0 && S_ISDIR(st.st_mode) ? "yes" : "no");
    printf("stat /usr/share/app/missing: %s\n",
           stat("/usr/share/app/missing", &st) == 0 ? "exists?!" : errname(errno));
    printf("open /etc/app.conf/x: %s\n", open("/etc/app.conf/x", O_RDONLY) >= 0 ? "opened?!" : errname(errno));
    return 0;
}
