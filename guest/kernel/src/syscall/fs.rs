//! File syscalls: everything that takes a path or an fd. Paths are read from the app
//! (bounded by PATH_MAX), resolved against the working directory or a directory fd, and
//! handed to the VFS; app buffers are checked (EFAULT) before the VFS touches them.
//!
//! Also pipes (`pipe`, `pipe2`), the copies between fds (`sendfile`, `copy_file_range`, done
//! in the guest through a kernel buffer) and the vectored positioned I/O (`preadv*`,
//! `pwritev*`). A write that fails with EPIPE (a pipe with no reader) raises SIGPIPE, as on
//! Linux: see [`raise_sigpipe`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::flags::{O_APPEND, O_CLOEXEC, O_CREAT, O_NONBLOCK, O_TRUNC, O_WRONLY, SEEK_SET};
use crate::fs::ioctl;
use crate::fs::stat::{FileType, Stat};
use crate::fs::statfs::STATFS_SIZE;
use crate::fs::{Location, Node, OpenFile, TimeChange};
use crate::process::Process;
use crate::user;

pub(super) const AT_FDCWD: i32 = -100;
pub(super) const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EACCESS: u64 = 0x200;
const AT_SYMLINK_FOLLOW: u64 = 0x400;
pub(super) const AT_EMPTY_PATH: u64 = 0x1000;
const PATH_MAX: usize = 4096;
const IOV_MAX: u64 = 1024;
/// Reads and writes larger than this are cut (as Linux caps them at 0x7ffff000).
const MAX_IO: u64 = 0x7fff_f000;

fn fd_arg(raw: u64) -> i32 {
    raw as i32
}

/// A path argument.
pub(super) fn path_arg(p: &mut Process, addr: u64) -> Result<Vec<u8>, Errno> {
    let path = user::read_cstr(&mut p.space, addr, PATH_MAX - 1)?;
    Ok(path)
}

/// Where a relative path starts: the working directory, or directory fd `dirfd`.
pub(super) fn base_of(p: &Process, dirfd: i32, path: &[u8]) -> Result<Location, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(p.vfs.root());
    }
    if dirfd == AT_FDCWD {
        return Ok(p.files.cwd.lock().clone());
    }
    let file = p.file(dirfd)?;
    if !path.is_empty() && !file.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(file.location().clone())
}

/// An fd-or-path target for calls with AT_EMPTY_PATH: the open file itself when the path is
/// empty and the flag is given.
pub(super) fn empty_path_file(
    p: &Process,
    dirfd: i32,
    path: &[u8],
    flags: u64,
) -> Result<Option<Arc<OpenFile>>, Errno> {
    if !path.is_empty() {
        return Ok(None);
    }
    if flags & AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    if dirfd == AT_FDCWD {
        let cwd = p.files.cwd.lock().clone();
        return Ok(Some(Arc::new(OpenFile::new(cwd, crate::fs::flags::O_PATH, Vec::new()))));
    }
    p.file(dirfd).map(Some)
}

/// read(fd, buf, count).
pub fn sys_read(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    if file.is_socket() {
        return super::net::read_socket(p, &file, &[(buf, count.min(MAX_IO))]);
    }
    if let Some(signalfd) = file.signalfd() {
        return super::signalfd::read(p, &file, signalfd, &[(buf, count.min(MAX_IO))]);
    }
    if let Some(result) = super::image_read::try_read(p, &file, buf, count.min(MAX_IO), None) {
        return result;
    }
    blocking_read(p, &file, |p| {
        let out = user::write(&mut p.space, buf, count.min(MAX_IO))?;
        file.read(out)
    })
}

/// [`blocking_io`] for a read. A blocking read of the console waits in the VMM for the host's
/// input: with other threads, that wait happens first with the process unlocked, so they run
/// on (with one thread, the read itself waits: one hypercall fewer).
fn blocking_read(p: &mut Process, file: &OpenFile, op: impl FnMut(&mut Process) -> SysResult) -> SysResult {
    if let Some(console) = file.console_input() {
        if !p.threads.others.is_empty() && !file.is_nonblocking() {
            p.unlocked(|| console.input_ready(u64::MAX));
        }
    }
    blocking_io(p, file, op)
}

/// Runs `op` (a read or write of `file`) until it does not find a blocking pipe or eventfd
/// empty or full: such a file that cannot be read or written now says EAGAIN (see
/// `fs::pipe`, `fs::eventfd`), the answer for O_NONBLOCK; a blocking one waits for another
/// thread to act on it (with one thread that never comes, and the wait lasts, as on Linux,
/// until a signal or the VM stops).
fn blocking_io(p: &mut Process, file: &OpenFile, mut op: impl FnMut(&mut Process) -> SysResult) -> SysResult {
    loop {
        let result = op(p);
        if result != Err(Errno::EAGAIN) || !file.may_block() || file.is_nonblocking() {
            return result;
        }
        crate::wait::wait_for_io(p, None)?;
    }
}

/// write(fd, buf, count).
pub fn sys_write(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    if file.is_socket() {
        return super::net::write_socket(p, &file, &[(buf, count.min(MAX_IO))]);
    }
    let result = blocking_io(p, &file, |p| {
        let data = user::read(&mut p.space, buf, count.min(MAX_IO))?;
        file.write(data)
    });
    sigpipe_on_epipe(p, result)
}

/// Raises SIGPIPE for a write that found no reader (Linux: `send_sig(SIGPIPE, current, 0)`
/// with every EPIPE from a pipe, process-directed, SI_USER from the app itself). It is
/// delivered on the way back to the app: by default it kills the app (status 141); if the
/// app ignores, blocks or handles it, the write returns EPIPE.
pub fn raise_sigpipe(p: &mut Process) {
    use crate::signal::{deliver, si, SigInfo, Signal};
    let info = SigInfo::user(Signal::SIGPIPE as u32, si::USER, p.pid, p.real_uid());
    deliver::send(&mut p.signals, &mut p.thread.signals, deliver::Target::Process, info);
}

