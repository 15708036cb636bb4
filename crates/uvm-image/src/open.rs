//! The image reader: [`Image::open`] loads an image and checks everything the VMM relies on
//! before a boot; [`Image::verify_digest`] adds the full SHA-256 check for `uvm inspect`.
//!
//! `open` reads the file once into memory; [`Image::from_source`] takes the bytes from any
//! owner instead (the VMM passes a read-only memory map of the file, which it also maps into
//! the guest: no copy at all). Then it checks, in this order: header (magic, format version, size, section bounds and
//! alignment), XXH3 checksum, section overlap, the whole file table (see `table.rs`) and the
//! owners section (see `owners.rs`). Only the checksum touches every byte; it runs at memory
//! speed. A format-2 image (from before owners) opens too: every entry of it is root's.

use std::path::{Path, PathBuf};

use uvm_abi::image::{
    EntryKind, FsEntry, ImageHeader, LayoutError, OwnerRecord, Section, IMAGE_FORMAT_VERSION, IMAGE_MAGIC,
    OLDEST_READABLE_FORMAT_VERSION,
};

use crate::digest::{checksum_releasing, digest_hex, digest_of};
use crate::elf::{check_elf, ElfInfo};
use crate::error::ImageError;
use crate::owners::{self, Owner};
use crate::table::{self, Table};

/// Whatever holds an image's bytes (a `Vec`, or a memory map owned by the caller).
pub type ImageSource = Box<dyn AsRef<[u8]> + Send + Sync>;

/// An opened, checked image. Owns the file's bytes.
pub struct Image {
    path: PathBuf,
    source: ImageSource,
    header: ImageHeader,
}

impl Image {
    /// Reads and checks the image at `path` (everything but the SHA-256 digest).
    pub fn open(path: &Path) -> Result<Image, ImageError> {
        let bytes = std::fs::read(path).map_err(|source| ImageError::ReadImage { path: path.to_path_buf(), source })?;
        Image::from_bytes(path, bytes)
    }

    /// Checks an image already in memory; `path` names it in errors. Same checks as
    /// [`Image::open`].
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Image, ImageError> {
        Image::from_source(path, Box::new(bytes))
    }

    /// Checks an image whose bytes `source` holds; `path` names it in errors. Same checks as
    /// [`Image::open`].
    pub fn from_source(path: &Path, source: ImageSource) -> Result<Image, ImageError> {
        Image::from_source_releasing(path, source, &mut |_| {})
    }

    /// [`Image::from_source`], calling `hashed` with each range of the file once the checksum
    /// has read it: a caller holding the image as a mapping can drop those pages from its
    /// resident set as it goes (the checks after the checksum read only the header and tables).
    pub fn from_source_releasing(
        path: &Path,
        source: ImageSource,
        hashed: &mut dyn FnMut(std::ops::Range<usize>),
    ) -> Result<Image, ImageError> {
        Image::check(path, source, Some(hashed))
    }

    /// Every check of [`Image::from_source`] but the checksum, which reads every byte: for an
    /// image whose checksum a [`crate::VerifiedStamps`] stamp says passed as the file is now.
    pub fn from_source_vouched(path: &Path, source: ImageSource) -> Result<Image, ImageError> {
        Image::check(path, source, None)
    }

    /// The checksum the header of the image in `bytes` holds (`None`: too short to have one).
    pub fn stored_checksum(bytes: &[u8]) -> Option<u64> {
        let field = bytes.get(uvm_abi::image::CHECKSUM_OFFSET..uvm_abi::image::CHECKSUM_OFFSET + 8)?;
        Some(u64::from_le_bytes(field.try_into().ok()?))
    }

