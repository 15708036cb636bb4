//! The image writer: [`pack`] checks the app binary, builds the file table, lays the sections
//! out and writes the image atomically ([`crate::stage`] does the same in two steps, with
//! owners and modes).
//!
//! Layout (gaps zero-filled): the header, the file table (entries, then names, then symlink
//! targets) right after it, the owners section right after that when some entry is not root's
//! (otherwise none: offset 0, size 0), the config right after that (each at a multiple of
//! [`SECTION_ALIGN`]), then each regular file's bytes in entry order, each at a multiple of
//! [`IMAGE_ALIGN`]. The file length is padded to a multiple of [`IMAGE_ALIGN`]. No guest kernel:
//! `uvm run` brings its own. An app with 2 MiB chunks of read-only segments
//! ([`crate::ElfInfo::large_page_residue`]) starts at the offset that lets the guest map each
//! with one 2 MiB page; the gap before it (under 2 MiB) is a hole in the file.
//!
//! The image is written to a temporary file beside the destination and renamed over it only
//! when complete, so a reader never sees a partial image. Output depends only on the inputs'
//! content, names, modes and mtimes: no time, user or host name of the build is recorded.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use uvm_abi::image::{
    ImageHeader, Section, CHECKSUM_OFFSET, DIGEST_OFFSET, FS_ENTRY_SIZE, IMAGE_ALIGN, IMAGE_FORMAT_VERSION,
    IMAGE_HEADER_SIZE, IMAGE_MAGIC, SECTION_ALIGN,
};
use uvm_abi::layout::{align_up, IMAGE_MAX_SIZE, LARGE_PAGE_SIZE};
use xxhash_rust::xxh3::Xxh3;

use crate::atomic::write_atomically;
use crate::error::ImageError;
use crate::owners;
use crate::tree::{Content, DefaultFile, FlatData, FlatTable};

/// What goes into an image.
#[derive(Clone, Copy, Debug)]
pub struct PackInput<'a> {
    /// The app's executable on the host; checked with [`crate::check_elf`] before packing.
    pub app_binary: &'a Path,
    /// Where the app lives in the guest, e.g. `/bin/hello`.
    pub app_guest_path: &'a str,
    /// Further files: (host file or directory, absolute guest path). Directories are copied
    /// recursively. Their entries are root's unless [`crate::Staged::set_owner`] gives them
    /// another owner, and keep the host's modes unless [`crate::Staged::set_mode`] sets one.
    pub files: &'a [(PathBuf, String)],
    /// Files added only where `app_binary` and `files` leave room (see [`DefaultFile`]): a
    /// source at the same path wins, and a file or symlink where one of its directories would go
    /// leaves it out.
    pub defaults: &'a [DefaultFile<'a>],
    /// The run configuration, stored verbatim.
    pub config_toml: &'a str,
}

/// What [`pack`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackOutput {
    /// The image file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 digest (see [`crate::digest_hex`]).
    pub digest: [u8; 32],
}

/// Builds the image described by `input` at `out_path` (replacing any file there), every entry
/// root's with the host's mode: [`crate::stage`], then [`crate::Staged::write`].
///
/// Fails before writing anything if the app binary is not a static x86-64 executable, if a
/// source cannot be read, or if the sources conflict; see [`ImageError`].
pub fn pack(input: &PackInput, out_path: &Path) -> Result<PackOutput, ImageError> {
    crate::stage(input)?.write(out_path)
}

/// Lays out and writes the image of the flattened table `flat` (from `input`, whose app has
/// the [`crate::ElfInfo::large_page_residue`] given) at `out_path`.
pub(crate) fn write_image(
    flat: FlatTable,
    input: &PackInput,
    large_page_residue: Option<u64>,
    out_path: &Path,
) -> Result<PackOutput, ImageError> {
    let layout = Layout::compute(flat, input, large_page_residue, out_path)?;
    let total_size = layout.header.total_size;
    let write_err = |path: &Path, source| ImageError::WriteImage { path: path.to_path_buf(), source };
    let digest = write_atomically(out_path, write_err, |file, tmp_path| layout.write(file, tmp_path, input))?;
    Ok(PackOutput { path: out_path.to_path_buf(), size: total_size, digest })
}

/// Where everything goes.
struct Layout {
    /// The header with `checksum` and `digest` zero.
    header: ImageHeader,
    /// The file-table section's bytes: entries, names, symlink targets.
    table: Vec<u8>,
    /// The owners section's bytes (empty when every entry is root's).
    owners: Vec<u8>,
    /// Regular files' data in file order: (where, what).
    files: Vec<(Section, Content)>,
}