/// Passes `result` on, raising SIGPIPE first if it is EPIPE.
fn sigpipe_on_epipe(p: &mut Process, result: SysResult) -> SysResult {
    if result == Err(Errno::EPIPE) {
        raise_sigpipe(p);
    }
    result
}

/// pread64(fd, buf, count, offset).
pub fn sys_pread64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, offset, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    if (offset as i64) >= 0 {
        if let Some(result) = super::image_read::try_read(p, &file, buf, count.min(MAX_IO), Some(offset)) {
            return result;
        }
    }
    let out = user::write(&mut p.space, buf, count.min(MAX_IO))?;
    file.pread(out, offset as i64)
}

/// pwrite64(fd, buf, count, offset).
pub fn sys_pwrite64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, offset, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    let data = user::read(&mut p.space, buf, count.min(MAX_IO))?;
    file.pwrite(data, offset as i64)
}

/// The (base, len) pairs of an iovec array.
fn iovecs(p: &mut Process, iov: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let raw = user::read(&mut p.space, iov, count * 16)?;
    let mut out = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for chunk in raw.chunks_exact(16) {
        let mut w = [0u8; 8];
        w.copy_from_slice(&chunk[..8]);
        let base = u64::from_le_bytes(w);
        w.copy_from_slice(&chunk[8..]);
        let len = u64::from_le_bytes(w);
        total = total.checked_add(len).filter(|&t| t <= isize::MAX as u64).ok_or(Errno::EINVAL)?;
        out.push((base, len));
    }
    Ok(out)
}

/// readv(fd, iov, iovcnt).
pub fn sys_readv(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, ..] = f.syscall_args();
    read_vectored(p, fd_arg(fd), iov, count, None)
}

/// writev(fd, iov, iovcnt): small vectors are gathered into one write (one hypercall on the
/// console, as musl's stdio writes header and data together); not for an eventfd, which
/// Linux writes one iovec at a time (each must be 8 bytes).
pub fn sys_writev(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    let vecs = iovecs(p, iov, count)?;
    if file.is_socket() {
        return super::net::write_socket(p, &file, &vecs);
    }
    let total: u64 = vecs.iter().map(|v| v.1).sum();
    if total <= 64 * 1024 && !file.node().is_anon() {
        let mut gathered = Vec::with_capacity(total as usize);
        for (base, len) in vecs {
            gathered.extend_from_slice(user::read(&mut p.space, base, len)?);
        }
        let result = blocking_io(p, &file, |_| file.write(&gathered));
        return sigpipe_on_epipe(p, result);
    }
    write_vectored(p, fd_arg(fd), iov, count, None)
}

fn open_at(p: &mut Process, dirfd: i32, path_addr: u64, flags: u64, mode: u64) -> SysResult {
    let path = path_arg(p, path_addr)?;
    let base = base_of(p, dirfd, &path)?;
    let mode = (mode as u32) & 0o7777 & !p.umask;
    let file = p.vfs.open(&base, &path, flags as u32, mode)?;
    if file.pipe().is_some_and(|pipe| pipe.is_named()) {
        await_fifo_partner(p, &file)?;
    }
    let fd = p.files.fds.lock().insert(file, flags as u32 & O_CLOEXEC != 0)?;
    Ok(fd as usize)
}

/// A blocking open of a FIFO waits until the other side has opened it (`fs::fifo`), or a
/// signal comes (EINTR: the end opened closes as `file` drops).
#[cold]
#[inline(never)]
fn await_fifo_partner(p: &mut Process, file: &OpenFile) -> Result<(), Errno> {
    let (Some(partner), Some(pipe)) = (crate::fs::fifo::Partner::of(file), file.pipe()) else { return Ok(()) };
    while !partner.arrived(pipe) {
        crate::wait::wait_for_io(p, None)?;
    }
    Ok(())
}

/// open(path, flags, mode).
pub fn sys_open(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [path, flags, mode, ..] = f.syscall_args();
    open_at(p, AT_FDCWD, path, flags, mode)
}

/// openat(dirfd, path, flags, mode).
pub fn sys_openat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, flags, mode, ..] = f.syscall_args();
    open_at(p, fd_arg(dirfd), path, flags, mode)
}

/// close(fd).
pub fn sys_close(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.files.fds.lock().close(fd_arg(f.rdi))?;
    super::locks::closed(p, &file);
    Ok(0)
}

fn stat_out(p: &mut Process, stat: crate::fs::Stat, addr: u64) -> SysResult {
    let mut buf = [0u8; 144];
    stat.write_stat(&mut buf)?;
    user::copy_out(&mut p.space, addr, &buf)?;
    Ok(0)
}

fn stat_at(p: &mut Process, dirfd: i32, path_addr: u64, buf: u64, flags: u64) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800) != 0 {
        return Err(Errno::EINVAL);
    }
    let stat = stat_of(p, dirfd, path_addr, flags)?;
    stat_out(p, stat, buf)
}

/// The metadata `path_addr` names from `dirfd` (the file `dirfd` itself with `AT_EMPTY_PATH`
/// and an empty path), following a final symlink unless `AT_SYMLINK_NOFOLLOW`.
pub(super) fn stat_of(p: &mut Process, dirfd: i32, path_addr: u64, flags: u64) -> Result<Stat, Errno> {
    let path = path_arg(p, path_addr)?;
    match empty_path_file(p, dirfd, &path, flags)? {
        Some(file) => file.stat(),
        None => {
            let base = base_of(p, dirfd, &path)?;
            p.vfs.stat(&base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)
        }
    }
}

/// stat(path, buf).
pub fn sys_stat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    stat_at(p, AT_FDCWD, f.rdi, f.rsi, 0)
}

/// lstat(path, buf).
pub fn sys_lstat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    stat_at(p, AT_FDCWD, f.rdi, f.rsi, AT_SYMLINK_NOFOLLOW)
}

/// fstat(fd, buf).
pub fn sys_fstat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let stat = p.file(fd_arg(f.rdi))?.stat()?;
    stat_out(p, stat, f.rsi)
}

/// newfstatat(dirfd, path, buf, flags).
pub fn sys_newfstatat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, buf, flags, ..] = f.syscall_args();
    stat_at(p, fd_arg(dirfd), path, buf, flags)
}

