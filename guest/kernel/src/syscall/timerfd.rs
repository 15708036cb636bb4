//! timerfd_create, timerfd_settime and timerfd_gettime: the fd side of `fs::timerfd` (which
//! owns the semantics). Reading a timerfd is a plain `read` (`syscall::fs`): a blocking one
//! with no expiration waits there, as for a pipe, and the wait ends at the timer's deadline
//! (`fs::timerfd::park_limit`).

use alloc::sync::Arc;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::timerfd::{TimerFd, TimerSpec, TFD_CLOEXEC, TFD_NONBLOCK};
use crate::process::Process;
use crate::user;

/// Bytes of a `struct itimerspec`.
const ITIMERSPEC_SIZE: u64 = 32;

/// timerfd_create(clockid, flags): TFD_NONBLOCK, TFD_CLOEXEC; `EINVAL` for another flag or a
/// clock a timer cannot run on.
pub fn sys_timerfd_create(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (clock_id, flags) = (f.rdi as u32, f.rsi as u32);
    if flags & !(TFD_NONBLOCK | TFD_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.vfs.timerfd(clock_id, flags & TFD_NONBLOCK != 0)?;
    let fd = p.files.fds.lock().insert(file, flags & TFD_CLOEXEC != 0)?;
    Ok(fd as usize)
}

/// The timer of `fd`: `EBADF` if not open (or `O_PATH`), `EINVAL` if not a timerfd.
fn timer_of(p: &Process, fd: i32) -> Result<Arc<TimerFd>, Errno> {
    p.used_file(fd)?.node().timerfd().cloned().ok_or(Errno::EINVAL)
}

/// timerfd_settime(fd, flags, new_value, old_value): TFD_TIMER_ABSTIME,
/// TFD_TIMER_CANCEL_ON_SET (see `fs::timerfd`).
pub fn sys_timerfd_settime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, flags, new, old, ..] = f.syscall_args();
    let timer = timer_of(p, fd as i32)?;
    let bytes: [u8; 32] = user::read(&mut p.space, new, ITIMERSPEC_SIZE)?.try_into().map_err(|_| Errno::EFAULT)?;
    let spec = TimerSpec::decode(&bytes)?;
    let before = timer.set(spec, flags as u32)?;
    if old != 0 {
        user::copy_out(&mut p.space, old, &before.encode())?;
    }
    Ok(0)
}

/// timerfd_gettime(fd, curr_value).
pub fn sys_timerfd_gettime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let timer = timer_of(p, f.rdi as i32)?;
    user::copy_out(&mut p.space, f.rsi, &timer.get().encode())?;
    Ok(0)
}
