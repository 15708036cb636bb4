//! Process syscalls: pids, waiting for children, uname, resource limits,
//! arch_prctl, getrandom. Threads (clone, exit, gettid, robust lists) are in `clone`; making
//! and ending processes in `crate::family`.

use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::family::{self, ChildSelector};
use crate::job::JobReport;
use crate::process::Process;
use crate::user;

/// getpid().
pub fn sys_getpid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.pid as usize)
}

const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WEXITED: u64 = 4;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
const WNOTHREAD: u64 = 0x2000_0000;
const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;

/// Bytes of `struct rusage`.
const RUSAGE_SIZE: usize = 144;

/// How a wait ends: a child that ended, one that stopped or was continued, or none yet with
/// WNOHANG.
enum Waited {
    Ended(family::ExitedChild),
    Changed { pid: u32, uid: u32, report: JobReport },
    NoneYet,
}

impl Waited {
    /// The child's pid (0 for none).
    fn pid(&self) -> u32 {
        match self {
            Waited::Ended(child) => child.pid,
            Waited::Changed { pid, .. } => *pid,
            Waited::NoneYet => 0,
        }
    }

    /// The status wait4 reports.
    fn wait_status(&self) -> i32 {
        match self {
            Waited::Ended(child) => child.ending.wait_status(),
            Waited::Changed { report, .. } => report.wait_status(),
            Waited::NoneYet => 0,
        }
    }

    /// The siginfo waitid reports (all zero for none, as Linux writes it).
    fn siginfo(&self) -> [u8; crate::signal::SIGINFO_SIZE] {
        let (pid, uid, (code, status)) = match self {
            Waited::Ended(child) => (child.pid, child.uid, child.ending.code_and_status()),
            Waited::Changed { pid, uid, report } => (*pid, *uid, report.code_and_status()),
            Waited::NoneYet => return [0; crate::signal::SIGINFO_SIZE],
        };
        let fields = crate::signal::SigFields::Child { pid, uid, status };
        let signo = crate::signal::Signal::SIGCHLD as u32;
        crate::signal::SigInfo { signo, errno: 0, code, fields, origin: None }.to_bytes()
    }

    /// The CPU time the resource usage reports (an ended child's; 0 otherwise).
    fn cpu_ns(&self) -> u64 {
        if let Waited::Ended(child) = self {
            child.cpu_ns
        } else {
            0
        }
    }
}

/// What a wait is for: ends (WEXITED, always for wait4), stops (WUNTRACED/WSTOPPED),
/// continues (WCONTINUED).
#[derive(Clone, Copy)]
struct Wanted {
    ended: bool,
    stopped: bool,
    continued: bool,
}

impl Wanted {
    fn of(options: u64, ended: bool) -> Wanted {
        Wanted { ended, stopped: options & WUNTRACED != 0, continued: options & WCONTINUED != 0 }
    }

    fn takes(self, report: JobReport) -> bool {
        match report {
            JobReport::Stopped(_) => self.stopped,
            JobReport::Continued => self.continued,
        }
    }
}

/// Waits for a child `selector` chooses to end, stop or be continued, as `wanted` says:
/// ECHILD when there is no such child, EINTR when a signal comes first (wait4 is restarted
/// after a SA_RESTART handler, as on Linux). `keep` (WNOWAIT) leaves what it reports to be
/// waited for again.
fn wait_for_child(
    p: &mut Process,
    selector: ChildSelector,
    wanted: Wanted,
    no_hang: bool,
    keep: bool,
) -> Result<Waited, Errno> {
    loop {
        if wanted.ended {
            if let Some(child) = family::take_exited_child(p, selector, keep) {
                return Ok(Waited::Ended(child));
            }
        }
        if wanted.stopped || wanted.continued {
            if let Some((pid, uid, report)) = family::take_job_report(p, selector, &|r| wanted.takes(r), keep) {
                return Ok(Waited::Changed { pid, uid, report });
            }
        }
        if !family::has_child(p, selector) {
            return Err(Errno::ECHILD);
        }
        if no_hang {
            return Ok(Waited::NoneYet);
        }
        crate::wait::wait_for_io(p, None)?;
    }
}

/// wait4(pid, status, options, rusage): EINVAL for unknown options (Linux checks them
/// first). WUNTRACED and WCONTINUED report stopped and continued children too. The resource
/// usage is an ended child's CPU time (its children's included) as user time.
pub fn sys_wait4(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, status, options, rusage, ..] = f.syscall_args();
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 || pid as i32 == i32::MIN {
        return Err(Errno::EINVAL);
    }
    let selector = ChildSelector::of_wait4(pid as i32, p.pgid);
    let waited = wait_for_child(p, selector, Wanted::of(options, true), options & WNOHANG != 0, false)?;
    if let Waited::NoneYet = waited {
        return Ok(0);
    }
    if status != 0 {
        user::write_u32(&mut p.space, status, waited.wait_status() as u32)?;
    }
    if rusage != 0 {
        user::copy_out(&mut p.space, rusage, &child_rusage(waited.cpu_ns()))?;
    }
    Ok(waited.pid() as usize)
}