/// statx(dirfd, path, flags, mask, buf).
pub fn sys_statx(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path_addr, flags, _mask, buf, ..] = f.syscall_args();
    let stat = stat_of(p, fd_arg(dirfd), path_addr, flags)?;
    let mut out = [0u8; 256];
    stat.write_statx(&mut out)?;
    user::copy_out(&mut p.space, buf, &out)?;
    Ok(0)
}

/// lseek(fd, offset, whence).
pub fn sys_lseek(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, offset, whence, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    file.lseek(offset as i64, whence as u32).map(|v| v as usize)
}

fn access_at(p: &mut Process, dirfd: i32, path_addr: u64, mode: u64, flags: u64) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(p, path_addr)?;
    let base = base_of(p, dirfd, &path)?;
    p.vfs.access(&base, &path, mode as u32, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EACCESS != 0)?;
    Ok(0)
}

/// access(path, mode).
pub fn sys_access(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    access_at(p, AT_FDCWD, f.rdi, f.rsi, 0)
}

/// faccessat(dirfd, path, mode).
pub fn sys_faccessat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, mode, ..] = f.syscall_args();
    access_at(p, fd_arg(dirfd), path, mode, 0)
}

/// faccessat2(dirfd, path, mode, flags).
pub fn sys_faccessat2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, mode, flags, ..] = f.syscall_args();
    access_at(p, fd_arg(dirfd), path, mode, flags)
}

/// dup(fd).
pub fn sys_dup(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.files.fds.lock().dup(fd_arg(f.rdi)).map(|fd| fd as usize)
}

/// dup2(old, new).
pub fn sys_dup2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (fd, replaced) = p.files.fds.lock().dup2(fd_arg(f.rdi), fd_arg(f.rsi))?;
    if let Some(replaced) = replaced {
        super::locks::closed(p, &replaced);
    }
    Ok(fd as usize)
}

/// dup3(old, new, flags).
pub fn sys_dup3(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (fd, replaced) = p.files.fds.lock().dup3(fd_arg(f.rdi), fd_arg(f.rsi), f.rdx as u32)?;
    if let Some(replaced) = replaced {
        super::locks::closed(p, &replaced);
    }
    Ok(fd as usize)
}

const F_DUPFD: u64 = 0;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_GETLK: u64 = 5;
const F_SETLK: u64 = 6;
const F_SETLKW: u64 = 7;
const F_OFD_GETLK: u64 = 36;
const F_OFD_SETLK: u64 = 37;
const F_OFD_SETLKW: u64 = 38;
const F_DUPFD_CLOEXEC: u64 = 1030;
const F_SETPIPE_SZ: u64 = 1031;
const F_GETPIPE_SZ: u64 = 1032;
const F_ADD_SEALS: u64 = 1033;
const F_GET_SEALS: u64 = 1034;
const FD_CLOEXEC: u64 = 1;

/// fcntl(fd, cmd, arg).
pub fn sys_fcntl(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, cmd, arg, ..] = f.syscall_args();
    let fd = fd_arg(fd);
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let minimum = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
            p.files.fds.lock().dup_at_least(fd, minimum, cmd == F_DUPFD_CLOEXEC).map(|fd| fd as usize)
        }
        F_GETFD => Ok(if p.files.fds.lock().cloexec(fd)? { FD_CLOEXEC as usize } else { 0 }),
        F_SETFD => p.files.fds.lock().set_cloexec(fd, arg & FD_CLOEXEC != 0).map(|()| 0),
        F_GETFL => Ok(p.file(fd)?.status_flags() as usize),
        F_SETFL => {
            p.file(fd)?.set_status_flags(arg as u32);
            Ok(0)
        }
        F_GETLK | F_SETLK | F_SETLKW => super::locks::fcntl_lock(p, fd, arg, cmd == F_GETLK, cmd == F_SETLKW, false),
        F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            super::locks::fcntl_lock(p, fd, arg, cmd == F_OFD_GETLK, cmd == F_OFD_SETLKW, true)
        }
        F_GETPIPE_SZ => Ok(p.file(fd)?.pipe().ok_or(Errno::EBADF)?.capacity()),
        F_SETPIPE_SZ => p.file(fd)?.pipe().ok_or(Errno::EBADF)?.set_capacity(arg & 0xffff_ffff),
        F_ADD_SEALS => super::memfd::add_seals(p, fd, arg),
        F_GET_SEALS => super::memfd::get_seals(p, fd),
        _ => Err(Errno::EINVAL),
    }
}

/// ioctl(fd, cmd, arg).
pub fn sys_ioctl(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, cmd, arg, ..] = f.syscall_args();
    let fd = fd_arg(fd);
    let cmd = cmd as u32;
    let file = p.file(fd)?;
    match cmd {
        ioctl::FIOCLEX => return p.files.fds.lock().set_cloexec(fd, true).map(|()| 0),
        ioctl::FIONCLEX => return p.files.fds.lock().set_cloexec(fd, false).map(|()| 0),
        _ => {}
    }
    let Some(shape) = ioctl::arg_size(cmd) else {
        if super::ifreq::is_interface_ioctl(cmd) && file.is_socket() {
            return super::ifreq::ioctl(p, &file, cmd, arg);
        }
        return Err(Errno::ENOTTY);
    };
    let mut buf = alloc::vec![0u8; shape.size];
    if shape.input {
        buf.copy_from_slice(user::read(&mut p.space, arg, shape.size as u64)?);
    }
    let r = file.ioctl(cmd, &mut buf)?;
    if shape.output {
        user::copy_out(&mut p.space, arg, &buf)?;
    }
    Ok(r)
}

/// getdents64(fd, dirp, count).
pub fn sys_getdents64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    let out = user::write(&mut p.space, buf, count.min(MAX_IO))?;
    file.getdents64(out)
}

