//! The memory map: where everything sits in guest-physical (GPA) and guest-virtual (VA) space.
//!
//! One address space serves the guest kernel and the app (one page-table root). The VMM builds
//! the boot page tables before the first entry; from then on only the guest kernel edits them,
//! and only in the ways the shadow-paging rules of this host allow (see docs/DESIGN.md).
//!
//! Guest-physical map:
//!
//! | GPA                              | what                                             |
//! |----------------------------------|--------------------------------------------------|
//! | `0 .. ram_size`                  | guest RAM (anonymous host memory, slot 0)        |
//! | `GDT_GPA .. SYSTEM_AREA_END`     | GDT, TSSs, IDT, ring-0 exception stacks, BootInfo |
//! | `KERNEL_BASE .. KERNEL_END`      | the guest kernel (loaded by the VMM)             |
//! | `KERNEL_END .. ram_size`         | boot page tables, then the kernel's frame pool   |
//! | `IMAGE_GPA .. + image size`      | the image file, read-only (slot 1, zero copy)    |
//! | `HYPERCALL_GPA .. + 4 KiB`       | no memory: a write here is a hypercall           |

/// Size of a base page.
pub const PAGE_SIZE: u64 = 4096;
/// Size of a large (2 MiB) page, used by the direct map.
pub const LARGE_PAGE_SIZE: u64 = 2 << 20;

/// GDT: one page. Entries follow the Linux x86-64 layout (see [`selectors`]).
pub const GDT_GPA: u64 = 0x1000;
/// Task state segments, one per vCPU, `TSS_STRIDE` bytes apart.
pub const TSS_GPA: u64 = 0x2000;
/// Bytes reserved per TSS (a 64-bit TSS is 104 bytes).
pub const TSS_STRIDE: u64 = 128;
/// IDT: 256 gates of 16 bytes.
pub const IDT_GPA: u64 = 0x4000;
/// Ring-0 exception stacks, one per vCPU, `EXCEPTION_STACK_SIZE` bytes each. The ring-0 stubs
/// only push the CPU's frame and hand over to ring-3 kernel code, so they need little.
pub const EXCEPTION_STACKS_GPA: u64 = 0x10000;
/// Bytes of ring-0 stack per vCPU.
pub const EXCEPTION_STACK_SIZE: u64 = 1024;
/// The most vCPUs one VM may have (bounded by the TSS and exception-stack areas).
pub const MAX_VCPUS: u32 = 64;
/// [`crate::boot::BootInfo`] and the strings it points to.
pub const BOOT_INFO_GPA: u64 = 0x20000;
/// Bytes reserved for the boot info and its strings (argv, envp, workdir).
pub const BOOT_INFO_SIZE: u64 = 0x40000;
/// End of the system area: everything below is written by the VMM before the first entry.
pub const SYSTEM_AREA_END: u64 = BOOT_INFO_GPA + BOOT_INFO_SIZE;

/// The guest kernel's load address. Its virtual address equals its physical address.
pub const KERNEL_BASE: u64 = 0x20_0000;
/// End of the area the guest kernel (code, data, bss, boot stacks) must fit in.
pub const KERNEL_END: u64 = 0x40_0000;

/// Virtual address of the hypercall page (a user page with no memory behind it).
pub const HYPERCALL_VA: u64 = 0x1f_f000;
/// Guest-physical address of the hypercall page. A write of a `u64` (the GPA of the
/// parameter block) to `HYPERCALL_GPA + 8 * number` is hypercall `number`.
pub const HYPERCALL_GPA: u64 = 3 << 38;
/// Where the image file is mapped, read-only, in guest-physical space.
pub const IMAGE_GPA: u64 = 1 << 39;
/// Largest image the memory map has room for.
pub const IMAGE_MAX_SIZE: u64 = 1 << 38;
/// Largest guest RAM the memory map has room for (RAM must end below the image).
pub const RAM_MAX_SIZE: u64 = IMAGE_GPA;
/// Smallest guest RAM uvm boots with.
pub const RAM_MIN_SIZE: u64 = 16 << 20;

/// The direct map: every byte of RAM and of the image at `DIRECT_MAP_VA + gpa`
/// (2 MiB pages; RAM writable, the image read-only; never executable).
pub const DIRECT_MAP_VA: u64 = 0x4000_0000_0000;

/// Lowest address an app segment or mapping may use (everything below belongs to uvm).
pub const USER_MIN_VA: u64 = KERNEL_END;
/// One past the highest user address (as on Linux x86-64 with 4-level paging).
pub const USER_END_VA: u64 = 0x7fff_ffff_f000;
/// Top of the initial app stack.
pub const STACK_TOP_VA: u64 = USER_END_VA;
/// Anonymous and file mappings without a hint are placed top-down from here.
pub const MMAP_TOP_VA: u64 = 0x7ff0_0000_0000;
/// Load bias of position-independent (static-pie) apps.
pub const PIE_BASE_VA: u64 = 0x5555_5555_4000;

