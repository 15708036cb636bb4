//! XSAVE: the app's extended register state (AVX, AVX-512, opmask, PKRU, ...) for signal
//! frames.
//!
//! The kernel is built for generic x86-64 (legacy SSE encodings only), so while it runs the
//! app's extended state stays in the registers untouched; only the legacy x87/SSE part is the
//! kernel's, and the entry code saves that in `TrapFrame::fx`. Signal delivery `xsave64`s the
//! live registers into a frame (then puts `TrapFrame::fx` over the legacy region), and
//! rt_sigreturn `xrstor64`s the extended components of a validated frame. Neither ever
//! touches the x87/SSE components (bits 0 and 1 are always cleared from the mask), and the
//! kernel's MXCSR is kept across an `xrstor64`.
//!
//! [`config`] asks the CPU once (CPUID traps: ~10 us) and caches the answer: `None` when the
//! OS has not enabled XSAVE (CPUID.1:ECX.OSXSAVE clear: the VMM sets CR4.OSXSAVE only when the
//! VM's CPUID has XSAVE) or when the area would not fit [`XsaveBuf`]; signal frames are
//! then the legacy fxsave-only ones. As on Linux, the dynamically enabled AMX tile data (bit
//! 18) is never part of a frame. The size math is pure ([`config_from`]) and host-tested; in
//! host tests the instructions are replaced by a fake register file ([`fake`]).

#[cfg(not(test))]
use core::sync::atomic::{AtomicU64, Ordering};

/// Bytes of an [`XsaveBuf`]: the largest XSAVE area (plus FP_XSTATE_MAGIC2) a frame may use.
pub const BUF_SIZE: usize = 4096;
/// Bytes of the legacy (fxsave) region.
pub const LEGACY_SIZE: usize = 512;
/// Bytes of the XSAVE header, right after the legacy region.
pub const HEADER_SIZE: usize = 64;
/// State component bits (XCR0, XSTATE_BV).
pub const X87: u64 = 1 << 0;
pub const SSE: u64 = 1 << 1;
pub const AVX: u64 = 1 << 2;
pub const PKRU: u64 = 1 << 9;
/// AMX tile data: enabled per process on Linux (arch_prctl), never in a default frame.
pub const XTILEDATA: u64 = 1 << 18;

/// A 64-byte aligned buffer for `xsave64` / `xrstor64`.
#[repr(C, align(64))]
pub struct XsaveBuf(pub [u8; BUF_SIZE]);

impl XsaveBuf {
    /// An all-zero buffer (an XSAVE header of zeros: every component in its init state).
    pub const fn zeroed() -> XsaveBuf {
        XsaveBuf([0; BUF_SIZE])
    }
}

/// What signal frames hold on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// XCR0: the components the CPU accepts in an XSTATE_BV.
    pub xcr0: u64,
    /// The components a frame holds (XCR0 without XTILEDATA).
    pub features: u64,
    /// Bytes of the standard-format XSAVE area of `features`.
    pub size: u32,
}

/// The size of a standard-format XSAVE area holding `features`: the end of the last
/// component, from `component(i)` = CPUID.(EAX=0xD, ECX=i) (EAX size, EBX offset).
pub fn area_size(features: u64, mut component: impl FnMut(u32) -> (u32, u32)) -> u32 {
    let mut end = (LEGACY_SIZE + HEADER_SIZE) as u32;
    for i in 2..63 {
        if features & (1 << i) != 0 {
            let (size, offset) = component(i);
            end = end.max(offset.saturating_add(size));
        }
    }
    end
}

/// The frame configuration for `xcr0`, or `None` when XSAVE frames cannot be used (no x87/SSE
/// in XCR0, or an area too big for [`XsaveBuf`] with the 4-byte magic after it). Components
/// whose CPUID sub-leaf gives no size (the VM's CPUID may not describe everything the host's
/// XCR0 enables) are left out of frames.
pub fn config_from(xcr0: u64, mut component: impl FnMut(u32) -> (u32, u32)) -> Option<Config> {
    if xcr0 & (X87 | SSE) != X87 | SSE {
        return None;
    }
    let mut features = xcr0 & !XTILEDATA;
    for i in 2..63 {
        if features & (1 << i) != 0 && component(i).0 == 0 {
            features &= !(1 << i);
        }
    }
    let size = area_size(features, component);
    (size as usize + 4 <= BUF_SIZE).then_some(Config { xcr0, features, size })
}

#[cfg(not(test))]
mod hw {
    use core::arch::asm;

