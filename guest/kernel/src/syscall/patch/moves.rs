//! The register-only instructions a `mov $nr, %eax` site may have between its `mov` and its
//! `syscall`: their decoding, and the check that a trapped call's registers show their effects.
//!
//! Compilers schedule an inline `syscall`'s argument moves around its number's: musl's `stat`
//! is `mov $4, %eax; mov %r9, %rdi; mov %rdx, %rsi; syscall`, its `mmap` `mov $9, %eax; mov
//! %r12, %rdi; syscall`. Such a site is rewritten as a plain `mov $nr, %eax; syscall` one is
//! (only the `mov` becomes a jump; `super::Shape::MovEax`), and its trampoline runs a copy of
//! the instructions in between before it enters the kernel. So only instructions that read and
//! write registers alone, and do the same wherever they run, are decoded here: moves between
//! registers (64- and 32-bit, and `movslq`), immediates into registers and `xor` of a register
//! with itself. None of them may write %rax (the call's number) or %rsp.

/// x86's numbers of the registers this looks at (indices of `super::Regs::gpr`).
const RAX: u8 = 0;
const RCX: u8 = 1;
const RSP: u8 = 4;
const R11: u8 = 11;

/// The most instructions a sequence here holds (each is at least 2 bytes long).
const MOST: usize = 8;

/// What an instruction leaves in its destination register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Another register's value: all 64 bits (`wide`), or the low 32 zero-extended.
    Copy { src: u8, wide: bool },
    /// Another register's low 32 bits sign-extended (`movslq`).
    SignExtend { src: u8 },
    /// A value the instruction holds (an immediate, or 0 from `xor`).
    Value(u64),
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    len: usize,
    dst: u8,
    effect: Effect,
}

/// The register-only instruction `code` starts with, if it is one this module knows.
fn decode(code: &[u8]) -> Option<Insn> {
    let (rex, rest) = match code.first() {
        Some(&byte @ 0x40..=0x4f) => (byte, &code[1..]),
        _ => (0, code),
    };
    let wide = rex & 0x8 != 0;
    let (rex_r, rex_b) = (((rex >> 2) & 1) << 3, (rex & 1) << 3);
    let &op = rest.first()?;
    let imm32 = |at: usize| Some(u32::from_le_bytes(rest.get(at..at + 4)?.try_into().ok()?));
    let (len, dst, effect) = match op {
        0x89 | 0x8b | 0x63 | 0x31 | 0x33 => {
            let modrm = *rest.get(1)?;
            if modrm >> 6 != 3 {
                return None; // a memory operand
            }
            let (reg, rm) = (((modrm >> 3) & 7) | rex_r, (modrm & 7) | rex_b);
            match op {
                0x89 => (2, rm, Effect::Copy { src: reg, wide }),
                0x8b => (2, reg, Effect::Copy { src: rm, wide }),
                0x63 if wide => (2, reg, Effect::SignExtend { src: rm }),
                0x31 | 0x33 if reg == rm => (2, reg, Effect::Value(0)),
                _ => return None,
            }
        }
        0xb8..=0xbf if wide => {
            let imm = u64::from_le_bytes(rest.get(1..9)?.try_into().ok()?);
            (9, (op & 7) | rex_b, Effect::Value(imm))
        }
        0xb8..=0xbf => (5, (op & 7) | rex_b, Effect::Value(u64::from(imm32(1)?))),
        0xc7 => {
            let modrm = *rest.get(1)?;
            if modrm & 0xf8 != 0xc0 {
                return None; // a memory operand, or not `mov`
            }
            let imm = imm32(2)?;
            let value = if wide { imm as i32 as i64 as u64 } else { u64::from(imm) };
            (6, (modrm & 7) | rex_b, Effect::Value(value))
        }
        _ => return None,
    };
    if dst == RAX || dst == RSP {
        return None;
    }
    Some(Insn { len: usize::from(rex != 0) + len, dst, effect })
}

