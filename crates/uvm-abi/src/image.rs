//! The image file format, as both the host (builder, VMM) and the guest kernel read it.
//!
//! ```text
//! offset 0            ImageHeader (padded to IMAGE_HEADER_SIZE)
//! fs_table.offset     FsEntry[entry_count], then the names blob
//! config.offset       the run configuration (UTF-8 TOML, read by the host only)
//! file data           each regular file's bytes, page-aligned so the guest can map them in place
//! ```
//! All integers are little-endian. The file table and the config follow the header directly
//! ([`SECTION_ALIGN`]), so a small image's header and file table share one page and the guest
//! reads both with one page touched; file data is page-aligned. An image carries no guest
//! kernel: `uvm run` boots its own, and `abi_version` says which kernel ABI the image was
//! built for. The header's `checksum` (XXH3-64 of the whole file with the checksum field
//! zeroed) catches damage; `digest` (SHA-256 of the whole file with both fields zeroed) names
//! the content.
//!
//! The file table lists every directory, regular file and symlink. Entry 0 is the root
//! directory (empty name, its own parent). The children of a directory are contiguous entries
//! `first_child .. first_child + child_count`, sorted by name (bytewise), so a lookup is a
//! binary search. Every entry belongs to root (uid 0, gid 0) but those the owners section
//! lists ([`OwnerRecord`]s, sorted by entry: a binary search too); an image whose entries are
//! all root's has none (`owners` is an empty section at offset 0).

/// `ImageHeader::magic`.
pub const IMAGE_MAGIC: [u8; 8] = *b"UVMIMAGE";
/// The version of this layout. Readers refuse other versions. Bump it on any change to the
/// layout, or to what the host or the guest kernel reads from an image: it alone says whether
/// a `uvm` can run an image (not [`crate::ABI_VERSION`]). (Version 1 carried the guest kernel
/// in a section of its own and page-aligned every section. Version 2 had no owners section:
/// its header's bytes from 104 on are zero, which reads as an empty one, so readers still take
/// it: [`OLDEST_READABLE_FORMAT_VERSION`].)
pub const IMAGE_FORMAT_VERSION: u32 = 3;
/// The oldest format version readers take (see [`IMAGE_FORMAT_VERSION`]).
pub const OLDEST_READABLE_FORMAT_VERSION: u32 = 2;
/// Bytes reserved for the header at the start of the file (the header, zero-padded); the
/// sections start at or after it.
pub const IMAGE_HEADER_SIZE: u64 = 128;
/// Alignment of the file-table and config sections.
pub const SECTION_ALIGN: u64 = 8;
/// Alignment of file data (a page: the guest maps files' pages in place).
pub const IMAGE_ALIGN: u64 = 4096;

/// A byte range of the image file.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// Offset from the start of the file.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Section {
    /// One past the last byte, or `None` on overflow.
    pub fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.size)
    }

    /// Whether the range lies inside a file of `total` bytes.
    pub fn fits_in(&self, total: u64) -> bool {
        matches!(self.end(), Some(end) if end <= total)
    }
}

/// The image header.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// [`IMAGE_MAGIC`].
    pub magic: [u8; 8],
    /// [`IMAGE_FORMAT_VERSION`].
    pub format_version: u32,
    /// The [`crate::ABI_VERSION`] of the `uvm` that built the image: information for
    /// `uvm inspect`, not checked (images carry no kernel; [`IMAGE_FORMAT_VERSION`] decides).
    pub abi_version: u32,
    /// Size of the whole file.
    pub total_size: u64,
    /// The file table: `entry_count` [`FsEntry`] records, then the names.
    pub fs_table: Section,
    /// The run configuration (TOML).
    pub config: Section,
    /// Number of [`FsEntry`] records.
    pub entry_count: u32,
    /// Index of the app's executable in the file table.
    pub app_entry: u32,
    /// XXH3-64 of the file with this field zeroed.
    pub checksum: u64,
    /// SHA-256 of the file with `checksum` and `digest` zeroed.
    pub digest: [u8; 32],
    /// The entries that do not belong to root: [`OwnerRecord`]s sorted by entry. Empty (and
    /// at offset 0) when every entry is root's.
    pub owners: Section,
}

