//! The file-system layer: the file tree the app sees, its open files and its fd table.
//!
//! # Mounts
//!
//! | path        | file system          | writable                                          |
//! |-------------|----------------------|---------------------------------------------------|
//! | `/`         | [`TmpFs`] over the image ([`tmpfs::lower`]) | yes, what changes is kept in memory |
//! | `/` (read-only root) | [`ImageFs`] (image) | no: every change is `EROFS`                |
//! | `/tmp`      | [`TmpFs`]            | yes (mode `1777`), bounded by the tmpfs budget     |
//! | `/dev`      | [`DevFs`]            | the devices' data only (`/dev/null`, ...); no names |
//! | `/dev/shm`  | [`TmpFs`]            | yes, sharing `/tmp`'s budget                       |
//! | `/proc`     | [`ProcFs`]           | no (`EACCES`/`EPERM`)                              |
//!
//! Mount points need not exist in the image: a directory lists the mount points it holds.
//! Renames and hard links never cross mounts (`EXDEV`). The app acts as root towards
//! permissions (modes are recorded, not enforced; `X_OK` needs an execute bit).
//!
//! # Pieces
//!
//! - [`vfs`]: [`Vfs`], the mount table and the path operations (open, stat, mkdir, rename...).
//! - [`path`]: path walking rules (`.`, `..`, slashes, symlinks, `ELOOP`, `ENAMETOOLONG`).
//! - [`node`]: [`Node`] (a file of any file system) and [`Location`] (a node and its path).
//! - [`file`](mod@file): [`OpenFile`], what an fd refers to (position, flags, read/write/getdents...).
//! - [`fdtable`]: [`FdTable`], the fds.
//! - [`image`], [`tmpfs`], [`dev`], [`console`], [`proc`]: the file systems ([`tmpfs::lower`]:
//!   the writable root, a tmpfs whose nodes stand for the image's until they change).
//! - [`pipe`]: [`Pipe`], the anonymous pipes of `pipe`/`pipe2` (not in any directory).
//! - [`eventfd`]: [`EventFd`], the counters of `eventfd`/`eventfd2`.
//! - [`timerfd`]: the timers of `timerfd_create`.
//! - [`epoll`]: [`Epoll`], epoll instances (interest lists and what `epoll_wait` reports).
//! - [`unix`], [`inet`], [`netlink`]: `AF_UNIX` sockets (in guest memory), IP sockets (the
//!   VMM's host sockets, by handle) and `AF_NETLINK` sockets (answered by `rtnetlink`).
//! - [`anon`]: Linux's anonymous inode, what eventfd and epoll files show of themselves.
//! - [`stat`], [`statfs`], [`dirent`]: Linux's `struct stat`/`statx`/`statfs`/`dirent64`.
//! - [`flags`], [`ioctl`]: Linux's flag values and the ioctls the file layer answers.
//! - [`env`](mod@env): [`FsEnv`], the kernel services the file systems use (console, clock, random).
//! - [`budget`]: [`SpaceBudget`], the byte budget that bounds tmpfs.
//!
//! # Boot
//!
//! ```text
//! let vfs = Vfs::new(image_bytes, "/bin/app", env, tmpfs_budget, read_only_root)?;
//! let mut fds = FdTable::new();
//! for fd in 0..3 { fds.insert(vfs.console_file(fd)?, false)?; }
//! let cwd = vfs.chdir(&vfs.root(), boot_cwd)?;
//! vfs.set_calling_process(process); // what /proc/self/fd and /proc/self/cwd show
//! ```

pub mod access;
pub mod anon;
pub mod budget;
pub mod console;
pub mod dev;
pub mod dirent;
pub mod env;
pub mod epoll;
pub mod eventfd;
pub mod fdtable;
pub mod fifo;
pub mod file;
pub mod flags;
pub mod hostfs;
pub mod image;
pub mod inet;
pub mod inotify;
pub mod ioctl;
pub mod locks;
pub mod netlink;
pub mod node;
pub mod path;
pub mod pidfd;
pub mod pipe;
pub mod proc;
pub mod procnet;
pub mod signalfd;
pub mod stat;
pub mod statfs;
pub mod timerfd;
pub mod tmpfs;
pub mod unix;
pub mod vfs;

#[cfg(test)]
pub(crate) mod test_image;

pub use budget::SpaceBudget;
pub use console::Console;
pub use dev::DevFs;
pub use env::{Clock, FsEnv, RandomSource, SystemInfo};
pub use epoll::Epoll;
pub use eventfd::EventFd;
pub use fdtable::{FdEntry, FdTable, RLIMIT_NOFILE};
pub use file::OpenFile;
pub use image::ImageFs;
pub use node::{Location, Node};
pub use pipe::Pipe;
pub use proc::{ProcFs, ProcessView};
pub use stat::{Stat, TimeChange};
pub use statfs::StatFs;
pub use tmpfs::TmpFs;
pub use vfs::Vfs;
