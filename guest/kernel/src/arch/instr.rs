//! The special instructions the kernel uses, each wrapped once.

/// Sets the FS base (the app's thread pointer). Works in ring 3 on PVM hosts.
pub fn write_fs_base(value: u64) {
    // SAFETY: wrfsbase only changes the FS base, which the kernel itself never uses.
    unsafe { core::arch::asm!("wrfsbase {}", in(reg) value, options(nostack, preserves_flags)) }
}

/// Reads the FS base.
pub fn read_fs_base() -> u64 {
    let value: u64;
    // SAFETY: rdfsbase has no side effects.
    unsafe { core::arch::asm!("rdfsbase {}", out(reg) value, options(nostack, preserves_flags)) }
    value
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects and works in ring 3.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Reads the per-vCPU area pointer (the GS base).
pub fn read_gs_base() -> u64 {
    let value: u64;
    // SAFETY: rdgsbase has no side effects.
    unsafe { core::arch::asm!("rdgsbase {}", out(reg) value, options(nostack, preserves_flags)) }
    value
}
