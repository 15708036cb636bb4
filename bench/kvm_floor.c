/* The KVM floor of one start, as a process of its own: open /dev/kvm, create a VM with one
 * 64 MiB memory slot and one vCPU, run a two-instruction real-mode guest (mov al,0x42; hlt)
 * to its HLT, print "hello", and exit, leaving the VM's teardown to a CLONE_VM child that
 * waits for this process to be gone (as uvm does). Nothing else: no guest kernel, no image,
 * no CPUID set-up. bench/run.sh builds it static with musl, as scripts/build-uvm.sh links uvm
 * where musl-gcc is installed, and times it beside `uvm run`: the difference is what uvm adds
 * to the least any KVM start costs here.
 *
 * Build: musl-gcc -static -O2 -idirafter /usr/include -idirafter /usr/include/x86_64-linux-gnu
 *        -o kvm_floor bench/kvm_floor.c   (or gcc -static: ~0.5 ms slower on a virtualised host) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char reaper_stack[16384] __attribute__((aligned(16)));

/* Holds copies of the fds (and the shared memory) until the parent is gone. */
static int reaper(void *arg) {
    pid_t parent = (pid_t)(long)arg;
    close(0);
    close(1);
    close(2);
    int pidfd = (int)syscall(SYS_pidfd_open, parent, 0);
    if (pidfd >= 0) {
        struct pollfd p = {pidfd, POLLIN, 0};
        while (poll(&p, 1, -1) < 0) {
        }
    }
    _exit(0);
}

static int fail(const char *what) {
    perror(what);
    return 1;
}

int main(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return fail("KVM_CREATE_VM");
    size_t ram_size = 64 << 20;
    unsigned char *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return fail("mmap");
    static const unsigned char code[] = {0xb0, 0x42, 0xf4};
    memcpy(ram + 0x1000, code, sizeof code);
    struct kvm_userspace_memory_region slot = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = ram_size, .userspace_addr = (unsigned long)ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return fail("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_SREGS/REGS");
    if (ioctl(vcpu, KVM_RUN, 0) < 0)
        return fail("KVM_RUN");
    if (run->exit_reason != KVM_EXIT_HLT) {
        fprintf(stderr, "kvm_floor: exit reason %u, expected HLT\n", run->exit_reason);
        return 1;
    }
    if (write(1, "hello\n", 6) != 6)
        return 1;
    clone(reaper, reaper_stack + sizeof reaper_stack, CLONE_VM, (void *)(long)getpid());
    _exit(0);
}
