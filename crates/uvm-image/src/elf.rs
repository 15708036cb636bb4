//! Build-time checks of the app binary: is it a program the uvm guest kernel can load?
//!
//! uvm runs one statically linked x86-64 Linux ELF executable: `ET_EXEC` linked at a fixed
//! address inside the app's address range, or `ET_DYN` without an interpreter (static-pie),
//! loaded at [`ElfInfo::load_bias`], near `PIE_BASE_VA`. [`check_elf`] refuses everything
//! else with a distinct [`ElfError`] and describes what it accepts as an [`ElfInfo`] (shown by
//! `uvm inspect`).
//!
//! Guarantees for the guest loader when the check passes: at least one `PT_LOAD`; every
//! `PT_LOAD` has `p_filesz <= p_memsz`, its file bytes inside the file, `p_offset` congruent
//! to `p_vaddr` modulo 4096, and no two `PT_LOAD`s share a 4096-byte page; every loaded byte
//! lies in `USER_MIN_VA .. USER_END_VA` (static-pie: after adding its load bias); the entry
//! point lies inside an executable `PT_LOAD`.

use std::path::Path;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};
use uvm_abi::layout::{align_down, align_up, LARGE_PAGE_SIZE, PAGE_SIZE, USER_END_VA, USER_MIN_VA};

use crate::error::{ElfError, ImageError};

/// How the app is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: loaded at the addresses in its program headers.
    Static,
    /// `ET_DYN` without `PT_INTERP`: loaded at [`ElfInfo::load_bias`] plus its addresses; it
    /// relocates itself.
    StaticPie,
}

/// One `PT_LOAD` segment, with the addresses from the file (no load bias added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_flags` (`PF_R` = 4, `PF_W` = 2, `PF_X` = 1).
    pub flags: u32,
}

impl SegmentInfo {
    /// The permissions as `ls`-style text, e.g. `"r-x"`.
    pub fn flags_str(&self) -> String {
        let bit = |mask: u32, c: char| if self.flags & mask != 0 { c } else { '-' };
        [bit(program_header::PF_R, 'r'), bit(program_header::PF_W, 'w'), bit(program_header::PF_X, 'x')]
            .iter()
            .collect()
    }
}

/// What [`check_elf`] learned about an accepted app binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// Static or static-pie.
    pub kind: ElfKind,
    /// `e_entry` as in the file (static-pie: add [`ElfInfo::load_bias`] for the runtime address).
    pub entry: u64,
    /// The `PT_LOAD` segments, in program-header order.
    pub segments: Vec<SegmentInfo>,
    /// Whether it has a `PT_TLS` segment (thread-local storage).
    pub has_tls: bool,
    /// The program interpreter. Always `None` for an accepted binary (one with `PT_INTERP` is
    /// refused); kept so `inspect` output states it explicitly.
    pub interp: Option<String>,
}

impl ElfInfo {
    /// Where the app is loaded: 0 for a static executable, `uvm_abi::boot::pie_load_bias`
    /// (near `uvm_abi::layout::PIE_BASE_VA`) for a static-pie one.
    pub fn load_bias(&self) -> u64 {
        match self.kind {
            ElfKind::Static => 0,
            ElfKind::StaticPie => uvm_abi::boot::pie_load_bias(
                self.segments.iter().map(|s| (s.offset, s.vaddr, s.filesz, s.memsz, s.flags)),
            ),
        }
    }

    /// Where the app's bytes should start in an image, modulo 2 MiB, so that the guest kernel
    /// can map 2 MiB-aligned chunks of its read-only segments with one large page each
    /// (its `map_large_image_chunks`): `Some` when some such chunk of the app's address
    /// space is covered whole by read-only segments' file bytes, back to back in address and
    /// file alike. A byte at file offset `o` of a segment loaded at `v` (load bias included)
    /// is then at image offset `start + o`, and the chunk's image bytes start 2 MiB-aligned
    /// when `start` is congruent to `v - o`.
    pub fn large_page_residue(&self) -> Option<u64> {
        self.first_large_chunk().map(|offset| offset.wrapping_neg() % LARGE_PAGE_SIZE)
    }

    /// The image offset of the app's first 2 MiB chunk when the image, holding the app's bytes
    /// from `app_offset` on, lays it out 2 MiB-aligned (as `uvm build` does since ABI version
    /// 8); `None` if the app has no such chunk or the image does not lay it out so.
    pub fn large_chunk_in_image(&self, app_offset: u64) -> Option<u64> {
        app_offset.checked_add(self.first_large_chunk()?).filter(|at| at.is_multiple_of(LARGE_PAGE_SIZE))
    }

