/* Advisory file locks between processes: flock (held by an open file description), fcntl
 * record locks (F_SETLK, F_SETLKW, F_GETLK: held by a process) and open file description
 * locks (F_OFD_*), each part on its own file in /tmp. Only the parent prints (children report
 * through pipes), and never a pid: relations such as `l_pid==parent 1` (1 true, 0 false).
 * Processes wait for each other through pipes; only where a process must be shown still
 * blocked does the parent wait, 100 ms, for the report it would send once it got its lock.
 *
 *   locks        every part below, in this order, in one process
 *   locks PART   one part: flock posix ofd
 *
 * Exits 0 only if every check passed; a failed check prints a FAILED line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"
#include "parts.h"
#include "pipe_io.h"

static int failures;

/* errno names beyond common.h's. */
static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EDEADLK: return "EDEADLK";
    case ENOLCK: return "ENOLCK";
    }
    return errname(e);
}

/* Counts and reports a failed check (with errno's name, which may be stale). */
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            failures++;                                                                      \
            printf("FAILED at line %d: %s (errno %s)\n", __LINE__, #cond, ename(errno));     \
        }                                                                                    \
    } while (0)

/* fork, after flushing stdout (a child must not print the parent's buffered lines again). */
static pid_t xfork(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        failures++;
        printf("fork FAILED %s\n", ename(errno));
    }
    return pid;
}

