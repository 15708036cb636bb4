/* A pre-forking TCP server, the pattern of nginx, apache and gunicorn: the parent listens on
 * 0.0.0.0:PORT, forks WORKERS workers that all accept() on the inherited listening socket, and
 * keeps their counts in a MAP_SHARED|MAP_ANONYMOUS page. Each connection carries one request
 * line, answered with "worker served <line>" before the worker closes it. A worker exits 0 once
 * the workers have served CONNECTIONS connections in all; the parent then ends the others
 * (SIGTERM: they may be blocked in accept) and reaps every one. Only the parent prints, and
 * only lines that do not depend on which worker got which connection.
 * Usage: net_prefork PORT WORKERS CONNECTIONS */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "net.h"

#define MAX_WORKERS 64
#define MAX_LINE 4096

/* The shared page: connections served, one slot per worker. */
static long *served;
static int workers;

static void die(const char *what) {
    fprintf(stderr, "net_prefork: %s: %s\n", what, net_errname(errno));
    exit(1);
}

/* A worker's failure: a message, then _exit (no stdio buffer of the parent's is flushed twice). */
static void worker_die(int w, const char *what) {
    fprintf(stderr, "net_prefork: worker %d: %s: %s\n", w, what, net_errname(errno));
    _exit(1);
}

/* Connections served by all workers. */
static long total(void) {
    long sum = 0;
    for (int i = 0; i < workers; i++)
        sum += __atomic_load_n(&served[i], __ATOMIC_SEQ_CST);
    return sum;
}

static long number_arg(const char *s, long max, const char *what) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < 1 || v > max) {
        fprintf(stderr, "net_prefork: %s must be 1 to %ld: %s\n", what, max, s);
        exit(2);
    }
    return v;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= w;
    }
    return 0;
}

/* Serves one connection: reads its request line, answers it; -1 (errno set) on a failure. */
static int serve(int w, int s) {
    static const char prefix[] = "worker served ";
    char buf[sizeof prefix - 1 + MAX_LINE];
    char *line = buf + sizeof prefix - 1;
    size_t len = 0;
    while (len == 0 || line[len - 1] != '\n') {
        if (len == MAX_LINE) {
            fprintf(stderr, "net_prefork: worker %d: a request line longer than %d bytes\n", w, MAX_LINE);
            _exit(1);
        }
        ssize_t r = recv(s, line + len, MAX_LINE - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            fprintf(stderr, "net_prefork: worker %d: the client closed after %zu bytes, before a whole line\n",
                    w, len);
            _exit(1);
        }
        /* One line per connection: nothing may follow its newline. */
        char *nl = memchr(line + len, '\n', r);
        if (nl && nl != line + len + r - 1) {
            fprintf(stderr, "net_prefork: worker %d: bytes after the request line\n", w);
            _exit(1);
        }
        len += r;
    }
    memcpy(buf, prefix, sizeof prefix - 1);
    return send_all(s, buf, sizeof prefix - 1 + len);
}

static void worker(int w, int l, long want) {
    int one = 1;
    for (;;) {
        int s = accept(l, NULL, NULL);
        if (s < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            worker_die(w, "accept");
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (serve(w, s) != 0)
            worker_die(w, "serve");
        if (close(s) != 0)
            worker_die(w, "close");
        /* Counted once answered and closed: when the total is reached, every reply is out. */
        __atomic_add_fetch(&served[w], 1, __ATOMIC_SEQ_CST);
        if (total() >= want)
            _exit(0);
    }
}

/* waitpid that goes on after EINTR. */
static pid_t xwaitpid(pid_t pid, int *status) {
    pid_t r;
    do
        r = waitpid(pid, status, 0);
    while (r < 0 && errno == EINTR);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: net_prefork PORT WORKERS CONNECTIONS\n");
        return 2;
    }
    int port = port_arg(argv[1]);
    workers = (int)number_arg(argv[2], MAX_WORKERS, "WORKERS");
    long want = number_arg(argv[3], 1000000, "CONNECTIONS");
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const char *failed = "";
    int l = tcp_listen(port, 0, &failed);
    if (l < 0)
        die(failed);
    printf("listening on port %d\n", port);
    fflush(stdout);

    served = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (served == MAP_FAILED)
        die("mmap MAP_SHARED|MAP_ANONYMOUS");

    pid_t pids[MAX_WORKERS];
    int reaped[MAX_WORKERS] = {0};
    for (int w = 0; w < workers; w++) {
        fflush(stdout);
        pids[w] = fork();
        if (pids[w] < 0)
            die("fork");
        if (pids[w] == 0)
            worker(w, l, want);
    }
    if (close(l) != 0)
        die("close the listening socket");

    /* The first worker to end is one that saw the total reached (or one that failed). */
    int status;
    pid_t first = xwaitpid(-1, &status);
    if (first < 0)
        die("waitpid");
    int bad = 0;
    for (int w = 0; w < workers; w++) {
        if (pids[w] != first)
            continue;
        reaped[w] = 1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "net_prefork: worker %d ended first, with wait status 0x%x (after %ld connections)\n", w,
                    status, total());
            bad = 1;
        }
    }
    long done = total();
    if (!bad && done != want) {
        fprintf(stderr, "net_prefork: a worker exited after %ld connections, not %ld\n", done, want);
        bad = 1;
    }

    /* The others may be blocked in accept: SIGTERM ends them. One that saw the total reached
     * itself may have exited 0 meanwhile (a zombie until reaped: the signal does nothing). */
    for (int w = 0; w < workers; w++)
        if (!reaped[w] && kill(pids[w], SIGTERM) != 0)
            die("kill");
    for (int w = 0; w < workers; w++) {
        if (reaped[w])
            continue;
        if (xwaitpid(pids[w], &status) != pids[w])
            die("waitpid");
        reaped[w] = 1;
        int ok = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                 (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        if (!ok) {
            fprintf(stderr, "net_prefork: worker %d ended with wait status 0x%x, not exit 0 or SIGTERM\n", w,
                    status);
            bad = 1;
        }
    }
    if (xwaitpid(-1, &status) != -1 || errno != ECHILD) {
        fprintf(stderr, "net_prefork: a child is left after every worker was reaped\n");
        bad = 1;
    }
    if (bad)
        return 1;
    if (total() != want) {
        fprintf(stderr, "net_prefork: %ld connections served in all, expected %ld\n", total(), want);
        return 1;
    }
    printf("served %ld connections with %d workers, every worker reaped\n", want, workers);
    return 0;
}
