//! poll and ppoll. Regular files, directories and devices are always ready (as on Linux);
//! the console is reported ready for reading and writing, so a read may then wait for the
//! host's input (waiting on the host's readiness comes with pipes and sockets).

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;

fn poll_fds(p: &mut Process, fds: u64, count: u64) -> SysResult {
    if count > crate::fs::RLIMIT_NOFILE {
        return Err(Errno::EINVAL);
    }
    let entries = user::write(&mut p.space, fds, count * 8)?;
    let mut ready = 0;
    for entry in entries.chunks_exact_mut(8) {
        let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let events = u16::from_le_bytes([entry[4], entry[5]]);
        let revents = if fd < 0 {
            0
        } else if p.files.fds.lock().get(fd).is_err() {
            POLLNVAL
        } else {
            events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)
        };
        entry[6..8].copy_from_slice(&revents.to_le_bytes());
        if revents != 0 {
            ready += 1;
        }
    }
    Ok(ready)
}

/// poll(fds, nfds, timeout).
pub fn sys_poll(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    poll_fds(p, f.rdi, f.rsi)
}

/// ppoll(fds, nfds, timeout, sigmask, sigsetsize).
pub fn sys_ppoll(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    poll_fds(p, f.rdi, f.rsi)
}