    /// The checks; the checksum only with `hashed` (its per-range hook).
    fn check(
        path: &Path,
        source: ImageSource,
        hashed: Option<&mut dyn FnMut(std::ops::Range<usize>)>,
    ) -> Result<Image, ImageError> {
        let bytes = (*source).as_ref();
        let path_buf = || path.to_path_buf();
        let len = bytes.len() as u64;
        // A file that does not even start like an image is "not an image", however short.
        let magic_len = bytes.len().min(IMAGE_MAGIC.len());
        if bytes[..magic_len] != IMAGE_MAGIC[..magic_len] || bytes.is_empty() {
            return Err(ImageError::NotAnImage { path: path_buf() });
        }
        let header = ImageHeader::parse(bytes).map_err(|e| match e {
            LayoutError::TooShort => {
                let recorded = bytes.get(16..24).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes);
                ImageError::Truncated { path: path_buf(), actual: len, expected: recorded }
            }
            LayoutError::BadMagic => ImageError::NotAnImage { path: path_buf() },
            LayoutError::FormatVersion(found) => ImageError::FormatVersion {
                path: path_buf(),
                found,
                oldest: OLDEST_READABLE_FORMAT_VERSION,
                newest: IMAGE_FORMAT_VERSION,
            },
            LayoutError::SizeMismatch { header, actual } if actual < header => {
                ImageError::Truncated { path: path_buf(), actual, expected: Some(header) }
            }
            LayoutError::SizeMismatch { header, actual } => {
                ImageError::SizeMismatch { path: path_buf(), actual, expected: header }
            }
            LayoutError::BadSection(section) => ImageError::BadSection {
                path: path_buf(),
                section,
                reason: match section {
                    "owners" => {
                        "lies outside the file or inside the header, is not 8-byte aligned, or is not whole \
                         16-byte records, at most one per entry"
                    }
                    _ => "lies outside the file, inside the header, or is not 8-byte aligned",
                },
            },
            LayoutError::BadFsTable(reason) => ImageError::BadFsTable { path: path_buf(), reason: reason.to_string() },
        })?;