/// Byte offset of [`ImageHeader::checksum`] in the file.
pub const CHECKSUM_OFFSET: usize = core::mem::offset_of!(ImageHeader, checksum);
/// Byte offset of [`ImageHeader::digest`] in the file.
pub const DIGEST_OFFSET: usize = core::mem::offset_of!(ImageHeader, digest);

/// What is wrong with an image's header or file table (host and guest report it their way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// Shorter than a header.
    TooShort,
    /// The magic is not [`IMAGE_MAGIC`].
    BadMagic,
    /// Another [`IMAGE_FORMAT_VERSION`].
    FormatVersion(u32),
    /// `total_size` differs from the file's length.
    SizeMismatch {
        /// What the header says.
        header: u64,
        /// What the file has.
        actual: u64,
    },
    /// A section runs past the end of the file, into the header, or is misaligned.
    BadSection(&'static str),
    /// The file table is inconsistent (the text says how).
    BadFsTable(&'static str),
}

impl ImageHeader {
    /// Reads the header from the start of an image and checks what can be checked without
    /// hashing: magic, format version, total size, section bounds and alignment.
    pub fn parse(bytes: &[u8]) -> Result<ImageHeader, LayoutError> {
        if bytes.len() < core::mem::size_of::<ImageHeader>() || (bytes.len() as u64) < IMAGE_HEADER_SIZE {
            return Err(LayoutError::TooShort);
        }
        let header = ImageHeader {
            magic: read_array(bytes, 0),
            format_version: read_u32(bytes, 8),
            abi_version: read_u32(bytes, 12),
            total_size: read_u64(bytes, 16),
            fs_table: read_section(bytes, 24),
            config: read_section(bytes, 40),
            entry_count: read_u32(bytes, 56),
            app_entry: read_u32(bytes, 60),
            checksum: read_u64(bytes, 64),
            digest: read_array(bytes, 72),
            owners: read_section(bytes, 104),
        };
        if header.magic != IMAGE_MAGIC {
            return Err(LayoutError::BadMagic);
        }
        if !(OLDEST_READABLE_FORMAT_VERSION..=IMAGE_FORMAT_VERSION).contains(&header.format_version) {
            return Err(LayoutError::FormatVersion(header.format_version));
        }
        if header.total_size != bytes.len() as u64 {
            return Err(LayoutError::SizeMismatch { header: header.total_size, actual: bytes.len() as u64 });
        }
        for (name, section) in [("file table", header.fs_table), ("config", header.config)] {
            if section.offset < IMAGE_HEADER_SIZE
                || section.offset % SECTION_ALIGN != 0
                || !section.fits_in(header.total_size)
            {
                return Err(LayoutError::BadSection(name));
            }
        }
        let entries_size = (header.entry_count as u64).checked_mul(FS_ENTRY_SIZE as u64);
        if !matches!(entries_size, Some(size) if size <= header.fs_table.size) || header.entry_count == 0 {
            return Err(LayoutError::BadFsTable("the entry count does not fit the file table"));
        }
        if header.app_entry >= header.entry_count {
            return Err(LayoutError::BadFsTable("the app entry is out of range"));
        }
        let owners = header.owners;
        let no_owners = owners == Section::default();
        if !no_owners
            && (owners.size == 0
                || owners.offset < IMAGE_HEADER_SIZE
                || !owners.offset.is_multiple_of(SECTION_ALIGN)
                || !owners.size.is_multiple_of(OWNER_RECORD_SIZE as u64)
                || !owners.fits_in(header.total_size))
        {
            return Err(LayoutError::BadSection("owners"));
        }
        if owners.size / OWNER_RECORD_SIZE as u64 > u64::from(header.entry_count) {
            return Err(LayoutError::BadSection("owners"));
        }
        Ok(header)
    }

    /// Serialises the header into the first bytes of `out` (at least 120 bytes).
    pub fn write_to(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.magic);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..16].copy_from_slice(&self.abi_version.to_le_bytes());
        out[16..24].copy_from_slice(&self.total_size.to_le_bytes());
        write_section(out, 24, self.fs_table);
        write_section(out, 40, self.config);
        out[56..60].copy_from_slice(&self.entry_count.to_le_bytes());
        out[60..64].copy_from_slice(&self.app_entry.to_le_bytes());
        out[64..72].copy_from_slice(&self.checksum.to_le_bytes());
        out[72..104].copy_from_slice(&self.digest);
        write_section(out, 104, self.owners);
    }
}

