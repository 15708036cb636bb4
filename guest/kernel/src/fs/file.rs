//! [`OpenFile`]: what an fd refers to — a file as it was opened: its location, access mode,
//! status flags and file position. `dup`ed fds share one `OpenFile` (and so its position
//! and flags), as Linux's open file descriptions are shared.
//!
//! The syscall layer calls these methods with kernel buffers; every check on the fd's side
//! is here: `EBADF` for reading a write-only file (or writing a read-only one, or anything
//! but `fstat` on an `O_PATH` fd), `EISDIR` for reading a directory, `ESPIPE` for
//! positioned I/O on a console or pipe, `EINVAL` for a negative offset.
//!
//! An open file on a pipe is one of the pipe's ends (a reader if opened for reading, a
//! writer if for writing) from its creation until it drops. A pipe or eventfd read or write
//! that would have to wait says `EAGAIN` whatever `O_NONBLOCK` is: the syscall layer does the
//! waiting ([`OpenFile::may_block`]).
//!
//! Readiness for `poll`, `select` and epoll is [`OpenFile::poll_events`]; edge-triggered epoll
//! entries also compare [`OpenFile::poll_changes`] (see `fs::epoll`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::anon::AnonNode;
use crate::fs::console::ConsoleNode;
use crate::fs::dirent::{write_dirent64, DirEntry};
use crate::fs::epoll::{Changes, Epoll};
use crate::fs::eventfd::EventFd;
use crate::fs::flags::{
    O_ACCMODE, O_APPEND, O_LARGEFILE, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, POLLIN, POLLOUT, POLLRDNORM,
    POLLWRNORM, POLL_ALWAYS_READY, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET, SETFL_FLAGS, STATUS_FLAGS,
};
use crate::fs::inotify::{self, IN_ACCESS, IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_MODIFY};
use crate::fs::ioctl;
use crate::fs::node::{Location, Node};
use crate::fs::pipe::Pipe;
use crate::fs::stat::{FileType, Stat, TimeChange};
use crate::fs::tmpfs::WritePos;
use crate::fs::unix::UnixSocket;
use crate::sync::SpinLock;

/// Directory offsets from here on list the mount points a directory shows beyond its own
/// entries (e.g. `/tmp` in a root that has no `tmp`).
pub const MOUNT_ENTRY_OFFSET: u64 = 1 << 62;

/// A mount point listed in a directory that does not itself hold that name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// The name.
    pub name: Vec<u8>,
    /// The mounted root's inode number.
    pub ino: u64,
}

/// An open file.
pub struct OpenFile {
    location: Location,
    readable: bool,
    writable: bool,
    path_only: bool,
    status: SpinLock<u32>,
    position: SpinLock<u64>,
    mount_entries: Vec<MountEntry>,
    /// The pipe this file is an end of (not for `O_PATH`).
    pipe: Option<Arc<Pipe>>,
    /// The pipe's writers opened so far when this end opened (`Pipe::poll_end`).
    pipe_writers_seen: u64,
}

impl OpenFile {
    /// Opens `location` with open `flags` (access mode, status flags, `O_PATH`; the others
    /// are the VFS's business). `mount_entries` are mount points a directory listing adds.
    pub fn new(location: Location, flags: u32, mount_entries: Vec<MountEntry>) -> OpenFile {
        let path_only = flags & O_PATH != 0;
        let access = flags & O_ACCMODE;
        let readable = !path_only && (access == O_RDONLY || access == O_RDWR);
        let writable = !path_only && (access == O_WRONLY || access == O_RDWR);
        let pipe = if path_only { None } else { location.node.pipe().cloned() };
        let pipe_writers_seen = match &pipe {
            Some(pipe) => {
                let (writers, opened) = pipe.open_end(readable, writable);
                let waits_for_writer = pipe.is_named() && readable && !writable && writers == 0;
                if waits_for_writer && flags & O_NONBLOCK != 0 {
                    opened
                } else {
                    u64::MAX
                }
            }
            None => u64::MAX,
        };
        OpenFile {
            location,
            readable,
            writable,
            path_only,
            status: SpinLock::new(if path_only { 0 } else { flags & STATUS_FLAGS }),
            position: SpinLock::new(0),
            mount_entries,
            pipe,
            pipe_writers_seen,
        }
    }

    /// The pipe this file reads or writes, if it is a pipe end.
    pub fn pipe(&self) -> Option<&Arc<Pipe>> {
        self.pipe.as_ref()
    }

    /// The eventfd this file reads and writes, if it is one.
    pub fn eventfd(&self) -> Option<&Arc<EventFd>> {
        if self.path_only {
            return None;
        }
        self.node().eventfd()
    }

    /// The signalfd this file is, if it is one (its reads are `syscall::signalfd`'s).
    pub fn signalfd(&self) -> Option<&Arc<crate::fs::signalfd::SignalFd>> {
        if self.path_only {
            return None;
        }
        self.node().signalfd()
    }

    /// The epoll instance this file is, if it is one.
    pub fn epoll(&self) -> Option<&Arc<Epoll>> {
        if self.path_only {
            return None;
        }
        self.node().epoll()
    }

    /// The socket this file is, if it is one.
    pub fn socket(&self) -> Option<&Arc<UnixSocket>> {
        if self.path_only {
            return None;
        }
        self.node().socket()
    }

