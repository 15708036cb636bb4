//! [`TimerFd`]: the timer behind a `timerfd_create` file, with Linux's semantics.
//!
//! - The timer runs on the monotonic clock whatever its clock id: the VM's `CLOCK_REALTIME`
//!   is the monotonic clock plus a fixed offset (nothing in the VM sets the clock), so an
//!   absolute `CLOCK_REALTIME` time converts once, when the timer is set, and
//!   `TFD_TIMER_CANCEL_ON_SET` has nothing to cancel on (accepted, a no-op Linux allows: no
//!   clock change ever happens here). `CLOCK_BOOTTIME` is the monotonic clock (the VM never
//!   suspends).
//! - Expirations are counted when looked at (a read, a poll, a wait's wake-up), from the
//!   deadline and the interval: nothing runs at the deadline itself. A thread waiting for the
//!   file parks no longer than the earliest armed timer's deadline ([`park_limit`]), so it
//!   wakes in time to find it expired.
//! - `read` needs 8 bytes (`EINVAL`); it returns the expirations since the last read or
//!   `timerfd_settime` as a native-endian `u64` and resets them; with none it has to wait
//!   ([`MUST_WAIT`], `EAGAIN`: the syscall layer waits for a blocking file). `write` is
//!   `EINVAL`.
//! - readiness: `POLLIN` with expirations to read. Each new expiration counts as input for
//!   edge-triggered epoll entries.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::flags::POLLIN;
use crate::fs::stat::{Stat, Timespec};
use crate::sync::SpinLock;

/// What a read that finds no expiration returns, blocking or not.
pub const MUST_WAIT: Errno = Errno::EAGAIN;

/// `timerfd_create` flag: `O_NONBLOCK`.
pub const TFD_NONBLOCK: u32 = crate::fs::flags::O_NONBLOCK;
/// `timerfd_create` flag: `O_CLOEXEC`.
pub const TFD_CLOEXEC: u32 = crate::fs::flags::O_CLOEXEC;
/// `timerfd_settime` flag: the time is absolute, on the timer's clock.
pub const TFD_TIMER_ABSTIME: u32 = 1;
/// `timerfd_settime` flag: reads fail with `ECANCELED` when the realtime clock is set (it
/// never is in the VM).
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// The clocks a timer may be made on, as Linux numbers them.
pub mod clock {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const BOOTTIME: u32 = 7;
    pub const REALTIME_ALARM: u32 = 8;
    pub const BOOTTIME_ALARM: u32 = 9;
}

const NS_PER_SEC: u64 = 1_000_000_000;

/// An `itimerspec`: the interval and the first expiration, in nanoseconds (the first one
/// relative to now, or absolute with `TFD_TIMER_ABSTIME`; 0 disarms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerSpec {
    pub interval_ns: u64,
    pub value_ns: u64,
}

impl TimerSpec {
    /// Reads the 32 bytes of a `struct itimerspec`: `EINVAL` for a negative time or
    /// nanoseconds past a second.
    pub fn decode(bytes: &[u8; 32]) -> Result<TimerSpec, Errno> {
        let word = |i: usize| i64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let ns = |sec: i64, nsec: i64| -> Result<u64, Errno> {
            if sec < 0 || !(0..NS_PER_SEC as i64).contains(&nsec) {
                return Err(Errno::EINVAL);
            }
            Ok((sec as u64).saturating_mul(NS_PER_SEC).saturating_add(nsec as u64))
        };
        Ok(TimerSpec { interval_ns: ns(word(0), word(1))?, value_ns: ns(word(2), word(3))? })
    }

    /// The 32 bytes of a `struct itimerspec`.
    pub fn encode(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, ns) in [self.interval_ns, self.value_ns].into_iter().enumerate() {
            out[i * 16..i * 16 + 8].copy_from_slice(&((ns / NS_PER_SEC) as i64).to_ne_bytes());
            out[i * 16 + 8..i * 16 + 16].copy_from_slice(&((ns % NS_PER_SEC) as i64).to_ne_bytes());
        }
        out
    }
}

/// A timerfd's timer.
pub struct TimerFd {
    realtime: bool,
    time: Timespec,
    state: SpinLock<TimerState>,
}

