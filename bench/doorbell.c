/* What an unpark doorbell saves: a guest store to an address with no memory behind it, handled
 * by exiting to the VMM (as a hypercall is) or by KVM inside the host kernel (an ioeventfd, as
 * uvm's unpark doorbells are). The guest is a real-mode loop of 2000 such stores, then HLT;
 * the VMM times the whole KVM_RUN loop both ways and prints the cost per store. On PVM the
 * real-mode loop itself is emulated too (~1 us an instruction), the same both ways: the
 * difference is the exit to the VMM and back. (uvm's kernel makes the store from ring 3, where
 * a one-off probe measured 3.3-4.2 us with the ioeventfd against 36-43 us without, in the same
 * hour.)
 *
 * Build and run: gcc -O2 -o /tmp/doorbell bench/doorbell.c && /tmp/doorbell */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define STORES 2000
#define DOORBELL 0x20000 /* past the 64 KiB memory slot: no memory */

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    unsigned char *ram = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* mov ax,0x2000; mov ds,ax; mov cx,STORES; l: mov [0],al; loop l; hlt */
    unsigned char code[] = {0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xb9, STORES & 0xff, STORES >> 8,
                            0xa2, 0x00, 0x00, 0xe2, 0xfb, 0xf4};
    memcpy(ram + 0x1000, code, sizeof code);
    struct kvm_userspace_memory_region slot = {.memory_size = 0x10000, .userspace_addr = (uintptr_t)ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    struct kvm_run *run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
                               MAP_SHARED, vcpu, 0);
    int efd = eventfd(0, EFD_NONBLOCK);
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 1) {
            struct kvm_ioeventfd io = {.addr = DOORBELL, .len = 1, .fd = efd};
            if (ioctl(vm, KVM_IOEVENTFD, &io) < 0)
                die("KVM_IOEVENTFD");
        }
        double per_store[9];
        for (int round = 0; round < 9; round++) {
            struct kvm_sregs sregs;
            if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
                die("KVM_GET_SREGS");
            sregs.cs.base = 0;
            sregs.cs.selector = 0;
            struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
            if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
                die("KVM_SET_SREGS/REGS");
            int exits = 0;
            double start = now_us();
            for (;;) {
                if (ioctl(vcpu, KVM_RUN, 0) < 0)
                    die("KVM_RUN");
                if (run->exit_reason == KVM_EXIT_HLT)
                    break;
                if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != DOORBELL) {
                    fprintf(stderr, "doorbell: unexpected exit %u\n", run->exit_reason);
                    return 1;
                }
                exits++;
            }
            per_store[round] = (now_us() - start) / STORES;
            uint64_t rings = 0;
            if (read(efd, &rings, 8) != 8)
                rings = 0;
            if (exits + (int)rings != STORES) {
                fprintf(stderr, "doorbell: %d exits + %d eventfd rings, expected %d\n", exits, (int)rings, STORES);
                return 1;
            }
        }
        qsort(per_store, 9, sizeof per_store[0], cmp);
        printf("%-38s %6.2f us a store (median of 9 runs of %d; min %.2f, max %.2f)\n",
               mode ? "store handled by KVM (ioeventfd):" : "store that exits to the VMM:", per_store[4], STORES,
               per_store[0], per_store[8]);
    }
    return 0;
}
