//! The vDSO's functions and data: kernel code the app calls directly (the kernel image is
//! mapped with user access), so clock_gettime, gettimeofday and time cost a `rdtsc` and a few
//! multiplications instead of a syscall trap (~6 us here). They run on the app's stack in the
//! app's context: leaf code, no kernel state but [`VDSO_CLOCK`], no panics. Clocks they do not
//! serve fall back to the real syscall.

use core::sync::atomic::{AtomicU64, Ordering};

/// The clock parameters the vDSO reads (written once at boot).
pub struct VdsoClock {
    boot_tsc: AtomicU64,
    boot_realtime_ns: AtomicU64,
    /// Nanoseconds per TSC tick, 32.32 fixed point.
    mult: AtomicU64,
}

/// The clock the vDSO functions use.
pub static VDSO_CLOCK: VdsoClock =
    VdsoClock { boot_tsc: AtomicU64::new(0), boot_realtime_ns: AtomicU64::new(0), mult: AtomicU64::new(0) };

/// The page the vDSO's ELF image is built in (placed before the kernel's code by link.ld, so
/// symbol values, which are offsets from it, are positive).
#[repr(C, align(4096))]
pub struct VdsoPage(pub [u8; 4096]);

#[link_section = ".vdso_page"]
static mut VDSO_PAGE: VdsoPage = VdsoPage([0; 4096]);

/// Sets the clock parameters (same conversion as `crate::time::Clock`).
pub fn set_clock(tsc_khz: u64, boot_tsc: u64, boot_realtime_ns: u64) {
    let mult = if tsc_khz == 0 { 1 << 32 } else { ((1_000_000u128 << 32) / tsc_khz as u128) as u64 };
    VDSO_CLOCK.boot_tsc.store(boot_tsc, Ordering::Relaxed);
    VDSO_CLOCK.boot_realtime_ns.store(boot_realtime_ns, Ordering::Relaxed);
    VDSO_CLOCK.mult.store(mult, Ordering::Release);
}

/// Copies the built vDSO image into its page; returns the page's address (AT_SYSINFO_EHDR).
pub fn install_image(image: &[u8]) -> u64 {
    let page = core::ptr::addr_of_mut!(VDSO_PAGE);
    let n = image.len().min(4096);
    // SAFETY: runs once at boot, before the app (the only other reader) starts; `n` bytes fit
    // the 4096-byte page.
    unsafe { core::ptr::copy_nonoverlapping(image.as_ptr(), (*page).0.as_mut_ptr(), n) };
    page as u64
}

/// The page's address (before the image is installed too).
pub fn page_address() -> u64 {
    core::ptr::addr_of!(VDSO_PAGE) as u64
}

#[inline(always)]
fn since_boot_ns() -> u64 {
    let tsc = super::instr::rdtsc_ordered();
    let delta = tsc.saturating_sub(VDSO_CLOCK.boot_tsc.load(Ordering::Relaxed));
    ((delta as u128 * VDSO_CLOCK.mult.load(Ordering::Relaxed) as u128) >> 32) as u64
}