/// One record of the owners section: an entry that does not belong to root.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnerRecord {
    /// Index of the entry in the file table. Records are sorted by it, each entry at most once.
    pub entry: u32,
    /// Its owner's user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Size of one [`OwnerRecord`] in the file.
pub const OWNER_RECORD_SIZE: usize = core::mem::size_of::<OwnerRecord>();

impl OwnerRecord {
    /// Reads record `index` from an owners section's bytes. `None` if out of range.
    pub fn read(section: &[u8], index: usize) -> Option<OwnerRecord> {
        let start = index.checked_mul(OWNER_RECORD_SIZE)?;
        let b = section.get(start..start.checked_add(OWNER_RECORD_SIZE)?)?;
        Some(OwnerRecord { entry: read_u32(b, 0), uid: read_u32(b, 4), gid: read_u32(b, 8), reserved: read_u32(b, 12) })
    }

    /// Serialises this record into `out` (exactly [`OWNER_RECORD_SIZE`] bytes).
    pub fn write_to(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.entry.to_le_bytes());
        out[4..8].copy_from_slice(&self.uid.to_le_bytes());
        out[8..12].copy_from_slice(&self.gid.to_le_bytes());
        out[12..16].copy_from_slice(&self.reserved.to_le_bytes());
    }

    /// The uid and gid of entry `entry` by an owners section's bytes (sorted records): root's
    /// (0, 0) when no record names it. A section that is not sorted gives some record's ids or
    /// root's, never a panic.
    pub fn owner_of(section: &[u8], entry: u32) -> (u32, u32) {
        let (mut low, mut high) = (0, section.len() / OWNER_RECORD_SIZE);
        while low < high {
            let middle = low + (high - low) / 2;
            let Some(record) = OwnerRecord::read(section, middle) else { break };
            match record.entry.cmp(&entry) {
                core::cmp::Ordering::Less => low = middle + 1,
                core::cmp::Ordering::Greater => high = middle,
                core::cmp::Ordering::Equal => return (record.uid, record.gid),
            }
        }
        (0, 0)
    }
}

/// Kinds of [`FsEntry`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Directory = 1,
    /// A regular file; `data` is its content.
    File = 2,
    /// A symbolic link; `data` is the target path.
    Symlink = 3,
}

impl EntryKind {
    /// Decodes [`FsEntry::kind`].
    pub fn from_raw(raw: u8) -> Option<EntryKind> {
        match raw {
            1 => Some(EntryKind::Directory),
            2 => Some(EntryKind::File),
            3 => Some(EntryKind::Symlink),
            _ => None,
        }
    }
}

/// One file-table record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsEntry {
    /// Index of the parent directory (the root is its own parent).
    pub parent: u32,
    /// An [`EntryKind`] value.
    pub kind: u8,
    /// Reserved, zero.
    pub reserved: u8,
    /// Permission bits (`0o7777` at most).
    pub mode: u16,
    /// Offset of the name in the names blob (which follows the entries).
    pub name_offset: u32,
    /// Length of the name in bytes (no NUL).
    pub name_len: u32,
    /// Directories: index of the first child. Others: zero.
    pub first_child: u32,
    /// Directories: number of children. Others: zero.
    pub child_count: u32,
    /// Files and symlinks: where the bytes are in the image file.
    pub data: Section,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