#[derive(Default)]
struct TimerState {
    /// The next expiration on the monotonic clock; `None`: disarmed.
    deadline_ns: Option<u64>,
    interval_ns: u64,
    /// Expirations not yet read.
    expirations: u64,
    changes: Changes,
}

impl TimerState {
    /// Counts the expirations up to `now` and moves the deadline past it (or disarms).
    fn catch_up(&mut self, now: u64) {
        let Some(deadline) = self.deadline_ns.filter(|&d| d <= now) else { return };
        let passed = (now - deadline).checked_div(self.interval_ns).map_or(1, |n| n + 1);
        self.expirations = self.expirations.saturating_add(passed);
        self.deadline_ns =
            if self.interval_ns == 0 { None } else { deadline.checked_add(passed.saturating_mul(self.interval_ns)) };
        self.changes.input_changed();
    }

    /// What is left until the next expiration, and the interval.
    fn remaining(&self, now: u64) -> TimerSpec {
        let value_ns = self.deadline_ns.map_or(0, |d| d.saturating_sub(now).max(1));
        TimerSpec { interval_ns: self.interval_ns, value_ns }
    }
}

/// Every timer that was armed, for [`park_limit`] (dropped ones and disarmed ones go at the
/// next look).
static ARMED: SpinLock<Vec<Weak<TimerFd>>> = SpinLock::new(Vec::new());
/// Whether [`ARMED`] lists any timer (changed with its lock held): a wait of an app without
/// timerfds looks no further.
static ANY_ARMED: AtomicBool = AtomicBool::new(false);

/// The monotonic clock now, in nanoseconds.
fn now_ns() -> u64 {
    crate::time::clock().monotonic_ns(crate::time::rdtsc())
}

/// How long a wait may park before an armed timer expires (`u64::MAX` when none is armed).
/// Timers that expired are counted first (their next deadline is ahead, or they are
/// disarmed), so one nobody reads does not end every park at once.
pub fn park_limit() -> u64 {
    if !ANY_ARMED.load(Ordering::Relaxed) {
        return u64::MAX;
    }
    let now = now_ns();
    let mut armed = ARMED.lock();
    let left = earliest_deadline(&mut armed, now).map_or(u64::MAX, |deadline| deadline.saturating_sub(now));
    ANY_ARMED.store(!armed.is_empty(), Ordering::Relaxed);
    left
}

/// The earliest deadline of the timers in `armed` after counting their expirations up to
/// `now`; drops the dropped and disarmed ones.
fn earliest_deadline(armed: &mut Vec<Weak<TimerFd>>, now: u64) -> Option<u64> {
    let mut earliest = None;
    armed.retain(|timer| {
        let Some(timer) = timer.upgrade() else { return false };
        let mut state = timer.state.lock();
        state.catch_up(now);
        let Some(deadline) = state.deadline_ns else { return false };
        earliest = Some(earliest.map_or(deadline, |e: u64| e.min(deadline)));
        true
    });
    earliest
}

impl TimerFd {
    /// A disarmed timer on clock `clock_id` (one of [`clock`]; `EINVAL` otherwise); `time` is
    /// the anonymous inode's time (what `fstat` shows).
    pub fn new(clock_id: u32, time: Timespec) -> Result<Arc<TimerFd>, Errno> {
        let realtime = match clock_id {
            clock::REALTIME | clock::REALTIME_ALARM => true,
            clock::MONOTONIC | clock::BOOTTIME | clock::BOOTTIME_ALARM => false,
            _ => return Err(Errno::EINVAL),
        };
        Ok(Arc::new(TimerFd { realtime, time, state: SpinLock::new(TimerState::default()) }))
    }

