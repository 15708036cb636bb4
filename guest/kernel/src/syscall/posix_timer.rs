//! POSIX per-process timers: timer_create, timer_settime, timer_gettime, timer_getoverrun and
//! timer_delete. A timer signals the process (SIGEV_SIGNAL), one of its threads
//! (SIGEV_THREAD_ID, what glibc and musl build SIGEV_THREAD on: a helper thread that waits for
//! the signal and runs the function), or nobody (SIGEV_NONE), with si_code SI_TIMER, the
//! timer's id, its overrun and the sigevent's value.
//!
//! Deadlines are on the monotonic clock (the VM's realtime clock is it plus a fixed offset,
//! so an absolute `CLOCK_REALTIME` time converts once, when set), and they reach the app as
//! ITIMER_REAL's do (`syscall::itimer`): the VMM's one alarm is armed for the earliest of all
//! the process's timers and interrupts the vCPU even while every thread spins in app code;
//! besides, each way back to the app and each wait looks at the deadlines. The CPU-time clocks
//! are not timer clocks here (`EINVAL`).
//!
//! A signal still pending when its timer expires again is not queued twice: the expiration
//! counts as an overrun, which `timer_getoverrun` (and the next signal's si_overrun) reports.
//! Timers are not inherited by fork and end at execve, as on Linux.

use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::timerfd::TimerSpec;
use crate::process::Process;
use crate::signal::{bit, si, SigFields, SigInfo, Signal, NSIG};
use crate::user;
use crate::wait::now_ns;

/// `sigev_notify`: a signal to the process.
const SIGEV_SIGNAL: i32 = 0;
/// ... no notification.
const SIGEV_NONE: i32 = 1;
/// ... a signal to one thread (with SIGEV_SIGNAL's bits).
const SIGEV_THREAD_ID: i32 = 4;
/// timer_settime: the time is absolute, on the timer's clock.
const TIMER_ABSTIME: u64 = 1;
/// Bytes of a `struct sigevent`.
const SIGEVENT_SIZE: u64 = 64;
/// Bytes of a `struct itimerspec`.
const ITIMERSPEC_SIZE: u64 = 32;
/// The most timers a process holds (Linux's bound is the pending-signal limit).
const MAX_TIMERS: usize = 1024;
/// The clocks a timer may run on: realtime, monotonic, boottime, their alarm forms, TAI.
const TIMER_CLOCKS: [u64; 6] = [0, 1, 7, 8, 9, 11];
const REALTIME_CLOCKS: [u64; 3] = [0, 8, 11];

/// Whom a timer's expiry tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notify {
    Nobody,
    Process { signo: u32 },
    Thread { signo: u32, tid: u32 },
}

/// One timer.
#[derive(Clone, Debug)]
struct PosixTimer {
    id: i32,
    realtime: bool,
    notify: Notify,
    /// The sigevent's value (si_value).
    value: u64,
    /// The next expiry on the monotonic clock; `None`: disarmed.
    deadline_ns: Option<u64>,
    interval_ns: u64,
    /// Expirations not signalled since the last signal was queued.
    overrun: i32,
    /// The vCPU the VMM's alarm interrupts for it.
    cpu: u32,
}

/// A process's timers.
#[derive(Clone, Debug, Default)]
pub struct PosixTimers {
    timers: Vec<PosixTimer>,
}

impl PosixTimers {
    /// Whether the process has no timer (the fast check of every way back to the app).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// The earliest armed deadline and the vCPU to interrupt for it.
    pub fn earliest(&self) -> Option<(u64, u32)> {
        self.timers.iter().filter_map(|t| t.deadline_ns.map(|d| (d, t.cpu))).min_by_key(|&(d, _)| d)
    }

    /// Timers whose alarm vCPU was `cpu` (its thread ended) now use `to`.
    pub fn move_cpu(&mut self, cpu: u32, to: u32) {
        for t in self.timers.iter_mut().filter(|t| t.cpu == cpu) {
            t.cpu = to;
        }
    }

    fn get_mut(&mut self, id: u64) -> Result<&mut PosixTimer, Errno> {
        // The kernel's timer_t is an int: the argument's low 32 bits.
        self.timers.iter_mut().find(|t| t.id == id as i32).ok_or(Errno::EINVAL)
    }
}

