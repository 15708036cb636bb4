//! Volumes: host directories the app sees as mounted file systems (`uvm run -v HOST:GUEST`).
//!
//! The VMM opens each volume's host directory before boot; the guest kernel mounts it at its
//! guest path and reaches its files with [`crate::hypercall::Hypercall::HostFs`] calls
//! ([`FsCall`], one [`FsOp`] each). Files are named by *handles*, never host fds or host paths:
//! - a **path handle** is a file or directory of a volume as a lookup found it (the VMM holds
//!   an `O_PATH` fd), what the guest's node of that file keeps;
//! - an **I/O handle** is an open file of a volume ([`FsOp::Open`]), what the guest's open file
//!   keeps for reads, writes and directory listings.
//!
//! Handle `i + 1` is the root directory of volume `i` (a path handle the VMM opened before
//! boot; [`FsOp::Close`] leaves it open). Every other handle is made by an op and lives until
//! the guest closes it.
//!
//! # Confinement
//! The guest never names a host path. It walks a volume one name at a time ([`FsOp::Lookup`]:
//! one component, never `.`, `..`, empty or with a `/`), and the VMM never follows a symlink
//! on its behalf (the guest reads a link's target with [`FsOp::Readlink`] and resolves it in
//! its own tree). [`FsOp::Parent`] of a volume's root is that root. So a guest reaches only
//! files under its volumes' directories, as the host's own processes left them.
//!
//! # Data
//! Reads and writes go straight to the host file ([`FsOp::Read`], [`FsOp::Write`], at most
//! [`FS_MAX_IO`] bytes each): what the app wrote is in the host file when the call returns,
//! and is kept whatever happens to the VM (a host crash still needs [`FsOp::Sync`], as on
//! Linux). The guest may read a sequential reader's next bytes ahead (one `Read` of up to
//! [`FS_MAX_IO`]) and serve its next reads from them for up to a second.
//!
//! # The boot info
//! [`crate::boot::BootInfo::volume_count`] mounts follow the working directory in the boot
//! strings (at most [`MAX_MOUNTS`]), one string each: `r` (a read-only volume), `w` (a
//! writable volume) or `t` (a new, empty tmpfs: `uvm run --tmpfs`), then the absolute guest
//! path. The volumes are numbered in their order among the `r` and `w` strings.

/// The most volumes one VM mounts.
pub const MAX_VOLUMES: u32 = 16;
/// The most mounts the boot info lists: the volumes and as many tmpfs mounts
/// (`uvm run --tmpfs`).
pub const MAX_MOUNTS: u32 = 2 * MAX_VOLUMES;
/// The most handles the VMM holds for one VM (the roots included): `ENFILE` beyond.
pub const FS_MAX_HANDLES: u32 = 65_536;
/// The most bytes one Read, Write, ReadDir or Readlink moves (the guest loops for more).
pub const FS_MAX_IO: u64 = 1 << 20;
/// The longest name of one directory entry (Linux's `NAME_MAX`).
pub const FS_NAME_MAX: u64 = 255;
/// The longest symlink target (Linux's `PATH_MAX` less the NUL).
pub const FS_TARGET_MAX: u64 = 4095;
/// The most handles one call closes before its op ([`FsCall::close_gpa`]).
pub const FS_MAX_CLOSES: u64 = 64;

