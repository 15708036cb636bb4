//! poll, ppoll, select and pselect6, and the waits of calls that cannot go on.
//!
//! Readiness comes from each open file ([`crate::fs::OpenFile::poll_events`]): pipes report
//! what holds now (data or end of file to read, room to write, `POLLHUP` without writers,
//! `POLLERR` without readers), eventfds their counter, epoll files whether `epoll_wait`
//! would report something (`syscall::epoll`, which shares the waiting below); regular files,
//! directories, devices and `/proc` are always ready, as on Linux; the console is always
//! writable and readable when the host's stdin has input or is at its end (asked of the VMM).
//!
//! # Waiting
//!
//! With nothing ready, these calls wait until something may have changed: when the app
//! watches the console's input, in the VMM on the host's stdin (one exit, woken by input or
//! the timeout); otherwise the vCPU parks in the VMM (no spinning) until another thread's
//! syscall may have changed a file, a signal is queued (a signalfd may read it), a timer is
//! due, or the timeout passes; without a timeout they wait for ever, as Linux would (the VMM
//! still stops the VM on `--timeout` or when `uvm` is interrupted). A signal the thread does
//! not block ends the wait with EINTR. The signal mask of ppoll/pselect6 (and epoll_pwait)
//! is the thread's during the call ([`with_sigmask`]).

use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::flags::{
    POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDBAND, POLLRDNORM, POLLWRBAND, POLLWRNORM,
};
use crate::fs::OpenFile;
use crate::process::Process;
use crate::user;

