//! Extended attributes (getxattr, setxattr, listxattr, removexattr and their l/f forms): no
//! file system of the VM stores them (the image, tmpfs, /dev, /proc), so once the file is
//! found, as Linux answers for a file system without xattr support: no names to list (an
//! empty list), and EOPNOTSUPP for any one attribute.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;

use super::fs::{AT_FDCWD, AT_SYMLINK_NOFOLLOW};

/// The file a path-form call names (following a final symlink unless `follow` is false).
fn find_path(p: &mut Process, path: u64, follow: bool) -> Result<(), Errno> {
    super::fs::stat_of(p, AT_FDCWD, path, if follow { 0 } else { AT_SYMLINK_NOFOLLOW }).map(|_| ())
}

/// The file an fd-form call names.
fn find_fd(p: &mut Process, fd: u64) -> Result<(), Errno> {
    p.file(fd as i32).map(|_| ())
}

/// getxattr, setxattr, removexattr (path, following symlinks): EOPNOTSUPP.
pub fn sys_path_xattr(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    find_path(p, f.rdi, true)?;
    Err(Errno::EOPNOTSUPP)
}

/// lgetxattr, lsetxattr, lremovexattr (a final symlink itself): EOPNOTSUPP.
pub fn sys_link_xattr(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    find_path(p, f.rdi, false)?;
    Err(Errno::EOPNOTSUPP)
}

/// fgetxattr, fsetxattr, fremovexattr: EOPNOTSUPP.
pub fn sys_fd_xattr(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    find_fd(p, f.rdi)?;
    Err(Errno::EOPNOTSUPP)
}

/// listxattr(path, list, size): no names.
pub fn sys_listxattr(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    find_path(p, f.rdi, true)?;
    Ok(0)
}

/// llistxattr(path, list, size): no names.
pub fn sys_llistxattr(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    find_path(p, f.rdi, false)?;
    Ok(0)
}

/// flistxattr(fd, list, size): no names.
pub fn sys_flistxattr(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    find_fd(p, f.rdi)?;
    Ok(0)
}