    /// The IP socket this file is, if it is one.
    pub fn inet(&self) -> Option<&Arc<crate::fs::inet::InetSocket>> {
        if self.path_only {
            return None;
        }
        self.node().inet()
    }

    /// The netlink socket this file is, if it is one.
    pub fn netlink(&self) -> Option<&Arc<crate::fs::netlink::NetlinkSocket>> {
        if self.path_only {
            return None;
        }
        self.node().netlink()
    }

    /// Whether this is a socket of any family (reads and writes go to `syscall::net`).
    pub fn is_socket(&self) -> bool {
        !self.path_only && matches!(self.node(), Node::Socket(_) | Node::Inet(_) | Node::Netlink(_))
    }

    /// Whether a read or write may have to wait (pipes, eventfds, timerfds and sockets: they say
    /// `EAGAIN`, and the syscall layer waits unless `O_NONBLOCK`).
    pub fn may_block(&self) -> bool {
        self.pipe.is_some()
            || self.eventfd().is_some()
            || self.node().timerfd().is_some()
            || self.node().inotify().is_some()
            || self.is_socket()
    }

    /// Whether `epoll` can watch this file (`EPERM` otherwise): see `Node::supports_poll`.
    pub fn can_poll(&self) -> bool {
        !self.path_only && self.node().supports_poll()
    }

    /// The `poll` events that hold now (`POLLIN`, `POLLOUT`, `POLLHUP`, `POLLERR`...):
    /// computed for pipes, eventfds and epoll instances; every other file is always ready
    /// for reading and writing, as on Linux for regular files (the console too: waiting for
    /// its input needs the host).
    pub fn poll_events(&self) -> u16 {
        self.poll_events_nested(0)
    }

    /// [`OpenFile::poll_events`] of a file watched by an epoll instance `depth` levels deep
    /// (nested epoll instances stop looking past `fs::epoll::EP_MAX_NESTS`).
    pub fn poll_events_nested(&self, depth: u32) -> u16 {
        match (&self.pipe, self.node()) {
            (Some(pipe), _) => pipe.poll_end(self.readable, self.writable, self.pipe_writers_seen),
            // The console's input depends on the host: ask it (without waiting).
            (None, Node::Console(console)) if self.readable => {
                let input = if console.input_ready(0) { POLLIN | POLLRDNORM } else { 0 };
                input | POLLOUT | POLLWRNORM
            }
            (None, Node::Anon(anon)) if !self.path_only => anon.poll(depth),
            (None, Node::Socket(socket)) if !self.path_only => socket.poll(),
            (None, Node::Inet(socket)) if !self.path_only => socket.poll(),
            (None, Node::Netlink(socket)) if !self.path_only => socket.poll(),
            (None, _) => POLL_ALWAYS_READY,
        }
    }

    /// How many times this file's readiness may have changed (for edge-triggered epoll
    /// entries), if it keeps count: pipes, eventfds, epoll instances, the console's input.
    pub fn poll_changes(&self) -> Option<Changes> {
        self.poll_changes_nested(0)
    }

    /// [`OpenFile::poll_changes`] of a file watched `depth` levels deep.
    pub fn poll_changes_nested(&self, depth: u32) -> Option<Changes> {
        if self.path_only {
            return None;
        }
        match (&self.pipe, self.node()) {
            (Some(pipe), _) => Some(pipe.changes()),
            (None, Node::Anon(anon)) => Some(anon.changes(depth)),
            (None, Node::Socket(socket)) => Some(socket.changes()),
            (None, Node::Inet(socket)) => Some(socket.changes()),
            (None, Node::Netlink(socket)) => Some(socket.changes()),
            (None, Node::Console(console)) if self.readable => {
                Some(Changes { input: console.reads(), ..Changes::default() })
            }
            _ => None,
        }
    }

    /// The console behind this file, if it reads the host's input (poll waits on it).
    pub fn console_input(&self) -> Option<&ConsoleNode> {
        match self.node() {
            Node::Console(console) if self.readable && self.pipe.is_none() => Some(console),
            _ => None,
        }
    }

    /// Where the file is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The file.
    pub fn node(&self) -> &Node {
        &self.location.node
    }

    /// The absolute path it was opened by.
    pub fn path(&self) -> &[u8] {
        &self.location.path
    }

    /// What `/proc/self/fd/N` shows: the path, marked ` (deleted)` once the file is
    /// unlinked; `pipe:[N]` or `/dev/pts/0` for a console.
    pub fn display_path(&self) -> Vec<u8> {
        match self.node() {
            Node::Console(console) => console.display_path(),
            Node::Tmp(node) if node.is_unlinked() => {
                let mut path = self.location.path.clone();
                path.extend_from_slice(b" (deleted)");
                path
            }
            _ => self.location.path.clone(),
        }
    }

    /// Whether it was opened for reading.
    pub fn is_readable(&self) -> bool {
        self.readable
    }

    /// Whether it was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Whether it was opened with `O_PATH`.
    pub fn is_path_only(&self) -> bool {
        self.path_only
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.node().is_dir()
    }

    /// Whether `O_NONBLOCK` is set.
    pub fn is_nonblocking(&self) -> bool {
        *self.status.lock() & O_NONBLOCK != 0
    }

