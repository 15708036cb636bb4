//! Signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigreturn, rt_sigpending,
//! rt_sigtimedwait, rt_sigsuspend, sigaltstack, and kill/tkill/tgkill.
//! Sent signals are queued; the dispatcher delivers pending, unblocked ones on the way back
//! to the app (`signal::deliver_to_app`), so a signal the app sends itself runs its handler
//! (or kills it) before the sending syscall returns, as on Linux.
//!
//! Signals come from the process's own threads, from other processes of the VM (kill, a
//! child's end: `crate::family::signal_process`) and from faults. A wait for a signal
//! parks the vCPU until a sender unparks or interrupts the waiter, or the VM is stopped from
//! outside: rt_sigsuspend until a signal it does not block comes; rt_sigtimedwait until any
//! signal is queued in the VM (as a wait for a file: `wait::wait_for_io`), then it looks.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::signal::deliver::{self, Target};
use crate::signal::{le_u64, sa, si, valid, SigAction, SigInfo, Signal, StackT, NSIG, STACK_T_SIZE, UNBLOCKABLE};
use crate::user;

/// Bytes of the kernel's sigset_t.
const SIGSET_SIZE: u64 = 8;

/// rt_sigaction(sig, act, oldact, sigsetsize).
pub fn sys_rt_sigaction(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [sig, act, old, size, ..] = f.syscall_args();
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    if !valid(sig) {
        return Err(Errno::EINVAL);
    }
    let sig = sig as u32;
    if act != 0 && (sig == Signal::SIGKILL as u32 || sig == Signal::SIGSTOP as u32) {
        return Err(Errno::EINVAL);
    }
    let current = p.signals.action(sig);
    if act != 0 {
        let new = decode_sigaction(user::read(&mut p.space, act, 32)?);
        p.signals.actions[sig as usize - 1] = new;
        // POSIX: setting a pending signal's action to ignore discards it, blocked or not.
        if deliver::ignores(&new, sig) {
            p.signals.pending.discard(sig);
            p.thread.signals.pending.discard(sig);
        }
    }
    if old != 0 {
        user::copy_out(&mut p.space, old, &encode_sigaction(&current))?;
    }
    Ok(0)
}

/// A `struct sigaction` as the app passes it (handler, flags, restorer, mask), with the flags
/// Linux does not know and SIGKILL/SIGSTOP in the mask cleared, as Linux does.
fn decode_sigaction(b: &[u8]) -> SigAction {
    SigAction {
        handler: le_u64(&b[0..]),
        flags: le_u64(&b[8..]) & sa::KNOWN,
        restorer: le_u64(&b[16..]),
        mask: le_u64(&b[24..]) & !UNBLOCKABLE,
    }
}

/// The `struct sigaction` bytes of `a`.
fn encode_sigaction(a: &SigAction) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, w) in [a.handler, a.flags, a.restorer, a.mask].iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// rt_sigprocmask(how, set, oldset, sigsetsize). Unblocked pending signals are delivered as
/// the call returns.
pub fn sys_rt_sigprocmask(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [how, set, old, size, ..] = f.syscall_args();
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let current = p.thread.signals.blocked;
    if set != 0 {
        let requested = user::read_u64(&mut p.space, set)?;
        let new = match how {
            0 => current | requested,
            1 => current & !requested,
            2 => requested,
            _ => return Err(Errno::EINVAL),
        };
        p.thread.signals.set_blocked(new);
    }
    if old != 0 {
        user::write_u64(&mut p.space, old, current)?;
    }
    Ok(0)
}

/// rt_sigreturn(): back from a handler to the context its frame saved. The "result" is the
/// restored rax, so the dispatcher's `rax = result` keeps it. A bad frame forces SIGSEGV
/// (rax 0), as Linux does.
pub fn sys_rt_sigreturn(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    match deliver::sigreturn(&mut p.thread.signals, &mut p.space, f) {
        Ok(rax) => Ok(rax as usize),
        Err(address) => {
            let origin = crate::signal::Origin { address, vector: 14, error: 4 };
            deliver::force(&mut p.signals, &mut p.thread.signals, SigInfo::kernel(Signal::SIGSEGV as u32, origin));
            Ok(0)
        }
    }
}

/// rt_sigpending(set, sigsetsize): the pending signals that are blocked.
pub fn sys_rt_sigpending(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [set, size, ..] = f.syscall_args();
    if size > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending = (p.signals.pending.mask() | p.thread.signals.pending.mask()) & p.thread.signals.blocked;
    user::copy_out(&mut p.space, set, &pending.to_le_bytes()[..size as usize])?;
    Ok(0)
}

/// pause(): waits until a signal runs a handler (EINTR) or ends the app.
pub fn sys_pause(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Err(super::time::wait_for_signal(p))
}