/// The operation of an [`FsCall`]. "dir" is a path handle of a directory, "name" the bytes at
/// `name_gpa` (one path component), "stat" the call's [`FsCall::stat`], filled on success.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsOp {
    /// `handle` = dir: the entry `name`, not followed if a symlink. Result: its path handle;
    /// stat.
    Lookup = 1,
    /// `handle` = any handle: stat.
    Stat = 2,
    /// `handle` = dir: its parent directory (a volume's root is its own). Result: a new path
    /// handle; stat.
    Parent = 3,
    /// `handle` = a path handle of a regular file or directory: open it with Linux open
    /// `flags` (the access mode, `O_APPEND`, `O_TRUNC`, `O_DIRECTORY`, `O_SYNC`, `O_DSYNC`
    /// count; the rest is ignored). Result: an I/O handle; stat (as the open left the file).
    /// `ELOOP` for a symlink, `ENXIO` for any other kind of file (a volume's devices, fifos
    /// and sockets are not served).
    Open = 4,
    /// `handle` = dir: create the regular file `name` with permission bits `arg` (`EEXIST`
    /// if the name is taken). Result: its path handle; stat.
    Create = 5,
    /// `handle` = dir: make the directory `name` with permission bits `arg`.
    Mkdir = 6,
    /// `handle` = dir: make the symlink `name` to the target at `name2_gpa`.
    Symlink = 7,
    /// `handle` = dir: remove `name`; `flags` = `AT_REMOVEDIR` (0x200) for a directory.
    Unlink = 8,
    /// Rename `name` in dir `handle` to `name2` in dir `handle2`; `flags` = Linux
    /// `renameat2` flags (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
    Rename = 9,
    /// A new name `name2` in dir `handle2` for the file `handle` (not a directory).
    Link = 10,
    /// `handle` = an I/O handle: read up to `buf_len` bytes at offset `arg` into `buf_gpa`.
    /// Result: bytes read (0 at the end).
    Read = 11,
    /// `handle` = an I/O handle: write the `buf_len` bytes at `buf_gpa` at offset `arg`, or
    /// at the end with `flags` = [`FS_WRITE_APPEND`]. Result: bytes written; `value` = the
    /// offset just past them.
    Write = 12,
    /// `handle` = any handle of a regular file: set its size to `arg`.
    Truncate = 13,
    /// `handle` = any handle: set its permission bits to `arg` (`chmod`).
    SetMode = 14,
    /// `handle` = any handle: set its owner to `arg` and its group to `arg2` (`u32::MAX`:
    /// unchanged), as `fchownat` does (the host decides who may).
    SetOwner = 15,
    /// `handle` = any handle: set its access and modification times to the two Linux
    /// `struct timespec` at `buf_gpa` (`buf_len` = 32; `UTIME_NOW`, `UTIME_OMIT` as Linux).
    SetTimes = 16,
    /// `handle` = an I/O handle of a directory: its entries from position `arg` (0 for the
    /// first) as Linux `getdents64` records into `buf_gpa` (`.` and `..` included; each
    /// record's `d_off` is the position after it). Result: bytes filled (0 at the end).
    ReadDir = 17,
    /// `handle` = a path handle of a symlink: its target into `buf_gpa`. Result: its length.
    Readlink = 18,
    /// `handle` = an I/O handle: write its data (and with `flags` = 0, its metadata) to the
    /// host's disk (`fsync`, `fdatasync` with [`FS_SYNC_DATA`]).
    Sync = 19,
    /// `handle` = any handle: the host file system's figures into `buf_gpa` ([`HostStatFs`],
    /// `buf_len` = its size).
    StatFs = 20,
    /// Forget `handle` (a volume's root stays).
    Close = 21,
}

impl FsOp {
    /// Every op, in number order.
    pub const ALL: [FsOp; 21] = [
        FsOp::Lookup,
        FsOp::Stat,
        FsOp::Parent,
        FsOp::Open,
        FsOp::Create,
        FsOp::Mkdir,
        FsOp::Symlink,
        FsOp::Unlink,
        FsOp::Rename,
        FsOp::Link,
        FsOp::Read,
        FsOp::Write,
        FsOp::Truncate,
        FsOp::SetMode,
        FsOp::SetOwner,
        FsOp::SetTimes,
        FsOp::ReadDir,
        FsOp::Readlink,
        FsOp::Sync,
        FsOp::StatFs,
        FsOp::Close,
    ];

    /// Decodes [`FsCall::op`].
    pub fn from_raw(raw: u32) -> Option<FsOp> {
        FsOp::ALL.into_iter().find(|op| *op as u32 == raw)
    }

    /// Whether the op changes a volume (refused with `EROFS` on a read-only one; Open is
    /// refused there when it asks for write access or `O_TRUNC`).
    pub fn writes(self) -> bool {
        matches!(
            self,
            FsOp::Create
                | FsOp::Mkdir
                | FsOp::Symlink
                | FsOp::Unlink
                | FsOp::Rename
                | FsOp::Link
                | FsOp::Write
                | FsOp::Truncate
                | FsOp::SetMode
                | FsOp::SetOwner
                | FsOp::SetTimes
        )
    }
}

