//! `memfd_create` and file seals (`fcntl` `F_ADD_SEALS`/`F_GET_SEALS`): anonymous tmpfs files
//! an app sizes, maps shared and seals, as on Linux (the file is a regular file of the
//! `/dev/shm` tmpfs that no directory names).

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::tmpfs::{F_SEAL_EXEC, F_SEAL_SEAL, F_SEAL_WRITE};
use crate::fs::Node;
use crate::process::Process;
use crate::user;

const MFD_CLOEXEC: u64 = 0x1;
const MFD_ALLOW_SEALING: u64 = 0x2;
const MFD_NOEXEC_SEAL: u64 = 0x8;
const MFD_EXEC: u64 = 0x10;
/// The longest name: `NAME_MAX` less the `memfd:` prefix.
const MFD_NAME_MAX: usize = 249;

/// memfd_create(name, flags): MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL (permissions
/// 0666 and `F_SEAL_EXEC`, sealable) and MFD_EXEC (0777, the default). MFD_HUGETLB (0x4) is
/// EINVAL with the other unknown flags (no huge pages here, as on a kernel without
/// hugetlbfs), and so are both EXEC flags at once and a name over 249 bytes.
pub fn sys_memfd_create(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [name, flags, ..] = f.syscall_args();
    // An `unsigned int` on Linux: the register's upper half is not part of it.
    let flags = u64::from(flags as u32);
    let known = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC;
    if flags & !known != 0 || flags & (MFD_NOEXEC_SEAL | MFD_EXEC) == MFD_NOEXEC_SEAL | MFD_EXEC {
        return Err(Errno::EINVAL);
    }
    let name = user::read_cstr(&mut p.space, name, MFD_NAME_MAX).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        other => other,
    })?;
    let (mode, seals) = if flags & MFD_NOEXEC_SEAL != 0 {
        (0o666, F_SEAL_EXEC)
    } else if flags & MFD_ALLOW_SEALING != 0 {
        (0o777, 0)
    } else {
        (0o777, F_SEAL_SEAL)
    };
    let file = p.vfs.memfd(&name, mode, seals)?;
    let fd = p.files.fds.lock().insert(file, flags & MFD_CLOEXEC != 0)?;
    Ok(fd as usize)
}

/// fcntl(fd, F_GET_SEALS): the seals of a tmpfs file (files made by `open` show
/// `F_SEAL_SEAL`); EINVAL for any other file.
pub fn get_seals(p: &mut Process, fd: i32) -> SysResult {
    match p.file(fd)?.node() {
        Node::Tmp(node) => Ok(node.seals() as usize),
        _ => Err(Errno::EINVAL),
    }
}

/// fcntl(fd, F_ADD_SEALS, seals): EINVAL for a file that is not a tmpfs regular file or
/// unknown seals, EPERM if `fd` is not open for writing or the file is sealed against new
/// seals, EBUSY for `F_SEAL_WRITE` while a writable shared mapping of the file exists.
pub fn add_seals(p: &mut Process, fd: i32, seals: u64) -> SysResult {
    let file = p.file(fd)?;
    let Node::Tmp(node) = file.node() else {
        return Err(Errno::EINVAL);
    };
    // An `unsigned int` on Linux, taken from fcntl's long argument.
    let seals = seals as u32;
    if !file.is_writable() {
        return Err(Errno::EPERM);
    }
    if seals & F_SEAL_WRITE != 0 && p.space.maps_file_writable((node.dev(), node.ino())) {
        return Err(Errno::EBUSY);
    }
    // F_SEAL_FUTURE_WRITE leaves the writable mappings there are, as on Linux.
    node.add_seals(seals).map(|()| 0)
}
