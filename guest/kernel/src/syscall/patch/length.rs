//! x86-64 instruction lengths, for the patcher's walk from a `syscall` forward to the padding
//! after the first instruction its code cannot fall through (`super::padding_after`).
//!
//! Forward decoding from a known instruction boundary is exact (backward decoding is not:
//! `super`'s module doc), as long as every length is right. So this decodes only what it knows
//! for certain: the one-byte, `0f`, `0f 38` and `0f 3a` opcode maps of 64-bit mode with their
//! legacy and REX prefixes, ModRM, SIB, displacements and immediates, which is what compilers
//! emit for general-purpose and SSE code. VEX and EVEX (AVX), 3DNow!, the opcodes that are
//! invalid in 64-bit mode and the branches with an operand-size prefix (whose length differs
//! between vendors) are refused (`None`), and the walk gives up on them.

/// The longest an x86 instruction may be.
const LONGEST: usize = 15;

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Its length in bytes.
    pub len: usize,
    /// Whether execution never goes on to the next instruction: `ret`, `jmp` (direct or
    /// indirect), `ud2`.
    pub ends_flow: bool,
}

/// The immediate an opcode takes after its ModRM (if any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Imm {
    None,
    /// One byte (`ib`, `rel8`).
    Byte,
    /// Two bytes (`iw`).
    Word,
    /// Two bytes with an operand-size prefix, four without (`iz`, `rel32`).
    Z,
    /// `mov $imm, %reg` (`b8`-`bf`): eight bytes with REX.W, else as [`Imm::Z`].
    V,
    /// A memory offset (`a0`-`a3`): eight bytes, four with an address-size prefix.
    Offset,
    /// `enter`: a word and a byte.
    Enter,
    /// The `test` forms of groups 3 (`f6`, `f7` with ModRM.reg 0 or 1): a byte (`f6`) or as
    /// [`Imm::Z`] (`f7`); the group's other forms take none.
    Group3 {
        wide: bool,
    },
}

/// An opcode's form: whether it has a ModRM byte, its immediate, and whether it ends the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Form {
    modrm: bool,
    imm: Imm,
    ends_flow: bool,
}

const fn form(modrm: bool, imm: Imm) -> Option<Form> {
    Some(Form { modrm, imm, ends_flow: false })
}

const fn end(imm: Imm) -> Option<Form> {
    Some(Form { modrm: false, imm, ends_flow: true })
}

/// The form of one-byte opcode `op` (not a prefix, not `0f`); `None` if it is refused.
fn one_byte(op: u8) -> Option<Form> {
    match op {
        // ALU ops on r/m (x0-x3) and on %al/%eax with an immediate (x4, x5), for add, or, adc,
        // sbb, and, sub, xor, cmp.
        0x00..=0x3f => match op & 7 {
            0..=3 => form(true, Imm::None),
            4 => form(false, Imm::Byte),
            5 => form(false, Imm::Z),
            _ => None, // push/pop of segments, daa and the like: invalid in 64-bit mode
        },
        0x50..=0x5f => form(false, Imm::None),
        0x63 => form(true, Imm::None),
        0x68 => form(false, Imm::Z),
        0x69 => form(true, Imm::Z),
        0x6a => form(false, Imm::Byte),
        0x6b => form(true, Imm::Byte),
        0x6c..=0x6f => form(false, Imm::None),
        0x70..=0x7f => form(false, Imm::Byte),
        0x80 | 0x83 => form(true, Imm::Byte),
        0x81 => form(true, Imm::Z),
        0x84..=0x8f => form(true, Imm::None),
        0x90..=0x99 | 0x9b..=0x9f => form(false, Imm::None),
        0xa0..=0xa3 => form(false, Imm::Offset),
        0xa4..=0xa7 | 0xaa..=0xaf => form(false, Imm::None),
        0xa8 | 0xb0..=0xb7 => form(false, Imm::Byte),
        0xa9 => form(false, Imm::Z),
        0xb8..=0xbf => form(false, Imm::V),
        0xc0 | 0xc1 | 0xc6 => form(true, Imm::Byte),
        0xc7 => form(true, Imm::Z),
        0xc2 => end(Imm::Word),
        0xc3 => end(Imm::None),
        0xc8 => form(false, Imm::Enter),
        0xc9 | 0xcc | 0xcf => form(false, Imm::None),
        0xca => end(Imm::Word),
        0xcb => end(Imm::None),
        0xcd => form(false, Imm::Byte),
        0xd0..=0xd3 | 0xd8..=0xdf => form(true, Imm::None),
        0xd7 => form(false, Imm::None),
        0xe0..=0xe7 => form(false, Imm::Byte),
        0xe8 => form(false, Imm::Z),
        0xe9 => end(Imm::Z),
        0xeb => end(Imm::Byte),
        0xec..=0xef | 0xf1 | 0xf4 | 0xf5 | 0xf8..=0xfd => form(false, Imm::None),
        0xf6 => form(true, Imm::Group3 { wide: false }),
        0xf7 => form(true, Imm::Group3 { wide: true }),
        0xfe | 0xff => form(true, Imm::None),
        // 0x60-0x62 (0x62: EVEX), 0x82, 0x9a, 0xc4 and 0xc5 (VEX), 0xce, 0xd4-0xd6, 0xea; the
        // prefixes and 0x0f are taken before.
        _ => None,
    }
}

