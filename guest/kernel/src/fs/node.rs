//! [`Node`]: a file of any of the file systems, and [`Location`]: a node as a path walk
//! reached it (which mount, which absolute path).
//!
//! `Node` dispatches each operation to the file system that owns the file, so the VFS and
//! the open-file layer never care which one it is. A node holds its file system alive (it
//! carries an `Arc` to it), so an open file keeps working whatever happens to the tree.
//!
//! Pipes, eventfds and epoll instances are nodes too, in no directory: they answer every
//! directory operation with `ENOTDIR` and every symlink one with `EINVAL`. Eventfds and epoll
//! instances are Linux's anonymous inodes (`fs::anon`): `lseek` keeps them at 0 but
//! positioned I/O is `ESPIPE`, `mmap` `ENODEV`, metadata changes `EOPNOTSUPP`. `AF_UNIX`
//! sockets (`fs::unix`) are sockfs inodes: `S_IFSOCK`, not seekable, pollable.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::anon::AnonNode;
use crate::fs::console::ConsoleNode;
use crate::fs::dev::DevNode;
use crate::fs::dirent::{DirEntry, FIRST_ENTRY_OFFSET};
use crate::fs::epoll::Epoll;
use crate::fs::eventfd::EventFd;
use crate::fs::hostfs::HostNode;
use crate::fs::image::ImageFs;
use crate::fs::inet::InetSocket;
use crate::fs::netlink::NetlinkSocket;
use crate::fs::path::LinkTarget;
use crate::fs::pipe::Pipe;
use crate::fs::proc::ProcNode;
use crate::fs::stat::{FileType, Stat, TimeChange};
use crate::fs::tmpfs::{TmpNode, WritePos};
use crate::fs::unix::UnixSocket;

/// A file of the image file system.
#[derive(Clone)]
pub struct ImageNode {
    fs: Arc<ImageFs>,
    index: u32,
    file_type: FileType,
}

impl ImageNode {
    /// Entry `index` of `fs`: `EIO` if the entry is malformed.
    pub fn new(fs: Arc<ImageFs>, index: u32) -> Result<ImageNode, Errno> {
        let file_type = fs.file_type(index)?;
        Ok(ImageNode { fs, index, file_type })
    }

    /// The entry's index in the file table.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The file system.
    pub fn fs(&self) -> &Arc<ImageFs> {
        &self.fs
    }
}

/// A file of any file system.
#[derive(Clone)]
pub enum Node {
    /// In the read-only image.
    Image(ImageNode),
    /// In a tmpfs.
    Tmp(Arc<TmpNode>),
    /// In the device tree.
    Dev(DevNode),
    /// A console file.
    Console(ConsoleNode),
    /// In `/proc`.
    Proc(ProcNode),
    /// An anonymous pipe (in no directory).
    Pipe(Arc<Pipe>),
    /// On the anonymous inode: an eventfd, epoll instance, timerfd, signalfd or inotify
    /// instance.
    Anon(AnonNode),
    /// An `AF_UNIX` socket (sockfs: in no directory).
    Socket(Arc<UnixSocket>),
    /// An `AF_INET`/`AF_INET6` socket (sockfs), held by the VMM.
    Inet(Arc<InetSocket>),
    /// An `AF_NETLINK` socket (sockfs), in guest memory.
    Netlink(Arc<NetlinkSocket>),
    /// In a volume, a host directory the VMM holds.
    Host(Arc<HostNode>),
}

/// How a node's file system takes changes to its names and metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    /// Anything goes (tmpfs).
    Writable,
    /// Nothing changes: `EROFS` (the image).
    ReadOnly,
    /// A fixed, synthetic tree: `EPERM`, `EACCES` (devices, `/proc`).
    Fixed,
}

