//! Named pipes (FIFOs): `mknod` with `S_IFIFO` (what `mkfifo` calls) makes a file of that
//! type in a tmpfs or the writable root (`TmpNode::create_fifo`); opening it opens an end of
//! the one [`Pipe`] every open of that file shares while any end is open ([`open`]). Once the
//! last end closes, the pipe and what it held go, as on Linux; the next open starts a new one.
//! Reads and writes are a pipe's (`fs::pipe`); `fstat` of an end shows the file's device,
//! inode and permissions.
//!
//! Opening, as Linux's `fifo_open`:
//! - `O_RDWR`: at once, with both ends (Linux's answer; POSIX leaves it undefined);
//! - `O_RDONLY`: at once with `O_NONBLOCK`; otherwise it waits until a writer has opened
//!   (one that is open, or one that came and went meanwhile: Linux counts opens, so does
//!   this), or a signal comes (EINTR; `open` is made again after an `SA_RESTART` handler);
//! - `O_WRONLY`: with `O_NONBLOCK` and no reader, `ENXIO`; otherwise it waits for a reader
//!   the same way.
//!
//! The wait is the syscall layer's (`syscall::fs`, on [`Partner`]): an open of an end counts
//! as a change of the pipe's readiness (`Changes::hung_up`), which wakes the threads waiting
//! for files. Volumes (host directories) hold no FIFOs: `mknod` there stays EPERM.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::file::OpenFile;
use crate::fs::flags::{O_ACCMODE, O_NONBLOCK, O_WRONLY};
use crate::fs::node::{Location, Node};
use crate::fs::pipe::Pipe;
use crate::fs::stat::{Timespec, PERMISSION_BITS};
use crate::fs::tmpfs::TmpNode;
use crate::sync::SpinLock;

/// The FIFOs with an open end, and their pipes. Entries whose pipe has gone (every end
/// closed) are dropped at the next open; a `Weak` node keeps its address from being reused
/// meanwhile.
static OPEN: SpinLock<Vec<(Weak<TmpNode>, Weak<Pipe>)>> = SpinLock::new(Vec::new());

/// The pipe the FIFO `node` stands for: the one its open ends share, or a new one (made at
/// `now`) when none is open.
fn pipe_of(node: &Arc<TmpNode>, now: Timespec) -> Arc<Pipe> {
    let mut open = OPEN.lock();
    open.retain(|(node, pipe)| node.strong_count() > 0 && pipe.strong_count() > 0);
    let shared = open.iter().find(|(of, _)| core::ptr::eq(of.as_ptr(), Arc::as_ptr(node)));
    if let Some(pipe) = shared.and_then(|(_, pipe)| pipe.upgrade()) {
        return pipe;
    }
    let stat = node.stat();
    let pipe = Pipe::named(stat.ino, stat.dev, stat.mode & PERMISSION_BITS, (stat.uid, stat.gid), now);
    open.push((Arc::downgrade(node), Arc::downgrade(&pipe)));
    pipe
}

/// Opens the FIFO `node`, reached at `location`, with open `flags` (not `O_PATH`): an end
/// of its pipe, shown at the FIFO's path. `ENXIO` for a non-blocking writer while no reader
/// is open. A blocking open then waits for the other side ([`Partner`]). Cold and out of
/// line: `Vfs::open_location`, which calls it, is in every start's hot text.
#[cold]
#[inline(never)]
pub fn open(location: &Location, node: &Arc<TmpNode>, flags: u32, now: Timespec) -> Result<Arc<OpenFile>, Errno> {
    let pipe = pipe_of(node, now);
    let ((readers, _), _) = pipe.ends();
    if flags & O_ACCMODE == O_WRONLY && flags & O_NONBLOCK != 0 && readers == 0 {
        return Err(Errno::ENXIO);
    }
    let location = Location::new(location.mount, Node::Pipe(pipe), location.path.clone());
    Ok(Arc::new(OpenFile::new(location, flags, Vec::new())))
}

/// What a blocking open of a FIFO waits for: the other side's first open since the open
/// began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partner {
    /// A writer (for a reader's open), else a reader.
    writer: bool,
    /// That side's count of opened ends when the open began.
    seen: u64,
}

