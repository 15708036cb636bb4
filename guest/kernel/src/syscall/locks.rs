//! Advisory file locks between processes (`crate::fs::locks` keeps them): flock, and
//! fcntl's record-lock commands (F_GETLK, F_SETLK, F_SETLKW and their F_OFD_* forms).
//!
//! A wait for a lock parks as a wait for any file to change, and looks again at least every
//! [`LOCK_RECHECK_NS`]: an unlock call wakes the waiters at once, a lock that goes with a
//! close or a process's end is seen by then. A signal ends the wait with EINTR (restarted
//! after an SA_RESTART handler, as Linux restarts these calls).

use alloc::sync::Arc;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::locks::{FileId, Owner, RecordLock, TO_THE_END};
use crate::fs::OpenFile;
use crate::process::Process;
use crate::user;

/// How long a waiting lock goes at most without looking again.
const LOCK_RECHECK_NS: u64 = 10_000_000;

/// The file a lock is on: its device and inode.
fn file_id(file: &OpenFile) -> Result<FileId, Errno> {
    let stat = file.stat()?;
    Ok((stat.dev, stat.ino))
}

/// Waits once for a lock to go (see the module doc): EINTR when a signal is pending. (One
/// copy for flock and fcntl.)
#[inline(never)]
fn wait_for_unlock(p: &mut Process) -> Result<(), Errno> {
    let deadline = crate::wait::now_ns(p).saturating_add(LOCK_RECHECK_NS);
    match crate::wait::wait_for_io(p, Some(deadline)) {
        Err(Errno::EINTR) => Err(Errno::EINTR),
        _ => Ok(()),
    }
}

/// A lock went: waiters look again.
fn unlocked() {
    crate::wait::note_io_event();
}

/// flock(fd, operation): LOCK_SH, LOCK_EX (waiting unless LOCK_NB: EWOULDBLOCK, which is EAGAIN) or
/// LOCK_UN, on the whole file, held by the open file description.
pub fn sys_flock(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    const LOCK_SH: u64 = 1;
    const LOCK_EX: u64 = 2;
    const LOCK_NB: u64 = 4;
    const LOCK_UN: u64 = 8;
    // The operation is checked before the fd, as Linux does.
    let operation = f.rsi;
    let exclusive = match operation & !LOCK_NB {
        LOCK_SH => Some(false),
        LOCK_EX => Some(true),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    let file = p.used_file(f.rdi as i32)?;
    let id = file_id(&file)?;
    let Some(exclusive) = exclusive else {
        p.vfs.locks().lock().unflock(id, &Owner::file(&file));
        unlocked();
        return Ok(0);
    };
    loop {
        match p.vfs.locks().lock().try_flock(id, Owner::file(&file), exclusive) {
            Err(Errno::EAGAIN) if operation & LOCK_NB == 0 => {}
            result => return result.map(|()| 0),
        }
        wait_for_unlock(p)?;
    }
}

const F_RDLCK: u16 = 0;
const F_WRLCK: u16 = 1;
const F_UNLCK: u16 = 2;
const SEEK_SET: u16 = 0;
const SEEK_CUR: u16 = 1;
const SEEK_END: u16 = 2;
/// Bytes of `struct flock`: l_type, l_whence (shorts), l_start, l_len (at 8 and 16), l_pid.
const FLOCK_SIZE: usize = 32;

/// What the app's `struct flock` asks.
struct Request {
    kind: u16,
    start: u64,
    end: u64,
    pid: i32,
}

/// Reads the `struct flock` at `addr` and works out its range in `file` (SEEK_CUR from the
/// file's position, SEEK_END from its size; a negative length counts back from the start,
/// 0 runs to the end and beyond). EINVAL for a bad type, whence or range.
fn read_request(p: &mut Process, addr: u64, file: &OpenFile) -> Result<Request, Errno> {
    let raw = user::read(&mut p.space, addr, FLOCK_SIZE as u64)?;
    let half = |at: usize| u16::from_le_bytes([raw[at], raw[at + 1]]);
    let word = |at: usize| i64::from_le_bytes(raw[at..at + 8].try_into().unwrap_or([0; 8]));
    let (kind, whence, start, len) = (half(0), half(2), word(8), word(16));
    let pid = i32::from_le_bytes([raw[24], raw[25], raw[26], raw[27]]);
    if kind > F_UNLCK {
        return Err(Errno::EINVAL);
    }
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => file.position() as i64,
        SEEK_END => file.stat()?.size as i64,
        _ => return Err(Errno::EINVAL),
    };
    let first = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    let (first, end) = match len {
        0 => (first, None),
        len if len > 0 => (first, Some(first.checked_add(len).ok_or(Errno::EOVERFLOW)?)),
        len => (first.checked_add(len).ok_or(Errno::EINVAL)?, Some(first)),
    };
    if first < 0 {
        return Err(Errno::EINVAL);
    }
    let end = end.map_or(TO_THE_END, |end| end as u64);
    Ok(Request { kind, start: first as u64, end, pid })
}

