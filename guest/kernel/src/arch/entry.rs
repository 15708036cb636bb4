//! The kernel's entry points, in assembly: the kernel header the VMM reads, the boot entry,
//! the syscall entry (at LSTAR) and its twin for patched syscall sites, the ring-0 exception
//! stubs, the fault entry they hand over to, and the one return path to the app.
//!
//! On PVM hosts `syscall` lands here still in ring 3 and ring-0 code is emulated (about 1 us
//! an instruction), so the only ring-0 code is the exception stub: it notes where the CPU
//! left the exception's frame, and CR2, in the per-vCPU area and `iretq`s into the fault
//! frame entry, which copies the frame natively. The return to
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

    /* Where the exception stub sends the vCPU, on the fault stack: the CPU's frame (vector,
     * error code, rip, cs, rflags, rsp, ss, as the stub left them) goes into the per-vCPU
     * area, where the VMM writes an interrupt's, and on into the fault entry. On PVM the
     * frame is on the ring-0 stack in the supervisor-only system area, read here through
     * the direct map; on VMX/SVM a fault in the kernel leaves it on the kernel's stack. */
    .balign 16
    .globl uvm_fault_frame_entry
uvm_fault_frame_entry:
    mov %rax, %gs:{scratch_rax}
    mov %gs:{fault_frame}, %rax
    cmp ${system_area_end}, %rax
    jae 1f
    bts ${direct_map_bit}, %rax
1:
    push (%rax)
    pop %gs:{fault_vector}
    push 8(%rax)
    pop %gs:{fault_error}
    push 16(%rax)
    pop %gs:{fault_rip}
    push 24(%rax)
    pop %gs:{fault_cs}
    push 32(%rax)
    pop %gs:{fault_rflags}
    push 40(%rax)
    pop %gs:{fault_rsp}
    mov %gs:{scratch_rax}, %rax

    /* The fault entry proper, with the interrupted state in the per-vCPU area (the VMM
     * starts an interrupt here). */
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

    /* Ring 0, so every instruction here is emulated on PVM (~1 us each): the stub only
     * notes where the CPU's frame is, and CR2 (through %rsp, which is about to be the
     * ready-made frame's anyway: no register to save), then pops the ready-made frame that
     * leaves for the fault frame entry, which copies the CPU's frame natively. 7
     * instructions a page fault, with the vector's two. */
    .balign 16
uvm_exception_common:
    mov %rsp, %gs:{fault_frame}
    mov %cr2, %rsp
    mov %rsp, %gs:{fault_cr2}
    mov %gs:{fault_return_frame}, %rsp
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
    fault_cs = const pc::FAULT_CS,
    hardware_virt = const pc::HARDWARE_VIRT,
    fault_frame = const pc::FAULT_FRAME,
    direct_map_bit = const DIRECT_MAP_BIT,
    system_area_end = const uvm_abi::layout::SYSTEM_AREA_END,
    fault_return_frame = const pc::FAULT_RETURN_FRAME,
    options(att_syntax)
);

/// The direct map's base is one bit above every system-area address, so setting that bit
/// adds it (`uvm_fault_frame_entry`, with one register to spare).
const DIRECT_MAP_BIT: u32 = uvm_abi::layout::DIRECT_MAP_VA.trailing_zeros();
const _: () = assert!(
    uvm_abi::layout::DIRECT_MAP_VA == 1 << DIRECT_MAP_BIT
        && uvm_abi::layout::SYSTEM_AREA_END <= uvm_abi::layout::DIRECT_MAP_VA
);

const _: () = assert!(TRAP_FRAME_SIZE == 512 + 22 * 8, "entry.rs pushes 22 registers after the FP area");

extern "C" {
    fn uvm_return_to_app() -> !;
    fn uvm_fault_entry();
    fn uvm_fault_frame_entry();
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

/// Address of the fault frame entry, where the exception stub leaves for (for the per-vCPU
/// area's `fault_return`).
pub fn fault_frame_entry_address() -> u64 {
    uvm_fault_frame_entry as *const () as u64
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