/// getcwd(buf, size): returns the length including the NUL.
pub fn sys_getcwd(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [buf, size, ..] = f.syscall_args();
    let mut path = p.files.cwd.lock().path().to_vec();
    path.push(0);
    if (size as usize) < path.len() {
        return Err(Errno::ERANGE);
    }
    user::copy_out(&mut p.space, buf, &path)?;
    Ok(path.len())
}

/// chdir(path).
pub fn sys_chdir(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let path = path_arg(p, f.rdi)?;
    let base = base_of(p, AT_FDCWD, &path)?;
    let new = p.vfs.chdir(&base, &path)?;
    *p.files.cwd.lock() = new;
    Ok(0)
}

/// fchdir(fd).
pub fn sys_fchdir(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.file(fd_arg(f.rdi))?;
    if !file.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    *p.files.cwd.lock() = file.location().clone();
    Ok(0)
}

fn mkdir_at(p: &mut Process, dirfd: i32, path_addr: u64, mode: u64) -> SysResult {
    let path = path_arg(p, path_addr)?;
    let base = base_of(p, dirfd, &path)?;
    p.vfs.mkdir(&base, &path, (mode as u32) & 0o7777 & !p.umask)?;
    Ok(0)
}

/// mkdir(path, mode).
pub fn sys_mkdir(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    mkdir_at(p, AT_FDCWD, f.rdi, f.rsi)
}

/// mkdirat(dirfd, path, mode).
pub fn sys_mkdirat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    mkdir_at(p, fd_arg(f.rdi), f.rsi, f.rdx)
}

/// rmdir(path).
pub fn sys_rmdir(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let path = path_arg(p, f.rdi)?;
    let base = base_of(p, AT_FDCWD, &path)?;
    p.vfs.rmdir(&base, &path)?;
    Ok(0)
}

/// unlink(path).
pub fn sys_unlink(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let path = path_arg(p, f.rdi)?;
    let base = base_of(p, AT_FDCWD, &path)?;
    p.vfs.unlink(&base, &path)?;
    Ok(0)
}

/// unlinkat(dirfd, path, flags).
pub fn sys_unlinkat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path_addr, flags, ..] = f.syscall_args();
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(p, path_addr)?;
    let base = base_of(p, fd_arg(dirfd), &path)?;
    if flags & AT_REMOVEDIR != 0 {
        p.vfs.rmdir(&base, &path)?;
    } else {
        p.vfs.unlink(&base, &path)?;
    }
    Ok(0)
}

fn rename_at(p: &mut Process, olddir: i32, old: u64, newdir: i32, new: u64, flags: u64) -> SysResult {
    let old = path_arg(p, old)?;
    let new = path_arg(p, new)?;
    let old_base = base_of(p, olddir, &old)?;
    let new_base = base_of(p, newdir, &new)?;
    p.vfs.rename(&old_base, &old, &new_base, &new, flags as u32)?;
    Ok(0)
}

/// rename(old, new).
pub fn sys_rename(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    rename_at(p, AT_FDCWD, f.rdi, AT_FDCWD, f.rsi, 0)
}

/// renameat(olddirfd, old, newdirfd, new).
pub fn sys_renameat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [od, o, nd, n, ..] = f.syscall_args();
    rename_at(p, fd_arg(od), o, fd_arg(nd), n, 0)
}

/// renameat2(olddirfd, old, newdirfd, new, flags).
pub fn sys_renameat2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [od, o, nd, n, flags, ..] = f.syscall_args();
    rename_at(p, fd_arg(od), o, fd_arg(nd), n, flags)
}

fn symlink_at(p: &mut Process, target: u64, dirfd: i32, path: u64) -> SysResult {
    let target = path_arg(p, target)?;
    let path = path_arg(p, path)?;
    let base = base_of(p, dirfd, &path)?;
    p.vfs.symlink(&target, &base, &path)?;
    Ok(0)
}

/// symlink(target, linkpath).
pub fn sys_symlink(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    symlink_at(p, f.rdi, AT_FDCWD, f.rsi)
}

/// symlinkat(target, newdirfd, linkpath).
pub fn sys_symlinkat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    symlink_at(p, f.rdi, fd_arg(f.rsi), f.rdx)
}

fn readlink_at(p: &mut Process, dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    if size == 0 || size > i32::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(p, path)?;
    let base = base_of(p, dirfd, &path)?;
    let target = p.vfs.readlink(&base, &path)?;
    let n = target.len().min(size as usize);
    user::copy_out(&mut p.space, buf, &target[..n])?;
    Ok(n)
}

/// readlink(path, buf, size).
pub fn sys_readlink(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    readlink_at(p, AT_FDCWD, f.rdi, f.rsi, f.rdx)
}

/// readlinkat(dirfd, path, buf, size).
pub fn sys_readlinkat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, buf, size, ..] = f.syscall_args();
    readlink_at(p, fd_arg(dirfd), path, buf, size)
}

fn chmod_at(p: &mut Process, dirfd: i32, path: u64, mode: u64, follow: bool) -> SysResult {
    let path = path_arg(p, path)?;
    let base = base_of(p, dirfd, &path)?;
    p.vfs.chmod(&base, &path, mode as u32 & 0o7777, follow)?;
    Ok(0)
}

/// chmod(path, mode).
pub fn sys_chmod(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    chmod_at(p, AT_FDCWD, f.rdi, f.rsi, true)
}

/// fchmod(fd, mode).
pub fn sys_fchmod(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.file(fd_arg(f.rdi))?;
    if crate::fs::access::restricted() {
        crate::fs::access::check_mode_change(p.vfs.caller(), &file.stat()?)?;
    }
    file.chmod(f.rsi as u32 & 0o7777)?;
    Ok(0)
}

/// fchmodat(dirfd, path, mode).
pub fn sys_fchmodat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    chmod_at(p, fd_arg(f.rdi), f.rsi, f.rdx, true)
}

