//! The small process calls C programs and busybox make: process groups and sessions,
//! sysinfo, times, getrusage and getcpu (the ids are `syscall::creds`'s; nice values, I/O
//! priorities and scheduling policies `syscall::priority`'s).
//!
//! The app is pid 1: it leads its own process group and session (as a container's init
//! does); its children start in its group and may make their own (setpgid, setsid). Its CPU
//! time is as `crate::cputime` counts it (user time; no system time, no children's).

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::proc::CLOCK_TICKS;
use crate::process::Process;
use crate::user;

/// The process `pid` names (0: the caller): its process group and session, or ESRCH.
fn group_and_session(p: &mut Process, pid: u64) -> Result<(u32, u32), Errno> {
    let pid = pid as i32;
    if pid == 0 || pid == p.pid as i32 {
        return Ok((p.pgid, p.sid));
    }
    let other = u32::try_from(pid).ok().and_then(|pid| p.other(pid)).ok_or(Errno::ESRCH)?;
    Ok((other.pgid, other.sid))
}

/// Whether `pid` (0 = the caller) names a process of the VM.
/// The app's run time in nanoseconds (its CPU time: it is the VM's only process).
fn run_time_ns(p: &Process) -> u64 {
    p.clock.monotonic_ns(crate::time::rdtsc())
}

/// getpgrp().
pub fn sys_getpgrp(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.pgid as usize)
}

/// getpgid(pid): ESRCH for no such process.
pub fn sys_getpgid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    Ok(group_and_session(p, f.rdi)?.0 as usize)
}

/// getsid(pid): ESRCH for no such process.
pub fn sys_getsid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    Ok(group_and_session(p, f.rdi)?.1 as usize)
}

/// setpgid(pid, pgid), as Linux checks it: EINVAL for a negative pgid; ESRCH unless `pid`
/// is the caller or its child; EPERM to move a session leader, or into a group of another
/// session or no group at all (other than the process's own new one).
pub fn sys_setpgid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (pid, pgid) = (f.rdi as i32, f.rsi as i32);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let target = if pid == 0 { p.pid } else { pid as u32 };
    let pgid = if pgid == 0 { target } else { pgid as u32 };
    let caller = p.pid;
    let session = p.sid;
    let group_in_session = |q: &Process| q.pgid == pgid && q.sid == session;
    let group_exists = group_in_session(p) || p.shared.processes.iter().any(group_in_session);
    let process =
        if target == caller { &mut *p } else { p.other(target).filter(|q| q.ppid == caller).ok_or(Errno::ESRCH)? };
    if process.sid == process.pid || process.sid != session {
        return Err(Errno::EPERM);
    }
    if pgid != target && !group_exists {
        return Err(Errno::EPERM);
    }
    process.pgid = pgid;
    Ok(0)
}

/// setsid(): the caller leads a new session and group; EPERM for a group leader.
pub fn sys_setsid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    let pid = p.pid;
    let leads_a_group = p.pgid == pid || p.shared.processes.iter().any(|q| q.pgid == pid);
    if leads_a_group {
        return Err(Errno::EPERM);
    }
    p.pgid = pid;
    p.sid = pid;
    Ok(pid as usize)
}

/// getcpu(cpu, node, cache): CPU 0 of node 0 (either pointer may be NULL).
pub fn sys_getcpu(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    for addr in [f.rdi, f.rsi] {
        if addr != 0 {
            user::write_u32(&mut p.space, addr, 0)?;
        }
    }
    Ok(0)
}

/// Size of Linux x86-64 `struct sysinfo`.
const SYSINFO_SIZE: usize = 112;