impl Layout {
    fn compute(
        flat: FlatTable,
        input: &PackInput,
        large_page_residue: Option<u64>,
        out_path: &Path,
    ) -> Result<Layout, ImageError> {
        let too_large = |reason: String| ImageError::TooLarge { path: out_path.to_path_buf(), reason };
        let overflow = || too_large(format!("it would exceed the format's limit of {IMAGE_MAX_SIZE} bytes"));
        let FlatTable { mut entries, app_entry } = flat;
        let entry_count = u32::try_from(entries.len())
            .map_err(|_| too_large(format!("it would hold {} files, more than 2^32", entries.len())))?;

        // Names first, then symlink targets, in entry order.
        let mut blob = Vec::new();
        for flat in &mut entries {
            flat.entry.name_offset = blob_offset(blob.len()).map_err(&too_large)?;
            flat.entry.name_len = flat.name.len() as u32;
            blob.extend_from_slice(&flat.name);
        }
        let mut symlink_targets = Vec::new();
        for (index, flat) in entries.iter().enumerate() {
            if let FlatData::Symlink(target) = &flat.data {
                symlink_targets.push((index, blob.len() as u64, target.len() as u64));
                blob.extend_from_slice(target);
            }
        }
        blob_offset(blob.len()).map_err(&too_large)?;

        let entries_size = entries.len() as u64 * FS_ENTRY_SIZE as u64;
        let fs_table = Section { offset: IMAGE_HEADER_SIZE, size: entries_size + blob.len() as u64 };
        let owner_records = owners::encode(entries.iter().map(|flat| flat.owner));
        let owners = match owner_records.len() as u64 {
            0 => Section::default(),
            size => Section { offset: next_offset(fs_table, SECTION_ALIGN).ok_or_else(overflow)?, size },
        };
        let before_config = if owner_records.is_empty() { fs_table } else { owners };
        let config = Section {
            offset: next_offset(before_config, SECTION_ALIGN).ok_or_else(overflow)?,
            size: input.config_toml.len() as u64,
        };
        for (index, blob_at, size) in symlink_targets {
            entries[index].entry.data = Section { offset: fs_table.offset + entries_size + blob_at, size };
        }
        let mut cursor = next_offset(config, IMAGE_ALIGN).ok_or_else(overflow)?;
        let mut files = Vec::new();
        for (index, flat) in entries.iter_mut().enumerate() {
            if let FlatData::File { content, size } = &flat.data {
                if index == app_entry {
                    if let Some(residue) = large_page_residue {
                        let gap = residue.wrapping_sub(cursor) % LARGE_PAGE_SIZE;
                        cursor = cursor.checked_add(gap).ok_or_else(overflow)?;
                    }
                }
                let data = Section { offset: cursor, size: *size };
                flat.entry.data = data;
                cursor = next_offset(data, IMAGE_ALIGN).ok_or_else(overflow)?;
                files.push((data, content.clone()));
            }
        }
        if cursor > IMAGE_MAX_SIZE {
            return Err(overflow());
        }

        let mut table = vec![0u8; entries.len() * FS_ENTRY_SIZE];
        for (flat, record) in entries.iter().zip(table.chunks_exact_mut(FS_ENTRY_SIZE)) {
            flat.entry.write_to(record);
        }
        table.extend_from_slice(&blob);

        let header = ImageHeader {
            magic: IMAGE_MAGIC,
            format_version: IMAGE_FORMAT_VERSION,
            abi_version: uvm_abi::ABI_VERSION,
            total_size: cursor,
            fs_table,
            config,
            entry_count,
            // `app_entry < entries.len()`, which fits in u32 (checked above).
            app_entry: app_entry as u32,
            checksum: 0,
            digest: [0; 32],
            owners,
        };
        Ok(Layout { header, table, owners: owner_records, files })
    }

