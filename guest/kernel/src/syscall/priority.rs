//! Priorities a process asks for: nice values (getpriority, setpriority), I/O priorities
//! (ioprio_get, ioprio_set: what `ionice` calls) and each thread's scheduling policy
//! (sched_setscheduler and its kin: what `chrt` calls). Both are recorded with Linux's checks,
//! inherited by fork, kept by execve and reported back, and neither is applied: the host
//! schedules every vCPU alike, and the VM's I/O is the VMM's host calls, which no priority
//! orders.
//!
//! Linux keeps both per thread; here they are per process, and a thread id names its process
//! (as a pid does).

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

const PRIO_PROCESS: u64 = 0;
const PRIO_PGRP: u64 = 1;
const PRIO_USER: u64 = 2;

/// ioprio's `which` values are `PRIO_*` + 1 (`IOPRIO_WHO_PROCESS` is 1).
const IOPRIO_WHO_OFFSET: u64 = 1;
/// An I/O priority: its class in bits 13..16, its data (a level in bits 0..3, hints above)
/// below.
const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_CLASS_NONE: u16 = 0;
const IOPRIO_CLASS_RT: u16 = 1;
const IOPRIO_CLASS_BE: u16 = 2;
const IOPRIO_CLASS_IDLE: u16 = 3;
/// The best-effort level a process without a class counts as, when priorities are compared.
const IOPRIO_BE_NORM: u16 = 4;
/// The capabilities that allow the real-time class.
const CAP_SYS_ADMIN: u64 = 1 << 21;
const CAP_SYS_NICE: u64 = 1 << 23;