/// Segment selectors of the GDT the VMM builds (the Linux x86-64 layout, so `syscall`/`sysret`
/// conventions hold).
pub mod selectors {
    /// Kernel code, 64-bit.
    pub const KERNEL_CS: u16 = 0x08;
    /// Kernel data.
    pub const KERNEL_DS: u16 = 0x10;
    /// User code, 32-bit (required below the 64-bit one by `sysret`).
    pub const USER32_CS: u16 = 0x1b;
    /// User data.
    pub const USER_DS: u16 = 0x23;
    /// User code, 64-bit.
    pub const USER_CS: u16 = 0x2b;
    /// First TSS descriptor (16 bytes each, one per vCPU).
    pub const TSS_BASE: u16 = 0x40;
}

/// Page-table entry bits used on both sides.
pub mod pte {
    /// Present.
    pub const PRESENT: u64 = 1 << 0;
    /// Writable.
    pub const WRITABLE: u64 = 1 << 1;
    /// Reachable from ring 3.
    pub const USER: u64 = 1 << 2;
    /// Accessed (set by the CPU).
    pub const ACCESSED: u64 = 1 << 5;
    /// Dirty (set by the CPU).
    pub const DIRTY: u64 = 1 << 6;
    /// Large page (in a PDE: 2 MiB).
    pub const LARGE: u64 = 1 << 7;
    /// Global.
    pub const GLOBAL: u64 = 1 << 8;
    /// Not executable (needs EFER.NXE).
    pub const NO_EXECUTE: u64 = 1 << 63;
    /// The bits every entry both sides write starts with: Accessed, and Dirty where the entry
    /// is writable. Under shadow paging KVM must emulate these bits: a clear Accessed costs a
    /// guest page-table write on the first walk, a clear Dirty maps the page read-only first and
    /// costs a second fault on the first write. Nothing in uvm reads them back.
    pub const fn preset_used(entry: u64) -> u64 {
        if entry & WRITABLE != 0 {
            entry | ACCESSED | DIRTY
        } else {
            entry | ACCESSED
        }
    }
    /// The physical-address bits of an entry.
    pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
}

/// Rounds `value` up to a multiple of `align` (a power of two). `None` on overflow.
pub const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Rounds `value` down to a multiple of `align` (a power of two).
pub const fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

/// The VA through which the guest reaches guest-physical address `gpa`.
pub const fn direct_map(gpa: u64) -> u64 {
    DIRECT_MAP_VA + gpa
}

/// GPA of the TSS of vCPU `index`.
pub const fn tss_gpa(index: u32) -> u64 {
    TSS_GPA + index as u64 * TSS_STRIDE
}

/// Top (initial RSP0) of the ring-0 exception stack of vCPU `index`.
pub const fn exception_stack_top(index: u32) -> u64 {
    EXCEPTION_STACKS_GPA + (index as u64 + 1) * EXCEPTION_STACK_SIZE
}

// The memory map's regions never overlap: checked when this crate compiles.
const _: () = {
    assert!(GDT_GPA + PAGE_SIZE <= TSS_GPA);
    assert!(tss_gpa(MAX_VCPUS) <= IDT_GPA);
    assert!(IDT_GPA + 256 * 16 <= EXCEPTION_STACKS_GPA);
    assert!(exception_stack_top(MAX_VCPUS - 1) <= BOOT_INFO_GPA);
    assert!(SYSTEM_AREA_END <= HYPERCALL_VA);
    assert!(HYPERCALL_VA + PAGE_SIZE <= KERNEL_BASE);
    assert!(KERNEL_END <= RAM_MIN_SIZE);
    assert!(RAM_MAX_SIZE <= IMAGE_GPA);
    assert!(IMAGE_GPA + IMAGE_MAX_SIZE <= HYPERCALL_GPA);
    // The direct map sits between the kernel and the app's default mapping area.
    assert!(direct_map(HYPERCALL_GPA) < PIE_BASE_VA);
    assert!(PIE_BASE_VA < MMAP_TOP_VA && MMAP_TOP_VA < STACK_TOP_VA);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_helpers() {
        assert_eq!(align_up(1, PAGE_SIZE), Some(PAGE_SIZE));
        assert_eq!(align_up(PAGE_SIZE, PAGE_SIZE), Some(PAGE_SIZE));
        assert_eq!(align_up(u64::MAX, PAGE_SIZE), None);
        assert_eq!(align_down(PAGE_SIZE + 5, PAGE_SIZE), PAGE_SIZE);
    }
}
