/* prctl: a thread's name (PR_SET_NAME / PR_GET_NAME, /proc/self/comm for the first thread, a
 * new thread starting with its creator's), and the process attributes Linux keeps and reports
 * back (parent death signal, dumpable, no_new_privs, child subreaper, the capability
 * bounding set); an unknown option is EINVAL. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

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
    return 0;
}