/// Size of one [`FsEntry`] record in the file.
pub const FS_ENTRY_SIZE: usize = core::mem::size_of::<FsEntry>();

impl FsEntry {
    /// Reads record `index` from a file table section's bytes. `None` if out of range.
    pub fn read(table: &[u8], index: u32) -> Option<FsEntry> {
        let start = (index as usize).checked_mul(FS_ENTRY_SIZE)?;
        let b = table.get(start..start.checked_add(FS_ENTRY_SIZE)?)?;
        Some(FsEntry {
            parent: read_u32(b, 0),
            kind: b[4],
            reserved: b[5],
            mode: u16::from_le_bytes([b[6], b[7]]),
            name_offset: read_u32(b, 8),
            name_len: read_u32(b, 12),
            first_child: read_u32(b, 16),
            child_count: read_u32(b, 20),
            data: read_section(b, 24),
            mtime: read_u64(b, 40) as i64,
        })
    }

    /// Serialises this record into `out` (exactly [`FS_ENTRY_SIZE`] bytes).
    pub fn write_to(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.parent.to_le_bytes());
        out[4] = self.kind;
        out[5] = self.reserved;
        out[6..8].copy_from_slice(&self.mode.to_le_bytes());
        out[8..12].copy_from_slice(&self.name_offset.to_le_bytes());
        out[12..16].copy_from_slice(&self.name_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.first_child.to_le_bytes());
        out[20..24].copy_from_slice(&self.child_count.to_le_bytes());
        write_section(out, 24, self.data);
        out[40..48].copy_from_slice(&self.mtime.to_le_bytes());
    }
}

fn read_array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(read_array(b, at))
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(read_array(b, at))
}

fn read_section(b: &[u8], at: usize) -> Section {
    Section { offset: read_u64(b, at), size: read_u64(b, at + 8) }
}