/// sysinfo(info): uptime, memory (the VM's RAM and what is free), one process, no swap,
/// load 0.
pub fn sys_sysinfo(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    const PAGE: u64 = uvm_abi::layout::PAGE_SIZE;
    let uptime = run_time_ns(p) / 1_000_000_000;
    let free = p.space.frames_available() * PAGE;
    let total = free + p.space.frames_in_use() * PAGE;
    let mut out = [0u8; SYSINFO_SIZE];
    let mut put = |at: usize, value: u64| out[at..at + 8].copy_from_slice(&value.to_le_bytes());
    put(0, uptime);
    // loads[3] at 8, 16, 24: 0.
    put(32, total); // totalram
    put(40, free); // freeram
                   // sharedram, bufferram, totalswap, freeswap: 0.
    out[80..82].copy_from_slice(&1u16.to_le_bytes()); // procs
                                                      // totalhigh, freehigh (at 88, 96): 0.
    out[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    user::copy_out(&mut p.space, f.rdi, &out)?;
    Ok(0)
}

/// The process's CPU time now (`crate::cputime`).
fn process_cpu_ns(p: &Process) -> u64 {
    p.cpu_ns(run_time_ns(p))
}

/// times(buf): the process's CPU time, and its waited-for children's, as user time, in clock
/// ticks; returns ticks since boot.
pub fn sys_times(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let tick_ns = 1_000_000_000 / CLOCK_TICKS;
    if f.rdi != 0 {
        let mut out = [0u8; 32];
        out[..8].copy_from_slice(&(process_cpu_ns(p) / tick_ns).to_le_bytes());
        out[16..24].copy_from_slice(&(p.view.cpu.children_ns() / tick_ns).to_le_bytes());
        user::copy_out(&mut p.space, f.rdi, &out)?;
    }
    Ok((run_time_ns(p) / tick_ns) as usize)
}

/// getrusage(who, usage): RUSAGE_SELF and RUSAGE_THREAD report the process's or the thread's
/// CPU time as user time, the largest resident set and the pages filled on first touch (minor
/// faults); RUSAGE_CHILDREN the CPU time of the children waited for. EINVAL for another `who`.
pub fn sys_getrusage(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let mut out = [0u8; 144];
    match f.rdi as i32 {
        who @ (RUSAGE_SELF | RUSAGE_THREAD) => {
            let ns = if who == RUSAGE_SELF { process_cpu_ns(p) } else { p.thread.cpu_ns(run_time_ns(p)) };
            out[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
            out[8..16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
            let share = p.space.memory_share();
            let max_rss_kb = share.peak_resident_pages() * (uvm_abi::layout::PAGE_SIZE / 1024);
            out[32..40].copy_from_slice(&max_rss_kb.to_le_bytes());
            out[64..72].copy_from_slice(&share.minor_faults().to_le_bytes());
        }
        RUSAGE_CHILDREN => {
            let ns = p.view.cpu.children_ns();
            out[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
            out[8..16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        }
        _ => return Err(Errno::EINVAL),
    }
    user::copy_out(&mut p.space, f.rsi, &out)?;
    Ok(0)
}

/// syslog's actions (`klogctl`).
const SYSLOG_ACTION_READ: u64 = 2;
const SYSLOG_ACTION_SIZE_BUFFER: u64 = 10;

/// syslog(type, buf, len), the kernel log (`dmesg`): the guest kernel logs nothing for the
/// app, so its log is empty and has no buffer (size 0). Reads return 0 bytes (`EINVAL` for a
/// negative length, `EFAULT` for a bad buffer), except `SYSLOG_ACTION_READ`, which waits for
/// a message as on Linux: until a signal (`EINTR`). Clearing, the console's switches and
/// level (1-8, else `EINVAL`) change nothing there is; other actions `EINVAL`.
pub fn sys_syslog(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [action, buf, len, ..] = f.syscall_args();
    let (action, len) = (action as i32 as u64, len as i32);
    match action {
        // Close and open the log: no-ops on Linux too.
        0 | 1 => Ok(0),
        SYSLOG_ACTION_READ | 3 | 4 => {
            if len < 0 {
                return Err(Errno::EINVAL);
            }
            if len > 0 {
                user::write(&mut p.space, buf, len as u64)?;
            }
            if action == SYSLOG_ACTION_READ && len > 0 {
                loop {
                    crate::wait::wait_for_io(p, None)?;
                }
            }
            Ok(0)
        }
        // Clear, console off and on: nothing to change.
        5..=7 => Ok(0),
        8 if (1..=8).contains(&len) => Ok(0),
        8 => Err(Errno::EINVAL),
        // Unread bytes, and the buffer's size: none.
        9 | SYSLOG_ACTION_SIZE_BUFFER => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