impl Partner {
    /// What the open `file` (just made by [`open`], or any other open file) must wait for:
    /// `None` when it is not a FIFO's end, reads and writes (`O_RDWR`), does not block, or
    /// the other side is open.
    pub fn of(file: &OpenFile) -> Option<Partner> {
        let pipe = file.pipe().filter(|pipe| pipe.is_named())?;
        if file.is_nonblocking() || (file.is_readable() && file.is_writable()) {
            return None;
        }
        let ((readers, writers), (read_opens, write_opens)) = pipe.ends();
        match file.is_readable() {
            true if writers == 0 => Some(Partner { writer: true, seen: write_opens }),
            false if readers == 0 => Some(Partner { writer: false, seen: read_opens }),
            _ => None,
        }
    }

    /// Whether the other side has opened `pipe` since.
    pub fn arrived(&self, pipe: &Pipe) -> bool {
        let ((readers, writers), (read_opens, write_opens)) = pipe.ends();
        match self.writer {
            true => writers > 0 || write_opens != self.seen,
            false => readers > 0 || read_opens != self.seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::flags::{O_RDONLY, O_RDWR, POLLHUP};

    fn clock() -> (i64, u32) {
        (1000, 0)
    }

    fn fifo() -> (Location, Arc<TmpNode>) {
        let fs = crate::fs::tmpfs::TmpFs::for_test(1 << 20, clock, 0o1777);
        let node = fs.root().create_fifo(b"f", 0o640, 1000, 1000).expect("mkfifo");
        (Location::new(3, Node::Tmp(node.clone()), b"/tmp/f".to_vec()), node)
    }

    #[test]
    fn opens_of_one_fifo_share_its_pipe_while_any_is_open() {
        let (at, node) = fifo();
        let now = Timespec::default();
        let reader = open(&at, &node, O_RDONLY | O_NONBLOCK, now).unwrap();
        assert_eq!(reader.poll_events(), 0, "no writer came yet: not hung up (Linux's f_version)");
        let writer = open(&at, &node, O_WRONLY, now).unwrap();
        assert_eq!(writer.write(b"hi"), Ok(2));
        let mut buf = [0u8; 8];
        assert_eq!(reader.read(&mut buf), Ok(2), "the writer's bytes reach the reader");
        assert_eq!(&buf[..2], b"hi");
        let stat = writer.stat().unwrap();
        assert_eq!((stat.ino, stat.mode & 0o7777, stat.uid), (node.stat().ino, 0o640, 1000), "the FIFO's file");
        assert_eq!(writer.location().path, b"/tmp/f");
        assert_eq!(writer.write(b"left"), Ok(4));
        drop(writer);
        assert_eq!(reader.poll_events() & POLLHUP, POLLHUP, "its writer came and went");
        drop(reader);
        // Every end closed: the data went with the pipe.
        let again = open(&at, &node, O_RDWR, now).unwrap();
        assert_eq!(again.read(&mut buf), Err(Errno::EAGAIN), "a new, empty pipe");
    }

    #[test]
    fn a_non_blocking_writer_needs_a_reader_and_blocking_opens_wait_for_the_other_side() {
        let (at, node) = fifo();
        let now = Timespec::default();
        assert_eq!(open(&at, &node, O_WRONLY | O_NONBLOCK, now).err(), Some(Errno::ENXIO));
        let reader = open(&at, &node, O_RDONLY, now).unwrap();
        let waits = Partner::of(&reader).expect("a blocking reader waits for a writer");
        let pipe = reader.pipe().unwrap().clone();
        assert!(!waits.arrived(&pipe));
        // A writer that opens and closes before the reader looks again still counts.
        drop(open(&at, &node, O_WRONLY | O_NONBLOCK, now).unwrap());
        assert!(waits.arrived(&pipe));
        let writer = open(&at, &node, O_WRONLY, now).unwrap();
        assert_eq!(Partner::of(&writer), None, "a reader is open");
        assert_eq!(Partner::of(&open(&at, &node, O_RDWR, now).unwrap()), None, "O_RDWR never waits");
        assert_eq!(Partner::of(&open(&at, &node, O_RDONLY | O_NONBLOCK, now).unwrap()), None);
        drop((reader, writer));
        let lone_writer = open(&at, &node, O_WRONLY, now).unwrap();
        let waits = Partner::of(&lone_writer).expect("a blocking writer waits for a reader");
        assert!(!waits.arrived(lone_writer.pipe().unwrap()));
        let _reader = open(&at, &node, O_RDONLY | O_NONBLOCK, now).unwrap();
        assert!(waits.arrived(lone_writer.pipe().unwrap()));
        // A blocking reader that opens while a writer is open hangs up once it closes (a
        // shell's `read` polls before each byte, and must see the end).
        let reader = open(&at, &node, O_RDONLY, now).unwrap();
        drop(lone_writer);
        assert_eq!(reader.poll_events() & POLLHUP, POLLHUP);
    }
}