        if let Some(hashed) = hashed {
            let computed = checksum_releasing(bytes, hashed);
            if computed != header.checksum {
                return Err(ImageError::ChecksumMismatch { path: path_buf(), stored: header.checksum, computed });
            }
        }
        if overlap(&header.fs_table, &header.config) {
            return Err(ImageError::BadSection {
                path: path_buf(),
                section: "config",
                reason: "overlaps the file table",
            });
        }
        if overlap(&header.owners, &header.fs_table) || overlap(&header.owners, &header.config) {
            return Err(ImageError::BadSection {
                path: path_buf(),
                section: "owners",
                reason: "overlaps the file table or the config",
            });
        }
        table::validate(bytes, &header).map_err(|reason| ImageError::BadFsTable { path: path_buf(), reason })?;
        owners::validate(bytes, &header).map_err(|reason| ImageError::BadOwners { path: path_buf(), reason })?;
        Ok(Image { path: path_buf(), source, header })
    }

    /// Checks the SHA-256 digest over the whole file (slower than the checksum; `uvm inspect`
    /// runs it).
    pub fn verify_digest(&self) -> Result<(), ImageError> {
        if digest_of(self.bytes()) == self.header.digest {
            Ok(())
        } else {
            Err(ImageError::DigestMismatch { path: self.path.clone(), stored: digest_hex(&self.header.digest) })
        }
    }

    /// The header.
    pub fn header(&self) -> &ImageHeader {
        &self.header
    }

    /// The run configuration.
    pub fn config_toml(&self) -> Result<&str, ImageError> {
        std::str::from_utf8(table::data_of(self.bytes(), &self.header.config))
            .map_err(|_| ImageError::ConfigNotUtf8 { path: self.path.clone() })
    }

    /// Every file-table entry with its absolute guest path, depth-first in name order (a
    /// directory before its contents, like `find`). The root is `/`.
    pub fn entries(&self) -> impl Iterator<Item = (String, FsEntry)> + '_ {
        self.indexed_entries().map(|(_, path, entry)| (path, entry))
    }

    /// [`Image::entries`] with each entry's index in the file table (for [`Image::owner`]).
    pub fn indexed_entries(&self) -> impl Iterator<Item = (u32, String, FsEntry)> + '_ {
        let table = self.table();
        let mut stack: Vec<(u32, String)> = vec![(0, String::new())];
        std::iter::from_fn(move || {
            let (index, parent_path) = stack.pop()?;
            let entry = table.entry(index)?;
            let path = if index == 0 {
                "/".to_string()
            } else {
                format!("{parent_path}/{}", String::from_utf8_lossy(table.name(&entry)))
            };
            if EntryKind::from_raw(entry.kind) == Some(EntryKind::Directory) {
                let base = if index == 0 { String::new() } else { path.clone() };
                let children = entry.first_child..entry.first_child.saturating_add(entry.child_count);
                stack.extend(children.rev().map(|child| (child, base.clone())));
            }
            Some((index, path, entry))
        })
    }

    /// The owner of entry `index`: its record in the owners section, root's (uid 0, gid 0)
    /// when it has none (every entry of an image without owners, such as a format-2 one).
    pub fn owner(&self, index: u32) -> Owner {
        let (uid, gid) = OwnerRecord::owner_of(self.owners_section(), index);
        Owner { uid, gid }
    }

    /// The entries that are not root's, with their owners, by index (the owners section's
    /// records, in order).
    pub fn owners(&self) -> impl Iterator<Item = (u32, Owner)> + '_ {
        let section = self.owners_section();
        (0..section.len() / uvm_abi::image::OWNER_RECORD_SIZE)
            .filter_map(|index| OwnerRecord::read(section, index))
            .map(|record| (record.entry, Owner { uid: record.uid, gid: record.gid }))
    }

    /// Looks up an absolute guest path (no symlinks followed): the entry's index and record.
    pub fn lookup(&self, guest_path: &str) -> Option<(u32, FsEntry)> {
        let table = self.table();
        let mut index = 0u32;
        let mut entry = table.entry(0)?;
        for name in guest_path.split('/').filter(|c| !c.is_empty()) {
            if EntryKind::from_raw(entry.kind) != Some(EntryKind::Directory) {
                return None;
            }
            // Binary search of the sorted children first_child .. first_child + child_count.
            let (mut low, mut high) = (entry.first_child, entry.first_child.checked_add(entry.child_count)?);
            loop {
                if low >= high {
                    return None;
                }
                let mid = low + (high - low) / 2;
                let candidate = table.entry(mid)?;
                match table.name(&candidate).cmp(name.as_bytes()) {
                    std::cmp::Ordering::Less => low = mid + 1,
                    std::cmp::Ordering::Greater => high = mid,
                    std::cmp::Ordering::Equal => {
                        index = mid;
                        entry = candidate;
                        break;
                    }
                }
            }
        }
        Some((index, entry))
    }

    /// The absolute guest path of entry `index` (the root is `/`).
    pub fn guest_path(&self, index: u32) -> Option<String> {
        let table = self.table();
        let mut names = Vec::new();
        let mut current = index;
        // The table is a validated tree, so the walk ends at the root within `count` steps.
        for _ in 0..table.count {
            if current == 0 {
                break;
            }
            let entry = table.entry(current)?;
            names.push(String::from_utf8_lossy(table.name(&entry)).into_owned());
            current = entry.parent;
        }
        if current != 0 {
            return None;
        }
        names.reverse();
        Some(format!("/{}", names.join("/")))
    }

    /// The name of `entry` (bytes; the root's is empty).
    pub fn name(&self, entry: &FsEntry) -> &[u8] {
        self.table().name(entry)
    }

    /// The data of a file or symlink entry: a file's content, a symlink's target.
    pub fn data(&self, entry: &FsEntry) -> &[u8] {
        table::data_of(self.bytes(), &entry.data)
    }

    /// The app's executable entry (`header().app_entry`).
    pub fn app_entry(&self) -> FsEntry {
        self.table().entry(self.header.app_entry).unwrap_or_default()
    }

    /// Runs the build-time ELF checks on the app binary inside the image. Errors name it as
    /// `<image>:<guest path>`.
    pub fn app_elf_info(&self) -> Result<ElfInfo, ImageError> {
        let app = self.app_entry();
        let guest_path =
            self.guest_path(self.header.app_entry).unwrap_or_else(|| format!("entry {}", self.header.app_entry));
        let name = PathBuf::from(format!("{}:{guest_path}", self.path.display()));
        Ok(check_elf(&name, self.data(&app))?)
    }

    /// The image file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image's size in bytes.
    #[allow(clippy::len_without_is_empty)] // An image is never empty.
    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// The whole image file.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }

    fn bytes(&self) -> &[u8] {
        (*self.source).as_ref()
    }

    fn owners_section(&self) -> &[u8] {
        table::data_of(self.bytes(), &self.header.owners)
    }

    fn table(&self) -> Table<'_> {
        // Validated in `from_bytes`, so this cannot fail; an empty table is a safe fallback.
        Table::new(self.bytes(), &self.header).unwrap_or(Table { records: &[], names: &[], count: 0 })
    }
}

impl std::fmt::Debug for Image {
    // Not derived: the bytes may be gigabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("path", &self.path)
            .field("len", &self.bytes().len())
            .field("header", &self.header)
            .finish()
    }
}

/// Whether two non-empty sections share a byte.
fn overlap(a: &Section, b: &Section) -> bool {
    match (a.end(), b.end()) {
        (Some(a_end), Some(b_end)) => a.size > 0 && b.size > 0 && a.offset < b_end && b.offset < a_end,
        _ => true,
    }
}
