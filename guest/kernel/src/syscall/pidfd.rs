//! pidfd_open, pidfd_send_signal and pidfd_getfd: the process's side of `fs::pidfd` (which
//! owns the file and its readiness). `clone`'s `CLONE_PIDFD` makes one in
//! `family::fork`; `waitid(P_PIDFD)` waits through one (`syscall::proc`).
//!
//! Linux 6.9's additions are not served: `PIDFD_THREAD` (a pidfd for one thread) and
//! `pidfd_send_signal`'s scopes (`PIDFD_SIGNAL_THREAD`, `..._PROCESS_GROUP`; the default,
//! `..._THREAD_GROUP`, is) say `EINVAL`, as on the kernels before them.

use alloc::sync::Arc;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::pidfd::{PidFd, Stage, PIDFD_NONBLOCK};
use crate::process::Process;
use crate::signal::{si, SigInfo, NSIG};
use crate::syscall::signal::{queued_info, refuse_overflow, send_to_other_process, send_to_process};
use crate::user;

/// `pidfd_send_signal` flag: the signal is for the whole process (what it does without one).
const PIDFD_SIGNAL_THREAD_GROUP: u64 = 1 << 1;

/// pidfd_open(pid, flags): a pidfd (close-on-exec) for process `pid`; `PIDFD_NONBLOCK` the
/// only flag. `EINVAL` for a pid <= 0, `ENOENT` for a thread that is not its process's
/// first (as Linux 6.18 says; older kernels said `EINVAL`), `ESRCH` when there is no such
/// process (one that ended and was not reaped yet has one, already readable).
#[cold]
pub fn sys_pidfd_open(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, flags, ..] = f.syscall_args();
    if flags & !u64::from(PIDFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = match pid as i32 {
        pid if pid > 0 => pid as u32,
        _ => return Err(Errno::EINVAL),
    };
    let node = node_of_process(p, pid)?;
    let file = p.vfs.pidfd(node, flags != 0);
    Ok(p.files.fds.lock().insert(file, true)? as usize)
}

/// The node the pidfds of process `pid` share (made with its first): see [`sys_pidfd_open`]
/// for the errors.
fn node_of_process(p: &mut Process, pid: u32) -> Result<Arc<PidFd>, Errno> {
    let vfs = p.vfs.clone();
    let (slot, stage) = if pid == p.pid {
        (&mut p.pidfd, Stage::Running)
    } else if let Some(q) = p.shared.processes.iter_mut().find(|q| q.pid == pid) {
        (&mut q.pidfd, Stage::Running)
    } else if let Some(zombie) = crate::family::zombie(p, pid) {
        (&mut zombie.pidfd, Stage::Ended)
    } else if p.runs_thread(pid) || p.shared.processes.iter().any(|q| q.runs_thread(pid)) {
        return Err(Errno::ENOENT);
    } else {
        return Err(Errno::ESRCH);
    };
    Ok(slot.get_or_insert_with(|| vfs.pidfd_node(pid, stage)).clone())
}

/// The pidfd open as `fd`: `EBADF` when `fd` is not open or not a pidfd.
fn pidfd_at(p: &Process, fd: u64) -> Result<Arc<PidFd>, Errno> {
    let file = p.files.fds.lock().get(fd as i32)?;
    file.node().pidfd().cloned().ok_or(Errno::EBADF)
}

/// pidfd_send_signal(pidfd, sig, info, flags): kill (no `info`) or rt_sigqueueinfo (with
/// one: its si_signo must be `sig`) for the pidfd's process, in Linux's order of checks:
/// the flags, the fd, the signal, the siginfo. `ESRCH` once the process was reaped.
#[cold]
pub fn sys_pidfd_send_signal(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, sig, uinfo, flags, ..] = f.syscall_args();
    if flags & !PIDFD_SIGNAL_THREAD_GROUP != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = pidfd_at(p, fd)?.pid();
    if sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let info = if uinfo == 0 {
        (sig != 0).then(|| SigInfo::user(sig as u32, si::USER, p.pid, p.real_uid()))
    } else {
        if u64::from(user::read_u32(&mut p.space, uinfo)?) != sig {
            return Err(Errno::EINVAL);
        }
        queued_info(p, sig, uinfo, pid as i32)?
    };
    if pid == p.pid {
        if let Some(info) = info {
            refuse_overflow(&p.signals.pending, &info)?;
            send_to_process(p, info);
        }
        return Ok(0);
    }
    send_to_other_process(p, pid, info)?;
    Ok(0)
}

/// pidfd_getfd(pidfd, targetfd, flags): a copy (close-on-exec) of the pidfd's process's fd
/// `targetfd`, sharing its open file as a dup does. No flags exist (`EINVAL`); `EBADF` when
/// the process has no such fd, or has ended and has no fds left; `ESRCH` once it was reaped.
#[cold]
pub fn sys_pidfd_getfd(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, target, flags, ..] = f.syscall_args();
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let pidfd = pidfd_at(p, fd)?;
    let pid = pidfd.pid();
    let file = if pid == p.pid {
        p.files.fds.lock().get(target as i32)?
    } else if let Some(q) = p.other(pid) {
        q.files.fds.lock().get(target as i32)?
    } else if pidfd.stage() == Stage::Reaped {
        return Err(Errno::ESRCH);
    } else {
        return Err(Errno::EBADF);
    };
    Ok(p.files.fds.lock().insert(file, true)? as usize)
}

/// waitid(P_PIDFD, fd, ...)'s process: the pid of the pidfd `fd` (`EINVAL` for a negative
/// fd, `EBADF` if it is not a pidfd), and whether the pidfd is `O_NONBLOCK` (a wait that
/// would block says `EAGAIN` then).
pub fn waited_process(p: &Process, fd: u64) -> Result<(u32, bool), Errno> {
    if (fd as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.files.fds.lock().get(fd as i32)?;
    let pid = file.node().pidfd().ok_or(Errno::EBADF)?.pid();
    Ok((pid, file.status_flags() & PIDFD_NONBLOCK != 0))
}