/// waitid(idtype, id, infop, options, rusage): EINVAL for an unknown id type or options, or
/// none of WEXITED, WSTOPPED and WCONTINUED. P_PIDFD waits for the pidfd `id`'s process
/// (ECHILD unless it is the caller's child); through an `O_NONBLOCK` pidfd a wait that would
/// block says EAGAIN, as on Linux. WNOWAIT leaves the child to be waited for again.
pub fn sys_waitid(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    const P_ALL: u64 = 0;
    const P_PID: u64 = 1;
    const P_PGID: u64 = 2;
    const P_PIDFD: u64 = 3;
    let [idtype, id, infop, options, rusage, _] = f.syscall_args();
    let known = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE;
    if options & !known != 0 || options & (WEXITED | WUNTRACED | WCONTINUED) == 0 || idtype > P_PIDFD {
        return Err(Errno::EINVAL);
    }
    let mut nonblocking_pidfd = false;
    let selector = match idtype {
        P_ALL => ChildSelector::Any,
        P_PID if id as i32 > 0 => ChildSelector::Pid(id as u32),
        P_PGID if id as i32 >= 0 => ChildSelector::Group(if id == 0 { p.pgid } else { id as u32 }),
        P_PIDFD => {
            let (pid, nonblocking) = crate::syscall::pidfd::waited_process(p, id)?;
            nonblocking_pidfd = nonblocking;
            ChildSelector::Pid(pid)
        }
        _ => return Err(Errno::EINVAL),
    };
    let no_hang = options & WNOHANG != 0 || nonblocking_pidfd;
    let wanted = Wanted::of(options, options & WEXITED != 0);
    let waited = wait_for_child(p, selector, wanted, no_hang, options & WNOWAIT != 0)?;
    if matches!(waited, Waited::NoneYet) && options & WNOHANG == 0 {
        return Err(Errno::EAGAIN);
    }
    if infop != 0 {
        user::copy_out(&mut p.space, infop, &waited.siginfo())?;
    }
    if rusage != 0 {
        user::copy_out(&mut p.space, rusage, &child_rusage(waited.cpu_ns()))?;
    }
    Ok(0)
}

/// A `struct rusage` with `cpu_ns` as its user time (and nothing else).
fn child_rusage(cpu_ns: u64) -> [u8; RUSAGE_SIZE] {
    let mut out = [0u8; RUSAGE_SIZE];
    out[..8].copy_from_slice(&(cpu_ns / 1_000_000_000).to_le_bytes());
    out[8..16].copy_from_slice(&((cpu_ns % 1_000_000_000) / 1000).to_le_bytes());
    out
}

/// getppid(): the parent in the VM; the app's parent is outside it (0).
pub fn sys_getppid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.ppid as usize)
}

/// The VM's CPUs as an affinity mask (bit n: vCPU n; at most 64).
fn online_cpus(p: &Process) -> u64 {
    let cpus = p.cpu_count.min(64);
    if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    }
}

/// The thread with id `tid` (0: the caller) of any of the VM's processes.
pub(super) fn thread_of(p: &mut Process, tid: u64) -> Result<&mut crate::thread::Thread, Errno> {
    let tid = match u32::try_from(tid).map_err(|_| Errno::ESRCH)? {
        0 => p.thread.tid,
        tid => tid,
    };
    if p.runs_thread(tid) {
        return p.thread_mut(tid).ok_or(Errno::ESRCH);
    }
    p.shared.processes.iter_mut().find_map(|q| q.thread_mut(tid)).ok_or(Errno::ESRCH)
}

/// sched_getaffinity(tid, size, mask): the thread's affinity mask (every CPU of the VM unless
/// `sched_setaffinity` narrowed it), one 8-byte word; `EINVAL` for a size that is not a
/// non-zero multiple of 8.
pub fn sys_sched_getaffinity(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [tid, size, mask, ..] = f.syscall_args();
    if size < 8 || size % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let online = online_cpus(p);
    let affinity = thread_of(p, tid)?.affinity & online;
    user::write_u64(&mut p.space, mask, affinity)?;
    Ok(8)
}