#[inline(always)]
fn syscall2(nr: u64, a: u64, b: u64) -> i64 {
    let ret: i64;
    // SAFETY: a plain Linux syscall with two arguments; it clobbers rcx and r11 as declared.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") nr as i64 => ret, in("rdi") a, in("rsi") b,
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Nanoseconds on `clock`, or None for clocks the vDSO does not serve.
#[inline(always)]
fn clock_ns(clock: i32) -> Option<u64> {
    match clock {
        // REALTIME, REALTIME_COARSE, TAI
        0 | 5 | 11 => Some(VDSO_CLOCK.boot_realtime_ns.load(Ordering::Relaxed) + since_boot_ns()),
        // MONOTONIC, MONOTONIC_RAW, MONOTONIC_COARSE, BOOTTIME
        1 | 4 | 6 | 7 => Some(since_boot_ns()),
        _ => None,
    }
}

/// `__vdso_clock_gettime(clock, ts)`.
///
/// # Safety
/// Called by the app with its own pointer: `ts` must be writable for 16 bytes, as the
/// clock_gettime contract requires (a bad pointer faults in the app, as it does on Linux).
#[link_section = ".text.vdso"]
pub unsafe extern "C" fn vdso_clock_gettime(clock: i32, ts: *mut [i64; 2]) -> i32 {
    match clock_ns(clock) {
        Some(ns) => {
            // SAFETY: per the contract above.
            unsafe { ts.write([(ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64]) };
            0
        }
        None => syscall2(228, clock as u64, ts as u64) as i32,
    }
}

/// `__vdso_gettimeofday(tv, tz)`.
///
/// # Safety
/// `tv` (if not null) must be writable for 16 bytes, `tz` (if not null) for 8.
#[link_section = ".text.vdso"]
pub unsafe extern "C" fn vdso_gettimeofday(tv: *mut [i64; 2], tz: *mut [i32; 2]) -> i32 {
    let ns = VDSO_CLOCK.boot_realtime_ns.load(Ordering::Relaxed) + since_boot_ns();
    if !tv.is_null() {
        // SAFETY: per the contract above.
        unsafe { tv.write([(ns / 1_000_000_000) as i64, ((ns % 1_000_000_000) / 1000) as i64]) };
    }
    if !tz.is_null() {
        // SAFETY: per the contract above.
        unsafe { tz.write([0, 0]) };
    }
    0
}

/// `__vdso_time(t)`.
///
/// # Safety
/// `t` (if not null) must be writable for 8 bytes.
#[link_section = ".text.vdso"]
pub unsafe extern "C" fn vdso_time(t: *mut i64) -> i64 {
    let secs = ((VDSO_CLOCK.boot_realtime_ns.load(Ordering::Relaxed) + since_boot_ns()) / 1_000_000_000) as i64;
    if !t.is_null() {
        // SAFETY: per the contract above.
        unsafe { t.write(secs) };
    }
    secs
}

/// `__vdso_clock_getres(clock, res)`: 1 ns for the clocks served here.
///
/// # Safety
/// `res` (if not null) must be writable for 16 bytes.
#[link_section = ".text.vdso"]
pub unsafe extern "C" fn vdso_clock_getres(clock: i32, res: *mut [i64; 2]) -> i32 {
    if clock_ns(clock).is_none() {
        return syscall2(229, clock as u64, res as u64) as i32;
    }
    if !res.is_null() {
        // SAFETY: per the contract above.
        unsafe { res.write([0, 1]) };
    }
    0
}

/// `__vdso_getcpu(cpu, node, cache)`: the vCPU index (0: one vCPU) and node 0.
///
/// # Safety
/// `cpu` and `node` (if not null) must be writable for 4 bytes.
#[link_section = ".text.vdso"]
pub unsafe extern "C" fn vdso_getcpu(cpu: *mut u32, node: *mut u32, _cache: *mut u8) -> i32 {
    // SAFETY: per the contract above.
    unsafe {
        if !cpu.is_null() {
            cpu.write(0);
        }
        if !node.is_null() {
            node.write(0);
        }
    }
    0
}

/// The exported functions: (name, address), with Linux's names and their plain aliases.
pub fn symbols() -> [(&'static str, u64); 10] {
    let gettime = vdso_clock_gettime as *const () as u64;
    let tod = vdso_gettimeofday as *const () as u64;
    let time = vdso_time as *const () as u64;
    let getres = vdso_clock_getres as *const () as u64;
    let getcpu = vdso_getcpu as *const () as u64;
    [
        ("__vdso_clock_gettime", gettime),
        ("__vdso_gettimeofday", tod),
        ("__vdso_time", time),
        ("__vdso_clock_getres", getres),
        ("__vdso_getcpu", getcpu),
        ("clock_gettime", gettime),
        ("gettimeofday", tod),
        ("time", time),
        ("clock_getres", getres),
        ("getcpu", getcpu),
    ]
}

/// Whether `rip` lies in the vDSO's functions (a fault there is the app's, not the kernel's).
pub fn contains(rip: u64) -> bool {
    extern "C" {
        static __vdso_text_start: u8;
        static __vdso_text_end: u8;
    }
    let start = core::ptr::addr_of!(__vdso_text_start) as u64;
    let end = core::ptr::addr_of!(__vdso_text_end) as u64;
    (start..end).contains(&rip)
}