    /// The file offset of the first 2 MiB chunk that [`ElfInfo::large_page_residue`] finds
    /// (its first byte: in an image laid out for it, at a 2 MiB-aligned image offset).
    pub fn first_large_chunk(&self) -> Option<u64> {
        let bias = self.load_bias();
        let mut segments: Vec<&SegmentInfo> = self.segments.iter().filter(|s| s.memsz > 0).collect();
        segments.sort_by_key(|s| s.vaddr);
        let mut run = None;
        for s in segments {
            let start = bias.checked_add(s.vaddr)?;
            run = uvm_abi::boot::next_read_only_run(run, start, s.offset, s.filesz, s.flags)?;
            if let Some((first, end, d)) = run {
                let chunk = align_up(first, LARGE_PAGE_SIZE)?;
                if chunk.checked_add(LARGE_PAGE_SIZE).is_some_and(|chunk_end| chunk_end <= end) {
                    return Some(chunk.wrapping_sub(d));
                }
            }
        }
        None
    }
}

/// Size of an ELF64 file header.
const EHDR64_SIZE: usize = 64;
/// Size of an ELF64 program header.
const PHDR64_SIZE: usize = 56;

/// Checks that `bytes` (the content of `path`, named in errors) is a static x86-64 Linux
/// executable uvm can load; see the module documentation for what that means.
pub fn check_elf(path: &Path, bytes: &[u8]) -> Result<ElfInfo, ElfError> {
    let path_buf = || path.to_path_buf();
    if bytes.len() < 4 || bytes[..4] != *b"\x7fELF" {
        let (what, hint) = describe_non_elf(bytes);
        return Err(ElfError::NotElf { path: path_buf(), what, hint });
    }
    let malformed = |reason: String| ElfError::Malformed { path: path_buf(), reason };
    match bytes.get(header::EI_CLASS) {
        Some(&header::ELFCLASS64) => {}
        Some(&header::ELFCLASS32) => return Err(ElfError::Elf32 { path: path_buf() }),
        Some(&other) => return Err(malformed(format!("its ELF class byte is {other}, neither 32- nor 64-bit"))),
        None => return Err(malformed("it ends inside the ELF identification bytes".into())),
    }
    if bytes.len() < EHDR64_SIZE {
        return Err(malformed(format!("it is {} bytes long, shorter than an ELF64 header (64 bytes)", bytes.len())));
    }
    let ehdr: Header = goblin::elf::Elf::parse_header(bytes)
        .map_err(|e| malformed(format!("its ELF header cannot be parsed ({e})")))?;
    if ehdr.e_machine != header::EM_X86_64 {
        return Err(ElfError::WrongMachine { path: path_buf(), machine: machine_name(ehdr.e_machine) });
    }
    if ehdr.e_ident[header::EI_DATA] != header::ELFDATA2LSB {
        return Err(malformed("it claims x86-64 but is not little-endian".into()));
    }
    let kind = match ehdr.e_type {
        header::ET_EXEC => ElfKind::Static,
        header::ET_DYN => ElfKind::StaticPie,
        header::ET_REL => return Err(not_executable(path, "a relocatable object file (ET_REL) that was never linked")),
        header::ET_CORE => return Err(not_executable(path, "a core dump (ET_CORE)")),
        other => return Err(not_executable(path, &format!("an ELF file of type {other:#x}"))),
    };

    let phdrs = read_program_headers(bytes, &ehdr).map_err(malformed)?;
    // A dynamically linked program is the most common mistake: say so before anything else.
    if let Some(interp) = phdrs.iter().find(|p| p.p_type == program_header::PT_INTERP) {
        return Err(ElfError::Dynamic { path: path_buf(), interpreter: interpreter_name(bytes, interp) });
    }
    if kind == ElfKind::StaticPie && ehdr.e_entry == 0 {
        return Err(not_executable(path, "a shared library (ET_DYN without an entry point)"));
    }

    let loads: Vec<(usize, &ProgramHeader)> =
        phdrs.iter().enumerate().filter(|(_, p)| p.p_type == program_header::PT_LOAD).collect();
    if loads.is_empty() {
        return Err(ElfError::NoLoadSegments { path: path_buf() });
    }
    let bias = match kind {
        ElfKind::Static => 0,
        ElfKind::StaticPie => uvm_abi::boot::pie_load_bias(
            loads.iter().map(|(_, p)| (p.p_offset, p.p_vaddr, p.p_filesz, p.p_memsz, p.p_flags)),
        ),
    };
    let file_len = bytes.len() as u64;
    // Where each non-empty segment lands, for the overlap check.
    let mut spans: Vec<Span> = Vec::with_capacity(loads.len());
    for &(index, p) in &loads {
        if p.p_filesz > 0 {
            let end = p.p_offset.checked_add(p.p_filesz);
            if !matches!(end, Some(end) if end <= file_len) {
                return Err(ElfError::SegmentPastEof {
                    path: path_buf(),
                    index,
                    offset: p.p_offset,
                    end: p.p_offset.saturating_add(p.p_filesz),
                    file_len,
                });
            }
        }
        if p.p_filesz > p.p_memsz {
            return Err(ElfError::FileszExceedsMemsz { path: path_buf(), index, filesz: p.p_filesz, memsz: p.p_memsz });
        }
        if p.p_offset % PAGE_SIZE != p.p_vaddr % PAGE_SIZE {
            return Err(ElfError::SegmentMisaligned { path: path_buf(), index, offset: p.p_offset, vaddr: p.p_vaddr });
        }
        // Loaded at `start .. end`; saturated values are only for the message.
        let start = p.p_vaddr.saturating_add(bias);
        let end = start.saturating_add(p.p_memsz);
        let page_end =
            p.p_vaddr.checked_add(bias).and_then(|s| s.checked_add(p.p_memsz)).and_then(|e| align_up(e, PAGE_SIZE));
        if start < USER_MIN_VA || !matches!(page_end, Some(e) if e <= USER_END_VA) {
            return Err(ElfError::SegmentOutOfRange {
                path: path_buf(),
                index,
                start,
                end,
                min: USER_MIN_VA,
                max: USER_END_VA,
            });
        }
        if p.p_memsz > 0 {
            spans.push(Span {
                index,
                start,
                end,
                first_page: align_down(start, PAGE_SIZE),
                page_end: page_end.unwrap_or(USER_END_VA),
            });
        }
    }
    // Sorted by first page, some two spans share a page iff two neighbours do.
    spans.sort_by_key(|span| span.first_page);
    for pair in spans.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.first_page < a.page_end {
            return Err(ElfError::SegmentsOverlap {
                path: path_buf(),
                first: a.index,
                first_start: a.start,
                first_end: a.end,
                second: b.index,
                second_start: b.start,
                second_end: b.end,
            });
        }
    }

    let entry = ehdr.e_entry;
    let entry_ok = loads.iter().any(|(_, p)| {
        p.p_flags & program_header::PF_X != 0
            && entry >= p.p_vaddr
            && matches!(p.p_vaddr.checked_add(p.p_memsz), Some(end) if entry < end)
    });
    if !entry_ok {
        return Err(ElfError::EntryNotExecutable { path: path_buf(), entry });
    }

    Ok(ElfInfo {
        kind,
        entry,
        segments: loads
            .iter()
            .map(|(_, p)| SegmentInfo {
                offset: p.p_offset,
                vaddr: p.p_vaddr,
                memsz: p.p_memsz,
                filesz: p.p_filesz,
                flags: p.p_flags,
            })
            .collect(),
        has_tls: phdrs.iter().any(|p| p.p_type == program_header::PT_TLS),
        interp: None,
    })
}

