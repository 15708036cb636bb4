//! The x86-64 signal frame, byte for byte as Linux builds it (`arch/x86/kernel/signal*.c`,
//! `arch/x86/kernel/fpu/signal.c`):
//!
//! ```text
//! fpstate (64-byte aligned)  the XSAVE image of the interrupted FP/SIMD state (standard
//!                            format, the size of XCR0's components without AMX tile data),
//!                            sw_reserved (464..512) = struct _fpx_sw_bytes (FP_XSTATE_MAGIC1,
//!                            extended_size, xfeatures, xstate_size), then FP_XSTATE_MAGIC2
//! ...                        (alignment)
//! struct rt_sigframe         at rsp of the handler, rsp % 16 == 8 (as after a call)
//!   +0    pretcode           sa_restorer: where the handler returns (it calls rt_sigreturn)
//!   +8    struct ucontext    uc_flags, uc_link, uc_stack, uc_mcontext (sigcontext), uc_sigmask
//!   +312  siginfo_t          128 bytes (written with SA_SIGINFO only)
//! ```
//!
//! The frame goes 128 bytes (the red zone) below the interrupted rsp, or at the top of the
//! alternate stack for an SA_ONSTACK handler when the thread is not on it yet. `uc_flags` is
//! UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, plus UC_FP_XSTATE with an XSAVE image. Without
//! XSAVE (see `arch::xstate::config`) the FP state is the legacy 512-byte fxsave image with
//! sw_reserved zero. rt_sigreturn takes an XSAVE image only when its magics and sizes are
//! right (Linux's check_xstate_in_sigframe), and then only with a header `xrstor64` accepts;
//! an image without the magics is restored as a legacy one. Pure functions over byte buffers;
//! `deliver` writes and reads them through the address space.

use super::{le_u64, AltStack, LastTrap, StackT, STACK_T_SIZE};
use crate::arch::frame::{FxArea, TrapFrame};
use crate::arch::xstate::{self, Config};

/// Bytes of `struct rt_sigframe`.
pub const FRAME_SIZE: u64 = 440;
/// Offset of `uc` (the `struct ucontext`) in the frame.
pub const UCONTEXT_OFFSET: u64 = 8;
/// Bytes of `struct ucontext` (the kernel's: an 8-byte sigset at the end).
pub const UCONTEXT_SIZE: usize = 304;
/// Offset of `info` (the `siginfo_t`) in the frame.
pub const SIGINFO_OFFSET: u64 = 312;
/// Bytes of the legacy FP state (the fxsave image), the first part of an XSAVE image.
pub const FPSTATE_SIZE: u64 = 512;
/// `_fpx_sw_bytes.magic1`: the image is an XSAVE image.
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// Right after the XSAVE area (at `xstate_size`).
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Bytes of FP_XSTATE_MAGIC2.
pub const FP_XSTATE_MAGIC2_SIZE: u64 = 4;
/// Bytes below the interrupted rsp that leaf code may use without moving rsp.
pub const RED_ZONE: u64 = 128;
/// `uc_flags`: the sigcontext's ss is valid and is restored as is.
pub const UC_FLAGS: u64 = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
/// `uc_flags` bit: the FP state is an XSAVE image.
pub const UC_FP_XSTATE: u64 = 0x1;
/// `uc_flags` bit: the sigcontext's ss field is meaningful.
pub const UC_SIGCONTEXT_SS: u64 = 0x2;
/// `uc_flags` bit: restore ss exactly.
pub const UC_STRICT_RESTORE_SS: u64 = 0x4;

/// Offsets in `struct ucontext`.
pub mod uc {
    pub const FLAGS: usize = 0;
    pub const LINK: usize = 8;
    pub const STACK: usize = 16;
    pub const MCONTEXT: usize = 40;
    pub const SIGMASK: usize = 296;
}

/// Offsets in `struct sigcontext` (x86-64), which is glibc's `gregs[]` followed by `fpregs`.
pub mod sc {
    pub const R8: usize = 0;
    pub const R15: usize = 56;
    pub const RDI: usize = 64;
    pub const RSI: usize = 72;
    pub const RBP: usize = 80;
    pub const RBX: usize = 88;
    pub const RDX: usize = 96;
    pub const RAX: usize = 104;
    pub const RCX: usize = 112;
    pub const RSP: usize = 120;
    pub const RIP: usize = 128;
    pub const EFLAGS: usize = 136;
    pub const CS: usize = 144;
    pub const GS: usize = 146;
    pub const FS: usize = 148;
    pub const SS: usize = 150;
    pub const ERR: usize = 152;
    pub const TRAPNO: usize = 160;
    pub const OLDMASK: usize = 168;
    pub const CR2: usize = 176;
    pub const FPSTATE: usize = 184;
    pub const RESERVED: usize = 192;
    pub const SIZE: usize = 256;
}

/// Offset of MXCSR in the fxsave image.
pub const FX_MXCSR: usize = 24;
/// Offset of MXCSR_MASK in the fxsave image.
pub const FX_MXCSR_MASK: usize = 28;
/// Offset of the bytes fxsave leaves to software (`struct _fpx_sw_bytes` in an XSAVE frame,
/// zero in a legacy one).
pub const FX_SW_RESERVED: usize = 464;

