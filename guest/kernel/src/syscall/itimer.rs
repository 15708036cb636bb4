//! The process's real-time interval timer (ITIMER_REAL): alarm(2), setitimer(2) and
//! getitimer(2). When it expires the process gets SIGALRM, then again every interval.
//!
//! The deadline is on the monotonic clock. The VMM's alarm (the Alarm hypercall) interrupts
//! the vCPU of a thread of the app at that time, which matters when every thread spins in
//! app code: nothing else would enter the kernel. Besides, the kernel looks at the deadline
//! on each way back to the app (`signal::deliver_to_app`) and in every wait, whose parks end
//! by the deadline at the latest; the VMM's interrupt, which may come a little early (the
//! host's clock is not the guest's TSC clock), re-arms the alarm for what is left.
//! ITIMER_VIRTUAL and ITIMER_PROF (CPU-time timers) are EINVAL: uvm runs no timer on CPU
//! time. The VMM's one alarm serves the POSIX timers too (`syscall::posix_timer`): it is
//! armed for the earliest deadline of them all ([`arm_alarm`]).
//!
//! The timer survives execve, as on Linux; a thread that ends hands the alarm's vCPU to
//! another thread.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::signal::{SigInfo, Signal};
use crate::user;
use crate::wait::now_ns;

const ITIMER_REAL: u64 = 0;
const NS_PER_US: u64 = 1_000;
const NS_PER_S: u64 = 1_000_000_000;

/// An armed ITIMER_REAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealTimer {
    /// When it expires, on the monotonic clock (ns).
    pub deadline_ns: u64,
    /// Its period after that (0: once).
    pub interval_ns: u64,
    /// The vCPU the VMM's alarm interrupts.
    pub cpu: u32,
}

/// The next deadline of a periodic timer that expired at `deadline`, past `now` (missed
/// periods are skipped: their signals would merge into one pending SIGALRM anyway).
pub fn next_deadline(deadline: u64, interval: u64, now: u64) -> u64 {
    if interval == 0 {
        return deadline;
    }
    let missed = now.saturating_sub(deadline) / interval + 1;
    deadline.saturating_add(missed.saturating_mul(interval))
}

/// `(seconds, microseconds)` of `ns`, rounded up to a microsecond so a live timer never reads
/// as zero.
pub fn timeval_of(ns: u64) -> (u64, u64) {
    let us = ns.div_ceil(NS_PER_US);
    (us / 1_000_000, us % 1_000_000)
}

/// alarm(2)'s answer: the seconds left of the old alarm, rounded to the nearest, and at least
/// 1 while any time is left (as Linux).
pub fn alarm_seconds(left_ns: u64) -> u64 {
    if left_ns == 0 {
        return 0;
    }
    let (sec, usec) = timeval_of(left_ns);
    if sec == 0 || usec >= 500_000 {
        sec + 1
    } else {
        sec
    }
}

/// What is left of the armed timer (0 when none).
fn left_ns(p: &Process) -> u64 {
    p.real_timer.map_or(0, |t| t.deadline_ns.saturating_sub(now_ns(p)).max(1))
}

/// Sets the timer (`None`: disarms it) and has the VMM's alarm follow it.
fn set(p: &mut Process, timer: Option<RealTimer>) {
    p.real_timer = timer;
    arm_alarm(p);
}

/// Whether the process has a timer the kernel must look at (ITIMER_REAL or a POSIX timer):
/// the one check of every way back to the app and every wait.
#[inline(always)]
pub fn any(p: &Process) -> bool {
    p.real_timer.is_some() || !p.posix_timers.is_empty()
}