/// fcntl's record-lock commands on `fd`, with `struct flock` at `addr`: `get` reports the
/// first lock that would conflict (or F_UNLCK), else the lock is set (waiting if `wait`);
/// `ofd`: held by the open file description (its l_pid must be 0), else by the process.
pub fn fcntl_lock(p: &mut Process, fd: i32, addr: u64, get: bool, wait: bool, ofd: bool) -> SysResult {
    let file = p.used_file(fd)?;
    let request = read_request(p, addr, &file)?;
    // The access mode before l_pid, as Linux checks them.
    match request.kind {
        F_RDLCK if !get && !file.is_readable() => return Err(Errno::EBADF),
        F_WRLCK if !get && !file.is_writable() => return Err(Errno::EBADF),
        _ => {}
    }
    if ofd && request.pid != 0 {
        return Err(Errno::EINVAL);
    }
    let owner = if ofd { Owner::file(&file) } else { Owner::Process(p.pid) };
    let id = file_id(&file)?;
    let exclusive = request.kind == F_WRLCK;
    let lock = RecordLock {
        owner,
        exclusive,
        start: request.start,
        end: request.end,
        pid: if ofd { -1 } else { p.pid as i32 },
    };
    if get {
        if request.kind == F_UNLCK {
            return Err(Errno::EINVAL);
        }
        let found = p.vfs.locks().lock().conflict(id, &lock);
        return report(p, addr, found);
    }
    if request.kind == F_UNLCK {
        p.vfs.locks().lock().unlock_record(id, &lock.owner, lock.start, lock.end);
        unlocked();
        return Ok(0);
    }
    loop {
        match p.vfs.locks().lock().set_record(id, lock.clone()) {
            Err(Errno::EAGAIN) if wait => {}
            result => return result.map(|()| 0),
        }
        wait_for_unlock(p)?;
    }
}

/// Writes F_GETLK's answer: the conflicting lock (type, SEEK_SET range, holder's pid), or
/// F_UNLCK in l_type alone.
fn report(p: &mut Process, addr: u64, found: Option<RecordLock>) -> SysResult {
    let Some(lock) = found else {
        user::copy_out(&mut p.space, addr, &F_UNLCK.to_le_bytes())?;
        return Ok(0);
    };
    let mut raw = [0u8; FLOCK_SIZE];
    let kind = if lock.exclusive { F_WRLCK } else { F_RDLCK };
    raw[0..2].copy_from_slice(&kind.to_le_bytes());
    raw[2..4].copy_from_slice(&SEEK_SET.to_le_bytes());
    raw[8..16].copy_from_slice(&(lock.start as i64).to_le_bytes());
    let len = if lock.end == TO_THE_END { 0 } else { (lock.end - lock.start) as i64 };
    raw[16..24].copy_from_slice(&len.to_le_bytes());
    raw[24..28].copy_from_slice(&lock.pid.to_le_bytes());
    user::copy_out(&mut p.space, addr, &raw)?;
    Ok(0)
}

/// The process closed `file` (one of its fds): its record locks on that file go, as POSIX
/// has it (whichever fd took them).
pub fn closed(p: &Process, file: &Arc<OpenFile>) {
    if p.vfs.locks().lock().has_records() {
        release_on_close(p, file);
    }
}

/// [`closed`] when some process holds record locks.
#[cold]
#[inline(never)]
fn release_on_close(p: &Process, file: &Arc<OpenFile>) {
    let mut locks = p.vfs.locks().lock();
    if !locks.process_holds(p.pid) {
        return;
    }
    if let Ok(id) = file_id(file) {
        locks.release_process(p.pid, Some(id));
        drop(locks);
        unlocked();
    }
}

/// The process ends: all its record locks go.
pub fn process_ended(p: &Process) {
    p.vfs.locks().lock().release_process(p.pid, None);
    unlocked();
}
