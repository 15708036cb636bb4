//! The HostFs operations, one function each, as `uvm_abi::hostfs::FsOp` documents them, and
//! the checks they share: of handles (`EBADF`, `ENOTDIR`), of names (one path component) and
//! of guest buffers (lengths bounded; a range outside RAM stops the VM).

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, PoisonError};

use uvm_abi::hostfs::{FsCall, FsOp, HostStatFs, FS_MAX_IO, FS_NAME_MAX, FS_SYNC_DATA, FS_TARGET_MAX, FS_WRITE_APPEND};
use uvm_abi::hypercall::Hypercall;

use super::sys;
use super::table::{Access, Entry, Kind};
use super::{fail, FsError, FsResult, Volumes};
use crate::error::HypercallError;
use crate::hypercall::{check_buffer, guest_buffer};
use crate::memory::GuestMemory;

/// `renameat2` flags a Rename passes on.
const RENAME_FLAGS: u32 = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE;
/// Open flags an Open passes on (the rest is ignored).
const OPEN_FLAGS: i32 = libc::O_ACCMODE | libc::O_APPEND | libc::O_TRUNC | libc::O_SYNC | libc::O_DSYNC;
/// `ST_RDONLY`: a StatFs of a read-only volume says so.
const ST_RDONLY: u64 = 1;
/// The size of the two `struct timespec` of a SetTimes.
const TIMES_LEN: u64 = 32;
/// The longest symlink target Linux has (`PATH_MAX` less the NUL): a Readlink reads no more.
const LINK_MAX: usize = 4095;

impl Volumes {
    /// Does `call`'s op: its result (`call.value` and `call.stat` filled as the op says).
    pub(super) fn dispatch(&self, call: &mut FsCall, memory: &GuestMemory) -> FsResult<i64> {
        let Some(op) = FsOp::from_raw(call.op) else { return fail(libc::ENOSYS) };
        let entry = self.entry(call.handle)?;
        if op.writes() && self.volumes[entry.volume].read_only {
            return fail(libc::EROFS);
        }
        match op {
            FsOp::Lookup => self.lookup(call, memory, &entry),
            FsOp::Stat => stat(call, &entry),
            FsOp::Parent => self.parent(call, &entry),
            FsOp::Open => self.open_io(call, &entry),
            FsOp::Create => self.create(call, memory, &entry),
            FsOp::Mkdir => mkdir(call, memory, &entry),
            FsOp::Symlink => symlink(call, memory, &entry),
            FsOp::Unlink => unlink(call, memory, &entry),
            FsOp::Rename => self.rename(call, memory, &entry),
            FsOp::Link => self.link(call, memory, &entry),
            FsOp::Read => read(call, memory, &entry),
            FsOp::Write => write(call, memory, &entry),
            FsOp::Truncate => truncate(call, &entry),
            FsOp::SetMode => set_mode(call, &entry),
            FsOp::SetOwner => set_owner(call, &entry),
            FsOp::SetTimes => set_times(call, memory, &entry),
            FsOp::ReadDir => read_dir(call, memory, &entry),
            FsOp::Readlink => readlink(call, memory, &entry),
            FsOp::Sync => sync(call, &entry),
            FsOp::StatFs => self.stat_fs(call, memory, &entry),
            FsOp::Close => self.close(call.handle),
        }
    }