/// `poll` events that make `select` report an fd readable.
const SELECT_READ: u16 = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
/// `poll` events that make `select` report an fd writable.
const SELECT_WRITE: u16 = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
/// `poll` events that make `select` report an exceptional condition.
const SELECT_EXCEPT: u16 = POLLPRI;
/// Bytes of a `sigset_t`.
const SIGSET_SIZE: u64 = 8;
/// Nothing is ready: wait until something may have changed or `deadline` (monotonic ns;
/// `None`: none) passes, and say whether to look again. If the app watches the console's
/// input, wait for the host's input in the VMM (with the process unlocked); otherwise for
/// another thread to change a file (pipes). EINTR when a signal comes.
pub(super) fn wait_for_change(
    p: &mut Process,
    console: Option<&OpenFile>,
    deadline: Option<u64>,
) -> Result<bool, Errno> {
    let left = match deadline {
        Some(deadline) => deadline.saturating_sub(crate::wait::now_ns(p)),
        None => u64::MAX,
    };
    if left == 0 {
        return Ok(false);
    }
    if let Some(console) = console.and_then(OpenFile::console_input) {
        p.unlocked(|| console.input_ready(left));
        return Ok(true);
    }
    match crate::wait::wait_for_io(p, deadline) {
        Ok(()) => Ok(true),
        Err(Errno::ETIMEDOUT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The monotonic deadline `timeout_ns` from now.
pub(super) fn deadline_after(p: &Process, timeout_ns: Option<u64>) -> Option<u64> {
    timeout_ns.map(|ns| crate::wait::now_ns(p).saturating_add(ns))
}

/// A `struct timespec` (or `struct timeval` with `micros`) from the app, as nanoseconds:
/// EINVAL if negative or (timespec) the nanoseconds are out of range; a timeval's
/// microseconds past a second carry into the seconds, as Linux's select does.
pub(super) fn read_timeout(p: &mut Process, addr: u64, micros: bool) -> Result<u64, Errno> {
    let raw = user::read(&mut p.space, addr, 16)?;
    let sec = i64::from_le_bytes(raw[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let frac = i64::from_le_bytes(raw[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    let (sec, nsec) = if micros {
        (sec.checked_add(frac / 1_000_000).ok_or(Errno::EINVAL)?, (frac % 1_000_000) * 1000)
    } else {
        (sec, frac)
    };
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64))
}

/// Writes back the time left of a timeout (as Linux does for select, pselect6 and ppoll);
/// a failed write is ignored, as on Linux.
fn write_time_left(p: &mut Process, addr: u64, ns: u64, micros: bool) {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    let frac = if micros { (ns % 1_000_000_000) / 1000 } else { ns % 1_000_000_000 };
    out[8..].copy_from_slice(&frac.to_le_bytes());
    let _ = user::copy_out(&mut p.space, addr, &out);
}

/// Runs `call` with the signal mask at `mask` (a `sigset_t` of `size` bytes; none if NULL)
/// blocked instead of the thread's, as epoll_pwait, ppoll and pselect6 do: EINVAL for another
/// size, EFAULT for an unreadable mask. After an EINTR the old mask comes back when the
/// signal's handler returns (the frame saves it), as after sigsuspend; otherwise at once.
pub(super) fn with_sigmask(
    p: &mut Process,
    mask: u64,
    size: u64,
    call: impl FnOnce(&mut Process) -> SysResult,
) -> SysResult {
    if mask == 0 {
        return call(p);
    }
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = user::read_u64(&mut p.space, mask)?;
    let old = p.thread.signals.blocked;
    p.thread.signals.set_blocked(mask);
    let result = call(p);
    if result == Err(Errno::EINTR) {
        p.thread.signals.saved_mask = Some(old);
    } else {
        p.thread.signals.set_blocked(old);
    }
    result
}

/// poll over the `count` `struct pollfd` at `fds`, waiting up to `timeout_ns`.
fn poll_fds(p: &mut Process, fds: u64, count: u64, timeout_ns: Option<u64>) -> SysResult {
    // The app asks what is ready: what it sent before is on its way first (a flush point).
    p.flush_net();
    if count > p.nofile_limit {
        return Err(Errno::EINVAL);
    }
    let mut entries = Vec::from(user::write(&mut p.space, fds, count * 8)?);
    let deadline = deadline_after(p, timeout_ns);
    loop {
        crate::wait::note_scanner_signals(p);
        let mut ready = 0;
        let mut console = None;
        for entry in entries.chunks_exact_mut(8) {
            let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let events = u16::from_le_bytes([entry[4], entry[5]]);
            let revents = if fd < 0 {
                0
            } else {
                match p.file(fd) {
                    Err(_) => POLLNVAL,
                    Ok(file) => {
                        if events & (POLLIN | POLLRDNORM) != 0 && file.console_input().is_some() {
                            console = Some(file.clone());
                        }
                        file.poll_events() & (events | POLLHUP | POLLERR)
                    }
                }
            };
            entry[6..8].copy_from_slice(&revents.to_le_bytes());
            if revents != 0 {
                ready += 1;
            }
        }
        if ready == 0 && wait_for_change(p, console.as_deref(), deadline)? {
            continue;
        }
        user::copy_out(&mut p.space, fds, &entries)?;
        return Ok(ready);
    }
}

/// poll(fds, nfds, timeout): `timeout` in milliseconds, negative for none.
pub fn sys_poll(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fds, count, timeout, ..] = f.syscall_args();
    let timeout = timeout as i32;
    let timeout_ns = (timeout >= 0).then(|| timeout as u64 * 1_000_000);
    poll_fds(p, fds, count, timeout_ns)
}

/// ppoll(fds, nfds, timeout, sigmask, sigsetsize).
pub fn sys_ppoll(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fds, count, timeout, mask, size, ..] = f.syscall_args();
    let timeout_ns = if timeout == 0 { None } else { Some(read_timeout(p, timeout, false)?) };
    let ready = with_sigmask(p, mask, size, |p| poll_fds(p, fds, count, timeout_ns))?;
    if ready == 0 && timeout != 0 {
        write_time_left(p, timeout, 0, false);
    }
    Ok(ready)
}

/// The three fd sets of select, as bit words.
struct FdSets {
    read: Option<Vec<u64>>,
    write: Option<Vec<u64>>,
    except: Option<Vec<u64>>,
}

/// Reads an `fd_set` of `words` 64-bit words (`None` for a NULL pointer).
fn read_fd_set(p: &mut Process, addr: u64, words: usize) -> Result<Option<Vec<u64>>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let raw = user::read(&mut p.space, addr, words as u64 * 8)?;
    Ok(Some(
        raw.chunks_exact(8).map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])).collect(),
    ))
}

/// Writes an `fd_set` back (nothing for a NULL pointer).
fn write_fd_set(p: &mut Process, addr: u64, set: &Option<Vec<u64>>) -> Result<(), Errno> {
    if let Some(words) = set {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        user::copy_out(&mut p.space, addr, &bytes)?;
    }
    Ok(())
}