/// [`FsOp::Write`] `flags`: write at the end of the file (`O_APPEND`).
pub const FS_WRITE_APPEND: u32 = 1;
/// [`FsOp::Sync`] `flags`: the data only (`fdatasync`).
pub const FS_SYNC_DATA: u32 = 1;

/// A file's metadata as the host has it (Linux `struct stat`'s fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStat {
    /// The host device.
    pub dev: u64,
    /// The host inode number.
    pub ino: u64,
    /// Hard links.
    pub nlink: u64,
    /// Type and permission bits (`S_IFMT` and `07777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// The device a device file is.
    pub rdev: u64,
    /// Size in bytes.
    pub size: i64,
    /// Preferred I/O size.
    pub blksize: i64,
    /// 512-byte blocks allocated.
    pub blocks: i64,
    /// Last access, seconds and nanoseconds.
    pub atime: [i64; 2],
    /// Last modification.
    pub mtime: [i64; 2],
    /// Last status change.
    pub ctime: [i64; 2],
}

/// A host file system's figures (Linux `struct statfs`'s fields), for [`FsOp::StatFs`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStatFs {
    /// The file system's magic number.
    pub fs_type: u64,
    /// Block size.
    pub bsize: u64,
    /// Blocks in all.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks an unprivileged user may use.
    pub bavail: u64,
    /// Inodes in all.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Longest name.
    pub namelen: u64,
    /// Fragment size.
    pub frsize: u64,
    /// Mount flags (`ST_*`).
    pub flags: u64,
}

/// [`crate::hypercall::Hypercall::HostFs`] parameters. Names and buffers are guest-physical
/// ranges of RAM.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsCall {
    /// An [`FsOp`] value.
    pub op: u32,
    /// The op's flags (see each op; zero otherwise).
    pub flags: u32,
    /// The handle the op acts on.
    pub handle: u64,
    /// A second handle (Rename, Link).
    pub handle2: u64,
    /// The op's first argument (an offset, a length, a mode, an owner).
    pub arg: u64,
    /// The op's second argument (a group).
    pub arg2: u64,
    /// GPA of a name (at most [`FS_NAME_MAX`] bytes, no NUL).
    pub name_gpa: u64,
    /// Its length.
    pub name_len: u64,
    /// GPA of a second name (Rename, Link) or a symlink target (at most [`FS_TARGET_MAX`]).
    pub name2_gpa: u64,
    /// Its length.
    pub name2_len: u64,
    /// GPA of the data buffer.
    pub buf_gpa: u64,
    /// Its length (at most [`FS_MAX_IO`]).
    pub buf_len: u64,
    /// GPA of an array of `close_count` handles (`u64`) to close before the op, as
    /// [`FsOp::Close`] would (a handle that is not live, or a root, is passed over). The guest
    /// defers the closes of the handles it dropped to its next call: a path walk drops a
    /// handle per directory it went through, and an exit each would double its cost.
    pub close_gpa: u64,
    /// How many (at most [`FS_MAX_CLOSES`]; more is `EINVAL`, nothing closed or done).
    pub close_count: u64,
    /// Out: a second result (Write: the offset after the bytes written).
    pub value: u64,
    /// Out: the file's metadata (Lookup, Stat, Parent, Create, Open).
    pub stat: HostStat,
    /// Out: `>= 0` as the op says, or -errno (Linux values).
    pub result: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_fixed() {
        use core::mem::{offset_of, size_of};
        assert_eq!(size_of::<HostStat>(), 120);
        assert_eq!(size_of::<HostStatFs>(), 80);
        assert_eq!(offset_of!(FsCall, value), 104);
        assert_eq!(offset_of!(FsCall, stat), 112);
        assert_eq!(size_of::<FsCall>(), 240);
    }

    #[test]
    fn ops_round_trip() {
        for (i, op) in FsOp::ALL.into_iter().enumerate() {
            assert_eq!(op as usize, i + 1);
            assert_eq!(FsOp::from_raw(op as u32), Some(op));
        }
        assert_eq!(FsOp::from_raw(0), None);
        assert_eq!(FsOp::from_raw(22), None);
        assert!(FsOp::Write.writes() && !FsOp::Read.writes() && !FsOp::Open.writes());
    }
}
