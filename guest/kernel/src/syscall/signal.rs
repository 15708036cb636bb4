//! Signal syscalls: rt_sigaction, rt_sigprocmask, sigaltstack, kill/tkill/tgkill to itself.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::signal::{self, SigAction, NSIG};
use crate::user;

const SIGKILL: u64 = 9;
const SIGSTOP: u64 = 19;
const SIG_IGN: u64 = 1;

fn check_signal(sig: u64) -> Result<usize, Errno> {
    if sig == 0 || sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(sig as usize - 1)
}

/// rt_sigaction(sig, act, oldact, sigsetsize).
pub fn sys_rt_sigaction(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [sig, act, old, size, ..] = f.syscall_args();
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let index = check_signal(sig)?;
    if act != 0 && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let current = p.signals.actions[index];
    if act != 0 {
        let b = user::read(&mut p.space, act, 32)?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        p.signals.actions[index] = SigAction { handler: word(0), flags: word(1), restorer: word(2), mask: word(3) };
    }
    if old != 0 {
        let mut b = [0u8; 32];
        for (i, w) in [current.handler, current.flags, current.restorer, current.mask].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        user::copy_out(&mut p.space, old, &b)?;
    }
    Ok(0)
}

/// rt_sigprocmask(how, set, oldset, sigsetsize).
pub fn sys_rt_sigprocmask(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [how, set, old, size, ..] = f.syscall_args();
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let current = p.signals.blocked;
    if set != 0 {
        let requested = user::read_u64(&mut p.space, set)?;
        // SIGKILL and SIGSTOP cannot be blocked.
        let unblockable = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
        p.signals.blocked = match how {
            0 => current | requested,
            1 => current & !requested,
            2 => requested,
            _ => return Err(Errno::EINVAL),
        } & !unblockable;
    }
    if old != 0 {
        user::write_u64(&mut p.space, old, current)?;
    }
    Ok(0)
}

/// sigaltstack(ss, old_ss): remembered; used once signal handlers run.
pub fn sys_sigaltstack(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [new, old, ..] = f.syscall_args();
    if old != 0 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&p.alt_stack.0.to_le_bytes());
        let flags: u32 = if p.alt_stack.2 == 0 { 2 } else { 0 }; // SS_DISABLE
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&p.alt_stack.2.to_le_bytes());
        user::copy_out(&mut p.space, old, &b)?;
    }
    if new != 0 {
        let b = user::read(&mut p.space, new, 24)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        let sp = u64::from_le_bytes(w);
        let flags = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        w.copy_from_slice(&b[16..24]);
        let size = u64::from_le_bytes(w);
        if flags & 2 != 0 {
            p.alt_stack = (0, 0, 0);
        } else if flags != 0 {
            return Err(Errno::EINVAL);
        } else if size < 2048 {
            return Err(Errno::ENOMEM);
        } else {
            p.alt_stack = (sp, 0, size);
        }
    }
    Ok(0)
}

/// Sends `sig` to the app itself.
fn send_to_self(p: &mut Process, sig: u64, ip: u64) -> SysResult {
    if sig == 0 {
        return Ok(0);
    }
    let index = check_signal(sig)?;
    let action = p.signals.actions[index];
    if sig != SIGKILL && (action.handler == SIG_IGN || (action.handler == 0 && !signal::default_terminates(sig as u32)))
    {
        return Ok(0);
    }
    // A default action ends the app; a handler cannot run yet, so the app ends too and the
    // VMM reports the signal.
    signal::kill_self(sig as u32, ip)
}

/// kill(pid, sig): only the app itself (pid 1, 0 or -1) exists.
pub fn sys_kill(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let pid = f.rdi as i64;
    if pid != 1 && pid != 0 && pid != -1 {
        return Err(Errno::ESRCH);
    }
    send_to_self(p, f.rsi, f.rip)
}

/// tkill(tid, sig).
pub fn sys_tkill(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    if f.rdi != 1 {
        return Err(Errno::ESRCH);
    }
    send_to_self(p, f.rsi, f.rip)
}

/// tgkill(tgid, tid, sig).
pub fn sys_tgkill(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    if f.rdi != 1 || f.rsi != 1 {
        return Err(Errno::ESRCH);
    }
    send_to_self(p, f.rdx, f.rip)
}