/// fchmodat2(dirfd, path, mode, flags): fchmodat with `AT_SYMLINK_NOFOLLOW` (a symlink itself
/// is `EOPNOTSUPP`, as on Linux's file systems) and `AT_EMPTY_PATH` (the fd's own file, an
/// `O_PATH` one too); other flags `EINVAL`.
pub fn sys_fchmodat2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path_addr, mode, flags, ..] = f.syscall_args();
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let dirfd = fd_arg(dirfd);
    let path = path_arg(p, path_addr)?;
    if let Some(file) = empty_path_file(p, dirfd, &path, flags)? {
        p.vfs.chmod_location(file.location(), mode as u32 & 0o7777)?;
        return Ok(0);
    }
    chmod_at(p, dirfd, path_addr, mode, flags & AT_SYMLINK_NOFOLLOW == 0)
}

fn chown_at(p: &mut Process, dirfd: i32, path: u64, uid: u64, gid: u64, flags: u64) -> SysResult {
    let path = path_arg(p, path)?;
    if let Some(file) = empty_path_file(p, dirfd, &path, flags)? {
        crate::fs::access::check_chown(p.vfs.caller(), &file.stat()?, uid as u32, gid as u32)?;
        file.chown(uid as u32, gid as u32)?;
        return Ok(0);
    }
    let base = base_of(p, dirfd, &path)?;
    p.vfs.chown(&base, &path, uid as u32, gid as u32, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    Ok(0)
}

/// chown(path, uid, gid).
pub fn sys_chown(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    chown_at(p, AT_FDCWD, f.rdi, f.rsi, f.rdx, 0)
}

/// lchown(path, uid, gid).
pub fn sys_lchown(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    chown_at(p, AT_FDCWD, f.rdi, f.rsi, f.rdx, AT_SYMLINK_NOFOLLOW)
}

/// fchown(fd, uid, gid).
pub fn sys_fchown(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.file(fd_arg(f.rdi))?;
    crate::fs::access::check_chown(p.vfs.caller(), &file.stat()?, f.rsi as u32, f.rdx as u32)?;
    file.chown(f.rsi as u32, f.rdx as u32)?;
    Ok(0)
}

/// fchownat(dirfd, path, uid, gid, flags).
pub fn sys_fchownat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path, uid, gid, flags, ..] = f.syscall_args();
    chown_at(p, fd_arg(dirfd), path, uid, gid, flags)
}

/// umask(mask): returns the previous mask.
pub fn sys_umask(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let old = p.umask;
    p.umask = f.rdi as u32 & 0o777;
    Ok(old as usize)
}

/// truncate(path, length).
pub fn sys_truncate(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let path = path_arg(p, f.rdi)?;
    let base = base_of(p, AT_FDCWD, &path)?;
    p.vfs.truncate(&base, &path, f.rsi as i64)?;
    Ok(0)
}

/// ftruncate(fd, length).
pub fn sys_ftruncate(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.file(fd_arg(f.rdi))?.truncate(f.rsi as i64)?;
    Ok(0)
}

/// fsync(fd): a volume's file goes to the host's disk (the host's fsync); the other files
/// live in memory, so there is nothing to write back once the fd is checked.
pub fn sys_fsync(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.file(fd_arg(f.rdi))?.sync(false)?;
    Ok(0)
}

/// fdatasync(fd): as fsync, the data only (the host's fdatasync).
pub fn sys_fdatasync(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.file(fd_arg(f.rdi))?.sync(true)?;
    Ok(0)
}

/// utimensat(dirfd, path, times, flags).
pub fn sys_utimensat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path_addr, times, flags, ..] = f.syscall_args();
    let (atime, mtime) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let raw = user::read(&mut p.space, times, 32)?;
        (TimeChange::from_timespec(word(raw, 0), word(raw, 1))?, TimeChange::from_timespec(word(raw, 2), word(raw, 3))?)
    };
    set_times(p, dirfd, path_addr, atime, mtime, flags)
}

/// Word `i` (an `i64`) of `raw`, which holds at least `8 * (i + 1)` bytes.
fn word(raw: &[u8], i: usize) -> i64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
    i64::from_le_bytes(w)
}

/// Sets the times of what `dirfd` and `path_addr` name (NULL: the file open as `dirfd`),
/// `utimensat`'s way (`flags`: `AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`).
fn set_times(
    p: &mut Process,
    dirfd: u64,
    path_addr: u64,
    atime: TimeChange,
    mtime: TimeChange,
    flags: u64,
) -> SysResult {
    let dirfd = fd_arg(dirfd);
    if path_addr == 0 {
        // utimensat(fd, NULL, ...) changes the file open as `dirfd` (futimens).
        let file = p.file(dirfd)?;
        if crate::fs::access::restricted() {
            crate::fs::access::check_times(p.vfs.caller(), &file.stat()?, atime, mtime)?;
        }
        file.set_times(atime, mtime)?;
        return Ok(0);
    }
    let path = path_arg(p, path_addr)?;
    if let Some(file) = empty_path_file(p, dirfd, &path, flags)? {
        if crate::fs::access::restricted() {
            crate::fs::access::check_times(p.vfs.caller(), &file.stat()?, atime, mtime)?;
        }
        file.set_times(atime, mtime)?;
        return Ok(0);
    }
    let base = base_of(p, dirfd, &path)?;
    p.vfs.utimens(&base, &path, atime, mtime, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    Ok(0)
}

/// futimesat(dirfd, path, times): the older form of utimensat, with two `struct timeval`s
/// (microseconds: `EINVAL` outside 0..1000000) or NULL for now; a NULL path changes the file
/// open as `dirfd`.
pub fn sys_futimesat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path_addr, times, ..] = f.syscall_args();
    timeval_times(p, dirfd, path_addr, times)
}

/// utimes(path, times): [`sys_futimesat`] from the working directory.
pub fn sys_utimes(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [path_addr, times, ..] = f.syscall_args();
    timeval_times(p, AT_FDCWD as u64, path_addr, times)
}

/// utime(path, times): `struct utimbuf` (access and modification time in seconds) or NULL
/// for now, from the working directory.
pub fn sys_utime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [path_addr, times, ..] = f.syscall_args();
    let (atime, mtime) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let raw = user::read(&mut p.space, times, 16)?;
        (TimeChange::from_timespec(word(raw, 0), 0)?, TimeChange::from_timespec(word(raw, 1), 0)?)
    };
    set_times(p, AT_FDCWD as u64, path_addr, atime, mtime, 0)
}