/// Offsets of `struct _fpx_sw_bytes` (in the fxsave image's sw_reserved bytes).
pub mod sw {
    pub const MAGIC1: usize = 464;
    pub const EXTENDED_SIZE: usize = 468;
    pub const XFEATURES: usize = 472;
    pub const XSTATE_SIZE: usize = 480;
}

/// Offsets in the XSAVE header (after the legacy region).
pub mod xh {
    pub const XSTATE_BV: usize = 512;
    /// XCOMP_BV (0: standard format), then reserved bytes, all zero.
    pub const XCOMP_BV: usize = 520;
    pub const END: usize = 576;
}

/// Bytes a frame reserves for the FP state: the XSAVE area and FP_XSTATE_MAGIC2, or the
/// fxsave image without XSAVE.
pub fn fp_size(cfg: Option<&Config>) -> u64 {
    cfg.map_or(FPSTATE_SIZE, |c| u64::from(c.size) + FP_XSTATE_MAGIC2_SIZE)
}

/// rflags bits a signal frame may change: Linux's FIX_EFLAGS (CF PF AF ZF SF TF DF OF RF AC)
/// without TF. Single-stepping is not supported: on PVM the return to the app is `popfq; mov;
/// jmp` in ring 3, so a TF set there would trap on the kernel's own `jmp`.
pub const FIX_EFLAGS: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000;
/// rflags bits cleared for the handler: TF, DF, RF.
const HANDLER_CLEARS: u64 = 0x100 | 0x400 | 0x1_0000;

/// Where a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The `struct rt_sigframe`: the handler's rsp.
    pub frame: u64,
    /// The FP state.
    pub fpstate: u64,
}

/// Places a frame with `fp_size` bytes of FP state ([`fp_size`]) for a thread at `sp`
/// (Linux's get_sigframe). `None` when it would overflow the alternate stack (Linux then makes
/// the delivery fail with SIGSEGV). Arithmetic wraps as on Linux: a wild `sp` gives an
/// address the write then refuses.
pub fn place(sp: u64, on_stack_flag: bool, alt: &AltStack, fp_size: u64) -> Option<Placement> {
    let nested = alt.on_stack(sp);
    let mut top = sp.wrapping_sub(RED_ZONE);
    let mut entering = false;
    if on_stack_flag && alt.flags_at(top) == 0 {
        top = alt.sp.wrapping_add(alt.size);
        entering = true;
    }
    let fpstate = top.wrapping_sub(fp_size) & !63;
    let frame = (fpstate.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    if (nested || entering) && !alt.contains(frame) {
        return None;
    }
    Some(Placement { frame, fpstate })
}

/// What a frame records besides the registers.
#[derive(Clone, Copy, Debug)]
pub struct FrameInputs {
    /// sa_restorer (pretcode).
    pub restorer: u64,
    /// The alternate stack as set (uc_stack).
    pub uc_stack: StackT,
    /// The mask to restore on return (uc_sigmask and oldmask).
    pub mask: u64,
    /// The last exception (trapno, err, cr2).
    pub trap: LastTrap,
    /// Where the FP state was written (the fpstate pointer).
    pub fpstate: u64,
    /// Whether it is an XSAVE image (UC_FP_XSTATE).
    pub xstate: bool,
}

/// The general registers in sigcontext order (r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
/// rsp, rip).
fn gprs(r: &TrapFrame) -> [u64; 17] {
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp,
        r.rip,
    ]
}

