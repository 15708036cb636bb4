//! Directory entries: [`DirEntry`], what a file system reports while listing a directory,
//! and its encoding as Linux `struct linux_dirent64` for `getdents64`.
//!
//! ```text
//! u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[] (NUL-terminated)
//! ```
//! `d_reclen` is rounded up to 8; `d_off` is the directory offset of the *next* entry, so
//! seeking there resumes the listing after this one.
//!
//! Directory offsets: 0 is `.`, 1 is `..`, then each file system's own numbering from
//! [`FIRST_ENTRY_OFFSET`].

use crate::fs::stat::FileType;

/// The directory offset of the first real entry: 0 and 1 are `.` and `..`, which the
/// open-file layer lists itself; every file system numbers its entries from here.
pub const FIRST_ENTRY_OFFSET: u64 = 2;

/// Offset of `d_name` in `struct linux_dirent64`.
pub const DIRENT64_NAME_OFFSET: usize = 19;

/// One entry of a directory listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The entry's name.
    pub name: &'a [u8],
    /// Its inode number.
    pub ino: u64,
    /// Its type.
    pub file_type: FileType,
    /// The directory offset just after this entry.
    pub next_offset: u64,
}

/// Bytes a `linux_dirent64` record for a name of `name_len` bytes takes.
pub const fn dirent64_len(name_len: usize) -> usize {
    (DIRENT64_NAME_OFFSET + name_len + 1).next_multiple_of(8)
}

/// Writes `entry` as a `linux_dirent64` record at the start of `out`; returns its length, or
/// `None` if it does not fit.
pub fn write_dirent64(out: &mut [u8], entry: &DirEntry<'_>) -> Option<usize> {
    let len = dirent64_len(entry.name.len());
    let record = out.get_mut(..len)?;
    record.fill(0);
    record[0..8].copy_from_slice(&entry.ino.to_le_bytes());
    let next = i64::try_from(entry.next_offset).unwrap_or(i64::MAX);
    record[8..16].copy_from_slice(&next.to_le_bytes());
    record[16..18].copy_from_slice(&(len as u16).to_le_bytes());
    record[18] = entry.file_type.dirent_type();
    record[DIRENT64_NAME_OFFSET..DIRENT64_NAME_OFFSET + entry.name.len()].copy_from_slice(entry.name);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_aligned_and_nul_terminated() {
        assert_eq!(dirent64_len(1), 24);
        assert_eq!(dirent64_len(4), 24);
        assert_eq!(dirent64_len(5), 32);
        assert_eq!(dirent64_len(255), 280);
        let entry = DirEntry { name: b"hello", ino: 77, file_type: FileType::Regular, next_offset: 9 };
        let mut buf = [0xaau8; 40];
        assert_eq!(write_dirent64(&mut buf, &entry), Some(32));
        assert_eq!(u64::from_le_bytes(buf[0..8].try_into().unwrap()), 77);
        assert_eq!(i64::from_le_bytes(buf[8..16].try_into().unwrap()), 9);
        assert_eq!(u16::from_le_bytes([buf[16], buf[17]]), 32);
        assert_eq!(buf[18], 8);
        assert_eq!(&buf[19..24], b"hello");
        assert!(buf[24..32].iter().all(|&b| b == 0));
        assert_eq!(buf[32], 0xaa, "nothing past the record");
        assert_eq!(write_dirent64(&mut buf[..31], &entry), None);
    }
}