/// The times of `utimes`/`futimesat`: two `struct timeval`s at `times`, or NULL for now.
fn timeval_times(p: &mut Process, dirfd: u64, path_addr: u64, times: u64) -> SysResult {
    let (atime, mtime) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let raw = user::read(&mut p.space, times, 32)?;
        let set = |sec: i64, usec: i64| match usec {
            0..=999_999 => TimeChange::from_timespec(sec, usec * 1000),
            _ => Err(Errno::EINVAL),
        };
        (set(word(raw, 0), word(raw, 1))?, set(word(raw, 2), word(raw, 3))?)
    };
    set_times(p, dirfd, path_addr, atime, mtime, 0)
}

// ---------------------------------------------------------------- pipes

/// Makes a pipe with `pipe2` flags and stores its read and write fds at `fds` (two ints).
fn make_pipe(p: &mut Process, fds: u64, flags: u64) -> SysResult {
    // O_DIRECT (packet mode) is not implemented: EINVAL, as for any other flag.
    if flags & !u64::from(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    user::write(&mut p.space, fds, 8)?;
    let (read_end, write_end) = p.vfs.pipe(flags as u32);
    let cloexec = flags & u64::from(O_CLOEXEC) != 0;
    let (read_fd, write_fd) = {
        let mut table = p.files.fds.lock();
        let read_fd = table.insert(read_end, cloexec)?;
        match table.insert(write_end, cloexec) {
            Ok(write_fd) => (read_fd, write_fd),
            Err(e) => {
                let closed = table.close(read_fd);
                drop(table);
                drop(closed);
                return Err(e);
            }
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&read_fd.to_le_bytes());
    out[4..].copy_from_slice(&write_fd.to_le_bytes());
    user::copy_out(&mut p.space, fds, &out)?;
    Ok(0)
}

/// pipe(fds).
pub fn sys_pipe(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    make_pipe(p, f.rdi, 0)
}

/// pipe2(fds, flags): O_CLOEXEC, O_NONBLOCK.
pub fn sys_pipe2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    make_pipe(p, f.rdi, f.rsi)
}

// ---------------------------------------------------------------- copies between fds

/// Bytes moved per step of sendfile and copy_file_range.
const COPY_CHUNK: usize = 64 * 1024;

/// An `loff_t *` argument: the offset it points to, or `None` for NULL.
fn offset_arg(p: &mut Process, addr: u64) -> Result<Option<i64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    Ok(Some(user::read_u64(&mut p.space, addr)? as i64))
}

/// sendfile(out_fd, in_fd, offset, count): copies from `in_fd` (at `*offset`, which is
/// updated, or at and advancing its position) to `out_fd`. Linux's checks: EBADF for an
/// input not open for reading or an output not open for writing, ESPIPE for an offset on an
/// unseekable input, EINVAL for a negative offset, an O_APPEND output, or an input that cannot
/// be read this way (a pipe or directory). Bytes read from an unseekable input (the console, a
/// device) that the output does not take are lost.
pub fn sys_sendfile(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let output = p.file(fd_arg(f.rdi))?;
    blocking_io(p, &output, |p| sendfile_once(p, f))
}

