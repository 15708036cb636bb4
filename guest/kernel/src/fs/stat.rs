//! File metadata: the [`Stat`] every file system fills in, the file-type and mode constants,
//! device numbers, and the byte layouts of Linux x86-64 `struct stat` and `struct statx`.
//!
//! The file systems describe a file with a [`Stat`]; the syscall layer serialises it with
//! [`Stat::write_stat`] (stat, fstat, lstat, newfstatat) or [`Stat::write_statx`] (statx) and
//! copies the bytes to the app.

use crate::errno::Errno;

/// Mask of the file-type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// FIFO (pipe).
pub const S_IFIFO: u32 = 0o010000;
/// Set-user-ID bit.
pub const S_ISUID: u32 = 0o4000;
/// Set-group-ID bit.
pub const S_ISGID: u32 = 0o2000;
/// The sticky bit: in a directory, only an entry's owner (or the directory's) may remove it.
pub const S_ISVTX: u32 = 0o1000;
/// The permission bits a mode may carry besides the type (`chmod` keeps these).
pub const PERMISSION_BITS: u32 = 0o7777;

/// `st_blksize` of every file: the page size.
pub const BLOCK_SIZE: u32 = 4096;

/// Size of Linux x86-64 `struct stat`.
pub const STAT_SIZE: usize = 144;
/// Size of Linux `struct statx`.
pub const STATX_SIZE: usize = 256;

/// `statx` mask bit: `stx_mode & S_IFMT`.
pub const STATX_TYPE: u32 = 0x1;
/// `statx` mask bit: `stx_mode & !S_IFMT`.
pub const STATX_MODE: u32 = 0x2;
/// `statx` mask bit: `stx_nlink`.
pub const STATX_NLINK: u32 = 0x4;
/// `statx` mask bit: `stx_uid`.
pub const STATX_UID: u32 = 0x8;
/// `statx` mask bit: `stx_gid`.
pub const STATX_GID: u32 = 0x10;
/// `statx` mask bit: `stx_atime`.
pub const STATX_ATIME: u32 = 0x20;
/// `statx` mask bit: `stx_mtime`.
pub const STATX_MTIME: u32 = 0x40;
/// `statx` mask bit: `stx_ctime`.
pub const STATX_CTIME: u32 = 0x80;
/// `statx` mask bit: `stx_ino`.
pub const STATX_INO: u32 = 0x100;
/// `statx` mask bit: `stx_size`.
pub const STATX_SIZE_BIT: u32 = 0x200;
/// `statx` mask bit: `stx_blocks`.
pub const STATX_BLOCKS: u32 = 0x400;
/// Everything `stat` returns.
pub const STATX_BASIC_STATS: u32 = 0x7ff;
/// `statx` mask bit: `stx_mnt_id`.
pub const STATX_MNT_ID: u32 = 0x1000;

/// The kind of a file, as its mode's type bits and `d_type` say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A FIFO.
    Fifo,
    /// A socket.
    Socket,
    /// No type at all: Linux's anonymous inode (eventfd, epoll), whose mode is just `0600`.
    Anon,
}

impl FileType {
    /// The `S_IF*` bits of this type.
    pub const fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::CharDevice => S_IFCHR,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
            FileType::Anon => 0,
        }
    }

    /// The `DT_*` value of `struct linux_dirent64::d_type`.
    pub const fn dirent_type(self) -> u8 {
        match self {
            FileType::Fifo => 1,
            FileType::CharDevice => 2,
            FileType::Directory => 4,
            FileType::Regular => 8,
            FileType::Symlink => 10,
            FileType::Socket => 12,
            FileType::Anon => 0,
        }
    }

    /// The type a `DT_*` value names, if it names one this kernel knows (not `DT_UNKNOWN`).
    pub const fn from_dirent_type(d_type: u8) -> Option<FileType> {
        match d_type {
            1 => Some(FileType::Fifo),
            2 => Some(FileType::CharDevice),
            4 => Some(FileType::Directory),
            8 => Some(FileType::Regular),
            10 => Some(FileType::Symlink),
            12 => Some(FileType::Socket),
            _ => None,
        }
    }

    /// The type a mode's `S_IF*` bits name, if they name one this kernel knows.
    pub const fn from_mode(mode: u32) -> Option<FileType> {
        match mode & S_IFMT {
            S_IFREG => Some(FileType::Regular),
            S_IFDIR => Some(FileType::Directory),
            S_IFLNK => Some(FileType::Symlink),
            S_IFCHR => Some(FileType::CharDevice),
            S_IFIFO => Some(FileType::Fifo),
            S_IFSOCK => Some(FileType::Socket),
            _ => None,
        }
    }
}