/// Signals the timers that expired by now and moves their deadlines on (or disarms them).
/// Returns whether any expired.
pub fn fire_due(p: &mut Process, now: u64) -> bool {
    let mut fired = false;
    for index in 0..p.posix_timers.timers.len() {
        let t = &mut p.posix_timers.timers[index];
        let Some(deadline) = t.deadline_ns.filter(|&d| d <= now) else { continue };
        fired = true;
        let passed = (now - deadline).checked_div(t.interval_ns).map_or(1, |n| n + 1);
        t.deadline_ns =
            if t.interval_ns == 0 { None } else { deadline.checked_add(passed.saturating_mul(t.interval_ns)) };
        let (notify, id, value) = (t.notify, t.id, t.value);
        let extra = i32::try_from(passed - 1).unwrap_or(i32::MAX);
        let signo = match notify {
            Notify::Nobody => continue,
            Notify::Process { signo } | Notify::Thread { signo, .. } => signo,
        };
        if signal_still_pending(p, notify, signo) {
            let t = &mut p.posix_timers.timers[index];
            t.overrun = t.overrun.saturating_add(extra).saturating_add(1);
            continue;
        }
        let overrun = extra;
        p.posix_timers.timers[index].overrun = overrun;
        let info =
            SigInfo { signo, errno: 0, code: si::TIMER, fields: SigFields::Timer { id, overrun, value }, origin: None };
        if let Notify::Thread { tid, .. } = notify {
            // A thread that has ended gets nothing (as on Linux, the timer stays): ESRCH ignored.
            let _ = super::signal::send_to_thread_of_process(p, tid, info);
        } else {
            super::signal::send_to_process(p, info);
        }
    }
    fired
}

/// Whether a standard signal `signo` a timer would send is still pending where it would go.
fn signal_still_pending(p: &mut Process, notify: Notify, signo: u32) -> bool {
    if signo >= crate::signal::SIGRTMIN {
        return false;
    }
    let b = bit(signo);
    match notify {
        Notify::Process { .. } => p.signals.pending.mask() & b != 0,
        Notify::Thread { tid, .. } if tid == p.thread.tid => p.thread.signals.pending.mask() & b != 0,
        Notify::Thread { tid, .. } => p.threads.get_mut(tid).is_some_and(|t| t.signals.pending.mask() & b != 0),
        Notify::Nobody => false,
    }
}

/// Reads the sigevent at `addr` (NULL: SIGALRM to the process with the timer's id as value).
fn read_sigevent(p: &mut Process, addr: u64, id: i32) -> Result<(Notify, u64), Errno> {
    if addr == 0 {
        return Ok((Notify::Process { signo: Signal::SIGALRM as u32 }, id as u32 as u64));
    }
    let raw = user::read(&mut p.space, addr, SIGEVENT_SIZE)?;
    let word = |at: usize| i32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let value = crate::signal::le_u64(&raw[0..8]);
    let (signo, notify, tid) = (word(8), word(12), word(16));
    let signal = || if (1..=NSIG as i32).contains(&signo) { Ok(signo as u32) } else { Err(Errno::EINVAL) };
    let notify = match notify {
        SIGEV_NONE => Notify::Nobody,
        SIGEV_SIGNAL => Notify::Process { signo: signal()? },
        SIGEV_THREAD_ID => {
            let tid = tid as u32;
            let ours = p.thread.tid == tid || p.threads.others.iter().any(|t| t.tid == tid);
            if !ours {
                return Err(Errno::EINVAL);
            }
            Notify::Thread { signo: signal()?, tid }
        }
        // SIGEV_THREAD is the C library's to build (Linux refuses it too).
        _ => return Err(Errno::EINVAL),
    };
    Ok((notify, value))
}

/// timer_create(clockid, sevp, timerid).
pub fn sys_timer_create(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [clock, sevp, timerid, ..] = f.syscall_args();
    if !TIMER_CLOCKS.contains(&clock) {
        return Err(Errno::EINVAL);
    }
    if p.posix_timers.timers.len() >= MAX_TIMERS {
        return Err(Errno::EAGAIN);
    }
    let id = (0..).find(|id| p.posix_timers.timers.iter().all(|t| t.id != *id)).unwrap_or(0);
    let (notify, value) = read_sigevent(p, sevp, id)?;
    user::copy_out(&mut p.space, timerid, &id.to_le_bytes())?;
    let timer = PosixTimer {
        id,
        realtime: REALTIME_CLOCKS.contains(&clock),
        notify,
        value,
        deadline_ns: None,
        interval_ns: 0,
        overrun: 0,
        cpu: p.thread.cpu,
    };
    p.posix_timers.timers.push(timer);
    Ok(0)
}

