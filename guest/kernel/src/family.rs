//! Processes beyond the first: fork (a child with a copy of its parent's memory, on a vCPU
//! of its own with page tables of its own), a process's end (its parent learns it through
//! wait4/waitid and SIGCHLD; its children go to the app, pid 1), and signals between
//! processes.
//!
//! There is no scheduler here either: each process's threads run on vCPUs of their own, and
//! a vCPU runs on the page tables of the process whose thread it runs (set when the VMM
//! starts it, or with the `SetRoot` hypercall when an idle vCPU takes a thread of another
//! process). Idle vCPUs run on the boot tables, the app's, which live as long as the VM.
//! The app's end ends the VM, and with it every process, as a container ends with its
//! first process.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::frame::TrapFrame;
use crate::errno::SysResult;
use crate::fs::pidfd::{PidFd, Stage};
use crate::process::{Process, INIT_PID};
use crate::signal::deliver::{self, Target};
use crate::signal::{SigFields, SigInfo, Signal};
use crate::syscall::clone;

/// The boot page tables' root (the app's), where idle vCPUs run.
static BOOT_ROOT: AtomicU64 = AtomicU64::new(0);

/// Records the boot tables' root (at boot).
pub fn set_boot_root(root: u64) {
    BOOT_ROOT.store(root, Ordering::Relaxed);
}

/// The boot tables' root.
pub fn boot_root() -> u64 {
    BOOT_ROOT.load(Ordering::Relaxed)
}

/// What a vCPU's `PerCpu::root` says while it holds its ended process's tables (a spare:
/// `FrameAllocator::keep_held_spare`): whatever it switches to next takes a `SetRoot`, which
/// also makes KVM see what changed in them meanwhile.
pub const HOLDING_SPARE: u64 = u64::MAX;

/// Moves this vCPU to the page tables at `root` (a `SetRoot` exit), unless it runs on them
/// already; the ended process's tables it held are let go then.
pub fn switch_root(root: u64) {
    #[cfg(not(test))]
    {
        let pc = crate::arch::percpu::current();
        let old = pc.loaded_root();
        if old != root {
            // Published first: a flush of `root`'s changes that misses this vCPU comes
            // before the load, which sees them (`percpu::vcpus_on`).
            pc.publish_root(root);
            crate::hypercall::set_root(root);
            let (held, cpu) = (old == HOLDING_SPARE, pc.cpu_index as u32);
            if held {
                crate::mm::FRAMES.lock().let_go_of_spare(cpu);
            }
        }
    }
    #[cfg(test)]
    let _ = root;
}

/// At a process's end: its tables become a spare this vCPU holds and stays on while it
/// waits for its next thread ([`HOLDING_SPARE`]), or, if they cannot be kept so, it moves
/// to the boot tables before they become a spare.
fn retire_tables(p: &mut Process) {
    let cpu = p.thread.cpu;
    if p.space.retire_held(cpu) {
        #[cfg(not(test))]
        {
            crate::arch::percpu::current().publish_root(HOLDING_SPARE);
        }
        return;
    }
    switch_root(boot_root());
    p.space.retire();
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// exit or exit_group with this status (its low 8 bits count).
    Exited(i32),
    /// Killed by this signal.
    Killed(u32),
}

/// SIGCHLD's and waitid's si_code for a child that exited.
pub const CLD_EXITED: i32 = 1;
/// ... that a signal killed.
pub const CLD_KILLED: i32 = 2;
/// ... that a stop signal stopped (`crate::job`).
pub const CLD_STOPPED: i32 = 5;
/// ... that a SIGCONT continued.
pub const CLD_CONTINUED: i32 = 6;

impl Ending {
    /// The status wait4 reports: the exit code in bits 8-15, or the signal in bits 0-6.
    pub fn wait_status(self) -> i32 {
        match self {
            Ending::Exited(code) => (code & 0xff) << 8,
            Ending::Killed(sig) => (sig & 0x7f) as i32,
        }
    }

    /// waitid's and SIGCHLD's si_code and si_status.
    pub fn code_and_status(self) -> (i32, i32) {
        match self {
            Ending::Exited(code) => (CLD_EXITED, code & 0xff),
            Ending::Killed(sig) => (CLD_KILLED, sig as i32),
        }
    }
}

/// A child that ended and was not yet waited for (a zombie).
#[derive(Clone)]
pub struct ExitedChild {
    /// Its pid.
    pub pid: u32,
    /// Its process group when it ended.
    pub pgid: u32,
    /// Its uid.
    pub uid: u32,
    /// How it ended.
    pub ending: Ending,
    /// Its CPU time, its own waited-for children's included (`crate::cputime`).
    pub cpu_ns: u64,
    /// The node its pidfds share, if it has any: told when the record is reaped.
    pub pidfd: Option<Arc<PidFd>>,
}