    /// `F_GETFL`: the access mode and status flags (`O_LARGEFILE` included, as on 64-bit
    /// Linux for files opened by path; not for eventfd and epoll files, which never are).
    pub fn status_flags(&self) -> u32 {
        if self.path_only {
            return O_PATH;
        }
        let access = match (self.readable, self.writable) {
            (true, true) => O_RDWR,
            (false, true) => O_WRONLY,
            _ => O_RDONLY,
        };
        let large = if self.node().is_anon() || self.is_socket() { 0 } else { O_LARGEFILE };
        access | large | *self.status.lock()
    }

    /// `F_SETFL`: changes `O_APPEND`, `O_NONBLOCK` (and the recorded-only `O_ASYNC`,
    /// `O_DIRECT`, `O_NOATIME`); other bits are ignored, as on Linux.
    pub fn set_status_flags(&self, flags: u32) {
        if self.path_only {
            return;
        }
        let mut status = self.status.lock();
        *status = (*status & !SETFL_FLAGS) | (flags & SETFL_FLAGS);
    }

    /// The file position.
    pub fn position(&self) -> u64 {
        *self.position.lock()
    }

    fn check_readable(&self) -> Result<(), Errno> {
        if !self.readable {
            return Err(Errno::EBADF);
        }
        if self.is_dir() {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<(), Errno> {
        if !self.writable {
            return Err(Errno::EBADF);
        }
        if self.is_dir() {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    /// Whether reads and writes move the file position (not for devices and consoles).
    fn has_position(&self) -> bool {
        matches!(self.node(), Node::Image(_) | Node::Tmp(_) | Node::Proc(_) | Node::Host(_))
    }

    /// `read`: reads at the file position and advances it.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.check_readable()?;
        if let Some(pipe) = &self.pipe {
            return pipe.read(buf);
        }
        if !self.has_position() {
            return self.node().read_at(0, buf);
        }
        let mut position = self.position.lock();
        let count = self.node().read_at(*position, buf)?;
        *position += count as u64;
        drop(position);
        self.notify_if(count > 0, IN_ACCESS);
        Ok(count)
    }

    /// Tells the inotify watches of this file about `event` if `happened` (and any watch
    /// exists: one load otherwise).
    #[inline(always)]
    pub(crate) fn notify_if(&self, happened: bool, event: u32) {
        if happened {
            inotify::notify(&self.location, event);
        }
    }

    /// `write`: writes at the file position (at the end with `O_APPEND`) and advances it.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        self.check_writable()?;
        if self.node().is_anon() {
            // An eventfd checks the size itself (an empty write is EINVAL), epoll says EINVAL.
            return Ok(self.node().write_at(WritePos::At(0), data)?.0);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if let Some(pipe) = &self.pipe {
            return pipe.write(data);
        }
        let append = *self.status.lock() & O_APPEND != 0;
        if !self.has_position() {
            return Ok(self.node().write_at(WritePos::At(0), data)?.0);
        }
        let mut position = self.position.lock();
        let at = if append { WritePos::End } else { WritePos::At(*position) };
        let (count, end) = self.node().write_at(at, data)?;
        *position = end;
        drop(position);
        self.notify_if(count > 0, IN_MODIFY);
        Ok(count)
    }

    fn positioned_io_offset(&self, offset: i64) -> Result<u64, Errno> {
        if !self.node().has_positioned_io() {
            return Err(Errno::ESPIPE);
        }
        u64::try_from(offset).map_err(|_| Errno::EINVAL)
    }

    /// `pread64`: reads at `offset`; the file position stays.
    pub fn pread(&self, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
        self.check_readable()?;
        let offset = self.positioned_io_offset(offset)?;
        let count = self.node().read_at(offset, buf)?;
        self.notify_if(count > 0, IN_ACCESS);
        Ok(count)
    }

    /// Reads at `offset` until `buf` is full or the file ends; how many bytes were read.
    pub fn pread_full(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let mut done = 0;
        while done < buf.len() {
            match self.pread(&mut buf[done..], (offset + done as u64) as i64)? {
                0 => break,
                n => done += n,
            }
        }
        Ok(done)
    }

    /// `pwrite64`: writes at `offset` (at the end with `O_APPEND`, as Linux does); the file
    /// position stays.
    pub fn pwrite(&self, data: &[u8], offset: i64) -> Result<usize, Errno> {
        self.check_writable()?;
        let offset = self.positioned_io_offset(offset)?;
        let append = *self.status.lock() & O_APPEND != 0;
        let at = if append { WritePos::End } else { WritePos::At(offset) };
        let count = self.node().write_at(at, data)?.0;
        self.notify_if(count > 0, IN_MODIFY);
        Ok(count)
    }

    /// `lseek`: moves the file position; returns the new one. `EINVAL` for a bad whence or
    /// a negative result, `ESPIPE` on a console, `ENXIO` for `SEEK_DATA`/`SEEK_HOLE` at or
    /// past the end. Devices accept any seek and stay at 0.
    pub fn lseek(&self, offset: i64, whence: u32) -> Result<u64, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let node = self.node();
        if !node.is_seekable() {
            return Err(Errno::ESPIPE);
        }
        if !self.has_position() {
            return if whence <= SEEK_HOLE { Ok(0) } else { Err(Errno::EINVAL) };
        }
        let is_dir = node.is_dir();
        let mut position = self.position.lock();
        let new = match whence {
            SEEK_SET => i128::from(offset),
            SEEK_CUR => i128::from(*position) + i128::from(offset),
            SEEK_END if !is_dir => i128::from(node.size()) + i128::from(offset),
            SEEK_DATA | SEEK_HOLE if node.file_type() == FileType::Regular => {
                let from = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
                i128::from(node.seek_data_or_hole(from, whence == SEEK_HOLE)?)
            }
            _ => return Err(Errno::EINVAL),
        };
        if new < 0 || new > i128::from(i64::MAX) {
            return Err(Errno::EINVAL);
        }
        *position = new as u64;
        Ok(new as u64)
    }

    /// `fstat`.
    pub fn stat(&self) -> Result<Stat, Errno> {
        self.location.stat()
    }

    /// `getdents64`: fills `buf` with `linux_dirent64` records from the file position on
    /// (`.` and `..` first), advancing it; returns the bytes filled (0 at the end).
    /// `ENOTDIR` for a non-directory, `EINVAL` if `buf` cannot hold the next record,
    /// `ENOENT` for a removed directory.
    pub fn getdents64(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let node = self.node();
        if !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if let Node::Tmp(dir) = node {
            if dir.is_unlinked() {
                return Err(Errno::ENOENT);
            }
        }
        let mut position = self.position.lock();
        let mut out = DirentWriter { buf, filled: 0, cursor: *position, out_of_room: false };
        let own_ino = node.ino();
        if out.cursor == 0 {
            out.emit(&DirEntry { name: b".", ino: own_ino, file_type: FileType::Directory, next_offset: 1 });
        }
        if out.cursor == 1 {
            let parent_ino = node.parent().map(|parent| parent.ino()).unwrap_or(own_ino);
            out.emit(&DirEntry { name: b"..", ino: parent_ino, file_type: FileType::Directory, next_offset: 2 });
        }
        if (2..MOUNT_ENTRY_OFFSET).contains(&out.cursor) {
            node.read_dir(out.cursor, &mut |entry| out.emit(entry))?;
        }
        if !out.out_of_room && out.cursor >= 2 && !self.mount_entries.is_empty() {
            out.cursor = out.cursor.max(MOUNT_ENTRY_OFFSET);
            let skip = usize::try_from(out.cursor - MOUNT_ENTRY_OFFSET).unwrap_or(usize::MAX);
            for (index, mount) in self.mount_entries.iter().enumerate().skip(skip) {
                let next_offset = MOUNT_ENTRY_OFFSET + index as u64 + 1;
                if !out.emit(&DirEntry {
                    name: &mount.name,
                    ino: mount.ino,
                    file_type: FileType::Directory,
                    next_offset,
                }) {
                    break;
                }
            }
        }
        if out.filled == 0 && out.out_of_room {
            return Err(Errno::EINVAL);
        }
        *position = out.cursor;
        drop(position);
        self.notify_if(true, IN_ACCESS);
        Ok(out.filled)
    }

    /// `ioctl`: `arg` holds the argument bytes ([`ioctl::arg_size`] says how many and which
    /// way they go). `FIONBIO` sets `O_NONBLOCK`; `FIONREAD` on a regular file gives the
    /// bytes left, on a pipe the bytes buffered; the terminal ioctls go to the console; `FIOCLEX`/`FIONCLEX` are the fd
    /// table's (the syscall layer handles them, this accepts them). Else `ENOTTY`.
    pub fn ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<usize, Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        match cmd {
            ioctl::FIONBIO => {
                let value = arg.get(..4).ok_or(Errno::EFAULT)?;
                let on = value.iter().any(|&b| b != 0);
                let mut status = self.status.lock();
                *status = if on { *status | O_NONBLOCK } else { *status & !O_NONBLOCK };
                Ok(0)
            }
            ioctl::FIOCLEX | ioctl::FIONCLEX => Ok(0),
            _ => match self.node() {
                Node::Console(console) => console.ioctl(cmd, arg),
                Node::Socket(socket) if cmd == ioctl::FIONREAD => {
                    let count = i32::try_from(socket.available()).unwrap_or(i32::MAX);
                    arg.get_mut(..4).ok_or(Errno::EFAULT)?.copy_from_slice(&count.to_le_bytes());
                    Ok(0)
                }
                Node::Inet(socket) if cmd == ioctl::FIONREAD => {
                    let count = i32::try_from(socket.pending()?).unwrap_or(i32::MAX);
                    arg.get_mut(..4).ok_or(Errno::EFAULT)?.copy_from_slice(&count.to_le_bytes());
                    Ok(0)
                }
                Node::Anon(AnonNode::Inotify(inotify)) if cmd == ioctl::FIONREAD => {
                    let count = i32::try_from(inotify.queued_bytes()).unwrap_or(i32::MAX);
                    arg.get_mut(..4).ok_or(Errno::EFAULT)?.copy_from_slice(&count.to_le_bytes());
                    Ok(0)
                }
                Node::Pipe(pipe) if cmd == ioctl::FIONREAD => {
                    let count = i32::try_from(pipe.available()).unwrap_or(i32::MAX);
                    arg.get_mut(..4).ok_or(Errno::EFAULT)?.copy_from_slice(&count.to_le_bytes());
                    Ok(0)
                }
                node if cmd == ioctl::FIONREAD && node.file_type() == FileType::Regular => {
                    let left = node.size().saturating_sub(self.position());
                    let left = i32::try_from(left).unwrap_or(i32::MAX);
                    arg.get_mut(..4).ok_or(Errno::EFAULT)?.copy_from_slice(&left.to_le_bytes());
                    Ok(0)
                }
                _ => Err(Errno::ENOTTY),
            },
        }
    }

    /// `ftruncate`: `EINVAL` for a negative length or a file not open for writing or not
    /// regular.
    pub fn truncate(&self, len: i64) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        if !self.writable || self.node().file_type() != FileType::Regular {
            return Err(Errno::EINVAL);
        }
        self.node().truncate(len)?;
        self.notify_if(true, IN_MODIFY);
        Ok(())
    }

