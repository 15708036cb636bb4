/* What `uvm`, linked with musl's C library by scripts/build-uvm.sh, needs from glibc beyond
 * what musl has.
 *
 * Rust's standard library for this host's (glibc) target brings GCC's unwinder (libgcc_eh),
 * which finds a code address's unwind tables with glibc's _dl_find_object (glibc 2.35 on)
 * and, built for such a glibc, trusts its answer: "not found" makes a backtrace abort the
 * process (anyhow captures one for each error). This answers it from the program headers,
 * through dl_iterate_phdr, which musl has: the loaded object whose segment holds the address,
 * and its PT_GNU_EH_FRAME (the .eh_frame_hdr the unwinder searches). */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdint.h>

/* The unwinder refers to these weakly (GCC's gthr-posix.h), and a weak reference alone takes
 * nothing from musl's libc.a: it would call a null pthread_once. These strong references
 * link them in. */
__attribute__((used)) static void *const unwinder_threads[] = {
    (void *)pthread_once, (void *)pthread_mutex_lock, (void *)pthread_mutex_unlock,
    (void *)pthread_getspecific, (void *)pthread_setspecific, (void *)pthread_key_create,
};

/* glibc's struct dl_find_object on x86-64 (<dlfcn.h>: no dlfo_eh_dbase, no dlfo_eh_count). */
struct dl_find_object {
    unsigned long long dlfo_flags;
    void *dlfo_map_start;
    void *dlfo_map_end;
    void *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long dlfo_reserved[7];
};

struct query {
    uintptr_t pc;
    struct dl_find_object *out;
    int found;
};

static int find_in_object(struct dl_phdr_info *info, size_t size, void *data) {
    struct query *q = data;
    uintptr_t lowest = UINTPTR_MAX, highest = 0;
    void *eh_frame = 0;
    int holds_pc = 0;
    (void)size;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            uintptr_t end = start + ph->p_memsz;
            if (q->pc >= start && q->pc < end)
                holds_pc = 1;
            if (start < lowest)
                lowest = start;
            if (end > highest)
                highest = end;
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            eh_frame = (void *)start;
        }
    }
    if (!holds_pc)
        return 0;
    q->out->dlfo_flags = 0;
    q->out->dlfo_map_start = (void *)lowest;
    q->out->dlfo_map_end = (void *)highest;
    q->out->dlfo_link_map = 0;
    q->out->dlfo_eh_frame = eh_frame;
    q->found = eh_frame != 0;
    return 1;
}

/* 0 and *result filled in when an object holds pc and has unwind tables; -1 otherwise. */
int _dl_find_object(void *pc, struct dl_find_object *result) {
    struct query q = {(uintptr_t)pc, result, 0};
    dl_iterate_phdr(find_in_object, &q);
    return q.found ? 0 : -1;
}
