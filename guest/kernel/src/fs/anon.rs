//! Linux's anonymous inode (`anon_inodefs`): the one inode that every eventfd and epoll file
//! shares on Linux (and timerfds, signalfds and inotify instances). It owns what these files show of themselves: `fstat` (mode `0600` with
//! no file-type bits, owned by root, size 0, the same device and inode number for all of
//! them), `fstatfs` (`ANON_INODE_FS_MAGIC`) and the names `/proc/self/fd/N` links to
//! (`anon_inode:[eventfd]`, `anon_inode:[eventpoll]`).
//!
//! Such a file cannot be reopened through `/proc/self/fd/N` (`ENXIO`, Linux's `no_open`;
//! `O_PATH` works) and takes no metadata changes (`EOPNOTSUPP`).

use crate::fs::stat::{makedev, FileType, Stat, Timespec};

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

/// The anonymous inode's metadata; `time` is when it was made (the VM's boot, as on Linux).
pub fn stat(time: Timespec) -> Stat {
    Stat::contentless(DEV_ANON_INODE, ANON_INODE_INO, 1, FileType::Anon.mode_bits() | 0o600, (0, 0), time)
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