    /// `fallocate(fd, mode, offset, len)`, with Linux's checks in Linux's order. tmpfs
    /// files take mode 0 and `FALLOC_FL_KEEP_SIZE` (allocate) and `FALLOC_FL_PUNCH_HOLE |
    /// FALLOC_FL_KEEP_SIZE`; other modes are `EOPNOTSUPP`, as for Linux's tmpfs.
    pub fn fallocate(&self, mode: u32, offset: i64, len: i64) -> Result<(), Errno> {
        const KEEP_SIZE: u32 = 0x1;
        const PUNCH_HOLE: u32 = 0x2;
        const ZERO_RANGE: u32 = 0x10;
        const KNOWN: u32 = 0x7f;
        if self.path_only {
            return Err(Errno::EBADF);
        }
        if offset < 0 || len <= 0 {
            return Err(Errno::EINVAL);
        }
        if mode & !KNOWN != 0
            || mode & (PUNCH_HOLE | ZERO_RANGE) == PUNCH_HOLE | ZERO_RANGE
            || (mode & PUNCH_HOLE != 0 && mode & KEEP_SIZE == 0)
        {
            return Err(Errno::EOPNOTSUPP);
        }
        if !self.writable {
            return Err(Errno::EBADF);
        }
        match self.node().file_type() {
            FileType::Fifo => return Err(Errno::ESPIPE),
            FileType::Directory => return Err(Errno::EISDIR),
            FileType::Regular => {}
            _ => return Err(Errno::ENODEV),
        }
        let (offset, len) = (offset as u64, len as u64);
        if offset.checked_add(len).is_none_or(|end| end > i64::MAX as u64) {
            return Err(Errno::EFBIG);
        }
        let Node::Tmp(node) = self.node() else {
            return Err(Errno::EOPNOTSUPP);
        };
        match mode {
            0 | KEEP_SIZE => node.allocate(offset, len, mode == KEEP_SIZE)?,
            m if m == PUNCH_HOLE | KEEP_SIZE => node.punch_hole(offset, len)?,
            _ => return Err(Errno::EOPNOTSUPP),
        }
        self.notify_if(true, IN_MODIFY);
        Ok(())
    }