/// A device number, encoded as glibc's `makedev` and the kernel's `new_encode_dev` do.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let major = major as u64;
    let minor = minor as u64;
    ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
}

/// The major number of a device number made by [`makedev`].
pub const fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

/// The minor number of a device number made by [`makedev`].
pub const fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// `st_dev` of the image file system (looks like the first partition of a disk).
pub const DEV_IMAGE: u64 = makedev(8, 1);
/// `st_dev` of the tmpfs at `/tmp`.
pub const DEV_TMP: u64 = makedev(0, 0x21);
/// `st_dev` of the device file system at `/dev`.
pub const DEV_DEVFS: u64 = makedev(0, 5);
/// `st_dev` of the tmpfs at `/dev/shm`.
pub const DEV_SHM: u64 = makedev(0, 0x22);
/// `st_dev` of `/proc`.
pub const DEV_PROC: u64 = makedev(0, 0x16);

/// A point in time: seconds and nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds, below 1e9.
    pub nsec: u32,
}

impl Timespec {
    /// A time from the `(seconds, nanoseconds)` pair a [`crate::fs::Clock`] returns.
    pub const fn from_clock(now: (i64, u32)) -> Timespec {
        Timespec { sec: now.0, nsec: now.1 }
    }
}

/// `UTIME_NOW`: a `utimensat` nanoseconds value meaning "set to the current time".
pub const UTIME_NOW: i64 = (1 << 30) - 1;
/// `UTIME_OMIT`: a `utimensat` nanoseconds value meaning "leave unchanged".
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// How `utimensat` changes one timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChange {
    /// Set it to the current time.
    Now,
    /// Leave it.
    Omit,
    /// Set it to this time.
    Set(Timespec),
}