impl ExitedChild {
    /// It was waited for (or its parent reaps its children itself): nothing of it is left.
    fn reaped(&self) {
        if let Some(pidfd) = &self.pidfd {
            pidfd.advance(Stage::Reaped);
        }
    }
}

/// What fork, vfork or a clone without CLONE_THREAD asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForkRequest {
    /// The child's stack pointer (0: the parent's).
    pub stack: u64,
    /// CLONE_VFORK: the caller waits until the child execs or ends.
    pub vfork: bool,
    /// CLONE_VM: the child runs on the caller's memory (served so when the caller has one
    /// thread and waits: CLONE_VFORK; else the child gets a copy).
    pub share_memory: bool,
    /// CLONE_SETTLS's thread pointer.
    pub tls: Option<u64>,
    /// CLONE_PARENT_SETTID: where the parent gets the child's pid.
    pub parent_tid: Option<u64>,
    /// CLONE_CHILD_SETTID: where the child's memory gets its pid.
    pub child_tid: Option<u64>,
    /// CLONE_CHILD_CLEARTID: the child's clear_child_tid word.
    pub clear_child_tid: Option<u64>,
    /// The signal the parent gets at the child's end.
    pub exit_signal: u32,
    /// CLONE_PIDFD: where the parent gets the number of a pidfd for the child.
    pub pidfd: Option<u64>,
}

/// Makes a child process that runs on from the caller's registers `f` (rax 0 there); its
/// pid. EAGAIN when no vCPU is left for it, ENOMEM when memory runs out for its copy.
pub fn fork(p: &mut Process, f: &TrapFrame, request: ForkRequest) -> SysResult {
    let vcpu = clone::take_vcpu(p)?;
    let pid = p.shared.vcpus.next_tid;
    if let Some(at) = request.parent_tid {
        // Linux ignores a bad pointer here.
        let _ = crate::user::write_u32(&mut p.space, at, pid);
    }
    // posix_spawn's child runs on its waiting parent's memory (and reports a failed exec
    // there); with other threads running on that memory, it gets a copy.
    let borrow = request.share_memory && request.vfork && p.threads.others.is_empty();
    let space = if borrow {
        let placeholder = p.space.placeholder();
        core::mem::replace(&mut p.space, placeholder)
    } else {
        match p.space.fork() {
            Ok(space) => space,
            Err(e) => {
                clone::give_back_vcpu(p, vcpu);
                return Err(e);
            }
        }
    };
    let mut child = p.forked(pid, vcpu.cpu, space, request.exit_signal);
    child.borrowed_space = borrow;
    // After the copies: the child has neither the pidfd nor its number, as on Linux.
    let pidfd = match request.pidfd.map(|at| give_pidfd(p, &mut child, at)).transpose() {
        Ok(fd) => fd,
        Err(e) => {
            if borrow {
                p.space = core::mem::replace(&mut child.space, p.space.placeholder());
            }
            discard(child);
            clone::give_back_vcpu(p, vcpu);
            return Err(e);
        }
    };
    if let Some(at) = request.child_tid {
        // Through the child's tables: `user::write_u32` would write the running (parent's)
        // memory, which is the child's only when it borrows it.
        let _ = child.space.write_through_tables(at, &pid.to_le_bytes());
    }
    child.thread.clear_child_tid = request.clear_child_tid.unwrap_or(0);
    if request.vfork {
        child.vfork_parent = Some(p.thread.cpu);
    }
    let mut frame = *f;
    frame.rax = 0;
    if request.stack != 0 {
        frame.rsp = request.stack;
    }
    let fs_base = request.tls.unwrap_or_else(|| p.fs_base());
    let root = child.space.root();
    if let Err(e) = clone::start_on_vcpu(p, vcpu, &frame, fs_base, root) {
        if borrow {
            p.space = core::mem::replace(&mut child.space, p.space.placeholder());
        }
        if let Some(fd) = pidfd {
            let _ = p.files.fds.lock().close(fd);
        }
        discard(child);
        return Err(e);
    }
    p.shared.vcpus.next_tid += 1;
    // Both are listed under /proc (registering the parent again changes nothing).
    let views: [Arc<dyn crate::fs::ProcessView>; 2] = [p.view.clone(), child.view.clone()];
    for view in &views {
        p.vfs.register_process(view);
    }
    p.shared.processes.push(child);
    if request.vfork {
        wait_for_vfork_child(p, pid);
    }
    Ok(pid as usize)
}