/// sched_setaffinity(tid, size, mask): records the thread's affinity mask (the first `size`
/// bytes of `mask`, zero-extended; CPUs past the VM's ignored): `EINVAL` if it names none of
/// the VM's CPUs. Recorded, not applied (`Thread::affinity`).
pub fn sys_sched_setaffinity(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [tid, size, mask, ..] = f.syscall_args();
    let mut word = [0u8; 8];
    let len = size.min(8) as usize;
    word[..len].copy_from_slice(user::read(&mut p.space, mask, len as u64)?);
    let wanted = u64::from_le_bytes(word) & online_cpus(p);
    let thread = thread_of(p, tid)?;
    if wanted == 0 {
        return Err(Errno::EINVAL);
    }
    thread.affinity = wanted;
    Ok(0)
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
    put_utsname_field(&mut uts, 1, &p.hostname);
    put_utsname_field(&mut uts, 2, b"6.1.0-uvm");
    put_utsname_field(&mut uts, 3, b"#1 SMP uvm");
    put_utsname_field(&mut uts, 4, b"x86_64");
    put_utsname_field(&mut uts, 5, p.domainname.as_deref().unwrap_or(b"(none)"));
    user::copy_out(&mut p.space, f.rdi, &uts)?;
    Ok(0)
}

/// sethostname(name, len): the host name uname reports, for every process of the VM (the VM
/// is the app's own UTS namespace, as a container's). Linux asks for CAP_SYS_ADMIN, which
/// root holds; capabilities are not checked here (`crate::caps`). EINVAL past 64 bytes.
#[cold]
pub fn sys_sethostname(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    set_uts_name(p, f, |q, name| q.hostname = name)
}

/// setdomainname(name, len): the NIS domain name uname reports, as sethostname sets the
/// host name.
#[cold]
pub fn sys_setdomainname(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    set_uts_name(p, f, |q, name| q.domainname = Some(name))
}

/// Gives every process the call's name (`set` stores it in the utsname field).
fn set_uts_name(p: &mut Process, f: &TrapFrame, set: fn(&mut Process, Vec<u8>)) -> SysResult {
    let name = uts_name(p, f.rdi, f.rsi)?;
    for q in p.shared.processes.iter_mut() {
        set(q, name.clone());
    }
    set(p, name);
    Ok(0)
}

/// A name for a utsname field: `len` bytes at `addr` (EINVAL past 64, as a negative int is),
/// cut at a NUL as the field shows it.
fn uts_name(p: &mut Process, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = len as i32;
    if !(0..=64).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let mut name = user::read(&mut p.space, addr, len as u64)?.to_vec();
    if let Some(end) = name.iter().position(|&b| b == 0) {
        name.truncate(end);
    }
    Ok(name)
}

/// How many resource limits there are (`RLIMIT_CPU` 0 to `RLIMIT_RTTIME` 15).
pub const RLIMITS: usize = 16;

/// Every resource limit, (soft, hard) by `RLIMIT_*` number, for a process whose limits of
/// open files are `nofile`: the stack reservation, the open files, the signals a pending
/// set queues; the rest unlimited (memory is bounded by the VM's size, not a limit).
pub fn limits(nofile: (u64, u64)) -> [(u64, u64); RLIMITS] {
    const INFINITY: u64 = u64::MAX;
    let mut limits = [(INFINITY, INFINITY); RLIMITS];
    limits[3] = (crate::process::STACK_RESERVE, INFINITY);
    limits[7] = nofile;
    limits[11] = (crate::signal::QUEUE_LIMIT as u64, crate::signal::QUEUE_LIMIT as u64);
    limits
}

/// `CAP_SYS_RESOURCE`: raising a hard limit.
const CAP_SYS_RESOURCE: u64 = 1 << 24;

/// Resource limits: (soft, hard) for each RLIMIT_* the app may ask about.
fn limit(p: &Process, resource: u64) -> Result<(u64, u64), Errno> {
    let index = usize::try_from(resource).map_err(|_| Errno::EINVAL)?;
    limits(p.files.fds.lock().limits()).get(index).copied().ok_or(Errno::EINVAL)
}

/// prlimit64(pid, resource, new, old): only RLIMIT_NOFILE's limits change (the soft one
/// holds for new fds; the hard one bounds the soft one, and raising it needs
/// CAP_SYS_RESOURCE, EPERM past the fd table's 1024 in any case); other new limits are
/// accepted and have no effect (the VM's size is the real bound).
pub fn sys_prlimit64(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [pid, resource, new, old, ..] = f.syscall_args();
    if pid != 0 && pid != u64::from(p.pid) {
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
            let may_raise = p.view.capabilities().effective & CAP_SYS_RESOURCE != 0;
            if hard > crate::fs::RLIMIT_NOFILE || (hard > current.1 && !may_raise) {
                return Err(Errno::EPERM);
            }
            p.nofile_limit = soft;
            let mut fds = p.files.fds.lock();
            fds.set_limit(soft);
            fds.set_hard_limit(hard);
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
