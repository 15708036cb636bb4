//! The host calls behind volumes: every `unsafe` of the volume code is here (and in
//! `crate::syscall_result`, shared with the network's: errno checks, owning a new fd). Thin
//! wrappers over libc (openat, fstatat, mkdirat, symlinkat, unlinkat, renameat2, linkat,
//! pread/pwrite into guest RAM, lseek, getdents64, readlinkat, truncate, fchmodat, fchownat,
//! utimensat, fsync, fstatfs) that take fds and C strings and return an [`Errno`] on failure.
//! Every fd made here is close-on-exec.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::syscall_result::{check, check_long, check_size, owned};
pub use crate::syscall_result::{Errno, SysResult};

/// The empty path, for the `AT_EMPTY_PATH` calls.
const EMPTY: &CStr = c"";

/// `/proc/self/fd/N`: the file `fd` holds, for the calls that have no fd form taking an
/// `O_PATH` fd. The magic link names the file itself (not a path to it), so a rename or a
/// symlink swapped in since cannot redirect the call.
pub fn proc_path(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}

/// openat(2) with `flags | O_CLOEXEC`.
pub fn openat(dir: RawFd, name: &CStr, flags: libc::c_int, mode: libc::mode_t) -> SysResult<OwnedFd> {
    // SAFETY: `name` is a live NUL-terminated string; the mode is passed by value.
    owned(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, libc::c_uint::from(mode)) })
}

/// open(2) of a path (a `/proc/self/fd/N` magic link) with `flags | O_CLOEXEC`.
pub fn open(path: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    // SAFETY: `path` is a live NUL-terminated string.
    owned(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) })
}

/// A close-on-exec duplicate of `fd`.
pub fn dup(fd: &OwnedFd) -> SysResult<OwnedFd> {
    fd.try_clone().map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EMFILE)))
}

/// The metadata of the file `fd` holds (a symlink's own, for an `O_PATH` fd of one).
pub fn fstat(fd: &OwnedFd) -> SysResult<libc::stat> {
    // SAFETY: an all-zero stat is a valid value of the plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: the empty path is NUL-terminated and `st` is a live local the kernel fills.
    check(unsafe {
        libc::fstatat(fd.as_raw_fd(), EMPTY.as_ptr(), &mut st, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW)
    })?;
    Ok(st)
}

/// The x86-64 kernel's `struct statfs` (libc's hides `f_flags` among its spare words).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct StatFs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

/// fstatfs(2) (allowed on `O_PATH` fds).
pub fn fstatfs(fd: &OwnedFd) -> SysResult<StatFs> {
    let mut st = StatFs::default();
    // SAFETY: `st` is a live local of the kernel's struct statfs layout (120 bytes), which
    // the kernel fills.
    check_long(unsafe { libc::syscall(libc::SYS_fstatfs, fd.as_raw_fd(), &raw mut st) })?;
    Ok(st)
}