/// CLONE_PIDFD: gives the parent `p` a pidfd for `child` (close-on-exec, as Linux makes it),
/// its number written at `at` in the parent's memory (which a vfork child borrows): the fd,
/// or EFAULT (and no fd) when `at` cannot be written.
#[cold]
fn give_pidfd(p: &mut Process, child: &mut Process, at: u64) -> Result<i32, crate::errno::Errno> {
    let node = p.vfs.pidfd_node(child.pid, Stage::Running);
    let fd = p.files.fds.lock().insert(p.vfs.pidfd(node.clone(), false), true)?;
    let memory = if child.borrowed_space { &mut child.space } else { &mut p.space };
    if let Err(e) = crate::user::write_u32(memory, at, fd as u32) {
        let _ = p.files.fds.lock().close(fd);
        return Err(e);
    }
    child.pidfd = Some(node);
    Ok(fd)
}

/// Frees what a child that never ran holds (no vCPU runs on its tables, which the next
/// fork may take).
fn discard(mut child: Process) {
    child.space.retire();
}

/// Waits (parked) until the vfork child `pid` execs or ends. Signals wait: a vfork parent
/// cannot run its handlers before its child lets go of the memory they would share.
fn wait_for_vfork_child(p: &mut Process, pid: u32) {
    let me = p.thread.cpu;
    while p.other(pid).is_some_and(|child| child.vfork_parent == Some(me)) {
        p.park_spinning(u64::MAX);
    }
}

/// The vfork parent of this process may run on (it execs or ends); its memory, if this
/// process ran on it, must be given back first ([`take_fresh_space`], [`give_back_space`]).
pub fn release_vfork_parent(p: &mut Process) {
    if let Some(cpu) = p.vfork_parent.take() {
        crate::hypercall::unpark(cpu);
    }
}

/// Gives the memory this process ran on back to its vfork parent (it ends), leaving a
/// placeholder. This vCPU must be off those tables.
fn give_back_space(p: &mut Process) {
    if p.borrowed_space {
        let placeholder = p.space.placeholder();
        let borrowed = core::mem::replace(&mut p.space, placeholder);
        return_borrowed_space(p, borrowed);
    }
}

/// Hands `borrowed`, the memory this vfork child ran on, back to its parent, which waits.
fn return_borrowed_space(p: &mut Process, borrowed: crate::mm::space::AddressSpace) {
    p.borrowed_space = false;
    let ppid = p.ppid;
    match p.other(ppid) {
        Some(parent) => parent.space = borrowed,
        None => crate::hypercall::panic(b"a vfork child outlived its parent"),
    }
}

/// execve in a process other than the app: the new program gets fresh, empty tables. A
/// vfork child gives the memory it ran on back to its parent; another process's old memory
/// and tables are freed, with no flush (no vCPU runs on them once this one has switched),
/// or kept for the next fork ([`AddressSpace::retire`](crate::mm::space::AddressSpace::retire)).
/// The app keeps the boot tables, where idle vCPUs run (execve unmaps its old program
/// instead): `Ok(false)`. ENOMEM when no frame is left for the tables (nothing changed then).
///
/// The fresh tables may be a spare tree's that keep the entries `keep(va, entry)` says the
/// new program maps the same way; `fits` names the program
/// ([`AddressSpace::fresh`](crate::mm::space::AddressSpace::fresh)).
pub fn take_fresh_space(
    p: &mut Process,
    fits: u64,
    keep: &dyn Fn(u64, u64) -> bool,
) -> Result<bool, crate::errno::Errno> {
    if p.pid == INIT_PID {
        return Ok(false);
    }
    let fresh = p.space.fresh(boot_root(), fits, keep)?;
    switch_root(fresh.root());
    let mut old = core::mem::replace(&mut p.space, fresh);
    p.view.set_memory(p.space.memory_share());
    if p.borrowed_space {
        return_borrowed_space(p, old);
    } else {
        old.retire();
    }
    Ok(true)
}