    /// CPUID (eax, ebx, ecx, edx) of `leaf`/`sub`.
    pub fn cpuid(leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
        let (a, b, c, d): (u32, u64, u32, u32);
        // SAFETY: cpuid only reads identification registers; rbx (reserved by LLVM) is saved
        // in a scratch register and put back.
        unsafe {
            asm!(
                "mov {t}, rbx",
                "cpuid",
                "xchg {t}, rbx",
                t = out(reg) b,
                inout("eax") leaf => a,
                inout("ecx") sub => c,
                out("edx") d,
                options(nostack, preserves_flags),
            )
        }
        (a, b as u32, c, d)
    }

    /// XCR0. Only called once CPUID says OSXSAVE (otherwise xgetbv raises #UD).
    pub fn xgetbv0() -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: xgetbv with ecx = 0 reads XCR0; OSXSAVE was checked by the caller.
        unsafe {
            asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nostack, nomem, preserves_flags))
        }
        u64::from(hi) << 32 | u64::from(lo)
    }

    /// `xsave64` of the components in `mask` (within XCR0) into `buf`.
    pub fn xsave(buf: &mut super::XsaveBuf, mask: u64) {
        // SAFETY: buf is 64-byte aligned and BUF_SIZE bytes, at least the XSAVE area size of
        // the configured features (checked by config_from; the callers' masks are within
        // them); xsave64 only writes memory there.
        unsafe {
            asm!(
                "xsave64 [{p}]",
                p = in(reg) buf.0.as_mut_ptr(),
                in("eax") mask as u32,
                in("edx") (mask >> 32) as u32,
                options(nostack, preserves_flags),
            )
        }
    }

    /// `xrstor64` of the components in `mask` from `buf`, keeping the kernel's MXCSR.
    pub fn xrstor(buf: &super::XsaveBuf, mask: u64) {
        let mut mxcsr = 0u32;
        // SAFETY: buf is 64-byte aligned and holds a standard-format area whose header the
        // caller validated (XSTATE_BV within XCR0, header bytes 8..64 zero, a valid MXCSR), so
        // xrstor64 cannot fault; the mask never has the x87/SSE bits, so the registers the
        // kernel's own code uses (x87, XMM low halves) are not changed, and MXCSR (loaded
        // when the AVX bit is in the mask) is put back right after.
        unsafe {
            asm!(
                "stmxcsr [{m}]",
                "xrstor64 [{p}]",
                "ldmxcsr [{m}]",
                p = in(reg) buf.0.as_ptr(),
                m = in(reg) &mut mxcsr as *mut u32,
                in("eax") mask as u32,
                in("edx") (mask >> 32) as u32,
                options(nostack, preserves_flags),
            )
        }
    }
}

/// The cached configuration: XCR0 in one word, the size (0: not asked yet, u64::MAX: no XSAVE
/// frames) in the other.
#[cfg(not(test))]
static XCR0: AtomicU64 = AtomicU64::new(0);
#[cfg(not(test))]
static SIZE: AtomicU64 = AtomicU64::new(0);

/// What signal frames hold here, or `None` for legacy fxsave-only frames.
#[cfg(not(test))]
pub fn config() -> Option<Config> {
    let size = SIZE.load(Ordering::Acquire);
    if size == u64::MAX {
        return None;
    }
    if size != 0 {
        let xcr0 = XCR0.load(Ordering::Relaxed);
        return Some(Config { xcr0, features: xcr0 & !XTILEDATA, size: size as u32 });
    }
    // The VMM sets CR4.OSXSAVE (and XCR0) whenever the VM's CPUID has XSAVE; CPUID then
    // reports OSXSAVE, here as to the app. Asked once: each CPUID traps (~10 us).
    let osxsave = hw::cpuid(1, 0).2 & (1 << 27) != 0;
    let found = if osxsave && hw::cpuid(0, 0).0 >= 0xd {
        config_from(hw::xgetbv0(), |i| {
            let (a, b, _, _) = hw::cpuid(0xd, i);
            (a, b)
        })
    } else {
        None
    };
    match found {
        Some(c) => {
            XCR0.store(c.xcr0, Ordering::Relaxed);
            SIZE.store(u64::from(c.size), Ordering::Release);
        }
        None => SIZE.store(u64::MAX, Ordering::Release),
    }
    found
}

/// Saves the live components in `mask` into `buf` (`xsave64`).
#[cfg(not(test))]
pub fn save(buf: &mut XsaveBuf, mask: u64) {
    hw::xsave(buf, mask & !XTILEDATA);
}

/// Loads the components in `mask` (never x87/SSE) from `buf`, whose header the caller
/// validated: components whose XSTATE_BV bit is clear get their init state.
#[cfg(not(test))]
pub fn restore(buf: &XsaveBuf, mask: u64) {
    hw::xrstor(buf, mask & !(X87 | SSE | XTILEDATA));
}