/// The first `SIGINFO_OFFSET` bytes of the frame: pretcode and the ucontext.
pub fn encode(regs: &TrapFrame, inputs: &FrameInputs) -> [u8; SIGINFO_OFFSET as usize] {
    let mut b = [0u8; SIGINFO_OFFSET as usize];
    b[0..8].copy_from_slice(&inputs.restorer.to_le_bytes());
    let u = &mut b[UCONTEXT_OFFSET as usize..];
    let flags = if inputs.xstate { UC_FLAGS | UC_FP_XSTATE } else { UC_FLAGS };
    u[uc::FLAGS..uc::FLAGS + 8].copy_from_slice(&flags.to_le_bytes());
    u[uc::LINK..uc::LINK + 8].fill(0);
    u[uc::STACK..uc::STACK + STACK_T_SIZE].copy_from_slice(&inputs.uc_stack.to_bytes());
    let s = &mut u[uc::MCONTEXT..uc::MCONTEXT + sc::SIZE];
    for (i, v) in gprs(regs).iter().enumerate() {
        s[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    let mut put = |at: usize, v: u64| s[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put(sc::EFLAGS, regs.rflags);
    put(sc::ERR, inputs.trap.error);
    put(sc::TRAPNO, inputs.trap.trapno);
    put(sc::OLDMASK, inputs.mask);
    put(sc::CR2, inputs.trap.cr2);
    put(sc::FPSTATE, inputs.fpstate);
    s[sc::CS..sc::CS + 2].copy_from_slice(&(regs.cs as u16).to_le_bytes());
    s[sc::SS..sc::SS + 2].copy_from_slice(&(regs.ss as u16).to_le_bytes());
    u[uc::SIGMASK..uc::SIGMASK + 8].copy_from_slice(&inputs.mask.to_le_bytes());
    b
}

/// The FP state image a frame holds: the fxsave area with the software-reserved bytes zero
/// (so no XSAVE magic: readers and rt_sigreturn see a plain fxsave image).
pub fn fpstate_image(fx: &FxArea) -> [u8; FPSTATE_SIZE as usize] {
    let mut b = fx.0;
    b[FX_SW_RESERVED..].fill(0);
    b
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Turns `buf`, whose first `cfg.size` bytes `xsave64` filled with the live registers, into a
/// frame's XSAVE image (Linux's copy_fpstate_to_sigframe + save_xstate_epilog): the legacy
/// region is the app's `fx` (the registers there are the kernel's), sw_reserved holds the
/// `_fpx_sw_bytes`, XSTATE_BV has x87 and SSE set (so a handler's edits of the legacy region
/// are taken back) and no bit outside `cfg.features`, XCOMP_BV and the reserved header bytes
/// are zero, and FP_XSTATE_MAGIC2 follows. Returns the bytes to write: `fp_size(cfg)`.
pub fn xstate_image(buf: &mut [u8], fx: &FxArea, cfg: &Config) -> usize {
    let size = cfg.size as usize;
    buf[..FX_SW_RESERVED].copy_from_slice(&fx.0[..FX_SW_RESERVED]);
    buf[FX_SW_RESERVED..FPSTATE_SIZE as usize].fill(0);
    put_u32(buf, sw::MAGIC1, FP_XSTATE_MAGIC1);
    put_u32(buf, sw::EXTENDED_SIZE, cfg.size + FP_XSTATE_MAGIC2_SIZE as u32);
    put_u64(buf, sw::XFEATURES, cfg.features);
    put_u32(buf, sw::XSTATE_SIZE, cfg.size);
    let bv = (le_u64(&buf[xh::XSTATE_BV..]) & cfg.features) | xstate::X87 | xstate::SSE;
    put_u64(buf, xh::XSTATE_BV, bv);
    buf[xh::XCOMP_BV..xh::END].fill(0);
    put_u32(buf, size, FP_XSTATE_MAGIC2);
    size + FP_XSTATE_MAGIC2_SIZE as usize
}

/// The `xstate_size` of a frame's FP image when its `_fpx_sw_bytes` describe an XSAVE image
/// this CPU can take (Linux's check_xstate_in_sigframe): magic1, and 576 <= xstate_size <=
/// min(the frame size here, extended_size). `None`: a legacy image. The caller then checks
/// FP_XSTATE_MAGIC2 at fpstate + xstate_size.
pub fn xstate_size_of(legacy: &[u8; FPSTATE_SIZE as usize], cfg: &Config) -> Option<u32> {
    let size = super::le_u32(&legacy[sw::XSTATE_SIZE..]);
    let ok = super::le_u32(&legacy[sw::MAGIC1..]) == FP_XSTATE_MAGIC1
        && size >= xh::END as u32
        && size <= cfg.size
        && size <= super::le_u32(&legacy[sw::EXTENDED_SIZE..]);
    ok.then_some(size)
}

/// Checks a frame's XSAVE image at `addr` (`area`: `cfg.size` bytes of it, to be handed to
/// `xrstor64`) as `xrstor64` would, so that it cannot fault: 64-byte aligned, standard format
/// (XCOMP_BV and the rest of the header zero), XSTATE_BV within XCR0, a valid MXCSR. Then
/// makes it what Linux restores: components outside `_fpx_sw_bytes.xfeatures` or this frame's
/// features get their init state (XSTATE_BV cleared), and so do x87 and SSE in the returned
/// legacy state when their XSTATE_BV bit is clear. `None`: refused (SIGSEGV).
pub fn check_xstate(addr: u64, area: &mut [u8], cfg: &Config, mxcsr_mask: u32) -> Option<FxArea> {
    if !addr.is_multiple_of(64) || area.len() < xh::END {
        return None;
    }
    let bv = le_u64(&area[xh::XSTATE_BV..]);
    if bv & !cfg.xcr0 != 0 || area[xh::XCOMP_BV..xh::END].iter().any(|&b| b != 0) {
        return None;
    }
    let mut legacy = [0u8; FPSTATE_SIZE as usize];
    legacy.copy_from_slice(&area[..FPSTATE_SIZE as usize]);
    let mut fx = check_fpstate(addr, &legacy, mxcsr_mask)?;
    let bv = bv & le_u64(&area[sw::XFEATURES..]) & cfg.features;
    put_u64(area, xh::XSTATE_BV, bv);
    let init = FxArea::INITIAL;
    if bv & xstate::X87 == 0 {
        // FCW..FOP, FIP, FDP and ST0-7 (MXCSR and its mask, at 24..32, are SSE state).
        fx.0[..24].copy_from_slice(&init.0[..24]);
        fx.0[32..160].copy_from_slice(&init.0[32..160]);
    }
    if bv & xstate::SSE == 0 {
        fx.0[160..416].fill(0);
    }
    Some(fx)
}

/// Points the registers at the handler: rip = handler, rsp = the frame, rdi = signal,
/// rsi = &info, rdx = &uc, rax = 0, DF/TF/RF clear and a fresh FP state (as Linux).
pub fn enter_handler(regs: &mut TrapFrame, at: &Placement, sig: u32, handler: u64) {
    regs.rip = handler;
    regs.rsp = at.frame;
    regs.rdi = u64::from(sig);
    regs.rsi = at.frame.wrapping_add(SIGINFO_OFFSET);
    regs.rdx = at.frame.wrapping_add(UCONTEXT_OFFSET);
    regs.rax = 0;
    regs.rflags &= !HANDLER_CLEARS;
    regs.fx = FxArea::INITIAL;
}

/// A ucontext read back by rt_sigreturn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedContext {
    /// r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip (sigcontext order).
    pub gprs: [u64; 17],
    /// The saved rflags (only FIX_EFLAGS bits are taken).
    pub rflags: u64,
    /// The FP state's address (0: reset the FP state).
    pub fpstate: u64,
    /// uc_sigmask.
    pub mask: u64,
    /// uc_flags.
    pub uc_flags: u64,
    /// uc_stack.
    pub uc_stack: StackT,
}

impl SavedContext {
    /// Decodes a `struct ucontext`.
    pub fn decode(u: &[u8; UCONTEXT_SIZE]) -> SavedContext {
        let s = &u[uc::MCONTEXT..uc::MCONTEXT + sc::SIZE];
        let mut gprs = [0u64; 17];
        for (i, g) in gprs.iter_mut().enumerate() {
            *g = le_u64(&s[i * 8..]);
        }
        let mut stack = [0u8; STACK_T_SIZE];
        stack.copy_from_slice(&u[uc::STACK..uc::STACK + STACK_T_SIZE]);
        SavedContext {
            gprs,
            rflags: le_u64(&s[sc::EFLAGS..]),
            fpstate: le_u64(&s[sc::FPSTATE..]),
            mask: le_u64(&u[uc::SIGMASK..]),
            uc_flags: le_u64(&u[uc::FLAGS..]),
            uc_stack: StackT::from_bytes(&stack),
        }
    }

    /// The saved rip.
    pub fn rip(&self) -> u64 {
        self.gprs[16]
    }

    /// The saved rsp.
    pub fn rsp(&self) -> u64 {
        self.gprs[15]
    }

    /// Puts the saved general registers and flags into `regs` (cs and ss stay: they are the
    /// kernel's selectors for the app, never the frame's).
    pub fn apply(&self, regs: &mut TrapFrame) {
        let g = &self.gprs;
        regs.r8 = g[0];
        regs.r9 = g[1];
        regs.r10 = g[2];
        regs.r11 = g[3];
        regs.r12 = g[4];
        regs.r13 = g[5];
        regs.r14 = g[6];
        regs.r15 = g[7];
        regs.rdi = g[8];
        regs.rsi = g[9];
        regs.rbp = g[10];
        regs.rbx = g[11];
        regs.rdx = g[12];
        regs.rax = g[13];
        regs.rcx = g[14];
        regs.rsp = g[15];
        regs.rip = g[16];
        regs.rflags = (regs.rflags & !FIX_EFLAGS) | (self.rflags & FIX_EFLAGS);
    }
}

/// Whether `addr` is canonical (the CPU refuses to jump to anything else).
pub fn is_canonical(addr: u64) -> bool {
    let top = addr >> 47;
    top == 0 || top == 0x1_ffff
}

/// The FP state in a frame, checked as `fxrstor` would (Linux fails rt_sigreturn when it
/// faults): 16-byte aligned, and no MXCSR bit outside `mxcsr_mask`.
pub fn check_fpstate(addr: u64, image: &[u8; FPSTATE_SIZE as usize], mxcsr_mask: u32) -> Option<FxArea> {
    if !addr.is_multiple_of(16) {
        return None;
    }
    let mxcsr = super::le_u32(&image[FX_MXCSR..]);
    let mask = if mxcsr_mask == 0 { 0xffbf } else { mxcsr_mask };
    if mxcsr & !mask != 0 {
        return None;
    }
    Some(FxArea(*image))
}

/// The MXCSR_MASK of the CPU, from an fxsave image it wrote.
pub fn mxcsr_mask_of(fx: &FxArea) -> u32 {
    super::le_u32(&fx.0[FX_MXCSR_MASK..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{le_u32, ss};

    #[test]
    fn layout_matches_linux() {
        // struct rt_sigframe { char *pretcode; struct ucontext uc; struct siginfo info; }
        assert_eq!(UCONTEXT_OFFSET, 8);
        assert_eq!(UCONTEXT_OFFSET + UCONTEXT_SIZE as u64, SIGINFO_OFFSET);
        assert_eq!(SIGINFO_OFFSET + 128, FRAME_SIZE);
        // struct ucontext: uc_flags, uc_link, uc_stack (24), uc_mcontext (256), uc_sigmask (8).
        assert_eq!((uc::LINK, uc::STACK, uc::MCONTEXT), (8, 16, 40));
        assert_eq!(uc::SIGMASK, uc::MCONTEXT + sc::SIZE);
        assert_eq!(uc::SIGMASK + 8, UCONTEXT_SIZE);
        // struct sigcontext_64: 16 GPRs + rip, eflags, cs/gs/fs/ss, err, trapno, oldmask,
        // cr2, fpstate, reserved1[8]; = glibc's REG_R8..REG_CR2 indices times 8.
        assert_eq!(sc::R15, 7 * 8);
        assert_eq!(sc::RDI, 8 * 8); // REG_RDI = 8
        assert_eq!(sc::RAX, 13 * 8); // REG_RAX = 13
        assert_eq!(sc::RSP, 15 * 8); // REG_RSP = 15
        assert_eq!(sc::RIP, 16 * 8); // REG_RIP = 16
        assert_eq!(sc::EFLAGS, 17 * 8); // REG_EFL = 17
        assert_eq!(sc::CS, 18 * 8); // REG_CSGSFS = 18
        assert_eq!((sc::GS, sc::FS, sc::SS), (146, 148, 150));
        assert_eq!(sc::ERR, 19 * 8); // REG_ERR = 19
        assert_eq!(sc::TRAPNO, 20 * 8); // REG_TRAPNO = 20
        assert_eq!(sc::OLDMASK, 21 * 8); // REG_OLDMASK = 21
        assert_eq!(sc::CR2, 22 * 8); // REG_CR2 = 22
        assert_eq!(sc::FPSTATE, 23 * 8); // mcontext_t.fpregs
        assert_eq!(sc::RESERVED + 64, sc::SIZE);
    }

    fn regs() -> TrapFrame {
        let mut r = TrapFrame::new_app(0x40_1000, 0x7fff_ffff_e008, 0x2b, 0x23);
        for (i, v) in [
            &mut r.r8, &mut r.r9, &mut r.r10, &mut r.r11, &mut r.r12, &mut r.r13, &mut r.r14, &mut r.r15, &mut r.rdi,
            &mut r.rsi, &mut r.rbp, &mut r.rbx, &mut r.rdx, &mut r.rax, &mut r.rcx,
        ]
        .into_iter()
        .enumerate()
        {
            *v = 0x1111_0000 + i as u64;
        }
        r.rflags = 0x246 | 0x400; // ZF PF IF, and DF
        r.fx.0[100] = 0x5a;
        r.fx.0[500] = 0xee; // in sw_reserved: must not reach the frame
        r
    }

    #[test]
    fn placement_on_the_stack_skips_the_red_zone_and_aligns() {
        for sp in [0x7fff_ffff_e000u64, 0x7fff_ffff_e008, 0x7fff_ffff_e0f3] {
            let p = place(sp, false, &AltStack::DISABLED, FPSTATE_SIZE).unwrap();
            assert_eq!(p.frame % 16, 8, "rsp % 16 == 8 at handler entry, as after a call");
            assert_eq!(p.fpstate % 64, 0);
            assert!(p.fpstate + FPSTATE_SIZE <= sp - RED_ZONE, "the red zone is left alone");
            assert!(p.frame + FRAME_SIZE <= p.fpstate);
            assert!(p.fpstate - (p.frame + FRAME_SIZE) < 64 + 16 + 8, "no more gap than alignment");
        }
        // SA_ONSTACK without an alternate stack: the normal stack.
        assert_eq!(
            place(0x7000_0000, true, &AltStack::DISABLED, FPSTATE_SIZE),
            place(0x7000_0000, false, &AltStack::DISABLED, FPSTATE_SIZE)
        );
    }

    #[test]
    fn placement_on_the_alternate_stack() {
        let alt = AltStack { sp: 0x10000, size: 0x4000, flags: 0 };
        let p = place(0x7000_0000, true, &alt, FPSTATE_SIZE).unwrap();
        assert!(p.fpstate + FPSTATE_SIZE <= 0x14000 && p.frame >= 0x10000);
        assert_eq!(p.fpstate, 0x14000 - FPSTATE_SIZE);
        assert_eq!(p.frame % 16, 8);
        // Already on it (a nested signal): below the current sp, still on it.
        let nested = place(0x12000, true, &alt, FPSTATE_SIZE).unwrap();
        assert!(nested.fpstate + FPSTATE_SIZE <= 0x12000 - RED_ZONE);
        // Without SA_ONSTACK but on the stack: stays there.
        assert!(place(0x12000, false, &alt, FPSTATE_SIZE).unwrap().frame > 0x10000);
        // No room left on it: refused (Linux gives SIGSEGV).
        assert_eq!(place(0x10400, true, &alt, FPSTATE_SIZE), None);
        assert_eq!(place(0x10400, false, &alt, FPSTATE_SIZE), None);
        // Too small to hold a frame at all.
        let tiny = AltStack { sp: 0x10000, size: 0x200, flags: 0 };
        assert_eq!(place(0x7000_0000, true, &tiny, FPSTATE_SIZE), None);
        // Disarmed: entering it again from its own top is allowed.
        let auto = AltStack { flags: ss::AUTODISARM, ..alt };
        assert_eq!(place(0x12000, true, &auto, FPSTATE_SIZE).unwrap().fpstate, 0x14000 - FPSTATE_SIZE);
    }

    #[test]
    fn a_wild_sp_wraps_instead_of_panicking() {
        let p = place(0x10, false, &AltStack::DISABLED, FPSTATE_SIZE).unwrap();
        assert!(p.frame > 0xffff_0000_0000_0000);
    }

    fn inputs() -> FrameInputs {
        FrameInputs {
            restorer: 0x40_2000,
            uc_stack: StackT { sp: 0x10000, flags: 0, size: 0x4000 },
            mask: 0x8000_0000_0000_0201,
            trap: LastTrap { trapno: 14, error: 6, cr2: 0x10 },
            fpstate: 0x7fff_ffff_d000,
            xstate: false,
        }
    }

    #[test]
    fn encoded_frame_fields() {
        let r = regs();
        let b = encode(&r, &inputs());
        assert_eq!(le_u64(&b[0..]), 0x40_2000, "pretcode");
        let u = &b[8..];
        assert_eq!(le_u64(&u[uc::FLAGS..]), 6, "UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS");
        assert_eq!(le_u64(&u[uc::LINK..]), 0);
        assert_eq!(le_u64(&u[uc::STACK..]), 0x10000);
        assert_eq!(le_u32(&u[uc::STACK + 8..]), 0);
        assert_eq!(le_u64(&u[uc::STACK + 16..]), 0x4000);
        let s = &u[uc::MCONTEXT..];
        assert_eq!(le_u64(&s[sc::R8..]), r.r8);
        assert_eq!(le_u64(&s[sc::R15..]), r.r15);
        assert_eq!(le_u64(&s[sc::RDI..]), r.rdi);
        assert_eq!(le_u64(&s[sc::RSI..]), r.rsi);
        assert_eq!(le_u64(&s[sc::RBP..]), r.rbp);
        assert_eq!(le_u64(&s[sc::RBX..]), r.rbx);
        assert_eq!(le_u64(&s[sc::RDX..]), r.rdx);
        assert_eq!(le_u64(&s[sc::RAX..]), r.rax);
        assert_eq!(le_u64(&s[sc::RCX..]), r.rcx);
        assert_eq!(le_u64(&s[sc::RSP..]), r.rsp);
        assert_eq!(le_u64(&s[sc::RIP..]), r.rip);
        assert_eq!(le_u64(&s[sc::EFLAGS..]), r.rflags);
        assert_eq!(u16::from_le_bytes([s[sc::CS], s[sc::CS + 1]]), 0x2b);
        assert_eq!(&s[sc::GS..sc::SS], &[0, 0, 0, 0]);
        assert_eq!(u16::from_le_bytes([s[sc::SS], s[sc::SS + 1]]), 0x23);
        assert_eq!(le_u64(&s[sc::ERR..]), 6);
        assert_eq!(le_u64(&s[sc::TRAPNO..]), 14);
        assert_eq!(le_u64(&s[sc::OLDMASK..]), 0x8000_0000_0000_0201);
        assert_eq!(le_u64(&s[sc::CR2..]), 0x10);
        assert_eq!(le_u64(&s[sc::FPSTATE..]), 0x7fff_ffff_d000);
        assert!(s[sc::RESERVED..sc::SIZE].iter().all(|&x| x == 0));
        assert_eq!(le_u64(&u[uc::SIGMASK..]), 0x8000_0000_0000_0201);
    }

    #[test]
    fn fpstate_image_has_no_xsave_magic() {
        let r = regs();
        let img = fpstate_image(&r.fx);
        assert_eq!(img[100], 0x5a);
        assert!(img[FX_SW_RESERVED..].iter().all(|&x| x == 0));
        assert_eq!(le_u32(&img[FX_MXCSR..]), 0x1f80);
    }

    #[test]
    fn handler_entry_registers() {
        let mut r = regs();
        let at = place(r.rsp, false, &AltStack::DISABLED, FPSTATE_SIZE).unwrap();
        enter_handler(&mut r, &at, 10, 0x40_3000);
        assert_eq!((r.rip, r.rsp, r.rdi), (0x40_3000, at.frame, 10));
        assert_eq!(r.rsi, at.frame + 312);
        assert_eq!(r.rdx, at.frame + 8);
        assert_eq!(r.rax, 0);
        assert_eq!(r.rflags & 0x400, 0, "DF clear for the handler");
        assert_eq!(r.rflags & 0x200, 0x200, "IF untouched");
        assert_eq!(r.fx.0, FxArea::INITIAL.0);
    }

    #[test]
    fn round_trip_restores_every_register() {
        let original = regs();
        let mut r = original;
        let at = place(r.rsp, false, &AltStack::DISABLED, FPSTATE_SIZE).unwrap();
        let head = encode(&r, &FrameInputs { fpstate: at.fpstate, ..inputs() });
        let fp = fpstate_image(&r.fx);
        enter_handler(&mut r, &at, 11, 0x40_3000);
        // What rt_sigreturn reads: the ucontext at rsp - 8 + 8 (after the handler's ret).
        let mut u = [0u8; UCONTEXT_SIZE];
        u.copy_from_slice(&head[8..]);
        let saved = SavedContext::decode(&u);
        assert_eq!(saved.mask, 0x8000_0000_0000_0201);
        assert_eq!(saved.fpstate, at.fpstate);
        assert_eq!(saved.uc_stack, inputs().uc_stack);
        saved.apply(&mut r);
        r.fx = check_fpstate(saved.fpstate, &fp, mxcsr_mask_of(&original.fx)).unwrap();
        assert_eq!(gprs(&r), gprs(&original));
        assert_eq!(r.rflags, original.rflags, "DF comes back");
        assert_eq!(&r.fx.0[..FX_SW_RESERVED], &original.fx.0[..FX_SW_RESERVED]);
        assert_eq!((r.cs, r.ss), (original.cs, original.ss));
    }

    #[test]
    fn restore_takes_only_user_flags() {
        let mut r = regs();
        r.rflags = 0x202;
        let mut u = [0u8; UCONTEXT_SIZE];
        // IOPL 3, NT, VM, TF, IF clear, plus CF and AC: only CF and AC may come through.
        let evil: u64 = 0x3000 | 0x4000 | 0x2_0000 | 0x100 | 0x1 | 0x4_0000;
        u[uc::MCONTEXT + sc::EFLAGS..uc::MCONTEXT + sc::EFLAGS + 8].copy_from_slice(&evil.to_le_bytes());
        SavedContext::decode(&u).apply(&mut r);
        assert_eq!(r.rflags, 0x202 | 0x1 | 0x4_0000);
    }

    #[test]
    fn fp_state_checks() {
        let fx = FxArea::INITIAL;
        let img = fpstate_image(&fx);
        assert!(check_fpstate(0x1000, &img, 0xffff).is_some());
        assert!(check_fpstate(0x1008, &img, 0xffff).is_none(), "fxrstor needs 16-byte alignment");
        let mut bad = img;
        bad[FX_MXCSR + 2] = 1; // bit 16 of MXCSR is reserved
        assert!(check_fpstate(0x1000, &bad, 0xffff).is_none());
        let mut daz = img;
        daz[FX_MXCSR] |= 0x40;
        assert!(check_fpstate(0x1000, &daz, 0xffff).is_some());
        assert!(check_fpstate(0x1000, &daz, 0).is_none(), "without a mask, DAZ is not assumed");
        assert_eq!(mxcsr_mask_of(&fx), 0xffff);
    }

    /// An AVX-512 machine: x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM, PKRU (2696 bytes).
    fn avx512() -> Config {
        Config { xcr0: 0x602e7, features: 0x202e7 & !0x2_0000, size: 2696 }
    }

    /// What `xsave64` leaves in a buffer: the kernel's legacy state, XSTATE_BV, AVX data.
    fn xsaved(cfg: &Config) -> alloc::vec::Vec<u8> {
        let mut b = alloc::vec![0u8; cfg.size as usize + 4];
        b[..512].copy_from_slice(&FxArea::INITIAL.0);
        b[160] = 0x99; // the kernel's xmm0: must not reach the frame
        b[xh::XSTATE_BV..xh::XSTATE_BV + 8].copy_from_slice(&(0x4u64 | 0x40 | 0x4_0000).to_le_bytes());
        b[600] = 0xab; // a YMM upper half
        b
    }

    #[test]
    fn xstate_frame_placement_and_size() {
        let cfg = avx512();
        assert_eq!(fp_size(Some(&cfg)), 2700, "xstate_size + FP_XSTATE_MAGIC2");
        assert_eq!(fp_size(None), 512);
        let p = place(0x7fff_ffff_e008, false, &AltStack::DISABLED, fp_size(Some(&cfg))).unwrap();
        assert_eq!(p.fpstate % 64, 0);
        assert!(p.fpstate + 2700 <= 0x7fff_ffff_e008 - RED_ZONE);
        assert!(p.frame + FRAME_SIZE <= p.fpstate && p.frame % 16 == 8);
        // An alternate stack of MINSIGSTKSZ (2048) cannot hold it; SIGSTKSZ (8192) can.
        let small = AltStack { sp: 0x10000, size: 2048, flags: 0 };
        assert_eq!(place(0x7000_0000, true, &small, fp_size(Some(&cfg))), None);
        let big = AltStack { sp: 0x10000, size: 8192, flags: 0 };
        assert!(place(0x7000_0000, true, &big, fp_size(Some(&cfg))).is_some());
    }

    #[test]
    fn xstate_image_is_what_linux_writes() {
        let cfg = avx512();
        let r = regs();
        let mut b = xsaved(&cfg);
        assert_eq!(xstate_image(&mut b, &r.fx, &cfg), 2700);
        assert_eq!(&b[..FX_SW_RESERVED], &r.fx.0[..FX_SW_RESERVED], "the app's legacy state");
        assert_eq!(le_u32(&b[sw::MAGIC1..]), 0x4650_5853);
        assert_eq!(le_u32(&b[sw::EXTENDED_SIZE..]), 2700);
        assert_eq!(le_u64(&b[sw::XFEATURES..]), cfg.features);
        assert_eq!(le_u32(&b[sw::XSTATE_SIZE..]), 2696);
        assert!(b[sw::XSTATE_SIZE + 4..512].iter().all(|&x| x == 0), "padding");
        assert_eq!(le_u64(&b[xh::XSTATE_BV..]), 0x47, "x87|SSE added, AMX tile data dropped");
        assert!(b[xh::XCOMP_BV..xh::END].iter().all(|&x| x == 0));
        assert_eq!(b[600], 0xab);
        assert_eq!(le_u32(&b[2696..]), 0x4650_5845, "FP_XSTATE_MAGIC2");
        // Encoded with UC_FP_XSTATE.
        let head = encode(&r, &FrameInputs { xstate: true, ..inputs() });
        assert_eq!(le_u64(&head[8 + uc::FLAGS..]), 7);
    }

    #[test]
    fn xstate_round_trip_and_sizes() {
        let cfg = avx512();
        let r = regs();
        let mut b = xsaved(&cfg);
        xstate_image(&mut b, &r.fx, &cfg);
        let mut legacy = [0u8; 512];
        legacy.copy_from_slice(&b[..512]);
        assert_eq!(xstate_size_of(&legacy, &cfg), Some(2696));
        let mut area = b[..2696].to_vec();
        let fx = check_xstate(0x1000, &mut area, &cfg, 0xffff).unwrap();
        assert_eq!(&fx.0[..FX_SW_RESERVED], &r.fx.0[..FX_SW_RESERVED]);
        assert_eq!(area, b[..2696], "a frame as written goes back unchanged");
        // Linux's size checks: below 576, above this machine's, above extended_size.
        for (at, v) in [(sw::XSTATE_SIZE, 575u32), (sw::XSTATE_SIZE, 2700), (sw::EXTENDED_SIZE, 2000)] {
            let mut l = legacy;
            l[at..at + 4].copy_from_slice(&v.to_le_bytes());
            assert_eq!(xstate_size_of(&l, &cfg), None, "{at} = {v}: taken as a legacy image");
        }
        let mut l = legacy;
        l[sw::MAGIC1] ^= 1;
        assert_eq!(xstate_size_of(&l, &cfg), None);
        assert_eq!(xstate_size_of(&fpstate_image(&r.fx), &cfg), None, "a legacy frame");
        // A smaller (older machine's) image is fine.
        let mut l = legacy;
        l[sw::XSTATE_SIZE..sw::XSTATE_SIZE + 4].copy_from_slice(&832u32.to_le_bytes());
        assert_eq!(xstate_size_of(&l, &cfg), Some(832));
    }

    #[test]
    fn xstate_headers_xrstor_would_fault_on_are_refused() {
        let cfg = avx512();
        let mut b = xsaved(&cfg);
        xstate_image(&mut b, &FxArea::INITIAL, &cfg);
        let good = b[..2696].to_vec();
        let check = |a: &[u8], addr: u64| check_xstate(addr, &mut a.to_vec(), &cfg, 0xffff);
        assert!(check(&good, 0x1000).is_some());
        assert!(check(&good, 0x1010).is_none(), "xrstor needs 64-byte alignment");
        let with = |at: usize, v: u64| {
            let mut a = good.clone();
            a[at..at + 8].copy_from_slice(&v.to_le_bytes());
            a
        };
        assert!(check(&with(xh::XSTATE_BV, 0x3 | 1 << 10), 0x1000).is_none(), "XSTATE_BV outside XCR0");
        assert!(check(&with(xh::XSTATE_BV, 0x3 | 1 << 18), 0x1000).is_some(), "in XCR0, not restored");
        assert!(check(&with(xh::XCOMP_BV, 1 << 63), 0x1000).is_none(), "compacted format");
        assert!(check(&with(xh::XCOMP_BV, 0x4), 0x1000).is_none());
        assert!(check(&with(xh::END - 8, 1), 0x1000).is_none(), "reserved header bytes");
        let mut bad_mxcsr = good.clone();
        bad_mxcsr[FX_MXCSR + 2] = 1;
        assert!(check(&bad_mxcsr, 0x1000).is_none(), "MXCSR reserved bits");
        // xfeatures limits what is restored; clear x87/SSE bits give their init state.
        let mut a = with(sw::XFEATURES, 0x3);
        check_xstate(0x1000, &mut a, &cfg, 0xffff).unwrap();
        assert_eq!(le_u64(&a[xh::XSTATE_BV..]), 0x3, "AVX not claimed: init state");
        let mut a = with(xh::XSTATE_BV, 0x4);
        a[0] = 0; // FCW
        a[160] = 5; // xmm0
        let fx = check_xstate(0x1000, &mut a, &cfg, 0xffff).unwrap();
        assert_eq!((fx.0[0], fx.0[1], fx.0[160]), (0x7f, 0x03, 0));
    }

    #[test]
    fn canonical_addresses() {
        assert!(is_canonical(0));
        assert!(is_canonical(0x7fff_ffff_ffff));
        assert!(!is_canonical(0x8000_0000_0000));
        assert!(!is_canonical(0x1234_5678_9abc_def0));
        assert!(is_canonical(0xffff_8000_0000_0000));
    }
}