/// The earliest deadline of the process's timers and the vCPU the alarm interrupts for it.
fn earliest(p: &Process) -> Option<(u64, u32)> {
    let real = p.real_timer.map(|t| (t.deadline_ns, t.cpu));
    match (real, p.posix_timers.earliest()) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Arms the VMM's alarm for the earliest of the process's timers (ITIMER_REAL and the POSIX
/// timers, `syscall::posix_timer`), or cancels it.
pub fn arm_alarm(p: &Process) {
    let (left, cpu) = earliest(p).map_or((0, 0), |(deadline, cpu)| (deadline.saturating_sub(now_ns(p)).max(1), cpu));
    // `left` is at least 1 for an armed timer; 0 cancels the alarm.
    crate::hypercall::alarm(left, cpu);
}

/// Queues SIGALRM if ITIMER_REAL has expired, and sets its next period or disarms it; signals
/// the POSIX timers that expired. Called on the way back to the app and in waits (cheap when
/// no timer is armed: the caller checks [`any`]).
#[inline(never)]
pub fn fire_if_due(p: &mut Process) {
    let now = now_ns(p);
    let mut fired = false;
    if let Some(t) = p.real_timer.filter(|t| now >= t.deadline_ns) {
        fired = true;
        super::signal::send_to_process(p, SigInfo::from_kernel(Signal::SIGALRM as u32));
        p.real_timer = (t.interval_ns > 0)
            .then(|| RealTimer { deadline_ns: next_deadline(t.deadline_ns, t.interval_ns, now), ..t });
    }
    if !p.posix_timers.is_empty() {
        fired |= super::posix_timer::fire_due(p, now);
    }
    if fired {
        // A periodic timer arms the alarm for its next period as it fires.
        arm_alarm(p);
    }
}

/// The VMM interrupted this vCPU: the timers that are due fire; if the interrupt came early
/// (the host's clock runs a little apart from the guest's), the alarm is armed for the rest.
pub fn on_interrupt(p: &mut Process) {
    let Some((deadline, cpu)) = earliest(p) else { return };
    if now_ns(p) >= deadline {
        fire_if_due(p);
    } else if cpu == p.thread.cpu {
        // Early, or an interrupt for a signal: the alarm is armed again for what is left.
        arm_alarm(p);
    }
}

/// How long a wait may park before it must look at the timers (`u64::MAX` when none is
/// armed).
pub fn park_limit(p: &Process) -> u64 {
    if !any(p) {
        return u64::MAX;
    }
    earliest(p).map_or(u64::MAX, |(deadline, _)| deadline.saturating_sub(now_ns(p)).max(1))
}

/// The thread of vCPU `cpu` ended: the alarm interrupts the current thread's vCPU instead.
pub fn thread_ended(p: &mut Process, cpu: u32) {
    if !any(p) {
        return;
    }
    let to = p.thread.cpu;
    if let Some(t) = p.real_timer.filter(|t| t.cpu == cpu) {
        p.real_timer = Some(RealTimer { cpu: to, ..t });
    }
    p.posix_timers.move_cpu(cpu, to);
    arm_alarm(p);
}

/// Reads a `struct itimerval`: (interval, value) in ns; EINVAL for negative or out-of-range
/// fields.
fn read_itimerval(p: &mut Process, addr: u64) -> Result<(u64, u64), Errno> {
    let raw = user::read(&mut p.space, addr, 32)?;
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        i64::from_le_bytes(w)
    };
    let ns = |sec: i64, usec: i64| {
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        Ok((sec as u64).saturating_mul(NS_PER_S).saturating_add(usec as u64 * NS_PER_US))
    };
    Ok((ns(word(0), word(1))?, ns(word(2), word(3))?))
}

/// Writes the timer as a `struct itimerval` (zeros when disarmed).
fn write_itimerval(p: &mut Process, addr: u64) -> Result<(), Errno> {
    let (interval, value) = (p.real_timer.map_or(0, |t| t.interval_ns), left_ns(p));
    let mut b = [0u8; 32];
    for (i, ns) in [interval, value].into_iter().enumerate() {
        let (sec, usec) = timeval_of(ns);
        b[i * 16..i * 16 + 8].copy_from_slice(&sec.to_le_bytes());
        b[i * 16 + 8..i * 16 + 16].copy_from_slice(&usec.to_le_bytes());
    }
    user::copy_out(&mut p.space, addr, &b)
}

/// alarm(seconds): SIGALRM after `seconds` (0 cancels); the seconds left of the old alarm.
pub fn sys_alarm(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let seconds = f.rdi as u32 as u64;
    let old = alarm_seconds(left_ns(p));
    let timer = (seconds > 0).then(|| RealTimer {
        deadline_ns: now_ns(p).saturating_add(seconds * NS_PER_S),
        interval_ns: 0,
        cpu: p.thread.cpu,
    });
    set(p, timer);
    Ok(old as usize)
}

/// setitimer(which, new, old): ITIMER_REAL only (EINVAL for the CPU-time timers). A null
/// `new` disarms, as Linux allows.
pub fn sys_setitimer(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [which, new, old, ..] = f.syscall_args();
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if new == 0 { (0, 0) } else { read_itimerval(p, new)? };
    if old != 0 {
        write_itimerval(p, old)?;
    }
    let timer = (value > 0).then(|| RealTimer {
        deadline_ns: now_ns(p).saturating_add(value),
        interval_ns: interval,
        cpu: p.thread.cpu,
    });
    set(p, timer);
    Ok(0)
}

/// getitimer(which, curr): ITIMER_REAL only (EINVAL for the CPU-time timers).
pub fn sys_getitimer(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [which, curr, ..] = f.syscall_args();
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    write_itimerval(p, curr)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_periodic_timer_skips_the_periods_it_missed() {
        assert_eq!(next_deadline(1000, 100, 1000), 1100);
        assert_eq!(next_deadline(1000, 100, 1050), 1100);
        assert_eq!(next_deadline(1000, 100, 1350), 1400);
        assert_eq!(next_deadline(1000, 0, 5000), 1000, "a one-shot timer has no next period");
    }

    #[test]
    fn alarm_rounds_what_is_left_as_linux() {
        assert_eq!(alarm_seconds(0), 0);
        assert_eq!(alarm_seconds(1), 1, "any time left is at least a second");
        assert_eq!(alarm_seconds(2_400_000_000), 2);
        assert_eq!(alarm_seconds(2_500_000_000), 3);
        assert_eq!(timeval_of(1_500), (0, 2), "rounded up to a microsecond");
        assert_eq!(timeval_of(3 * NS_PER_S + 250_000_000), (3, 250_000));
    }
}