/// Puts the components in `mask` (never x87/SSE) in their init state (zero upper halves etc.).
#[cfg(not(test))]
pub fn init(mask: u64) {
    let mut buf = XsaveBuf::zeroed();
    // A valid MXCSR for the xrstor64 (it is put back right after anyway).
    buf.0[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
    restore(&buf, mask);
}

#[cfg(test)]
pub use fake::{config, init, restore, save};

/// Puts the extended state (AVX and up, PKRU aside) in its init state, as a new program
/// starts with: execve. (Its x87 and SSE state come from the trap frame's initial `FxArea`.)
pub fn reset_for_exec() {
    if let Some(cfg) = config() {
        init(cfg.features & !PKRU);
    }
}

/// Host tests: a CPU with x87, SSE and AVX only (XSAVE area 832 bytes, the AVX upper halves at
/// 576), whose "registers" are a per-thread array.
#[cfg(test)]
pub mod fake {
    use super::{Config, XsaveBuf, AVX, SSE, X87};
    use std::cell::RefCell;

    /// Offset and size of the AVX component (YMM_Hi128).
    pub const AVX_OFFSET: usize = 576;
    pub const AVX_SIZE: usize = 256;

    std::thread_local! {
        static YMM_HI: RefCell<[u8; AVX_SIZE]> = const { RefCell::new([0; AVX_SIZE]) };
    }

    /// The fake configuration.
    pub fn config() -> Option<Config> {
        Some(Config { xcr0: X87 | SSE | AVX, features: X87 | SSE | AVX, size: (AVX_OFFSET + AVX_SIZE) as u32 })
    }

    /// The fake YMM upper halves.
    pub fn ymm_hi() -> [u8; AVX_SIZE] {
        YMM_HI.with(|r| *r.borrow())
    }

    /// Sets the fake YMM upper halves.
    pub fn set_ymm_hi(v: [u8; AVX_SIZE]) {
        YMM_HI.with(|r| *r.borrow_mut() = v);
    }

    /// Like `xsave64`: XSTATE_BV gets the saved bits.
    pub fn save(buf: &mut XsaveBuf, mask: u64) {
        let mut bv = SSE;
        if mask & AVX != 0 {
            buf.0[AVX_OFFSET..AVX_OFFSET + AVX_SIZE].copy_from_slice(&ymm_hi());
            bv |= AVX;
        }
        buf.0[512..520].copy_from_slice(&bv.to_le_bytes());
    }

    /// Like `xrstor64`: a clear XSTATE_BV bit loads the init state.
    pub fn restore(buf: &XsaveBuf, mask: u64) {
        if mask & AVX != 0 {
            let bv = u64::from_le_bytes(buf.0[512..520].try_into().unwrap_or([0; 8]));
            let mut v = [0u8; AVX_SIZE];
            if bv & AVX != 0 {
                v.copy_from_slice(&buf.0[AVX_OFFSET..AVX_OFFSET + AVX_SIZE]);
            }
            set_ymm_hi(v);
        }
    }

    /// Init state for `mask`.
    pub fn init(mask: u64) {
        restore(&XsaveBuf::zeroed(), mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPUID 0xD sub-leaves of a Sapphire Rapids (size, offset).
    fn spr(i: u32) -> (u32, u32) {
        match i {
            2 => (256, 576),
            5 => (64, 1088),
            6 => (512, 1152),
            7 => (1024, 1664),
            9 => (8, 2688),
            17 => (64, 2752),
            18 => (8192, 2816),
            _ => (0, 0),
        }
    }

    #[test]
    fn sizes_follow_cpuid_without_amx_tile_data() {
        let c = config_from(0x602e7, spr).unwrap();
        assert_eq!(c.features, 0x202e7);
        assert_eq!(c.size, 2816, "up to XTILECFG, as Linux's default frame");
        assert_eq!(config_from(0x2e7, spr).unwrap().size, 2696, "AVX-512 + PKRU");
        assert_eq!(config_from(0x7, spr).unwrap().size, 832, "AVX");
        assert_eq!(config_from(0x3, spr).unwrap().size, 576, "legacy + header");
        assert_eq!(config_from(0x5, spr), None, "no SSE in XCR0");
        assert_eq!(config_from(0x7, |_| (8192, 2816)), None, "too big for the buffer");
        let undescribed = config_from(0x602e7, |i| if i == 17 { (0, 0) } else { spr(i) }).unwrap();
        assert_eq!((undescribed.features, undescribed.size), (0x2e7, 2696), "no sub-leaf: left out");
    }
}
