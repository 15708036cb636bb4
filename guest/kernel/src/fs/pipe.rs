//! [`Pipe`]: an anonymous pipe (`pipe`, `pipe2`) — a bounded byte buffer with a read end and a
//! write end.
//!
//! The ends are open file descriptions: every [`crate::fs::OpenFile`] on a pipe counts as a
//! reader and/or writer from its creation until its last `Arc` drops (so `dup`ed fds share
//! one end, as on Linux), and reopening `/proc/self/fd/N` opens a new end.
//!
//! A named pipe (a FIFO, `mkfifo`) is the same pipe, shared by the opens of its file while
//! any is open (`fs::fifo`): it counts the ends ever opened too, which a blocking open waits
//! on, and shows its file's device, inode and permissions in `fstat`.
//!
//! Linux semantics, in Linux's order:
//! - `read`: data first; with no data, end of file (0) once every writer has closed;
//! - `write`: `EPIPE` once every reader has closed (the caller raises `SIGPIPE`); writes of
//!   at most [`PIPE_BUF`] bytes are atomic (all or nothing), longer ones may be partial;
//! - the buffer holds [`DEFAULT_CAPACITY`] bytes (64 KiB, Linux's default), changed by
//!   `F_SETPIPE_SZ`;
//! - readiness for `poll`/`select`: the read end is readable with data, hung up (`POLLHUP`)
//!   with no writers; the write end is writable with room for [`PIPE_BUF`] bytes, in error
//!   (`POLLERR`) with no readers.
//!
//! # Waiting
//!
//! A read of an empty pipe whose writers are still open (or a write to a full one) has to
//! wait on Linux until the other end acts or a signal arrives. A pipe never waits itself: it
//! returns [`MUST_WAIT`] (`EAGAIN`), which is Linux's answer for `O_NONBLOCK`; for a blocking
//! file the syscall layer waits: it parks the vCPU until another thread's syscall may have
//! moved the other end (or a signal comes). If the waiting thread holds the only other end,
//! the wait never ends, as on Linux (the VMM still stops the VM on `--timeout` or when `uvm`
//! is interrupted). Reopening a pipe through `/proc/self/fd/N` in blocking mode without the
//! other side, which would wait the same way, returns `EAGAIN`.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::flags::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use crate::fs::stat::{makedev, FileType, Stat, Timespec, BLOCK_SIZE};
use crate::sync::SpinLock;

/// Bytes a pipe holds unless `F_SETPIPE_SZ` changes it (Linux: 16 pages).
pub const DEFAULT_CAPACITY: usize = 64 * 1024;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;
/// The largest capacity `F_SETPIPE_SZ` accepts (Linux's `/proc/sys/fs/pipe-max-size`).
pub const MAX_CAPACITY: usize = 1 << 20;
/// `st_dev` of pipes (Linux's pipefs).
pub const DEV_PIPEFS: u64 = makedev(0, 0xc);
/// `statfs` `f_type` of pipes.
pub const PIPEFS_MAGIC: u64 = 0x5049_5045;

/// A pipe.
pub struct Pipe {
    ino: u64,
    /// `st_dev`: pipefs, or a FIFO's file system.
    dev: u64,
    /// Permission bits (0600, or a FIFO's).
    perm: u32,
    uid: u32,
    gid: u32,
    created: Timespec,
    /// A FIFO's: an end opened changes its readiness.
    named: bool,
    state: SpinLock<PipeState>,
}

struct PipeState {
    data: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
    /// Ends opened for reading and for writing so far (a FIFO's blocking open waits for the
    /// other side's count to move).
    opened: (u64, u64),
    changes: Changes,
}

impl PipeState {
    /// Whether a writer would find no room (what `POLLOUT` says).
    fn is_full(&self) -> bool {
        self.capacity.saturating_sub(self.data.len()) < PIPE_BUF.min(self.capacity)
    }
}

/// What a read or write that cannot go on now returns, blocking or not: `EAGAIN`. Linux
/// would wait for the other end unless `O_NONBLOCK`; the caller of a blocking file waits
/// (see the module docs).
pub const MUST_WAIT: Errno = Errno::EAGAIN;

impl Pipe {
    /// A new, empty pipe with inode number `ino`, owned by `uid:gid`, created at `now`. It
    /// has no ends until open files are made on it.
    pub fn new(ino: u64, uid: u32, gid: u32, now: Timespec) -> Arc<Pipe> {
        Arc::new(Pipe::made(ino, DEV_PIPEFS, 0o600, (uid, gid), now, false))
    }

