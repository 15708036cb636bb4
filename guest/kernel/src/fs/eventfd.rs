//! [`EventFd`]: the counter behind an `eventfd`/`eventfd2` file, with Linux's semantics.
//!
//! - `read` needs a buffer of at least 8 bytes (`EINVAL`); it returns the counter as a
//!   native-endian `u64` and resets it to 0, or, in semaphore mode (`EFD_SEMAPHORE`), returns
//!   1 and decrements it. A counter of 0 has nothing to give: [`MUST_WAIT`].
//! - `write` takes exactly 8 bytes (`EINVAL` otherwise) and adds their value; `u64::MAX` is
//!   `EINVAL`; a sum past [`EVENTFD_MAX`] (`u64::MAX - 1`) has to wait for a read:
//!   [`MUST_WAIT`].
//! - readiness, as Linux's `eventfd_poll`: `POLLIN` when the counter is above 0, `POLLOUT`
//!   while it is below [`EVENTFD_MAX`] (no `POLLRDNORM`/`POLLWRNORM`).
//!
//! As for pipes, an eventfd never waits itself: `EAGAIN` is Linux's answer for `O_NONBLOCK`,
//! and the syscall layer waits for a blocking file (see `OpenFile::may_block`). Every read
//! and write counts as a change for edge-triggered epoll entries ([`Changes`]): a write is
//! what wakes readers on Linux, a read what wakes writers.

use alloc::sync::Arc;

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::flags::{POLLERR, POLLIN, POLLOUT};
use crate::fs::stat::{Stat, Timespec};
use crate::sync::SpinLock;

/// The largest value the counter holds.
pub const EVENTFD_MAX: u64 = u64::MAX - 1;
/// What a read or write that cannot go on now returns, blocking or not (see the module docs).
pub const MUST_WAIT: Errno = Errno::EAGAIN;

/// `eventfd2` flag: semaphore-like reads.
pub const EFD_SEMAPHORE: u32 = 1;
/// `eventfd2` flag: `O_NONBLOCK`.
pub const EFD_NONBLOCK: u32 = crate::fs::flags::O_NONBLOCK;
/// `eventfd2` flag: `O_CLOEXEC`.
pub const EFD_CLOEXEC: u32 = crate::fs::flags::O_CLOEXEC;

/// An eventfd's counter.
pub struct EventFd {
    semaphore: bool,
    time: Timespec,
    state: SpinLock<Counter>,
}

struct Counter {
    value: u64,
    changes: Changes,
}

impl EventFd {
    /// A counter starting at `initval`, in semaphore mode if `semaphore`; `time` is the
    /// anonymous inode's time (what `fstat` shows).
    pub fn new(initval: u64, semaphore: bool, time: Timespec) -> Arc<EventFd> {
        Arc::new(EventFd {
            semaphore,
            time,
            state: SpinLock::new(Counter { value: initval.min(EVENTFD_MAX), changes: Changes::default() }),
        })
    }

    /// Whether reads take 1 at a time (`EFD_SEMAPHORE`).
    pub fn is_semaphore(&self) -> bool {
        self.semaphore
    }

    /// The counter (for `/proc/self/fdinfo`-style inspection and tests).
    pub fn value(&self) -> u64 {
        self.state.lock().value
    }

