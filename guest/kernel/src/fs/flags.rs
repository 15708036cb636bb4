//! The Linux x86-64 flag values of the file syscalls: `open` flags, `*at` flags, `access`
//! modes, `renameat2` flags, `lseek` whences and `poll` events.

/// Mask of the access mode.
pub const O_ACCMODE: u32 = 0o3;
/// Open for reading.
pub const O_RDONLY: u32 = 0o0;
/// Open for writing.
pub const O_WRONLY: u32 = 0o1;
/// Open for both.
pub const O_RDWR: u32 = 0o2;
/// Create the file if missing.
pub const O_CREAT: u32 = 0o100;
/// With `O_CREAT`: fail with `EEXIST` if it exists.
pub const O_EXCL: u32 = 0o200;
/// Do not make a terminal the controlling one (ignored).
pub const O_NOCTTY: u32 = 0o400;
/// Truncate a regular file to 0.
pub const O_TRUNC: u32 = 0o1000;
/// Every write goes to the end.
pub const O_APPEND: u32 = 0o2000;
/// Non-blocking I/O.
pub const O_NONBLOCK: u32 = 0o4000;
/// Synchronous data writes (recorded, nothing to do in memory).
pub const O_DSYNC: u32 = 0o10000;
/// Signal-driven I/O (recorded, not delivered).
pub const O_ASYNC: u32 = 0o20000;
/// Direct I/O (recorded, nothing to do in memory).
pub const O_DIRECT: u32 = 0o40000;
/// Large-file semantics: always on for 64-bit, and reported by `F_GETFL`.
pub const O_LARGEFILE: u32 = 0o100000;
/// Fail with `ENOTDIR` unless the path names a directory.
pub const O_DIRECTORY: u32 = 0o200000;
/// Fail with `ELOOP` if the last component is a symlink.
pub const O_NOFOLLOW: u32 = 0o400000;
/// Do not update the access time (recorded, ignored).
pub const O_NOATIME: u32 = 0o1000000;
/// Close the fd on `execve`.
pub const O_CLOEXEC: u32 = 0o2000000;
/// Synchronous writes (recorded, nothing to do in memory).
pub const O_SYNC: u32 = 0o4010000;
/// Open a location only: no reading or writing, just `fstat`, `*at` bases, `fchdir`.
pub const O_PATH: u32 = 0o10000000;
/// An unnamed temporary file (not supported: `EOPNOTSUPP`). Includes `O_DIRECTORY`.
pub const O_TMPFILE: u32 = 0o20200000;

/// The status flags an open file keeps and `F_GETFL` reports.
pub const STATUS_FLAGS: u32 = O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC | O_DIRECT | O_NOATIME | O_SYNC;
/// The status flags `F_SETFL` may change.
pub const SETFL_FLAGS: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
/// The flags `O_PATH` keeps; it ignores every other one.
pub const PATH_FLAGS: u32 = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

/// The `dirfd` meaning "the working directory".
pub const AT_FDCWD: i32 = -100;
/// `*at`: do not follow a symlink in the last component.
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `unlinkat`: remove a directory.
pub const AT_REMOVEDIR: u32 = 0x200;
/// `faccessat`: check with the effective ids (same thing here).
pub const AT_EACCESS: u32 = 0x200;
/// `linkat`: follow a symlink in the old path.
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
/// `*at`: an empty path means `dirfd` itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;

/// `access`: the file exists.
pub const F_OK: u32 = 0;
/// `access`: it may be executed (searched, for a directory).
pub const X_OK: u32 = 1;
/// `access`: it may be written.
pub const W_OK: u32 = 2;
/// `access`: it may be read.
pub const R_OK: u32 = 4;

/// `renameat2`: fail with `EEXIST` if the new name exists.
pub const RENAME_NOREPLACE: u32 = 1;
/// `renameat2`: swap the two names.
pub const RENAME_EXCHANGE: u32 = 2;
/// `renameat2`: leave a whiteout (overlay file systems only: `EINVAL` here).
pub const RENAME_WHITEOUT: u32 = 4;

/// `lseek`: from the start.
pub const SEEK_SET: u32 = 0;
/// `lseek`: from the current position.
pub const SEEK_CUR: u32 = 1;
/// `lseek`: from the end.
pub const SEEK_END: u32 = 2;
/// `lseek`: to the next data at or after the offset.
pub const SEEK_DATA: u32 = 3;
/// `lseek`: to the next hole at or after the offset.
pub const SEEK_HOLE: u32 = 4;

/// `poll`: there is data to read.
pub const POLLIN: u16 = 0x1;
/// `poll`: urgent data (never, here).
pub const POLLPRI: u16 = 0x2;
/// `poll`: writing will not block.
pub const POLLOUT: u16 = 0x4;
/// `poll`: an error condition (the read end of a pipe is gone); always reported.
pub const POLLERR: u16 = 0x8;
/// `poll`: hung up (the write end of a pipe is gone); always reported.
pub const POLLHUP: u16 = 0x10;
/// `poll`: the fd is not open; always reported.
pub const POLLNVAL: u16 = 0x20;
/// `poll`: normal data to read (as `POLLIN`).
pub const POLLRDNORM: u16 = 0x40;
/// `poll`: priority-band data to read (never, here).
pub const POLLRDBAND: u16 = 0x80;
/// `poll`: writing normal data will not block (as `POLLOUT`).
pub const POLLWRNORM: u16 = 0x100;
/// `poll`: writing priority-band data will not block (never, here).
pub const POLLWRBAND: u16 = 0x200;
/// What files without a notion of readiness report (Linux's `DEFAULT_POLLMASK`): regular
/// files, directories, devices, `/proc`.
pub const POLL_ALWAYS_READY: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