/// The form of two-byte opcode `0f op` (`0f 38` and `0f 3a` are taken before).
fn two_byte(op: u8) -> Option<Form> {
    match op {
        0x00..=0x03 | 0x0d | 0x10..=0x1f | 0x20..=0x23 | 0x28..=0x2f | 0x40..=0x6f => form(true, Imm::None),
        0x05..=0x09 | 0x0e | 0x30..=0x35 | 0x37 | 0x77 | 0xa0..=0xa2 | 0xa8..=0xaa | 0xc8..=0xcf => {
            form(false, Imm::None)
        }
        0x0b => end(Imm::None), // ud2
        0x70..=0x73 | 0xa4 | 0xac | 0xba | 0xc2 | 0xc4..=0xc6 => form(true, Imm::Byte),
        0x74..=0x76 | 0x78 | 0x79 | 0x7c..=0x7f | 0x90..=0x9f | 0xa3 | 0xa5 | 0xab | 0xad..=0xaf => {
            form(true, Imm::None)
        }
        0xb0..=0xc1 | 0xc3 | 0xc7 | 0xd0..=0xff => form(true, Imm::None),
        0x80..=0x8f => form(false, Imm::Z), // jcc rel32
        // 0x04, 0x0a, 0x0c, 0x0f (3DNow!), 0x24-0x27, 0x36, 0x39, 0x3b-0x3f, 0x7a, 0x7b, 0xa6, 0xa7.
        _ => None,
    }
}

