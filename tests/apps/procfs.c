/* Tests /proc/self: maps (format, [heap], [stack], the executable, mprotect splits), status, stat, cmdline, environ;
 * and the system-wide files: loadavg, version, meminfo, uptime and /proc/stat. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096UL

extern char **environ;

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s (errno %s)\n", what, errname(errno));
        exit(1);
    }
}

/* The whole of a /proc file (read in small pieces, as a reader loop would). */
static char *slurp(const char *path, size_t *len) {
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    check(fd >= 0, path);
    size_t total = 0;
    ssize_t n;
    while (total < sizeof buf - 1 && (n = read(fd, buf + total, 100)) > 0)
        total += (size_t)n;
    close(fd);
    buf[total] = 0;
    if (len)
        *len = total;
    char *copy = malloc(total + 1);
    check(copy != NULL, "malloc");
    memcpy(copy, buf, total + 1);
    return copy;
}

/* The maps line that starts at address `start`, or NULL. */
static const char *line_at(const char *maps, unsigned long start, char *out, size_t size) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%08lx-", start);
    for (const char *line = maps; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(out, size, "%.*s", (int)len, line);
            return out;
        }
        line += len + (end ? 1 : 0);
    }
    return NULL;
}

/* Whether some line of `text` starts with `key` and ends with `suffix`. */
static int has_line(const char *text, const char *key, const char *suffix) {
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        size_t klen = strlen(key), slen = strlen(suffix);
        if (len >= klen + slen && strncmp(line, key, klen) == 0 && strncmp(line + len - slen, suffix, slen) == 0)
            return 1;
        line += len + (end ? 1 : 0);
    }
    return 0;
}

/* /proc/stat's first line: user + nice + system, and idle, in clock ticks; 1 if it parses as
 * Linux writes it ("cpu " and 10 numbers). */
static int stat_cpu_line(const char *stat, unsigned long long *busy, unsigned long long *idle) {
    unsigned long long v[10];
    int n = sscanf(stat, "cpu  %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7], &v[8], &v[9]);
    *busy = v[0] + v[1] + v[2];
    *idle = v[3];
    return n == 10;
}

/* How many "cpuN" lines /proc/stat has, and whether every other line Linux writes is there. */
static int stat_cpus(const char *stat, int *others) {
    int cpus = 0;
    int seen = 0;
    const char *keys[] = {"intr ", "ctxt ", "btime ", "processes ", "procs_running ", "procs_blocked ", "softirq "};
    for (const char *line = stat; *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9')
            cpus++;
        for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0)
                seen |= 1 << i;
        if (!end)
            break;
        line = end + 1;
    }
    *others = seen == (1 << (sizeof keys / sizeof keys[0])) - 1;
    return cpus;
}

/* Whether /proc/self/maps's line for [start, end) has perms `perms`, offset 0, no file, as Linux writes it. */
static const char *anon_line(const char *maps, unsigned long start, unsigned long end, const char *perms) {
    char line[256], want[128];
    if (!line_at(maps, start, line, sizeof line))
        return "missing";
    snprintf(want, sizeof want, "%08lx-%08lx %s 00000000 00:00 0 ", start, end, perms);
    return strcmp(line, want) == 0 ? "ok" : "differs";
}