/// Reads the file at `path` and runs [`check_elf`] on it.
pub fn check_elf_file(path: &Path) -> Result<ElfInfo, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::ReadInput { path: path.to_path_buf(), source })?;
    Ok(check_elf(path, &bytes)?)
}

/// A loaded segment's place in memory.
struct Span {
    /// Index among the program headers.
    index: usize,
    /// First byte, load bias included.
    start: u64,
    /// One past the last byte.
    end: u64,
    /// `start` rounded down to a page.
    first_page: u64,
    /// `end` rounded up to a page.
    page_end: u64,
}

fn not_executable(path: &Path, what: &str) -> ElfError {
    ElfError::NotExecutable { path: path.to_path_buf(), what: what.to_string() }
}

/// Reads the program header table, bounds-checked; the error is a reason for `Malformed`.
fn read_program_headers(bytes: &[u8], ehdr: &Header) -> Result<Vec<ProgramHeader>, String> {
    if ehdr.e_phnum == 0 {
        return Ok(Vec::new());
    }
    if usize::from(ehdr.e_phentsize) != PHDR64_SIZE {
        return Err(format!("its program headers are {} bytes each instead of {PHDR64_SIZE}", ehdr.e_phentsize));
    }
    let table_len = usize::from(ehdr.e_phnum) * PHDR64_SIZE;
    let start = usize::try_from(ehdr.e_phoff).map_err(|_| "its program header offset is too large".to_string())?;
    if !matches!(start.checked_add(table_len), Some(end) if end <= bytes.len()) {
        return Err(format!(
            "its {} program headers at offset {start:#x} run past the end of the file ({} bytes)",
            ehdr.e_phnum,
            bytes.len()
        ));
    }
    ProgramHeader::parse(bytes, start, usize::from(ehdr.e_phnum), Ctx::new(Container::Big, Endian::Little))
        .map_err(|e| format!("its program headers cannot be parsed ({e})"))
}