    /// `timerfd_settime`: arms (or with a zero value disarms) the timer, clearing the
    /// expirations not yet read; returns what was left of the old setting.
    #[cold]
    pub fn set(self: &Arc<Self>, spec: TimerSpec, flags: u32) -> Result<TimerSpec, Errno> {
        if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
            return Err(Errno::EINVAL);
        }
        let (clock, tsc) = (crate::time::clock(), crate::time::rdtsc());
        let now = clock.monotonic_ns(tsc);
        // The realtime clock is the monotonic one plus the boot's realtime.
        let offset = if self.realtime { clock.realtime_ns(tsc).saturating_sub(now) } else { 0 };
        let old = self.set_at(spec, flags & TFD_TIMER_ABSTIME != 0, now, offset);
        if spec.value_ns != 0 {
            let mut armed = ARMED.lock();
            if !armed.iter().any(|t| core::ptr::eq(t.as_ptr(), Arc::as_ptr(self))) {
                armed.push(Arc::downgrade(self));
            }
            ANY_ARMED.store(true, Ordering::Relaxed);
        }
        Ok(old)
    }

    /// [`TimerFd::set`] at monotonic time `now`, for a clock `offset` ns ahead of it.
    fn set_at(&self, spec: TimerSpec, absolute: bool, now: u64, offset: u64) -> TimerSpec {
        let mut state = self.state.lock();
        state.catch_up(now);
        let old = state.remaining(now);
        state.expirations = 0;
        state.interval_ns = spec.interval_ns;
        state.deadline_ns = match (spec.value_ns, absolute) {
            (0, _) => None,
            // A time already past expires at the next look.
            (at, true) => Some(at.saturating_sub(offset).max(1)),
            (after, false) => Some(now.saturating_add(after)),
        };
        old
    }

    /// `timerfd_gettime`: what is left until the next expiration (0: disarmed), and the
    /// interval.
    #[cold]
    pub fn get(&self) -> TimerSpec {
        let now = now_ns();
        let mut state = self.state.lock();
        state.catch_up(now);
        state.remaining(now)
    }

    /// `read`: fills the first 8 bytes of `buf` with the expirations (see the module docs).
    #[cold]
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.read_at(buf, now_ns())
    }

    fn read_at(&self, buf: &mut [u8], now: u64) -> Result<usize, Errno> {
        let out = buf.get_mut(..8).ok_or(Errno::EINVAL)?;
        let mut state = self.state.lock();
        state.catch_up(now);
        if state.expirations == 0 {
            return Err(MUST_WAIT);
        }
        out.copy_from_slice(&core::mem::take(&mut state.expirations).to_ne_bytes());
        Ok(8)
    }

    /// The `poll` events that hold now.
    #[cold]
    pub fn poll(&self) -> u16 {
        let mut state = self.state.lock();
        state.catch_up(now_ns());
        if state.expirations > 0 {
            POLLIN
        } else {
            0
        }
    }

    /// The expirations so far, for edge-triggered epoll entries.
    #[cold]
    pub fn changes(&self) -> Changes {
        let mut state = self.state.lock();
        state.catch_up(now_ns());
        state.changes
    }

    /// The metadata: the anonymous inode's.
    pub fn stat(&self) -> Stat {
        crate::fs::anon::stat(self.time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn timer() -> Arc<TimerFd> {
        TimerFd::new(clock::MONOTONIC, Timespec::default()).expect("a timer")
    }

    fn read(t: &TimerFd, now: u64) -> Result<u64, Errno> {
        let mut buf = [0u8; 8];
        t.read_at(&mut buf, now)?;
        Ok(u64::from_ne_bytes(buf))
    }

    #[test]
    fn a_one_shot_timer_expires_once() {
        let t = timer();
        t.set_at(TimerSpec { interval_ns: 0, value_ns: 50 * MS }, false, 1000 * MS, 0);
        assert_eq!(read(&t, 1049 * MS), Err(MUST_WAIT));
        assert_eq!(read(&t, 1050 * MS), Ok(1));
        assert_eq!(read(&t, 5000 * MS), Err(MUST_WAIT), "disarmed after it fired");
        assert_eq!(t.state.lock().remaining(5000 * MS), TimerSpec::default());
    }

    #[test]
    fn a_periodic_timer_counts_every_interval_passed() {
        let t = timer();
        t.set_at(TimerSpec { interval_ns: 10 * MS, value_ns: 10 * MS }, false, 0, 0);
        assert_eq!(read(&t, 35 * MS), Ok(3), "10, 20 and 30 ms");
        assert_eq!(t.state.lock().remaining(35 * MS), TimerSpec { interval_ns: 10 * MS, value_ns: 5 * MS });
        assert_eq!(read(&t, 39 * MS), Err(MUST_WAIT));
        assert_eq!(read(&t, 40 * MS), Ok(1));
    }

    #[test]
    fn setting_clears_unread_expirations_and_returns_the_old_setting() {
        let t = timer();
        t.set_at(TimerSpec { interval_ns: 10 * MS, value_ns: 10 * MS }, false, 0, 0);
        let old = t.set_at(TimerSpec::default(), false, 25 * MS, 0);
        assert_eq!(old, TimerSpec { interval_ns: 10 * MS, value_ns: 5 * MS });
        assert_eq!(read(&t, 100 * MS), Err(MUST_WAIT), "disarmed, and the two expirations are gone");
    }

    #[test]
    fn absolute_times_are_on_the_timers_clock() {
        let t = timer();
        // A realtime clock 1000 s ahead of the monotonic one: 1000.5 s realtime is 0.5 s.
        t.set_at(TimerSpec { interval_ns: 0, value_ns: 1_000_500 * MS }, true, 100 * MS, 1_000_000 * MS);
        assert_eq!(read(&t, 499 * MS), Err(MUST_WAIT));
        assert_eq!(read(&t, 500 * MS), Ok(1));
        // A time already past expires at once.
        t.set_at(TimerSpec { interval_ns: 0, value_ns: 1 }, true, 600 * MS, 0);
        assert_eq!(read(&t, 600 * MS), Ok(1));
    }

    #[test]
    fn reads_need_eight_bytes_and_expirations_change_the_input_count() {
        let t = timer();
        t.set_at(TimerSpec { interval_ns: 0, value_ns: MS }, false, 0, 0);
        assert_eq!(t.read_at(&mut [0u8; 7], 2 * MS), Err(Errno::EINVAL));
        let before = t.state.lock().changes.input;
        t.state.lock().catch_up(2 * MS);
        assert_ne!(t.state.lock().changes.input, before, "the expiration counted for epoll");
        t.state.lock().catch_up(2 * MS);
        let after = t.state.lock().changes.input;
        t.state.lock().catch_up(3 * MS);
        assert_eq!(t.state.lock().changes.input, after, "nothing new: no change");
        assert_eq!(read(&t, 2 * MS), Ok(1));
    }

    #[test]
    fn an_expired_timer_nobody_reads_does_not_end_every_park() {
        let (once, every) = (timer(), timer());
        once.set_at(TimerSpec { interval_ns: 0, value_ns: 10 * MS }, false, 0, 0);
        every.set_at(TimerSpec { interval_ns: 100 * MS, value_ns: 100 * MS }, false, 0, 0);
        let mut armed = alloc::vec![Arc::downgrade(&once), Arc::downgrade(&every)];
        assert_eq!(earliest_deadline(&mut armed, 5 * MS), Some(10 * MS));
        // Past both first deadlines: the one-shot timer is done, the periodic one is ahead.
        assert_eq!(earliest_deadline(&mut armed, 150 * MS), Some(200 * MS));
        assert_eq!(armed.len(), 1, "the expired one-shot timer left the list");
        assert_eq!(read(&once, 150 * MS), Ok(1), "its expiration is still there to read");
        drop(every);
        assert_eq!(earliest_deadline(&mut armed, 150 * MS), None, "a closed timer leaves too");
    }

    #[test]
    fn itimerspecs_round_trip_and_bad_ones_are_refused() {
        let spec = TimerSpec { interval_ns: 1_500 * MS, value_ns: 3 };
        assert_eq!(TimerSpec::decode(&spec.encode()), Ok(spec));
        let mut bad = spec.encode();
        bad[8..16].copy_from_slice(&(NS_PER_SEC as i64).to_ne_bytes());
        assert_eq!(TimerSpec::decode(&bad), Err(Errno::EINVAL));
        let mut negative = spec.encode();
        negative[16..24].copy_from_slice(&(-1i64).to_ne_bytes());
        assert_eq!(TimerSpec::decode(&negative), Err(Errno::EINVAL));
        assert!(TimerFd::new(2, Timespec::default()).is_err(), "CLOCK_PROCESS_CPUTIME_ID");
    }
}