impl TimeChange {
    /// Decodes one `struct timespec` of `utimensat`'s `times` argument (with `UTIME_NOW` and
    /// `UTIME_OMIT`): `EINVAL` for nanoseconds out of range.
    pub fn from_timespec(sec: i64, nsec: i64) -> Result<TimeChange, Errno> {
        match nsec {
            UTIME_NOW => Ok(TimeChange::Now),
            UTIME_OMIT => Ok(TimeChange::Omit),
            0..=999_999_999 => Ok(TimeChange::Set(Timespec { sec, nsec: nsec as u32 })),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// What `stat` says about a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Device of the file system holding the file.
    pub dev: u64,
    /// Inode number, stable for the file's life.
    pub ino: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The device a device file stands for.
    pub rdev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Preferred I/O size.
    pub blksize: u32,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last modification of the content.
    pub mtime: Timespec,
    /// Last change of the metadata.
    pub ctime: Timespec,
    /// The mount the file was reached through (`stx_mnt_id`).
    pub mount_id: u64,
}

impl Stat {
    /// The metadata of a file without contents of its own (a device, a socket, a pseudo-file
    /// or directory): size, blocks and `rdev` 0, one time for all three stamps. Callers set
    /// what differs with struct update syntax.
    pub fn contentless(dev: u64, ino: u64, nlink: u64, mode: u32, (uid, gid): (u32, u32), time: Timespec) -> Stat {
        Stat {
            dev,
            ino,
            nlink,
            mode,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: BLOCK_SIZE,
            blocks: 0,
            atime: time,
            mtime: time,
            ctime: time,
            mount_id: 0,
        }
    }

    /// The file's type, if its mode names one.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }

    /// Writes Linux x86-64 `struct stat` into the first [`STAT_SIZE`] bytes of `out`.
    /// `EFAULT` if `out` is shorter.
    pub fn write_stat(&self, out: &mut [u8]) -> Result<(), Errno> {
        let out = out.get_mut(..STAT_SIZE).ok_or(Errno::EFAULT)?;
        out.fill(0);
        put(out, 0, &self.dev.to_le_bytes());
        put(out, 8, &self.ino.to_le_bytes());
        put(out, 16, &self.nlink.to_le_bytes());
        put(out, 24, &self.mode.to_le_bytes());
        put(out, 28, &self.uid.to_le_bytes());
        put(out, 32, &self.gid.to_le_bytes());
        put(out, 40, &self.rdev.to_le_bytes());
        put(out, 48, &clamp_i64(self.size).to_le_bytes());
        put(out, 56, &i64::from(self.blksize).to_le_bytes());
        put(out, 64, &clamp_i64(self.blocks).to_le_bytes());
        for (at, time) in [(72, self.atime), (88, self.mtime), (104, self.ctime)] {
            put(out, at, &time.sec.to_le_bytes());
            put(out, at + 8, &i64::from(time.nsec).to_le_bytes());
        }
        Ok(())
    }

    /// Writes Linux `struct statx` into the first [`STATX_SIZE`] bytes of `out`. Every
    /// basic field is filled whatever was asked; `stx_mask` says so. `EFAULT` if `out` is
    /// shorter.
    pub fn write_statx(&self, out: &mut [u8]) -> Result<(), Errno> {
        let out = out.get_mut(..STATX_SIZE).ok_or(Errno::EFAULT)?;
        out.fill(0);
        put(out, 0, &(STATX_BASIC_STATS | STATX_MNT_ID).to_le_bytes());
        put(out, 4, &self.blksize.to_le_bytes());
        put(out, 16, &u32::try_from(self.nlink).unwrap_or(u32::MAX).to_le_bytes());
        put(out, 20, &self.uid.to_le_bytes());
        put(out, 24, &self.gid.to_le_bytes());
        put(out, 28, &((self.mode & 0xffff) as u16).to_le_bytes());
        put(out, 32, &self.ino.to_le_bytes());
        put(out, 40, &self.size.to_le_bytes());
        put(out, 48, &self.blocks.to_le_bytes());
        for (at, time) in [(64, self.atime), (96, self.ctime), (112, self.mtime)] {
            put(out, at, &time.sec.to_le_bytes());
            put(out, at + 8, &time.nsec.to_le_bytes());
        }
        put(out, 128, &major(self.rdev).to_le_bytes());
        put(out, 132, &minor(self.rdev).to_le_bytes());
        put(out, 136, &major(self.dev).to_le_bytes());
        put(out, 140, &minor(self.dev).to_le_bytes());
        put(out, 144, &self.mount_id.to_le_bytes());
        Ok(())
    }
}

/// 512-byte blocks that `size` bytes occupy when stored in whole pages.
pub const fn blocks_for_size(size: u64) -> u64 {
    size.div_ceil(BLOCK_SIZE as u64) * (BLOCK_SIZE as u64 / 512)
}

fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stat {
        Stat {
            dev: makedev(8, 1),
            ino: 42,
            nlink: 3,
            mode: S_IFREG | 0o644,
            uid: 1000,
            gid: 100,
            rdev: makedev(136, 0),
            size: 5000,
            blksize: BLOCK_SIZE,
            blocks: blocks_for_size(5000),
            atime: Timespec { sec: 1, nsec: 2 },
            mtime: Timespec { sec: 3, nsec: 4 },
            ctime: Timespec { sec: -5, nsec: 6 },
            mount_id: 7,
        }
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn device_numbers_encode_like_linux() {
        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!(makedev(136, 0), 0x8800);
        assert_eq!(makedev(0x1234, 0x56789), 0x0000_1000_5672_3489);
        for (ma, mi) in [(0, 0), (8, 1), (4095, 255), (0x12345, 0xabcdef)] {
            assert_eq!((major(makedev(ma, mi)), minor(makedev(ma, mi))), (ma, mi));
        }
    }

    #[test]
    fn stat_layout_is_linux_x86_64() {
        let mut buf = [0xffu8; STAT_SIZE];
        sample().write_stat(&mut buf).unwrap();
        assert_eq!(u64_at(&buf, 0), makedev(8, 1));
        assert_eq!(u64_at(&buf, 8), 42);
        assert_eq!(u64_at(&buf, 16), 3);
        assert_eq!(u32_at(&buf, 24), S_IFREG | 0o644);
        assert_eq!(u32_at(&buf, 28), 1000);
        assert_eq!(u32_at(&buf, 32), 100);
        assert_eq!(u32_at(&buf, 36), 0);
        assert_eq!(u64_at(&buf, 40), 0x8800);
        assert_eq!(u64_at(&buf, 48), 5000);
        assert_eq!(u64_at(&buf, 56), 4096);
        assert_eq!(u64_at(&buf, 64), 16);
        assert_eq!(u64_at(&buf, 72), 1);
        assert_eq!(u64_at(&buf, 80), 2);
        assert_eq!(u64_at(&buf, 88), 3);
        assert_eq!(u64_at(&buf, 96), 4);
        assert_eq!(u64_at(&buf, 104) as i64, -5);
        assert_eq!(u64_at(&buf, 112), 6);
        assert!(buf[120..].iter().all(|&b| b == 0));
        assert_eq!(sample().write_stat(&mut [0u8; 100]), Err(Errno::EFAULT));
    }

    #[test]
    fn statx_layout_is_linux() {
        let mut buf = [0xffu8; STATX_SIZE];
        sample().write_statx(&mut buf).unwrap();
        assert_eq!(u32_at(&buf, 0), STATX_BASIC_STATS | STATX_MNT_ID);
        assert_eq!(u32_at(&buf, 4), 4096);
        assert_eq!(u64_at(&buf, 8), 0);
        assert_eq!(u32_at(&buf, 16), 3);
        assert_eq!(u32_at(&buf, 20), 1000);
        assert_eq!(u32_at(&buf, 24), 100);
        assert_eq!(u16::from_le_bytes([buf[28], buf[29]]) as u32, S_IFREG | 0o644);
        assert_eq!(u64_at(&buf, 32), 42);
        assert_eq!(u64_at(&buf, 40), 5000);
        assert_eq!(u64_at(&buf, 48), 16);
        assert_eq!(u64_at(&buf, 64), 1);
        assert_eq!(u32_at(&buf, 72), 2);
        assert_eq!(u64_at(&buf, 80), 0, "no btime");
        assert_eq!(u64_at(&buf, 96) as i64, -5);
        assert_eq!(u64_at(&buf, 112), 3);
        assert_eq!((u32_at(&buf, 128), u32_at(&buf, 132)), (136, 0));
        assert_eq!((u32_at(&buf, 136), u32_at(&buf, 140)), (8, 1));
        assert_eq!(u64_at(&buf, 144), 7);
        assert!(buf[152..].iter().all(|&b| b == 0));
        assert_eq!(sample().write_statx(&mut [0u8; 255]), Err(Errno::EFAULT));
    }

    #[test]
    fn file_types_map_to_mode_and_dirent_bits() {
        for ft in [
            FileType::Regular,
            FileType::Directory,
            FileType::Symlink,
            FileType::CharDevice,
            FileType::Fifo,
            FileType::Socket,
        ] {
            assert_eq!(FileType::from_mode(ft.mode_bits() | 0o755), Some(ft));
            assert_eq!(FileType::from_dirent_type(ft.dirent_type()), Some(ft));
        }
        assert_eq!(FileType::from_mode(S_IFBLK), None);
        assert_eq!(FileType::from_dirent_type(6), None, "DT_BLK");
        assert_eq!(FileType::from_dirent_type(0), None, "DT_UNKNOWN");
        assert_eq!(FileType::Directory.dirent_type(), 4);
        assert_eq!(FileType::Regular.dirent_type(), 8);
        assert_eq!(FileType::Symlink.dirent_type(), 10);
        assert_eq!(sample().file_type(), Some(FileType::Regular));
        assert_eq!(blocks_for_size(0), 0);
        assert_eq!(blocks_for_size(1), 8);
        assert_eq!(Timespec::from_clock((5, 6)), Timespec { sec: 5, nsec: 6 });
    }

    #[test]
    fn utimensat_values_decode() {
        assert_eq!(TimeChange::from_timespec(0, UTIME_NOW), Ok(TimeChange::Now));
        assert_eq!(TimeChange::from_timespec(9, UTIME_OMIT), Ok(TimeChange::Omit));
        assert_eq!(TimeChange::from_timespec(9, 5), Ok(TimeChange::Set(Timespec { sec: 9, nsec: 5 })));
        assert_eq!(TimeChange::from_timespec(9, 1_000_000_000), Err(Errno::EINVAL));
        assert_eq!(TimeChange::from_timespec(9, -1), Err(Errno::EINVAL));
    }
}
