/* Single-steps a program and every thread it makes (ptrace), and prints each distinct
 * instruction address in [LO, HI) once, in the order they first ran. scripts/uvm-text-order.py
 * runs `uvm run` under it to learn which of uvm's functions a start runs.
 *
 * Build: gcc -O2 -o trace-text scripts/trace-text.c
 * Usage: trace-text LO HI OUT PROGRAM [ARGS...]   (LO and HI in hexadecimal) */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s LO HI OUT PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    unsigned long lo = strtoul(argv[1], 0, 16), hi = strtoul(argv[2], 0, 16);
    if (hi <= lo) {
        fprintf(stderr, "%s: empty range %s-%s\n", argv[0], argv[1], argv[2]);
        return 2;
    }
    unsigned char *seen = calloc(hi - lo, 1);
    FILE *out = fopen(argv[3], "w");
    if (!seen || !out) {
        perror(argv[3]);
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[4], argv + 4);
        perror(argv[4]);
        _exit(127);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
        fprintf(stderr, "%s: the child did not stop\n", argv[0]);
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL);
    ptrace(PTRACE_SINGLESTEP, child, 0, 0);
    long steps = 0;
    int live = 1, exit_status = 1;
    while (live > 0) {
        pid_t task = waitpid(-1, &status, __WALL);
        if (task < 0)
            break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (task == child)
                exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            live--;
            continue;
        }
        int deliver = 0;
        int sig = WSTOPSIG(status);
        if (status >> 16 == PTRACE_EVENT_CLONE) {
            live++; /* the new task reports its own first stop */
        } else if (sig == SIGTRAP) {
            struct user_regs_struct regs;
            if (ptrace(PTRACE_GETREGS, task, 0, &regs) == 0 && regs.rip >= lo && regs.rip < hi &&
                !seen[regs.rip - lo]) {
                seen[regs.rip - lo] = 1;
                fprintf(out, "%llx\n", regs.rip);
            }
            steps++;
        } else if (sig != SIGSTOP) {
            deliver = sig;
        }
        ptrace(PTRACE_SINGLESTEP, task, 0, deliver);
    }
    fclose(out);
    fprintf(stderr, "trace-text: %ld steps, exit status %d\n", steps, exit_status);
    return exit_status;
}
