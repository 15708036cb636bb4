//! Linux's anonymous inode (`anon_inodefs`): the one inode that every eventfd and epoll file
//! shares on Linux (and timerfds, signalfds, inotify instances and pidfds). It owns what these files show of themselves: `fstat` (mode `0600` with
//! no file-type bits, owned by root, size 0, the same device and inode number for all of
//! them), `fstatfs` (`ANON_INODE_FS_MAGIC`) and the names `/proc/self/fd/N` links to
//! (`anon_inode:[eventfd]`, `anon_inode:[eventpoll]`).
//!
//! Such a file cannot be reopened through `/proc/self/fd/N` (`ENXIO`, Linux's `no_open`;
//! `O_PATH` works) and takes no metadata changes (`EOPNOTSUPP`).
//!
//! [`AnonNode`] is what `Node::Anon` holds: one of the kinds of file on the anonymous inode,
//! each of which owns its semantics (`fs::eventfd`, `fs::epoll`, `fs::timerfd`,
//! `fs::signalfd`, `fs::inotify`, `fs::pidfd`); this dispatches the node operations they answer.

use alloc::sync::Arc;

use crate::errno::Errno;
use crate::fs::epoll::{Changes, Epoll};
use crate::fs::eventfd::EventFd;
use crate::fs::inotify::Inotify;
use crate::fs::pidfd::PidFd;
use crate::fs::signalfd::SignalFd;
use crate::fs::stat::{makedev, FileType, Stat, Timespec};
use crate::fs::timerfd::TimerFd;

/// `statfs` `f_type` of anonymous inodes.
pub const ANON_INODE_FS_MAGIC: u64 = 0x0904_1934;
/// `st_dev` of anonymous inodes (an unnamed device, as `anon_inodefs` gets at boot).
pub const DEV_ANON_INODE: u64 = makedev(0, 0x10);
/// `st_ino` of the one anonymous inode.
pub const ANON_INODE_INO: u64 = 0x3fff;
/// What `/proc/self/fd/N` shows for an eventfd.
pub const EVENTFD_NAME: &[u8] = b"anon_inode:[eventfd]";
/// What `/proc/self/fd/N` shows for an epoll instance.
pub const EPOLL_NAME: &[u8] = b"anon_inode:[eventpoll]";
/// What `/proc/self/fd/N` shows for a timerfd.
pub const TIMERFD_NAME: &[u8] = b"anon_inode:[timerfd]";
/// What `/proc/self/fd/N` shows for a signalfd.
pub const SIGNALFD_NAME: &[u8] = b"anon_inode:[signalfd]";
/// What `/proc/self/fd/N` shows for an inotify instance (no brackets, as on Linux).
pub const INOTIFY_NAME: &[u8] = b"anon_inode:inotify";
/// What `/proc/self/fd/N` shows for a pidfd.
pub const PIDFD_NAME: &[u8] = b"anon_inode:[pidfd]";

/// The anonymous inode's metadata; `time` is when it was made (the VM's boot, as on Linux).
pub fn stat(time: Timespec) -> Stat {
    Stat::contentless(DEV_ANON_INODE, ANON_INODE_INO, 1, FileType::Anon.mode_bits() | 0o600, (0, 0), time)
}

/// A file on the anonymous inode.
#[derive(Clone)]
pub enum AnonNode {
    EventFd(Arc<EventFd>),
    Epoll(Arc<Epoll>),
    TimerFd(Arc<TimerFd>),
    SignalFd(Arc<SignalFd>),
    Inotify(Arc<Inotify>),
    PidFd(Arc<PidFd>),
}

impl AnonNode {
    /// The metadata (the anonymous inode's, with the time the file was made).
    pub fn stat(&self) -> Stat {
        match self {
            AnonNode::EventFd(eventfd) => eventfd.stat(),
            AnonNode::Epoll(epoll) => epoll.stat(),
            AnonNode::TimerFd(timer) => timer.stat(),
            AnonNode::SignalFd(signalfd) => signalfd.stat(),
            AnonNode::Inotify(inotify) => inotify.stat(),
            AnonNode::PidFd(pidfd) => pidfd.stat(),
        }
    }

    /// Whether `self` and `other` are the same file.
    pub fn same_file(&self, other: &AnonNode) -> bool {
        match (self, other) {
            (AnonNode::EventFd(a), AnonNode::EventFd(b)) => Arc::ptr_eq(a, b),
            (AnonNode::Epoll(a), AnonNode::Epoll(b)) => Arc::ptr_eq(a, b),
            (AnonNode::TimerFd(a), AnonNode::TimerFd(b)) => Arc::ptr_eq(a, b),
            (AnonNode::SignalFd(a), AnonNode::SignalFd(b)) => Arc::ptr_eq(a, b),
            (AnonNode::Inotify(a), AnonNode::Inotify(b)) => Arc::ptr_eq(a, b),
            (AnonNode::PidFd(a), AnonNode::PidFd(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// A read: an eventfd's counter, a timerfd's expirations, an inotify instance's events
    /// (each says `EAGAIN` when it has nothing yet); an epoll instance and a pidfd cannot be
    /// read, and a signalfd is read by the syscall layer (`syscall::signalfd`: it needs the
    /// reader): `EINVAL`.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            AnonNode::EventFd(eventfd) => eventfd.read(buf),
            AnonNode::TimerFd(timer) => timer.read(buf),
            AnonNode::Inotify(inotify) => inotify.read(buf),
            AnonNode::Epoll(_) | AnonNode::SignalFd(_) | AnonNode::PidFd(_) => Err(Errno::EINVAL),
        }
    }

    /// A write: only an eventfd takes one (`EINVAL` for the others).
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        match self {
            AnonNode::EventFd(eventfd) => eventfd.write(data),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The `poll` events that hold now (an epoll instance `depth` levels deep).
    pub fn poll(&self, depth: u32) -> u16 {
        match self {
            AnonNode::EventFd(eventfd) => eventfd.poll(),
            AnonNode::Epoll(epoll) => epoll.poll(depth),
            AnonNode::TimerFd(timer) => timer.poll(),
            AnonNode::SignalFd(signalfd) => signalfd.poll(),
            AnonNode::Inotify(inotify) => inotify.poll(),
            AnonNode::PidFd(pidfd) => pidfd.poll(),
        }
    }

    /// How many times the file's readiness may have changed (edge-triggered epoll entries).
    pub fn changes(&self, depth: u32) -> Changes {
        match self {
            AnonNode::EventFd(eventfd) => eventfd.changes(),
            AnonNode::Epoll(epoll) => epoll.changes(depth),
            AnonNode::TimerFd(timer) => timer.changes(),
            AnonNode::SignalFd(signalfd) => signalfd.changes(),
            AnonNode::Inotify(inotify) => inotify.changes(),
            AnonNode::PidFd(pidfd) => pidfd.changes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anon_inodes_look_like_linux() {
        let time = Timespec { sec: 5, nsec: 6 };
        let st = stat(time);
        assert_eq!(st.mode, 0o600, "no file-type bits");
        assert_eq!(st.file_type(), None);
        assert_eq!((st.uid, st.gid, st.size, st.nlink), (0, 0, 0, 1));
        assert_eq!(st.mtime, time);
        assert_eq!(FileType::Anon.dirent_type(), 0);
    }
}