/// rt_sigsuspend(mask, sigsetsize): waits with `mask` blocked until a signal runs a handler
/// (EINTR; the old mask is back when the handler returns) or kills the app.
pub fn sys_rt_sigsuspend(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [mask, size, ..] = f.syscall_args();
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = user::read_u64(&mut p.space, mask)?;
    let t = &mut p.thread.signals;
    t.saved_mask = Some(t.blocked);
    t.set_blocked(mask);
    Err(super::time::wait_for_signal(p))
}

/// rt_sigtimedwait(set, info, timeout, sigsetsize): takes a pending signal of `set` without
/// running its handler, waiting for one up to the timeout (EAGAIN after it; at once for a
/// zero timeout); EINTR when another signal's handler is to run.
pub fn sys_rt_sigtimedwait(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [set, info, timeout, size, ..] = f.syscall_args();
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let wanted = user::read_u64(&mut p.space, set)? & !UNBLOCKABLE;
    let wait_ns = if timeout == 0 { None } else { Some(timeout_ns(user::read(&mut p.space, timeout, 16)?)?) };
    let deadline = wait_ns.map(|ns| crate::wait::now_ns(p).saturating_add(ns));
    p.thread.signals.was_stopped = false;
    // Waits as for a file: every signal queued in the VM wakes the threads waiting so, which
    // reaches a thread of another process that blocks the signal (nobody is interrupted for
    // a signal every thread blocks).
    while (p.signals.pending.mask() | p.thread.signals.pending.mask()) & wanted == 0 {
        match crate::wait::wait_for_io(p, deadline) {
            Ok(()) => {
                let pending = p.signals.pending.mask() | p.thread.signals.pending.mask();
                if p.thread.signals.was_stopped && pending & wanted == 0 {
                    // Stopped and continued while waiting, and none came: EINTR, as Linux's.
                    return Err(Errno::EINTR);
                }
            }
            Err(Errno::ETIMEDOUT) => return Err(Errno::EAGAIN),
            Err(e) => return Err(e),
        }
    }
    match deliver::dequeue(&mut p.signals, &mut p.thread.signals, wanted) {
        Some(taken) => {
            if info != 0 {
                user::copy_out(&mut p.space, info, &taken.to_bytes())?;
            }
            Ok(taken.signo as usize)
        }
        None => Err(Errno::EAGAIN),
    }
}

/// A `struct timespec` as nanoseconds (saturating). EINVAL if negative or denormal.
fn timeout_ns(b: &[u8]) -> Result<u64, Errno> {
    let (sec, nsec) = (le_u64(&b[0..]) as i64, le_u64(&b[8..]) as i64);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64))
}

/// sigaltstack(ss, old_ss).
pub fn sys_sigaltstack(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [new, old, ..] = f.syscall_args();
    let sp = f.rsp;
    let requested = if new != 0 {
        let mut b = [0u8; STACK_T_SIZE];
        b.copy_from_slice(user::read(&mut p.space, new, STACK_T_SIZE as u64)?);
        Some(StackT::from_bytes(&b))
    } else {
        None
    };
    let previous = p.thread.signals.alt_stack.describe(sp);
    if let Some(stack) = requested {
        p.thread.signals.alt_stack.set(stack, sp)?;
    }
    if old != 0 {
        user::copy_out(&mut p.space, old, &previous.to_bytes())?;
    }
    Ok(0)
}

/// Queues `info` for the process, on the current thread's way back to the app unless it
/// blocks the signal; then another thread that does not block it must take it: it is
/// interrupted (it may be running app code). Threads waiting for it in sigwait/sigtimedwait
/// (blocked there) look again.
pub fn send_to_process(p: &mut Process, info: SigInfo) {
    crate::job::before_send(p, info.signo);
    let bit = 1u64 << (info.signo - 1);
    deliver::send(&mut p.signals, &mut p.thread.signals, Target::Process, info);
    let mut others = p.threads.others.iter().fold(0u64, |m, t| m | 1 << (t.cpu % 64));
    if p.thread.signals.blocked & bit != 0 {
        if let Some(taker) = p.threads.others.iter().find(|t| t.signals.blocked & bit == 0) {
            others &= !(1 << (taker.cpu % 64));
            taker.nudge();
        }
    }
    p.unpark_mask(others);
}

/// Queues `sig` (0: only checks) for the process, or for thread `tid`, and wakes whoever may
/// take it from a wait. ESRCH when no thread has that id.
fn send(p: &mut Process, sig: u64, target: Target, tid: u32, code: i32) -> SysResult {
    if sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let info = SigInfo::user(sig as u32, code, p.pid, p.real_uid());
    match target {
        Target::Process => {
            if sig != 0 {
                send_to_process(p, info);
            }
        }
        Target::Thread if sig == 0 => {
            if tid != p.thread.tid && p.threads.get_mut(tid).is_none() {
                return Err(Errno::ESRCH);
            }
        }
        Target::Thread => send_to_thread_of_process(p, tid, info)?,
    }
    Ok(0)
}

