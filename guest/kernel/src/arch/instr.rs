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
    rdtsc_ordered()
}

/// Reads the TSC after every earlier load has completed (`lfence; rdtsc`, Linux's
/// `rdtsc_ordered`): a plain `rdtsc` may run ahead of a load before it, so a thread that read
/// a time another vCPU published and then the clock could see the clock behind it (up to
/// ~2 us here, ~300k times in 9 million reads across three vCPUs): CLOCK_MONOTONIC must not
/// go backwards across threads. Inlined into the vDSO, which runs in the app's context.
#[inline(always)]
pub fn rdtsc_ordered() -> u64 {
    // SAFETY: lfence and rdtsc have no side effects and work in ring 3.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// Reads the per-vCPU area pointer (the GS base).
pub fn read_gs_base() -> u64 {
    let value: u64;
    // SAFETY: rdgsbase has no side effects.
    unsafe { core::arch::asm!("rdgsbase {}", out(reg) value, options(nostack, preserves_flags)) }
    value
}
