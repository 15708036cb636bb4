//! [`SignalFd`]: the file behind `signalfd`/`signalfd4`, with Linux's semantics.
//!
//! - The file holds a mask of signals (SIGKILL and SIGSTOP never in it); `signalfd` on an
//!   existing signalfd changes the mask.
//! - What it reads is the *reader's* pending signals, as on Linux: the calling thread's own
//!   and its process's, among the mask, taken as `rt_sigtimedwait` takes them (the thread's
//!   first, synchronous ones first, then the lowest number). The syscall layer does the read
//!   (`syscall::signalfd`), since it needs the process; each signal becomes a 128-byte
//!   `struct signalfd_siginfo` ([`encode`]).
//! - Readiness is `POLLIN` when the caller has a pending signal among the mask. The file
//!   cannot see the caller, so the syscalls that scan files for readiness (poll, select,
//!   epoll_wait) record the caller's pending signals first ([`set_caller_pending`]); all of
//!   them run under the one kernel lock, so the record is the scanning thread's. Each signal
//!   queued anywhere in the VM counts as input for edge-triggered epoll entries
//!   ([`crate::signal::queued_count`]), and wakes the threads waiting for a file to change.
//! - The signals are usually blocked (otherwise a handler or the default action takes them
//!   first, as on Linux). `write` is `EINVAL`; the file is an anonymous inode
//!   (`anon_inode:[signalfd]`).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::fs::epoll::Changes;
use crate::fs::flags::{POLLIN, POLLRDNORM};
use crate::fs::stat::{Stat, Timespec};
use crate::signal::{SigFields, SigInfo, UNBLOCKABLE};

/// `signalfd4` flag: `O_NONBLOCK`.
pub const SFD_NONBLOCK: u32 = crate::fs::flags::O_NONBLOCK;
/// `signalfd4` flag: `O_CLOEXEC`.
pub const SFD_CLOEXEC: u32 = crate::fs::flags::O_CLOEXEC;
/// Bytes of a `struct signalfd_siginfo`.
pub const SIGNALFD_SIGINFO_SIZE: usize = 128;

/// The pending signals (thread's and process's) of the thread scanning files for readiness
/// now: see the module docs.
static CALLER_PENDING: AtomicU64 = AtomicU64::new(0);

/// Records the pending signals of the thread about to scan files for readiness.
pub fn set_caller_pending(mask: u64) {
    CALLER_PENDING.store(mask, Ordering::Relaxed);
}

/// A signalfd.
pub struct SignalFd {
    mask: AtomicU64,
    time: Timespec,
}

impl SignalFd {
    /// A signalfd reading the signals of `mask`; `time` is the anonymous inode's time.
    pub fn new(mask: u64, time: Timespec) -> Arc<SignalFd> {
        Arc::new(SignalFd { mask: AtomicU64::new(mask & !UNBLOCKABLE), time })
    }

    /// The signals it reads.
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    /// Reads the signals of `mask` from now on (SIGKILL and SIGSTOP dropped from it).
    pub fn set_mask(&self, mask: u64) {
        self.mask.store(mask & !UNBLOCKABLE, Ordering::Relaxed);
        crate::wait::note_io_event();
    }