    /// `fchmod`.
    pub fn chmod(&self, mode: u32) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        self.node().set_mode(mode)?;
        self.notify_if(true, IN_ATTRIB);
        Ok(())
    }

    /// `fchown` (`u32::MAX` leaves a field, as `-1` does).
    pub fn chown(&self, uid: u32, gid: u32) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        self.node().set_owner(unless_minus_one(uid), unless_minus_one(gid))?;
        self.notify_if(true, IN_ATTRIB);
        Ok(())
    }

    /// `futimens`.
    pub fn set_times(&self, atime: TimeChange, mtime: TimeChange) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        self.node().set_times(atime, mtime)?;
        self.notify_if(true, IN_ATTRIB);
        Ok(())
    }

    /// `fsync`/`fdatasync` (`data_only`): a volume's file is written to the host's disk;
    /// the others live in memory, with nothing to flush; `EINVAL` for a console, device,
    /// pipe, eventfd or epoll instance, as on Linux for files that cannot be synced.
    pub fn sync(&self, data_only: bool) -> Result<(), Errno> {
        if self.path_only {
            return Err(Errno::EBADF);
        }
        match self.node() {
            Node::Host(node) => node.sync(data_only),
            Node::Console(_)
            | Node::Dev(_)
            | Node::Pipe(_)
            | Node::Anon(_)
            | Node::Socket(_)
            | Node::Inet(_)
            | Node::Netlink(_) => Err(Errno::EINVAL),
            _ => Ok(()),
        }
    }

    /// Where a regular file of the image lies in the image file, `(offset, size)`, so
    /// `mmap` can map it in place.
    pub fn image_extent(&self) -> Option<(u64, u64)> {
        self.node().image_extent()
    }
}

impl Drop for OpenFile {
    /// The last fd (or other holder) of this open file is gone: a pipe loses this end, a
    /// socket closes (a socket has exactly one open file: it cannot be reopened).
    fn drop(&mut self) {
        if let Some(pipe) = &self.pipe {
            pipe.close_end(self.readable, self.writable);
        }
        self.notify_if(!self.path_only, if self.writable { IN_CLOSE_WRITE } else { IN_CLOSE_NOWRITE });
        if let Some(socket) = self.socket() {
            socket.close();
        }
    }
}

