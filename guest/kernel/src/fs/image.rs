//! [`ImageFs`]: the read-only file tree stored in the image (the root file system).
//!
//! The image file is mapped read-only into the VM; this module reads its header and file
//! table (see `uvm_abi::image`) in place. Nothing is copied into RAM: a lookup is a binary
//! search over a directory's sorted children, a read is a copy out of the image bytes, and
//! [`ImageFs::file_extent`] lets the memory manager map a file's (page-aligned) data
//! directly. The host validated the image before boot, but every index, offset and length is
//! still bounds-checked here: a bad table is `EIO`, never a panic.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::ops::Range;

use uvm_abi::image::{EntryKind, FsEntry, ImageHeader, OwnerRecord, FS_ENTRY_SIZE};

use crate::errno::Errno;
use crate::fs::stat::{blocks_for_size, FileType, Stat, Timespec, BLOCK_SIZE, DEV_IMAGE, PERMISSION_BITS};

/// Index of the root directory in the file table.
pub const ROOT_ENTRY: u32 = 0;

/// The image's file tree.
pub struct ImageFs {
    image: &'static [u8],
    entries: &'static [u8],
    names: &'static [u8],
    entry_count: u32,
    app_entry: u32,
    /// The owners section: the entries that are not root's (`OwnerRecord`s).
    owners: &'static [u8],
}

