//! Time syscalls: clock_gettime, clock_getres, gettimeofday, time. All from the TSC, without
//! leaving the VM. Setting the time (settimeofday, clock_settime) is EPERM after Linux's
//! argument checks: the VM's clock is the host's, as a container's is (Docker does not grant
//! CAP_SYSTEM_TIME; here no capability would let the app move the host's clock).

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
const CLOCK_MONOTONIC_RAW: u64 = 4;
const CLOCK_REALTIME_COARSE: u64 = 5;
const CLOCK_MONOTONIC_COARSE: u64 = 6;
const CLOCK_BOOTTIME: u64 = 7;
const CLOCK_REALTIME_ALARM: u64 = 8;
const CLOCK_BOOTTIME_ALARM: u64 = 9;
const CLOCK_TAI: u64 = 11;

/// Nanoseconds on clock `id` now.
pub fn clock_ns(p: &Process, id: u64) -> Result<u64, Errno> {
    let tsc = crate::time::rdtsc();
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_REALTIME_ALARM | CLOCK_TAI => Ok(p.clock.realtime_ns(tsc)),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => {
            Ok(p.clock.monotonic_ns(tsc))
        }
        // Run time less waits (`crate::cputime`).
        CLOCK_PROCESS_CPUTIME_ID => Ok(p.cpu_ns(p.clock.monotonic_ns(tsc))),
        CLOCK_THREAD_CPUTIME_ID => Ok(p.thread.cpu_ns(p.clock.monotonic_ns(tsc))),
        _ => Err(Errno::EINVAL),
    }
}

fn timespec(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    b
}

/// clock_gettime(clockid, tp).
pub fn sys_clock_gettime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let ns = clock_ns(p, f.rdi)?;
    user::copy_out(&mut p.space, f.rsi, &timespec(ns))?;
    Ok(0)
}

/// clock_getres(clockid, res): 1 ns for every clock.
pub fn sys_clock_getres(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    clock_ns(p, f.rdi)?;
    if f.rsi != 0 {
        user::copy_out(&mut p.space, f.rsi, &timespec(1))?;
    }
    Ok(0)
}

/// gettimeofday(tv, tz): the time zone is always UTC.
pub fn sys_gettimeofday(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let ns = clock_ns(p, CLOCK_REALTIME)?;
    if f.rdi != 0 {
        let mut tv = [0u8; 16];
        tv[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        tv[8..].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        user::copy_out(&mut p.space, f.rdi, &tv)?;
    }
    if f.rsi != 0 {
        user::copy_out(&mut p.space, f.rsi, &[0u8; 8])?;
    }
    Ok(0)
}

/// settimeofday(tv, tz): `EFAULT`/`EINVAL` for a bad time value, else `EPERM` (see the
/// module docs). A null `tv` with a time zone only is `EPERM` too (Linux checks the
/// capability first there as well).
pub fn sys_settimeofday(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    if f.rdi != 0 {
        let raw = user::read(&mut p.space, f.rdi, 16)?;
        let usec = i64::from_le_bytes(raw[8..16].try_into().map_err(|_| Errno::EFAULT)?);
        if !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
    }
    if f.rsi != 0 {
        user::read(&mut p.space, f.rsi, 8)?;
    }
    Err(Errno::EPERM)
}

/// clock_settime(clockid, tp): only `CLOCK_REALTIME` can be set on Linux (`EINVAL` for the
/// others and for a bad time), and not here (`EPERM`: see the module docs).
pub fn sys_clock_settime(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    read_timespec(p, f.rsi)?;
    clock_ns(p, f.rdi)?;
    if f.rdi != CLOCK_REALTIME {
        return Err(Errno::EINVAL);
    }
    Err(Errno::EPERM)
}

/// time(tloc).
pub fn sys_time(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let secs = clock_ns(p, CLOCK_REALTIME)? / 1_000_000_000;
    if f.rdi != 0 {
        user::write_u64(&mut p.space, f.rdi, secs)?;
    }
    Ok(secs as usize)
}

const TIMER_ABSTIME: u64 = 1;

/// Reads a `struct timespec` from the app: nanoseconds, EINVAL if out of range.
pub fn read_timespec(p: &mut Process, addr: u64) -> Result<u64, Errno> {
    let raw = user::read(&mut p.space, addr, 16)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(&raw[..8]);
    let sec = i64::from_le_bytes(w);
    w.copy_from_slice(&raw[8..]);
    let nsec = i64::from_le_bytes(w);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64))
}