/// The `PT_INTERP` string, or a placeholder when it cannot be read.
fn interpreter_name(bytes: &[u8], interp: &ProgramHeader) -> String {
    let range = usize::try_from(interp.p_offset)
        .ok()
        .and_then(|start| Some(start..start.checked_add(usize::try_from(interp.p_filesz).ok()?)?));
    match range.and_then(|r| bytes.get(r)) {
        Some(raw) => {
            let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(raw).into_owned()
        }
        None => "(unreadable: its PT_INTERP points outside the file)".to_string(),
    }
}

/// A friendly name for an ELF machine number.
fn machine_name(machine: u16) -> String {
    let friendly = match machine {
        header::EM_386 => "i386 (32-bit x86)",
        header::EM_AARCH64 => "AArch64 (arm64)",
        header::EM_ARM => "32-bit ARM",
        header::EM_RISCV => "RISC-V",
        header::EM_PPC64 => "64-bit PowerPC",
        header::EM_PPC => "32-bit PowerPC",
        header::EM_S390 => "IBM s390x",
        header::EM_MIPS => "MIPS",
        header::EM_LOONGARCH => "LoongArch",
        header::EM_SPARCV9 => "SPARC V9",
        _ => return format!("{} (machine {machine})", header::machine_to_str(machine)),
    };
    friendly.to_string()
}