impl Node {
    /// The file's type.
    pub fn file_type(&self) -> FileType {
        match self {
            Node::Image(node) => node.file_type,
            Node::Tmp(node) => node.file_type(),
            Node::Dev(node) => node.file_type(),
            Node::Console(_) => FileType::CharDevice,
            Node::Proc(node) => node.file_type(),
            Node::Pipe(_) => FileType::Fifo,
            Node::Anon(_) => FileType::Anon,
            Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => FileType::Socket,
            Node::Host(node) => node.file_type(),
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }

    /// How its file system takes changes.
    pub fn mutability(&self) -> Mutability {
        match self {
            Node::Tmp(_) => Mutability::Writable,
            Node::Image(_) => Mutability::ReadOnly,
            Node::Host(node) if node.volume().read_only() => Mutability::ReadOnly,
            Node::Host(_) => Mutability::Writable,
            Node::Dev(_)
            | Node::Console(_)
            | Node::Proc(_)
            | Node::Pipe(_)
            | Node::Anon(_)
            | Node::Socket(_)
            | Node::Inet(_)
            | Node::Netlink(_) => Mutability::Fixed,
        }
    }

    /// The metadata.
    pub fn stat(&self) -> Result<Stat, Errno> {
        Ok(match self {
            Node::Image(node) => node.fs.stat(node.index)?,
            Node::Tmp(node) => node.stat(),
            Node::Dev(node) => node.stat(),
            Node::Console(node) => node.stat(),
            Node::Proc(node) => node.stat(),
            Node::Pipe(pipe) => pipe.stat(),
            Node::Anon(anon) => anon.stat(),
            Node::Socket(socket) => socket.stat(),
            Node::Inet(socket) => socket.stat(),
            Node::Netlink(socket) => socket.stat(),
            Node::Host(node) => return node.stat(),
        })
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        match self {
            Node::Image(node) => u64::from(node.index) + 1,
            Node::Tmp(node) => node.ino(),
            Node::Dev(node) => node.kind().ino(),
            Node::Console(node) => node.ino(),
            Node::Proc(node) => node.kind().ino(),
            Node::Pipe(pipe) => pipe.ino(),
            Node::Anon(_) => crate::fs::anon::ANON_INODE_INO,
            Node::Socket(socket) => socket.ino(),
            Node::Inet(socket) => socket.ino(),
            Node::Netlink(socket) => socket.ino(),
            Node::Host(node) => node.ino(),
        }
    }

    /// Whether `self` and `other` are the same file.
    pub fn same_file(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Image(a), Node::Image(b)) => Arc::ptr_eq(&a.fs, &b.fs) && a.index == b.index,
            (Node::Tmp(a), Node::Tmp(b)) => Arc::ptr_eq(a, b),
            (Node::Dev(a), Node::Dev(b)) => a.kind() == b.kind(),
            (Node::Console(a), Node::Console(b)) => a.same_file(b),
            (Node::Proc(a), Node::Proc(b)) => a.kind() == b.kind(),
            (Node::Pipe(a), Node::Pipe(b)) => Arc::ptr_eq(a, b),
            (Node::Anon(a), Node::Anon(b)) => a.same_file(b),
            (Node::Socket(a), Node::Socket(b)) => Arc::ptr_eq(a, b),
            (Node::Inet(a), Node::Inet(b)) => Arc::ptr_eq(a, b),
            (Node::Netlink(a), Node::Netlink(b)) => Arc::ptr_eq(a, b),
            (Node::Host(a), Node::Host(b)) => a.same_file(b),
            _ => false,
        }
    }

    /// The entry `name` of this directory, within its own file system (mounts are the
    /// VFS's business): `ENOTDIR` if this is not a directory, `ENOENT` if missing.
    pub fn lookup(&self, name: &[u8]) -> Result<Node, Errno> {
        match self {
            Node::Image(node) => {
                let child = node.fs.lookup(node.index, name)?;
                Ok(Node::Image(ImageNode::new(node.fs.clone(), child)?))
            }
            Node::Tmp(node) => Ok(Node::Tmp(node.lookup(name)?)),
            Node::Dev(node) => node.lookup(name),
            Node::Console(_) | Node::Pipe(_) | Node::Anon(_) | Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => {
                Err(Errno::ENOTDIR)
            }
            Node::Proc(node) => Ok(Node::Proc(node.lookup(name)?)),
            Node::Host(node) => Ok(Node::Host(Arc::new(node.lookup(name)?))),
        }
    }

    /// The parent of this directory within its file system (a file system's root is its
    /// own parent).
    pub fn parent(&self) -> Result<Node, Errno> {
        match self {
            Node::Image(node) => {
                if node.file_type != FileType::Directory {
                    return Err(Errno::ENOTDIR);
                }
                let parent = node.fs.parent(node.index)?;
                Ok(Node::Image(ImageNode::new(node.fs.clone(), parent)?))
            }
            Node::Tmp(node) => Ok(Node::Tmp(node.parent()?)),
            Node::Dev(node) => Ok(Node::Dev(node.parent()?)),
            Node::Console(_) | Node::Pipe(_) | Node::Anon(_) | Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => {
                Err(Errno::ENOTDIR)
            }
            Node::Proc(node) => Ok(Node::Proc(node.parent()?)),
            Node::Host(node) => Ok(Node::Host(Arc::new(node.parent()?))),
        }
    }

    /// Lists this directory's entries from offset `from` (at least 2: `.` and `..` are the
    /// open-file layer's) until `visit` returns false.
    pub fn read_dir(&self, from: u64, visit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<(), Errno> {
        match self {
            Node::Image(node) => {
                let children = node.fs.children(node.index)?;
                let first = FIRST_ENTRY_OFFSET;
                let skip = from.saturating_sub(first);
                let start = u64::from(children.start).saturating_add(skip).min(u64::from(children.end)) as u32;
                for child in start..children.end {
                    let entry = DirEntry {
                        name: node.fs.name(child)?,
                        ino: u64::from(child) + 1,
                        file_type: node.fs.file_type(child)?,
                        next_offset: first + u64::from(child - children.start) + 1,
                    };
                    if !visit(&entry) {
                        break;
                    }
                }
                Ok(())
            }
            Node::Tmp(node) => node.read_dir(from, visit),
            Node::Dev(node) => node.read_dir(from, visit),
            Node::Console(_) | Node::Pipe(_) | Node::Anon(_) | Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => {
                Err(Errno::ENOTDIR)
            }
            Node::Proc(node) => node.read_dir(from, visit),
            Node::Host(node) => node.read_dir(from, visit),
        }
    }

    /// Where this symlink leads: `EINVAL` if it is not one.
    pub fn link_target(&self) -> Result<LinkTarget<Location>, Errno> {
        match self {
            Node::Proc(node) => node.link_target(),
            _ => Ok(LinkTarget::Path(self.readlink()?)),
        }
    }

    /// The text of this symlink (what `readlink` returns): `EINVAL` if it is not one.
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match self {
            Node::Image(node) => Ok(Vec::from(node.fs.readlink(node.index)?)),
            Node::Tmp(node) => node.readlink(),
            Node::Dev(node) => node.readlink(),
            Node::Console(_) | Node::Pipe(_) | Node::Anon(_) | Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => {
                Err(Errno::EINVAL)
            }
            Node::Proc(node) => node.readlink(),
            Node::Host(node) => node.readlink(),
        }
    }

    /// Whether `lseek` works (consoles and pipes: `ESPIPE`; anonymous inodes stay at 0).
    pub fn is_seekable(&self) -> bool {
        !matches!(self, Node::Console(_) | Node::Pipe(_) | Node::Socket(_) | Node::Inet(_) | Node::Netlink(_))
    }

    /// Whether `pread`/`pwrite` work (not on consoles, pipes or anonymous inodes: `ESPIPE`).
    pub fn has_positioned_io(&self) -> bool {
        self.is_seekable() && !self.is_anon()
    }

    /// Whether this is an anonymous inode (an eventfd or an epoll instance).
    pub fn is_anon(&self) -> bool {
        matches!(self, Node::Anon(_))
    }

    /// Whether the file can be watched by `epoll` (Linux: whether it has a `poll` method):
    /// pipes, consoles, eventfds, epoll instances and `/dev/random`; not regular files,
    /// directories, symlinks, `/proc` files or the other devices (`EPERM`).
    pub fn supports_poll(&self) -> bool {
        match self {
            Node::Pipe(_) | Node::Console(_) | Node::Anon(_) | Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => {
                true
            }
            Node::Dev(node) => node.kind() == crate::fs::dev::DevKind::Random,
            Node::Image(_) | Node::Tmp(_) | Node::Proc(_) | Node::Host(_) => false,
        }
    }

    /// Reads from `offset` (ignored by devices, consoles, pipes and eventfds; a pipe or
    /// eventfd that has nothing yet says `EAGAIN`, as with `O_NONBLOCK`; an epoll instance
    /// cannot be read: `EINVAL`).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            Node::Image(node) => node.fs.read_at(node.index, offset, buf),
            Node::Tmp(node) => node.read_at(offset, buf),
            Node::Dev(node) => node.read(buf),
            Node::Console(node) => node.read(buf),
            Node::Proc(node) => node.read_at(offset, buf),
            Node::Host(node) => node.read_at(offset, buf),
            Node::Pipe(pipe) => pipe.read(buf),
            Node::Anon(anon) => anon.read(buf),
            Node::Socket(socket) => {
                let received = socket.recv(buf.len(), false)?;
                buf[..received.data.len()].copy_from_slice(&received.data);
                Ok(received.data.len())
            }
            // The syscall layer reads IP and netlink sockets itself (`syscall::inet`,
            // `syscall::netlink`), straight into the app's memory; nothing else reads them
            // through the node.
            Node::Inet(_) | Node::Netlink(_) => Err(Errno::EINVAL),
        }
    }

    /// Writes at `pos`; returns the bytes written and the file position after them (devices,
    /// consoles, pipes and eventfds leave the position where it was; a full pipe or eventfd
    /// says `EAGAIN`, as with `O_NONBLOCK`; an epoll instance cannot be written: `EINVAL`).
    pub fn write_at(&self, pos: WritePos, data: &[u8]) -> Result<(usize, u64), Errno> {
        let unmoved = match pos {
            WritePos::At(offset) => offset,
            WritePos::End => 0,
        };
        match self {
            Node::Tmp(node) => node.write_at(pos, data),
            Node::Host(node) => node.write_at(pos, data),
            Node::Dev(node) => Ok((node.write(data)?, unmoved)),
            Node::Console(node) => Ok((node.write(data)?, unmoved)),
            Node::Pipe(pipe) => Ok((pipe.write(data)?, unmoved)),
            Node::Anon(anon) => Ok((anon.write(data)?, unmoved)),
            Node::Socket(socket) => Ok((socket.send(None, data, Vec::new(), socket.owner())?, unmoved)),
            // As for reads: `syscall::inet` and `syscall::netlink` write these.
            Node::Inet(_) | Node::Netlink(_) => Err(Errno::EINVAL),
            Node::Image(_) | Node::Proc(_) => Err(Errno::EBADF),
        }
    }

    /// The timerfd, if this is one.
    pub fn timerfd(&self) -> Option<&Arc<crate::fs::timerfd::TimerFd>> {
        match self {
            Node::Anon(AnonNode::TimerFd(timer)) => Some(timer),
            _ => None,
        }
    }

    /// The inotify instance, if this is one.
    pub fn inotify(&self) -> Option<&Arc<crate::fs::inotify::Inotify>> {
        match self {
            Node::Anon(AnonNode::Inotify(inotify)) => Some(inotify),
            _ => None,
        }
    }

    /// The pidfd, if this is one.
    pub fn pidfd(&self) -> Option<&Arc<crate::fs::pidfd::PidFd>> {
        match self {
            Node::Anon(AnonNode::PidFd(pidfd)) => Some(pidfd),
            _ => None,
        }
    }

    /// The signalfd, if this is one.
    pub fn signalfd(&self) -> Option<&Arc<crate::fs::signalfd::SignalFd>> {
        match self {
            Node::Anon(AnonNode::SignalFd(signalfd)) => Some(signalfd),
            _ => None,
        }
    }

    /// The pipe, if this is one.
    pub fn pipe(&self) -> Option<&Arc<Pipe>> {
        match self {
            Node::Pipe(pipe) => Some(pipe),
            _ => None,
        }
    }

    /// The eventfd, if this is one.
    pub fn eventfd(&self) -> Option<&Arc<EventFd>> {
        match self {
            Node::Anon(AnonNode::EventFd(eventfd)) => Some(eventfd),
            _ => None,
        }
    }

    /// The epoll instance, if this is one.
    pub fn epoll(&self) -> Option<&Arc<Epoll>> {
        match self {
            Node::Anon(AnonNode::Epoll(epoll)) => Some(epoll),
            _ => None,
        }
    }

    /// The socket, if this is one.
    pub fn socket(&self) -> Option<&Arc<UnixSocket>> {
        match self {
            Node::Socket(socket) => Some(socket),
            _ => None,
        }
    }

    /// The IP socket, if this is one.
    pub fn inet(&self) -> Option<&Arc<InetSocket>> {
        match self {
            Node::Inet(socket) => Some(socket),
            _ => None,
        }
    }

    /// The netlink socket, if this is one.
    pub fn netlink(&self) -> Option<&Arc<NetlinkSocket>> {
        match self {
            Node::Netlink(socket) => Some(socket),
            _ => None,
        }
    }

    /// The size of a regular file (0 for anything else, and for `/proc` files).
    pub fn size(&self) -> u64 {
        match self {
            Node::Image(node) if node.file_type == FileType::Regular => node.fs.size(node.index).unwrap_or(0),
            Node::Tmp(node) if node.file_type() == FileType::Regular => node.size(),
            Node::Host(node) if node.file_type() == FileType::Regular => node.size(),
            _ => 0,
        }
    }

    /// Sets a regular file's size: `EISDIR` for a directory, `EINVAL` for other non-regular
    /// files, `EROFS` in the image, `EACCES` in `/proc`.
    pub fn truncate(&self, len: u64) -> Result<(), Errno> {
        match self.file_type() {
            FileType::Directory => return Err(Errno::EISDIR),
            FileType::Regular => {}
            _ => return Err(Errno::EINVAL),
        }
        match self {
            Node::Tmp(node) => node.truncate(len),
            Node::Host(node) => node.truncate(len),
            Node::Image(_) => Err(Errno::EROFS),
            _ => Err(Errno::EACCES),
        }
    }

    /// `SEEK_DATA` / `SEEK_HOLE` from `offset` in a regular file (a file in the image has
    /// no holes): `ENXIO` at or past the end.
    pub fn seek_data_or_hole(&self, offset: u64, want_hole: bool) -> Result<u64, Errno> {
        match self {
            Node::Tmp(node) => node.seek_data_or_hole(offset, want_hole),
            Node::Host(node) if node.file_type() == FileType::Regular => node.seek_data_or_hole(offset, want_hole),
            Node::Image(node) if node.file_type == FileType::Regular => {
                let size = node.fs.size(node.index)?;
                match (offset >= size, want_hole) {
                    (true, _) => Err(Errno::ENXIO),
                    (false, true) => Ok(size),
                    (false, false) => Ok(offset),
                }
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// Where a regular file of the image lies in the image file: `(offset, size)`.
    pub fn image_extent(&self) -> Option<(u64, u64)> {
        match self {
            Node::Image(node) => node.fs.file_extent(node.index),
            Node::Tmp(node) => node.lower_extent(),
            _ => None,
        }
    }

    /// `chmod`: `EROFS` in the image, `EOPNOTSUPP` for anonymous inodes, `EPERM` for
    /// devices and `/proc` (and for the execute bits of a file sealed with `F_SEAL_EXEC`).
    pub fn set_mode(&self, mode: u32) -> Result<(), Errno> {
        match self {
            Node::Tmp(node) => node.set_mode(mode),
            Node::Host(node) => node.set_mode(mode),
            Node::Image(_) => Err(Errno::EROFS),
            Node::Anon(_) => Err(Errno::EOPNOTSUPP),
            _ => Err(Errno::EPERM),
        }
    }

    /// `chown` (`None` leaves a field): `EROFS` in the image, `EOPNOTSUPP` for anonymous
    /// inodes, `EPERM` for devices and `/proc`.
    pub fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        match self {
            Node::Tmp(node) => {
                node.set_owner(uid, gid);
                Ok(())
            }
            Node::Host(node) => node.set_owner(uid, gid),
            Node::Image(_) => Err(Errno::EROFS),
            Node::Anon(_) => Err(Errno::EOPNOTSUPP),
            _ => Err(Errno::EPERM),
        }
    }

    /// `utimensat`: `EROFS` in the image, `EOPNOTSUPP` for anonymous inodes; accepted and
    /// ignored for devices and `/proc` (so `touch /dev/null` works).
    pub fn set_times(&self, atime: TimeChange, mtime: TimeChange) -> Result<(), Errno> {
        match self {
            Node::Tmp(node) => {
                node.set_times(atime, mtime);
                Ok(())
            }
            Node::Host(node) => node.set_times(atime, mtime),
            Node::Image(_) => Err(Errno::EROFS),
            Node::Anon(_) => Err(Errno::EOPNOTSUPP),
            _ => Ok(()),
        }
    }
}

/// A node as a path walk reached it: the mount it is in and the absolute path it was
/// reached by. Working directories, `openat` bases and open files are locations.
#[derive(Clone)]
pub struct Location {
    pub(crate) mount: usize,
    pub(crate) node: Node,
    pub(crate) path: Vec<u8>,
}

impl Location {
    /// A location of `node` in mount `mount`, reached by `path`.
    pub fn new(mount: usize, node: Node, path: Vec<u8>) -> Location {
        Location { mount, node, path }
    }

    /// The file.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The absolute path it was reached by (what `getcwd` returns for a working directory).
    pub fn path(&self) -> &[u8] {
        &self.path
    }

    /// The mount it is in (an index into the VFS's mount table).
    pub fn mount_id(&self) -> usize {
        self.mount
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.node.is_dir()
    }

    /// Whether the file was removed from its directory (an unlinked file, a removed
    /// directory): `getcwd` reports `ENOENT` for such a working directory, as on Linux.
    pub fn is_unlinked(&self) -> bool {
        match &self.node {
            Node::Tmp(node) => node.is_unlinked(),
            _ => false,
        }
    }

    /// The metadata, with the mount id filled in.
    pub fn stat(&self) -> Result<Stat, Errno> {
        let mut stat = self.node.stat()?;
        stat.mount_id = self.mount as u64 + 1;
        Ok(stat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::console::tests::FakeConsole;
    use crate::fs::console::{ConsoleDevice, ConsoleRole};
    use crate::fs::dev::DevFs;
    use crate::fs::stat::Timespec;
    use crate::fs::test_image::{build_image, TestEntry};
    use crate::fs::tmpfs::TmpFs;

    fn clock() -> (i64, u32) {
        (7, 0)
    }

    fn no_random(buf: &mut [u8]) {
        buf.fill(0);
    }

    fn image_nodes() -> (Node, Node, Node) {
        let fs = Arc::new(
            ImageFs::new(build_image(&[
                TestEntry::dir("d", 0o755),
                TestEntry::file("d/f", 0o644, b"0123456789"),
                TestEntry::symlink("d/l", "f"),
            ]))
            .unwrap(),
        );
        let dir = Node::Image(ImageNode::new(fs.clone(), 1).unwrap());
        let file = dir.lookup(b"f").unwrap();
        let link = dir.lookup(b"l").unwrap();
        (dir, file, link)
    }

    #[test]
    fn image_nodes_dispatch_and_refuse_changes() {
        let (dir, file, link) = image_nodes();
        let Node::Image(image_file) = &file else { panic!("not an image node") };
        assert_eq!(image_file.index(), 2);
        assert_eq!(image_file.fs().entry_count(), 4);
        assert!(ImageNode::new(image_file.fs().clone(), 99).is_err());
        assert_eq!(file.file_type(), FileType::Regular);
        assert!(dir.is_dir());
        assert_eq!(file.mutability(), Mutability::ReadOnly);
        assert!(file.is_seekable());
        assert_eq!(file.ino(), 3);
        assert_eq!(file.size(), 10);
        assert_eq!(dir.size(), 0);
        assert!(file.same_file(&dir.lookup(b"f").unwrap()));
        assert!(!file.same_file(&dir));
        assert!(
            dir.parent().unwrap().parent().unwrap().same_file(&dir.parent().unwrap()),
            "the root is its own parent"
        );
        assert_eq!(file.parent().err(), Some(Errno::ENOTDIR));
        assert_eq!(link.readlink().unwrap(), b"f");
        assert!(matches!(link.link_target(), Ok(LinkTarget::Path(target)) if target == b"f"));
        assert_eq!(file.readlink().err(), Some(Errno::EINVAL));
        let mut buf = [0u8; 4];
        assert_eq!(file.read_at(8, &mut buf), Ok(2));
        assert_eq!(file.write_at(WritePos::At(0), b"x").err(), Some(Errno::EBADF));
        assert_eq!(file.truncate(0), Err(Errno::EROFS));
        assert_eq!(dir.truncate(0), Err(Errno::EISDIR));
        assert_eq!(link.truncate(0), Err(Errno::EINVAL));
        assert_eq!(file.set_mode(0o600), Err(Errno::EROFS));
        assert_eq!(file.set_owner(Some(1), None), Err(Errno::EROFS));
        assert_eq!(file.set_times(TimeChange::Now, TimeChange::Now), Err(Errno::EROFS));
        assert_eq!(file.seek_data_or_hole(3, false), Ok(3));
        assert_eq!(file.seek_data_or_hole(3, true), Ok(10));
        assert_eq!(file.seek_data_or_hole(10, false), Err(Errno::ENXIO));
        assert_eq!(dir.seek_data_or_hole(0, false), Err(Errno::EINVAL));
        assert!(file.image_extent().is_some());
        assert_eq!(dir.image_extent(), None);
        let mut names = Vec::new();
        dir.read_dir(3, &mut |entry| {
            names.push((entry.name.to_vec(), entry.next_offset));
            true
        })
        .unwrap();
        assert_eq!(names, [(b"l".to_vec(), 4)], "offset 3 resumes after the first child");
        assert_eq!(file.read_dir(2, &mut |_| true), Err(Errno::ENOTDIR));
    }

    #[test]
    fn other_node_kinds_dispatch() {
        let tmp = TmpFs::for_test(1 << 20, clock, 0o755);
        let tmp_root = Node::Tmp(tmp.root().clone());
        assert_eq!(tmp_root.mutability(), Mutability::Writable);
        let file = Node::Tmp(tmp.root().create_file(b"f", 0o644, 0, 0).unwrap());
        assert_eq!(file.write_at(WritePos::End, b"abc"), Ok((3, 3)));
        assert_eq!(file.size(), 3);
        file.set_mode(0o600).unwrap();
        file.set_owner(Some(3), Some(4)).unwrap();
        file.set_times(TimeChange::Omit, TimeChange::Now).unwrap();
        assert_eq!(file.stat().unwrap().uid, 3);
        assert!(tmp_root.lookup(b"f").unwrap().same_file(&file));
        assert!(tmp_root.parent().unwrap().same_file(&tmp_root));

        let console = ConsoleDevice::new(FakeConsole::new([false; 3], b""), 0, 0, Timespec::default());
        let dev = DevFs::new(no_random, Arc::new(console), Timespec::default());
        let null = Node::Dev(dev.root()).lookup(b"null").unwrap();
        assert_eq!(null.mutability(), Mutability::Fixed);
        assert_eq!(null.write_at(WritePos::At(5), b"xy"), Ok((2, 5)));
        assert_eq!(null.set_mode(0o600), Err(Errno::EPERM));
        assert_eq!(null.set_owner(None, Some(1)), Err(Errno::EPERM));
        assert_eq!(null.set_times(TimeChange::Now, TimeChange::Omit), Ok(()));
        assert!(null.same_file(&Node::Dev(dev.root()).lookup(b"null").unwrap()));
        let stdout = Node::Console(dev.console(ConsoleRole::Stdout));
        assert!(!stdout.is_seekable());
        assert_eq!(stdout.file_type(), FileType::CharDevice);
        assert_eq!(stdout.lookup(b"x").err(), Some(Errno::ENOTDIR));
        assert_eq!(stdout.parent().err(), Some(Errno::ENOTDIR));
        assert_eq!(stdout.readlink().err(), Some(Errno::EINVAL));
        assert_eq!(stdout.read_dir(2, &mut |_| true), Err(Errno::ENOTDIR));
        assert_eq!(stdout.write_at(WritePos::End, b"out"), Ok((3, 0)));
        assert!(stdout.same_file(&Node::Console(dev.console(ConsoleRole::Stdout))));
        assert!(!stdout.same_file(&null));
        assert_eq!(stdout.ino(), stdout.stat().unwrap().ino);

        let eventfd = Node::Anon(AnonNode::EventFd(crate::fs::eventfd::EventFd::new(1, false, Timespec::default())));
        let epoll = Node::Anon(AnonNode::Epoll(crate::fs::epoll::Epoll::new(Timespec::default())));
        for anon in [&eventfd, &epoll] {
            assert!(anon.is_anon() && anon.is_seekable() && !anon.has_positioned_io() && anon.supports_poll());
            assert_eq!(anon.file_type(), FileType::Anon);
            assert_eq!(anon.mutability(), Mutability::Fixed);
            assert_eq!(anon.lookup(b"x").err(), Some(Errno::ENOTDIR));
            assert_eq!(anon.parent().err(), Some(Errno::ENOTDIR));
            assert_eq!(anon.read_dir(2, &mut |_| true), Err(Errno::ENOTDIR));
            assert_eq!(anon.readlink().err(), Some(Errno::EINVAL));
            assert_eq!(anon.set_mode(0o600), Err(Errno::EOPNOTSUPP));
            assert_eq!(anon.ino(), anon.stat().unwrap().ino);
            assert!(anon.same_file(&anon.clone()));
        }
        assert!(!eventfd.same_file(&epoll));
        assert!(eventfd.eventfd().is_some() && eventfd.epoll().is_none() && epoll.epoll().is_some());
        assert_eq!(eventfd.write_at(WritePos::At(0), &2u64.to_ne_bytes()), Ok((8, 0)));
        assert_eq!(eventfd.read_at(0, &mut [0u8; 8]), Ok(8));
        assert_eq!(epoll.read_at(0, &mut [0u8; 8]), Err(Errno::EINVAL));
        assert!(!file.supports_poll() && !tmp_root.supports_poll() && !null.supports_poll() && stdout.supports_poll());

        let location = Location::new(1, file.clone(), b"/tmp/f".to_vec());
        assert_eq!(location.node().ino(), file.ino());
        assert_eq!(location.path(), b"/tmp/f");
        assert_eq!(location.mount_id(), 1);
        assert!(!location.is_dir());
        assert_eq!(location.stat().unwrap().mount_id, 2);
    }
}