int main(int argc, char **argv) {
    /* maps: an anonymous mapping and its mprotect split; the heap, stack and executable. */
    unsigned char *p = mmap(NULL, 5 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "mmap");
    check(mprotect(p + PAGE, 3 * PAGE, PROT_READ) == 0, "mprotect");
    unsigned long a = (unsigned long)p;
    char *maps = slurp("/proc/self/maps", NULL);
    printf("maps: 3-page r--p mapping %s\n", anon_line(maps, a + PAGE, a + 4 * PAGE, "r--p"));
    check(mprotect(p + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect");
    free(maps);
    maps = slurp("/proc/self/maps", NULL);
    printf("maps: after mprotect of the middle page: %s, %s, %s\n", anon_line(maps, a + PAGE, a + 2 * PAGE, "r--p"),
           anon_line(maps, a + 2 * PAGE, a + 3 * PAGE, "rw-p"), anon_line(maps, a + 3 * PAGE, a + 4 * PAGE, "r--p"));
    free(malloc(100)); /* the heap exists */
    free(maps);
    maps = slurp("/proc/self/maps", NULL);
    printf("maps: [heap] %s, [stack] %s\n", has_line(maps, "", " [heap]") ? "yes" : "no",
           has_line(maps, "", " [stack]") ? "yes" : "no");
    char exe[64];
    snprintf(exe, sizeof exe, " /bin/%s", strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
    int exe_lines = 0, text = 0;
    for (const char *line = maps; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = (size_t)(end - line);
        if (len > strlen(exe) && strncmp(line + len - strlen(exe), exe, strlen(exe)) == 0) {
            exe_lines++;
            text |= strstr(line, " r-xp ") != NULL && line[len - strlen(exe) - 1] == ' ';
        }
        line = end + 1;
    }
    printf("maps: the executable (%s) is named: %s, with an r-xp line: %s\n", exe + 1, exe_lines > 0 ? "yes" : "no",
           text ? "yes" : "no");
    int well_formed = 1;
    for (const char *line = maps; *line;) {
        unsigned long lo, hi, off;
        unsigned maj, mn;
        unsigned long ino;
        char perms[8];
        well_formed &= sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off, &maj, &mn, &ino) == 7 &&
                       lo < hi && strlen(perms) == 4;
        line = strchr(line, '\n') + 1;
    }
    printf("maps: every line parses: %s\n", well_formed ? "yes" : "no");

    /* status and stat. */
    char *status = slurp("/proc/self/status", NULL);
    char pid_line[32];
    snprintf(pid_line, sizeof pid_line, "Pid:\t%d", (int)getpid());
    char name_line[80];
    snprintf(name_line, sizeof name_line, "Name:\t%.15s", exe + 6);
    printf("status: Name %s %s, State R %s, Pid matches %s, Threads 1 %s, VmRSS %s, VmSize %s\n", exe + 6,
           has_line(status, name_line, "") ? "yes" : "no", has_line(status, "State:\tR", "") ? "yes" : "no",
           has_line(status, pid_line, "") ? "yes" : "no", has_line(status, "Threads:\t1", "") ? "yes" : "no",
           has_line(status, "VmRSS:", " kB") ? "yes" : "no", has_line(status, "VmSize:", " kB") ? "yes" : "no");
    char *stat = slurp("/proc/self/stat", NULL);
    int fields = 2;
    for (const char *c = strrchr(stat, ')'); *c; c++)
        fields += *c == ' ';
    int pid = 0;
    char comm[32] = {0}, state = 0;
    sscanf(stat, "%d (%31[^)]) %c", &pid, comm, &state);
    printf("stat: pid matches %s, comm %s, state %c, 52 fields %s\n", pid == getpid() ? "yes" : "no", comm, state,
           fields == 52 ? "yes" : "no");
    char *statm = slurp("/proc/self/statm", NULL);
    unsigned long sizes[7];
    printf("statm: 7 numbers %s\n", sscanf(statm, "%lu %lu %lu %lu %lu %lu %lu", &sizes[0], &sizes[1], &sizes[2],
                                           &sizes[3], &sizes[4], &sizes[5], &sizes[6]) == 7 ? "yes" : "no");
    printf("comm: %s", slurp("/proc/self/comm", NULL));

    /* cmdline and environ: NUL-terminated strings, as the app got them. */
    size_t len;
    char *cmdline = slurp("/proc/self/cmdline", &len);
    size_t at = 0;
    int same = 1;
    for (int i = 0; i < argc; i++) {
        same &= at < len && strcmp(cmdline + at, argv[i]) == 0;
        at += strlen(argv[i]) + 1;
    }
    printf("cmdline: %zu bytes, matches argv %s\n", len, same && at == len ? "yes" : "no");
    char *env = slurp("/proc/self/environ", &len);
    at = 0;
    same = 1;
    for (char **e = environ; *e; e++) {
        same &= at < len && strcmp(env + at, *e) == 0;
        at += strlen(*e) + 1;
    }
    printf("environ: matches environ %s\n", same && at == len ? "yes" : "no");

    /* system-wide files. */
    float l1, l5, l15;
    int running, total, last;
    printf("loadavg: parses %s\n", sscanf(slurp("/proc/loadavg", NULL), "%f %f %f %d/%d %d", &l1, &l5, &l15, &running,
                                          &total, &last) == 6 ? "yes" : "no");
    struct utsname uts;
    check(uname(&uts) == 0, "uname");
    char *version = slurp("/proc/version", NULL);
    printf("version: starts with \"Linux version \" %s, names the release %s\n",
           strncmp(version, "Linux version ", 14) == 0 ? "yes" : "no", strstr(version, uts.release) ? "yes" : "no");
    char *meminfo = slurp("/proc/meminfo", NULL);
    printf("meminfo: MemTotal %s, MemFree %s, MemAvailable %s\n", has_line(meminfo, "MemTotal:", " kB") ? "yes" : "no",
           has_line(meminfo, "MemFree:", " kB") ? "yes" : "no", has_line(meminfo, "MemAvailable:", " kB") ? "yes" : "no");

    /* /proc/uptime and /proc/stat: the VM's time, busy and idle, which a spin moves. */
    double up, idle_seconds;
    printf("uptime: parses %s\n", sscanf(slurp("/proc/uptime", NULL), "%lf %lf", &up, &idle_seconds) == 2 ? "yes" : "no");
    char *vm_stat = slurp("/proc/stat", NULL);
    unsigned long long busy0, idle0, busy1, idle1;
    int parses = stat_cpu_line(vm_stat, &busy0, &idle0);
    int others;
    cpu_set_t allowed;
    check(sched_getaffinity(0, sizeof allowed, &allowed) == 0, "sched_getaffinity");
    int cpus = stat_cpus(vm_stat, &others);
    long long btime = -1;
    const char *b = strstr(vm_stat, "\nbtime ");
    if (b)
        btime = atoll(b + 7);
    printf("stat: cpu line parses %s, a cpuN line per CPU %s, the other lines %s, btime is a date %s\n",
           parses ? "yes" : "no", cpus == CPU_COUNT(&allowed) ? "yes" : "no", others ? "yes" : "no",
           btime > 1000000000 && btime <= (long long)time(NULL) ? "yes" : "no");
    /* 0.3 s of CPU: at least 0.2 s more busy time (clock ticks are 10 ms), idle never less. */
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile unsigned long spin = 0;
    do {
        for (int i = 0; i < 100000; i++)
            spin++;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 300000000L);
    stat_cpu_line(slurp("/proc/stat", NULL), &busy1, &idle1);
    printf("stat: after 0.3 s of CPU, busy time grew by 0.2 s or more %s, idle time never fell %s\n",
           busy1 >= busy0 + 20 ? "yes" : "no", idle1 >= idle0 ? "yes" : "no");

    /* mountinfo: Linux's fields on every line, the root listed with the device stat shows;
     * cgroup: ID:CONTROLLERS:PATH lines. */
    char *info = slurp("/proc/self/mountinfo", NULL);
    int info_lines_ok = info != NULL && *info != 0, root_listed = 0;
    struct stat root_stat;
    check(fstatat(AT_FDCWD, "/", &root_stat, 0) == 0, "stat /");
    for (char *line = info ? strtok(info, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        unsigned id, parent, maj, mnr;
        char within[256], point[256];
        if (sscanf(line, "%u %u %u:%u %255s %255s", &id, &parent, &maj, &mnr, within, point) != 6 || !strstr(line, " - "))
            info_lines_ok = 0;
        else if (strcmp(point, "/") == 0 && makedev(maj, mnr) == root_stat.st_dev)
            root_listed = 1;
    }
    printf("mountinfo: every line has Linux's fields %s, the root's device is stat's %s\n", info_lines_ok ? "yes" : "no",
           root_listed ? "yes" : "no");
    char *groups = slurp("/proc/self/cgroup", NULL);
    int group_lines_ok = groups != NULL && *groups != 0;
    for (char *line = groups ? strtok(groups, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *first = strchr(line, ':'), *second = first ? strchr(first + 1, ':') : NULL;
        if (!first || first == line || !second || second[1] != '/')
            group_lines_ok = 0;
    }
    printf("cgroup: every line is ID:CONTROLLERS:PATH %s\n", group_lines_ok ? "yes" : "no");

    /* limits: Linux's header and 16 lines; the open-files line follows setrlimit. */
    struct rlimit nofile;
    check(getrlimit(RLIMIT_NOFILE, &nofile) == 0, "getrlimit");
    nofile.rlim_cur = 200;
    check(setrlimit(RLIMIT_NOFILE, &nofile) == 0, "setrlimit");
    char *limits = slurp("/proc/self/limits", NULL);
    int limit_lines = 0, header = strncmp(limits, "Limit                     Soft Limit           Hard Limit", 57) == 0;
    char *files_line = strstr(limits, "\nMax open files");
    long files_soft = files_line ? atol(files_line + 26) : -1;
    for (char *at = limits; (at = strchr(at, '\n')) != NULL; at++)
        limit_lines++;
    printf("limits: Linux's header %s, %d lines, open files' soft limit as set %s\n", header ? "yes" : "no", limit_lines,
           files_soft == 200 ? "yes" : "no");
    errno = 0;
    int past = dup2(0, 250);
    int past_errno = errno;
    errno = 0;
    int dupfd = fcntl(0, F_DUPFD, 250);
    printf("the soft limit holds: dup2 to fd 250 %d %s, F_DUPFD from 250 %d %s\n", past, errname(past_errno), dupfd,
           errname(errno));
    pid_t child;
    int child_status = -1;
    /* The hard limit: lowered by anyone, shown by getrlimit and /proc; the soft one cannot
     * pass it; raising it again takes CAP_SYS_RESOURCE (a child that left root has none). */
    nofile.rlim_max = 300;
    check(setrlimit(RLIMIT_NOFILE, &nofile) == 0, "setrlimit hard");
    struct rlimit now;
    check(getrlimit(RLIMIT_NOFILE, &now) == 0, "getrlimit");
    limits = slurp("/proc/self/limits", NULL);
    files_line = strstr(limits, "\nMax open files");
    long files_hard = files_line ? atol(files_line + 47) : -1;
    struct rlimit over = {.rlim_cur = 301, .rlim_max = 300};
    errno = 0;
    int over_r = setrlimit(RLIMIT_NOFILE, &over);
    printf("hard limit lowered: getrlimit %ld/%ld, /proc %ld; soft past it %d %s\n", (long)now.rlim_cur, (long)now.rlim_max,
           files_hard, over_r, errname(errno));
    child = fork();
    if (child == 0) {
        struct rlimit raise = {.rlim_cur = 200, .rlim_max = 400};
        if (setuid(65534) != 0)
            _exit(2);
        errno = 0;
        _exit(setrlimit(RLIMIT_NOFILE, &raise) == 0 ? 0 : errno == EPERM ? 1 : 3);
    }
    waitpid(child, &child_status, 0);
    printf("raising it as a user: status %d (1: EPERM)\n", WEXITSTATUS(child_status));

    /* The host and domain names: set by one process, seen by all (one UTS namespace). */
    child = fork();
    if (child == 0) {
        _exit(sethostname("from-child", 10) == 0 && setdomainname("example.test", 12) == 0 ? 0 : 1);
    }
    child_status = -1;
    waitpid(child, &child_status, 0);
    uname(&uts);
    printf("a child's sethostname/setdomainname: status %d, uname says %s / %s\n", WEXITSTATUS(child_status), uts.nodename,
           uts.domainname);
    errno = 0;
    int r = sethostname("x", 65);
    printf("sethostname of 65 bytes: %s\n", r ? errname(errno) : "ok?");
    return 0;
}