/// Queues `info` for thread `tid` of the current process (the caller's own thread gets it on
/// its way back); another thread is woken if it waits in the kernel, interrupted if it runs
/// app code. ESRCH when the process has no such thread.
pub fn send_to_thread_of_process(p: &mut Process, tid: u32, info: SigInfo) -> Result<(), Errno> {
    crate::job::before_send(p, info.signo);
    if tid == p.thread.tid {
        deliver::send(&mut p.signals, &mut p.thread.signals, Target::Thread, info);
        return Ok(());
    }
    let thread = p.threads.get_mut(tid).ok_or(Errno::ESRCH)?;
    deliver::send(&mut p.signals, &mut thread.signals, Target::Thread, info);
    thread.nudge();
    Ok(())
}

/// kill(pid, sig): pid > 0 that process, 0 the caller's process group, -1 every process
/// but the app (init) and the caller, < -1 process group -pid. ESRCH when none is there.
pub fn sys_kill(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (pid, sig) = (f.rdi as i32, f.rsi);
    if sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    if pid > 0 && pid as u32 == p.pid {
        return send(p, sig, Target::Process, 0, si::USER);
    }
    let info = SigInfo::user(sig as u32, si::USER, p.pid, p.real_uid());
    let (caller, group) = (p.pid, p.pgid);
    let chosen = |q: &Process| match pid {
        0 => q.pgid == group,
        -1 => q.pid != crate::process::INIT_PID && q.pid != caller,
        pid if pid < 0 => q.pgid == pid.unsigned_abs(),
        pid => q.pid == pid as u32,
    };
    let mut found = false;
    for q in p.shared.processes.iter_mut().filter(|q| chosen(q)) {
        found = true;
        if sig != 0 {
            crate::family::signal_process(q, info);
        }
    }
    // The caller's own group includes the caller, which then gets it on its way back.
    if pid <= 0 && pid != -1 && chosen(p) {
        found = true;
        if sig != 0 {
            send_to_process(p, info);
        }
    }
    // A process that ended and was not reaped yet takes it, as on Linux (and ignores it).
    if !found && pid > 0 {
        found = crate::family::zombie(p, pid as u32).is_some();
    }
    if found {
        Ok(0)
    } else {
        Err(Errno::ESRCH)
    }
}

/// tkill(tid, sig).
pub fn sys_tkill(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let tid = f.rdi as i32;
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    send_to_thread(p, None, tid as u32, f.rsi)
}