    fn lookup(&self, call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
        need_dir(dir)?;
        let name = name(memory, call.name_gpa, call.name_len)?;
        let fd = sys::openat(dir.fd.as_raw_fd(), &name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        self.add(call, dir.volume, fd, Access::Path)
    }

    fn parent(&self, call: &mut FsCall, dir: &Entry) -> FsResult<i64> {
        need_dir(dir)?;
        let fd = if dir.id == self.volumes[dir.volume].root_id {
            sys::dup(&dir.fd)?
        } else {
            sys::openat(dir.fd.as_raw_fd(), c"..", libc::O_PATH | libc::O_DIRECTORY, 0)?
        };
        self.add(call, dir.volume, fd, Access::Path)
    }

    fn open_io(&self, call: &mut FsCall, entry: &Entry) -> FsResult<i64> {
        let flags = call.flags as i32;
        let access = flags & libc::O_ACCMODE;
        let wants_write = access != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let host_flags = match entry.kind {
            Kind::Symlink => return fail(libc::ELOOP),
            Kind::Other => return fail(libc::ENXIO),
            Kind::Dir if wants_write => return fail(libc::EISDIR),
            Kind::Dir => libc::O_RDONLY | libc::O_DIRECTORY,
            Kind::File if flags & libc::O_DIRECTORY != 0 => return fail(libc::ENOTDIR),
            Kind::File if access == libc::O_ACCMODE => return fail(libc::EINVAL),
            Kind::File if wants_write && self.volumes[entry.volume].read_only => return fail(libc::EROFS),
            Kind::File => flags & OPEN_FLAGS,
        };
        // Not O_NOFOLLOW: the magic link itself is a symlink (ELOOP); it leads to the very
        // file the handle holds, never a symlink (refused above).
        let fd = sys::open(&sys::proc_path(&entry.fd), host_flags | libc::O_NOCTTY)?;
        let access = Access::Io { append: host_flags & libc::O_APPEND != 0, offset_lock: Arc::new(Mutex::new(())) };
        let io = Entry { volume: entry.volume, fd: Arc::new(fd), kind: entry.kind, id: entry.id, access };
        // The metadata as the open left it (a truncate included): what the app's fstat that
        // usually follows an open asks.
        call.stat = super::host_stat(&sys::fstat(&io.fd)?);
        let handle = self.lock().insert(io).ok_or(FsError::Errno(libc::ENFILE))?;
        Ok(handle as i64)
    }

    fn create(&self, call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
        need_dir(dir)?;
        let name = name(memory, call.name_gpa, call.name_len)?;
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
        drop(sys::openat(dir.fd.as_raw_fd(), &name, flags, mode_bits(call.arg))?);
        let fd = sys::openat(dir.fd.as_raw_fd(), &name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        self.add(call, dir.volume, fd, Access::Path)
    }

    fn rename(&self, call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
        let dir2 = self.entry(call.handle2)?;
        need_dir(dir)?;
        need_dir(&dir2)?;
        if dir.volume != dir2.volume {
            return fail(libc::EXDEV);
        }
        if call.flags & !RENAME_FLAGS != 0 {
            return fail(libc::EINVAL);
        }
        let from = name(memory, call.name_gpa, call.name_len)?;
        let to = name(memory, call.name2_gpa, call.name2_len)?;
        sys::renameat2(&dir.fd, &from, &dir2.fd, &to, call.flags)?;
        Ok(0)
    }

    fn link(&self, call: &mut FsCall, memory: &GuestMemory, file: &Entry) -> FsResult<i64> {
        let dir2 = self.entry(call.handle2)?;
        need_dir(&dir2)?;
        if file.volume != dir2.volume {
            return fail(libc::EXDEV);
        }
        if file.kind == Kind::Dir {
            return fail(libc::EPERM);
        }
        let name2 = name(memory, call.name2_gpa, call.name2_len)?;
        if file.kind == Kind::Symlink {
            // The link itself (the magic link would be followed to its target's file on some
            // hosts); the host decides whether this user may (CAP_DAC_READ_SEARCH).
            sys::linkat(file.fd.as_raw_fd(), c"", &dir2.fd, &name2, libc::AT_EMPTY_PATH)?;
        } else {
            let path = sys::proc_path(&file.fd);
            sys::linkat(libc::AT_FDCWD, &path, &dir2.fd, &name2, libc::AT_SYMLINK_FOLLOW)?;
        }
        Ok(0)
    }

    fn stat_fs(&self, call: &mut FsCall, memory: &GuestMemory, entry: &Entry) -> FsResult<i64> {
        if call.buf_len != std::mem::size_of::<HostStatFs>() as u64 {
            return fail(libc::EINVAL);
        }
        check_buffer(memory, Hypercall::HostFs, call.buf_gpa, call.buf_len, call.buf_len)?;
        let st = sys::fstatfs(&entry.fd)?;
        let mut flags = st.f_flags as u64;
        if self.volumes[entry.volume].read_only {
            flags |= ST_RDONLY;
        }
        let figures = HostStatFs {
            fs_type: st.f_type as u64,
            bsize: st.f_bsize as u64,
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            namelen: st.f_namelen as u64,
            frsize: st.f_frsize as u64,
            flags,
        };
        memory.write_plain(call.buf_gpa, &figures).ok_or_else(|| bad_range(call.buf_gpa, call.buf_len))?;
        Ok(0)
    }

    fn close(&self, handle: u64) -> FsResult<i64> {
        if self.lock().remove(handle) {
            Ok(0)
        } else {
            fail(libc::EBADF)
        }
    }
}

fn stat(call: &mut FsCall, entry: &Entry) -> FsResult<i64> {
    call.stat = super::host_stat(&sys::fstat(&entry.fd)?);
    Ok(0)
}

fn mkdir(call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
    need_dir(dir)?;
    let name = name(memory, call.name_gpa, call.name_len)?;
    sys::mkdirat(&dir.fd, &name, mode_bits(call.arg))?;
    Ok(0)
}

fn symlink(call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
    need_dir(dir)?;
    let name = name(memory, call.name_gpa, call.name_len)?;
    let target = target(memory, call.name2_gpa, call.name2_len)?;
    sys::symlinkat(&target, &dir.fd, &name)?;
    Ok(0)
}

fn unlink(call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
    need_dir(dir)?;
    let flags = call.flags as i32;
    if flags & !libc::AT_REMOVEDIR != 0 {
        return fail(libc::EINVAL);
    }
    let name = name(memory, call.name_gpa, call.name_len)?;
    sys::unlinkat(&dir.fd, &name, flags)?;
    Ok(0)
}

fn read(call: &mut FsCall, memory: &GuestMemory, file: &Entry) -> FsResult<i64> {
    need_io(file)?;
    let offset = offset(call.arg)?;
    let iov = ram_iovec(memory, call.buf_gpa, call.buf_len)?;
    // SAFETY: the iovec points into guest RAM (checked by `ram_iovec`), which `memory` keeps
    // mapped for the whole call.
    let n = unsafe { sys::preadv(&file.fd, &iov, offset) }?;
    Ok(n as i64)
}

fn write(call: &mut FsCall, memory: &GuestMemory, file: &Entry) -> FsResult<i64> {
    let Access::Io { append, offset_lock } = &file.access else { return fail(libc::EBADF) };
    if call.flags & !FS_WRITE_APPEND != 0 || (call.flags & FS_WRITE_APPEND != 0 && !append) {
        return fail(libc::EINVAL);
    }
    let iov = ram_iovec(memory, call.buf_gpa, call.buf_len)?;
    if *append {
        // Linux appends on an O_APPEND file whatever the offset (pwrite too): a write at the
        // file offset, which it moves to the end, tells where the bytes went.
        let _held = offset_lock.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the iovec points into guest RAM (checked by `ram_iovec`), which `memory`
        // keeps mapped for the whole call.
        let n = unsafe { sys::writev(&file.fd, &iov) }?;
        call.value = sys::lseek(&file.fd, 0, libc::SEEK_CUR)? as u64;
        return Ok(n as i64);
    }
    let offset = offset(call.arg)?;
    // SAFETY: as above.
    let n = unsafe { sys::pwritev(&file.fd, &iov, offset) }?;
    call.value = call.arg + n as u64;
    Ok(n as i64)
}

fn truncate(call: &mut FsCall, file: &Entry) -> FsResult<i64> {
    match file.kind {
        Kind::File => {}
        Kind::Dir => return fail(libc::EISDIR),
        _ => return fail(libc::EINVAL),
    }
    let len = offset(call.arg)?;
    if file.is_io() {
        sys::ftruncate(&file.fd, len)?;
    } else {
        sys::truncate(&sys::proc_path(&file.fd), len)?;
    }
    Ok(0)
}

fn set_mode(call: &mut FsCall, entry: &Entry) -> FsResult<i64> {
    if entry.kind == Kind::Symlink {
        // As Linux's fchmodat(AT_SYMLINK_NOFOLLOW) on a link.
        return fail(libc::EOPNOTSUPP);
    }
    sys::chmod(&sys::proc_path(&entry.fd), mode_bits(call.arg))?;
    Ok(0)
}

fn set_owner(call: &mut FsCall, entry: &Entry) -> FsResult<i64> {
    let (Ok(uid), Ok(gid)) = (u32::try_from(call.arg), u32::try_from(call.arg2)) else {
        return fail(libc::EINVAL);
    };
    sys::chown(&entry.fd, uid, gid)?;
    Ok(0)
}

fn set_times(call: &mut FsCall, memory: &GuestMemory, entry: &Entry) -> FsResult<i64> {
    if call.buf_len != TIMES_LEN {
        return fail(libc::EINVAL);
    }
    let bytes = guest_buffer(memory, Hypercall::HostFs, call.buf_gpa, TIMES_LEN, TIMES_LEN)?;
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        i64::from_le_bytes(b)
    };
    let times =
        [libc::timespec { tv_sec: word(0), tv_nsec: word(1) }, libc::timespec { tv_sec: word(2), tv_nsec: word(3) }];
    sys::utimens(&entry.fd, &times)?;
    Ok(0)
}

fn read_dir(call: &mut FsCall, memory: &GuestMemory, dir: &Entry) -> FsResult<i64> {
    let Access::Io { offset_lock, .. } = &dir.access else { return fail(libc::EBADF) };
    if dir.kind != Kind::Dir {
        return fail(libc::ENOTDIR);
    }
    let len = io_len(call.buf_len)?;
    check_buffer(memory, Hypercall::HostFs, call.buf_gpa, call.buf_len, FS_MAX_IO)?;
    let mut buf = vec![0u8; len];
    let filled = {
        let _held = offset_lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Positions are the host's own `d_off` values, passed back as they came.
        sys::lseek(&dir.fd, call.arg as i64, libc::SEEK_SET)?;
        sys::getdents64(&dir.fd, &mut buf)?
    };
    memory.write_ram(call.buf_gpa, &buf[..filled]).ok_or_else(|| bad_range(call.buf_gpa, filled as u64))?;
    Ok(filled as i64)
}

fn readlink(call: &mut FsCall, memory: &GuestMemory, link: &Entry) -> FsResult<i64> {
    if link.kind != Kind::Symlink {
        return fail(libc::EINVAL);
    }
    let len = io_len(call.buf_len)?;
    if len == 0 {
        return fail(libc::EINVAL);
    }
    check_buffer(memory, Hypercall::HostFs, call.buf_gpa, call.buf_len, FS_MAX_IO)?;
    let mut buf = vec![0u8; len.min(LINK_MAX)];
    let n = sys::readlink(&link.fd, &mut buf)?;
    memory.write_ram(call.buf_gpa, &buf[..n]).ok_or_else(|| bad_range(call.buf_gpa, n as u64))?;
    Ok(n as i64)
}

fn sync(call: &mut FsCall, file: &Entry) -> FsResult<i64> {
    need_io(file)?;
    if call.flags & !FS_SYNC_DATA != 0 {
        return fail(libc::EINVAL);
    }
    sys::sync(&file.fd, call.flags & FS_SYNC_DATA != 0)?;
    Ok(0)
}

/// `ENOTDIR` unless `entry` is a directory.
fn need_dir(entry: &Entry) -> FsResult<()> {
    if entry.kind == Kind::Dir {
        Ok(())
    } else {
        fail(libc::ENOTDIR)
    }
}

/// `EBADF` unless `entry` is an I/O handle.
fn need_io(entry: &Entry) -> FsResult<()> {
    if entry.is_io() {
        Ok(())
    } else {
        fail(libc::EBADF)
    }
}

/// A file offset or size from the guest (`EINVAL` past `i64::MAX`).
fn offset(value: u64) -> FsResult<libc::off_t> {
    libc::off_t::try_from(value).or_else(|_| fail(libc::EINVAL))
}

/// Permission bits from the guest.
fn mode_bits(value: u64) -> libc::mode_t {
    (value & 0o7777) as libc::mode_t
}

/// A Read, Write, ReadDir or Readlink length (`EINVAL` past [`FS_MAX_IO`]).
fn io_len(len: u64) -> FsResult<usize> {
    if len > FS_MAX_IO {
        return fail(libc::EINVAL);
    }
    Ok(len as usize)
}

/// The host iovec of the guest buffer `gpa`+`len` (at most [`FS_MAX_IO`]).
fn ram_iovec(memory: &GuestMemory, gpa: u64, len: u64) -> FsResult<Vec<libc::iovec>> {
    io_len(len)?;
    memory.ram_iovecs(&[(gpa, len)], FS_MAX_IO).ok_or_else(|| bad_range(gpa, len))
}

/// The VM-stopping error for a guest range outside RAM.
fn bad_range(gpa: u64, len: u64) -> FsError {
    FsError::Stop(HypercallError::BadAddress { name: crate::hypercall::name(Hypercall::HostFs), gpa, len })
}

/// One path component from the guest: 1..=[`FS_NAME_MAX`] bytes, no `/` or NUL, not `.` or
/// `..` (`EINVAL`; `ENAMETOOLONG` when too long).
fn name(memory: &GuestMemory, gpa: u64, len: u64) -> FsResult<CString> {
    if len == 0 {
        return fail(libc::EINVAL);
    }
    if len > FS_NAME_MAX {
        return fail(libc::ENAMETOOLONG);
    }
    let bytes = guest_buffer(memory, Hypercall::HostFs, gpa, len, FS_NAME_MAX)?;
    if bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return fail(libc::EINVAL);
    }
    CString::new(bytes).or_else(|_| fail(libc::EINVAL))
}

/// A symlink target from the guest: 1..=[`FS_TARGET_MAX`] bytes without NUL (`ENOENT` when
/// empty, as Linux's symlink; `ENAMETOOLONG` when too long; `EINVAL` with a NUL).
fn target(memory: &GuestMemory, gpa: u64, len: u64) -> FsResult<CString> {
    if len == 0 {
        return fail(libc::ENOENT);
    }
    if len > FS_TARGET_MAX {
        return fail(libc::ENAMETOOLONG);
    }
    let bytes = guest_buffer(memory, Hypercall::HostFs, gpa, len, FS_TARGET_MAX)?;
    CString::new(bytes).or_else(|_| fail(libc::EINVAL))
}
