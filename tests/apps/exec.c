/* execve inside a uvm VM: the process runs another program of the image (here itself, at
 * /bin/exec, in another mode) and keeps what Linux keeps across execve.
 *
 *   exec            failures first (each errno), then state set up and execve into `check`
 *   exec check ...  prints what survived: argv, env, fds, signal state, /proc/self, threads
 *   exec script P.. execve of the #! script P (then the script's interpreter prints argv)
 *   exec threads    two more threads (one spinning in app code, one asleep), then execve:
 *                   they end first, as on Linux
 *   exec from-thread  execve from a second thread while a third waits on a pipe: the caller
 *                   becomes the only thread, with the pid as its tid
 *   exec argv ...   prints argv (the interpreter the test scripts name)
 *   exec tmp        execve of a script written to /tmp
 *   exec tmp-elf    execve of a copy of itself written to /tmp (in check mode)
 *   exec fd         execveat of an open fd of the program (AT_EMPTY_PATH), in check mode
 *   exec link       execve through a symlink to the program, in check mode
 *   exec dynamic    execve of a dynamically linked program (the ELF headers of one, naming
 *                   the usual interpreter): ENOEXEC in uvm, which runs static programs
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SELF "/bin/exec"
#define DATA "/usr/share/exec/"

extern char **environ;

/* Changed before the execve: the new program must see its initial value again. */
static int fresh_data = 7;

static void handler(int sig) { (void)sig; }

/* The errno names this test meets (musl has no strerrorname_np). */
static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENOEXEC: return "ENOEXEC";
    case ELOOP: return "ELOOP";
    case E2BIG: return "E2BIG";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    default: return strerror(e);
    }
}

static void try_exec(const char *label, const char *path, char *const argv[]) {
    char *env[] = {"FROM=exec", NULL};
    execve(path, argv, env);
    printf("%s: %s\n", label, errno_name(errno));
}

static void failures(void) {
    char *argv[] = {"x", NULL};
    try_exec("missing file", "/nonexistent", argv);
    try_exec("not executable", DATA "notes.txt", argv);
    try_exec("a directory", "/usr", argv);
    try_exec("neither ELF nor script", DATA "garbage", argv);
    try_exec("#! without interpreter", DATA "no-interpreter.sh", argv);
    try_exec("#! loop", DATA "loop.sh", argv);
    size_t big = 200 * 1024;
    char *huge = malloc(big);
    memset(huge, 'a', big - 1);
    huge[big - 1] = 0;
    char *too_long[] = {"x", huge, NULL};
    try_exec("a 200 KiB argument", SELF, too_long);
    free(huge);
    errno = 0;
    syscall(SYS_execveat, AT_FDCWD, SELF, argv, environ, 0x8000);
    printf("execveat with an unknown flag: %s\n", errno_name(errno));
    errno = 0;
    syscall(SYS_execveat, AT_FDCWD, DATA "link-to-exec", argv, environ, AT_SYMLINK_NOFOLLOW);
    printf("execveat of a symlink with AT_SYMLINK_NOFOLLOW: %s\n", errno_name(errno));
    errno = 0;
    syscall(SYS_execveat, AT_FDCWD, "", argv, environ, 0);
    printf("execveat of an empty path without AT_EMPTY_PATH: %s\n", errno_name(errno));
}

