//! The errors of this crate: [`ElfError`] (why an app binary cannot run under uvm) and
//! [`ImageError`] (why an image cannot be built or opened).
//!
//! One variant per rejection. Every message is a sentence that names the file, says what is
//! wrong and how to fix it, so the CLI can print it as is.

use std::io;
use std::path::PathBuf;

/// Why a file is not a program uvm can run: it must be a statically linked x86-64 Linux ELF
/// executable (`ET_EXEC`, or `ET_DYN` static-pie) whose segments fit the guest's memory map.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file does not start with the ELF magic.
    #[error(
        "{} is not an ELF program: it {what}. uvm runs compiled, statically linked Linux x86-64 \
         executables; point `app` at one{hint}.",
        path.display()
    )]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What its first bytes look like, e.g. "starts with `#!/bin/sh` (a script)".
        what: String,
        /// Extra advice for the kind of file it is (a sentence starting with ". "), or empty.
        hint: &'static str,
    },
    /// A 32-bit ELF.
    #[error(
        "{} is a 32-bit ELF program; uvm runs 64-bit x86-64 programs only. Rebuild it for \
         x86_64 (drop `-m32`, or use a target such as x86_64-unknown-linux-musl).",
        path.display()
    )]
    Elf32 {
        /// The file.
        path: PathBuf,
    },
    /// An ELF for another CPU.
    #[error(
        "{} is an ELF program for {machine}, not x86-64; uvm runs x86-64 programs only. \
         Cross-compile it for x86_64 Linux (e.g. `--target x86_64-unknown-linux-musl`, or \
         `GOARCH=amd64`).",
        path.display()
    )]
    WrongMachine {
        /// The file.
        path: PathBuf,
        /// The CPU it was built for, e.g. "AArch64 (arm64)".
        machine: String,
    },
    /// A relocatable object, core dump, shared library or other non-executable ELF.
    #[error(
        "{} is {what}, not an executable program. Link it into a static executable (e.g. \
         `gcc -static -o app main.o`) and point `app` at that.",
        path.display()
    )]
    NotExecutable {
        /// The file.
        path: PathBuf,
        /// What it is instead, e.g. "a relocatable object file (ET_REL)".
        what: String,
    },
    /// Has a `PT_INTERP`: dynamically linked.
    #[error(
        "{} is dynamically linked (it asks for the program interpreter {interpreter}); uvm runs \
         statically linked programs only. Rebuild with `gcc -static`, `musl-gcc -static`, \
         `RUSTFLAGS='-C target-feature=+crt-static'`, or `CGO_ENABLED=0` for Go.",
        path.display()
    )]
    Dynamic {
        /// The file.
        path: PathBuf,
        /// The interpreter path it names (e.g. `/lib64/ld-linux-x86-64.so.2`).
        interpreter: String,
    },
    /// No `PT_LOAD` program header: nothing to load.
    #[error(
        "{} has no loadable segment (no PT_LOAD program header), so there is nothing to run. \
         Rebuild it with a normal linker invocation; it may have been stripped or edited badly.",
        path.display()
    )]
    NoLoadSegments {
        /// The file.
        path: PathBuf,
    },
    /// A `PT_LOAD`'s file bytes run past the end of the file.
    #[error(
        "{} is truncated: loadable segment {index} needs file bytes {offset:#x}..{end:#x} but the \
         file has only {file_len:#x} bytes. Rebuild it or copy it again.",
        path.display()
    )]
    SegmentPastEof {
        /// The file.
        path: PathBuf,
        /// Index of the segment among the program headers.
        index: usize,
        /// `p_offset`.
        offset: u64,
        /// `p_offset + p_filesz` (saturated).
        end: u64,
        /// Length of the file.
        file_len: u64,
    },
    /// `p_filesz > p_memsz`.
    #[error(
        "{} is malformed: loadable segment {index} has more file bytes ({filesz:#x}) than memory \
         bytes ({memsz:#x}). Rebuild it with a standard linker.",
        path.display()
    )]
    FileszExceedsMemsz {
        /// The file.
        path: PathBuf,
        /// Index of the segment among the program headers.
        index: usize,
        /// `p_filesz`.
        filesz: u64,
        /// `p_memsz`.
        memsz: u64,
    },
    /// `p_offset % 4096 != p_vaddr % 4096`: the segment cannot be mapped page by page.
    #[error(
        "{} cannot be loaded: loadable segment {index} has file offset {offset:#x} and address \
         {vaddr:#x}, which differ modulo the 4096-byte page size. Relink it without a custom \
         `-z max-page-size`/`-N`/`-n` (the default layout is fine).",
        path.display()
    )]
    SegmentMisaligned {
        /// The file.
        path: PathBuf,
        /// Index of the segment among the program headers.
        index: usize,
        /// `p_offset`.
        offset: u64,
        /// `p_vaddr`.
        vaddr: u64,
    },
    /// Two `PT_LOAD`s overlap or share a page.
    #[error(
        "{} cannot be loaded: loadable segments {first} ({first_start:#x}..{first_end:#x}) and \
         {second} ({second_start:#x}..{second_end:#x}) overlap or share a 4096-byte page. Relink \
         it with the default linker layout (no `-N`/`-n`/custom linker script).",
        path.display()
    )]
    SegmentsOverlap {
        /// The file.
        path: PathBuf,
        /// Index of the lower segment.
        first: usize,
        /// Its first address.
        first_start: u64,
        /// One past its last address.
        first_end: u64,
        /// Index of the other segment.
        second: usize,
        /// Its first address.
        second_start: u64,
        /// One past its last address.
        second_end: u64,
    },
    /// A segment outside `USER_MIN_VA .. USER_END_VA` (for static-pie: after the load bias).
    #[error(
        "{} cannot be loaded: loadable segment {index} occupies {start:#x}..{end:#x}, outside the \
         app's address range {min:#x}..{max:#x} (uvm uses the addresses below {min:#x}). Link it \
         at the usual base (the default of gcc, musl-gcc, Rust and Go is 0x400000) or as \
         static-pie.",
        path.display()
    )]
    SegmentOutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the segment among the program headers.
        index: usize,
        /// Its first address as loaded.
        start: u64,
        /// One past its last address as loaded (saturated).
        end: u64,
        /// `uvm_abi::layout::USER_MIN_VA`.
        min: u64,
        /// `uvm_abi::layout::USER_END_VA`.
        max: u64,
    },
    /// The entry point is not inside an executable `PT_LOAD`.
    #[error(
        "{} cannot start: its entry point {entry:#x} is not inside an executable loadable \
         segment. Rebuild it; the ELF header or program headers are wrong.",
        path.display()
    )]
    EntryNotExecutable {
        /// The file.
        path: PathBuf,
        /// `e_entry`.
        entry: u64,
    },
    /// The ELF headers themselves are cut short or inconsistent.
    #[error(
        "{} is a damaged ELF file: {reason}. Rebuild it or copy it again.",
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Why an image cannot be built ([`crate::pack`]) or opened ([`crate::Image::open`]).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The app binary is not a program uvm can run.
    #[error(transparent)]
    Elf(#[from] ElfError),

    // ----- building -----
    /// A host file or directory to pack cannot be read.
    #[error(
        "cannot read {}: {source}. Check that it exists and is readable by you.",
        path.display()
    )]
    ReadInput {
        /// The host path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A host file changed size between listing and copying.
    #[error(
        "{} changed while it was being packed (it had {expected} bytes when listed). Run \
         `uvm build` again once nothing is writing to it; pseudo-files such as those in /proc \
         cannot be packed, copy them to a regular file first.",
        path.display()
    )]
    InputChanged {
        /// The host path.
        path: PathBuf,
        /// The size it had when the file table was built.
        expected: u64,
    },
    /// A host path is neither a regular file, a directory nor a symlink.
    #[error(
        "{} is a {kind}; an image can hold only regular files, directories and symlinks. Remove \
         it from the `files` list or from the directory being copied.",
        path.display()
    )]
    UnsupportedFileType {
        /// The host path.
        path: PathBuf,
        /// "socket", "FIFO", "block device", ...
        kind: &'static str,
    },
    /// A guest destination path is not an absolute, normal path.
    #[error(
        "the guest path {guest_path:?} (for {source_desc}) is invalid: {reason}. Use an absolute \
         path such as /etc/app.conf."
    )]
    BadGuestPath {
        /// The guest path as given.
        guest_path: String,
        /// Which source it is for.
        source_desc: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A path component cannot be stored in the file table.
    #[error(
        "the name {name:?} in the guest path of {source_desc} cannot be stored: {reason}. Rename \
         the file or change its guest path."
    )]
    BadName {
        /// The offending name (lossily decoded).
        name: String,
        /// Which source it comes from.
        source_desc: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two sources for one guest path.
    #[error(
        "two sources for the guest path {guest_path}: {first} and {second}. Remove one of them \
         from `files` or give them different guest paths."
    )]
    Conflict {
        /// The guest path.
        guest_path: String,
        /// What is already there.
        first: String,
        /// What wanted to go there too.
        second: String,
    },
    /// A file or symlink sits where a directory is needed.
    #[error(
        "{needed_for} (from {second}) needs {guest_path} to be a directory, but {first} puts a \
         non-directory there. Change one of the guest paths in `files`."
    )]
    NotADirectory {
        /// The guest path that must be a directory.
        guest_path: String,
        /// What is there.
        first: String,
        /// The guest path that needs it.
        needed_for: String,
        /// Which source needs it.
        second: String,
    },
    /// The image would exceed a limit of the format.
    #[error("cannot build {}: {reason}. Pack fewer or smaller files.", path.display())]
    TooLarge {
        /// The image being written.
        path: PathBuf,
        /// Which limit.
        reason: String,
    },
    /// The image file cannot be written.
    #[error(
        "cannot write the image {}: {source}. Check that its directory exists and is writable \
         and that the disk has room.",
        path.display()
    )]
    WriteImage {
        /// The image (or its temporary file).
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    // ----- opening -----
    /// The image file cannot be read.
    #[error(
        "cannot read the image {}: {source}. Check the path; build an image with `uvm build`.",
        path.display()
    )]
    ReadImage {
        /// The image.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Not a uvm image at all.
    #[error(
        "{} is not a uvm image (it does not start with \"UVMIMAGE\"). Build one with \
         `uvm build app.toml`.",
        path.display()
    )]
    NotAnImage {
        /// The file.
        path: PathBuf,
    },
    /// Shorter than its header says (or than a header).
    #[error(
        "{} is truncated: it has {actual} bytes but {expected}. It was cut short while being \
         copied or written; copy it again or rebuild it with `uvm build`.",
        path.display(),
        expected = match expected {
            Some(n) => format!("its header says {n}"),
            None => format!("an image has at least {}", uvm_abi::image::IMAGE_HEADER_SIZE),
        }
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length.
        actual: u64,
        /// The length its header records, when the header is readable.
        expected: Option<u64>,
    },
    /// Longer than its header says.
    #[error(
        "{} has {actual} bytes but its header says {expected}: something was appended to it. \
         Rebuild it with `uvm build`.",
        path.display()
    )]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Its length.
        actual: u64,
        /// The length its header records.
        expected: u64,
    },
    /// An image format version this uvm does not read.
    #[error(
        "{} uses image format version {found}, but this uvm reads versions {oldest} to {newest}. {fix}",
        path.display(),
        fix = if found > newest {
            "Run it with the newer uvm that built it, or rebuild it with this uvm's `uvm build`."
        } else {
            "Rebuild it with this uvm's `uvm build`."
        }
    )]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version it has.
        found: u32,
        /// `uvm_abi::image::OLDEST_READABLE_FORMAT_VERSION`.
        oldest: u32,
        /// `uvm_abi::image::IMAGE_FORMAT_VERSION`.
        newest: u32,
    },
    /// The XXH3 checksum does not match.
    #[error(
        "{} is corrupted: its checksum is {stored:016x} but its content hashes to {computed:016x}. \
         Copy it again or rebuild it with `uvm build`.",
        path.display()
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the content.
        computed: u64,
    },
    /// A header section is out of bounds, misaligned or overlaps another.
    #[error(
        "{} is damaged: its {section} section {reason}. Rebuild it with `uvm build`.",
        path.display()
    )]
    BadSection {
        /// The file.
        path: PathBuf,
        /// "file table", "owners" or "config".
        section: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The file table breaks an invariant.
    #[error(
        "{} has a damaged file table: {reason}. Rebuild it with `uvm build`.",
        path.display()
    )]
    BadFsTable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The owners section breaks an invariant.
    #[error(
        "{} has a damaged owners section: {reason}. Rebuild it with `uvm build`.",
        path.display()
    )]
    BadOwners {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The SHA-256 digest does not match.
    #[error(
        "{} is corrupted or was modified: its content does not match its digest {stored}. \
         Rebuild it with `uvm build`.",
        path.display()
    )]
    DigestMismatch {
        /// The file.
        path: PathBuf,
        /// The digest in the header, as `sha256:<hex>`.
        stored: String,
    },
    /// The config section is not UTF-8.
    #[error(
        "{} is damaged: its run configuration is not UTF-8 text. Rebuild it with `uvm build`.",
        path.display()
    )]
    ConfigNotUtf8 {
        /// The file.
        path: PathBuf,
    },
}
