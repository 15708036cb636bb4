//! inotify_init, inotify_init1, inotify_add_watch and inotify_rm_watch: the fd side of
//! `fs::inotify` (which owns the watches, the events and the reads). Reading an instance is
//! a plain `read` (`syscall::fs`): a blocking one with no event waits there, as for a pipe.

use alloc::sync::Arc;

use super::fs::{base_of, path_arg};
use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::inotify::{self, Inotify, IN_CLOEXEC, IN_DONT_FOLLOW, IN_NONBLOCK};
use crate::process::Process;
use crate::syscall::fs::AT_FDCWD;

/// inotify_init(): inotify_init1 without flags.
pub fn sys_inotify_init(p: &mut Process, _f: &mut TrapFrame) -> SysResult {
    init(p, 0)
}

/// inotify_init1(flags): IN_NONBLOCK, IN_CLOEXEC.
pub fn sys_inotify_init1(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    init(p, f.rdi as u32)
}

fn init(p: &mut Process, flags: u32) -> SysResult {
    if flags & !(IN_NONBLOCK | IN_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.vfs.inotify(flags & IN_NONBLOCK != 0)?;
    let fd = p.files.fds.lock().insert(file, flags & IN_CLOEXEC != 0)?;
    Ok(fd as usize)
}

/// The instance of `fd`: `EBADF` if not open (or `O_PATH`), `EINVAL` if not an inotify fd.
fn instance_of(p: &Process, fd: i32) -> Result<Arc<Inotify>, Errno> {
    p.used_file(fd)?.node().inotify().cloned().ok_or(Errno::EINVAL)
}

/// inotify_add_watch(fd, path, mask): the mask first, then the fd, then the path (its last
/// symlink followed unless IN_DONT_FOLLOW; ENOTDIR for IN_ONLYDIR on another file).
pub fn sys_inotify_add_watch(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, path, mask, ..] = f.syscall_args();
    let mask = mask as u32;
    inotify::check_mask(mask)?;
    let instance = instance_of(p, fd as i32)?;
    let path = path_arg(p, path)?;
    let base = base_of(p, AT_FDCWD, &path)?;
    let location = p.vfs.resolve(&base, &path, mask & IN_DONT_FOLLOW == 0)?;
    Ok(instance.add_watch(&location, mask)? as usize)
}

/// inotify_rm_watch(fd, wd): IN_IGNORED is queued for the watch.
pub fn sys_inotify_rm_watch(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let instance = instance_of(p, f.rdi as i32)?;
    instance.remove_watch(f.rsi as i32)?;
    Ok(0)
}