/// Ends the current process, which is not the app, as `ending` says: its other threads end,
/// its files close, its memory goes, its children go to the app, and its parent gets its
/// exit status to wait for and its exit signal. This vCPU then idles.
pub fn end_process(p: &mut Process, ending: Ending) -> ! {
    clone::end_other_threads(p);
    // Robust locks it held in memory shared with other processes go to their waiters.
    clone::release_thread_futexes(p);
    // Pipe ends and sockets close here, as the table's files drop; its record locks go.
    let table = core::mem::take(&mut *p.files.fds.lock());
    drop(table);
    crate::syscall::locks::process_ended(p);
    p.flush_net();
    // Off memory it borrowed (this vCPU's next thread sets its own tables).
    if p.borrowed_space {
        switch_root(boot_root());
        give_back_space(p);
    }
    release_vfork_parent(p);
    retire_tables(p);
    let (pid, ppid) = (p.pid, p.ppid);
    let orphans = core::mem::take(&mut p.exited_children);
    // Its children go to the app, and get their parent death signal (prctl).
    for q in p.shared.processes.iter_mut().filter(|q| q.ppid == pid) {
        q.ppid = INIT_PID;
        q.view.set_ids(q.pid, INIT_PID);
        let signal = q.attributes.parent_death_signal;
        if signal != 0 {
            signal_process(q, SigInfo::from_kernel(signal));
        }
    }
    let now = p.clock.monotonic_ns(crate::time::rdtsc());
    let own_ns = p.cpu_ns(now);
    // Its view goes with it below, under the process lock `/proc/stat`'s readings take too.
    p.vfs.process_ended(own_ns);
    let cpu_ns = own_ns.saturating_add(p.view.cpu.children_ns());
    let pidfd = p.pidfd.take();
    if let Some(pidfd) = &pidfd {
        pidfd.advance(Stage::Ended);
    }
    let record = ExitedChild { pid, pgid: p.pgid, uid: p.real_uid(), ending, cpu_ns, pidfd };
    let exit_signal = p.exit_signal;
    let cpu = p.thread.cpu;
    // Another process becomes current; this one is the last of the others then.
    let Some(parent_index) = p.shared.processes.iter().position(|q| q.pid == ppid) else {
        crate::hypercall::panic(b"a process ended without a parent");
    };
    p.make_current(parent_index);
    let dead = p.shared.processes.pop();
    let init = if p.pid == INIT_PID { Some(&mut *p) } else { p.other(INIT_PID) };
    if let Some(init) = init {
        init.exited_children.extend(orphans);
    }
    // `p` is the parent now.
    tell_parent(p, record, exit_signal);
    p.shared.vcpus.idle.push(cpu);
    p.io_changed();
    drop(dead);
    clone::idle(p)
}

/// Gives the current process (the parent) its child's end: a record for wait, unless it
/// ignores SIGCHLD (or set SA_NOCLDWAIT), when Linux reaps the child at once; and the
/// child's exit signal.
fn tell_parent(parent: &mut Process, child: ExitedChild, exit_signal: u32) {
    const SA_NOCLDWAIT: u64 = 2;
    let action = parent.signals.action(Signal::SIGCHLD as u32);
    let reaps_itself = action.handler == crate::signal::SIG_IGN || action.flags & SA_NOCLDWAIT != 0;
    let (code, status) = child.ending.code_and_status();
    let fields = SigFields::Child { pid: child.pid, uid: child.uid, status };
    if reaps_itself {
        child.reaped();
    } else {
        parent.exited_children.push(child);
    }
    if exit_signal != 0 {
        let info = SigInfo { signo: exit_signal, errno: 0, code, fields, origin: None };
        signal_process(parent, info);
    }
}

/// Queues `info` for process `q` (another than the caller's) and interrupts one of its
/// threads that does not block the signal (which wakes it if it waits, or stops it if it
/// runs app code), as Linux wakes one thread to take a process's signal. A signal it ignores
/// is dropped (deliver::send); a blocked one waits until a thread unblocks it.
pub fn signal_process(q: &mut Process, info: SigInfo) {
    crate::job::before_send(q, info.signo);
    let before = q.signals.pending.mask();
    deliver::send(&mut q.signals, &mut q.thread.signals, Target::Process, info);
    if q.signals.pending.mask() == before && info.signo < crate::signal::SIGRTMIN {
        return;
    }
    let bit = 1u64 << (info.signo - 1);
    let threads = core::iter::once(&q.thread).chain(q.threads.others.iter());
    if let Some(taker) = threads.into_iter().find(|t| t.signals.blocked & bit == 0) {
        taker.nudge();
    }
}

/// Queues `info` for thread `tid` of process `q` (another than the caller's) and
/// interrupts it.
pub fn signal_thread(q: &mut Process, tid: u32, info: SigInfo) {
    crate::job::before_send(q, info.signo);
    let thread = if q.thread.tid == tid { Some(&mut q.thread) } else { q.threads.get_mut(tid) };
    if let Some(thread) = thread {
        deliver::send(&mut q.signals, &mut thread.signals, Target::Thread, info);
        thread.nudge();
    }
}