    /// `read`: fills the first 8 bytes of `buf` (see the module docs); returns 8.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let out = buf.get_mut(..8).ok_or(Errno::EINVAL)?;
        let mut state = self.state.lock();
        if state.value == 0 {
            return Err(MUST_WAIT);
        }
        let taken = if self.semaphore { 1 } else { state.value };
        state.value -= taken;
        state.changes.output_changed();
        out.copy_from_slice(&taken.to_ne_bytes());
        Ok(8)
    }

    /// `write`: adds the `u64` in `data` (exactly 8 bytes); returns 8.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let bytes: [u8; 8] = data.try_into().map_err(|_| Errno::EINVAL)?;
        let add = u64::from_ne_bytes(bytes);
        if add == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let mut state = self.state.lock();
        if EVENTFD_MAX - state.value < add {
            return Err(MUST_WAIT);
        }
        state.value += add;
        state.changes.input_changed();
        Ok(8)
    }

    /// The `poll` events that hold now.
    pub fn poll(&self) -> u16 {
        let value = self.state.lock().value;
        let mut events = 0;
        if value > 0 {
            events |= POLLIN;
        }
        if value < EVENTFD_MAX {
            events |= POLLOUT;
        }
        if value == u64::MAX {
            events |= POLLERR;
        }
        events
    }

    /// The reads and writes so far, for edge-triggered epoll entries.
    pub fn changes(&self) -> Changes {
        self.state.lock().changes
    }

    /// The metadata: the anonymous inode's.
    pub fn stat(&self) -> Stat {
        crate::fs::anon::stat(self.time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(efd: &EventFd) -> Result<u64, Errno> {
        let mut buf = [0u8; 8];
        efd.read(&mut buf)?;
        Ok(u64::from_ne_bytes(buf))
    }

    fn write(efd: &EventFd, value: u64) -> Result<usize, Errno> {
        efd.write(&value.to_ne_bytes())
    }

    #[test]
    fn counter_reads_reset_and_writes_add() {
        let efd = EventFd::new(5, false, Timespec::default());
        assert_eq!(efd.poll(), POLLIN | POLLOUT);
        assert_eq!(read(&efd), Ok(5));
        assert_eq!(read(&efd), Err(Errno::EAGAIN), "empty: must wait");
        assert_eq!(efd.poll(), POLLOUT);
        assert_eq!(write(&efd, 2), Ok(8));
        assert_eq!(write(&efd, 0), Ok(8), "adding 0 is a write");
        assert_eq!(write(&efd, 3), Ok(8));
        assert_eq!(read(&efd), Ok(5));
        let mut big = [0u8; 16];
        assert_eq!(write(&efd, 1), Ok(8));
        assert_eq!(efd.read(&mut big), Ok(8), "a bigger buffer gets 8 bytes");
        assert_eq!(u64::from_ne_bytes(big[..8].try_into().unwrap()), 1);
    }

    #[test]
    fn sizes_and_values_are_checked() {
        let efd = EventFd::new(1, false, Timespec::default());
        assert_eq!(efd.read(&mut [0u8; 7]), Err(Errno::EINVAL));
        assert_eq!(efd.read(&mut []), Err(Errno::EINVAL));
        assert_eq!(efd.write(&[0u8; 4]), Err(Errno::EINVAL));
        assert_eq!(efd.write(&[0u8; 16]), Err(Errno::EINVAL), "exactly 8 bytes, as Linux");
        assert_eq!(efd.write(&[]), Err(Errno::EINVAL));
        assert_eq!(write(&efd, u64::MAX), Err(Errno::EINVAL));
        assert_eq!(efd.value(), 1);
    }

    #[test]
    fn semaphore_mode_takes_one_at_a_time() {
        let efd = EventFd::new(3, true, Timespec::default());
        assert!(efd.is_semaphore());
        assert_eq!(read(&efd), Ok(1));
        assert_eq!(read(&efd), Ok(1));
        assert_eq!(efd.value(), 1);
        assert_eq!(read(&efd), Ok(1));
        assert_eq!(read(&efd), Err(Errno::EAGAIN));
    }

    #[test]
    fn overflow_waits_and_poll_follows() {
        let efd = EventFd::new(0, false, Timespec::default());
        assert_eq!(write(&efd, EVENTFD_MAX), Ok(8));
        assert_eq!(efd.poll(), POLLIN, "full: not writable");
        assert_eq!(write(&efd, 1), Err(Errno::EAGAIN));
        assert_eq!(write(&efd, 0), Ok(8), "adding 0 always fits");
        assert_eq!(read(&efd), Ok(EVENTFD_MAX));
        assert_eq!(write(&efd, EVENTFD_MAX - 1), Ok(8));
        assert_eq!(efd.poll(), POLLIN | POLLOUT);
        assert_eq!(write(&efd, 2), Err(Errno::EAGAIN));
        assert_eq!(EventFd::new(u64::MAX, false, Timespec::default()).value(), EVENTFD_MAX);
    }

    #[test]
    fn reads_and_writes_count_as_changes() {
        let efd = EventFd::new(0, false, Timespec::default());
        let start = efd.changes();
        write(&efd, 1).unwrap();
        let after_write = efd.changes();
        assert_ne!(after_write.input, start.input);
        assert_eq!(after_write.output, start.output);
        read(&efd).unwrap();
        assert_ne!(efd.changes().output, after_write.output);
        assert_eq!(read(&efd), Err(Errno::EAGAIN));
        assert_eq!(write(&efd, u64::MAX), Err(Errno::EINVAL));
        assert_eq!(efd.changes().input, after_write.input, "failed calls change nothing");
        assert_eq!(efd.stat().mode, 0o600);
    }
}
