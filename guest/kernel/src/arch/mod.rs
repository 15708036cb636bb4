//! Machine-specific code: the entry points (boot, syscall, exceptions), the per-vCPU area,
//! the trap frame, raw physical-memory access through the direct map, the few privileged
//! or special instructions the kernel uses and XSAVE for signal frames (`xstate`). Together
//! with `hypercall.rs` and `user.rs`, this is where the kernel's `unsafe` lives.
//!
//! The kernel runs in ring 3 on PVM hosts and in ring 0 on VMX/SVM hosts. The difference is
//! kept to the return-to-app sequence in `entry.rs`, chosen at boot from the boot info.

pub mod frame;
pub mod percpu;
pub mod phys;
pub mod xstate;

#[cfg(not(test))]
pub mod entry;
#[cfg(not(test))]
pub mod instr;
#[cfg(not(test))]
pub mod mem;
#[cfg(not(test))]
pub mod vdso;

/// One past the kernel image and its zero-initialised data (page-aligned, from link.ld).
#[cfg(not(test))]
pub fn kernel_end() -> u64 {
    extern "C" {
        static __kernel_end: u8;
    }
    // Only the address of the linker-defined symbol is taken, never its contents.
    core::ptr::addr_of!(__kernel_end) as u64
}
