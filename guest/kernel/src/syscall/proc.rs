//! Process syscalls: identity (pid 1, uid 0), exit, uname, resource limits, arch_prctl,
//! getrandom. Threads (clone, exit, gettid, robust lists) are in `clone`.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::user;

/// The app's pid (it is the VM's first and only process), also its first thread's tid.
pub const PID: usize = 1;

/// getpid(): the app is the VM's first and only process.
pub fn sys_getpid(_: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(PID)
}

const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WEXITED: u64 = 4;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
const WNOTHREAD: u64 = 0x2000_0000;
const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;

/// wait4(pid, status, options, rusage): the app can have no child (a VM runs one process),
/// so ECHILD once the options are checked (EINVAL for unknown ones, as Linux checks first).
pub fn sys_wait4(_: &mut Process, f: &mut TrapFrame) -> SysResult {
    if f.rdx & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::ECHILD)
}

/// waitid(idtype, id, infop, options, rusage): as wait4, ECHILD once the arguments are
/// checked: EINVAL for an unknown id type or options, or none of WEXITED, WUNTRACED (WSTOPPED)
/// and WCONTINUED; EBADF for P_PIDFD (no pidfd can exist).
pub fn sys_waitid(_: &mut Process, f: &mut TrapFrame) -> SysResult {
    const P_PIDFD: u64 = 3;
    let [idtype, _, _, options, ..] = f.syscall_args();
    let known = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE;
    if options & !known != 0 || options & (WEXITED | WUNTRACED | WCONTINUED) == 0 || idtype > P_PIDFD {
        return Err(Errno::EINVAL);
    }
    if idtype == P_PIDFD {
        return Err(Errno::EBADF);
    }
    Err(Errno::ECHILD)
}

/// getppid(): the app's parent is outside the VM.
pub fn sys_getppid(_: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(0)
}

/// getuid(), geteuid(): root inside the VM (the VM is the isolation boundary).
pub fn sys_getuid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.uid as usize)
}

/// getgid(), getegid().
pub fn sys_getgid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.gid as usize)
}

/// sched_getaffinity(pid, size, mask): every vCPU.
pub fn sys_sched_getaffinity(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, size, mask, ..] = f.syscall_args();
    if pid != 0 && pid != PID as u64 {
        return Err(Errno::ESRCH);
    }
    if size < 8 || size % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let cpus = p.cpu_count.min(64);
    let bits: u64 = if cpus == 64 { u64::MAX } else { (1u64 << cpus) - 1 };
    user::write_u64(&mut p.space, mask, bits)?;
    Ok(8)
}

fn put_utsname_field(buf: &mut [u8], index: usize, value: &[u8]) {
    let field = &mut buf[index * 65..(index + 1) * 65];
    field.fill(0);
    field[..value.len().min(64)].copy_from_slice(&value[..value.len().min(64)]);
}

/// uname(buf).
pub fn sys_uname(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let mut uts = [0u8; 65 * 6];
    put_utsname_field(&mut uts, 0, b"Linux");
    put_utsname_field(&mut uts, 1, p.hostname.as_bytes());
    put_utsname_field(&mut uts, 2, b"6.1.0-uvm");
    put_utsname_field(&mut uts, 3, b"#1 SMP uvm");
    put_utsname_field(&mut uts, 4, b"x86_64");
    put_utsname_field(&mut uts, 5, b"(none)");
    user::copy_out(&mut p.space, f.rdi, &uts)?;
    Ok(0)
}

/// Resource limits: (soft, hard) for each RLIMIT_* the app may ask about.
fn limit(p: &Process, resource: u64) -> Result<(u64, u64), Errno> {
    const INFINITY: u64 = u64::MAX;
    Ok(match resource {
        // RLIMIT_STACK: the stack reservation.
        3 => (crate::process::STACK_RESERVE, INFINITY),
        // RLIMIT_NOFILE.
        7 => (p.nofile_limit, crate::fs::RLIMIT_NOFILE),
        // RLIMIT_AS, RLIMIT_DATA, RLIMIT_RSS: bounded by the VM's memory, not a limit.
        0..=15 => (INFINITY, INFINITY),
        _ => return Err(Errno::EINVAL),
    })
}

/// prlimit64(pid, resource, new, old): only RLIMIT_NOFILE can be lowered; other new limits
/// are accepted and have no effect (the VM's size is the real bound).
pub fn sys_prlimit64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, resource, new, old, ..] = f.syscall_args();
    if pid != 0 && pid != PID as u64 {
        return Err(Errno::ESRCH);
    }
    let current = limit(p, resource)?;
    if old != 0 {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&current.0.to_le_bytes());
        b[8..].copy_from_slice(&current.1.to_le_bytes());
        user::copy_out(&mut p.space, old, &b)?;
    }
    if new != 0 {
        let soft = user::read_u64(&mut p.space, new)?;
        let hard = user::read_u64(&mut p.space, new + 8)?;
        if soft > hard {
            return Err(Errno::EINVAL);
        }
        if resource == 7 {
            if hard > crate::fs::RLIMIT_NOFILE {
                return Err(Errno::EPERM);
            }
            p.nofile_limit = soft;
        }
    }
    Ok(0)
}

/// getrlimit(resource, rlim).
pub fn sys_getrlimit(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    f.r10 = f.rsi;
    f.rdx = 0;
    f.rsi = f.rdi;
    f.rdi = 0;
    sys_prlimit64(p, f)
}

/// setrlimit(resource, rlim).
pub fn sys_setrlimit(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    f.rdx = f.rsi;
    f.r10 = 0;
    f.rsi = f.rdi;
    f.rdi = 0;
    sys_prlimit64(p, f)
}

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

/// arch_prctl(code, addr): the FS base (thread pointer). The GS base belongs to the kernel
/// (its per-vCPU area), so ARCH_SET_GS is refused with EPERM.
pub fn sys_arch_prctl(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [code, addr, ..] = f.syscall_args();
    match code {
        ARCH_SET_FS => {
            if addr >= uvm_abi::layout::USER_END_VA {
                return Err(Errno::EPERM);
            }
            p.set_fs_base(addr);
            Ok(0)
        }
        ARCH_GET_FS => {
            let base = p.fs_base();
            user::write_u64(&mut p.space, addr, base)?;
            Ok(0)
        }
        ARCH_GET_GS => {
            user::write_u64(&mut p.space, addr, 0)?;
            Ok(0)
        }
        ARCH_SET_GS => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

/// getrandom(buf, len, flags).
pub fn sys_getrandom(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [buf, len, flags, ..] = f.syscall_args();
    const KNOWN: u64 = 0x1 | 0x2 | 0x4; // GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE
    if flags & !KNOWN != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.min(32 << 20);
    let out = user::write(&mut p.space, buf, len)?;
    crate::random::fill(out);
    Ok(len as usize)
}