/* A script the app wrote to /tmp. */
static void tmp_script(void) {
    char *argv[] = {"x", "one", NULL};
    const char *text = "#!" SELF " argv\n";
    int fd = open("/tmp/tool", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        perror("/tmp/tool");
    close(fd);
    try_exec("a script in /tmp", "/tmp/tool", argv);
}

/* A copy of this program the app wrote to /tmp (as one unpacked from an archive). */
static void tmp_elf(void) {
    char buf[65536];
    int in = open(SELF, O_RDONLY), out = open("/tmp/exec-copy", O_WRONLY | O_CREAT | O_TRUNC, 0700);
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            perror("write /tmp/exec-copy");
    close(in);
    close(out);
    char *argv[] = {"copy", "check", NULL};
    char *env[] = {"FROM=exec", NULL};
    execve("/tmp/exec-copy", argv, env);
    printf("a program in /tmp: %s\n", errno_name(errno));
}

static void set_up_and_exec(void) {
    fresh_data = 99;
    int kept = open(SELF, O_RDONLY);
    dup2(kept, 5);
    close(kept);
    int closed = open(SELF, O_RDONLY | O_CLOEXEC);
    dup2(closed, 6);
    fcntl(6, F_SETFD, FD_CLOEXEC);
    close(closed);
    signal(SIGUSR1, handler);
    signal(SIGUSR2, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGHUP);
    stack_t alt = {.ss_sp = malloc(65536), .ss_size = 65536};
    sigaltstack(&alt, NULL);
    chdir("/usr/share");
    fflush(stdout);
    char *argv[] = {"renamed", "check", "an argument with spaces", "", NULL};
    char *env[] = {"FROM=exec", "EMPTY=", NULL};
    execve(SELF, argv, env);
    printf("execve: %s\n", errno_name(errno));
}

static const char *disposition(int sig) {
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignored" : "a handler";
}

static void print_file_line(const char *path, const char *prefix) {
    char line[256];
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            printf("%s", line);
    if (f)
        fclose(f);
}

static void check(int argc, char **argv) {
    printf("argc %d:", argc);
    for (int i = 0; i < argc; i++)
        printf(" [%s]", argv[i]);
    printf("\nenv:");
    for (char **e = environ; *e; e++)
        printf(" [%s]", *e);
    printf("\nfd 5 (no close-on-exec): %s\n", fcntl(5, F_GETFD) >= 0 ? "open" : "closed");
    printf("fd 6 (close-on-exec): %s\n", fcntl(6, F_GETFD) >= 0 ? "open" : "closed");
    printf("SIGUSR1 (had a handler): %s, SIGUSR2: %s\n", disposition(SIGUSR1), disposition(SIGUSR2));
    sigset_t set;
    sigprocmask(SIG_BLOCK, NULL, &set);
    printf("SIGTERM blocked: %s\n", sigismember(&set, SIGTERM) ? "yes" : "no");
    sigpending(&set);
    printf("SIGHUP pending: %s\n", sigismember(&set, SIGHUP) ? "yes" : "no");
    stack_t alt;
    sigaltstack(NULL, &alt);
    printf("alternate stack: %s\n", alt.ss_flags & SS_DISABLE ? "none" : "kept");
    char cwd[256];
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd));
    char exe[256] = {0};
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    printf("/proc/self/exe: %s, AT_EXECFN: %s\n", exe, (char *)getauxval(AT_EXECFN));
    print_file_line("/proc/self/status", "Threads:");
    printf("tid is the pid: %s\n", syscall(SYS_gettid) == getpid() ? "yes" : "no");
    printf("fresh data: %d\n", fresh_data);
}

static void *spin(void *arg) {
    for (;;)
        __asm__ volatile("" ::: "memory");
    return arg;
}

static void *sleeper(void *arg) {
    sleep(1000);
    return arg;
}

static int never_written[2];

static void *pipe_reader(void *arg) {
    char byte;
    read(never_written[0], &byte, 1);
    return arg;
}

static void *execer(void *arg) {
    usleep(20000);
    char *next[] = {"exec", "check", NULL};
    try_exec("execve from a thread", SELF, next);
    return arg;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "check") == 0) {
        check(argc, argv);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "argv") == 0) {
        printf("interpreter argv:");
        for (int i = 0; i < argc; i++)
            printf(" [%s]", argv[i]);
        printf("\n");
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "script") == 0) {
        char *script_argv[] = {"ignored", "x", "y z", NULL};
        try_exec("script", argv[2], script_argv);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "tmp") == 0) {
        tmp_script();
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "tmp-elf") == 0) {
        tmp_elf();
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "fd") == 0) {
        int fd = open(SELF, O_RDONLY);
        char *next[] = {"by-fd", "check", NULL};
        char *env[] = {"FROM=exec", NULL};
        syscall(SYS_execveat, fd, "", next, env, AT_EMPTY_PATH);
        printf("execveat by fd: %s\n", errno_name(errno));
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "link") == 0) {
        char *next[] = {"by-link", "check", NULL};
        char *env[] = {"FROM=exec", NULL};
        execve(DATA "link-to-exec", next, env);
        printf("execve through a symlink: %s\n", errno_name(errno));
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "dynamic") == 0) {
        char *args[] = {"dynamic", NULL};
        try_exec("a dynamically linked program", DATA "dynamic", args);
        try_exec("again", DATA "dynamic", args);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "from-thread") == 0) {
        pthread_t reader, caller;
        pipe(never_written);
        pthread_create(&reader, NULL, pipe_reader, NULL);
        pthread_create(&caller, NULL, execer, NULL);
        pthread_join(caller, NULL);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "threads") == 0) {
        pthread_t a, b;
        pthread_create(&a, NULL, spin, NULL);
        pthread_create(&b, NULL, sleeper, NULL);
        usleep(20000);
        print_file_line("/proc/self/status", "Threads:");
        fflush(stdout);
        char *next[] = {"exec", "check", NULL};
        try_exec("execve with threads", SELF, next);
        return 1;
    }
    failures();
    set_up_and_exec();
    return 1;
}