/// Waits this short spin on the clock instead of parking the vCPU: a park is an exit to the
/// VMM and a host timer, which costs more CPU than the wait (~80 us of CPU a park on the
/// nested PVM host, ~18 us on an unnested one) and wakes later (~100 us here). Go's runtime
/// sleeps 20 us at a time while it starts (sysmon); a loop polling with such sleeps spins.
const SPIN_SLEEP_NS: u64 = 25_000;

/// Waits until clock `id` reads `deadline_ns`, parking the vCPU in the VMM, or, for the last
/// [`SPIN_SLEEP_NS`], spinning on the TSC with the process unlocked. EINTR when a signal the
/// thread does not block comes first (another thread sent it).
pub fn sleep_until(p: &mut Process, id: u64, deadline_ns: u64) -> Result<(), Errno> {
    loop {
        let now = clock_ns(p, id)?;
        if now >= deadline_ns {
            return Ok(());
        }
        if crate::wait::signal_pending(p) {
            return Err(Errno::EINTR);
        }
        let left = deadline_ns - now;
        if left <= SPIN_SLEEP_NS {
            let clock = p.clock;
            let until = clock.monotonic_ns(crate::time::rdtsc()).saturating_add(left);
            p.unlocked(|| {
                while clock.monotonic_ns(crate::time::rdtsc()) < until {
                    core::hint::spin_loop();
                }
            });
        } else {
            p.park(left.min(super::itimer::park_limit(p)));
        }
    }
}

/// nanosleep(req, rem): on EINTR the time left goes to `rem` (when given).
pub fn sys_nanosleep(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [req, rem, ..] = f.syscall_args();
    let ns = read_timespec(p, req)?;
    let deadline = clock_ns(p, CLOCK_MONOTONIC)?.saturating_add(ns);
    interrupted_sleep(p, CLOCK_MONOTONIC, deadline, rem)
}

/// Sleeps until `deadline` on clock `id`; on EINTR writes the time left to `rem` (if nonzero).
fn interrupted_sleep(p: &mut Process, id: u64, deadline: u64, rem: u64) -> SysResult {
    match sleep_until(p, id, deadline) {
        Err(Errno::EINTR) => {
            if rem != 0 {
                let left = deadline.saturating_sub(clock_ns(p, id)?);
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
                b[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
                crate::user::copy_out(&mut p.space, rem, &b)?;
            }
            Err(Errno::EINTR)
        }
        other => other.map(|()| 0),
    }
}

/// clock_nanosleep(clockid, flags, req, rem).
pub fn sys_clock_nanosleep(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [id, flags, req, rem, ..] = f.syscall_args();
    if id == CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let ns = read_timespec(p, req)?;
    let absolute = flags & TIMER_ABSTIME != 0;
    let deadline = if absolute { ns } else { clock_ns(p, id)?.saturating_add(ns) };
    // An absolute sleep has no time left to report.
    interrupted_sleep(p, id, deadline, if absolute { 0 } else { rem })
}

/// Sleeps `ns` nanoseconds of the monotonic clock, parking the vCPU; EINTR when a signal
/// comes first.
pub fn sleep_for(p: &mut Process, ns: u64) -> Result<(), Errno> {
    let now = clock_ns(p, CLOCK_MONOTONIC)?;
    sleep_until(p, CLOCK_MONOTONIC, now.saturating_add(ns))
}

/// Waits until a signal the thread does not block is pending (EINTR): for waits nothing else
/// can end (sigsuspend, pause, a blocking read of a pipe only this app writes). With one
/// thread no signal can come and the wait lasts until the VMM stops the VM (`--timeout`,
/// Ctrl-C), as Linux would block.
pub fn wait_for_signal(p: &mut Process) -> Errno {
    match crate::wait::wait_until(p, None, |_| false) {
        Err(e) => e,
        Ok(()) => Errno::EINTR,
    }
}