/// One try of sendfile: EAGAIN when a pipe output is full before anything was written.
fn sendfile_once(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [out_fd, in_fd, offset_addr, count, ..] = f.syscall_args();
    let input = p.file(fd_arg(in_fd))?;
    if !input.is_readable() {
        return Err(Errno::EBADF);
    }
    let seekable = input.node().is_seekable();
    let start = match offset_arg(p, offset_addr)? {
        Some(_) if !seekable => return Err(Errno::ESPIPE),
        Some(offset) => offset,
        None => input.position() as i64,
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let output = p.file(fd_arg(out_fd))?;
    if !output.is_writable() {
        return Err(Errno::EBADF);
    }
    if (output.pipe().is_none() && output.status_flags() & O_APPEND != 0)
        || input.is_dir()
        || matches!(input.node(), Node::Pipe(_))
        || input.node().is_anon()
        || output.node().is_anon()
    {
        return Err(Errno::EINVAL);
    }
    let count = count.min(MAX_IO) as usize;
    let mut buf = alloc::vec![0u8; count.min(COPY_CHUNK)];
    let mut done = 0usize;
    let mut failure = None;
    while done < count {
        let want = (count - done).min(buf.len());
        let read =
            if seekable { input.pread(&mut buf[..want], start + done as i64) } else { input.read(&mut buf[..want]) };
        let got = match read {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let mut written = 0;
        while written < got {
            match output.write(&buf[written..got]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        done += written;
        if written < got {
            break;
        }
    }
    let end = start + done as i64;
    if offset_addr != 0 {
        user::write_u64(&mut p.space, offset_addr, end as u64)?;
    } else if seekable && done > 0 {
        input.lseek(end, SEEK_SET)?;
    }
    match failure {
        Some(e) if done == 0 => sigpipe_on_epipe(p, Err(e)),
        _ => Ok(done),
    }
}

/// copy_file_range(fd_in, off_in, fd_out, off_out, len, flags): copies between regular
/// files of one file system, as Linux does for tmpfs: EINVAL for flags or a non-regular file
/// (EISDIR for a directory), EBADF for wrong access modes or an O_APPEND output, EXDEV across
/// mounts, EINVAL for overlapping ranges of one file. Stops at the input's end.
pub fn sys_copy_file_range(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd_in, off_in, fd_out, off_out, len, flags] = f.syscall_args();
    let input = p.file(fd_arg(fd_in))?;
    let output = p.file(fd_arg(fd_out))?;
    let in_offset = offset_arg(p, off_in)?;
    let out_offset = offset_arg(p, off_out)?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (in_type, out_type) = (input.node().file_type(), output.node().file_type());
    if in_type == FileType::Directory || out_type == FileType::Directory {
        return Err(Errno::EISDIR);
    }
    if in_type != FileType::Regular || out_type != FileType::Regular {
        return Err(Errno::EINVAL);
    }
    if !input.is_readable() || !output.is_writable() || output.status_flags() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    if input.location().mount_id() != output.location().mount_id() {
        return Err(Errno::EXDEV);
    }
    let pos_in = in_offset.unwrap_or(input.position() as i64);
    let pos_out = out_offset.unwrap_or(output.position() as i64);
    if pos_in < 0 || pos_out < 0 {
        return Err(Errno::EINVAL);
    }
    let (pos_in, pos_out) = (pos_in as u64, pos_out as u64);
    let len = len.min(MAX_IO);
    if pos_in.checked_add(len).is_none() || pos_out.checked_add(len).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let size_in = input.node().size();
    let count = if pos_in >= size_in { 0 } else { len.min(size_in - pos_in) };
    if input.node().same_file(output.node()) && pos_out + count > pos_in && pos_out < pos_in + count {
        return Err(Errno::EINVAL);
    }
    let mut buf = alloc::vec![0u8; (count as usize).min(COPY_CHUNK)];
    let mut done = 0u64;
    while done < count {
        let want = ((count - done) as usize).min(buf.len());
        let got = match input.pread(&mut buf[..want], (pos_in + done) as i64) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let written = match output.pwrite(&buf[..got], (pos_out + done) as i64) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => 0,
        };
        done += written as u64;
        if written < got {
            break;
        }
    }
    if done > 0 {
        match in_offset {
            Some(_) => user::write_u64(&mut p.space, off_in, pos_in + done)?,
            None => {
                input.lseek((pos_in + done) as i64, SEEK_SET)?;
            }
        }
        match out_offset {
            Some(_) => user::write_u64(&mut p.space, off_out, pos_out + done)?,
            None => {
                output.lseek((pos_out + done) as i64, SEEK_SET)?;
            }
        }
    }
    Ok(done as usize)
}

// ---------------------------------------------------------------- vectored positioned I/O

/// `RWF_HIPRI`, `RWF_DSYNC`, `RWF_SYNC`, `RWF_NOWAIT`: hints with nothing to do here (data
/// lives in memory, and nothing waits).
const RWF_HARMLESS: u64 = 0x1 | 0x2 | 0x4 | 0x8;

/// Moves data through each iovec in turn with `step(p, base, len, done so far)`, stopping at
/// the first short step; an error after some data was moved returns what was moved (a pipe
/// that ran dry, say), as Linux does.
fn each_iovec(
    p: &mut Process,
    vecs: &[(u64, u64)],
    mut step: impl FnMut(&mut Process, u64, u64, usize) -> SysResult,
) -> SysResult {
    let mut done = 0usize;
    for &(base, len) in vecs {
        if len == 0 {
            continue;
        }
        let n = match step(p, base, len, done) {
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        done += n;
        if n < len as usize {
            break;
        }
    }
    Ok(done)
}

/// Reads into the iovecs at `offset` (the file position stays), or at the file position
/// (which advances) for `None`.
fn read_vectored(p: &mut Process, fd: i32, iov: u64, count: u64, offset: Option<i64>) -> SysResult {
    let file = p.file(fd)?;
    let vecs = iovecs(p, iov, count)?;
    if file.is_socket() && offset.is_none() {
        return super::net::read_socket(p, &file, &vecs);
    }
    if let (Some(signalfd), None) = (file.signalfd(), offset) {
        return super::signalfd::read(p, &file, signalfd, &vecs);
    }
    let read = |p: &mut Process| {
        each_iovec(p, &vecs, |p, base, len, done| {
            let out = user::write(&mut p.space, base, len)?;
            match offset {
                Some(offset) => file.pread(out, offset + done as i64),
                None => file.read(out),
            }
        })
    };
    match offset {
        // A positioned read of the console is ESPIPE at once: no wait for input first.
        Some(_) => blocking_io(p, &file, read),
        None => blocking_read(p, &file, read),
    }
}

/// Writes the iovecs at `offset` (the file position stays), or at the file position (which
/// advances) for `None`.
fn write_vectored(p: &mut Process, fd: i32, iov: u64, count: u64, offset: Option<i64>) -> SysResult {
    let file = p.file(fd)?;
    let vecs = iovecs(p, iov, count)?;
    let result = blocking_io(p, &file, |p| {
        each_iovec(p, &vecs, |p, base, len, done| {
            let data = user::read(&mut p.space, base, len)?;
            match offset {
                Some(offset) => file.pwrite(data, offset + done as i64),
                None => file.write(data),
            }
        })
    });
    sigpipe_on_epipe(p, result)
}

/// The offset of preadv/pwritev (`pos_l`; on 64-bit Linux `pos_h` adds nothing): EINVAL if
/// negative.
fn vector_offset(pos: u64) -> Result<i64, Errno> {
    let pos = pos as i64;
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(pos)
}

/// The offset of preadv2/pwritev2: -1 means the file position; flags beyond the harmless
/// hints are EOPNOTSUPP.
fn vector2_offset(pos: u64, flags: u64) -> Result<Option<i64>, Errno> {
    let pos = pos as i64;
    if pos < -1 {
        return Err(Errno::EINVAL);
    }
    if flags & !RWF_HARMLESS != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok((pos != -1).then_some(pos))
}

/// preadv(fd, iov, iovcnt, pos_l, pos_h).
pub fn sys_preadv(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, pos, ..] = f.syscall_args();
    let offset = vector_offset(pos)?;
    read_vectored(p, fd_arg(fd), iov, count, Some(offset))
}

/// pwritev(fd, iov, iovcnt, pos_l, pos_h).
pub fn sys_pwritev(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, pos, ..] = f.syscall_args();
    let offset = vector_offset(pos)?;
    write_vectored(p, fd_arg(fd), iov, count, Some(offset))
}

/// preadv2(fd, iov, iovcnt, pos_l, pos_h, flags).
pub fn sys_preadv2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, pos, _, flags] = f.syscall_args();
    let offset = vector2_offset(pos, flags)?;
    read_vectored(p, fd_arg(fd), iov, count, offset)
}

/// pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags).
pub fn sys_pwritev2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, pos, _, flags] = f.syscall_args();
    let offset = vector2_offset(pos, flags)?;
    write_vectored(p, fd_arg(fd), iov, count, offset)
}

// ---------------------------------------------------------------- more path and fd calls

/// creat(path, mode): open(path, O_CREAT | O_WRONLY | O_TRUNC, mode).
pub fn sys_creat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    open_at(p, AT_FDCWD, f.rdi, u64::from(O_CREAT | O_WRONLY | O_TRUNC), f.rsi)
}

fn link_at(p: &mut Process, olddir: i32, old: u64, newdir: i32, new: u64, flags: u64) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = path_arg(p, old)?;
    let new = path_arg(p, new)?;
    let new_base = base_of(p, newdir, &new)?;
    if let Some(file) = empty_path_file(p, olddir, &old, flags)? {
        p.vfs.link_location(file.location(), &new_base, &new)?;
        return Ok(0);
    }
    let old_base = base_of(p, olddir, &old)?;
    p.vfs.link(&old_base, &old, &new_base, &new, flags & AT_SYMLINK_FOLLOW != 0)?;
    Ok(0)
}

/// link(old, new).
pub fn sys_link(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    link_at(p, AT_FDCWD, f.rdi, AT_FDCWD, f.rsi, 0)
}

/// linkat(olddirfd, old, newdirfd, new, flags): AT_SYMLINK_FOLLOW, AT_EMPTY_PATH.
pub fn sys_linkat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [od, o, nd, n, flags, ..] = f.syscall_args();
    link_at(p, fd_arg(od), o, fd_arg(nd), n, flags)
}

fn mknod_at(p: &mut Process, dirfd: i32, path: u64, mode: u64) -> SysResult {
    let path = path_arg(p, path)?;
    let base = base_of(p, dirfd, &path)?;
    let mode = mode as u32;
    let mode = (mode & crate::fs::stat::S_IFMT) | (mode & 0o7777 & !p.umask);
    p.vfs.mknod(&base, &path, mode)?;
    Ok(0)
}

/// mknod(path, mode, dev).
pub fn sys_mknod(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    mknod_at(p, AT_FDCWD, f.rdi, f.rsi)
}

/// mknodat(dirfd, path, mode, dev).
pub fn sys_mknodat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    mknod_at(p, fd_arg(f.rdi), f.rsi, f.rdx)
}

fn statfs_out(p: &mut Process, location: &Location, buf: u64) -> SysResult {
    let mut out = [0u8; STATFS_SIZE];
    p.vfs.statfs(location).write_statfs(&mut out)?;
    user::copy_out(&mut p.space, buf, &out)?;
    Ok(0)
}

/// statfs(path, buf).
pub fn sys_statfs(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let path = path_arg(p, f.rdi)?;
    let base = base_of(p, AT_FDCWD, &path)?;
    let location = p.vfs.resolve(&base, &path, true)?;
    statfs_out(p, &location, f.rsi)
}

/// fstatfs(fd, buf) (O_PATH fds too).
pub fn sys_fstatfs(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.file(fd_arg(f.rdi))?;
    statfs_out(p, file.location(), f.rsi)
}

/// sync(): everything lives in memory; nothing to write back.
pub fn sys_sync(_: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(0)
}

/// syncfs(fd): as sync (a no-op but for a volume's file, which is synced as fsync does),
/// once the fd is checked.
pub fn sys_syncfs(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.file(fd_arg(f.rdi))?;
    if let crate::fs::Node::Host(node) = file.node() {
        node.sync(false)?;
    }
    Ok(0)
}

/// fadvise64(fd, offset, len, advice): a hint (no-op) once the arguments are checked:
/// ESPIPE for a pipe, EINVAL for a negative length or an unknown advice.
pub fn sys_fadvise64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, _offset, len, advice, ..] = f.syscall_args();
    let file = p.used_file(fd_arg(fd))?;
    if file.pipe().is_some() {
        return Err(Errno::ESPIPE);
    }
    if (len as i64) < 0 || advice > 5 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// readahead(fd, offset, count): a hint (no-op: files are in memory already) once the fd is
/// checked: EBADF unless open for reading, EINVAL unless a regular file.
pub fn sys_readahead(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let file = p.used_file(fd_arg(f.rdi))?;
    if !file.is_readable() {
        return Err(Errno::EBADF);
    }
    if file.stat()?.file_type() != Some(crate::fs::stat::FileType::Regular) {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// sync_file_range(fd, offset, nbytes, flags): nothing to write back (no-op: files live in
/// memory) once the arguments are checked: EINVAL for unknown flags or a negative range,
/// ESPIPE for a pipe.
pub fn sys_sync_file_range(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, offset, nbytes, flags, ..] = f.syscall_args();
    let file = p.used_file(fd_arg(fd))?;
    if flags & !7 != 0 || (offset as i64) < 0 || (nbytes as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if file.pipe().is_some() {
        return Err(Errno::ESPIPE);
    }
    // SYNC_FILE_RANGE_WRITE on a volume's file: its data goes to the host's disk.
    if let crate::fs::Node::Host(node) = file.node() {
        if flags & 2 != 0 {
            node.sync(true)?;
        }
    }
    Ok(0)
}

/// fallocate(fd, mode, offset, len).
pub fn sys_fallocate(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, mode, offset, len, ..] = f.syscall_args();
    p.used_file(fd_arg(fd))?.fallocate(mode as u32, offset as i64, len as i64)?;
    Ok(0)
}

/// close_range(first, last, flags): CLOSE_RANGE_CLOEXEC marks instead of closing;
/// CLOSE_RANGE_UNSHARE has nothing to unshare (one fd table).
pub fn sys_close_range(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
    const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
    let [first, last, flags, ..] = f.syscall_args();
    let (first, last) = (first as u32, last as u32);
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & CLOSE_RANGE_CLOEXEC != 0 {
        p.files.fds.lock().set_cloexec_range(first, last);
        return Ok(0);
    }
    let closed = p.files.fds.lock().close_range(first, last);
    for file in &closed {
        super::locks::closed(p, file);
    }
    Ok(0)
}