/// Says what a file that is not ELF looks like, and gives advice for that kind of file.
fn describe_non_elf(bytes: &[u8]) -> (String, &'static str) {
    const SCRIPT_HINT: &str = ". To run a script, make a static build of its interpreter the app \
                               and pass the script as an argument";
    if bytes.is_empty() {
        return ("is empty".into(), "");
    }
    if bytes.starts_with(b"#!") {
        let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(&line[..line.len().min(80)]).trim_end().to_string();
        return (format!("starts with `{line}` (a script)"), SCRIPT_HINT);
    }
    if bytes.len() < 4 && b"\x7fELF".starts_with(bytes) {
        return ("starts like an ELF file but is cut short".into(), ". Copy it again");
    }
    let known: [(&[u8], &str, &'static str); 8] = [
        (b"UVMIMAGE", "is a uvm image", ". Run it with `uvm run`"),
        (b"\x1f\x8b", "starts with 1f 8b (a gzip archive)", ". Unpack it first"),
        (b"PK\x03\x04", "starts with PK (a zip or jar archive)", ". Unpack it first"),
        (b"!<arch>\n", "starts with !<arch> (a static library archive)", ". Link it into an executable"),
        (b"MZ", "starts with MZ (a Windows or DOS executable)", ""),
        (b"\0asm", "starts with \\0asm (a WebAssembly module)", ""),
        (b"\xcf\xfa\xed\xfe", "starts with cf fa ed fe (a macOS Mach-O executable)", ""),
        (b"\xca\xfe\xba\xbe", "starts with ca fe ba be (a macOS universal binary or Java class)", ""),
    ];
    for (magic, what, hint) in known {
        if bytes.starts_with(magic) {
            return (what.into(), hint);
        }
    }
    let head = &bytes[..bytes.len().min(16)];
    let texty = head.iter().all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if texty {
        let text: String =
            String::from_utf8_lossy(head).chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
        return (format!("is text (it starts with \"{}\")", text.trim_end()), "");
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    (format!("starts with the bytes {}", hex.join(" ")), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_descriptions() {
        assert_eq!(describe_non_elf(b"").0, "is empty");
        assert!(describe_non_elf(b"#!/usr/bin/env python3\nprint()").0.contains("`#!/usr/bin/env python3` (a script)"));
        assert!(describe_non_elf(b"\x7fE").0.contains("cut short"));
        assert!(describe_non_elf(b"hello world\n").0.contains("is text"));
        assert!(describe_non_elf(&[0, 1, 2, 3, 0xff]).0.contains("00 01 02 03 ff"));
        assert!(describe_non_elf(b"UVMIMAGE\x01").0.contains("uvm image"));
    }

    fn info(kind: ElfKind, segments: &[(u64, u64, u64, u32)]) -> ElfInfo {
        let segments = segments
            .iter()
            .map(|&(offset, vaddr, filesz, flags)| SegmentInfo { offset, vaddr, memsz: filesz, filesz, flags })
            .collect();
        ElfInfo { kind, entry: 0, segments, has_tls: false, interp: None }
    }

    #[test]
    fn large_page_residue_needs_a_whole_read_only_chunk() {
        let (rx, r, rw) = (5, 4, 6);
        // A Go service's layout: text and read-only data back to back past 0x600000.
        let go =
            [(0, 0x40_0000, 0x1a_9ef9, rx), (0x1a_a000, 0x5a_a000, 0x1a_5618, r), (0x35_0000, 0x75_0000, 0x3_c0a0, rw)];
        assert_eq!(info(ElfKind::Static, &go).large_page_residue(), Some(0));
        assert_eq!(info(ElfKind::Static, &go).first_large_chunk(), Some(0));
        assert_eq!(info(ElfKind::Static, &go).large_chunk_in_image(0x20_0000), Some(0x20_0000));
        assert_eq!(info(ElfKind::Static, &go).large_chunk_in_image(0x3000), None, "not laid out");
        // A C hello: everything in the first 2 MiB.
        let hello = [(0, 0x40_0000, 0x1000, r), (0x1000, 0x40_1000, 0x9_0000, rx), (0x9_2000, 0x49_2000, 0x2_0000, rw)];
        assert_eq!(info(ElfKind::Static, &hello).large_page_residue(), None);
        // A gap between text and read-only data breaks the run.
        let gap = [(0, 0x40_0000, 0x1a_9000, rx), (0x1a_a000, 0x5a_b000, 0x1a_5000, r)];
        assert_eq!(info(ElfKind::Static, &gap).large_page_residue(), None);
        // Writable data in the middle too.
        let split =
            [(0, 0x40_0000, 0x10_0000, rx), (0x10_0000, 0x50_0000, 0x1000, rw), (0x10_1000, 0x50_1000, 0x30_0000, r)];
        assert_eq!(info(ElfKind::Static, &split).large_page_residue(), Some(0), "the run after it is whole");
        // Static-pie: loaded where its run starts on a 2 MiB boundary (uvm_abi's pie_load_bias).
        let pie = [(0, 0, 0x30_0000, rx)];
        assert_eq!(info(ElfKind::StaticPie, &pie).large_page_residue(), Some(0));
        assert_eq!(info(ElfKind::StaticPie, &pie).first_large_chunk(), Some(0));
        // Rust's layout: read-only data, then text 0x1000 further in address than in file.
        let rust = [(0, 0, 0x10_ba4c, r), (0x10_ba80, 0x10_ca80, 0x20_9e00, rx), (0x31_5880, 0x31_7880, 0x3_f820, rw)];
        let rust = info(ElfKind::StaticPie, &rust);
        assert_eq!((rust.load_bias() + 0x10_c000) % LARGE_PAGE_SIZE, 0);
        assert_eq!(rust.first_large_chunk(), Some(0x10_b000), "the text's first page");
        assert_eq!(rust.large_page_residue(), Some(LARGE_PAGE_SIZE - 0x10_b000));
        // File offsets that are not the addresses' (modulo 2 MiB).
        let shifted = [(0x1000, 0x40_0000, 0x30_0000, rx)];
        assert_eq!(info(ElfKind::Static, &shifted).large_page_residue(), Some(LARGE_PAGE_SIZE - 0x1000));
    }

    #[test]
    fn flags_render_like_ls() {
        let seg = SegmentInfo { offset: 0, vaddr: 0, memsz: 0, filesz: 0, flags: 5 };
        assert_eq!(seg.flags_str(), "r-x");
    }
}
