//! Threads: clone/clone3 (threads only: one address space per VM), gettid, set_tid_address,
//! set_robust_list, thread exit, and the start of a thread on its vCPU.
//!
//! A new thread gets a vCPU of its own: an idle one (whose thread ended) or a new one the VMM
//! starts (`VcpuStart`). Its first trap frame, a copy of the parent's with rax = 0 and the new
//! stack, goes at the top of that vCPU's kernel stack, and it enters the app through the one
//! return path, as a syscall returns.

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::thread::Thread;
use crate::user;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x1_0000;
const CLONE_NEWNS: u64 = 0x2_0000;
const CLONE_SYSVSEM: u64 = 0x4_0000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_DETACHED: u64 = 0x40_0000;
const CLONE_UNTRACED: u64 = 0x80_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// Flags a thread and a process may both be asked with: the thread pointer, the tid words,
/// and flags with no effect here (CLONE_SYSVSEM: no SysV semaphores; CLONE_DETACHED is
/// ignored by Linux; CLONE_UNTRACED and CLONE_PTRACE concern tracers, which do not exist).
const COMMON_FLAGS: u64 = CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_CHILD_SETTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_PTRACE;
/// What a thread library passes.
const THREAD_FLAGS: u64 = COMMON_FLAGS | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;

/// What clone and clone3 ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CloneArgs {
    flags: u64,
    /// The new thread's stack pointer (0: the parent's).
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
}

/// Checks `flags` as Linux does for a thread (CLONE_THREAD set).
fn check_flags(flags: u64) -> Result<(), Errno> {
    // Linux: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
    if flags & CLONE_SIGHAND == 0 || flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS) {
        return Err(Errno::EINVAL);
    }
    // CLONE_VFORK, CLONE_PIDFD with CLONE_THREAD, CLONE_PARENT, namespaces: not for threads.
    if flags & (CLONE_PIDFD | CLONE_VFORK | CLONE_PARENT) != 0 || flags & !THREAD_FLAGS & !0xff != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Flags a new process may be asked with (fork, vfork, posix_spawn): CLONE_VM with
/// CLONE_VFORK runs the child on its waiting parent's memory when the parent has one thread,
/// and on a copy otherwise (`crate::family::fork`); CLONE_PIDFD gives the parent a pidfd.
const PROCESS_FLAGS: u64 = COMMON_FLAGS | CLONE_VM | CLONE_VFORK | CLONE_PIDFD;

/// The pointers of a new process's clone: where the parent and the child get its pid and
/// where the parent gets its pidfd (clone's `parent_tid` again; clone3's own field).
struct ProcessPointers {
    parent_tid: u64,
    child_tid: u64,
    pidfd: u64,
}

/// A new process as clone's `flags` (CLONE_THREAD clear) and arguments ask: EINVAL where
/// Linux refuses the flags (CLONE_SIGHAND without CLONE_VM; CLONE_PIDFD with CLONE_DETACHED,
/// or with CLONE_PARENT_SETTID at the same address), ENOSYS for what is not served (sharing
/// the fd table, handlers or working directory with the parent; namespaces), so it shows in
/// the syscall trace.
fn fork_request(
    flags: u64,
    stack: u64,
    at: ProcessPointers,
    tls: u64,
    exit_signal: u64,
) -> Result<crate::family::ForkRequest, Errno> {
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_PIDFD != 0
        && (flags & CLONE_DETACHED != 0 || (flags & CLONE_PARENT_SETTID != 0 && at.pidfd == at.parent_tid))
    {
        return Err(Errno::EINVAL);
    }
    if flags & !PROCESS_FLAGS != 0 {
        return Err(Errno::ENOSYS);
    }
    if exit_signal > crate::signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_SETTLS != 0 && tls >= uvm_abi::layout::USER_END_VA {
        return Err(Errno::EPERM);
    }
    let when = |flag: u64, value: u64| (flags & flag != 0).then_some(value);
    Ok(crate::family::ForkRequest {
        stack,
        vfork: flags & CLONE_VFORK != 0,
        share_memory: flags & CLONE_VM != 0,
        tls: when(CLONE_SETTLS, tls),
        parent_tid: when(CLONE_PARENT_SETTID, at.parent_tid),
        child_tid: when(CLONE_CHILD_SETTID, at.child_tid),
        clear_child_tid: when(CLONE_CHILD_CLEARTID, at.child_tid),
        exit_signal: exit_signal as u32,
        pidfd: when(CLONE_PIDFD, at.pidfd),
    })
}

