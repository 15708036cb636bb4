//! [`StatFs`]: what `statfs`/`fstatfs` say about a file system, and the byte layout of
//! Linux x86-64 `struct statfs`.

use crate::errno::Errno;

/// Size of Linux x86-64 `struct statfs`.
pub const STATFS_SIZE: usize = 120;

/// `f_type` of a tmpfs (and of devtmpfs).
pub const TMPFS_MAGIC: u64 = 0x0102_1994;
/// `f_type` of `/proc`.
pub const PROC_SUPER_MAGIC: u64 = 0x9fa0;
/// `f_type` of the image file system: a read-only image, as squashfs is.
pub const IMAGE_MAGIC: u64 = 0x7371_7368;
/// `OVERLAYFS_SUPER_MAGIC`: the writable root, as a container's overlay root reports.
pub const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;

/// `f_flags`: mounted read-only.
pub const ST_RDONLY: u64 = 1;
/// `f_flags`: set-user-ID bits ignored.
pub const ST_NOSUID: u64 = 2;
/// `f_flags`: device files not usable.
pub const ST_NODEV: u64 = 4;
/// `f_flags`: nothing executable.
pub const ST_NOEXEC: u64 = 8;
/// `f_flags`: access times updated relatively.
pub const ST_RELATIME: u64 = 0x1000;

/// A file system's usage and limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    /// The file system's magic number.
    pub fs_type: u64,
    /// Block size.
    pub block_size: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Free blocks an unprivileged user may use.
    pub blocks_available: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
    /// File system id.
    pub fsid: u64,
    /// Longest file name.
    pub name_max: u64,
    /// `ST_*` mount flags.
    pub flags: u64,
}

impl StatFs {
    /// Writes Linux x86-64 `struct statfs` into the first [`STATFS_SIZE`] bytes of `out`.
    /// `EFAULT` if `out` is shorter.
    pub fn write_statfs(&self, out: &mut [u8]) -> Result<(), Errno> {
        let out = out.get_mut(..STATFS_SIZE).ok_or(Errno::EFAULT)?;
        out.fill(0);
        let fields = [
            self.fs_type,
            self.block_size,
            self.blocks,
            self.blocks_free,
            self.blocks_available,
            self.files,
            self.files_free,
            self.fsid,
            self.name_max,
            self.block_size,
            self.flags,
        ];
        for (index, value) in fields.iter().enumerate() {
            out[index * 8..index * 8 + 8].copy_from_slice(&value.to_le_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statfs_layout() {
        let statfs = StatFs {
            fs_type: TMPFS_MAGIC,
            block_size: 4096,
            blocks: 10,
            blocks_free: 4,
            blocks_available: 3,
            files: 100,
            files_free: 50,
            fsid: 0x21,
            name_max: 255,
            flags: ST_NOSUID | ST_NODEV,
        };
        let mut buf = [0xffu8; STATFS_SIZE];
        statfs.write_statfs(&mut buf).unwrap();
        let at = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
        assert_eq!(at(0), TMPFS_MAGIC);
        assert_eq!(at(8), 4096);
        assert_eq!((at(16), at(24), at(32), at(40), at(48)), (10, 4, 3, 100, 50));
        assert_eq!(at(56), 0x21);
        assert_eq!(at(64), 255);
        assert_eq!(at(72), 4096, "f_frsize");
        assert_eq!(at(80), 6);
        assert!(buf[88..].iter().all(|&b| b == 0));
        assert_eq!(statfs.write_statfs(&mut [0u8; 119]), Err(Errno::EFAULT));
    }
}
