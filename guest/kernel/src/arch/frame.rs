//! [`TrapFrame`]: the app's registers as saved on the kernel stack at a syscall or a fault.
//!
//! The entry code in `entry.rs` builds it and the return path restores every field of it, so
//! the kernel changes what the app resumes with by editing the frame (syscall results,
//! signal delivery, the first entry into the app). Its tail (`rip`, `cs`, `rflags`, `rsp`,
//! `ss`) is laid out as an `iretq` frame.

/// The 512-byte `fxsave64` area: x87, MXCSR and the 16 XMM registers.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FxArea(pub [u8; 512]);

impl FxArea {
    /// The FP state of a fresh process: x87 control word 0x37f, MXCSR 0x1f80 (all exceptions
    /// masked, round to nearest), everything else zero.
    pub const INITIAL: FxArea = {
        let mut a = [0u8; 512];
        a[0] = 0x7f;
        a[1] = 0x03;
        a[24] = 0x80;
        a[25] = 0x1f;
        // MXCSR_MASK: the bits MXCSR may hold.
        a[28] = 0xff;
        a[29] = 0xff;
        FxArea(a)
    };
}

/// Saved app registers. Field order is the layout `entry.rs` pushes; do not reorder.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TrapFrame {
    /// FP/SIMD state (`fxsave64`).
    pub fx: FxArea,
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// The syscall number at a syscall; `u64::MAX` at a fault.
    pub nr: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
    /// Keeps the frame a multiple of 16 bytes. At a syscall it says how the call came:
    /// [`PATCHED_ENTRY`] through a patched site (`syscall::patch`), else 0.
    pub pad: u64,
}

/// `TrapFrame::pad` of a syscall that came through a patched site's trampoline.
pub const PATCHED_ENTRY: u64 = 1;

/// Size of a trap frame (the entry code reserves exactly this much).
pub const TRAP_FRAME_SIZE: usize = core::mem::size_of::<TrapFrame>();

impl TrapFrame {
    /// A frame that enters the app at `rip` with stack `rsp` and every other register zero.
    pub fn new_app(rip: u64, rsp: u64, cs: u64, ss: u64) -> TrapFrame {
        TrapFrame {
            fx: FxArea::INITIAL,
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rbp: 0,
            rdi: 0,
            rsi: 0,
            rdx: 0,
            rcx: 0,
            rbx: 0,
            rax: 0,
            nr: u64::MAX,
            rip,
            cs,
            rflags: 0x202,
            rsp,
            ss,
            pad: 0,
        }
    }

    /// The six syscall arguments (rdi, rsi, rdx, r10, r8, r9).
    pub fn syscall_args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn frame_layout_matches_the_entry_code() {
        // entry.rs hard-codes these offsets (relative to the end of `fx`).
        assert_eq!(offset_of!(TrapFrame, r15), 512);
        assert_eq!(offset_of!(TrapFrame, rax), 512 + 112);
        assert_eq!(offset_of!(TrapFrame, nr), 512 + 120);
        assert_eq!(offset_of!(TrapFrame, rip), 512 + 128);
        assert_eq!(offset_of!(TrapFrame, rflags), 512 + 144);
        assert_eq!(offset_of!(TrapFrame, rsp), 512 + 152);
        assert_eq!(TRAP_FRAME_SIZE, 512 + 176);
        assert_eq!(TRAP_FRAME_SIZE % 16, 0);
    }
}