/* Reaps `pid`; whether it exited 0. */
static int reap(pid_t pid) {
    int status = -1;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    CHECK(r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}


/* ---------------------------------------------------------------- lock requests */

enum { FCNTL, FLOCK };

/* One lock call, made by the parent on its fd or by a child: on the fd it inherited (`path`
 * NULL) or on its own open of `path` with `flags`. */
struct req {
    int kind;        /* FCNTL or FLOCK */
    int cmd;         /* the fcntl command, or flock's operation */
    const char *path;
    int flags;       /* for the open of `path` */
    int fd;          /* without `path` */
    int close_first; /* a child closes its inherited copy of `fd` first */
    short type, whence;
    off_t start, len;
    pid_t pid;
};

/* What a lock call gave: 0 or its errno (-1: the child's open failed), then the struct flock
 * it left: l_type, l_whence, l_start, l_len, l_pid. */
#define REPORT 6

static void do_req(const struct req *q, long long *v) {
    memset(v, 0, sizeof(long long) * REPORT);
    if (q->close_first)
        close(q->fd);
    int fd = q->path ? open(q->path, q->flags) : q->fd;
    if (fd < 0) {
        v[0] = -1;
        return;
    }
    if (q->kind == FLOCK) {
        v[0] = flock(fd, q->cmd) == 0 ? 0 : errno;
        return;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = q->type;
    fl.l_whence = q->whence;
    fl.l_start = q->start;
    fl.l_len = q->len;
    fl.l_pid = q->pid;
    v[0] = fcntl(fd, q->cmd, &fl) == 0 ? 0 : errno;
    v[1] = fl.l_type;
    v[2] = fl.l_whence;
    v[3] = fl.l_start;
    v[4] = fl.l_len;
    v[5] = fl.l_pid;
}

static int unpack(const long long *v, struct flock *fl) {
    if (fl) {
        memset(fl, 0, sizeof *fl);
        fl->l_type = (short)v[1];
        fl->l_whence = (short)v[2];
        fl->l_start = v[3];
        fl->l_len = v[4];
        fl->l_pid = (pid_t)v[5];
    }
    return (int)v[0];
}

/* The parent's own call on its fd: 0 or errno; `fl` (if not NULL) gets the struct after it. */
static int mine(struct req q, struct flock *fl) {
    long long v[REPORT];
    do_req(&q, v);
    return unpack(v, fl);
}

/* A child in the background: it sends "r", makes its call, sends the outcome, then (`hold`)
 * keeps its locks until the parent lets it go, or exits at once. */
struct child {
    pid_t pid;
    int report; /* read end */
    int go;     /* write end: closing it lets the child go */
};

static struct child start(struct req q, int hold) {
    struct child c = {-1, -1, -1};
    int report[2], go[2];
    CHECK(pipe(report) == 0 && pipe(go) == 0);
    c.pid = xfork();
    if (c.pid == 0) {
        close(report[0]);
        close(go[1]);
        write_all(report[1], "r", 1);
        long long v[REPORT];
        do_req(&q, v);
        write_all(report[1], v, sizeof v);
        char byte;
        if (hold)
            read_full(go[0], &byte, 1); /* EOF: the parent let it go */
        _exit(0);
    }
    close(report[1]);
    close(go[0]);
    c.report = report[0];
    c.go = go[1];
    char ready = 0;
    CHECK(read_full(c.report, &ready, 1) == 1 && ready == 'r');
    return c;
}

/* Whether the child has still not reported after 100 ms (it is blocked in its call). */
static int still_blocked(struct child *c) {
    struct pollfd p = {.fd = c->report, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, 100);
    while (r < 0 && errno == EINTR);
    return r == 0;
}

/* The child's outcome (waiting for it): 0 or errno; `fl` (if not NULL) gets its struct. */
static int outcome(struct child *c, struct flock *fl) {
    long long v[REPORT];
    if (read_full(c->report, v, sizeof v) != sizeof v) {
        failures++;
        printf("FAILED: a child sent no outcome\n");
        v[0] = -2;
    }
    return unpack(v, fl);
}

/* Lets the child go and reaps it: its locks go with it. */
static void finish(struct child *c) {
    close(c->go);
    if (c->pid > 0)
        reap(c->pid);
    close(c->report);
}

/* A child's call, start to end: 0 or errno; `fl` (if not NULL) gets its struct. */
static int child(struct req q, struct flock *fl) {
    struct child c = start(q, 0);
    int e = outcome(&c, fl);
    finish(&c);
    return e;
}

/* How an fcntl lock call ended: Linux refuses a conflicting F_SETLK with EAGAIN, POSIX also
 * allows EACCES. */
static const char *res(int e) {
    if (e == 0)
        return "ok";
    if (e == EAGAIN || e == EACCES)
        return "EAGAIN or EACCES";
    if (e == -1)
        return "open FAILED";
    return ename(e);
}

static int refused(int e) { return e == EAGAIN || e == EACCES; }

/* How a flock call ended. */
static const char *fres(int e) {
    if (e == 0)
        return "ok";
    if (e == EWOULDBLOCK)
        return "EWOULDBLOCK";
    if (e == -1)
        return "open FAILED";
    return ename(e);
}

/* What F_GETLK left, as "F_WRLCK SEEK_SET 0..99" (l_len 0: "1000.."), or "F_UNLCK"
 * (each call its own buffer, 4 at a time). */
static const char *lockdesc(const struct flock *fl) {
    static char bufs[4][96];
    static int next;
    char *buf = bufs[next++ % 4];
    const char *type = fl->l_type == F_RDLCK ? "F_RDLCK"
                       : fl->l_type == F_WRLCK ? "F_WRLCK"
                       : fl->l_type == F_UNLCK ? "F_UNLCK"
                                               : "l_type?";
    if (fl->l_type == F_UNLCK) {
        snprintf(buf, 96, "%s", type);
        return buf;
    }
    const char *whence = fl->l_whence == SEEK_SET   ? "SEEK_SET"
                         : fl->l_whence == SEEK_CUR ? "SEEK_CUR"
                         : fl->l_whence == SEEK_END ? "SEEK_END"
                                                    : "l_whence?";
    if (fl->l_len == 0)
        snprintf(buf, 96, "%s %s %lld..", type, whence, (long long)fl->l_start);
    else
        snprintf(buf, 96, "%s %s %lld..%lld", type, whence, (long long)fl->l_start,
                 (long long)(fl->l_start + fl->l_len - 1));
    return buf;
}

static int is_lock(const struct flock *fl, short type, off_t start, off_t len) {
    return fl->l_type == type && fl->l_whence == SEEK_SET && fl->l_start == start && fl->l_len == len;
}

/* ---------------------------------------------------------------- flock */

#define FLOCK_FILE "/tmp/locks-flock"

/* flock by a child on its own (read-only) open of the file. */
static int flock_own(int op) { return child((struct req){.kind = FLOCK, .cmd = op, .path = FLOCK_FILE}, NULL); }

/* flock by a child on the fd it inherited. */
static int flock_inherited(int fd, int op) { return child((struct req){.kind = FLOCK, .cmd = op, .fd = fd}, NULL); }

static int flock_mine(int fd, int op) { return flock(fd, op) == 0 ? 0 : errno; }

static void part_flock(void) {
    int a = open(FLOCK_FILE, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(a >= 0);
    int e = flock_mine(a, LOCK_EX);
    printf("flock: the parent's LOCK_EX: %s\n", fres(e));
    CHECK(e == 0);

    int ex = flock_own(LOCK_EX | LOCK_NB), sh = flock_own(LOCK_SH | LOCK_NB);
    printf("flock: a child's own open: LOCK_EX|LOCK_NB %s, LOCK_SH|LOCK_NB %s\n", fres(ex), fres(sh));
    CHECK(ex == EWOULDBLOCK && sh == EWOULDBLOCK);

    /* The lock is the open file description's: a child holding it through fork has it too. */
    int same = flock_inherited(a, LOCK_EX | LOCK_NB);
    int after = flock_own(LOCK_EX | LOCK_NB);
    printf("flock: a child's inherited fd (the same open file description): LOCK_EX|LOCK_NB %s; "
           "after it exited, a child's own open: LOCK_EX|LOCK_NB %s\n",
           fres(same), fres(after));
    CHECK(same == 0 && after == EWOULDBLOCK);
    int un = flock_inherited(a, LOCK_UN);
    int free_now = flock_own(LOCK_EX | LOCK_NB);
    int again = flock_mine(a, LOCK_EX | LOCK_NB);
    printf("flock: a child's LOCK_UN on its inherited fd %s (the description's lock): then a child's own open: "
           "LOCK_EX|LOCK_NB %s; the parent's LOCK_EX|LOCK_NB again %s\n",
           fres(un), fres(free_now), fres(again));
    CHECK(un == 0 && free_now == 0 && again == 0);

    /* A child blocked in LOCK_EX gets the lock once the parent lets go. */
    struct child c = start((struct req){.kind = FLOCK, .cmd = LOCK_EX, .path = FLOCK_FILE}, 1);
    int blocked = still_blocked(&c);
    int unlocked = flock_mine(a, LOCK_UN);
    int got = outcome(&c, NULL);
    printf("flock: a child's LOCK_EX on its own open: not done after 100 ms %d; the parent's LOCK_UN %s, then the "
           "child's LOCK_EX %s\n",
           blocked, fres(unlocked), fres(got));
    CHECK(blocked && unlocked == 0 && got == 0);
    int held = flock_mine(a, LOCK_SH | LOCK_NB);
    finish(&c);
    int released = flock_mine(a, LOCK_SH | LOCK_NB);
    printf("flock: while that child holds it: the parent's LOCK_SH|LOCK_NB %s; after it exited: %s\n", fres(held),
           fres(released));
    CHECK(held == EWOULDBLOCK && released == 0);

    /* Shared locks: the parent holds LOCK_SH now. */
    c = start((struct req){.kind = FLOCK, .cmd = LOCK_SH | LOCK_NB, .path = FLOCK_FILE}, 1);
    int child_sh = outcome(&c, NULL);
    int parent_ex = flock_mine(a, LOCK_EX | LOCK_NB); /* fails: drops the parent's LOCK_SH (below) */
    finish(&c);
    int shared_ok = flock_mine(a, LOCK_SH);
    printf("flock: shared locks coexist: the parent's LOCK_SH and a child's LOCK_SH|LOCK_NB %s; "
           "the parent's LOCK_EX|LOCK_NB then %s\n",
           fres(child_sh), fres(parent_ex));
    CHECK(child_sh == 0 && parent_ex == EWOULDBLOCK && shared_ok == 0);
    int child_ex = flock_own(LOCK_EX | LOCK_NB);
    printf("flock: while the parent holds LOCK_SH: a child's own open: LOCK_EX|LOCK_NB %s\n", fres(child_ex));
    CHECK(child_ex == EWOULDBLOCK);

    /* Two opens in one process are two holders. A conversion that fails drops the lock it
     * meant to convert (Linux removes the old lock first: flock(2)). */
    int b = open(FLOCK_FILE, O_RDONLY);
    CHECK(b >= 0);
    int b_ex = flock_mine(b, LOCK_EX | LOCK_NB);
    int b_sh = flock_mine(b, LOCK_SH | LOCK_NB);
    int a_up = flock_mine(a, LOCK_EX | LOCK_NB);
    int b_up = flock_mine(b, LOCK_EX | LOCK_NB);
    printf("flock: the parent's second open: LOCK_EX|LOCK_NB %s, LOCK_SH|LOCK_NB %s; the first open's upgrade "
           "LOCK_EX|LOCK_NB %s, which dropped its LOCK_SH: the second's LOCK_EX|LOCK_NB %s\n",
           fres(b_ex), fres(b_sh), fres(a_up), fres(b_up));
    CHECK(b_ex == EWOULDBLOCK && b_sh == 0 && a_up == EWOULDBLOCK && b_up == 0);
    close(b); /* its only fd: its lock goes */
    int a_ex = flock_mine(a, LOCK_EX | LOCK_NB);
    printf("flock: after the second open's only fd was closed, the first's LOCK_EX|LOCK_NB %s\n", fres(a_ex));
    CHECK(a_ex == 0);

    /* Closing an fd releases the lock only with the description's last fd. */
    c = start((struct req){.kind = FLOCK, .cmd = LOCK_EX | LOCK_NB, .fd = a}, 1);
    CHECK(outcome(&c, NULL) == 0); /* the child holds a copy of fd A (its LOCK_EX: a no-op) */
    close(a);
    int kept = flock_own(LOCK_EX | LOCK_NB);
    finish(&c);
    int gone = flock_own(LOCK_EX | LOCK_NB);
    printf("flock: the parent closed its fd while a child kept a copy: a child's own open: LOCK_EX|LOCK_NB %s; "
           "after that child exited %s\n",
           fres(kept), fres(gone));
    CHECK(kept == EWOULDBLOCK && gone == 0);
    a = open(FLOCK_FILE, O_RDWR);
    CHECK(a >= 0);
    int locked = flock_mine(a, LOCK_EX);
    int before = flock_own(LOCK_EX | LOCK_NB);
    close(a);
    int closed = flock_own(LOCK_EX | LOCK_NB);
    printf("flock: a new open's LOCK_EX %s: a child's LOCK_EX|LOCK_NB %s; after the parent closed that only fd %s\n",
           fres(locked), fres(before), fres(closed));
    CHECK(locked == 0 && before == EWOULDBLOCK && closed == 0);

    /* Errors: the operation is checked before the fd. */
    a = open(FLOCK_FILE, O_RDONLY);
    CHECK(a >= 0);
    int none = flock_mine(a, 0), both = flock_mine(a, LOCK_SH | LOCK_EX), nb = flock_mine(a, LOCK_NB);
    int unlock_free = flock_mine(a, LOCK_UN);
    close(a);
    int badf = flock_mine(a, LOCK_EX), badf_un = flock_mine(a, LOCK_UN), bad_both = flock_mine(a, 0);
    printf("flock: operation 0 %s, LOCK_SH|LOCK_EX %s, LOCK_NB alone %s; LOCK_UN with no lock %s\n", fres(none),
           fres(both), fres(nb), fres(unlock_free));
    printf("flock: a closed fd: LOCK_EX %s, LOCK_UN %s, operation 0 %s\n", fres(badf), fres(badf_un), fres(bad_both));
    CHECK(none == EINVAL && both == EINVAL && nb == EINVAL && unlock_free == 0);
    CHECK(badf == EBADF && badf_un == EBADF && bad_both == EINVAL);
    unlink(FLOCK_FILE);
}

/* ---------------------------------------------------------------- posix */

#define POSIX_FILE "/tmp/locks-posix"

/* fcntl by a child on its own read-write open of the file. */
static int posix_child(int cmd, short type, off_t start, off_t len, struct flock *fl) {
    return child((struct req){.cmd = cmd, .path = POSIX_FILE, .flags = O_RDWR, .type = type, .start = start,
                              .len = len},
                 fl);
}

/* The parent's fcntl on fd `fd`, from SEEK_SET. */
static int posix_mine(int fd, int cmd, short type, off_t start, off_t len, struct flock *fl) {
    return mine((struct req){.cmd = cmd, .fd = fd, .type = type, .start = start, .len = len}, fl);
}

static void part_posix(void) {
    pid_t parent = getpid();
    int p = open(POSIX_FILE, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(p >= 0);
    struct flock fl;
    int e = posix_mine(p, F_SETLK, F_WRLCK, 0, 100, NULL);
    int own = posix_mine(p, F_GETLK, F_WRLCK, 50, 10, &fl);
    printf("posix: the parent's F_SETLK F_WRLCK 0..99 %s; its own F_GETLK on 50..59: %s\n", res(e), lockdesc(&fl));
    CHECK(e == 0 && own == 0 && fl.l_type == F_UNLCK);

    e = posix_child(F_GETLK, F_WRLCK, 50, 10, &fl);
    printf("posix: a child's F_GETLK F_WRLCK 50..59 %s: %s, l_pid==parent %d\n", res(e), lockdesc(&fl),
           fl.l_pid == parent);
    CHECK(e == 0 && is_lock(&fl, F_WRLCK, 0, 100) && fl.l_pid == parent);
    e = posix_child(F_GETLK, F_WRLCK, 100, 100, &fl);
    int unchanged = fl.l_whence == SEEK_SET && fl.l_start == 100 && fl.l_len == 100 && fl.l_pid == 0;
    printf("posix: a child's F_GETLK F_WRLCK 100..199 %s: %s, the other fields as they were %d\n", res(e),
           lockdesc(&fl), unchanged);
    CHECK(e == 0 && fl.l_type == F_UNLCK && unchanged);

    int beyond = posix_child(F_SETLK, F_WRLCK, 100, 100, NULL);
    int inside = posix_child(F_SETLK, F_WRLCK, 50, 1, NULL);
    int rd = posix_child(F_SETLK, F_RDLCK, 0, 10, NULL);
    printf("posix: a child's F_SETLK F_WRLCK 100..199 %s, F_WRLCK 50..50 %s, F_RDLCK 0..9 %s\n", res(beyond),
           res(inside), res(rd));
    CHECK(beyond == 0 && refused(inside) && refused(rd));
    /* A child's locks are its own: closing its copy of the parent's fd leaves the parent's. */
    e = child((struct req){.cmd = F_SETLK, .path = POSIX_FILE, .flags = O_RDWR, .fd = p, .close_first = 1,
                           .type = F_WRLCK, .start = 0, .len = 1},
              NULL);
    printf("posix: a child that closed its inherited copy of the parent's fd: F_WRLCK 0..0 %s\n", res(e));
    CHECK(refused(e));

    /* An unlock in the middle splits the lock in two. */
    e = posix_mine(p, F_SETLK, F_UNLCK, 40, 20, NULL);
    int middle = posix_child(F_SETLK, F_WRLCK, 45, 6, NULL);
    int left = posix_child(F_SETLK, F_WRLCK, 30, 1, NULL);
    int right = posix_child(F_SETLK, F_WRLCK, 70, 1, NULL);
    printf("posix: after the parent's F_UNLCK 40..59 %s: a child's F_WRLCK 45..50 %s, 30..30 %s, 70..70 %s\n", res(e),
           res(middle), res(left), res(right));
    CHECK(e == 0 && middle == 0 && refused(left) && refused(right));
    struct flock at30, at70;
    int g30 = posix_child(F_GETLK, F_WRLCK, 30, 1, &at30), g70 = posix_child(F_GETLK, F_WRLCK, 70, 1, &at70);
    printf("posix: a child's F_GETLK at 30: %s; at 70: %s\n", lockdesc(&at30), lockdesc(&at70));
    CHECK(g30 == 0 && g70 == 0 && is_lock(&at30, F_WRLCK, 0, 40) && is_lock(&at70, F_WRLCK, 60, 40));
    e = posix_mine(p, F_SETLK, F_UNLCK, 0, 0, NULL);
    int whole = posix_child(F_SETLK, F_WRLCK, 0, 0, NULL);
    printf("posix: after the parent's F_UNLCK 0.. %s: a child's F_WRLCK on the whole file %s\n", res(e), res(whole));
    CHECK(e == 0 && whole == 0);

    /* Read locks of several processes coexist; a write lock conflicts with any of them. */
    int mine_rd = posix_mine(p, F_SETLK, F_RDLCK, 200, 100, NULL);
    struct child r = start((struct req){.cmd = F_SETLK, .path = POSIX_FILE, .flags = O_RDONLY, .type = F_RDLCK,
                                        .start = 200, .len = 100},
                           1);
    int child_rd = outcome(&r, NULL);
    int third_wr = posix_child(F_SETLK, F_WRLCK, 250, 1, NULL);
    int third_rd = posix_child(F_SETLK, F_RDLCK, 250, 1, NULL);
    int upgrade = posix_mine(p, F_SETLK, F_WRLCK, 200, 100, NULL);
    printf("posix: F_RDLCK 200..299: the parent's %s, a child's %s; a third process's F_WRLCK 250..250 %s, "
           "its F_RDLCK 250..250 %s; the parent's upgrade to F_WRLCK %s\n",
           res(mine_rd), res(child_rd), res(third_wr), res(third_rd), res(upgrade));
    CHECK(mine_rd == 0 && child_rd == 0 && refused(third_wr) && third_rd == 0 && refused(upgrade));
    finish(&r);
    third_wr = posix_child(F_SETLK, F_WRLCK, 250, 1, NULL);
    upgrade = posix_mine(p, F_SETLK, F_WRLCK, 200, 100, NULL);
    printf("posix: after the child with the read lock exited: the parent's read lock outlived its failed upgrade: "
           "a child's F_WRLCK 250..250 %s; the parent's upgrade now %s\n",
           res(third_wr), res(upgrade));
    CHECK(refused(third_wr) && upgrade == 0);
    CHECK(posix_mine(p, F_SETLK, F_UNLCK, 200, 100, NULL) == 0);

    /* F_SETLKW waits for the conflicting lock to go. */
    e = posix_mine(p, F_SETLK, F_WRLCK, 300, 100, NULL);
    struct child w = start((struct req){.cmd = F_SETLKW, .path = POSIX_FILE, .flags = O_RDWR, .type = F_WRLCK,
                                        .start = 350, .len = 1},
                           1);
    int blocked = still_blocked(&w);
    int unlocked = posix_mine(p, F_SETLK, F_UNLCK, 300, 100, NULL);
    int got = outcome(&w, NULL);
    int held = posix_mine(p, F_SETLK, F_WRLCK, 350, 1, NULL);
    finish(&w);
    int after = posix_mine(p, F_SETLK, F_WRLCK, 350, 1, NULL);
    printf("posix: the parent's F_WRLCK 300..399 %s; a child's F_SETLKW F_WRLCK 350..350: not done after 100 ms %d; "
           "the parent's F_UNLCK %s, then the child's lock %s\n",
           res(e), blocked, res(unlocked), res(got));
    printf("posix: while that child holds 350..350, the parent's F_SETLK there %s; after it exited %s\n", res(held),
           res(after));
    CHECK(e == 0 && blocked && unlocked == 0 && got == 0 && refused(held) && after == 0);
    CHECK(posix_mine(p, F_SETLK, F_UNLCK, 0, 0, NULL) == 0);

    /* Closing any fd of the file drops all the process's locks on it. */
    e = posix_mine(p, F_SETLK, F_WRLCK, 0, 100, NULL);
    int before = posix_child(F_SETLK, F_WRLCK, 0, 1, NULL);
    int second = open(POSIX_FILE, O_RDONLY);
    CHECK(second >= 0);
    close(second);
    int gone = posix_child(F_SETLK, F_WRLCK, 0, 1, NULL);
    printf("posix: the parent's F_WRLCK 0..99 %s (a child's F_WRLCK 0..0 %s); after it opened the file again and "
           "closed that fd: %s\n",
           res(e), res(before), res(gone));
    CHECK(e == 0 && refused(before) && gone == 0);
    e = posix_mine(p, F_SETLK, F_WRLCK, 0, 100, NULL);
    before = posix_child(F_SETLK, F_WRLCK, 0, 1, NULL);
    close(dup(p));
    gone = posix_child(F_SETLK, F_WRLCK, 0, 1, NULL);
    printf("posix: the same with close(dup(fd)): the parent's F_WRLCK 0..99 %s (a child's %s); after: %s\n", res(e),
           res(before), res(gone));
    CHECK(e == 0 && refused(before) && gone == 0);

    /* A process's locks go when it exits. */
    struct child x = start((struct req){.cmd = F_SETLK, .path = POSIX_FILE, .flags = O_RDWR, .type = F_WRLCK,
                                        .start = 500, .len = 100},
                           1);
    int child_lock = outcome(&x, NULL);
    int conflict = posix_mine(p, F_SETLK, F_WRLCK, 500, 100, NULL);
    int probe = posix_mine(p, F_GETLK, F_WRLCK, 500, 100, &fl);
    finish(&x);
    int exited = posix_mine(p, F_SETLK, F_WRLCK, 500, 100, NULL);
    printf("posix: a child's F_WRLCK 500..599 %s: the parent's F_SETLK there %s, F_GETLK %s l_pid==child %d; after "
           "the child exited: %s\n",
           res(child_lock), res(conflict), lockdesc(&fl), probe == 0 && fl.l_pid == x.pid, res(exited));
    CHECK(child_lock == 0 && refused(conflict) && probe == 0 && is_lock(&fl, F_WRLCK, 500, 100) &&
          fl.l_pid == x.pid && exited == 0);
    CHECK(posix_mine(p, F_SETLK, F_UNLCK, 0, 0, NULL) == 0);

    /* l_whence and negative lengths: l_start 10, l_len -5 is bytes 5..9. */
    CHECK(ftruncate(p, 1000) == 0 && lseek(p, 100, SEEK_SET) == 100);
    int set = mine((struct req){.cmd = F_SETLK, .fd = p, .type = F_WRLCK, .whence = SEEK_SET, .start = 10, .len = -5},
                   NULL);
    int cur = mine((struct req){.cmd = F_SETLK, .fd = p, .type = F_WRLCK, .whence = SEEK_CUR, .start = 10, .len = -5},
                   NULL);
    int end = mine((struct req){.cmd = F_SETLK, .fd = p, .type = F_WRLCK, .whence = SEEK_END, .start = -10, .len = 5},
                   NULL);
    printf("posix: the parent's F_WRLCK l_start 10 l_len -5 from SEEK_SET %s, from SEEK_CUR (offset 100) %s, "
           "l_start -10 l_len 5 from SEEK_END (size 1000) %s\n",
           res(set), res(cur), res(end));
    CHECK(set == 0 && cur == 0 && end == 0);
    struct flock s, c, n;
    int gs = posix_child(F_GETLK, F_WRLCK, 0, 20, &s), gc = posix_child(F_GETLK, F_WRLCK, 100, 20, &c);
    int gn = child((struct req){.cmd = F_GETLK, .path = POSIX_FILE, .flags = O_RDWR, .type = F_WRLCK,
                                .whence = SEEK_END, .start = -20, .len = 20},
                   &n);
    printf("posix: a child's F_GETLK on 0..19: %s; on 100..119: %s; on l_start -20 l_len 20 from SEEK_END: %s\n",
           lockdesc(&s), lockdesc(&c), lockdesc(&n));
    CHECK(gs == 0 && gc == 0 && gn == 0 && is_lock(&s, F_WRLCK, 5, 5) && is_lock(&c, F_WRLCK, 105, 5) &&
          is_lock(&n, F_WRLCK, 990, 5));
    int b4 = posix_child(F_SETLK, F_WRLCK, 4, 1, NULL), b10 = posix_child(F_SETLK, F_WRLCK, 10, 1, NULL);
    int b104 = posix_child(F_SETLK, F_WRLCK, 104, 1, NULL), b995 = posix_child(F_SETLK, F_WRLCK, 995, 1, NULL);
    printf("posix: a child's F_WRLCK on byte 4 %s, 10 %s, 104 %s, 995 %s\n", res(b4), res(b10), res(b104), res(b995));
    CHECK(b4 == 0 && b10 == 0 && b104 == 0 && b995 == 0);
    int neg_start = posix_mine(p, F_SETLK, F_WRLCK, -1, 1, NULL);
    int neg_len = posix_mine(p, F_SETLK, F_WRLCK, 3, -5, NULL);
    printf("posix: l_start -1 from SEEK_SET %s; l_start 3 l_len -5 %s\n", res(neg_start), res(neg_len));
    CHECK(neg_start == EINVAL && neg_len == EINVAL);
    CHECK(posix_mine(p, F_SETLK, F_UNLCK, 0, 0, NULL) == 0);

    /* l_len 0: from l_start to the end of the file and beyond. */
    e = posix_mine(p, F_SETLK, F_WRLCK, 1000, 0, NULL);
    int far = posix_child(F_SETLK, F_WRLCK, 1000000, 1, NULL);
    int far_get = posix_child(F_GETLK, F_WRLCK, 1000000, 1, &fl);
    int just_before = posix_child(F_SETLK, F_WRLCK, 999, 1, NULL);
    printf("posix: the parent's F_WRLCK l_start 1000 l_len 0 %s: a child's F_WRLCK at 1000000 %s, F_GETLK there %s; "
           "at 999 %s\n",
           res(e), res(far), lockdesc(&fl), res(just_before));
    CHECK(e == 0 && refused(far) && far_get == 0 && is_lock(&fl, F_WRLCK, 1000, 0) && just_before == 0);
    CHECK(posix_mine(p, F_SETLK, F_UNLCK, 0, 0, NULL) == 0);

    /* Errors. */
    int wo = open(POSIX_FILE, O_WRONLY), ro = open(POSIX_FILE, O_RDONLY);
    CHECK(wo >= 0 && ro >= 0);
    int rd_on_wo = posix_mine(wo, F_SETLK, F_RDLCK, 0, 1, NULL);
    int wr_on_ro = posix_mine(ro, F_SETLK, F_WRLCK, 0, 1, NULL);
    int wr_on_wo = posix_mine(wo, F_SETLK, F_WRLCK, 0, 1, NULL);
    int rd_on_ro = posix_mine(ro, F_SETLK, F_RDLCK, 0, 1, NULL);
    int un_on_ro = posix_mine(ro, F_SETLK, F_UNLCK, 0, 1, NULL);
    int get_on_ro = posix_mine(ro, F_GETLK, F_WRLCK, 0, 1, &fl);
    printf("posix: F_RDLCK on an O_WRONLY fd %s, F_WRLCK on an O_RDONLY fd %s; F_WRLCK on O_WRONLY %s, F_RDLCK on "
           "O_RDONLY %s, F_UNLCK on O_RDONLY %s; F_GETLK F_WRLCK on O_RDONLY %s\n",
           res(rd_on_wo), res(wr_on_ro), res(wr_on_wo), res(rd_on_ro), res(un_on_ro), res(get_on_ro));
    CHECK(rd_on_wo == EBADF && wr_on_ro == EBADF && wr_on_wo == 0 && rd_on_ro == 0 && un_on_ro == 0 &&
          get_on_ro == 0 && fl.l_type == F_UNLCK);
    close(wo);
    close(ro);
    int bad_type = posix_mine(p, F_SETLK, 42, 0, 1, NULL);
    int bad_whence = mine((struct req){.cmd = F_SETLK, .fd = p, .type = F_WRLCK, .whence = 7, .len = 1}, NULL);
    int get_unlck = posix_mine(p, F_GETLK, F_UNLCK, 0, 1, NULL);
    int get_bad = posix_mine(p, F_GETLK, 42, 0, 1, NULL);
    int closed_fd = dup(p);
    close(closed_fd);
    int badf = posix_mine(closed_fd, F_SETLK, F_WRLCK, 0, 1, NULL);
    printf("posix: F_SETLK l_type 42 %s, l_whence 7 %s; F_GETLK l_type F_UNLCK %s, l_type 42 %s; a closed fd %s\n",
           res(bad_type), res(bad_whence), res(get_unlck), res(get_bad), res(badf));
    CHECK(bad_type == EINVAL && bad_whence == EINVAL && get_unlck == EINVAL && get_bad == EINVAL && badf == EBADF);
    close(p);
    unlink(POSIX_FILE);
}

/* ---------------------------------------------------------------- ofd */

#define OFD_FILE "/tmp/locks-ofd"

/* fcntl on the parent's fd `fd`, from SEEK_SET. */
static int ofd_mine(int fd, int cmd, short type, off_t start, off_t len, struct flock *fl) {
    return mine((struct req){.cmd = cmd, .fd = fd, .type = type, .start = start, .len = len}, fl);
}

static void part_ofd(void) {
    pid_t parent = getpid();
    int o1 = open(OFD_FILE, O_RDWR | O_CREAT | O_TRUNC, 0600), o2 = open(OFD_FILE, O_RDWR);
    CHECK(o1 >= 0 && o2 >= 0);
    struct flock fl;
    int first = ofd_mine(o1, F_OFD_SETLK, F_WRLCK, 0, 10, NULL);
    int second = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 0, 10, NULL);
    printf("ofd: one process, two opens: the first's F_OFD_SETLK F_WRLCK 0..9 %s, the second's %s\n", res(first),
           res(second));
    CHECK(first == 0 && refused(second));
    int get2 = ofd_mine(o2, F_OFD_GETLK, F_WRLCK, 0, 10, &fl);
    printf("ofd: the second's F_OFD_GETLK: %s l_pid %d\n", lockdesc(&fl), (int)fl.l_pid);
    CHECK(get2 == 0 && is_lock(&fl, F_WRLCK, 0, 10) && fl.l_pid == -1);
    int get1 = ofd_mine(o1, F_OFD_GETLK, F_WRLCK, 0, 10, &fl);
    printf("ofd: the first's own F_OFD_GETLK: %s\n", lockdesc(&fl));
    CHECK(get1 == 0 && fl.l_type == F_UNLCK);
    int set_pid = mine((struct req){.cmd = F_OFD_SETLK, .fd = o1, .type = F_WRLCK, .len = 10, .pid = 1}, NULL);
    int get_pid = mine((struct req){.cmd = F_OFD_GETLK, .fd = o2, .type = F_WRLCK, .len = 10, .pid = 1}, NULL);
    printf("ofd: l_pid 1 (it must be 0): F_OFD_SETLK %s, F_OFD_GETLK %s\n", res(set_pid), res(get_pid));
    CHECK(set_pid == EINVAL && get_pid == EINVAL);

    /* fork shares the open file description, and with it the lock. */
    int inherited = child((struct req){.cmd = F_OFD_SETLK, .fd = o1, .type = F_WRLCK, .len = 10}, NULL);
    int inherited_get = child((struct req){.cmd = F_OFD_GETLK, .fd = o1, .type = F_WRLCK, .len = 10}, &fl);
    int own = child((struct req){.cmd = F_OFD_SETLK, .path = OFD_FILE, .flags = O_RDWR, .type = F_WRLCK, .len = 10},
                    NULL);
    second = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 0, 10, NULL);
    printf("ofd: a child's inherited copy of the first: F_OFD_SETLK F_WRLCK 0..9 %s, F_OFD_GETLK %s; its own "
           "open: %s; after those children exited, the parent's second open: %s\n",
           res(inherited), lockdesc(&fl), res(own), res(second));
    CHECK(inherited == 0 && inherited_get == 0 && fl.l_type == F_UNLCK && refused(own) && refused(second));

    /* OFD and POSIX locks conflict, in one process too. */
    int posix = ofd_mine(o2, F_SETLK, F_WRLCK, 0, 10, NULL);
    int posix_get = child((struct req){.cmd = F_GETLK, .path = OFD_FILE, .flags = O_RDWR, .type = F_WRLCK, .len = 10},
                          &fl);
    printf("ofd: the parent's F_SETLK F_WRLCK 0..9 (a POSIX lock) %s; a child's F_GETLK there: %s l_pid %d\n",
           res(posix), lockdesc(&fl), (int)fl.l_pid);
    CHECK(refused(posix) && posix_get == 0 && is_lock(&fl, F_WRLCK, 0, 10) && fl.l_pid == -1);
    posix = ofd_mine(o2, F_SETLK, F_WRLCK, 100, 10, NULL);
    int ofd = ofd_mine(o1, F_OFD_SETLK, F_WRLCK, 100, 10, NULL);
    int ofd_get = ofd_mine(o1, F_OFD_GETLK, F_WRLCK, 100, 10, &fl);
    printf("ofd: the parent's F_SETLK F_WRLCK 100..109 %s; its F_OFD_SETLK there %s, F_OFD_GETLK %s l_pid==parent "
           "%d\n",
           res(posix), res(ofd), lockdesc(&fl), fl.l_pid == parent);
    CHECK(posix == 0 && refused(ofd) && ofd_get == 0 && is_lock(&fl, F_WRLCK, 100, 10) && fl.l_pid == parent);
    CHECK(ofd_mine(o2, F_SETLK, F_UNLCK, 100, 10, NULL) == 0);

    /* The lock goes with the description's last fd, not with any close of the file. */
    int o3 = open(OFD_FILE, O_RDONLY);
    CHECK(o3 >= 0);
    close(o3);
    int other_close = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 0, 10, NULL);
    int d = dup(o1);
    CHECK(d >= 0);
    close(o1);
    int dup_open = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 0, 10, NULL);
    close(d);
    int last = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 0, 10, NULL);
    printf("ofd: the second open's F_OFD_SETLK F_WRLCK 0..9 after another fd of the file was closed %s; after the "
           "first's fd was closed, a dup of it open %s; after the dup was closed %s\n",
           res(other_close), res(dup_open), res(last));
    CHECK(refused(other_close) && refused(dup_open) && last == 0);
    CHECK(ofd_mine(o2, F_OFD_SETLK, F_UNLCK, 0, 0, NULL) == 0);

    /* F_OFD_SETLKW waits for the conflicting lock to go. */
    int e = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 0, 100, NULL);
    struct child w =
        start((struct req){.cmd = F_OFD_SETLKW, .path = OFD_FILE, .flags = O_RDWR, .type = F_WRLCK, .start = 50,
                           .len = 10},
              1);
    int blocked = still_blocked(&w);
    int unlocked = ofd_mine(o2, F_OFD_SETLK, F_UNLCK, 0, 100, NULL);
    int got = outcome(&w, NULL);
    int held = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 50, 10, NULL);
    finish(&w);
    int after = ofd_mine(o2, F_OFD_SETLK, F_WRLCK, 50, 10, NULL);
    printf("ofd: the parent's F_OFD_SETLK F_WRLCK 0..99 %s; a child's F_OFD_SETLKW F_WRLCK 50..59 on its own open: "
           "not done after 100 ms %d; the parent's F_UNLCK %s, then the child's lock %s\n",
           res(e), blocked, res(unlocked), res(got));
    printf("ofd: while that child holds it, the parent's F_OFD_SETLK there %s; after its open went with its exit %s\n",
           res(held), res(after));
    CHECK(e == 0 && blocked && unlocked == 0 && got == 0 && refused(held) && after == 0);

    int ro = open(OFD_FILE, O_RDONLY);
    CHECK(ro >= 0);
    int wr_on_ro = ofd_mine(ro, F_OFD_SETLK, F_WRLCK, 0, 1, NULL);
    int bad_type = ofd_mine(ro, F_OFD_SETLK, 42, 0, 1, NULL);
    printf("ofd: F_OFD_SETLK F_WRLCK on an O_RDONLY fd %s, l_type 42 %s\n", res(wr_on_ro), res(bad_type));
    CHECK(wr_on_ro == EBADF && bad_type == EINVAL);
    close(ro);
    close(o2);
    unlink(OFD_FILE);
}

/* ---------------------------------------------------------------- main */

static const struct part parts[] = {
    {"flock", part_flock},
    {"posix", part_posix},
    {"ofd", part_ofd},
};

int main(int argc, char **argv) {
    return run_parts(parts, sizeof parts / sizeof parts[0], argc, argv, &failures);
}
