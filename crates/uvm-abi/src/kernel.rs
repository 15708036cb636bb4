//! [`KernelHeader`]: how the VMM finds the guest kernel's entry points.
//!
//! The guest kernel is stored in the image as a flat binary to be loaded at
//! [`crate::layout::KERNEL_BASE`]; its first bytes are this header (the kernel's linker script
//! places it first). The VMM reads it to set the instruction pointer, LSTAR and the IDT gates.

/// `KernelHeader::magic`.
pub const KERNEL_MAGIC: [u8; 8] = *b"UVMKERN\0";

/// Bytes between two consecutive exception stubs (vector `n` is at `exception_stubs + n * stride`).
pub const EXCEPTION_STUB_STRIDE: u64 = 16;

/// Number of exception vectors with a stub (the CPU's 32 exceptions).
pub const EXCEPTION_VECTORS: u32 = 32;

/// The header at the start of the kernel's flat binary. All addresses are virtual (and equal
/// to guest-physical: the kernel is identity-mapped).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelHeader {
    /// [`KERNEL_MAGIC`].
    pub magic: [u8; 8],
    /// [`crate::ABI_VERSION`] the kernel was built against.
    pub abi_version: u32,
    /// `size_of::<KernelHeader>()`.
    pub header_size: u32,
    /// Bytes of the kernel in memory (code, data and zero-initialised data), from KERNEL_BASE.
    pub memory_size: u64,
    /// Boot entry of the first vCPU, with `rsp` = `boot_stack_top`.
    pub entry: u64,
    /// The syscall entry (the VMM writes it into LSTAR).
    pub syscall_entry: u64,
    /// The exception stub of vector 0 (ring 0; see [`EXCEPTION_STUB_STRIDE`]).
    pub exception_stubs: u64,
    /// Initial stack pointer of the first vCPU.
    pub boot_stack_top: u64,
    /// `cold_start..cold_end`: zero-initialised kernel memory its boot does not touch (page
    /// aligned, inside `memory_size`, past the kernel's file bytes), which the VMM leaves
    /// unbacked instead of backing it before boot with the rest (see uvm-vmm's
    /// `write_kernel_and_tables`). Empty when `cold_start == cold_end`. A header of
    /// [`KERNEL_HEADER_V1_SIZE`] bytes ends before these two fields and marks none.
    pub cold_start: u64,
    /// End of the cold range (see `cold_start`).
    pub cold_end: u64,
    /// `shared_start..shared_end`: the kernel's cold text (code the kernel never writes and a
    /// start seldom runs: what follows the hot functions), page aligned, inside the kernel's
    /// file bytes and past the header's page. The VMM may map these pages from a file that
    /// holds the kernel's bytes (the `uvm` binary), so that every VM reads the same page-cache
    /// pages instead of a private copy (see uvm-vmm's `write_kernel_and_tables`). Empty when
    /// `shared_start == shared_end`. A header of [`KERNEL_HEADER_V1_SIZE`] or
    /// [`KERNEL_HEADER_V2_SIZE`] bytes ends before these two fields and marks none.
    pub shared_start: u64,
    /// End of the shared range (see `shared_start`).
    pub shared_end: u64,
    /// GPA of the [`crate::boot::BootInfo`]: 0 in the kernel's binary, written by the VMM into
    /// the copy it loads (the kernel reads it there at boot). The VMM places the boot info
    /// right after the boot page tables and the hot copies' list page, where the kernel's
    /// boot reads them too: in a group of 8 pages KVM maps at one shadow-page fault. A header
    /// of [`KERNEL_HEADER_V3_SIZE`] bytes or less ends before it: the boot info is then at
    /// [`crate::layout::BOOT_INFO_GPA`].
    pub boot_info_gpa: u64,
}

/// `header_size` of the first header layout, which ends at `boot_stack_top`.
pub const KERNEL_HEADER_V1_SIZE: u32 = 56;

/// `header_size` of the second header layout, which ends at `cold_end`.
pub const KERNEL_HEADER_V2_SIZE: u32 = 72;

/// `header_size` of the third header layout, which ends at `shared_end`.
pub const KERNEL_HEADER_V3_SIZE: u32 = 88;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_header_layout_is_stable() {
        assert_eq!(core::mem::size_of::<KernelHeader>(), 96);
        assert_eq!(core::mem::offset_of!(KernelHeader, boot_info_gpa), KERNEL_HEADER_V3_SIZE as usize);
        assert_eq!(core::mem::offset_of!(KernelHeader, cold_start), KERNEL_HEADER_V1_SIZE as usize);
        assert_eq!(core::mem::offset_of!(KernelHeader, shared_start), KERNEL_HEADER_V2_SIZE as usize);
        assert_eq!(core::mem::offset_of!(KernelHeader, entry), 24);
    }
}