/// Which children a wait is for: wait4's pid, or waitid's id type and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildSelector {
    /// Any child.
    Any,
    /// The child with this pid.
    Pid(u32),
    /// Any child in this process group.
    Group(u32),
}

impl ChildSelector {
    /// Wait4's `pid`: -1 any, > 0 that one, 0 the caller's group, < -1 group -pid.
    pub fn of_wait4(pid: i32, own_group: u32) -> ChildSelector {
        match pid {
            -1 => ChildSelector::Any,
            0 => ChildSelector::Group(own_group),
            pid if pid > 0 => ChildSelector::Pid(pid as u32),
            pid => ChildSelector::Group(pid.unsigned_abs()),
        }
    }

    fn matches(self, pid: u32, pgid: u32) -> bool {
        match self {
            ChildSelector::Any => true,
            ChildSelector::Pid(want) => pid == want,
            ChildSelector::Group(want) => pgid == want,
        }
    }
}

/// The first ended child of `p` that `selector` chooses: taken from the list (unless
/// `keep`, WNOWAIT), or `None` (then [`has_live_child`] says whether to wait).
pub fn take_exited_child(p: &mut Process, selector: ChildSelector, keep: bool) -> Option<ExitedChild> {
    let at = p.exited_children.iter().position(|c| selector.matches(c.pid, c.pgid))?;
    if keep {
        return Some(p.exited_children[at].clone());
    }
    let child = p.exited_children.remove(at);
    // As Linux adds a reaped child's times to its parent's children's times.
    p.view.cpu.child_reaped(child.cpu_ns);
    if child.pidfd.is_some() {
        child.reaped();
        // Its pidfds' POLLHUP.
        p.io_changed();
    }
    Some(child)
}

/// The record of process `pid` if it ended and was not reaped yet (a zombie), in whichever
/// process's list it is.
pub fn zombie(p: &mut Process, pid: u32) -> Option<&mut ExitedChild> {
    let lists =
        core::iter::once(&mut p.exited_children).chain(p.shared.processes.iter_mut().map(|q| &mut q.exited_children));
    lists.flat_map(|list| list.iter_mut()).find(|c| c.pid == pid)
}

/// The first child of `p` that `selector` chooses whose stop or continue (`crate::job`)
/// `wanted` takes and its parent has not waited for: its pid, real uid and that report
/// (taken, unless `keep`: WNOWAIT).
pub fn take_job_report(
    p: &mut Process,
    selector: ChildSelector,
    wanted: &dyn Fn(crate::job::JobReport) -> bool,
    keep: bool,
) -> Option<(u32, u32, crate::job::JobReport)> {
    let parent = p.pid;
    let child = p
        .shared
        .processes
        .iter_mut()
        .find(|q| q.ppid == parent && selector.matches(q.pid, q.pgid) && q.job.report.is_some_and(wanted))?;
    let report = if keep { child.job.report } else { child.job.report.take() }?;
    Some((child.pid, child.real_uid(), report))
}

/// Whether `p` has a child that has not ended that `selector` chooses.
pub fn has_live_child(p: &Process, selector: ChildSelector) -> bool {
    p.shared.processes.iter().any(|q| q.ppid == p.pid && selector.matches(q.pid, q.pgid))
}

/// Whether `p` has any child `selector` chooses, ended or not (else a wait is ECHILD).
pub fn has_child(p: &Process, selector: ChildSelector) -> bool {
    has_live_child(p, selector) || p.exited_children.iter().any(|c| selector.matches(c.pid, c.pgid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_are_linuxs() {
        assert_eq!(Ending::Exited(7).wait_status(), 0x700);
        assert_eq!(Ending::Exited(256 + 3).wait_status(), 0x300, "only the low 8 bits");
        assert_eq!(Ending::Killed(9).wait_status(), 9);
        assert_eq!(Ending::Exited(3).code_and_status(), (CLD_EXITED, 3));
        assert_eq!(Ending::Killed(15).code_and_status(), (CLD_KILLED, 15));
    }

    #[test]
    fn wait4_pids_choose_children() {
        assert_eq!(ChildSelector::of_wait4(-1, 5), ChildSelector::Any);
        assert_eq!(ChildSelector::of_wait4(0, 5), ChildSelector::Group(5));
        assert_eq!(ChildSelector::of_wait4(9, 5), ChildSelector::Pid(9));
        assert_eq!(ChildSelector::of_wait4(-9, 5), ChildSelector::Group(9));
        assert!(ChildSelector::Group(4).matches(8, 4));
        assert!(!ChildSelector::Pid(4).matches(8, 4));
    }
}
