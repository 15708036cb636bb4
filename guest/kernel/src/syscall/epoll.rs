//! eventfd, eventfd2, epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait and
//! epoll_pwait2: the fd side of `fs::eventfd` and `fs::epoll` (which own the semantics).
//!
//! Reading and writing an eventfd are plain `read`/`write` (`syscall::fs`): a blocking
//! eventfd that must wait (counter 0 for a read, overflow for a write) waits there as a pipe
//! does, for another thread's syscall.
//!
//! # epoll_wait
//!
//! Linux's checks in Linux's order: `EINVAL` for `maxevents <= 0` or past `EP_MAX_EVENTS`,
//! `EFAULT` for an event array beyond user space, `EBADF` for a bad epfd, `EINVAL` for an fd
//! that is no epoll file. Then the interest list is scanned; with nothing to report, the call
//! waits the way `poll` does (`syscall::poll::wait_for_change`): for another thread's syscall
//! (any one may change a watched file: the dispatcher wakes I/O waiters after each), or, if
//! the instance watches the console's input, for the host's input in the VMM; then it scans
//! again. A timeout of 0 returns at once, a negative one (or a NULL timespec for
//! epoll_pwait2) waits for ever; a signal ends the wait with EINTR (never restarted, as on
//! Linux). epoll_pwait/epoll_pwait2 block their signal mask during the call, as Linux does:
//! the old mask is back when the call returns, or when the handler of the signal that
//! interrupted it returns.

use alloc::vec::Vec;

use super::poll::{deadline_after, read_timeout, wait_for_change, with_sigmask};
use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::epoll::{self, EpollEvent, EPOLL_CLOEXEC, EPOLL_CTL_DEL, EPOLL_EVENT_SIZE, EP_MAX_EVENTS};
use crate::fs::eventfd::{EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE};
use crate::process::Process;
use crate::user;

/// A new eventfd with counter `initval` (an `unsigned int`) and `eventfd2` flags.
fn make_eventfd(p: &mut Process, initval: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.vfs.eventfd(u64::from(initval as u32), flags & EFD_SEMAPHORE != 0, flags & EFD_NONBLOCK != 0);
    let fd = p.files.fds.lock().insert(file, flags & EFD_CLOEXEC != 0)?;
    Ok(fd as usize)
}

/// eventfd(initval).
pub fn sys_eventfd(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    make_eventfd(p, f.rdi, 0)
}

/// eventfd2(initval, flags): EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC.
pub fn sys_eventfd2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    make_eventfd(p, f.rdi, f.rsi)
}

/// A new epoll instance's fd.
fn make_epoll(p: &mut Process, cloexec: bool) -> SysResult {
    let file = p.vfs.epoll();
    let fd = p.files.fds.lock().insert(file, cloexec)?;
    Ok(fd as usize)
}

/// epoll_create(size): `size` must be positive (and is otherwise ignored).
pub fn sys_epoll_create(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    if f.rdi as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    make_epoll(p, false)
}

/// epoll_create1(flags): EPOLL_CLOEXEC.
pub fn sys_epoll_create1(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let flags = f.rdi as u32;
    if flags & !EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    make_epoll(p, flags & EPOLL_CLOEXEC != 0)
}

/// epoll_ctl(epfd, op, fd, event): the event is read first (EFAULT) unless the op is
/// EPOLL_CTL_DEL, then both fds (EBADF), then `fs::epoll::control`'s checks.
pub fn sys_epoll_ctl(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [epfd, op, fd, event, ..] = f.syscall_args();
    let (epfd, op, fd) = (epfd as i32, op as i32, fd as i32);
    let event = if op == EPOLL_CTL_DEL {
        EpollEvent::default()
    } else {
        let raw = user::read(&mut p.space, event, EPOLL_EVENT_SIZE as u64)?;
        let mut bytes = [0u8; EPOLL_EVENT_SIZE];
        bytes.copy_from_slice(raw);
        EpollEvent::from_bytes(&bytes)
    };
    let epoll_file = p.used_file(epfd)?;
    let target = p.used_file(fd)?;
    epoll::control(&epoll_file, op, fd, &target, event)?;
    Ok(0)
}

/// The wait of every epoll_wait flavour: up to `max` events into the array at `events`,
/// waiting up to `timeout_ns` (`None`: for ever).
fn wait_events(p: &mut Process, epfd: u64, events: u64, max: u64, timeout_ns: Option<u64>) -> SysResult {
    // The app asks what is ready: what it sent before is on its way first (a flush point).
    p.flush_net();
    let max = max as i32;
    if max <= 0 || max as usize > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let max = max as usize;
    let end = events.checked_add((max * EPOLL_EVENT_SIZE) as u64);
    if end.is_none_or(|end| end > uvm_abi::layout::USER_END_VA) {
        return Err(Errno::EFAULT);
    }
    let file = p.used_file(epfd as i32)?;
    let epoll = file.epoll().cloned().ok_or(Errno::EINVAL)?;
    let deadline = deadline_after(p, timeout_ns);
    p.thread.signals.was_stopped = false;
    loop {
        crate::wait::note_scanner_signals(p);
        let space = &mut p.space;
        let count = epoll.wait_ready(max, |ready| {
            let bytes: Vec<u8> = ready.iter().flat_map(|event| event.to_bytes()).collect();
            user::copy_out(space, events, &bytes)
        })?;
        if count > 0 {
            return Ok(count);
        }
        if p.thread.signals.was_stopped {
            // Stopped and continued while waiting, and nothing ready: EINTR, as Linux's.
            return Err(Errno::EINTR);
        }
        let console = epoll.console_input(0);
        if !wait_for_change(p, console.as_deref(), deadline)? {
            return Ok(0);
        }
    }
}

/// A timeout in milliseconds as epoll_wait takes it: negative for none.
fn millis(timeout: u64) -> Option<u64> {
    let timeout = timeout as i32;
    (timeout >= 0).then(|| timeout as u64 * 1_000_000)
}

/// epoll_wait(epfd, events, maxevents, timeout).
pub fn sys_epoll_wait(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [epfd, events, max, timeout, ..] = f.syscall_args();
    wait_events(p, epfd, events, max, millis(timeout))
}

/// epoll_pwait(epfd, events, maxevents, timeout, sigmask, sigsetsize).
pub fn sys_epoll_pwait(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [epfd, events, max, timeout, mask, size] = f.syscall_args();
    with_sigmask(p, mask, size, |p| wait_events(p, epfd, events, max, millis(timeout)))
}

/// epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize): `timeout` a
/// `struct timespec` (NULL: none).
pub fn sys_epoll_pwait2(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [epfd, events, max, timeout, mask, size] = f.syscall_args();
    let timeout_ns = if timeout == 0 { None } else { Some(read_timeout(p, timeout, false)?) };
    with_sigmask(p, mask, size, |p| wait_events(p, epfd, events, max, timeout_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_timeouts() {
        assert_eq!(millis(0), Some(0));
        assert_eq!(millis(20), Some(20_000_000));
        assert_eq!(millis(u64::MAX), None, "-1: for ever");
        assert_eq!(millis(0xffff_ffff_0000_0005), Some(5_000_000), "an int: the upper half is ignored");
    }
}
