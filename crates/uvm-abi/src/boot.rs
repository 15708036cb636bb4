//! [`BootInfo`]: what the VMM tells the guest kernel at entry.
//!
//! The VMM writes one `BootInfo` at [`crate::layout::BOOT_INFO_GPA`], followed by its string
//! area, and enters the kernel with `rdi` = the boot info's virtual address in the direct map.
//! Everything the guest needs from the host at boot is here; nothing is read from the host
//! later except through hypercalls.

use crate::layout;

/// `BootInfo::magic`.
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"UVMBOOT\0");

/// How the guest kernel runs on this host; it selects the few instructions that differ.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// KVM without hardware virtualisation (PVM): the kernel runs in ring 3, `syscall` lands
    /// at LSTAR still in ring 3, ring-0 code is emulated.
    Pvm = 1,
    /// KVM on VMX or SVM: the kernel runs its syscall path in ring 0.
    HardwareVirt = 2,
}

impl Platform {
    /// Decodes the `platform` field of a boot info.
    pub fn from_raw(raw: u32) -> Option<Platform> {
        match raw {
            1 => Some(Platform::Pvm),
            2 => Some(Platform::HardwareVirt),
            _ => None,
        }
    }
}

/// `BootInfo::flags`: report every syscall through the trace hypercall (`--trace-syscalls`).
pub const FLAG_TRACE_SYSCALLS: u64 = 1 << 0;
/// `BootInfo::flags`: the host's stdin is a terminal.
pub const FLAG_STDIN_TTY: u64 = 1 << 1;
/// `BootInfo::flags`: the host's stdout is a terminal.
pub const FLAG_STDOUT_TTY: u64 = 1 << 2;
/// `BootInfo::flags`: the host's stderr is a terminal.
pub const FLAG_STDERR_TTY: u64 = 1 << 3;

/// The boot information block. All addresses are guest-physical unless named `_va`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// [`BOOT_INFO_MAGIC`].
    pub magic: u64,
    /// [`crate::ABI_VERSION`] of the VMM that wrote this.
    pub abi_version: u32,
    /// A [`Platform`] value.
    pub platform: u32,
    /// `FLAG_*` bits.
    pub flags: u64,
    /// Bytes of guest RAM, from GPA 0.
    pub ram_size: u64,
    /// First GPA the kernel's frame allocator may hand out; everything below is in use
    /// (system area, kernel, boot page tables).
    pub first_free_gpa: u64,
    /// GPA of the root page table (the value in CR3).
    pub page_table_root: u64,
    /// GPA of the image file (mapped read-only).
    pub image_gpa: u64,
    /// Bytes of the image file.
    pub image_size: u64,
    /// TSC frequency in kHz.
    pub tsc_khz: u64,
    /// TSC value at `boot_realtime_ns`.
    pub boot_tsc: u64,
    /// CLOCK_REALTIME in nanoseconds, taken together with `boot_tsc`.
    pub boot_realtime_ns: u64,
    /// Fresh randomness from the host, for AT_RANDOM and getrandom's generator seed.
    pub random_seed: [u64; 4],
    /// AT_HWCAP for the app (CPUID leaf 1 EDX as the VM reports it).
    pub hwcap: u64,
    /// AT_HWCAP2 for the app.
    pub hwcap2: u64,
    /// Number of argv strings (argv[0] included).
    pub argc: u32,
    /// Number of envp strings (`KEY=VALUE`).
    pub envc: u32,
    /// Offset of the string area from the start of this struct: argv, then envp, then the
    /// working directory, each NUL-terminated.
    pub strings_offset: u32,
    /// Bytes in the string area.
    pub strings_len: u32,
    /// How many app threads may run at once (`[vm] cpus`): what the app sees as its CPU count
    /// (sched_getaffinity, /proc/cpuinfo). The guest may start more vCPUs than this (one per
    /// thread, up to `MAX_VCPUS`); the VMM lets at most this many run at a time.
    pub vcpu_count: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

impl BootInfo {
    /// The most string bytes that fit after the struct in the boot-info area.
    pub const MAX_STRINGS_LEN: u64 = layout::BOOT_INFO_SIZE - core::mem::size_of::<BootInfo>() as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_info_layout_is_stable() {
        assert_eq!(core::mem::size_of::<BootInfo>(), 160);
        assert_eq!(core::mem::offset_of!(BootInfo, random_seed), 88);
        assert_eq!(core::mem::offset_of!(BootInfo, argc), 136);
        assert_eq!(core::mem::align_of::<BootInfo>(), 8);
    }

    #[test]
    fn platform_round_trips() {
        assert_eq!(Platform::from_raw(Platform::Pvm as u32), Some(Platform::Pvm));
        assert_eq!(Platform::from_raw(2), Some(Platform::HardwareVirt));
        assert_eq!(Platform::from_raw(0), None);
    }
}