/// clone(flags, stack, parent_tid, child_tid, tls): a thread, or with CLONE_THREAD clear a
/// new process (its exit signal in the low byte of `flags`).
pub fn sys_clone(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [flags, stack, parent_tid, child_tid, tls, _] = f.syscall_args();
    if flags & CLONE_THREAD == 0 {
        let at = ProcessPointers { parent_tid, child_tid, pidfd: parent_tid };
        let request = fork_request(flags & !0xff, stack, at, tls, flags & 0xff)?;
        return crate::family::fork(p, f, request);
    }
    check_flags(flags)?;
    spawn(p, f, CloneArgs { flags, stack, parent_tid, child_tid, tls })
}

/// fork(): a new process, SIGCHLD at its end.
pub fn sys_fork(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let request =
        crate::family::ForkRequest { exit_signal: crate::signal::Signal::SIGCHLD as u32, ..Default::default() };
    crate::family::fork(p, f, request)
}

/// vfork(): fork, the caller waiting until the child execs or ends.
pub fn sys_vfork(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let request = crate::family::ForkRequest {
        vfork: true,
        share_memory: true,
        exit_signal: crate::signal::Signal::SIGCHLD as u32,
        ..Default::default()
    };
    crate::family::fork(p, f, request)
}

/// Bytes of clone3's `struct clone_args` before `set_tid` (CLONE_ARGS_SIZE_VER0).
const CLONE_ARGS_SIZE_VER0: u64 = 64;