    /// Writes the image into `file` (empty, open for reading and writing) and returns its
    /// digest. `path` names the file in errors.
    fn write(&self, file: File, path: &Path, input: &PackInput) -> Result<[u8; 32], ImageError> {
        let write_err = |source| ImageError::WriteImage { path: path.to_path_buf(), source };
        // Pass 1: everything, with checksum and digest zero, hashed into the digest on the way.
        let mut out = HashingWriter { inner: BufWriter::with_capacity(1 << 20, file), sha: Sha256::new(), pos: 0 };
        let mut header = [0u8; IMAGE_HEADER_SIZE as usize];
        self.header.write_to(&mut header);
        out.write_all(&header).map_err(write_err)?;
        let h = &self.header;
        let sections =
            [(h.fs_table, &self.table[..]), (h.owners, &self.owners[..]), (h.config, input.config_toml.as_bytes())];
        for (section, bytes) in sections.into_iter().filter(|(_, bytes)| !bytes.is_empty()) {
            out.pad_to(section.offset).map_err(write_err)?;
            out.write_all(bytes).map_err(write_err)?;
        }
        for (section, content) in &self.files {
            out.pad_to(section.offset).map_err(write_err)?;
            match content {
                Content::Memory(bytes) => out.write_all(bytes).map_err(write_err)?,
                Content::Host(host) => copy_host_file(host, section.size, &mut out, path)?,
            }
        }
        out.pad_to(h.total_size).map_err(write_err)?;
        debug_assert_eq!(out.pos, h.total_size);
        let digest: [u8; 32] = out.sha.finalize().into();
        let mut file = out.inner.into_inner().map_err(|e| write_err(e.into_error()))?;
        // (A hole at the very end would not make the file longer by itself.)
        file.set_len(h.total_size).map_err(write_err)?;

        // The digest goes in; then pass 2 reads the file back for the checksum, which covers
        // the digest (the checksum field is still zero on disk).
        file.seek(SeekFrom::Start(DIGEST_OFFSET as u64)).map_err(write_err)?;
        file.write_all(&digest).map_err(write_err)?;
        file.seek(SeekFrom::Start(0)).map_err(write_err)?;
        let mut xxh = Xxh3::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(write_err)?;
            if n == 0 {
                break;
            }
            xxh.update(&buf[..n]);
        }
        file.seek(SeekFrom::Start(CHECKSUM_OFFSET as u64)).map_err(write_err)?;
        file.write_all(&xxh.digest().to_le_bytes()).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        Ok(digest)
    }
}

/// `len` as a names-blob offset (`u32`), or why not.
fn blob_offset(len: usize) -> Result<u32, String> {
    u32::try_from(len).map_err(|_| "its names and symlink targets would exceed 4 GiB".to_string())
}

/// The first offset after `section` that is a multiple of `align`.
fn next_offset(section: Section, align: u64) -> Option<u64> {
    align_up(section.end()?, align)
}

/// Copies exactly `size` bytes of the host file `host` into `out`; the file must still have
/// exactly that many bytes.
fn copy_host_file(host: &Path, size: u64, out: &mut impl Write, image: &Path) -> Result<(), ImageError> {
    let read_err = |source| ImageError::ReadInput { path: host.to_path_buf(), source };
    let changed = || ImageError::InputChanged { path: host.to_path_buf(), expected: size };
    let mut file = File::open(host).map_err(read_err)?;
    let mut buf = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX).saturating_add(1).min(1 << 20)];
    let mut left = size;
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        if n == 0 {
            break;
        }
        let n = n as u64;
        if n > left {
            return Err(changed());
        }
        out.write_all(&buf[..n as usize])
            .map_err(|source| ImageError::WriteImage { path: image.to_path_buf(), source })?;
        left -= n;
    }
    if left != 0 {
        return Err(changed());
    }
    Ok(())
}

/// A writer that hashes what it writes and counts it.
struct HashingWriter<W: Write> {
    inner: W,
    sha: Sha256,
    pos: u64,
}

impl<W: Write + Seek> HashingWriter<W> {
    /// Zeroes up to offset `to`: written when short, else a hole the file system need not
    /// store (the app's 2 MiB alignment leaves up to 2 MiB). Either reads back as zeroes, and
    /// the digest covers them. Something must be written after a hole, or the file ends there.
    fn pad_to(&mut self, to: u64) -> io::Result<()> {
        const ZEROES: [u8; 4096] = [0; 4096];
        const HOLE_FROM: u64 = 64 * 1024;
        if to > self.pos && to - self.pos >= HOLE_FROM {
            let start = self.pos.next_multiple_of(ZEROES.len() as u64).min(to);
            while self.pos < start {
                let n = (start - self.pos) as usize;
                self.write_all(&ZEROES[..n])?;
            }
            while self.pos < to {
                let n = (to - self.pos).min(ZEROES.len() as u64) as usize;
                self.sha.update(&ZEROES[..n]);
                self.pos += n as u64;
            }
            self.inner.seek(SeekFrom::Start(to))?;
            return Ok(());
        }
        while self.pos < to {
            let n = (to - self.pos).min(ZEROES.len() as u64) as usize;
            self.write_all(&ZEROES[..n])?;
        }
        Ok(())
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