/// Calls `each` with every process `which` and `who` name (`PRIO_PROCESS` and a pid or
/// thread id, `PRIO_PGRP` and a group, `PRIO_USER` and a uid; who 0: the caller's): `EINVAL`
/// for another `which`, `ESRCH` when none matches.
fn for_each_named(p: &mut Process, which: u64, who: u64, each: &mut dyn FnMut(&mut Process)) -> Result<(), Errno> {
    let who = who as u32;
    let (pid, pgid, uid) = (p.pid, p.pgid, p.real_uid());
    let named: &dyn Fn(&Process) -> bool = match which {
        PRIO_PROCESS => &|q| if who == 0 { q.pid == pid } else { q.pid == who || q.runs_thread(who) },
        PRIO_PGRP => &|q| q.pgid == if who == 0 { pgid } else { who },
        PRIO_USER => &|q| q.real_uid() == if who == 0 { uid } else { who },
        _ => return Err(Errno::EINVAL),
    };
    let mut found = false;
    if named(p) {
        each(p);
        found = true;
    }
    for other in p.shared.processes.iter_mut().filter(|q| named(q)) {
        each(other);
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

/// getpriority(which, who): the lowest nice value among the processes named, returned as
/// Linux's raw syscall does (20 - nice).
pub fn sys_getpriority(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let mut lowest = i32::MAX;
    for_each_named(p, f.rdi, f.rsi, &mut |q| lowest = lowest.min(q.nice))?;
    Ok((20 - lowest) as usize)
}

/// setpriority(which, who, prio): sets the nice value of the processes named, clamped to
/// -20..=19 as Linux does (the app acts as root, so it may lower it too). Recorded, not
/// applied (`Process::nice`).
pub fn sys_setpriority(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let nice = (f.rdx as i32).clamp(-20, 19);
    for_each_named(p, f.rdi, f.rsi, &mut |q| q.nice = nice)?;
    Ok(0)
}

/// The class of I/O priority `ioprio`.
fn ioprio_class(ioprio: u16) -> u16 {
    ioprio >> IOPRIO_CLASS_SHIFT
}

/// Linux's `ioprio_check_cap`: the classes none (level 0 only), real-time (with
/// CAP_SYS_NICE or CAP_SYS_ADMIN, else EPERM), best-effort and idle; levels are the low
/// three bits, and the hint bits above them are kept as given. The value as a process keeps
/// it (Linux's `unsigned short`: bits past 16 dropped).
fn checked_ioprio(ioprio: u64, effective_caps: u64) -> Result<u16, Errno> {
    let ioprio = ioprio as u32 as u16;
    let level = ioprio & 7;
    match ((ioprio as u32 >> IOPRIO_CLASS_SHIFT) & 7) as u16 {
        IOPRIO_CLASS_NONE if level != 0 => Err(Errno::EINVAL),
        IOPRIO_CLASS_RT if effective_caps & (CAP_SYS_NICE | CAP_SYS_ADMIN) == 0 => Err(Errno::EPERM),
        IOPRIO_CLASS_NONE | IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE => Ok(ioprio),
        _ => Err(Errno::EINVAL),
    }
}

/// Linux's `ioprio_best`: the higher of two I/O priorities (the lower value, a process
/// without a class counting as best-effort at the normal level).
fn ioprio_best(a: u16, b: u16) -> u16 {
    let norm = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | IOPRIO_BE_NORM;
    let valued = |ioprio: u16| if ioprio_class(ioprio) == IOPRIO_CLASS_NONE { norm } else { ioprio };
    valued(a).min(valued(b))
}

/// The I/O priority a forked child starts with: its parent's, when that has a class (Linux
/// copies only a valid one).
pub fn inherited_ioprio(parent: u16) -> u16 {
    if ioprio_class(parent) == IOPRIO_CLASS_NONE {
        0
    } else {
        parent
    }
}

/// ioprio_get(which, who): the I/O priority of the process named; of several (a group, a
/// user), the highest ([`ioprio_best`]). 0 (no class) until one is set.
pub fn sys_ioprio_get(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let mut best: Option<u16> = None;
    let which = f.rdi.wrapping_sub(IOPRIO_WHO_OFFSET);
    for_each_named(p, which, f.rsi, &mut |q| best = Some(best.map_or(q.ioprio, |b| ioprio_best(b, q.ioprio))))?;
    Ok(usize::from(best.unwrap_or(0)))
}

/// ioprio_set(which, who, ioprio): sets the I/O priority of the processes named, checked as
/// Linux checks it (the value first, then who). Recorded, not applied (see the module docs).
pub fn sys_ioprio_set(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let ioprio = checked_ioprio(f.rdx, p.view.capabilities().effective)?;
    let which = f.rdi.wrapping_sub(IOPRIO_WHO_OFFSET);
    for_each_named(p, which, f.rsi, &mut |q| q.ioprio = ioprio)?;
    Ok(0)
}

const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;
const SCHED_DEADLINE: u32 = 6;
/// `SCHED_RESET_ON_FORK`, or-ed into a policy.
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;
/// Linux's round-robin time slice (`sched_rr_timeslice_ms`), in nanoseconds.
const RR_TIMESLICE_NS: u64 = 100_000_000;

/// The thread a scheduling call names by `pid` (0: the caller; a process id names its first
/// thread, as on Linux): `EINVAL` for a negative one, `ESRCH` for none.
fn sched_thread(p: &mut Process, pid: u64) -> Result<&mut crate::thread::Thread, Errno> {
    if (pid as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    super::proc::thread_of(p, u64::from(pid as u32))
}

/// The `sched_param` at `param`: its priority (`EINVAL` for a null pointer).
fn sched_param(p: &mut Process, param: u64) -> Result<u32, Errno> {
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    user::read_u32(&mut p.space, param)
}

/// Checks `priority` against `policy` (1-99 for the real-time ones, 0 for the others;
/// `EINVAL`), and that the caller may use a real-time policy (`EPERM` without
/// `CAP_SYS_NICE`). `SCHED_DEADLINE` is sched_setattr's (`EINVAL` here, as on Linux).
fn check_policy(p: &Process, policy: u32, priority: u32) -> Result<(), Errno> {
    match policy {
        SCHED_FIFO | SCHED_RR if (1..=99).contains(&priority) => {
            if p.view.capabilities().effective & CAP_SYS_NICE == 0 {
                return Err(Errno::EPERM);
            }
            Ok(())
        }
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE if priority == 0 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_setscheduler(pid, policy, param): records the thread's policy and priority (with
/// `SCHED_RESET_ON_FORK`) after Linux's checks; not applied: the host schedules every vCPU's
/// thread alike.
pub fn sys_sched_setscheduler(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, policy, param, ..] = f.syscall_args();
    let (policy, reset_on_fork) = (policy as u32 & !SCHED_RESET_ON_FORK, policy as u32 & SCHED_RESET_ON_FORK != 0);
    if (policy as i32) < 0 || policy == SCHED_DEADLINE {
        return Err(Errno::EINVAL);
    }
    let priority = sched_param(p, param)?;
    sched_thread(p, pid)?;
    check_policy(p, policy, priority)?;
    sched_thread(p, pid)?.sched = crate::thread::SchedPolicy { policy, priority, reset_on_fork };
    Ok(0)
}

/// sched_setparam(pid, param): the priority under the thread's current policy.
pub fn sys_sched_setparam(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, param, ..] = f.syscall_args();
    let priority = sched_param(p, param)?;
    let policy = sched_thread(p, pid)?.sched.policy;
    check_policy(p, policy, priority)?;
    sched_thread(p, pid)?.sched.priority = priority;
    Ok(0)
}

/// sched_getscheduler(pid): the thread's policy (with `SCHED_RESET_ON_FORK`).
pub fn sys_sched_getscheduler(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let sched = sched_thread(p, f.rdi)?.sched;
    Ok((sched.policy | if sched.reset_on_fork { SCHED_RESET_ON_FORK } else { 0 }) as usize)
}

/// sched_getparam(pid, param): the thread's priority.
pub fn sys_sched_getparam(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    if (f.rdi as i32) < 0 || f.rsi == 0 {
        return Err(Errno::EINVAL);
    }
    let priority = sched_thread(p, f.rdi)?.sched.priority;
    user::write_u32(&mut p.space, f.rsi, priority)?;
    Ok(0)
}

/// sched_get_priority_max(policy): 99 for the real-time policies, 0 for the others.
pub fn sys_sched_get_priority_max(_: &mut Process, f: &mut TrapFrame) -> SysResult {
    match f.rdi as u32 {
        SCHED_FIFO | SCHED_RR => Ok(99),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE if f.rdi >> 32 == 0 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_get_priority_min(policy): 1 for the real-time policies, 0 for the others.
pub fn sys_sched_get_priority_min(_: &mut Process, f: &mut TrapFrame) -> SysResult {
    match f.rdi as u32 {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE if f.rdi >> 32 == 0 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_rr_get_interval(pid, tp): Linux's round-robin slice (100 ms) for a `SCHED_RR`
/// thread, 0 for the others (as Linux reports a `SCHED_FIFO` thread, and a normal one here:
/// it has no slice of its own).
pub fn sys_sched_rr_get_interval(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, tp, ..] = f.syscall_args();
    let ns = if sched_thread(p, pid)?.sched.policy == SCHED_RR { RR_TIMESLICE_NS } else { 0 };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    out[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    user::copy_out(&mut p.space, tp, &out)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ioprio(class: u16, data: u16) -> u64 {
        ((class as u64) << 13) | data as u64
    }

    #[test]
    fn io_priorities_are_checked_as_linux_checks_them() {
        let root = crate::caps::ALL;
        assert_eq!(checked_ioprio(ioprio(2, 7), root), Ok(0x4007));
        assert_eq!(checked_ioprio(ioprio(2, 8), root), Ok(0x4008), "a hint bit, kept (the level is 0)");
        assert_eq!(checked_ioprio(ioprio(3, 5), root), Ok(0x6005));
        assert_eq!(checked_ioprio(ioprio(0, 8), root), Ok(8), "no class, a hint but no level");
        assert_eq!(checked_ioprio(ioprio(0, 1), root), Err(Errno::EINVAL), "no class with a level");
        assert_eq!(checked_ioprio(ioprio(4, 0), root), Err(Errno::EINVAL));
        assert_eq!(checked_ioprio(ioprio(7, 0), root), Err(Errno::EINVAL));
        assert_eq!(checked_ioprio(ioprio(1, 3), root), Ok(0x2003));
        assert_eq!(checked_ioprio(ioprio(1, 3), 0), Err(Errno::EPERM), "real-time needs CAP_SYS_NICE");
        assert_eq!(checked_ioprio(ioprio(1, 3), CAP_SYS_NICE), Ok(0x2003));
        assert_eq!(checked_ioprio((1 << 16) | ioprio(2, 1), 0), Ok(0x4001), "kept in 16 bits");
    }

    #[test]
    fn the_best_of_several_and_what_a_child_inherits() {
        assert_eq!(ioprio_best(0x4007, 0x6000), 0x4007, "best-effort above idle");
        assert_eq!(ioprio_best(0x2003, 0x4000), 0x2003, "real-time above best-effort");
        assert_eq!(ioprio_best(0, 0x4005), 0x4004, "no class counts as best-effort 4");
        assert_eq!(ioprio_best(0, 0), 0x4004);
        assert_eq!(inherited_ioprio(0x4007), 0x4007);
        assert_eq!(inherited_ioprio(8), 0, "no class: not inherited, as on Linux");
    }
}