fn write_section(out: &mut [u8], at: usize, s: Section) {
    out[at..at + 8].copy_from_slice(&s.offset.to_le_bytes());
    out[at + 8..at + 16].copy_from_slice(&s.size.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_header() -> ImageHeader {
        ImageHeader {
            magic: IMAGE_MAGIC,
            format_version: IMAGE_FORMAT_VERSION,
            abi_version: crate::ABI_VERSION,
            total_size: 4 * IMAGE_ALIGN,
            fs_table: Section { offset: IMAGE_HEADER_SIZE, size: FS_ENTRY_SIZE as u64 + 3 },
            config: Section { offset: IMAGE_HEADER_SIZE + FS_ENTRY_SIZE as u64 + 8, size: 10 },
            entry_count: 1,
            app_entry: 0,
            checksum: 0x1234,
            digest: [7; 32],
            owners: Section::default(),
        }
    }

    #[test]
    fn header_layout_matches_the_serialiser() {
        assert_eq!(core::mem::size_of::<ImageHeader>(), 120);
        assert!(core::mem::size_of::<ImageHeader>() as u64 <= IMAGE_HEADER_SIZE);
        assert_eq!(CHECKSUM_OFFSET, 64);
        assert_eq!(DIGEST_OFFSET, 72);
        assert_eq!(FS_ENTRY_SIZE, 48);
        assert_eq!(OWNER_RECORD_SIZE, 16);
    }

    #[test]
    fn owners_are_found_by_binary_search_and_default_to_root() {
        let records = [(2, 1000, 1000), (5, 33, 33), (9, 0, 50)];
        let mut section = [0u8; 3 * OWNER_RECORD_SIZE];
        for (i, &(entry, uid, gid)) in records.iter().enumerate() {
            let record = OwnerRecord { entry, uid, gid, reserved: 0 };
            record.write_to(&mut section[i * OWNER_RECORD_SIZE..(i + 1) * OWNER_RECORD_SIZE]);
            assert_eq!(OwnerRecord::read(&section, i), Some(record));
        }
        assert_eq!(OwnerRecord::owner_of(&section, 2), (1000, 1000));
        assert_eq!(OwnerRecord::owner_of(&section, 5), (33, 33));
        assert_eq!(OwnerRecord::owner_of(&section, 9), (0, 50));
        for unlisted in [0, 1, 3, 6, 10, u32::MAX] {
            assert_eq!(OwnerRecord::owner_of(&section, unlisted), (0, 0));
        }
        assert_eq!(OwnerRecord::owner_of(&[], 2), (0, 0));
        assert_eq!(OwnerRecord::owner_of(&section[..20], 5), (0, 0), "a cut record is not read");
    }

    #[test]
    fn an_owners_section_is_checked_and_version_2_reads_as_none() {
        let mut header = sample_header();
        let mut file = [0u8; 4 * 4096];
        header.owners = Section { offset: 2 * IMAGE_ALIGN, size: OWNER_RECORD_SIZE as u64 };
        header.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file), Ok(header));
        for (bad, why) in [
            (Section { offset: 2 * IMAGE_ALIGN, size: 10 }, "not whole records"),
            (Section { offset: 8, size: 16 }, "in the header"),
            (Section { offset: 4 * IMAGE_ALIGN, size: 16 }, "past the end"),
            (Section { offset: 2 * IMAGE_ALIGN + 4, size: 16 }, "misaligned"),
            (Section { offset: 2 * IMAGE_ALIGN, size: 0 }, "empty but not at 0"),
            (Section { offset: 2 * IMAGE_ALIGN, size: 32 }, "more records than entries"),
        ] {
            let mut file = file;
            ImageHeader { owners: bad, ..header }.write_to(&mut file);
            assert_eq!(ImageHeader::parse(&file), Err(LayoutError::BadSection("owners")), "{why}");
        }
        let mut old = file;
        ImageHeader { format_version: 2, owners: Section::default(), ..header }.write_to(&mut old);
        assert_eq!(ImageHeader::parse(&old).map(|h| h.owners), Ok(Section::default()));
    }

    #[test]
    fn header_round_trips() {
        let header = sample_header();
        let mut file = [0u8; 4 * 4096];
        header.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file), Ok(header));
    }

    #[test]
    fn header_rejections() {
        let header = sample_header();
        let mut file = [0u8; 4 * 4096];
        header.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file[..100]), Err(LayoutError::TooShort));
        assert!(matches!(ImageHeader::parse(&file[..3 * 4096]), Err(LayoutError::SizeMismatch { .. })));
        let mut bad = file;
        bad[0] = b'X';
        assert_eq!(ImageHeader::parse(&bad), Err(LayoutError::BadMagic));
        let mut bad = header;
        bad.format_version = 9;
        bad.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file), Err(LayoutError::FormatVersion(9)));
        let mut bad = header;
        bad.config.size = 5 * 4096;
        bad.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file), Err(LayoutError::BadSection("config")));
        let mut bad = header;
        bad.fs_table.offset = 64;
        bad.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file), Err(LayoutError::BadSection("file table")), "inside the header");
        let mut bad = header;
        bad.config.offset += 4;
        bad.write_to(&mut file);
        assert_eq!(ImageHeader::parse(&file), Err(LayoutError::BadSection("config")), "misaligned");
        let mut bad = header;
        bad.app_entry = 1;
        bad.write_to(&mut file);
        assert!(matches!(ImageHeader::parse(&file), Err(LayoutError::BadFsTable(_))));
    }

    #[test]
    fn fs_entry_round_trips() {
        let entry = FsEntry {
            parent: 3,
            kind: EntryKind::File as u8,
            reserved: 0,
            mode: 0o755,
            name_offset: 12,
            name_len: 5,
            first_child: 0,
            child_count: 0,
            data: Section { offset: 8192, size: 77 },
            mtime: -5,
        };
        let mut table = [0u8; 2 * FS_ENTRY_SIZE];
        entry.write_to(&mut table[FS_ENTRY_SIZE..]);
        assert_eq!(FsEntry::read(&table, 1), Some(entry));
        assert_eq!(FsEntry::read(&table, 2), None);
        assert_eq!(EntryKind::from_raw(entry.kind), Some(EntryKind::File));
    }
}
