/* prctl: a thread's name (PR_SET_NAME / PR_GET_NAME, /proc/self/comm for the first thread, a
 * new thread starting with its creator's), and the process attributes Linux keeps and reports
 * back (parent death signal, dumpable, no_new_privs, child subreaper); the capabilities
 * (capget, capset, the bounding and ambient sets, keepcaps, /proc/self/status); an unknown
 * option is EINVAL. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* capget/capset's structures (linux/capability.h, which musl's headers lack). */
#define _LINUX_CAPABILITY_VERSION_3 0x20080522
struct __user_cap_header_struct {
    unsigned version;
    int pid;
};
struct __user_cap_data_struct {
    unsigned effective, permitted, inheritable;
};

static void show_comm(void) {
    char comm[32] = {0};
    FILE *f = fopen("/proc/self/comm", "r");
    if (f && fgets(comm, sizeof comm, f))
        printf("/proc/self/comm: %s", comm);
    if (f)
        fclose(f);
}

static void *thread_main(void *arg) {
    char name[16] = {0};
    prctl(PR_GET_NAME, name);
    printf("a new thread starts as: %s\n", name);
    prctl(PR_SET_NAME, "worker");
    prctl(PR_GET_NAME, name);
    printf("the thread renamed itself: %s\n", name);
    return arg;
}

/* The capability sets: effective, permitted, inheritable. */
static void get_caps(unsigned long long sets[3]) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0)
        printf("capget failed: %s\n", strerror(errno));
    sets[0] = data[0].effective | (unsigned long long)data[1].effective << 32;
    sets[1] = data[0].permitted | (unsigned long long)data[1].permitted << 32;
    sets[2] = data[0].inheritable | (unsigned long long)data[1].inheritable << 32;
}

/* The value of the status file's line `key` (hexadecimal), or ~0 if missing. */
static unsigned long long status_value(const char *key) {
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long value = ~0ULL;
    while (status && fgets(line, sizeof line, status))
        if (strncmp(line, key, strlen(key)) == 0)
            value = strtoull(line + strlen(key), NULL, 16);
    if (status)
        fclose(status);
    return value;
}

/* capget/capset and the capability prctls: root holds them all (the host's root may lack a
 * few: only relations are printed until the sets are the test's own), and may drop them. */
static void capabilities(void) {
    struct __user_cap_header_struct header = {0, 0};
    long r = syscall(SYS_capget, &header, NULL);
    printf("capget, version 0, no data: %ld, version now %#x\n", r, header.version);
    unsigned long long sets[3];
    get_caps(sets);
    unsigned long long bounding = status_value("CapBnd:");
    printf("at start: effective = permitted %d, inheritable %llx, CAP_SYS_ADMIN effective %d, bounding has them %d, "
           "status CapEff agrees %d\n",
           sets[0] == sets[1], sets[2], (int)(sets[0] >> 21 & 1), (sets[1] & ~bounding) == 0,
           status_value("CapEff:") == sets[0]);
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 99999;
    struct __user_cap_data_struct data[2];
    errno = 0;
    r = syscall(SYS_capget, &header, data);
    printf("capget of no such process: %ld %s\n", r, errno == ESRCH ? "ESRCH" : strerror(errno));
    r = prctl(PR_CAPBSET_DROP, 21, 0, 0, 0);
    int still = prctl(PR_CAPBSET_READ, 21, 0, 0, 0);
    printf("drop CAP_SYS_ADMIN from the bounding set: %ld, then in it: %d, status CapBnd lost it %d\n", r, still,
           status_value("CapBnd:") == (bounding & ~(1ULL << 21)));
    /* Keep CAP_NET_BIND_SERVICE (10) effective and inheritable, CAP_CHOWN (0) permitted. */
    memset(data, 0, sizeof data);
    data[0].effective = 1 << 10;
    data[0].permitted = 1 << 10 | 1 << 0;
    data[0].inheritable = 1 << 10;
    header.pid = 0;
    printf("capset to NET_BIND_SERVICE: %ld\n", syscall(SYS_capset, &header, data));
    get_caps(sets);
    printf("after it: effective %llx, permitted %llx, inheritable %llx, status CapEff %llx CapPrm %llx\n", sets[0],
           sets[1], sets[2], status_value("CapEff:"), status_value("CapPrm:"));
    data[0].permitted = 0xffffffff;
    errno = 0;
    r = syscall(SYS_capset, &header, data);
    printf("capset, permitted back: %ld %s\n", r, errno == EPERM ? "EPERM" : strerror(errno));
    header.pid = 99999;
    errno = 0;
    r = syscall(SYS_capset, &header, data);
    printf("capset of another process: %ld %s\n", r, errno == EPERM ? "EPERM" : strerror(errno));
    errno = 0;
    r = prctl(PR_CAPBSET_DROP, 22, 0, 0, 0);
    printf("bounding drop without CAP_SETPCAP: %ld %s\n", r, errno == EPERM ? "EPERM" : strerror(errno));
    r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 0, 0);
    int set = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 10, 0, 0);
    printf("ambient NET_BIND_SERVICE: raise %ld, is set %d, status CapAmb %llx\n", r, set, status_value("CapAmb:"));
    errno = 0;
    r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 0, 0, 0);
    printf("ambient CHOWN (not inheritable): %ld %s\n", r, errno == EPERM ? "EPERM" : strerror(errno));
    int before = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
    r = prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    printf("keepcaps: %d, set %ld, then %d\n", before, r, prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
}

int main(void) {
    char name[16] = {0};
    prctl(PR_GET_NAME, name);
    printf("name at start: %s\n", name);
    show_comm();
    prctl(PR_SET_NAME, "a-name-longer-than-fifteen");
    prctl(PR_GET_NAME, name);
    printf("after PR_SET_NAME: %s\n", name);
    show_comm();
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    prctl(PR_GET_NAME, name);
    printf("the first thread is still: %s\n", name);

    int sig = -1;
    prctl(PR_GET_PDEATHSIG, &sig);
    printf("parent death signal: %d", sig);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_GET_PDEATHSIG, &sig);
    printf(", then %d\n", sig);
    printf("dumpable: %d", prctl(PR_GET_DUMPABLE));
    prctl(PR_SET_DUMPABLE, 0);
    printf(", then %d", prctl(PR_GET_DUMPABLE));
    prctl(PR_SET_DUMPABLE, 1);
    printf(", then %d\n", prctl(PR_GET_DUMPABLE));
    printf("no_new_privs: %d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    printf(", set: %d", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    printf(", then %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    int reaper = -1;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_GET_CHILD_SUBREAPER, &reaper);
    printf("child subreaper: %d\n", reaper);
    printf("CAP_SYS_ADMIN in the bounding set: %d\n", prctl(PR_CAPBSET_READ, 21));
    errno = 0;
    int r = prctl(PR_CAPBSET_READ, 1000);
    printf("capability 1000: %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
    errno = 0;
    r = prctl(12345, 0, 0, 0, 0);
    printf("an unknown option: %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
    capabilities();
    int persona = personality(0xffffffff);
    int old = personality(ADDR_NO_RANDOMIZE);
    printf("personality: %#x, set ADDR_NO_RANDOMIZE: old %#x, now %#x\n", persona, old, personality(0xffffffff));
    return 0;
}