/// What is left of `t` at `now`, and its interval.
fn remaining(t: &PosixTimer, now: u64) -> TimerSpec {
    TimerSpec { interval_ns: t.interval_ns, value_ns: t.deadline_ns.map_or(0, |d| d.saturating_sub(now).max(1)) }
}

/// timer_settime(timerid, flags, new_value, old_value): TIMER_ABSTIME.
pub fn sys_timer_settime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [id, flags, new, old, ..] = f.syscall_args();
    p.posix_timers.get_mut(id)?;
    let bytes: [u8; 32] = user::read(&mut p.space, new, ITIMERSPEC_SIZE)?.try_into().map_err(|_| Errno::EFAULT)?;
    let spec = TimerSpec::decode(&bytes)?;
    let tsc = crate::time::rdtsc();
    let now = p.clock.monotonic_ns(tsc);
    let offset = p.clock.realtime_ns(tsc).saturating_sub(now);
    let cpu = p.thread.cpu;
    let t = p.posix_timers.get_mut(id)?;
    let before = remaining(t, now);
    t.interval_ns = spec.interval_ns;
    t.overrun = 0;
    t.cpu = cpu;
    t.deadline_ns = match (spec.value_ns, flags & TIMER_ABSTIME != 0) {
        (0, _) => None,
        (at, true) => Some(at.saturating_sub(if t.realtime { offset } else { 0 }).max(1)),
        (after, false) => Some(now.saturating_add(after)),
    };
    if old != 0 {
        user::copy_out(&mut p.space, old, &before.encode())?;
    }
    super::itimer::arm_alarm(p);
    Ok(0)
}

/// timer_gettime(timerid, curr_value).
pub fn sys_timer_gettime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [id, curr, ..] = f.syscall_args();
    super::itimer::fire_if_due(p);
    let now = now_ns(p);
    let spec = remaining(p.posix_timers.get_mut(id)?, now);
    user::copy_out(&mut p.space, curr, &spec.encode())?;
    Ok(0)
}

/// timer_getoverrun(timerid): the expirations the last signal stood for besides its own.
pub fn sys_timer_getoverrun(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    Ok(p.posix_timers.get_mut(f.rdi)?.overrun.max(0) as usize)
}

/// timer_delete(timerid).
pub fn sys_timer_delete(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let id = p.posix_timers.get_mut(f.rdi)?.id;
    p.posix_timers.timers.retain(|t| t.id != id);
    super::itimer::arm_alarm(p);
    Ok(0)
}

/// execve: the process's timers end.
pub fn end_all(p: &mut Process) {
    if !p.posix_timers.is_empty() {
        p.posix_timers = PosixTimers::default();
        super::itimer::arm_alarm(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(id: i32, deadline: Option<u64>, cpu: u32) -> PosixTimer {
        PosixTimer {
            id,
            realtime: false,
            notify: Notify::Nobody,
            value: 0,
            deadline_ns: deadline,
            interval_ns: 0,
            overrun: 0,
            cpu,
        }
    }

    #[test]
    fn the_earliest_armed_timer_sets_the_alarm() {
        let mut timers =
            PosixTimers { timers: alloc::vec![timer(0, None, 0), timer(1, Some(50), 2), timer(2, Some(30), 1)] };
        assert_eq!(timers.earliest(), Some((30, 1)));
        timers.move_cpu(1, 3);
        assert_eq!(timers.earliest(), Some((30, 3)), "its thread ended: another vCPU");
        assert_eq!(timers.get_mut(1).map(|t| t.id), Ok(1));
        assert_eq!(timers.get_mut(7).map(|t| t.id), Err(Errno::EINVAL));
        assert_eq!(timers.get_mut(u64::MAX).map(|t| t.id), Err(Errno::EINVAL), "-1 is no timer");
    }
}