    /// `POLLIN | POLLRDNORM` when the scanning thread has a pending signal of the mask.
    pub fn poll(&self) -> u16 {
        if CALLER_PENDING.load(Ordering::Relaxed) & self.mask() != 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    /// Every signal queued in the VM counts as input (see the module docs).
    pub fn changes(&self) -> Changes {
        Changes { input: crate::signal::queued_count(), ..Changes::default() }
    }

    /// The metadata: the anonymous inode's.
    pub fn stat(&self) -> Stat {
        crate::fs::anon::stat(self.time)
    }
}

/// The `struct signalfd_siginfo` of a taken signal, filled as Linux's `signalfd_copyinfo`
/// fills it by the kind of sender: the sender's pid and uid (kill, tkill; with the value for
/// sigqueue, in `ssi_ptr` and its low half in `ssi_int`), the address (faults), the child's pid, uid and status (SIGCHLD), the timer's id, overrun and value
/// (POSIX timers: `ssi_tid`, `ssi_overrun`, `ssi_ptr` and its low half in `ssi_int`).
pub fn encode(info: &SigInfo) -> [u8; SIGNALFD_SIGINFO_SIZE] {
    let mut b = [0u8; SIGNALFD_SIGINFO_SIZE];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &info.signo.to_le_bytes());
    put(4, &info.errno.to_le_bytes());
    put(8, &info.code.to_le_bytes());
    match info.fields {
        SigFields::None => {}
        SigFields::Kill { pid, uid } => {
            put(12, &pid.to_le_bytes());
            put(16, &uid.to_le_bytes());
        }
        SigFields::Fault { addr } => put(72, &addr.to_le_bytes()),
        SigFields::Child { pid, uid, status } => {
            put(12, &pid.to_le_bytes());
            put(16, &uid.to_le_bytes());
            put(40, &status.to_le_bytes());
        }
        SigFields::Queue { pid, uid, value } => {
            put(12, &pid.to_le_bytes());
            put(16, &uid.to_le_bytes());
            put(44, &(value as u32).to_le_bytes());
            put(48, &value.to_le_bytes());
        }
        SigFields::Timer { id, overrun, value } => {
            put(24, &id.to_le_bytes());
            put(32, &overrun.to_le_bytes());
            put(44, &(value as u32).to_le_bytes());
            put(48, &value.to_le_bytes());
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{bit, si, Signal};

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn the_mask_never_holds_sigkill_or_sigstop() {
        let sfd = SignalFd::new(u64::MAX, Timespec::default());
        assert_eq!(sfd.mask() & UNBLOCKABLE, 0);
        sfd.set_mask(bit(Signal::SIGKILL as u32) | bit(Signal::SIGUSR1 as u32));
        assert_eq!(sfd.mask(), bit(Signal::SIGUSR1 as u32));
    }

    #[test]
    fn readiness_is_the_callers_pending_signals_among_the_mask() {
        let sfd = SignalFd::new(bit(Signal::SIGUSR1 as u32), Timespec::default());
        set_caller_pending(bit(Signal::SIGUSR2 as u32));
        assert_eq!(sfd.poll(), 0);
        set_caller_pending(bit(Signal::SIGUSR1 as u32) | bit(Signal::SIGUSR2 as u32));
        assert_eq!(sfd.poll(), POLLIN | POLLRDNORM);
        set_caller_pending(0);
    }

    #[test]
    fn siginfo_fields_sit_where_linux_puts_them() {
        let kill = encode(&SigInfo::user(Signal::SIGTERM as u32, si::USER, 7, 1000));
        assert_eq!((u32_at(&kill, 0), u32_at(&kill, 8), u32_at(&kill, 12), u32_at(&kill, 16)), (15, 0, 7, 1000));
        let child = SigInfo {
            signo: Signal::SIGCHLD as u32,
            errno: 0,
            code: 1,
            fields: SigFields::Child { pid: 9, uid: 0, status: 3 },
            origin: None,
        };
        let child = encode(&child);
        assert_eq!((u32_at(&child, 12), u32_at(&child, 40)), (9, 3));
        let timer = SigInfo {
            signo: 34,
            errno: 0,
            code: si::TIMER,
            fields: SigFields::Timer { id: 2, overrun: 5, value: 0x1_0000_0042 },
            origin: None,
        };
        let timer = encode(&timer);
        assert_eq!((u32_at(&timer, 24), u32_at(&timer, 32), u32_at(&timer, 44)), (2, 5, 0x42));
        assert_eq!(u64::from_le_bytes(timer[48..56].try_into().unwrap()), 0x1_0000_0042);
    }
}
