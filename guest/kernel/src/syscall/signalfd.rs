//! signalfd and signalfd4, and reading a signalfd: the process's side of `fs::signalfd`
//! (which owns the file and its readiness). A read takes the reader's pending signals among
//! the file's mask, as many whole `struct signalfd_siginfo` as the buffer holds (`EINVAL`
//! below one); with none pending it says `EAGAIN` if the file is `O_NONBLOCK`, and otherwise
//! waits as a pipe read does, until a signal is queued (each one wakes the threads waiting
//! for a file) or a signal it does not read interrupts it (`EINTR`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::signalfd::{encode, SignalFd, SFD_CLOEXEC, SFD_NONBLOCK, SIGNALFD_SIGINFO_SIZE};
use crate::fs::OpenFile;
use crate::process::Process;
use crate::signal::deliver;
use crate::user;

/// Bytes of the kernel's `sigset_t`.
const SIGSET_SIZE: u64 = 8;

/// signalfd(fd, mask, sizemask): signalfd4 without flags.
pub fn sys_signalfd(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, mask, size, ..] = f.syscall_args();
    signalfd(p, fd as i32, mask, size, 0)
}

/// signalfd4(fd, mask, sizemask, flags): SFD_NONBLOCK, SFD_CLOEXEC.
pub fn sys_signalfd4(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, mask, size, flags, ..] = f.syscall_args();
    signalfd(p, fd as i32, mask, size, flags as u32)
}

/// A new signalfd for `fd` -1; otherwise `fd`'s mask changes (`EBADF` if it is not open,
/// `EINVAL` if it is not a signalfd). Checked in Linux's order: the mask's size (`EINVAL`),
/// the mask (`EFAULT`), the flags (`EINVAL`).
fn signalfd(p: &mut Process, fd: i32, mask_addr: u64, size: u64, flags: u32) -> SysResult {
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = user::read_u64(&mut p.space, mask_addr)?;
    if flags & !(SFD_NONBLOCK | SFD_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if fd == -1 {
        let file = p.vfs.signalfd(mask, flags & SFD_NONBLOCK != 0);
        let fd = p.files.fds.lock().insert(file, flags & SFD_CLOEXEC != 0)?;
        return Ok(fd as usize);
    }
    p.used_file(fd)?.node().signalfd().ok_or(Errno::EINVAL)?.set_mask(mask);
    Ok(fd as usize)
}

/// Reads `file`, a signalfd, into the app's buffers `vecs` (base, length): see the module
/// docs.
#[cold]
pub fn read(p: &mut Process, file: &OpenFile, signalfd: &Arc<SignalFd>, vecs: &[(u64, u64)]) -> SysResult {
    let room = vecs.iter().fold(0u64, |sum, &(_, len)| sum.saturating_add(len));
    let most = (room / SIGNALFD_SIGINFO_SIZE as u64) as usize;
    if most == 0 {
        return Err(Errno::EINVAL);
    }
    loop {
        let mut taken = Vec::new();
        while taken.len() < most * SIGNALFD_SIGINFO_SIZE {
            let Some(info) = deliver::dequeue(&mut p.signals, &mut p.thread.signals, signalfd.mask()) else { break };
            taken.extend_from_slice(&encode(&info));
        }
        if !taken.is_empty() {
            scatter(p, vecs, &taken)?;
            return Ok(taken.len());
        }
        if file.is_nonblocking() {
            return Err(Errno::EAGAIN);
        }
        crate::wait::wait_for_io(p, None)?;
    }
}

/// Copies `bytes` into the app's buffers, in order.
fn scatter(p: &mut Process, vecs: &[(u64, u64)], mut bytes: &[u8]) -> Result<(), Errno> {
    for &(base, len) in vecs {
        if bytes.is_empty() {
            break;
        }
        let now = bytes.len().min(len as usize);
        user::copy_out(&mut p.space, base, &bytes[..now])?;
        bytes = &bytes[now..];
    }
    Ok(())
}
