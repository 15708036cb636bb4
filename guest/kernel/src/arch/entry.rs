//! The kernel's entry points, in assembly: the kernel header the VMM reads, the boot entry,
//! the syscall entry (at LSTAR) and its twin for patched syscall sites, the ring-0 exception
//! stubs, the fault entry they hand over to, and the one return path to the app.
//!
//! On PVM hosts `syscall` lands here still in ring 3 and ring-0 code is emulated (about 1 us
//! an instruction), so the only ring-0 code is the exception stub: it records the exception
//! in the per-vCPU area and `iretq`s into the fault entry, which runs natively. The return to
//! the app is `popfq; jmp` on PVM (ring 3 to ring 3) and `iretq` on VMX/SVM (ring 0 to ring
//! 3): the only place the two platforms differ.

use super::frame::TRAP_FRAME_SIZE;
use super::percpu::offsets as pc;

core::arch::global_asm!(
    r#"
    /* The general registers in TrapFrame order (rax pushed first, r15 last), then the
     * FP/SIMD state below them. */
    .macro SAVE_GPRS_AND_FP
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    sub $512, %rsp
    fxsave64 (%rsp)
    .endm

    /* The inverse of SAVE_GPRS_AND_FP without the FP state (restored separately). */
    .macro RESTORE_GPRS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    .endm

    .section .uvm_header, "a"
    .balign 8
    .globl uvm_kernel_header
uvm_kernel_header:
    .ascii "UVMKERN"
    .byte 0
    .long {abi_version}
    .long 96
    .quad __kernel_end - {kernel_base}
    .quad uvm_kernel_entry
    .quad uvm_syscall_entry
    .quad uvm_exception_stubs
    .quad {kernel_stack0} + {kernel_stack_size} - {boot_stack_reserve}
    .quad __cold_start
    .quad __cold_end
    .quad __shared_start
    .quad __shared_end
    .quad 0

    .section .text.entry, "ax"
    .globl uvm_kernel_entry
uvm_kernel_entry:
    lea {percpu0}(%rip), %rax
    wrgsbase %rax
    xor %ebp, %ebp
    and $-16, %rsp
    call {kernel_main}
    ud2

    /* A vCPU after the first (an app thread's): the VMM starts it here with %rdi = its
     * per-vCPU area and %rsp below the thread's first trap frame. */
    .globl uvm_secondary_entry
uvm_secondary_entry:
    wrgsbase %rdi
    xor %ebp, %ebp
    and $-16, %rsp
    call {secondary_main}
    ud2

    .text
    .balign 16
    .globl uvm_syscall_entry
uvm_syscall_entry:
    mov %rsp, %gs:{scratch_rsp}
    mov %gs:{kernel_stack_top}, %rsp
    push $0
.Lsyscall_on_kernel_stack:
    push ${user_ss}
    push %gs:{scratch_rsp}
    push %r11
    push ${user_cs}
    push %rcx
    push %rax
    SAVE_GPRS_AND_FP
    mov %rsp, %rdi
    call {syscall_handler}
    jmp uvm_return_to_app

    /* A patched syscall site's trampoline (`syscall::patch`) jumps here instead of trapping,
     * with %eax = the syscall number and %rcx = the return address, as `syscall` leaves them.
     * The rest of what `syscall` does happens here, after the stack switch and before any
     * other memory is touched (so the app's red zone below its %rsp stays intact): %r11 =
     * RFLAGS, then the flags SFMASK clears (DF, AC, TF) cleared. The frame's pad word says
     * which way the call came (1: a patched site). */
    .balign 16
    .globl uvm_patched_syscall_entry
uvm_patched_syscall_entry:
    mov %rsp, %gs:{scratch_rsp}
    mov %gs:{kernel_stack_top}, %rsp
    pushfq
    pop %r11
    push $2
    popfq
    push $1
    jmp .Lsyscall_on_kernel_stack

    .balign 16
    .globl uvm_return_to_app
uvm_return_to_app:
    fxrstor64 (%rsp)
    add $512, %rsp
    cmpq $0, %gs:{hardware_virt}
    jne 2f
    mov 128(%rsp), %rax
    mov %rax, %gs:{return_rip}
    mov 152(%rsp), %rax
    mov %rax, %gs:{return_rsp}
    RESTORE_GPRS
    add $24, %rsp
    popfq
    mov %gs:{return_rsp}, %rsp
    jmp *%gs:{return_rip}
2:
    RESTORE_GPRS
    add $8, %rsp
    iretq

    .balign 16
    .globl uvm_fault_entry
uvm_fault_entry:
    push $0
    push ${user_ss}
    push %gs:{fault_rsp}
    push %gs:{fault_rflags}
    push %gs:{fault_cs}
    push %gs:{fault_rip}
    push $-1
    SAVE_GPRS_AND_FP
    mov %rsp, %rdi
    call {fault_handler}
    jmp uvm_return_to_app

    .balign 16
    .globl uvm_exception_stubs
uvm_exception_stubs:
    .set vec, 0
    .rept 32
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push $0
    .endif
    push $vec
    jmp uvm_exception_common
    .set vec, vec + 1
    .endr

    .balign 16
uvm_exception_common:
    mov %rax, %gs:{scratch_rax}
    mov (%rsp), %rax
    mov %rax, %gs:{fault_vector}
    mov 8(%rsp), %rax
    mov %rax, %gs:{fault_error}
    mov 16(%rsp), %rax
    mov %rax, %gs:{fault_rip}
    mov 24(%rsp), %rax
    mov %rax, %gs:{fault_cs}
    mov 32(%rsp), %rax
    mov %rax, %gs:{fault_rflags}
    mov 40(%rsp), %rax
    mov %rax, %gs:{fault_rsp}
    mov %cr2, %rax
    mov %rax, %gs:{fault_cr2}
    mov %gs:{fault_entry}, %rax
    mov %rax, 16(%rsp)
    mov %gs:{kernel_cs}, %rax
    mov %rax, 24(%rsp)
    mov %gs:{fault_stack_top}, %rax
    mov %rax, 40(%rsp)
    mov %gs:{kernel_ss}, %rax
    mov %rax, 48(%rsp)
    andq $0xfffffffffffbfaff, 32(%rsp)
    mov %gs:{scratch_rax}, %rax
    add $16, %rsp
    iretq
    "#,
    abi_version = const uvm_abi::ABI_VERSION,
    kernel_base = const uvm_abi::layout::KERNEL_BASE,
    kernel_stack0 = sym super::percpu::KERNEL_STACK0,
    kernel_stack_size = const super::percpu::KERNEL_STACK_SIZE,
    boot_stack_reserve = const super::percpu::BOOT_STACK_RESERVE,
    percpu0 = sym super::percpu::PERCPU0,
    kernel_main = sym crate::boot::kernel_main,
    secondary_main = sym crate::syscall::clone::secondary_main,
    syscall_handler = sym crate::syscall::syscall_handler,
    fault_handler = sym crate::fault::fault_handler,
    user_cs = const uvm_abi::layout::selectors::USER_CS,
    user_ss = const uvm_abi::layout::selectors::USER_DS,
    kernel_stack_top = const pc::KERNEL_STACK_TOP,
    scratch_rsp = const pc::SCRATCH_RSP,
    return_rip = const pc::RETURN_RIP,
    return_rsp = const pc::RETURN_RSP,
    fault_vector = const pc::FAULT_VECTOR,
    fault_error = const pc::FAULT_ERROR,
    fault_rip = const pc::FAULT_RIP,
    fault_rsp = const pc::FAULT_RSP,
    fault_rflags = const pc::FAULT_RFLAGS,
    fault_cr2 = const pc::FAULT_CR2,
    scratch_rax = const pc::SCRATCH_RAX,
    fault_entry = const pc::FAULT_ENTRY,
    fault_cs = const pc::FAULT_CS,
    fault_stack_top = const pc::FAULT_STACK_TOP,
    kernel_cs = const pc::KERNEL_CS,
    kernel_ss = const pc::KERNEL_SS,
    hardware_virt = const pc::HARDWARE_VIRT,
    options(att_syntax)
);