/// The instruction `code` starts with, if this module knows its length.
pub fn decode(code: &[u8]) -> Option<Insn> {
    let mut at = 0;
    let (mut operand_size, mut address_size, mut rex_w) = (false, false, false);
    let op = loop {
        let &byte = code.get(at)?;
        at += 1;
        match byte {
            0x66 => operand_size = true,
            0x67 => address_size = true,
            0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => {}
            // A REX prefix counts only right before the opcode.
            0x40..=0x4f => {
                rex_w = byte & 0x8 != 0;
                match code.get(at)? {
                    0x40..=0x4f | 0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => {
                        return None
                    }
                    _ => {}
                }
            }
            _ => break byte,
        }
        if at >= LONGEST {
            return None;
        }
    };
    let form = if op == 0x0f {
        let &op2 = code.get(at)?;
        at += 1;
        match op2 {
            0x38 => {
                at += 1;
                form(true, Imm::None)?
            }
            0x3a => {
                at += 1;
                form(true, Imm::Byte)?
            }
            _ => two_byte(op2)?,
        }
    } else {
        one_byte(op)?
    };
    // A near branch's length with an operand-size prefix differs between Intel and AMD.
    let branch = matches!(op, 0x70..=0x7f | 0xe0..=0xe3 | 0xe8 | 0xe9 | 0xeb) || (op == 0x0f && form.imm == Imm::Z);
    if branch && operand_size {
        return None;
    }
    let mut ends_flow = form.ends_flow;
    let mut group3_imm = false;
    if form.modrm {
        let &modrm = code.get(at)?;
        at += 1;
        let (mode, reg, rm) = (modrm >> 6, (modrm >> 3) & 7, modrm & 7);
        if op == 0xff && (reg == 4 || reg == 5) {
            ends_flow = true; // jmp *r/m, jmp far
        }
        group3_imm = reg < 2;
        if mode != 3 {
            let mut disp = match mode {
                1 => 1,
                2 => 4,
                _ => 0,
            };
            if rm == 4 {
                let &sib = code.get(at)?;
                at += 1;
                if mode == 0 && sib & 7 == 5 {
                    disp = 4;
                }
            } else if mode == 0 && rm == 5 {
                disp = 4; // %rip-relative
            }
            at += disp;
        }
    }
    let z = if operand_size { 2 } else { 4 };
    at += match form.imm {
        Imm::None => 0,
        Imm::Byte => 1,
        Imm::Word => 2,
        Imm::Z => z,
        Imm::V if rex_w => 8,
        Imm::V => z,
        Imm::Offset if address_size => 4,
        Imm::Offset => 8,
        Imm::Enter => 3,
        Imm::Group3 { .. } if !group3_imm => 0,
        Imm::Group3 { wide: false } => 1,
        Imm::Group3 { wide: true } => z,
    };
    (at <= LONGEST && at <= code.len()).then_some(Insn { len: at, ends_flow })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(code: &[u8]) -> Option<usize> {
        decode(code).map(|insn| insn.len)
    }

    #[test]
    fn general_purpose_instructions_have_their_lengths() {
        let cases: &[&[u8]] = &[
            &[0x48, 0x89, 0xc7],                            // mov %rax, %rdi
            &[0xe8, 1, 2, 3, 4],                            // call rel32
            &[0x4c, 0x39, 0xf0],                            // cmp %r14, %rax
            &[0x75, 0xb3],                                  // jne rel8
            &[0x49, 0x8b, 0x47, 0x58],                      // mov 0x58(%r15), %rax
            &[0x48, 0x8b, 0x44, 0x24, 0x08],                // mov 0x8(%rsp), %rax
            &[0x64, 0x48, 0x2b, 0x14, 0x25, 0x28, 0, 0, 0], // sub %fs:0x28, %rdx
            &[0x0f, 0x85, 1, 2, 3, 4],                      // jne rel32
            &[0x48, 0x83, 0xc4, 0x48],                      // add $0x48, %rsp
            &[0x41, 0x5f],                                  // pop %r15
            &[0x48, 0x8d, 0x05, 1, 2, 3, 4],                // lea rel(%rip), %rax
            &[0x48, 0xc7, 0x47, 0x20, 0, 0, 0, 0],          // movq $0, 0x20(%rdi)
            &[0x41, 0x83, 0x0f, 0x20],                      // orl $0x20, (%r15)
            &[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8],          // movabs $imm64, %rax
            &[0xb8, 1, 2, 3, 4],                            // mov $imm32, %eax
            &[0x66, 0xb8, 1, 2],                            // mov $imm16, %ax
            &[0xf6, 0x47, 0x01, 0x20],                      // testb $0x20, 0x1(%rdi)
            &[0xf7, 0xd8],                                  // neg %eax
            &[0x48, 0xf7, 0xc2, 1, 2, 3, 4],                // test $imm32, %rdx
            &[0x66, 0x0f, 0x6f, 0x04, 0x24],                // movdqa (%rsp), %xmm0
            &[0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08],          // palignr $8, %xmm1, %xmm0
            &[0x66, 0x0f, 0x38, 0x00, 0xc1],                // pshufb %xmm1, %xmm0
            &[0xf3, 0x0f, 0x1e, 0xfa],                      // endbr64
            &[0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0],             // nopl 0x0(%rax,%rax,1)
            &[0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], // cs nopw
            &[0x48, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8],          // movabs moffs, %rax
            &[0xc8, 0x10, 0x00, 0x01],                      // enter $16, $1
            &[0xf0, 0x48, 0x0f, 0xb1, 0x16],                // lock cmpxchg %rdx, (%rsi)
            &[0x0f, 0x05],                                  // syscall
            &[0x48, 0x8b, 0x84, 0xc8, 1, 2, 3, 4],          // mov 0x04030201(%rax,%rcx,8), %rax
            &[0x8b, 0x04, 0x25, 1, 2, 3, 4],                // mov abs32 (SIB, no base), %eax
        ];
        for code in cases {
            let mut with_more = code.to_vec();
            with_more.extend_from_slice(&[0x90; 16]);
            assert_eq!(len(&with_more), Some(code.len()), "{code:02x?}");
            assert_eq!(len(code), Some(code.len()), "{code:02x?} alone");
            assert_eq!(len(&code[..code.len() - 1]), None, "{code:02x?} cut short");
        }
    }

    #[test]
    fn returns_jumps_and_ud2_end_the_flow_and_branches_do_not() {
        let ends: &[&[u8]] =
            &[&[0xc3], &[0xf3, 0xc3], &[0xc2, 8, 0], &[0xe9, 1, 2, 3, 4], &[0xeb, 5], &[0xff, 0xe0], &[0x0f, 0x0b]];
        for code in ends {
            assert_eq!(decode(code), Some(Insn { len: code.len(), ends_flow: true }), "{code:02x?}");
        }
        let goes_on: &[&[u8]] = &[&[0x74, 5], &[0xe8, 1, 2, 3, 4], &[0xff, 0xd0], &[0x0f, 0x84, 1, 2, 3, 4]];
        for code in goes_on {
            assert_eq!(decode(code), Some(Insn { len: code.len(), ends_flow: false }), "{code:02x?}");
        }
    }

    #[test]
    fn what_is_not_known_for_certain_is_refused() {
        let refused: &[&[u8]] = &[
            &[0xc5, 0xf9, 0x6f, 0xc1],       // vmovdqa (VEX)
            &[0x62, 0xf1, 0x7d, 0x48, 0x6f], // EVEX
            &[0x06],                         // push %es: invalid in 64-bit mode
            &[0x0f, 0x0f, 0xc1, 0x9e],       // 3DNow!
            &[0x66, 0xe9, 1, 2],             // jmp with an operand-size prefix
            &[0x48, 0x66, 0x89, 0xc7],       // a REX prefix before another prefix
            &[0x66; 16],                     // longer than 15 bytes
        ];
        for code in refused {
            assert_eq!(decode(code), None, "{code:02x?}");
        }
    }
}

