//! File syscalls: everything that takes a path or an fd. Paths are read from the app
//! (bounded by PATH_MAX), resolved against the working directory or a directory fd, and
//! handed to the VFS; app buffers are checked (EFAULT) before the VFS touches them.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::flags::O_CLOEXEC;
use crate::fs::ioctl;
use crate::fs::{Location, OpenFile, TimeChange};
use crate::process::Process;
use crate::user;

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EACCESS: u64 = 0x200;
const AT_EMPTY_PATH: u64 = 0x1000;
const PATH_MAX: usize = 4096;
const IOV_MAX: u64 = 1024;
/// Reads and writes larger than this are cut (as Linux caps them at 0x7ffff000).
const MAX_IO: u64 = 0x7fff_f000;

fn fd_arg(raw: u64) -> i32 {
    raw as i32
}

/// A path argument.
fn path_arg(p: &mut Process, addr: u64) -> Result<Vec<u8>, Errno> {
    let path = user::read_cstr(&mut p.space, addr, PATH_MAX - 1)?;
    Ok(path)
}

/// Where a relative path starts: the working directory, or directory fd `dirfd`.
fn base_of(p: &Process, dirfd: i32, path: &[u8]) -> Result<Location, Errno> {
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
fn empty_path_file(p: &Process, dirfd: i32, path: &[u8], flags: u64) -> Result<Option<Arc<OpenFile>>, Errno> {
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
    let out = user::write(&mut p.space, buf, count.min(MAX_IO))?;
    file.read(out)
}

/// write(fd, buf, count).
pub fn sys_write(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    let data = user::read(&mut p.space, buf, count.min(MAX_IO))?;
    file.write(data)
}

/// pread64(fd, buf, count, offset).
pub fn sys_pread64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, offset, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
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
    let file = p.file(fd_arg(fd))?;
    let mut done = 0;
    for (base, len) in iovecs(p, iov, count)? {
        if len == 0 {
            continue;
        }
        let out = user::write(&mut p.space, base, len)?;
        let n = file.read(out)?;
        done += n;
        if n < len as usize {
            break;
        }
    }
    Ok(done)
}

/// writev(fd, iov, iovcnt): small vectors are gathered into one write (one hypercall on the
/// console, as musl's stdio writes header and data together).
pub fn sys_writev(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, iov, count, ..] = f.syscall_args();
    let file = p.file(fd_arg(fd))?;
    let vecs = iovecs(p, iov, count)?;
    let total: u64 = vecs.iter().map(|v| v.1).sum();
    if total <= 64 * 1024 {
        let mut gathered = Vec::with_capacity(total as usize);
        for (base, len) in vecs {
            gathered.extend_from_slice(user::read(&mut p.space, base, len)?);
        }
        return file.write(&gathered);
    }
    let mut done = 0;
    for (base, len) in vecs {
        if len == 0 {
            continue;
        }
        let data = user::read(&mut p.space, base, len)?;
        let n = file.write(data)?;
        done += n;
        if n < len as usize {
            break;
        }
    }
    Ok(done)
}

fn open_at(p: &mut Process, dirfd: i32, path_addr: u64, flags: u64, mode: u64) -> SysResult {
    let path = path_arg(p, path_addr)?;
    let base = base_of(p, dirfd, &path)?;
    let mode = (mode as u32) & 0o7777 & !p.umask;
    let file = p.vfs.open(&base, &path, flags as u32, mode)?;
    let fd = p.files.fds.lock().insert(file, flags as u32 & O_CLOEXEC != 0)?;
    Ok(fd as usize)
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
    drop(file);
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
    let path = path_arg(p, path_addr)?;
    let stat = match empty_path_file(p, dirfd, &path, flags)? {
        Some(file) => file.stat()?,
        None => {
            let base = base_of(p, dirfd, &path)?;
            p.vfs.stat(&base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?
        }
    };
    stat_out(p, stat, buf)
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
    let dirfd = fd_arg(dirfd);
    let path = path_arg(p, path_addr)?;
    let stat = match empty_path_file(p, dirfd, &path, flags)? {
        Some(file) => file.stat()?,
        None => {
            let base = base_of(p, dirfd, &path)?;
            p.vfs.stat(&base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?
        }
    };
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
    p.vfs.access(&base, &path, mode as u32, flags & AT_SYMLINK_NOFOLLOW == 0)?;
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
    drop(replaced);
    Ok(fd as usize)
}

/// dup3(old, new, flags).
pub fn sys_dup3(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (fd, replaced) = p.files.fds.lock().dup3(fd_arg(f.rdi), fd_arg(f.rsi), f.rdx as u32)?;
    drop(replaced);
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
const FD_CLOEXEC: u64 = 1;
const F_UNLCK: u16 = 2;

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
        // Record locks: the app is the only process, and a process never conflicts with its
        // own locks, so every lock is granted (no-op) and F_GETLK reports "unlocked".
        F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW => {
            p.file(fd)?;
            Ok(0)
        }
        F_GETLK | F_OFD_GETLK => {
            p.file(fd)?;
            user::copy_out(&mut p.space, arg, &F_UNLCK.to_le_bytes())?;
            Ok(0)
        }
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
    let Some(shape) = ioctl::arg_size(cmd) else { return Err(Errno::ENOTTY) };
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
    p.file(fd_arg(f.rdi))?.chmod(f.rsi as u32 & 0o7777)?;
    Ok(0)
}

/// fchmodat(dirfd, path, mode).
pub fn sys_fchmodat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    chmod_at(p, fd_arg(f.rdi), f.rsi, f.rdx, true)
}

fn chown_at(p: &mut Process, dirfd: i32, path: u64, uid: u64, gid: u64, flags: u64) -> SysResult {
    let path = path_arg(p, path)?;
    if let Some(file) = empty_path_file(p, dirfd, &path, flags)? {
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
    p.file(fd_arg(f.rdi))?.chown(f.rsi as u32, f.rdx as u32)?;
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

/// fsync(fd), fdatasync(fd): everything lives in memory, so there is nothing to write back;
/// the fd is checked.
pub fn sys_fsync(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.file(fd_arg(f.rdi))?.sync()?;
    Ok(0)
}

/// utimensat(dirfd, path, times, flags).
pub fn sys_utimensat(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [dirfd, path_addr, times, flags, ..] = f.syscall_args();
    let (atime, mtime) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let raw = user::read(&mut p.space, times, 32)?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            i64::from_le_bytes(w)
        };
        (TimeChange::from_timespec(word(0), word(1))?, TimeChange::from_timespec(word(2), word(3))?)
    };
    let dirfd = fd_arg(dirfd);
    if path_addr == 0 {
        // utimensat(fd, NULL, ...) changes the file open as `dirfd` (futimens).
        p.file(dirfd)?.set_times(atime, mtime)?;
        return Ok(0);
    }
    let path = path_arg(p, path_addr)?;
    if let Some(file) = empty_path_file(p, dirfd, &path, flags)? {
        file.set_times(atime, mtime)?;
        return Ok(0);
    }
    let base = base_of(p, dirfd, &path)?;
    p.vfs.utimens(&base, &path, atime, mtime, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    Ok(0)
}