const _: () = assert!(TRAP_FRAME_SIZE == 512 + 22 * 8, "entry.rs pushes 22 registers after the FP area");

extern "C" {
    fn uvm_return_to_app() -> !;
    fn uvm_fault_entry();
    fn uvm_secondary_entry();
    fn uvm_patched_syscall_entry();
}

/// Where a patched syscall site's trampoline jumps (see `syscall::patch`).
pub fn patched_syscall_entry_address() -> u64 {
    uvm_patched_syscall_entry as *const () as u64
}

/// Where the VMM starts a vCPU after the first.
pub fn secondary_entry_address() -> u64 {
    uvm_secondary_entry as *const () as u64
}

/// Address of the fault entry (for the per-vCPU area).
pub fn fault_entry_address() -> u64 {
    uvm_fault_entry as *const () as u64
}

/// Where the VMM put the boot info: the GPA it wrote into this kernel's header as it loaded
/// it (`KernelHeader::boot_info_gpa`; the binary's own value, 0, says the fixed place).
pub fn boot_info_gpa() -> u64 {
    extern "C" {
        static uvm_kernel_header: u8;
    }
    let field = core::ptr::addr_of!(uvm_kernel_header) as u64
        + core::mem::offset_of!(uvm_abi::kernel::KernelHeader, boot_info_gpa) as u64;
    // SAFETY: the header is part of the kernel's image, mapped for the VM's life, and the
    // field is an aligned u64 in it; volatile, as the VMM changed it after the link (a read
    // through the address, not through a Rust static the compiler could fold).
    let gpa = unsafe { core::ptr::read_volatile(field as *const u64) };
    if gpa == 0 {
        uvm_abi::layout::BOOT_INFO_GPA
    } else {
        gpa
    }
}

/// Enters (or returns to) the app with the registers in `frame`. Never returns.
///
/// # Safety
/// `frame` must point to a complete trap frame on the current vCPU's kernel stack (or any
/// memory that stays valid until the return sequence has read it), whose `rip`/`rsp` the app
/// may run with, and `%gs` must point at this vCPU's per-CPU area.
pub unsafe fn return_to_app(frame: *const super::frame::TrapFrame) -> ! {
    // SAFETY: per the contract above; the return path reads the frame and leaves the kernel.
    unsafe {
        core::arch::asm!(
            "mov {frame}, %rsp",
            "jmp {ret}",
            frame = in(reg) frame,
            ret = sym uvm_return_to_app,
            options(att_syntax, noreturn)
        )
    }
}