/// mkdirat(2).
pub fn mkdirat(dir: &OwnedFd, name: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: `name` is a live NUL-terminated string.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// symlinkat(2).
pub fn symlinkat(target: &CStr, dir: &OwnedFd, name: &CStr) -> SysResult<()> {
    // SAFETY: both strings are live and NUL-terminated.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// unlinkat(2).
pub fn unlinkat(dir: &OwnedFd, name: &CStr, flags: libc::c_int) -> SysResult<()> {
    // SAFETY: `name` is a live NUL-terminated string.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// renameat2(2) (through syscall(2): not every libc wraps it).
pub fn renameat2(dir: &OwnedFd, name: &CStr, dir2: &OwnedFd, name2: &CStr, flags: libc::c_uint) -> SysResult<()> {
    // SAFETY: both strings are live and NUL-terminated; the rest are integers.
    check_long(unsafe {
        libc::syscall(libc::SYS_renameat2, dir.as_raw_fd(), name.as_ptr(), dir2.as_raw_fd(), name2.as_ptr(), flags)
    })
    .map(drop)
}

/// linkat(2).
pub fn linkat(dir: RawFd, path: &CStr, dir2: &OwnedFd, name2: &CStr, flags: libc::c_int) -> SysResult<()> {
    // SAFETY: both strings are live and NUL-terminated.
    check(unsafe { libc::linkat(dir, path.as_ptr(), dir2.as_raw_fd(), name2.as_ptr(), flags) }).map(drop)
}

/// preadv(2) into `iov`.
///
/// # Safety
/// Every iovec must point at memory that stays valid and writable for the call (guest RAM,
/// from [`crate::memory::GuestMemory::ram_iovecs`], while that memory lives).
pub unsafe fn preadv(fd: &OwnedFd, iov: &[libc::iovec], offset: libc::off_t) -> SysResult<usize> {
    // SAFETY: the caller vouches for the buffers; the array itself is live.
    check_size(unsafe { libc::preadv(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int, offset) })
}

/// pwritev(2) from `iov`.
///
/// # Safety
/// Every iovec must point at memory that stays valid and readable for the call.
pub unsafe fn pwritev(fd: &OwnedFd, iov: &[libc::iovec], offset: libc::off_t) -> SysResult<usize> {
    // SAFETY: the caller vouches for the buffers; the array itself is live.
    check_size(unsafe { libc::pwritev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int, offset) })
}

/// writev(2) from `iov` (at the file offset: at the end, for an `O_APPEND` fd).
///
/// # Safety
/// Every iovec must point at memory that stays valid and readable for the call.
pub unsafe fn writev(fd: &OwnedFd, iov: &[libc::iovec]) -> SysResult<usize> {
    // SAFETY: the caller vouches for the buffers; the array itself is live.
    check_size(unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) })
}

/// lseek(2).
pub fn lseek(fd: &OwnedFd, offset: libc::off_t, whence: libc::c_int) -> SysResult<libc::off_t> {
    // SAFETY: lseek has no memory arguments.
    let r = unsafe { libc::lseek(fd.as_raw_fd(), offset, whence) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// getdents64(2) into `buf`: bytes filled.
pub fn getdents64(fd: &OwnedFd, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    let r = check_long(unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) })?;
    Ok(r as usize)
}

/// readlinkat(2) of an `O_PATH` fd of a symlink (the empty path): bytes of its target in
/// `buf` (cut at `buf.len()`).
pub fn readlink(fd: &OwnedFd, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: the empty path is NUL-terminated and `buf` is a live, writable slice.
    check_size(unsafe { libc::readlinkat(fd.as_raw_fd(), EMPTY.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// truncate(2) of a path.
pub fn truncate(path: &CStr, len: libc::off_t) -> SysResult<()> {
    // SAFETY: `path` is a live NUL-terminated string.
    check(unsafe { libc::truncate(path.as_ptr(), len) }).map(drop)
}

/// ftruncate(2).
pub fn ftruncate(fd: &OwnedFd, len: libc::off_t) -> SysResult<()> {
    // SAFETY: ftruncate has no memory arguments.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map(drop)
}

/// chmod(2) of a path.
pub fn chmod(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: `path` is a live NUL-terminated string.
    check(unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), mode, 0) }).map(drop)
}

/// fchownat(2) of the file `fd` holds (`u32::MAX`: unchanged).
pub fn chown(fd: &OwnedFd, uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: the empty path is NUL-terminated.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), EMPTY.as_ptr(), uid, gid, libc::AT_EMPTY_PATH) }).map(drop)
}

/// utimensat(2) of the file `fd` holds (a symlink's own times, for an `O_PATH` fd of one).
pub fn utimens(fd: &OwnedFd, times: &[libc::timespec; 2]) -> SysResult<()> {
    // SAFETY: the empty path is NUL-terminated and `times` is a live array of two timespecs.
    check(unsafe { libc::utimensat(fd.as_raw_fd(), EMPTY.as_ptr(), times.as_ptr(), libc::AT_EMPTY_PATH) }).map(drop)
}

/// fsync(2), or fdatasync(2) with `data_only`.
pub fn sync(fd: &OwnedFd, data_only: bool) -> SysResult<()> {
    // SAFETY: neither call has memory arguments.
    check(unsafe {
        if data_only {
            libc::fdatasync(fd.as_raw_fd())
        } else {
            libc::fsync(fd.as_raw_fd())
        }
    })
    .map(drop)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (a volume's app may hold many
/// files, each a host fd). A hint: a failure leaves the limit as it was.
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a live local the kernel fills.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 || limit.rlim_cur >= limit.rlim_max {
        return;
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a live, initialised local.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
}
