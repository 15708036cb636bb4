/* Fatal faults, chosen by argv[1]; each prints a line (flushed) and then dies the way Linux
 * kills it:
 *   abort        abort()                                   SIGABRT (134)
 *   abort-handler abort() with a SIGABRT handler that returns: the handler runs, then SIGABRT
 *   read         read through a wild pointer               SIGSEGV (139)
 *   write        write through a wild pointer              SIGSEGV
 *   rodata       write to a string literal                 SIGSEGV
 *   call         call through a null function pointer      SIGSEGV
 *   stack        unbounded recursion                       SIGSEGV
 *   div0         integer division by zero                  SIGFPE (136)
 *   trap         __builtin_trap (ud2)                      SIGILL (132) */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "compat.h"

static volatile long sink, depth_limit = 1L << 40;

static void on_abort(int sig) {
    static const char msg[] = "SIGABRT handler ran\n";
    (void)sig;
    write(1, msg, sizeof msg - 1);
}

static long recurse(long n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    if (n >= depth_limit)
        return 0;
    return recurse(n + 1) + pad[0];
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    printf("mode %s\n", mode);
    fflush(stdout);
    if (strcmp(mode, "abort") == 0) {
        abort();
    } else if (strcmp(mode, "abort-handler") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_abort;
        sigaction(SIGABRT, &sa, NULL);
        abort();
    } else if (strcmp(mode, "read") == 0) {
        sink = *(volatile long *)0x5a5a5a5a5000;
    } else if (strcmp(mode, "write") == 0) {
        *(volatile long *)0x7a7a7a7a7000 = 1;
    } else if (strcmp(mode, "rodata") == 0) {
        volatile char *s = (volatile char *)"constant";
        s[0] = 'C';
    } else if (strcmp(mode, "call") == 0) {
        void (*volatile fn)(void) = NULL;
        fn();
    } else if (strcmp(mode, "stack") == 0) {
        sink = recurse(0);
    } else if (strcmp(mode, "div0") == 0) {
        volatile int zero = 0;
        sink = 42 / zero;
    } else if (strcmp(mode, "trap") == 0) {
        __builtin_trap();
    }
    printf("still alive\n");
    return 0;
}