/// The instructions `code` is made of, if it is wholly a sequence of them (empty code is an
/// empty sequence), and how many.
fn decode_all(code: &[u8]) -> Option<([Insn; MOST], usize)> {
    let mut insns = [Insn { len: 0, dst: 0, effect: Effect::Value(0) }; MOST];
    let (mut at, mut count) = (0, 0);
    while at < code.len() {
        let insn = decode(&code[at..])?;
        *insns.get_mut(count)? = insn;
        at += insn.len;
        count += 1;
    }
    (at == code.len()).then_some((insns, count))
}

/// Whether `code` is wholly a sequence of register-only instructions.
pub fn is_sequence(code: &[u8]) -> bool {
    decode_all(code).is_some()
}

/// Whether the registers a trapped call came with (`gpr`, by x86 number, at its `syscall`)
/// show the effects of the sequence `code` that ran just before it: each destination that no
/// later instruction writes holds what its instruction put there, as far as the registers
/// still tell (a source written later, or %rcx and %r11, which `syscall` overwrites, cannot).
/// False if `code` is no sequence.
pub fn effects_shown(code: &[u8], gpr: &[u64; 16]) -> bool {
    let Some((insns, count)) = decode_all(code) else { return false };
    let mut written_later = (1u16 << RCX) | (1 << R11);
    for insn in insns[..count].iter().rev() {
        let known = |reg: u8| written_later & (1 << reg) == 0;
        let value = |reg: u8| gpr[usize::from(reg)];
        let expected = match insn.effect {
            Effect::Copy { src, wide } if known(src) => Some(if wide { value(src) } else { value(src) as u32 as u64 }),
            Effect::SignExtend { src } if known(src) => Some(value(src) as u32 as i32 as i64 as u64),
            Effect::Value(v) => Some(v),
            Effect::Copy { .. } | Effect::SignExtend { .. } => None,
        };
        if known(insn.dst) && expected.is_some_and(|expected| value(insn.dst) != expected) {
            return false;
        }
        written_later |= 1 << insn.dst;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const RDX: usize = 2;
    const RSI: usize = 6;
    const RDI: usize = 7;
    const R9: usize = 9;

    fn insn(code: &[u8]) -> Option<(usize, u8, Effect)> {
        decode(code).map(|insn| (insn.len, insn.dst, insn.effect))
    }

    #[test]
    fn register_only_instructions_decode_with_their_effects() {
        let copy = |src, wide| Effect::Copy { src, wide };
        assert_eq!(insn(&[0x4c, 0x89, 0xcf]), Some((3, 7, copy(9, true))), "mov %r9, %rdi");
        assert_eq!(insn(&[0x48, 0x89, 0xd6]), Some((3, 6, copy(2, true))), "mov %rdx, %rsi");
        assert_eq!(insn(&[0x89, 0xf7]), Some((2, 7, copy(6, false))), "mov %esi, %edi");
        assert_eq!(insn(&[0x49, 0x8b, 0xfa]), Some((3, 7, copy(10, true))), "mov %r10, %rdi (8b form)");
        assert_eq!(insn(&[0x48, 0x63, 0xff]), Some((3, 7, Effect::SignExtend { src: 7 })), "movslq %edi, %rdi");
        assert_eq!(insn(&[0xba, 0x00, 0x08, 0, 0]), Some((5, 2, Effect::Value(0x800))), "mov $0x800, %edx");
        assert_eq!(insn(&[0x41, 0xba, 1, 0, 0, 0]), Some((6, 10, Effect::Value(1))), "mov $1, %r10d");
        assert_eq!(insn(&[0x31, 0xf6]), Some((2, 6, Effect::Value(0))), "xor %esi, %esi");
        assert_eq!(insn(&[0x45, 0x31, 0xd2]), Some((3, 10, Effect::Value(0))), "xor %r10d, %r10d");
        let minus_one = [0x49, 0xc7, 0xc2, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(insn(&minus_one), Some((7, 10, Effect::Value(u64::MAX))), "mov $-1, %r10");
        let imm64 = [0x49, 0xba, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(insn(&imm64), Some((10, 10, Effect::Value(0x0807_0605_0403_0201))), "movabs");
    }

    #[test]
    fn instructions_that_touch_memory_rax_or_rsp_do_not_decode() {
        assert_eq!(insn(&[0x48, 0x8b, 0x74, 0x24, 0x08]), None, "mov 0x8(%rsp), %rsi");
        assert_eq!(insn(&[0x48, 0x89, 0x37]), None, "mov %rsi, (%rdi)");
        assert_eq!(insn(&[0x4c, 0x89, 0xc0]), None, "mov %r8, %rax");
        assert_eq!(insn(&[0x48, 0x89, 0xfc]), None, "mov %rdi, %rsp");
        assert_eq!(insn(&[0x31, 0xc0]), None, "xor %eax, %eax");
        assert_eq!(insn(&[0x31, 0xd6]), None, "xor %edx, %esi: not zero");
        assert_eq!(insn(&[0x63, 0xff]), None, "movsxd without REX.W");
        assert_eq!(insn(&[0xc7, 0xc8, 0, 0, 0, 0]), None, "c7 /1 is no mov");
        assert_eq!(insn(&[0x66, 0x89, 0xf7]), None, "a 16-bit move");
        assert_eq!(insn(&[0xba, 0x00, 0x08]), None, "cut short");
        assert_eq!(insn(&[0x0f, 0x05]), None, "syscall");
    }

    #[test]
    fn a_sequence_must_end_exactly_where_the_code_does() {
        assert!(is_sequence(&[]));
        assert!(is_sequence(&[0x4c, 0x89, 0xcf, 0x48, 0x89, 0xd6]));
        assert!(!is_sequence(&[0xcf, 0x48, 0x89, 0xd6]), "starts inside an instruction");
        assert!(!is_sequence(&[0x4c, 0x89, 0xcf, 0x48, 0x89]), "the last is cut short");
        assert!(!is_sequence(&[0x31, 0xf6].repeat(MOST + 1)), "longer than a sequence is kept");
    }

    #[test]
    fn effects_are_checked_against_the_registers_at_the_syscall() {
        // musl's stat: mov %r9, %rdi; mov %rdx, %rsi.
        let stat = [0x4c, 0x89, 0xcf, 0x48, 0x89, 0xd6];
        let mut gpr = [0u64; 16];
        (gpr[R9], gpr[RDI], gpr[RDX], gpr[RSI]) = (0x7000, 0x7000, 0x8000, 0x8000);
        assert!(effects_shown(&stat, &gpr));
        gpr[RSI] = 0x8008;
        assert!(!effects_shown(&stat, &gpr), "%rsi is not %rdx");
        // mov %rdi, %rsi; mov $1, %edi: %rsi held %rdi's old value, which %rdi no longer shows.
        let overwritten = [0x48, 0x89, 0xfe, 0xbf, 1, 0, 0, 0];
        (gpr[RSI], gpr[RDI]) = (0x1234, 1);
        assert!(effects_shown(&overwritten, &gpr));
        gpr[RDI] = 2;
        assert!(!effects_shown(&overwritten, &gpr), "%edi is not the immediate");
        // mov %edx, %esi: the low 32 bits, zero-extended.
        (gpr[RDX], gpr[RSI]) = (0xffff_ffff_0000_0005, 5);
        assert!(effects_shown(&[0x89, 0xd6], &gpr));
        gpr[RSI] = 0xffff_ffff_0000_0005;
        assert!(!effects_shown(&[0x89, 0xd6], &gpr), "the upper half was not cleared");
        // movslq %edx, %rsi
        (gpr[RDX], gpr[RSI]) = (0x8000_0000, 0xffff_ffff_8000_0000);
        assert!(effects_shown(&[0x48, 0x63, 0xf2], &gpr));
        // mov %rcx, %rdx: %rcx is the return address at the syscall, so nothing can be told.
        assert!(effects_shown(&[0x48, 0x89, 0xca], &gpr));
        assert!(!effects_shown(&[0x48, 0x89], &gpr), "no sequence");
    }
}