/// Fills a `getdents64` buffer record by record, tracking the directory offset reached.
struct DirentWriter<'a> {
    buf: &'a mut [u8],
    filled: usize,
    cursor: u64,
    out_of_room: bool,
}

impl DirentWriter<'_> {
    /// Adds `entry`; false (and nothing added) once the buffer is full.
    fn emit(&mut self, entry: &DirEntry<'_>) -> bool {
        match write_dirent64(&mut self.buf[self.filled..], entry) {
            Some(len) => {
                self.filled += len;
                self.cursor = entry.next_offset;
                true
            }
            None => {
                self.out_of_room = true;
                false
            }
        }
    }
}

/// `None` for `u32::MAX` (the `-1` of `chown`).
pub(crate) fn unless_minus_one(id: u32) -> Option<u32> {
    (id != u32::MAX).then_some(id)
}

/// An `OpenFile` in an `Arc`, as fd tables hold it.
pub type FileRef = Arc<OpenFile>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::flags::{O_CREAT, O_DIRECT, O_RDWR, O_SYNC, O_TRUNC};
    use crate::fs::tmpfs::TmpFs;
    use alloc::vec;

    fn clock() -> (i64, u32) {
        (1, 0)
    }

    fn tmp() -> TmpFs {
        TmpFs::for_test(1 << 24, clock, 0o1777)
    }

    fn open_tmp(fs: &TmpFs, name: &str, flags: u32) -> OpenFile {
        let node = match fs.root().lookup(name.as_bytes()) {
            Ok(node) => node,
            Err(_) => fs.root().create_file(name.as_bytes(), 0o644, 0, 0).unwrap(),
        };
        let location = Location::new(1, Node::Tmp(node), alloc::format!("/tmp/{name}").into_bytes());
        OpenFile::new(location, flags, Vec::new())
    }

    fn open_dir(fs: &TmpFs, flags: u32) -> OpenFile {
        OpenFile::new(Location::new(1, Node::Tmp(fs.root().clone()), b"/tmp".to_vec()), flags, Vec::new())
    }

    /// Decodes a getdents64 buffer into (name, d_off, d_type).
    fn decode(buf: &[u8]) -> Vec<(Vec<u8>, i64, u8)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let off = i64::from_le_bytes(buf[at + 8..at + 16].try_into().unwrap());
            let name_area = &buf[at + 19..at + reclen];
            let name = name_area[..name_area.iter().position(|&b| b == 0).unwrap()].to_vec();
            out.push((name, off, buf[at + 18]));
            at += reclen;
        }
        out
    }

    #[test]
    fn read_write_and_position() {
        let fs = tmp();
        let file = open_tmp(&fs, "f", O_RDWR);
        assert_eq!(file.write(b"hello world"), Ok(11));
        assert_eq!(file.position(), 11);
        let mut buf = [0u8; 5];
        assert_eq!(file.read(&mut buf), Ok(0));
        assert_eq!(file.lseek(0, SEEK_SET), Ok(0));
        assert_eq!(file.read(&mut buf), Ok(5));
        assert_eq!(&buf, b"hello");
        assert_eq!(file.lseek(-5, SEEK_END), Ok(6));
        assert_eq!(file.read(&mut buf), Ok(5));
        assert_eq!(&buf, b"world");
        assert_eq!(file.lseek(-1, SEEK_CUR), Ok(10));
        assert_eq!(file.lseek(-11, SEEK_CUR), Err(Errno::EINVAL));
        assert_eq!(file.lseek(i64::MAX, SEEK_END), Err(Errno::EINVAL));
        assert_eq!(file.lseek(0, 7), Err(Errno::EINVAL));
        assert_eq!(file.position(), 10, "failed seeks leave the position");
        assert_eq!(file.lseek(100, SEEK_SET), Ok(100));
        assert_eq!(file.write(b"!"), Ok(1));
        assert_eq!(file.stat().unwrap().size, 101);
        assert_eq!(file.pread(&mut buf, 0), Ok(5));
        assert_eq!(&buf, b"hello");
        assert_eq!(file.pwrite(b"J", 0), Ok(1));
        assert_eq!(file.pread(&mut buf[..1], 0), Ok(1));
        assert_eq!(&buf[..1], b"J");
        assert_eq!(file.pread(&mut buf, -1), Err(Errno::EINVAL));
        assert_eq!(file.pwrite(b"x", -1), Err(Errno::EINVAL));
        assert_eq!(file.position(), 101);
        assert_eq!(file.path(), b"/tmp/f");
        assert_eq!(file.sync(false), Ok(()));
    }

    #[test]
    fn access_modes_are_enforced() {
        let fs = tmp();
        let read_only = open_tmp(&fs, "f", O_RDONLY);
        let write_only = open_tmp(&fs, "f", O_WRONLY);
        let path_only = open_tmp(&fs, "f", O_PATH | O_RDWR);
        let mut buf = [0u8; 4];
        assert_eq!(read_only.write(b"x"), Err(Errno::EBADF));
        assert_eq!(read_only.pwrite(b"x", 0), Err(Errno::EBADF));
        assert_eq!(read_only.truncate(0), Err(Errno::EINVAL));
        assert_eq!(write_only.read(&mut buf), Err(Errno::EBADF));
        assert_eq!(write_only.pread(&mut buf, 0), Err(Errno::EBADF));
        assert_eq!(write_only.truncate(-1), Err(Errno::EINVAL));
        assert_eq!(path_only.read(&mut buf), Err(Errno::EBADF));
        assert_eq!(path_only.write(b"x"), Err(Errno::EBADF));
        assert_eq!(path_only.lseek(0, SEEK_SET), Err(Errno::EBADF));
        assert_eq!(path_only.truncate(0), Err(Errno::EBADF));
        assert_eq!(path_only.ioctl(ioctl::FIONREAD, &mut buf), Err(Errno::EBADF));
        assert_eq!(path_only.getdents64(&mut [0u8; 64]), Err(Errno::EBADF));
        assert_eq!(path_only.chmod(0o600), Err(Errno::EBADF));
        assert_eq!(path_only.chown(1, 1), Err(Errno::EBADF));
        assert_eq!(path_only.set_times(TimeChange::Now, TimeChange::Now), Err(Errno::EBADF));
        assert_eq!(path_only.sync(false), Err(Errno::EBADF));
        assert!(path_only.stat().is_ok());
        assert_eq!(path_only.status_flags(), O_PATH);
        assert!(path_only.is_path_only());
        assert!(read_only.is_readable() && !read_only.is_writable());
        assert_eq!(read_only.status_flags(), O_RDONLY | O_LARGEFILE);
        assert_eq!(write_only.status_flags(), O_WRONLY | O_LARGEFILE);
        let dir = open_dir(&fs, O_RDONLY);
        assert_eq!(dir.read(&mut buf), Err(Errno::EISDIR));
        assert_eq!(dir.pread(&mut buf, 0), Err(Errno::EISDIR));
        assert_eq!(dir.truncate(0), Err(Errno::EINVAL));
        assert_eq!(read_only.getdents64(&mut [0u8; 64]), Err(Errno::ENOTDIR));
        assert!(dir.is_dir());
    }

    #[test]
    fn append_and_status_flags() {
        let fs = tmp();
        let writer = open_tmp(&fs, "log", O_WRONLY | O_APPEND | O_SYNC | O_CREAT | O_TRUNC);
        let other = open_tmp(&fs, "log", O_RDWR);
        assert_eq!(other.write(b"first"), Ok(5));
        assert_eq!(writer.write(b""), Ok(0));
        assert_eq!(writer.position(), 0, "an empty write does not move to the end");
        assert_eq!(writer.write(b"+end"), Ok(4));
        assert_eq!(writer.position(), 9);
        assert_eq!(writer.pwrite(b"!", 0), Ok(1), "pwrite on O_APPEND appends, as on Linux");
        assert_eq!(other.pread(&mut [0u8; 16], 0), Ok(10));
        assert_eq!(writer.status_flags(), O_WRONLY | O_LARGEFILE | O_APPEND | O_SYNC);
        writer.set_status_flags(O_NONBLOCK | O_DIRECT | O_RDWR);
        assert_eq!(writer.status_flags(), O_WRONLY | O_LARGEFILE | O_NONBLOCK | O_DIRECT | O_SYNC);
        assert!(writer.is_nonblocking());
        assert_eq!(writer.lseek(0, SEEK_SET), Ok(0));
        assert_eq!(writer.write(b"x"), Ok(1));
        let mut first = [0u8; 1];
        other.pread(&mut first, 0).unwrap();
        assert_eq!((other.stat().unwrap().size, &first), (10, b"x"), "without O_APPEND the write lands at 0");
        let path_only = open_tmp(&fs, "log", O_PATH);
        path_only.set_status_flags(O_APPEND);
        assert_eq!(path_only.status_flags(), O_PATH);
    }

    #[test]
    fn ioctls_on_files() {
        let fs = tmp();
        let file = open_tmp(&fs, "f", O_RDWR);
        file.write(&[1u8; 100]).unwrap();
        file.lseek(30, SEEK_SET).unwrap();
        let mut arg = [0u8; 4];
        assert_eq!(file.ioctl(ioctl::FIONREAD, &mut arg), Ok(0));
        assert_eq!(i32::from_le_bytes(arg), 70);
        assert_eq!(file.ioctl(ioctl::FIONREAD, &mut [0u8; 2]), Err(Errno::EFAULT));
        assert_eq!(file.ioctl(ioctl::FIONBIO, &mut 1i32.to_le_bytes()), Ok(0));
        assert!(file.is_nonblocking());
        assert_eq!(file.ioctl(ioctl::FIONBIO, &mut 0i32.to_le_bytes()), Ok(0));
        assert!(!file.is_nonblocking());
        assert_eq!(file.ioctl(ioctl::FIONBIO, &mut []), Err(Errno::EFAULT));
        assert_eq!(file.ioctl(ioctl::TCGETS, &mut [0u8; 36]), Err(Errno::ENOTTY));
        assert_eq!(file.ioctl(ioctl::FIOCLEX, &mut []), Ok(0));
        assert_eq!(open_dir(&fs, O_RDONLY).ioctl(ioctl::FIONREAD, &mut arg), Err(Errno::ENOTTY));
    }

    #[test]
    fn truncate_chmod_chown_and_times_through_the_fd() {
        let fs = tmp();
        let file = open_tmp(&fs, "f", O_RDWR);
        file.write(b"0123456789").unwrap();
        assert_eq!(file.truncate(4), Ok(()));
        assert_eq!(file.stat().unwrap().size, 4);
        assert_eq!(file.chmod(0o600), Ok(()));
        assert_eq!(file.chown(5, u32::MAX), Ok(()));
        let st = file.stat().unwrap();
        assert_eq!((st.mode & 0o7777, st.uid, st.gid), (0o600, 5, 0));
        assert_eq!(file.set_times(TimeChange::Omit, TimeChange::Omit), Ok(()));
        assert_eq!(file.image_extent(), None);
        assert_eq!(unless_minus_one(u32::MAX), None);
        assert_eq!(unless_minus_one(0), Some(0));
    }

    #[test]
    fn seek_data_and_hole() {
        let fs = tmp();
        let file = open_tmp(&fs, "sparse", O_RDWR);
        file.truncate(3 * 4096).unwrap();
        file.pwrite(b"x", 4096).unwrap();
        assert_eq!(file.lseek(0, SEEK_DATA), Ok(4096));
        assert_eq!(file.lseek(4096, SEEK_HOLE), Ok(8192));
        assert_eq!(file.lseek(-1, SEEK_DATA), Err(Errno::ENXIO));
        assert_eq!(file.lseek(3 * 4096, SEEK_HOLE), Err(Errno::ENXIO));
        assert_eq!(open_dir(&fs, O_RDONLY).lseek(0, SEEK_DATA), Err(Errno::EINVAL));
        assert_eq!(open_dir(&fs, O_RDONLY).lseek(0, SEEK_END), Err(Errno::EINVAL));
    }

    #[test]
    fn getdents_lists_dot_entries_and_resumes() {
        let fs = tmp();
        for name in ["alpha", "beta", "gamma"] {
            fs.root().create_file(name.as_bytes(), 0o644, 0, 0).unwrap();
        }
        fs.root().create_dir(b"sub", 0o755, 0, 0).unwrap();
        let dir = open_dir(&fs, O_RDONLY);
        let mut buf = vec![0u8; 4096];
        let filled = dir.getdents64(&mut buf).unwrap();
        let entries = decode(&buf[..filled]);
        let names: Vec<&[u8]> = entries.iter().map(|(n, _, _)| n.as_slice()).collect();
        assert_eq!(names, [&b"."[..], b"..", b"alpha", b"beta", b"gamma", b"sub"]);
        assert_eq!(entries[0].2, 4);
        assert_eq!(entries[2].2, 8);
        assert_eq!(entries[5].2, 4);
        assert_eq!(dir.getdents64(&mut buf), Ok(0), "the end");

        // Small buffers: one record at a time, resuming where the last left off.
        let dir = open_dir(&fs, O_RDONLY);
        let mut seen = Vec::new();
        let mut small = [0u8; 32];
        loop {
            let filled = dir.getdents64(&mut small).unwrap();
            if filled == 0 {
                break;
            }
            seen.extend(decode(&small[..filled]).into_iter().map(|(n, _, _)| n));
        }
        assert_eq!(seen.len(), 6);
        // Seeking to a d_off resumes after that entry.
        assert_eq!(dir.lseek(entries[3].1, SEEK_SET), Ok(entries[3].1 as u64));
        let filled = dir.getdents64(&mut buf).unwrap();
        assert_eq!(decode(&buf[..filled]).len(), 2);
        // Too small for even one record.
        dir.lseek(0, SEEK_SET).unwrap();
        assert_eq!(dir.getdents64(&mut [0u8; 23]), Err(Errno::EINVAL));
        assert_eq!(dir.getdents64(&mut [0u8; 24]), Ok(24));
    }

    #[test]
    fn getdents_adds_mount_points_and_refuses_removed_dirs() {
        let fs = tmp();
        let sub = fs.root().create_dir(b"sub", 0o755, 0, 0).unwrap();
        fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        let mounts = vec![MountEntry { name: b"mnt".to_vec(), ino: 99 }];
        let dir = OpenFile::new(Location::new(1, Node::Tmp(fs.root().clone()), b"/tmp".to_vec()), O_RDONLY, mounts);
        let mut one = [0u8; 24];
        let mut names = Vec::new();
        loop {
            let filled = dir.getdents64(&mut one).unwrap();
            if filled == 0 {
                break;
            }
            names.extend(decode(&one[..filled]).into_iter().map(|(n, _, _)| n));
        }
        assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"sub".to_vec(), b"f".to_vec(), b"mnt".to_vec()]);
        let removed = OpenFile::new(Location::new(1, Node::Tmp(sub), b"/tmp/sub".to_vec()), O_RDONLY, Vec::new());
        fs.root().rmdir(b"sub").unwrap();
        assert_eq!(removed.getdents64(&mut [0u8; 64]), Err(Errno::ENOENT));
    }

    #[test]
    fn unlinked_files_show_as_deleted() {
        let fs = tmp();
        let file = open_tmp(&fs, "gone", O_RDWR);
        assert_eq!(file.display_path(), b"/tmp/gone");
        fs.root().unlink(b"gone").unwrap();
        assert_eq!(file.display_path(), b"/tmp/gone (deleted)");
        assert_eq!(file.write(b"still works"), Ok(11));
    }
}