/// clone3(args, size).
pub fn sys_clone3(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [addr, size, ..] = f.syscall_args();
    if !(CLONE_ARGS_SIZE_VER0..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let raw = user::read(&mut p.space, addr, size)?;
    let word = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let [flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls] = core::array::from_fn(word);
    // set_tid, set_tid_size and cgroup (and anything newer) must be zero.
    if raw[CLONE_ARGS_SIZE_VER0 as usize..].iter().any(|&b| b != 0) {
        return Err(Errno::EINVAL);
    }
    // The stack is given as base and size.
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let top = if stack == 0 { 0 } else { stack.checked_add(stack_size).ok_or(Errno::EINVAL)? };
    if flags & CLONE_THREAD == 0 {
        // clone3 takes the exit signal apart; the flags' low byte must be clear.
        if flags & 0xff != 0 {
            return Err(Errno::EINVAL);
        }
        let request = fork_request(flags, top, ProcessPointers { parent_tid, child_tid, pidfd }, tls, exit_signal)?;
        return crate::family::fork(p, f, request);
    }
    check_flags(flags)?;
    // A thread has no exit signal.
    if exit_signal != 0 {
        return Err(Errno::EINVAL);
    }
    spawn(p, f, CloneArgs { flags, stack: top, parent_tid, child_tid, tls })
}

/// Makes a thread as `args` asks (its flags already passed [`check_flags`]), running on from
/// the parent's registers `f`; its tid.
fn spawn(p: &mut Process, f: &TrapFrame, args: CloneArgs) -> SysResult {
    if args.flags & CLONE_SETTLS != 0 && args.tls >= uvm_abi::layout::USER_END_VA {
        return Err(Errno::EPERM);
    }
    let tid = p.shared.vcpus.next_tid;
    if args.flags & CLONE_PARENT_SETTID != 0 {
        user::write_u32(&mut p.space, args.parent_tid, tid)?;
    }
    if args.flags & CLONE_CHILD_SETTID != 0 {
        // Same address space: the child's view is the parent's. A bad pointer is ignored,
        // as Linux's child-side write would fail silently.
        let _ = user::write_u32(&mut p.space, args.child_tid, tid);
    }
    let vcpu = take_vcpu(p)?;
    p.shared.vcpus.next_tid += 1;
    // The child inherits the signal mask; pending signals and the alternate stack are its own.
    let mut signals = crate::signal::ThreadSignals::new();
    signals.set_blocked(p.thread.signals.blocked);
    let started_ns = p.clock.monotonic_ns(crate::time::rdtsc());
    p.view.cpu.thread_started(started_ns);
    let mut thread = Thread::new(tid, vcpu.cpu, signals, started_ns);
    // A new thread starts with its creator's name, as on Linux.
    thread.name = p.thread.name;
    thread.affinity = p.thread.affinity;
    thread.sched = p.thread.sched.inherited();
    if args.flags & CLONE_CHILD_CLEARTID != 0 {
        thread.clear_child_tid = args.child_tid;
    }
    let mut frame = *f;
    frame.rax = 0;
    if args.stack != 0 {
        frame.rsp = args.stack;
    }
    let fs_base = if args.flags & CLONE_SETTLS != 0 { args.tls } else { p.fs_base() };
    start_on_vcpu(p, vcpu, &frame, fs_base, p.space.root())?;
    p.threads.others.push(thread);
    p.threads_changed();
    Ok(tid as usize)
}

/// A vCPU for a new thread, not started yet.
#[derive(Clone, Copy, Debug)]
pub struct FreeVcpu {
    /// Its index.
    pub cpu: u32,
    /// Its per-CPU area (an idle one's; a fresh one's is made by [`start_on_vcpu`]).
    area: u64,
    /// Whether the VMM has yet to make it (else it idles, parked in the guest).
    fresh: bool,
}

/// A vCPU for a new thread: an idle one, else a new one (EAGAIN when the VM has its most).
/// Give it back with [`start_on_vcpu`] or [`give_back_vcpu`].
pub fn take_vcpu(p: &mut Process) -> Result<FreeVcpu, Errno> {
    let vcpus = &mut p.shared.vcpus;
    if let Some(cpu) = vcpus.idle.pop() {
        return Ok(FreeVcpu { cpu, area: vcpus.areas[cpu as usize], fresh: false });
    }
    let cpu = vcpus.areas.len() as u32;
    if cpu >= uvm_abi::layout::MAX_VCPUS {
        return Err(Errno::EAGAIN);
    }
    // Its area is made when it starts: a fork that fails before then allocates nothing.
    Ok(FreeVcpu { cpu, area: 0, fresh: true })
}

/// Returns a vCPU [`take_vcpu`] gave that no thread will use after all (a fresh one is
/// forgotten: the next new vCPU takes its index, with an area of its own).
pub fn give_back_vcpu(p: &mut Process, vcpu: FreeVcpu) {
    if !vcpu.fresh {
        p.shared.vcpus.idle.push(vcpu.cpu);
    }
}

/// A new vCPU's per-CPU area and stacks (its address).
fn new_vcpu_area(cpu: u32) -> Option<u64> {
    #[cfg(not(test))]
    return crate::arch::percpu::new_secondary(cpu, crate::arch::percpu::current().hardware_virt != 0);
    #[cfg(test)]
    return Some(u64::from(cpu) << 20);
}

/// Starts `frame` with FS base `fs_base` and the page tables at `root` on `vcpu`: a fresh
/// one through the VMM, an idle one by waking it. On failure the vCPU is given back.
pub fn start_on_vcpu(p: &mut Process, vcpu: FreeVcpu, frame: &TrapFrame, fs_base: u64, root: u64) -> Result<(), Errno> {
    let area = if vcpu.fresh { new_vcpu_area(vcpu.cpu).ok_or(Errno::EAGAIN)? } else { vcpu.area };
    #[cfg(not(test))]
    {
        use crate::arch::percpu;
        percpu::prepare_start(area, frame, fs_base, root);
        if vcpu.fresh {
            let rsp = percpu::start_frame_address(area);
            let entry = crate::arch::entry::secondary_entry_address();
            if crate::hypercall::vcpu_start(vcpu.cpu, entry, rsp, area, root) < 0 {
                give_back_vcpu(p, vcpu);
                return Err(Errno::EAGAIN);
            }
            crate::wake::vcpu_started();
        } else {
            percpu::request_start(area);
            crate::hypercall::unpark(vcpu.cpu);
        }
    }
    #[cfg(test)]
    let _ = (frame, fs_base, root);
    if vcpu.fresh {
        p.shared.vcpus.areas.push(area);
    }
    Ok(())
}

/// The Rust half of a vCPU's first entry (from `arch::entry`): start the thread prepared for it.
#[cfg(not(test))]
pub extern "C" fn secondary_main() -> ! {
    enter_prepared_thread()
}

/// Enters the app on this vCPU with the frame and FS base the thread's creator prepared.
#[cfg(not(test))]
fn enter_prepared_thread() -> ! {
    use crate::arch::percpu;
    let pc = percpu::current();
    if pc.loaded_root() == 0 {
        // A fresh vCPU: the VMM started it on its thread's tables (published already by
        // `percpu::prepare_start`).
        pc.publish_root(pc.start_root);
    }
    let (root, fs_base, area) = (pc.start_root, pc.start_fs_base, pc as *mut percpu::PerCpu as u64);
    // A thread of another process than this vCPU's last takes that process's tables.
    crate::family::switch_root(root);
    crate::arch::instr::write_fs_base(fs_base);
    let frame = percpu::start_frame_address(area);
    // SAFETY: the creator wrote a complete frame there (at the top of this vCPU's kernel
    // stack, below which this code runs) before starting or waking this vCPU.
    unsafe { crate::arch::entry::return_to_app(frame as *const TrapFrame) }
}

/// gettid().
pub fn sys_gettid(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    Ok(p.thread.tid as usize)
}

/// set_tid_address(tidptr): cleared and woken at the thread's exit; returns the tid.
pub fn sys_set_tid_address(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.thread.clear_child_tid = f.rdi;
    Ok(p.thread.tid as usize)
}

/// Bytes of `struct robust_list_head`.
const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// set_robust_list(head, len): walked at the thread's exit.
pub fn sys_set_robust_list(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    if f.rsi != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    p.thread.robust_list = f.rdi;
    Ok(0)
}

/// get_robust_list(tid, head_ptr, len_ptr).
pub fn sys_get_robust_list(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [tid, head_ptr, len_ptr, ..] = f.syscall_args();
    let head = if tid == 0 || tid == u64::from(p.thread.tid) {
        p.thread.robust_list
    } else {
        p.threads.get_mut(tid as u32).ok_or(Errno::ESRCH)?.robust_list
    };
    user::write_u64(&mut p.space, head_ptr, head)?;
    user::write_u64(&mut p.space, len_ptr, ROBUST_LIST_HEAD_SIZE)?;
    Ok(0)
}

/// sched_yield(): the host schedules the vCPUs' threads. With more threads than CPUs (`[vm]
/// cpus`), some wait for a run slot: a zero-length park hands this vCPU's slot to the one
/// that waited longest. Otherwise there is nobody to yield to (no exit).
pub fn sys_sched_yield(p: &mut Process, _: &mut TrapFrame) -> SysResult {
    // The thread gives way: what it sent goes out (a flush point).
    p.flush_net();
    if p.threads.others.len() as u32 >= p.cpu_count {
        p.park(0);
    }
    Ok(0)
}

/// exit(status): ends the calling thread; the last thread's exit ends the process with
/// `status`, as on Linux.
pub fn sys_exit(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let status = f.rdi as i32;
    if p.threads.others.is_empty() {
        p.exit(status)
    }
    p.flush_net();
    exit_thread(p)
}

/// exit_group(status): ends every thread: the VM stops.
pub fn sys_exit_group(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    p.exit(f.rdi as i32)
}

/// Linux's robust-futex bits.
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// The most robust-list entries walked (Linux's ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;

/// Marks the futex at `addr` as its dead owner's (`tid`) and wakes a waiter, as Linux's
/// handle_futex_death does. Bad addresses end the walk quietly.
fn robust_futex_died(p: &mut Process, addr: u64, tid: u32) -> Result<(), Errno> {
    let b = user::read(&mut p.space, addr, 4)?;
    let value = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if value & FUTEX_TID_MASK != tid {
        return Ok(());
    }
    user::write_u32(&mut p.space, addr, (value & FUTEX_WAITERS) | FUTEX_OWNER_DIED)?;
    if value & FUTEX_WAITERS != 0 {
        super::futex::wake_word(p, addr);
    }
    Ok(())
}

/// Walks the exiting thread's robust list (set_robust_list): every lock it still holds is
/// marked FUTEX_OWNER_DIED and one waiter woken.
fn release_robust_futexes(p: &mut Process) -> Result<(), Errno> {
    let head = p.thread.robust_list;
    let tid = p.thread.tid;
    if head == 0 {
        return Ok(());
    }
    let next_of = |p: &mut Process, at: u64| user::read_u64(&mut p.space, at).map(|v| v & !1);
    let offset = user::read_u64(&mut p.space, head + 8)? as i64;
    let pending = next_of(p, head + 16)?;
    let mut entry = next_of(p, head)?;
    let mut walked = 0;
    while entry != head && walked < ROBUST_LIST_LIMIT {
        let next = next_of(p, entry)?;
        if entry != pending {
            robust_futex_died(p, entry.wrapping_add_signed(offset), tid)?;
        }
        entry = next;
        walked += 1;
    }
    if pending != 0 {
        robust_futex_died(p, pending.wrapping_add_signed(offset), tid)?;
    }
    Ok(())
}

/// What a thread's end does to futexes: its robust list's locks are marked as their owner's
/// death and a waiter woken, and its clear_child_tid word is zeroed and woken (pthread_join
/// waits on it). Both wakes reach other processes that share the memory.
pub fn release_thread_futexes(p: &mut Process) {
    let _ = release_robust_futexes(p);
    let clear = p.thread.clear_child_tid;
    if clear != 0 && user::write_u32(&mut p.space, clear, 0).is_ok() {
        super::futex::wake_word(p, clear);
    }
}

/// Ends the current thread while others run on: releases its robust futexes, clears and
/// wakes its clear_child_tid word (pthread_join waits on it), and parks its vCPU until a new
/// thread is started on it.
fn exit_thread(p: &mut Process) -> ! {
    if p.thread.signals.stopping {
        // It was told to stop: the stop's report waits for it no longer.
        crate::job::thread_stopped(p);
    }
    release_thread_futexes(p);
    let now = p.clock.monotonic_ns(crate::time::rdtsc());
    p.view.cpu.thread_ended(p.thread.started_ns, p.thread.waited_ns, now);
    let cpu = p.thread.cpu;
    // Another thread becomes `Process::thread` until the next vCPU takes the lock.
    let Some(next) = p.threads.others.pop() else { crate::hypercall::panic(b"exit_thread without other threads") };
    p.thread = next;
    p.shared.vcpus.idle.push(cpu);
    super::itimer::thread_ended(p, cpu);
    p.threads_changed();
    idle(p)
}

/// How long an execve waits for the other threads to end before it looks again (and
/// interrupts the ones still there again).
const END_WAIT_NS: u64 = 1_000_000;

/// execve: ends every thread but the caller, as Linux's `de_thread`. Each is told
/// (`ThreadSignals::ending`) and interrupted, which wakes it if it waits in the kernel and
/// stops it if it runs app code; it ends where it next meets the signal check, releasing its
/// robust futexes and clear_child_tid word as any thread's end does, while the caller waits.
/// A caller that is itself told to end (two threads calling execve at once) ends instead.
pub fn end_other_threads(p: &mut Process) {
    loop {
        if p.thread.signals.ending {
            end_for_exec(p);
        }
        if p.threads.others.is_empty() {
            return;
        }
        for thread in p.threads.others.iter_mut() {
            thread.signals.ending = true;
            thread.nudge();
        }
        p.park_spinning(END_WAIT_NS);
    }
}

/// Ends the current thread, which another thread's execve told to end.
pub fn end_for_exec(p: &mut Process) -> ! {
    exit_thread(p)
}

/// Parks this vCPU, whose thread ended, until a new thread is prepared for it; then enters it.
/// It idles on the boot tables (the app's, which live as long as the VM), switched to with
/// the lock still held: its process may end, and free its tables, as soon as the lock is
/// released.
#[cfg(not(test))]
pub fn idle(p: &mut Process) -> ! {
    use crate::family::{boot_root, switch_root, HOLDING_SPARE};
    // Its thread or process may have ended from the fault entry (a signal that kills, an
    // interrupt while it ran app code): the vCPU's next thread starts outside any fault.
    let holding = {
        let pc = crate::arch::percpu::current();
        pc.in_fault = 0;
        pc.loaded_root() == HOLDING_SPARE
    };
    // On the tables of a process that ended, which it holds, it may wait a while for its
    // next thread (a fork or a new thread may come soon: a shell's next command); a
    // thread's end leaves its process's tables at once.
    if !holding {
        switch_root(boot_root());
    }
    match crate::process::PROCESS.release_while(p, || -> core::convert::Infallible {
        let started = holding && crate::wake::spin_until(crate::arch::percpu::take_start_request);
        if !started {
            // Off the ended process's tables before a park (whatever then frees them).
            switch_root(boot_root());
            while !crate::arch::percpu::take_start_request() {
                crate::hypercall::park_spinning(u64::MAX);
            }
        }
        enter_prepared_thread()
    }) {}
}

#[cfg(test)]
pub fn idle(_: &mut Process) -> ! {
    panic!("a host test ended a thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_flags_as_glibc_and_musl_pass_them() {
        // glibc's pthread_create.
        let glibc = CLONE_VM
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SYSVSEM
            | CLONE_SIGHAND
            | CLONE_THREAD
            | CLONE_SETTLS
            | CLONE_PARENT_SETTID
            | CLONE_CHILD_CLEARTID;
        assert_eq!(check_flags(glibc), Ok(()));
        // musl's adds CLONE_DETACHED.
        assert_eq!(check_flags(glibc | CLONE_DETACHED), Ok(()));
        // Go's runtime: no SETTID flags.
        assert_eq!(
            check_flags(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SYSVSEM | CLONE_THREAD),
            Ok(())
        );
    }

    #[test]
    fn process_flags_as_libcs_pass_them() {
        let nowhere = || ProcessPointers { parent_tid: 0, child_tid: 0, pidfd: 0 };
        let request = |flags: u64| fork_request(flags & !0xff, 0, nowhere(), 0, flags & 0xff);
        let fork = request(17).expect("fork: SIGCHLD only");
        assert_eq!((fork.vfork, fork.exit_signal, fork.tls), (false, 17, None));
        // glibc's fork.
        let glibc = request(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | 17).expect("glibc fork");
        assert_eq!((glibc.child_tid, glibc.clear_child_tid), (Some(0), Some(0)));
        assert!(request(CLONE_VM | CLONE_VFORK | 17).expect("posix_spawn").vfork);
        assert_eq!(request(CLONE_SIGHAND | 17), Err(Errno::EINVAL), "handlers shared need the memory shared");
        assert_eq!(request(CLONE_FILES | 17), Err(Errno::ENOSYS), "a shared fd table is not served");
        assert_eq!(request(CLONE_VM | CLONE_SIGHAND | 17), Err(Errno::ENOSYS));
        assert_eq!(fork_request(0, 0, nowhere(), 0, 65), Err(Errno::EINVAL), "no such exit signal");
        let pidfd = request(CLONE_PIDFD | 17).expect("a pidfd");
        assert_eq!(pidfd.pidfd, Some(0));
        assert_eq!(request(CLONE_PIDFD | CLONE_DETACHED | 17), Err(Errno::EINVAL));
        assert_eq!(request(CLONE_PIDFD | CLONE_PARENT_SETTID | 17), Err(Errno::EINVAL), "clone's one pointer");
        let apart = ProcessPointers { parent_tid: 8, child_tid: 0, pidfd: 16 };
        let both = fork_request(CLONE_PIDFD | CLONE_PARENT_SETTID, 0, apart, 0, 17).expect("clone3's two pointers");
        assert_eq!((both.parent_tid, both.pidfd), (Some(8), Some(16)));
        assert_eq!(check_flags(CLONE_VM | CLONE_THREAD), Err(Errno::EINVAL), "a thread needs CLONE_SIGHAND");
        assert_eq!(check_flags(CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_VFORK), Err(Errno::EINVAL));
    }
}