fn bit(set: &Option<Vec<u64>>, fd: usize) -> bool {
    set.as_ref().is_some_and(|words| words[fd / 64] & (1 << (fd % 64)) != 0)
}

/// select over `[0, nfds)` with the sets at `read`, `write`, `except`, waiting up to
/// `timeout_ns`. Linux's rules: EINVAL for a negative `nfds`, EBADF for a set bit of an fd
/// that is not open; the sets come back holding the ready fds; the result counts set bits.
fn select_fds(p: &mut Process, nfds: u64, addrs: [u64; 3], timeout_ns: Option<u64>) -> SysResult {
    // The app asks what is ready: what it sent before is on its way first (a flush point).
    p.flush_net();
    let nfds = nfds as i32;
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    let nfds = (nfds as usize).min(crate::fs::RLIMIT_NOFILE as usize);
    let words = nfds.div_ceil(64);
    let asked = FdSets {
        read: read_fd_set(p, addrs[0], words)?,
        write: read_fd_set(p, addrs[1], words)?,
        except: read_fd_set(p, addrs[2], words)?,
    };
    let empty = |set: &Option<Vec<u64>>| set.as_ref().map(|words| alloc::vec![0u64; words.len()]);
    let deadline = deadline_after(p, timeout_ns);
    let (got, ready) = loop {
        crate::wait::note_scanner_signals(p);
        let mut got = FdSets { read: empty(&asked.read), write: empty(&asked.write), except: empty(&asked.except) };
        let mut ready = 0;
        let mut console = None;
        for fd in 0..nfds {
            let (r, w, x) = (bit(&asked.read, fd), bit(&asked.write, fd), bit(&asked.except, fd));
            if !(r || w || x) {
                continue;
            }
            let file = p.file(fd as i32).map_err(|_| Errno::EBADF)?;
            if r && file.console_input().is_some() {
                console = Some(file.clone());
            }
            let events = file.poll_events();
            for (wanted, mask, set) in [
                (r, SELECT_READ, &mut got.read),
                (w, SELECT_WRITE, &mut got.write),
                (x, SELECT_EXCEPT, &mut got.except),
            ] {
                if wanted && events & mask != 0 {
                    if let Some(words) = set {
                        words[fd / 64] |= 1 << (fd % 64);
                    }
                    ready += 1;
                }
            }
        }
        if ready == 0 && wait_for_change(p, console.as_deref(), deadline)? {
            continue;
        }
        break (got, ready);
    };
    write_fd_set(p, addrs[0], &got.read)?;
    write_fd_set(p, addrs[1], &got.write)?;
    write_fd_set(p, addrs[2], &got.except)?;
    Ok(ready)
}

/// select(nfds, readfds, writefds, exceptfds, timeout): `timeout` a `struct timeval`
/// (NULL: none), updated to the time left.
pub fn sys_select(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [nfds, read, write, except, timeout, ..] = f.syscall_args();
    let timeout_ns = if timeout == 0 { None } else { Some(read_timeout(p, timeout, true)?) };
    let ready = select_fds(p, nfds, [read, write, except], timeout_ns)?;
    if ready == 0 && timeout != 0 {
        write_time_left(p, timeout, 0, true);
    }
    Ok(ready)
}

/// pselect6(nfds, readfds, writefds, exceptfds, timeout, sig): `timeout` a `struct timespec`,
/// `sig` points to `{ const sigset_t *mask; size_t size; }`.
pub fn sys_pselect6(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [nfds, read, write, except, timeout, sig] = f.syscall_args();
    let (mask, size) =
        if sig == 0 { (0, 0) } else { (user::read_u64(&mut p.space, sig)?, user::read_u64(&mut p.space, sig + 8)?) };
    let timeout_ns = if timeout == 0 { None } else { Some(read_timeout(p, timeout, false)?) };
    let ready = with_sigmask(p, mask, size, |p| select_fds(p, nfds, [read, write, except], timeout_ns))?;
    if ready == 0 && timeout != 0 {
        write_time_left(p, timeout, 0, false);
    }
    Ok(ready)
}