    /// A FIFO's pipe: as [`Pipe::new`], with the metadata of the FIFO's file (`ino` on device
    /// `dev`, permission bits `perm`).
    pub fn named(ino: u64, dev: u64, perm: u32, owner: (u32, u32), now: Timespec) -> Arc<Pipe> {
        Arc::new(Pipe::made(ino, dev, perm, owner, now, true))
    }

    fn made(ino: u64, dev: u64, perm: u32, (uid, gid): (u32, u32), now: Timespec, named: bool) -> Pipe {
        Pipe {
            ino,
            dev,
            perm,
            uid,
            gid,
            created: now,
            named,
            state: SpinLock::new(PipeState {
                data: VecDeque::new(),
                capacity: DEFAULT_CAPACITY,
                readers: 0,
                writers: 0,
                opened: (0, 0),
                changes: Changes::default(),
            }),
        }
    }

    /// Whether this is a FIFO's pipe.
    pub fn is_named(&self) -> bool {
        self.named
    }

    /// The open ends now, `(readers, writers)`, and the ends opened so far, the same way.
    pub fn ends(&self) -> ((usize, usize), (u64, u64)) {
        let state = self.state.lock();
        ((state.readers, state.writers), state.opened)
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// An open file begins to read and/or write the pipe. Returns the writers open and the
    /// writers opened so far, this one included (for [`Pipe::poll_end`]).
    pub fn open_end(&self, read: bool, write: bool) -> (usize, u64) {
        let mut state = self.state.lock();
        state.readers += usize::from(read);
        state.writers += usize::from(write);
        state.opened.0 += u64::from(read);
        state.opened.1 += u64::from(write);
        if self.named {
            // A FIFO's opener waiting for this side, and its watchers (a reader's POLLHUP
            // ends), look again.
            state.changes.hung_up();
        }
        (state.writers, state.opened.1)
    }

    /// An open file that read and/or wrote the pipe is gone. Once no reader is left the
    /// buffered data can never be read: it is dropped.
    pub fn close_end(&self, read: bool, write: bool) {
        let mut state = self.state.lock();
        state.readers = state.readers.saturating_sub(usize::from(read));
        state.writers = state.writers.saturating_sub(usize::from(write));
        if state.readers == 0 {
            state.data = VecDeque::new();
        }
        if (read && state.readers == 0) || (write && state.writers == 0) {
            state.changes.hung_up();
        }
    }

    /// Reads up to `buf.len()` bytes. 0 at end of file (no writers left) or for an empty
    /// `buf`; with nothing to read yet, [`MUST_WAIT`].
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut state = self.state.lock();
        if state.data.is_empty() {
            return if state.writers == 0 { Ok(0) } else { Err(MUST_WAIT) };
        }
        let was_full = state.is_full();
        let count = buf.len().min(state.data.len());
        let (front, back) = state.data.as_slices();
        let from_front = count.min(front.len());
        buf[..from_front].copy_from_slice(&front[..from_front]);
        buf[from_front..count].copy_from_slice(&back[..count - from_front]);
        state.data.drain(..count);
        if state.data.is_empty() {
            // Give the buffer's memory back between bursts.
            state.data = VecDeque::new();
        }
        if was_full {
            state.changes.output_changed();
        }
        Ok(count)
    }

