//! [`PidFd`]: the file behind a pidfd (`pidfd_open`, `clone`'s `CLONE_PIDFD`), with Linux's
//! semantics.
//!
//! - A pidfd names a process, not a pid number that could be taken again (pids are never
//!   reused in a VM here, but the file also outlives the process): it stays valid after the
//!   process ends and after it is reaped.
//! - One [`PidFd`] per process, shared by all its pidfds (as Linux's pidfs gives them one
//!   inode): the process holds it from its first pidfd on, and its zombie record
//!   (`family::ExitedChild`) once it ended, so its end and its reaping reach every pidfd.
//! - Readiness: `POLLIN` once the process ended (all its threads), `POLLHUP` too once it was
//!   reaped (waited for, or its parent ignores SIGCHLD). Each stage is an edge for
//!   edge-triggered epoll entries; the process's end wakes the threads waiting for files.
//! - It cannot be read or written (`EINVAL`); it is an anonymous inode
//!   (`anon_inode:[pidfd]`). What it is for is in `syscall::pidfd`: sending the process a
//!   signal, taking a copy of one of its fds, and waiting for it (`waitid(P_PIDFD)`).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::fs::epoll::Changes;
use crate::fs::flags::{POLLHUP, POLLIN, POLLRDNORM};
use crate::fs::stat::{Stat, Timespec};

/// `pidfd_open` flag: the pidfd is `O_NONBLOCK` (a wait through it says `EAGAIN` rather
/// than waiting).
pub const PIDFD_NONBLOCK: u32 = crate::fs::flags::O_NONBLOCK;

/// How far a process's end has gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// It runs.
    Running = 0,
    /// It ended and waits to be reaped (a zombie).
    Ended = 1,
    /// It was reaped: nothing of it is left.
    Reaped = 2,
}

/// The process a pidfd names.
pub struct PidFd {
    pid: u32,
    stage: AtomicU8,
    time: Timespec,
}

impl PidFd {
    /// The pidfd node of process `pid`, at `stage`; `time` is the anonymous inode's time.
    pub fn new(pid: u32, stage: Stage, time: Timespec) -> Arc<PidFd> {
        Arc::new(PidFd { pid, stage: AtomicU8::new(stage as u8), time })
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How far its end has gone.
    pub fn stage(&self) -> Stage {
        match self.stage.load(Ordering::Relaxed) {
            0 => Stage::Running,
            1 => Stage::Ended,
            _ => Stage::Reaped,
        }
    }

    /// Its process reached `stage` (ended, or was reaped).
    pub fn advance(&self, stage: Stage) {
        self.stage.fetch_max(stage as u8, Ordering::Relaxed);
        crate::wait::note_io_event();
    }

    /// The metadata (the anonymous inode's).
    pub fn stat(&self) -> Stat {
        crate::fs::anon::stat(self.time)
    }

    /// `POLLIN | POLLRDNORM` once the process ended, with `POLLHUP` once it was reaped.
    pub fn poll(&self) -> u16 {
        match self.stage() {
            Stage::Running => 0,
            Stage::Ended => POLLIN | POLLRDNORM,
            Stage::Reaped => POLLIN | POLLRDNORM | POLLHUP,
        }
    }

    /// Each stage is one change of readiness.
    pub fn changes(&self) -> Changes {
        let stage = self.stage() as u64;
        Changes { input: stage, hangup: stage / 2, ..Changes::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_processs_end() {
        let pidfd = PidFd::new(7, Stage::Running, Timespec::default());
        assert_eq!((pidfd.pid(), pidfd.poll()), (7, 0));
        let running = pidfd.changes();
        pidfd.advance(Stage::Ended);
        assert_eq!(pidfd.poll(), POLLIN | POLLRDNORM);
        let ended = pidfd.changes();
        assert_ne!(running, ended, "an edge");
        pidfd.advance(Stage::Reaped);
        assert_eq!(pidfd.poll(), POLLIN | POLLRDNORM | POLLHUP);
        assert_ne!(ended, pidfd.changes(), "an edge");
        pidfd.advance(Stage::Ended);
        assert_eq!(pidfd.stage(), Stage::Reaped, "never goes back");
    }
}