/// Checks the decoder against a disassembler's listing: `UVM_LENGTH_CHECK` names a file of
/// lines `HEX<TAB>MNEMONIC`, one instruction each (`scripts/patch-sites.py --lengths
/// BINARY...` writes them from `objdump -d`). Every instruction must decode to its length or
/// be refused; the refused ones are counted by mnemonic. `cargo test --release -p uvm-kernel
/// -- --ignored decodes_as_a_disassembler_does --nocapture`.
#[cfg(test)]
mod listing {
    extern crate std;
    use std::collections::BTreeMap;
    use std::string::String;
    use std::vec::Vec;

    #[test]
    #[ignore]
    fn decodes_as_a_disassembler_does() {
        let Ok(path) = std::env::var("UVM_LENGTH_CHECK") else { return };
        let listing = std::fs::read_to_string(path).unwrap();
        let (mut known, mut refused, mut wrong) = (0, BTreeMap::<String, usize>::new(), Vec::new());
        for line in listing.lines() {
            let Some((hex, mnemonic)) = line.split_once('\t') else { continue };
            let bytes: Vec<u8> =
                (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
            let name = String::from(mnemonic.split_whitespace().next().unwrap_or(""));
            match super::decode(&bytes) {
                Some(insn) if insn.len == bytes.len() => known += 1,
                Some(insn) => wrong.push(std::format!("{hex} {mnemonic}: {} bytes", insn.len)),
                None => *refused.entry(name).or_default() += 1,
            }
        }
        std::println!("{known} decoded, refused: {refused:?}");
        assert!(wrong.is_empty(), "wrong lengths:\n{}", wrong.join("\n"));
    }
}