    /// Writes `data`: all of it if it fits, all or nothing if it is at most [`PIPE_BUF`]
    /// bytes, else as much as fits. `EPIPE` with no reader left; with no room,
    /// [`MUST_WAIT`].
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut state = self.state.lock();
        if state.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let room = state.capacity.saturating_sub(state.data.len());
        let count = if data.len() <= PIPE_BUF {
            if room < data.len() {
                0
            } else {
                data.len()
            }
        } else {
            room.min(data.len())
        };
        if count == 0 {
            return Err(MUST_WAIT);
        }
        state.data.try_reserve(count).map_err(|_| Errno::ENOMEM)?;
        state.data.extend(&data[..count]);
        state.changes.input_changed();
        Ok(count)
    }

    /// Bytes waiting to be read (`FIONREAD`).
    pub fn available(&self) -> usize {
        self.state.lock().data.len()
    }

    /// The capacity (`F_GETPIPE_SZ`).
    pub fn capacity(&self) -> usize {
        self.state.lock().capacity
    }

    /// `F_SETPIPE_SZ`: the capacity becomes `size` rounded up to a power-of-two number of
    /// pages (at least one page, so 0 is one page, as on Linux); returns it. `EINVAL` past
    /// 2 GiB; `EPERM` past [`MAX_CAPACITY`] (Linux's limit for unprivileged processes, kept
    /// for the app, root though it is, to bound kernel memory); `EBUSY` if the data held would
    /// not fit.
    pub fn set_capacity(&self, size: u64) -> Result<usize, Errno> {
        if size > 1 << 31 {
            return Err(Errno::EINVAL);
        }
        let pages = size.div_ceil(BLOCK_SIZE as u64).max(1).next_power_of_two();
        let capacity = usize::try_from(pages * BLOCK_SIZE as u64).map_err(|_| Errno::EINVAL)?;
        if capacity > MAX_CAPACITY {
            return Err(Errno::EPERM);
        }
        let mut state = self.state.lock();
        if state.data.len() > capacity {
            return Err(Errno::EBUSY);
        }
        state.capacity = capacity;
        state.changes.output_changed();
        Ok(capacity)
    }

    /// The wake-ups so far, for edge-triggered epoll entries (see the module docs).
    pub fn changes(&self) -> Changes {
        self.state.lock().changes
    }

    /// The `poll` events that hold now for an open file that reads (`read_end`) and/or
    /// writes (`write_end`) the pipe, as Linux's `pipe_poll` computes them.
    pub fn poll(&self, read_end: bool, write_end: bool) -> u16 {
        self.poll_end(read_end, write_end, u64::MAX)
    }

    /// [`Pipe::poll`] for an end that saw `writers_seen` writers opened so far: a reader is
    /// hung up once no writer is open and the count moved since. Only a FIFO's non-blocking
    /// reader opened while no writer was open remembers the count (Linux's `f_version`), so
    /// it waits in `poll` for a writer to come; every other end passes `u64::MAX`, which no
    /// count reaches, and hangs up as soon as no writer is open.
    pub fn poll_end(&self, read_end: bool, write_end: bool, writers_seen: u64) -> u16 {
        let state = self.state.lock();
        let mut events = 0;
        if read_end {
            if !state.data.is_empty() {
                events |= POLLIN | POLLRDNORM;
            }
            if state.writers == 0 && state.opened.1 != writers_seen {
                events |= POLLHUP;
            }
        }
        if write_end {
            if !state.is_full() {
                events |= POLLOUT | POLLWRNORM;
            }
            if state.readers == 0 {
                events |= POLLERR;
            }
        }
        events
    }

    /// The metadata: a FIFO owned by its creator, size 0 (as on Linux).
    pub fn stat(&self) -> Stat {
        Stat {
            dev: self.dev,
            ino: self.ino,
            nlink: 1,
            mode: FileType::Fifo.mode_bits() | self.perm,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            size: 0,
            blksize: BLOCK_SIZE,
            blocks: 0,
            atime: self.created,
            mtime: self.created,
            ctime: self.created,
            mount_id: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> Arc<Pipe> {
        let pipe = Pipe::new(7, 0, 0, Timespec::default());
        pipe.open_end(true, false);
        pipe.open_end(false, true);
        pipe
    }

    #[test]
    fn bytes_come_out_in_order_then_eof() {
        let pipe = pipe();
        assert_eq!(pipe.write(b"hello "), Ok(6));
        assert_eq!(pipe.write(b"world"), Ok(5));
        assert_eq!(pipe.available(), 11);
        let mut buf = [0u8; 4];
        assert_eq!(pipe.read(&mut buf), Ok(4));
        assert_eq!(&buf, b"hell");
        let mut rest = [0u8; 64];
        assert_eq!(pipe.read(&mut rest), Ok(7));
        assert_eq!(&rest[..7], b"o world");
        assert_eq!(pipe.read(&mut rest), Err(MUST_WAIT), "empty with a writer: must wait");
        assert_eq!(pipe.read(&mut []), Ok(0));
        pipe.write(b"tail").unwrap();
        pipe.close_end(false, true);
        assert_eq!(pipe.read(&mut rest), Ok(4), "data still comes after the writer left");
        assert_eq!(pipe.read(&mut rest), Ok(0), "then end of file");
    }

    #[test]
    fn full_pipes_and_atomic_writes() {
        let pipe = pipe();
        let page = [7u8; PIPE_BUF];
        for _ in 0..DEFAULT_CAPACITY / PIPE_BUF {
            assert_eq!(pipe.write(&page), Ok(PIPE_BUF));
        }
        assert_eq!(pipe.write(b"x"), Err(Errno::EAGAIN));
        assert_eq!(pipe.poll(false, true) & POLLOUT, 0);
        let mut buf = [0u8; 100];
        pipe.read(&mut buf).unwrap();
        assert_eq!(pipe.write(&[1u8; 200]), Err(Errno::EAGAIN), "a small write is all or nothing");
        assert_eq!(pipe.write(&[1u8; 50]), Ok(50));
        assert_eq!(pipe.write(&[1u8; 10_000]), Ok(50), "a big write is partial");
        assert_eq!(pipe.available(), DEFAULT_CAPACITY);
    }

    #[test]
    fn no_readers_is_epipe_and_drops_data() {
        let pipe = pipe();
        pipe.write(b"abc").unwrap();
        pipe.close_end(true, false);
        assert_eq!(pipe.write(b"more"), Err(Errno::EPIPE));
        assert_eq!(pipe.write(b""), Ok(0), "an empty write checks nothing");
        assert_eq!(pipe.available(), 0);
        assert_eq!(pipe.poll(false, true), POLLOUT | POLLWRNORM | POLLERR);
    }

    #[test]
    fn poll_follows_linux() {
        let pipe = pipe();
        assert_eq!(pipe.poll(true, false), 0);
        assert_eq!(pipe.poll(false, true), POLLOUT | POLLWRNORM);
        pipe.write(b"x").unwrap();
        assert_eq!(pipe.poll(true, false), POLLIN | POLLRDNORM);
        pipe.close_end(false, true);
        assert_eq!(pipe.poll(true, false), POLLIN | POLLRDNORM | POLLHUP);
        let mut buf = [0u8; 1];
        pipe.read(&mut buf).unwrap();
        assert_eq!(pipe.poll(true, false), POLLHUP, "EOF: hung up, not readable");
    }

    #[test]
    fn capacity_changes() {
        let pipe = pipe();
        assert_eq!(pipe.capacity(), DEFAULT_CAPACITY);
        assert_eq!(pipe.set_capacity(1), Ok(4096));
        assert_eq!(pipe.set_capacity(0), Ok(4096));
        assert_eq!(pipe.set_capacity(3 * 4096), Ok(4 * 4096));
        assert_eq!(pipe.set_capacity((1 << 31) + 1), Err(Errno::EINVAL));
        assert_eq!(pipe.set_capacity(MAX_CAPACITY as u64 + 1), Err(Errno::EPERM));
        pipe.write(&[0u8; 8192]).unwrap();
        assert_eq!(pipe.set_capacity(4096), Err(Errno::EBUSY));
        assert_eq!(pipe.stat().mode, 0o010600);
        assert_eq!(pipe.stat().ino, 7);
    }

    #[test]
    fn changes_count_linux_wakeups() {
        let pipe = pipe();
        let start = pipe.changes();
        pipe.write(b"ab").unwrap();
        let written = pipe.changes();
        assert_eq!((written.input, written.output, written.hangup), (start.input + 1, start.output, start.hangup));
        pipe.read(&mut [0u8; 1]).unwrap();
        assert_eq!(pipe.changes(), written, "a read of a pipe that was not full wakes no writer");
        while pipe.write(&[0u8; PIPE_BUF]).is_ok() {}
        let full = pipe.changes();
        pipe.read(&mut [0u8; 1]).unwrap();
        assert_eq!(pipe.changes().output, full.output + 1, "a read of a full pipe wakes writers");
        pipe.close_end(false, true);
        assert_eq!(pipe.changes().hangup, start.hangup + 1, "the last writer left");
    }

    #[test]
    fn a_reader_opened_after_the_writers_left_reads_the_data_then_the_end() {
        let pipe = Pipe::new(1, 0, 0, Timespec::default());
        pipe.open_end(true, false);
        pipe.open_end(false, true);
        assert_eq!(pipe.write(b"abc"), Ok(3));
        pipe.close_end(false, true);
        // Another reader, as `/dev/fd/63` gives bash's `<(cmd)` reader once `cmd` is done.
        pipe.open_end(true, false);
        pipe.close_end(true, false);
        let mut buf = [0u8; 8];
        assert_eq!(pipe.read(&mut buf), Ok(3));
        assert_eq!(pipe.read(&mut buf), Ok(0), "no writer left: end of file");
    }
}