/// tgkill(tgid, tid, sig).
pub fn sys_tgkill(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (tgid, tid) = (f.rdi as i32, f.rsi as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    send_to_thread(p, Some(tgid as u32), tid as u32, f.rdx)
}

/// Sends `sig` to thread `tid` (of process `tgid`, if given): ESRCH when there is none.
fn send_to_thread(p: &mut Process, tgid: Option<u32>, tid: u32, sig: u64) -> SysResult {
    if sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let of_caller = p.thread.tid == tid || p.threads.others.iter().any(|t| t.tid == tid);
    if of_caller && tgid.is_none_or(|tgid| tgid == p.pid) {
        return send(p, sig, Target::Thread, tid, si::TKILL);
    }
    let info = SigInfo::user(sig as u32, si::TKILL, p.pid, p.real_uid());
    let owner = p
        .shared
        .processes
        .iter_mut()
        .find(|q| tgid.is_none_or(|tgid| q.pid == tgid) && q.runs_thread(tid))
        .ok_or(Errno::ESRCH)?;
    if sig != 0 {
        crate::family::signal_thread(owner, tid, info);
    }
    Ok(0)
}

/// rt_sigqueueinfo(tgid, sig, info): queues the app's own siginfo (sigqueue's SI_QUEUE and
/// its value) for process `tgid`. Another process may not be sent an si_code a kernel or
/// kill would make (>= 0, or SI_TKILL): EPERM, as Linux says.
#[cold]
pub fn sys_rt_sigqueueinfo(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [tgid, sig, uinfo, ..] = f.syscall_args();
    let info = queued_info(p, sig, uinfo, tgid as i32)?;
    let tgid = tgid as i32;
    if tgid > 0 && tgid as u32 == p.pid {
        if let Some(info) = info {
            refuse_overflow(&p.signals.pending, &info)?;
            send_to_process(p, info);
        }
        return Ok(0);
    }
    if tgid <= 0 {
        return Err(Errno::ESRCH);
    }
    send_to_other_process(p, tgid as u32, info)?;
    Ok(0)
}

/// Queues `info` (`None`: only checks) for process `pid`, another than the caller's. A
/// process that ended and waits to be reaped takes it and does nothing with it, as on Linux;
/// ESRCH when there is no such process.
pub fn send_to_other_process(p: &mut Process, pid: u32, info: Option<SigInfo>) -> Result<(), Errno> {
    if let Some(q) = p.other(pid) {
        if let Some(info) = info {
            refuse_overflow(&q.signals.pending, &info)?;
            crate::family::signal_process(q, info);
        }
        return Ok(());
    }
    crate::family::zombie(p, pid).map(|_| ()).ok_or(Errno::ESRCH)
}

/// rt_tgsigqueueinfo(tgid, tid, sig, info): rt_sigqueueinfo for thread `tid` of `tgid`.
#[cold]
pub fn sys_rt_tgsigqueueinfo(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [tgid, tid, sig, uinfo, ..] = f.syscall_args();
    let (tgid, tid) = (tgid as i32, tid as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let info = queued_info(p, sig, uinfo, tgid)?;
    let (tgid, tid) = (tgid as u32, tid as u32);
    let of_caller = p.thread.tid == tid || p.threads.others.iter().any(|t| t.tid == tid);
    if of_caller && tgid == p.pid {
        if let Some(info) = info {
            if let Some(thread) = p.thread_mut(tid) {
                refuse_overflow(&thread.signals.pending, &info)?;
            }
            send_to_thread_of_process(p, tid, info)?;
        }
        return Ok(0);
    }
    let owner = p.shared.processes.iter_mut().find(|q| q.pid == tgid && q.runs_thread(tid)).ok_or(Errno::ESRCH)?;
    if let Some(info) = info {
        if let Some(thread) = owner.thread_mut(tid) {
            refuse_overflow(&thread.signals.pending, &info)?;
        }
        crate::family::signal_thread(owner, tid, info);
    }
    Ok(0)
}

/// `EAGAIN` for a sigqueue of a real-time signal (not `SI_USER`, which Linux keeps pending
/// without its siginfo) to a pending set that is full
/// (`signal::QUEUE_LIMIT`), as Linux says when a user's queued signals reach
/// `RLIMIT_SIGPENDING`.
pub fn refuse_overflow(pending: &crate::signal::Pending, info: &SigInfo) -> Result<(), Errno> {
    if info.signo >= crate::signal::SIGRTMIN && info.code != si::USER && pending.is_full() {
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// The siginfo of a sigqueue call: EINVAL for a bad signal number, EFAULT for an unreadable
/// siginfo, EPERM for a kernel's or kill's si_code sent to another process than the caller's
/// (`tgid`). `None` for signal 0 (only the checks).
pub fn queued_info(p: &mut Process, sig: u64, uinfo: u64, tgid: i32) -> Result<Option<SigInfo>, Errno> {
    if sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let bytes: [u8; crate::signal::SIGINFO_SIZE] =
        user::read(&mut p.space, uinfo, crate::signal::SIGINFO_SIZE as u64)?.try_into().map_err(|_| Errno::EFAULT)?;
    let info = SigInfo::queued(sig as u32, &bytes);
    if (info.code >= 0 || info.code == si::TKILL) && (tgid <= 0 || tgid as u32 != p.pid) {
        return Err(Errno::EPERM);
    }
    Ok((sig != 0).then_some(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout_ns(&[0; 16]), Ok(0));
        let mut b = [0u8; 16];
        b[0] = 2;
        b[8..16].copy_from_slice(&5u64.to_le_bytes());
        assert_eq!(timeout_ns(&b), Ok(2_000_000_005));
        b[8..16].copy_from_slice(&1_000_000_000u64.to_le_bytes());
        assert_eq!(timeout_ns(&b), Err(Errno::EINVAL));
        b[8..16].fill(0);
        b[0..8].copy_from_slice(&(-1i64).to_le_bytes());
        assert_eq!(timeout_ns(&b), Err(Errno::EINVAL));
        b[0..8].copy_from_slice(&i64::MAX.to_le_bytes());
        assert_eq!(timeout_ns(&b), Ok(u64::MAX), "saturates");
    }

    #[test]
    fn sigaction_words() {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&0x40_1000u64.to_le_bytes());
        b[8..16].copy_from_slice(&(sa::SIGINFO | sa::RESTORER | sa::UNSUPPORTED | (1 << 40)).to_le_bytes());
        b[16..24].copy_from_slice(&0x40_2000u64.to_le_bytes());
        b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        let a = decode_sigaction(&b);
        assert_eq!(a.handler, 0x40_1000);
        assert_eq!(a.flags, sa::SIGINFO | sa::RESTORER, "unknown flags are cleared, as Linux does");
        assert_eq!(a.restorer, 0x40_2000);
        assert_eq!(a.mask, !crate::signal::UNBLOCKABLE, "SIGKILL and SIGSTOP are never in sa_mask");
        assert_eq!(decode_sigaction(&encode_sigaction(&a)), a);
    }
}
