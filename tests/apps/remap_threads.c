// A mapping changed by one thread is seen by another thread running on another vCPU before
// munmap/mmap return: the reader keeps reading the page (so its translation is cached), the
// writer replaces the page, and the reader must then see only the new page's contents.
// (On the PVM host this was written on, KVM traps these page-table writes itself and the test
// also passes with the VMM's flushes disabled; it guards the semantics, on any host.)
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ROUNDS 200
static volatile int *page;
static atomic_int round_no, seen_round, stale;

static void *reader(void *arg) {
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        while (atomic_load(&round_no) < r) {
            (void)page[0];  // keep the old translation hot until the writer moves on
        }
        if (page[0] != r) atomic_fetch_add(&stale, 1);
        atomic_store(&seen_round, r);
    }
    return NULL;
}

int main(void) {
    long size = sysconf(_SC_PAGESIZE);
    void *at = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (at == MAP_FAILED) return 1;
    page = at;
    page[0] = 0;
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    for (int r = 1; r <= ROUNDS; r++) {
        // A new page at the same address, then (once mmap returned) publish the round.
        void *fresh = mmap(at, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (fresh != at) return 2;
        ((volatile int *)fresh)[0] = r;
        atomic_store(&round_no, r);
        while (atomic_load(&seen_round) < r) {
        }
    }
    pthread_join(t, NULL);
    printf("rounds: %d, stale reads: %d\n", ROUNDS, atomic_load(&stale));
    munmap(at, size);
    return 0;
}