impl ImageFs {
    /// `len` bytes of the image file at `offset` (a file's extent: [`ImageFs::file_extent`]).
    pub fn bytes(&self, offset: u64, len: u64) -> Option<&'static [u8]> {
        let start = usize::try_from(offset).ok()?;
        self.image.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }

    /// Reads the header and locates the file table of `image` (the whole image file).
    /// `EIO` if the header or the root entry is malformed.
    pub fn new(image: &'static [u8]) -> Result<ImageFs, Errno> {
        let header = ImageHeader::parse(image).map_err(|_| Errno::EIO)?;
        let table_start = usize::try_from(header.fs_table.offset).map_err(|_| Errno::EIO)?;
        let table_end = usize::try_from(header.fs_table.end().ok_or(Errno::EIO)?).map_err(|_| Errno::EIO)?;
        let table = image.get(table_start..table_end).ok_or(Errno::EIO)?;
        let entries_len = (header.entry_count as usize).checked_mul(FS_ENTRY_SIZE).ok_or(Errno::EIO)?;
        if entries_len > table.len() {
            return Err(Errno::EIO);
        }
        let (entries, names) = table.split_at(entries_len);
        let owners =
            image.get(header.owners.offset as usize..).and_then(|rest| rest.get(..header.owners.size as usize));
        let (entry_count, app_entry) = (header.entry_count, header.app_entry);
        let fs = ImageFs { image, entries, names, entry_count, app_entry, owners: owners.ok_or(Errno::EIO)? };
        if fs.kind(ROOT_ENTRY)? != EntryKind::Directory {
            return Err(Errno::EIO);
        }
        Ok(fs)
    }

    /// Number of entries in the file table.
    pub fn entry_count(&self) -> u32 {
        self.entry_count
    }

    /// The entry of the app's executable, as the header records it.
    pub fn app_entry(&self) -> u32 {
        self.app_entry
    }

    /// Record `index` of the file table: `EIO` if out of range.
    pub fn entry(&self, index: u32) -> Result<FsEntry, Errno> {
        if index >= self.entry_count {
            return Err(Errno::EIO);
        }
        FsEntry::read(self.entries, index).ok_or(Errno::EIO)
    }

    /// The kind of entry `index`: `EIO` if the record says something unknown.
    pub fn kind(&self, index: u32) -> Result<EntryKind, Errno> {
        EntryKind::from_raw(self.entry(index)?.kind).ok_or(Errno::EIO)
    }

    /// The file type of entry `index`.
    pub fn file_type(&self, index: u32) -> Result<FileType, Errno> {
        Ok(match self.kind(index)? {
            EntryKind::Directory => FileType::Directory,
            EntryKind::File => FileType::Regular,
            EntryKind::Symlink => FileType::Symlink,
        })
    }

    /// The name of entry `index` (empty for the root).
    pub fn name(&self, index: u32) -> Result<&'static [u8], Errno> {
        self.entry_name(&self.entry(index)?)
    }

    /// The parent directory of entry `index` (the root is its own parent).
    pub fn parent(&self, index: u32) -> Result<u32, Errno> {
        let parent = self.entry(index)?.parent;
        if self.kind(parent)? != EntryKind::Directory {
            return Err(Errno::EIO);
        }
        Ok(parent)
    }

    /// The entries of directory `dir`, in name order: `ENOTDIR` if it is not a directory.
    pub fn children(&self, dir: u32) -> Result<Range<u32>, Errno> {
        let entry = self.entry(dir)?;
        if EntryKind::from_raw(entry.kind) != Some(EntryKind::Directory) {
            return Err(Errno::ENOTDIR);
        }
        let end = entry.first_child.checked_add(entry.child_count).ok_or(Errno::EIO)?;
        if end > self.entry_count {
            return Err(Errno::EIO);
        }
        Ok(entry.first_child..end)
    }

    /// The entry called `name` in directory `dir`: `ENOENT` if there is none.
    pub fn lookup(&self, dir: u32, name: &[u8]) -> Result<u32, Errno> {
        let children = self.children(dir)?;
        let (mut low, mut high) = (children.start, children.end);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.name(middle)?.cmp(name) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Ok(middle),
            }
        }
        Err(Errno::ENOENT)
    }

    /// Copies bytes of file `file` from `offset` into `buf`; returns how many (0 at the end).
    /// `EISDIR` for a directory, `EINVAL` for a symlink.
    pub fn read_at(&self, file: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match self.kind(file)? {
            EntryKind::File => {}
            EntryKind::Directory => return Err(Errno::EISDIR),
            EntryKind::Symlink => return Err(Errno::EINVAL),
        }
        let data = self.data(&self.entry(file)?)?;
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(available) = data.get(start..) else {
            return Ok(0);
        };
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        Ok(count)
    }

    /// The target of symlink `link`: `EINVAL` if it is not a symlink.
    pub fn readlink(&self, link: u32) -> Result<&'static [u8], Errno> {
        if self.kind(link)? != EntryKind::Symlink {
            return Err(Errno::EINVAL);
        }
        self.data(&self.entry(link)?)
    }

    /// Where regular file `file`'s bytes are in the image file: `(offset, size)`. The offset
    /// is page-aligned, so the memory manager can map the pages in place. `None` for anything
    /// but a well-formed regular file.
    pub fn file_extent(&self, file: u32) -> Option<(u64, u64)> {
        let entry = self.entry(file).ok()?;
        if EntryKind::from_raw(entry.kind) != Some(EntryKind::File) {
            return None;
        }
        self.data(&entry).ok()?;
        Some((entry.data.offset, entry.data.size))
    }

    /// Size of file `index`'s content (the target length for a symlink).
    pub fn size(&self, index: u32) -> Result<u64, Errno> {
        let entry = self.entry(index)?;
        Ok(match EntryKind::from_raw(entry.kind).ok_or(Errno::EIO)? {
            EntryKind::Directory => u64::from(BLOCK_SIZE),
            EntryKind::File | EntryKind::Symlink => entry.data.size,
        })
    }

    /// The owner of entry `index`, `(uid, gid)`: root's unless the image's owners section
    /// names another (`[[files]] owner`).
    /// (Inline, and the search out of line: an image without owners costs a start no code
    /// outside its hot text.)
    #[inline]
    pub fn owner(&self, index: u32) -> (u32, u32) {
        if self.owners.is_empty() {
            return (0, 0);
        }
        OwnerRecord::owner_of(self.owners, index)
    }

    /// The metadata of entry `index`; its inode number is its index + 1.
    pub fn stat(&self, index: u32) -> Result<Stat, Errno> {
        let entry = self.entry(index)?;
        let file_type = self.file_type(index)?;
        let nlink = match file_type {
            FileType::Directory => {
                let mut subdirs = 0u64;
                for child in self.children(index)? {
                    if self.kind(child)? == EntryKind::Directory {
                        subdirs += 1;
                    }
                }
                2 + subdirs
            }
            _ => 1,
        };
        let size = self.size(index)?;
        let time = Timespec { sec: entry.mtime, nsec: 0 };
        let (uid, gid) = self.owner(index);
        Ok(Stat {
            dev: DEV_IMAGE,
            ino: u64::from(index) + 1,
            nlink,
            mode: file_type.mode_bits() | (u32::from(entry.mode) & PERMISSION_BITS),
            uid,
            gid,
            rdev: 0,
            size,
            blksize: BLOCK_SIZE,
            blocks: if file_type == FileType::Symlink { 0 } else { blocks_for_size(size) },
            atime: time,
            mtime: time,
            ctime: time,
            mount_id: 0,
        })
    }

    /// The absolute path of entry `index`, from its parent chain.
    pub fn path_of(&self, index: u32) -> Result<Vec<u8>, Errno> {
        let mut names = Vec::new();
        let mut current = index;
        while current != ROOT_ENTRY {
            if names.len() > self.entry_count as usize {
                return Err(Errno::EIO);
            }
            names.push(self.name(current)?);
            current = self.parent(current)?;
        }
        let mut path = Vec::new();
        for name in names.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(name);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        Ok(path)
    }

    fn entry_name(&self, entry: &FsEntry) -> Result<&'static [u8], Errno> {
        let start = entry.name_offset as usize;
        let end = start.checked_add(entry.name_len as usize).ok_or(Errno::EIO)?;
        self.names.get(start..end).ok_or(Errno::EIO)
    }

    fn data(&self, entry: &FsEntry) -> Result<&'static [u8], Errno> {
        let start = usize::try_from(entry.data.offset).map_err(|_| Errno::EIO)?;
        let end = usize::try_from(entry.data.end().ok_or(Errno::EIO)?).map_err(|_| Errno::EIO)?;
        self.image.get(start..end).ok_or(Errno::EIO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::test_image::{build_image, TestEntry};
    use alloc::boxed::Box;
    use alloc::vec;
    use uvm_abi::image::{ImageHeader, IMAGE_ALIGN};

    fn sample() -> ImageFs {
        ImageFs::new(build_image(&[
            TestEntry::dir("bin", 0o755),
            TestEntry::file("bin/app", 0o755, b"\x7fELF app"),
            TestEntry::file("bin/zzz", 0o644, b""),
            TestEntry::file("bin/aaa", 0o600, b"first").owned_by(33, 34),
            TestEntry::symlink("bin/sh", "app"),
            TestEntry::dir("etc", 0o755),
            TestEntry::file("etc/big", 0o644, &vec![7u8; 10000]),
            TestEntry::dir("etc/sub", 0o700).owned_by(1000, 1000),
        ]))
        .unwrap()
    }

    fn find(fs: &ImageFs, path: &str) -> Result<u32, Errno> {
        let mut node = ROOT_ENTRY;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            node = fs.lookup(node, name.as_bytes())?;
        }
        Ok(node)
    }

    #[test]
    fn lookups_find_every_entry_and_miss_cleanly() {
        let fs = sample();
        for path in ["bin", "bin/app", "bin/zzz", "bin/aaa", "bin/sh", "etc", "etc/big", "etc/sub"] {
            let index = find(&fs, path).unwrap();
            assert_eq!(fs.path_of(index).unwrap(), alloc::format!("/{path}").into_bytes());
        }
        assert_eq!(find(&fs, "nope"), Err(Errno::ENOENT));
        assert_eq!(find(&fs, "bin/ab"), Err(Errno::ENOENT));
        assert_eq!(find(&fs, "bin/zzzz"), Err(Errno::ENOENT));
        assert_eq!(find(&fs, "bin/app/x"), Err(Errno::ENOTDIR));
        assert_eq!(fs.path_of(ROOT_ENTRY).unwrap(), b"/");
        assert_eq!(fs.parent(ROOT_ENTRY), Ok(ROOT_ENTRY));
        let bin = find(&fs, "bin").unwrap();
        assert_eq!(fs.parent(find(&fs, "bin/app").unwrap()), Ok(bin));
        assert_eq!(fs.children(bin).unwrap().len(), 4);
        assert_eq!(fs.name(fs.children(bin).unwrap().start).unwrap(), b"aaa");
        assert_eq!(fs.children(find(&fs, "bin/app").unwrap()), Err(Errno::ENOTDIR));
        assert_eq!(fs.app_entry(), find(&fs, "bin/app").unwrap());
        assert!(fs.entry_count() > 8);
    }

    #[test]
    fn reads_copy_from_the_image() {
        let fs = sample();
        let app = find(&fs, "bin/app").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(fs.read_at(app, 0, &mut buf), Ok(8));
        assert_eq!(&buf[..8], b"\x7fELF app");
        assert_eq!(fs.read_at(app, 4, &mut buf[..2]), Ok(2));
        assert_eq!(&buf[..2], b" a");
        assert_eq!(fs.read_at(app, 8, &mut buf), Ok(0));
        assert_eq!(fs.read_at(app, u64::MAX, &mut buf), Ok(0));
        let big = find(&fs, "etc/big").unwrap();
        let mut all = vec![0u8; 20000];
        assert_eq!(fs.read_at(big, 0, &mut all), Ok(10000));
        assert!(all[..10000].iter().all(|&b| b == 7));
        assert_eq!(fs.read_at(find(&fs, "etc").unwrap(), 0, &mut buf), Err(Errno::EISDIR));
        assert_eq!(fs.read_at(find(&fs, "bin/sh").unwrap(), 0, &mut buf), Err(Errno::EINVAL));
        assert_eq!(fs.read_at(find(&fs, "bin/zzz").unwrap(), 0, &mut buf), Ok(0));
    }

    #[test]
    fn symlinks_extents_and_stat() {
        let fs = sample();
        let sh = find(&fs, "bin/sh").unwrap();
        assert_eq!(fs.readlink(sh), Ok(&b"app"[..]));
        assert_eq!(fs.readlink(find(&fs, "bin").unwrap()), Err(Errno::EINVAL));
        let big = find(&fs, "etc/big").unwrap();
        let (offset, size) = fs.file_extent(big).unwrap();
        assert_eq!(offset % IMAGE_ALIGN, 0);
        assert_eq!(size, 10000);
        assert_eq!(fs.file_extent(sh), None);
        assert_eq!(fs.file_extent(ROOT_ENTRY), None);
        assert_eq!(fs.file_extent(9999), None);

        let st = fs.stat(big).unwrap();
        assert_eq!(st.mode, 0o100644);
        assert_eq!((st.size, st.blocks, st.nlink, st.ino, st.dev), (10000, 24, 1, u64::from(big) + 1, DEV_IMAGE));
        assert_eq!(st.mtime.sec, 1_700_000_000);
        let st = fs.stat(sh).unwrap();
        assert_eq!((st.mode, st.size), (0o120777, 3));
        let st = fs.stat(find(&fs, "etc").unwrap()).unwrap();
        assert_eq!((st.mode, st.nlink), (0o040755, 3));
        assert_eq!(fs.stat(ROOT_ENTRY).unwrap().nlink, 4);
        assert_eq!(fs.file_type(sh), Ok(FileType::Symlink));
        assert_eq!(fs.size(ROOT_ENTRY), Ok(4096));
    }

    #[test]
    fn entries_belong_to_root_unless_the_owners_section_names_them() {
        let fs = sample();
        let owner = |path| {
            let st = fs.stat(find(&fs, path).unwrap()).unwrap();
            (st.uid, st.gid)
        };
        assert_eq!(owner("bin/aaa"), (33, 34));
        assert_eq!(owner("etc/sub"), (1000, 1000));
        for path in ["bin", "bin/app", "bin/zzz", "bin/sh", "etc", "etc/big"] {
            assert_eq!(owner(path), (0, 0), "{path}");
        }
        assert_eq!(fs.owner(ROOT_ENTRY), (0, 0));
    }

    /// Rewrites entry `index` of a built image with `edit` applied.
    fn corrupt(image: &'static [u8], index: u32, edit: impl Fn(&mut FsEntry)) -> &'static [u8] {
        let mut bytes = image.to_vec();
        let header = ImageHeader::parse(&bytes).unwrap();
        let at = header.fs_table.offset as usize + index as usize * FS_ENTRY_SIZE;
        let mut entry = FsEntry::read(&bytes[at..at + FS_ENTRY_SIZE], 0).unwrap();
        edit(&mut entry);
        entry.write_to(&mut bytes[at..at + FS_ENTRY_SIZE]);
        Box::leak(bytes.into_boxed_slice())
    }

    #[test]
    fn a_bad_table_is_eio_not_a_panic() {
        let image = build_image(&[
            TestEntry::dir("d", 0o755),
            TestEntry::file("d/f", 0o644, b"data"),
            TestEntry::symlink("d/l", "f"),
        ]);
        assert_eq!(ImageFs::new(&image[..4096]).err(), Some(Errno::EIO));
        let not_a_dir = corrupt(image, 0, |e| e.kind = EntryKind::File as u8);
        assert_eq!(ImageFs::new(not_a_dir).err(), Some(Errno::EIO));

        let fs = ImageFs::new(corrupt(image, 0, |e| e.child_count = 1000)).unwrap();
        assert_eq!(fs.lookup(ROOT_ENTRY, b"d"), Err(Errno::EIO));
        assert_eq!(fs.stat(ROOT_ENTRY).err(), Some(Errno::EIO));

        let fs = ImageFs::new(corrupt(image, 1, |e| e.name_offset = u32::MAX)).unwrap();
        assert_eq!(fs.lookup(ROOT_ENTRY, b"d"), Err(Errno::EIO));
        assert_eq!(fs.path_of(1).err(), Some(Errno::EIO));

        let fs = ImageFs::new(corrupt(image, 2, |e| e.data.offset = u64::MAX - 1)).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(fs.read_at(2, 0, &mut buf), Err(Errno::EIO));
        assert_eq!(fs.file_extent(2), None);

        let fs = ImageFs::new(corrupt(image, 3, |e| e.data.size = 1 << 40)).unwrap();
        assert_eq!(fs.readlink(3), Err(Errno::EIO));

        let fs = ImageFs::new(corrupt(image, 2, |e| e.kind = 99)).unwrap();
        assert_eq!(fs.kind(2), Err(Errno::EIO));
        assert_eq!(fs.stat(1).err(), Some(Errno::EIO), "a directory's nlink reads its children's kinds");

        let fs = ImageFs::new(corrupt(image, 1, |e| e.parent = 2)).unwrap();
        assert_eq!(fs.parent(1), Err(Errno::EIO), "a parent must be a directory");

        let fs = ImageFs::new(corrupt(image, 1, |e| e.parent = 1)).unwrap();
        assert_eq!(fs.path_of(2).err(), Some(Errno::EIO), "a parent cycle ends");
        assert_eq!(fs.entry(1000).err(), Some(Errno::EIO));
    }
}
