//! uvm's image files: building them ([`pack`]), opening and checking them ([`Image`]), and
//! the build-time checks of the app binary ([`check_elf`]).
//!
//! The byte layout is defined in `uvm_abi::image` and described in `docs/image-format.md`.
//!
//! - `error`: [`ImageError`] and [`ElfError`], one variant per rejection.
//! - `elf`: is the app a static x86-64 executable the guest can load? ([`ElfInfo`])
//! - `tree`: the guest directory tree from the sources (and the [`DefaultFile`]s they leave
//!   room for), flattened into the file table.
//! - `pack`: the writer (layout, checksum and digest).
//! - `stage`: packing in two steps ([`stage`], [`Staged`]), to read what the image will hold
//!   and give `files` items their [`Owner`]s and modes before it is written.
//! - `owners`: the owners section ([`Owner`]): writing its records, checking them.
//! - `atomic`: writing a file atomically (images and stamps).
//! - `table`: validation of a file table read from disk.
//! - `open`: the reader ([`Image`]).
//! - `digest`: the checksum and digest rules, [`digest_hex`].
//! - `verified`: stamps of images whose checksum passed ([`VerifiedStamps`]).
#![forbid(unsafe_code)]

mod atomic;
mod digest;
mod elf;
mod error;
mod open;
mod owners;
mod pack;
mod stage;
mod table;
mod tree;
mod verified;

pub use digest::digest_hex;
pub use elf::{check_elf, check_elf_file, ElfInfo, ElfKind, SegmentInfo};
pub use error::{ElfError, ImageError};
pub use open::{Image, ImageSource};
pub use owners::Owner;
pub use pack::{pack, PackInput, PackOutput};
pub use stage::{stage, Staged, StagedData};
pub use tree::{DefaultFile, MAX_NAME_LEN};
pub use verified::{user_cache_dir, FileIdentity, VerifiedStamps, MAX_STAMPS, SETTLED};
