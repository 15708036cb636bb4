//! The app's processes: each has its address space, open files, working directory, identity,
//! signal state and threads. The VM starts with one (pid 1, the app); fork makes more
//! (`crate::family`). All are behind [`PROCESS`]: syscalls of the app run one at a time with
//! it locked, on whichever vCPU the calling thread runs; a syscall that waits parks its vCPU
//! with the lock released ([`Process::park`]).
//!
//! The lock holds the process whose thread runs the current syscall; it carries the VM's
//! other processes and what all share ([`Shared`]), and taking the lock on a vCPU of another
//! process swaps that one in ([`Process::switch_to`]), as threads are swapped within one.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::proc::{MapRegion, MemoryUsage, RegionKind};
use crate::fs::stat::FileType;
use crate::fs::tmpfs::{F_SEAL_FUTURE_WRITE, F_SEAL_WRITE};
use crate::fs::{FdTable, Location, Node, OpenFile, ProcessView, Vfs};
use crate::mm::space::{AddressSpace, Backing, MapFlags, MappedFile, MemoryShare, Prot, SharedPages};
use crate::signal::SignalState;
use crate::sync::SpinLock;
use crate::thread::{Thread, Threads, MAIN_TID};
use crate::time::Clock;

/// The process of the thread that holds the lock, carrying the others (set at boot).
pub static PROCESS: SpinLock<Option<Process>> = SpinLock::new(None);

/// The first process's id (the app's), whose end ends the VM.
pub const INIT_PID: u32 = crate::thread::MAIN_TID;

/// What the VM's processes share, carried by the current process: the others hold an empty
/// one ([`Shared::default`]) and [`Process::switch_to`] moves it along.
#[derive(Default)]
pub struct Shared {
    /// The VM's other processes (not yet ended).
    pub processes: Vec<Process>,
    /// The vCPUs, thread ids and I/O waiters.
    pub vcpus: crate::thread::Vcpus,
}

/// The vCPU this code runs on.
pub fn current_cpu() -> u32 {
    #[cfg(not(test))]
    return crate::arch::percpu::current().cpu_index as u32;
    #[cfg(test)]
    return 0;
}

/// Bytes reserved for the main stack (RLIMIT_STACK).
pub const STACK_RESERVE: u64 = 8 << 20;
/// Bytes of the stack filled at start (the rest fills on first touch).
pub const STACK_FILLED: u64 = 128 << 10;

/// The open files and working directory, shared with /proc (which reads them while a
/// syscall holds the process: never hold these locks across a file-system call).
pub struct Files {
    /// The fd table.
    pub fds: SpinLock<FdTable>,
    /// The working directory.
    pub cwd: SpinLock<Location>,
}

impl ProcessView for Files {
    fn fd_file(&self, fd: i32) -> Option<Arc<OpenFile>> {
        self.fds.lock().get(fd).ok()
    }

    fn open_fds(&self) -> Vec<i32> {
        self.fds.lock().open_fds()
    }

    fn cwd(&self) -> Location {
        self.cwd.lock().clone()
    }
}

/// The command line the app started with (`/proc/self/cmdline`, `/proc/self/environ`).
#[derive(Clone, Debug, Default)]
pub struct CommandLine {
    /// argv, argv[0] first.
    pub argv: Vec<Vec<u8>>,
    /// The environment, `KEY=VALUE`.
    pub envp: Vec<Vec<u8>>,
}

/// Everything `/proc/self` shows: the files (fds, cwd), the memory map and the command line.
/// Installed as the VFS's process view when the process is made; like [`Files`], read while
/// a syscall holds the process, so it only takes its own locks.
pub struct SelfView {
    files: Arc<Files>,
    /// What `/proc` sees of its memory (another address space's after an execve that took
    /// fresh tables).
    memory: SpinLock<Arc<MemoryShare>>,
    command_line: SpinLock<Option<CommandLine>>,
    /// The process's thread count (kept by clone and exit).
    pub threads: core::sync::atomic::AtomicU32,
    /// The program it runs when not the booted one (execve, or a fork of such a process).
    program: SpinLock<Option<Vec<u8>>>,
    /// Its first thread's name, when prctl(PR_SET_NAME) set it.
    comm: SpinLock<Option<Vec<u8>>>,
    /// Its id and its parent's.
    ids: SpinLock<(u32, u32)>,
    /// Its CPU time (`cputime`).
    pub cpu: crate::cputime::ProcessCpu,
    /// When it started (monotonic ns, 0 at the VM's boot): `/proc/PID/stat`'s `starttime`.
    started_ns: u64,
    /// Its capability sets (`caps`).
    caps: SpinLock<crate::caps::Capabilities>,
    /// Its user and group ids and supplementary groups (`creds`).
    identity: SpinLock<crate::creds::Identity>,
    /// It is stopped (`job`): `/proc` shows `T (stopped)`.
    stopped: core::sync::atomic::AtomicBool,
    /// PR_SET_DUMPABLE: cleared by a change of its effective or file-system ids, set again
    /// by an execve that leaves them equal to the real ones; its `/proc` files are its own
    /// only while set (root's otherwise), as on Linux.
    dumpable: core::sync::atomic::AtomicBool,
}

impl SelfView {
    /// Records the program the process runs now (execve); its name is that file's again.
    pub fn set_program(&self, path: &[u8]) {
        *self.program.lock() = Some(Vec::from(path));
        *self.comm.lock() = None;
    }

    /// Records the first thread's name (prctl PR_SET_NAME).
    pub fn set_comm(&self, name: Option<&[u8]>) {
        *self.comm.lock() = name.map(Vec::from);
    }

    /// Shows another address space's memory (the process took fresh tables).
    pub fn set_memory(&self, memory: Arc<MemoryShare>) {
        *self.memory.lock() = memory;
    }

    /// Its capability sets.
    pub fn capabilities(&self) -> crate::caps::Capabilities {
        *self.caps.lock()
    }

    /// Replaces its capability sets (capset, prctl, the setuid family, execve: always the
    /// calling process's own, so the VFS's permission checks follow them).
    pub fn set_capabilities(&self, caps: crate::caps::Capabilities) {
        crate::fs::access::set_caller_capabilities(caps.effective);
        *self.caps.lock() = caps;
    }

    /// Whether it is dumpable (PR_GET_DUMPABLE).
    pub fn dumpable(&self) -> bool {
        self.dumpable.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Sets whether it is dumpable.
    pub fn set_dumpable(&self, dumpable: bool) {
        self.dumpable.store(dumpable, core::sync::atomic::Ordering::Relaxed);
    }

    /// Records whether it is stopped (`job`).
    pub fn set_stopped(&self, stopped: bool) {
        self.stopped.store(stopped, core::sync::atomic::Ordering::Relaxed);
    }

    /// Its ids and groups.
    pub fn identity(&self) -> crate::creds::Identity {
        self.identity.lock().clone()
    }

    /// Its uids.
    pub fn uids(&self) -> crate::creds::IdSet {
        self.identity.lock().uid
    }

    /// Its gids.
    pub fn gids(&self) -> crate::creds::IdSet {
        self.identity.lock().gid
    }

    /// Replaces its ids and groups (the setuid family, setgroups, execve).
    pub fn set_identity(&self, identity: crate::creds::Identity) {
        *self.identity.lock() = identity;
    }

    /// Records the process's id and its parent's (fork, and a parent's end).
    pub fn set_ids(&self, pid: u32, ppid: u32) {
        *self.ids.lock() = (pid, ppid);
    }

    /// A view of a forked child: what this one shows, over the child's files and memory.
    /// Its one thread starts at `start_ns`.
    pub fn fork(&self, files: Arc<Files>, memory: Arc<MemoryShare>, pid: u32, start_ns: u64) -> SelfView {
        SelfView {
            files,
            memory: SpinLock::new(memory),
            command_line: SpinLock::new(Some(self.command_line())),
            threads: core::sync::atomic::AtomicU32::new(1),
            program: SpinLock::new(self.program.lock().clone()),
            comm: SpinLock::new(self.comm.lock().clone()),
            ids: SpinLock::new((pid, self.ids.lock().0)),
            cpu: crate::cputime::ProcessCpu::new(start_ns),
            started_ns: start_ns,
            caps: SpinLock::new(self.capabilities()),
            identity: SpinLock::new(self.identity()),
            stopped: core::sync::atomic::AtomicBool::new(false),
            dumpable: core::sync::atomic::AtomicBool::new(self.dumpable()),
        }
    }
}

impl SelfView {
    /// The command line: as set by [`Process::set_command_line`], else as the VMM passed it
    /// in the boot info (written once before boot, never changed).
    fn command_line(&self) -> CommandLine {
        let mut saved = self.command_line.lock();
        if saved.is_none() {
            *saved = boot_command_line();
        }
        saved.clone().unwrap_or_default()
    }
}

/// The command line in the boot info.
fn boot_command_line() -> Option<CommandLine> {
    #[cfg(not(test))]
    {
        let boot = crate::bootinfo::decode(crate::bootinfo::raw()).ok()?;
        Some(CommandLine { argv: boot.argv, envp: boot.envp })
    }
    #[cfg(test)]
    None
}

impl ProcessView for SelfView {
    fn fd_file(&self, fd: i32) -> Option<Arc<OpenFile>> {
        self.files.fd_file(fd)
    }

    fn limits(&self) -> [(u64, u64); crate::syscall::proc::RLIMITS] {
        // The fd table holds the limits of open files (it enforces the soft one).
        crate::syscall::proc::limits(self.files.fds.lock().limits())
    }

    fn capabilities(&self) -> crate::caps::Capabilities {
        SelfView::capabilities(self)
    }

    fn identity(&self) -> crate::creds::Identity {
        SelfView::identity(self)
    }

    fn fs_owner(&self) -> (u32, u32) {
        self.identity.lock().fs_owner()
    }

    fn effective_ids(&self) -> (u32, u32) {
        if !self.dumpable() {
            return (0, 0);
        }
        let identity = self.identity.lock();
        (identity.uid.effective, identity.gid.effective)
    }

    fn stopped(&self) -> bool {
        self.stopped.load(core::sync::atomic::Ordering::Relaxed)
    }

    fn with_who(&self, real_ids: bool, test: &mut dyn FnMut(&crate::fs::access::Who) -> bool) -> bool {
        let caps = self.capabilities();
        let identity = self.identity.lock();
        let who = if real_ids {
            // As Linux's access(): the real ids, and the permitted capabilities for a real
            // root, none for anyone else.
            let caps = if identity.uid.real == 0 { caps.permitted } else { 0 };
            crate::fs::access::Who { uid: identity.uid.real, gid: identity.gid.real, groups: &identity.groups, caps }
        } else {
            let (uid, gid) = identity.fs_owner();
            crate::fs::access::Who { uid, gid, groups: &identity.groups, caps: caps.effective }
        };
        test(&who)
    }

    fn open_fds(&self) -> Vec<i32> {
        self.files.open_fds()
    }

    fn cwd(&self) -> Location {
        self.files.cwd()
    }

    fn memory(&self) -> Option<MemoryUsage> {
        let memory = self.memory.lock().clone();
        let regions: Vec<MapRegion> = memory
            .mappings()
            .into_iter()
            .map(|(start, vma)| MapRegion {
                start,
                end: vma.end,
                read: vma.prot.read,
                write: vma.prot.write,
                exec: vma.prot.exec,
                kind: if vma.is_heap {
                    RegionKind::Heap
                } else if vma.is_stack {
                    RegionKind::Stack
                } else {
                    match vma.backing {
                        Backing::Image { image_offset, .. } => RegionKind::Image { image_offset },
                        Backing::File { dev, ino, offset, shared, .. } => RegionKind::File { offset, dev, ino, shared },
                        Backing::Anonymous => RegionKind::Anonymous,
                    }
                },
            })
            .collect();
        let file_paths = regions
            .iter()
            .filter_map(|r: &MapRegion| match r.kind {
                RegionKind::File { dev, ino, .. } => Some((dev, ino)),
                _ => None,
            })
            .filter_map(|id| Some((id, memory.file_path(id)?)))
            .collect();
        Some(MemoryUsage {
            file_paths,
            regions,
            resident_pages: memory.resident_pages(),
            peak_resident_pages: memory.peak_resident_pages(),
            minor_faults: memory.minor_faults(),
        })
    }

    fn argv(&self) -> Vec<Vec<u8>> {
        self.command_line().argv
    }

    fn envp(&self) -> Vec<Vec<u8>> {
        self.command_line().envp
    }

    fn thread_count(&self) -> u32 {
        self.threads.load(core::sync::atomic::Ordering::Relaxed)
    }

    fn waiting_threads(&self) -> u32 {
        self.cpu.waiting()
    }

    fn started_ns(&self) -> u64 {
        self.started_ns
    }

    fn cpu_ns(&self) -> Option<u64> {
        Some(self.cpu.total_ns(self.thread_count(), crate::cputime::now_ns()))
    }

    fn children_cpu_ns(&self) -> u64 {
        self.cpu.children_ns()
    }

    fn program(&self) -> Option<Vec<u8>> {
        self.program.lock().clone()
    }

    fn comm(&self) -> Option<Vec<u8>> {
        self.comm.lock().clone()
    }

    fn ids(&self) -> (u32, u32) {
        *self.ids.lock()
    }
}

/// Counters for `--timings`-style statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Syscalls served.
    pub syscalls: u64,
    /// Syscalls that came in through a patched site (`syscall::patch`).
    pub patched_syscalls: u64,
}

/// A process.
pub struct Process {
    /// Its id (its first thread's id).
    pub pid: u32,
    /// Its parent's id (0 for the app: its parent is outside the VM).
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Its session.
    pub sid: u32,
    /// The signal its parent gets when it ends (clone's exit signal; 0: none).
    pub exit_signal: u32,
    /// Its children that ended and were not yet waited for.
    pub exited_children: Vec<crate::family::ExitedChild>,
    /// The node its pidfds share, from its first pidfd on (`fs::pidfd`); its zombie record
    /// takes it when it ends.
    pub pidfd: Option<Arc<crate::fs::pidfd::PidFd>>,
    /// Whether it is stopped, and what its parent's wait may learn of that (`job`).
    pub job: crate::job::JobState,
    /// The vCPU of the thread that made this process with CLONE_VFORK, which waits until this
    /// process execs or ends.
    pub vfork_parent: Option<u32>,
    /// Whether `space` is its vfork parent's, which waits meanwhile (CLONE_VM from a process
    /// with one thread): its exec or end gives it back.
    pub borrowed_space: bool,
    /// What the VM's processes share (empty unless this process is current).
    pub shared: Shared,
    /// Memory.
    pub space: AddressSpace,
    /// The file systems (every process's the same).
    pub vfs: Arc<Vfs>,
    /// fds and cwd.
    pub files: Arc<Files>,
    /// What `/proc/self` shows (installed as the VFS's calling process by [`Process::new`]).
    pub view: Arc<SelfView>,
    /// The file-creation mask.
    pub umask: u32,
    /// The nice value (`setpriority`, -20..=19): recorded, inherited by fork and reported by
    /// `getpriority`, not applied: the host schedules every vCPU alike.
    pub nice: i32,
    /// The I/O priority (`ioprio_set`, `syscall::priority`): recorded, not applied.
    pub ioprio: u16,
    /// uname's nodename.
    pub hostname: Vec<u8>,
    /// The NIS domain name uname reports once setdomainname set it (`(none)` before: no
    /// allocation at boot).
    pub domainname: Option<Vec<u8>>,
    /// The VM's clock.
    pub clock: Clock,
    /// Signal dispositions and signals sent to the process.
    pub signals: SignalState,
    /// The thread making the current syscall (see [`Process::switch_to`]).
    pub thread: Thread,
    /// The other threads, free vCPUs, and the futex and I/O waits.
    pub threads: Threads,
    /// RLIMIT_NOFILE soft limit (poll's bound, read without a lock; the fd table keeps the same
    /// value, which it enforces and `/proc/PID/limits` shows).
    pub nofile_limit: u64,
    /// vCPUs of the VM.
    pub cpu_count: u32,
    /// `--trace-syscalls`.
    pub trace: bool,
    /// Counters.
    pub stats: Stats,
    /// Whether the app was told (`syscall::notes`) that a process it asked for is not served.
    pub process_noted: bool,
    /// Whether the app was told that execve cannot run a dynamically linked program
    /// (`syscall::notes`).
    pub exec_noted: bool,
    /// The app's syscall sites: how often each trapped, and which were rewritten.
    pub patcher: crate::syscall::patch::SitePatcher,
    /// The readiness area shared with the VMM, once the app made an IP socket.
    pub net_area: Option<&'static crate::netarea::NetArea>,
    /// What every program's auxiliary vector says about the machine (set at boot).
    pub machine: crate::program::MachineFacts,
    /// What prctl sets: the parent death signal, dumpable, no_new_privs, child subreaper.
    pub attributes: crate::syscall::prctl::Attributes,
    /// The armed ITIMER_REAL (alarm, setitimer), if any.
    pub real_timer: Option<crate::syscall::itimer::RealTimer>,
    /// Its POSIX timers (timer_create).
    pub posix_timers: crate::syscall::posix_timer::PosixTimers,
    #[cfg(test)]
    fs_base: u64,
}

impl Process {
    /// A process with the given parts and defaults for the rest.
    pub fn new(
        mut space: AddressSpace,
        vfs: Vfs,
        files: Arc<Files>,
        clock: Clock,
        cpu_count: u32,
        trace: bool,
    ) -> Process {
        let view = Arc::new(SelfView {
            files: files.clone(),
            memory: SpinLock::new(space.memory_share()),
            command_line: SpinLock::new(None),
            threads: core::sync::atomic::AtomicU32::new(1),
            program: SpinLock::new(None),
            comm: SpinLock::new(None),
            ids: SpinLock::new((INIT_PID, 0)),
            // The app's first thread started with the VM.
            cpu: crate::cputime::ProcessCpu::new(0),
            started_ns: 0,
            caps: SpinLock::new(crate::caps::Capabilities::default()),
            identity: SpinLock::new(crate::creds::Identity::default()),
            stopped: core::sync::atomic::AtomicBool::new(false),
            dumpable: core::sync::atomic::AtomicBool::new(true),
        });
        // The app's view is registered for /proc/1 at its first fork (`family::fork`): a boot
        // that makes no other process never runs the registration.
        vfs.set_calling_process(view.clone());
        Process {
            pid: INIT_PID,
            ppid: 0,
            pgid: INIT_PID,
            sid: INIT_PID,
            exit_signal: crate::signal::Signal::SIGCHLD as u32,
            exited_children: Vec::new(),
            pidfd: None,
            job: crate::job::JobState::default(),
            vfork_parent: None,
            borrowed_space: false,
            shared: Shared { processes: Vec::new(), vcpus: crate::thread::Vcpus::new() },
            space,
            vfs: Arc::new(vfs),
            files,
            view,
            umask: 0o022,
            nice: 0,
            ioprio: 0,
            hostname: b"uvm".to_vec(),
            domainname: None,
            clock,
            // The app is its VM's init: stop signals do not stop it.
            signals: SignalState { init: true, ..SignalState::new() },
            thread: Thread::new(MAIN_TID, 0, crate::signal::ThreadSignals::new(), 0),
            threads: Threads::new(),
            nofile_limit: crate::fs::RLIMIT_NOFILE,
            cpu_count,
            trace,
            stats: Stats::default(),
            process_noted: false,
            exec_noted: false,
            patcher: crate::syscall::patch::SitePatcher::new(),
            net_area: None,
            machine: crate::program::MachineFacts::default(),
            attributes: crate::syscall::prctl::Attributes::default(),
            real_timer: None,
            posix_timers: Default::default(),
            #[cfg(test)]
            fs_base: 0,
        }
    }

    /// A forked child of this process, with id `pid`, its one thread on vCPU `cpu`, over
    /// `space` (this one's copy): the same files (a copy of the fd table, sharing each open
    /// file), working directory, identity, signal dispositions, blocked signals, alternate
    /// stack and limits; nothing pending, no timer, no parent death signal (as Linux's fork).
    pub fn forked(&self, pid: u32, cpu: u32, space: AddressSpace, exit_signal: u32) -> Process {
        let files = Arc::new(Files {
            fds: SpinLock::new(self.files.fds.lock().clone()),
            cwd: SpinLock::new(self.files.cwd.lock().clone()),
        });
        let mut space = space;
        let start_ns = self.clock.monotonic_ns(crate::time::rdtsc());
        let view = Arc::new(self.view.fork(files.clone(), space.memory_share(), pid, start_ns));
        // The calling thread's mask and alternate stack, as Linux's fork copies them.
        let mut signals = crate::signal::ThreadSignals::new();
        signals.set_blocked(self.thread.signals.blocked);
        signals.alt_stack = self.thread.signals.alt_stack;
        let mut thread = Thread::new(pid, cpu, signals, start_ns);
        thread.name = self.thread.name;
        thread.affinity = self.thread.affinity;
        thread.sched = self.thread.sched.inherited();
        Process {
            pid,
            ppid: self.pid,
            pgid: self.pgid,
            sid: self.sid,
            exit_signal,
            exited_children: Vec::new(),
            pidfd: None,
            job: crate::job::JobState::default(),
            vfork_parent: None,
            borrowed_space: false,
            shared: Shared::default(),
            space,
            vfs: self.vfs.clone(),
            files,
            view,
            umask: self.umask,
            nice: self.nice,
            ioprio: crate::syscall::priority::inherited_ioprio(self.ioprio),
            hostname: self.hostname.clone(),
            domainname: self.domainname.clone(),
            clock: self.clock,
            signals: self.signals.fork(),
            thread,
            threads: Threads::new(),
            nofile_limit: self.nofile_limit,
            cpu_count: self.cpu_count,
            trace: self.trace,
            stats: Stats::default(),
            process_noted: self.process_noted,
            exec_noted: self.exec_noted,
            patcher: self.patcher.fork(),
            net_area: self.net_area,
            machine: self.machine,
            attributes: crate::syscall::prctl::Attributes { parent_death_signal: 0, ..self.attributes },
            real_timer: None,
            posix_timers: Default::default(),
            #[cfg(test)]
            fs_base: self.fs_base,
        }
    }

    /// Records the command line `/proc/self/cmdline` and `/proc/self/environ` show (without
    /// it they show the boot info's).
    pub fn set_command_line(&mut self, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) {
        *self.view.command_line.lock() = Some(CommandLine { argv, envp });
    }

    /// Makes the thread of vCPU `cpu` the current one ([`Process::thread`]), and its process
    /// the current process: called whenever a vCPU takes the process lock.
    pub fn switch_to(&mut self, cpu: u32) {
        if self.thread.cpu == cpu {
            return;
        }
        match self.threads.others.iter().position(|t| t.cpu == cpu) {
            Some(i) => core::mem::swap(&mut self.thread, &mut self.threads.others[i]),
            None => self.switch_process(cpu),
        }
    }

    /// Whether this process has a thread with id `tid`.
    pub fn runs_thread(&self, tid: u32) -> bool {
        self.thread.tid == tid || self.threads.others.iter().any(|t| t.tid == tid)
    }

    /// Its thread with id `tid`, if it has one.
    pub fn thread_mut(&mut self, tid: u32) -> Option<&mut Thread> {
        if self.thread.tid == tid {
            Some(&mut self.thread)
        } else {
            self.threads.get_mut(tid)
        }
    }

    /// Whether a thread of this process runs on vCPU `cpu`.
    pub fn runs_on(&self, cpu: u32) -> bool {
        self.thread.cpu == cpu || self.threads.others.iter().any(|t| t.cpu == cpu)
    }

    /// Makes the process with a thread on vCPU `cpu` current (and that thread).
    #[cold]
    #[inline(never)]
    fn switch_process(&mut self, cpu: u32) {
        match self.shared.processes.iter().position(|q| q.runs_on(cpu)) {
            Some(i) => {
                self.make_current(i);
                self.switch_to(cpu);
            }
            None => panic!("vCPU {cpu} has no thread but took the process lock"),
        }
    }

    /// Makes `self.shared.processes[i]` the current process (in `self`), this one one of the
    /// others, and has `/proc/self` show it.
    pub fn make_current(&mut self, i: usize) {
        let mut shared = core::mem::take(&mut self.shared);
        let mut next = shared.processes.swap_remove(i);
        core::mem::swap(self, &mut next);
        shared.processes.push(next);
        self.shared = shared;
        self.vfs.set_calling_process(self.view.clone());
        crate::fs::access::set_caller_capabilities(self.view.capabilities().effective);
    }

    /// Its real uid (a signal's sender, a child's end).
    pub fn real_uid(&self) -> u32 {
        self.view.uids().real
    }

    /// The other process with id `pid`, if it has not ended.
    pub fn other(&mut self, pid: u32) -> Option<&mut Process> {
        self.shared.processes.iter_mut().find(|q| q.pid == pid)
    }

    /// Parks this vCPU for up to `timeout_ns` with the process unlocked, so other threads
    /// run on (having flushed the transmit rings first); the process is locked again (and
    /// this thread current) when it returns.
    /// Whether another thread unparked it. Callers re-check what they wait for.
    pub fn park(&mut self, timeout_ns: u64) -> bool {
        self.park_then(timeout_ns, false)
    }

    /// [`Process::park`] for what another vCPU most likely ends soon (a child, a futex's
    /// waker): a short spin first ([`crate::wake`]), unless the process has IP sockets (a
    /// server, whose threads wait for the network and each other all the time: their spins
    /// took the host CPUs its network needs, -15% requests/s for a Go server).
    pub fn park_spinning(&mut self, timeout_ns: u64) -> bool {
        self.park_then(timeout_ns, self.net_area.is_none())
    }

    fn park_then(&mut self, timeout_ns: u64, spin: bool) -> bool {
        // A park ends by the time the hot copies are due back, and the first one after it
        // gives them back (`mm::hot`).
        let mut hot_limit = crate::mm::hot::park_limit();
        if hot_limit == 0 {
            self.give_back_hot_copies();
            hot_limit = u64::MAX;
        }
        let timeout_ns = timeout_ns.min(hot_limit);
        let area = self.net_area;
        // Its callers look at signals when the park ends: a sender only wakes it.
        self.thread.parked_in_kernel = true;
        let woken = self.unlocked(|| {
            // What the app sent must not wait for this thread to run again: the VMM writes it
            // out before it parks the vCPU (one exit).
            let flush = area.is_some_and(|area| area.tx_pending());
            crate::hypercall::park_flushing(timeout_ns, flush, spin)
        });
        self.thread.parked_in_kernel = false;
        woken
    }

    /// Gives the hot copies back (`mm::hot::give_back`), with every process's tables and
    /// every spare tree: the process lock, which this holds, keeps them all as they are.
    #[cold]
    #[inline(never)]
    fn give_back_hot_copies(&mut self) {
        let mut frames = crate::mm::FRAMES.lock();
        let spares: Vec<u64> = frames.spare_roots().collect();
        let processes = core::iter::once(&*self).chain(self.shared.processes.iter());
        // A vfork parent's placeholder has no tables: its child's entry names them.
        let tables = processes.filter(|q| !q.space.is_placeholder());
        let mut roots = tables.map(|q| q.space.root()).chain(spares);
        crate::mm::hot::give_back(&mut roots, &mut frames);
    }

    /// The process's CPU time at monotonic time `now_ns`, its threads' together (`cputime`).
    pub fn cpu_ns(&self, now_ns: u64) -> u64 {
        self.view.cpu.total_ns(self.threads.others.len() as u32 + 1, now_ns)
    }

    /// This thread is back from a wait [`Process::unlocked`] began at `from` (monotonic ns):
    /// it is current again, and the wait is counted (not CPU time: `crate::cputime`). Out of
    /// line: `unlocked` has a copy per caller.
    #[cfg(not(test))]
    #[inline(never)]
    fn back_from_wait(&mut self, from: u64) {
        self.switch_to(current_cpu());
        let waited = self.clock.monotonic_ns(crate::time::rdtsc()).saturating_sub(from);
        self.thread.waited_ns += waited;
        self.view.cpu.wait_ended(from, waited);
    }

    /// This thread begins a wait in [`Process::unlocked`]: now (monotonic ns), which the
    /// process's CPU time leaves out from here on, while it waits (`crate::cputime`). Out of
    /// line, as `back_from_wait`.
    #[cfg(not(test))]
    #[inline(never)]
    fn begin_wait(&self) -> u64 {
        let from = self.clock.monotonic_ns(crate::time::rdtsc());
        self.view.cpu.wait_began(from);
        from
    }

    /// Asks the VMM to write out what the app left in transmit rings (a flush point: see
    /// `syscall::inet`).
    pub fn flush_net(&self) {
        if let Some(area) = self.net_area {
            area.flush();
        }
    }

    /// Runs `f`, which must not need the process, with the process unlocked: for waits in
    /// the VMM (parks, the host's stdin).
    /// The time this takes is the thread's wait, not CPU time (`cputime`).
    pub fn unlocked<R>(&mut self, f: impl FnOnce() -> R) -> R {
        #[cfg(not(test))]
        {
            let from = self.begin_wait();
            let result = PROCESS.release_while(self, f);
            self.back_from_wait(from);
            result
        }
        #[cfg(test)]
        f()
    }

    /// Publishes the thread count to `/proc/self` (after clone and thread exit).
    pub fn threads_changed(&self) {
        let count = self.threads.others.len() as u32 + 1;
        self.view.threads.store(count, core::sync::atomic::Ordering::Relaxed);
    }

    /// Wakes the threads of the vCPUs in `cpus` (a bit mask) from their parks.
    pub fn unpark_mask(&self, mut cpus: u64) {
        while cpus != 0 {
            let cpu = cpus.trailing_zeros();
            cpus &= cpus - 1;
            if cpu != current_cpu() {
                crate::hypercall::unpark(cpu);
            }
        }
    }

    /// A file changed in a way a waiting thread may care about (pipe data or room, a closed
    /// end): wake the threads that wait for one.
    pub fn io_changed(&mut self) {
        let waiters = self.shared.vcpus.io_changed();
        self.unpark_mask(waiters);
    }

    /// Ends the process with exit status `status`: the app's end stops the VM, another
    /// process's becomes its parent's to wait for (`crate::family::end_process`).
    pub fn exit(&mut self, status: i32) -> ! {
        if self.pid != INIT_PID {
            crate::family::end_process(self, crate::family::Ending::Exited(status))
        }
        self.exit_vm(status)
    }

    /// Ends the VM with the app's exit status `status`, reporting the guest's counters.
    pub fn exit_vm(&mut self, status: i32) -> ! {
        // What the app sent goes out before the VM stops, and what it wrote in shared mappings
        // of volumes' files reaches them.
        self.flush_net();
        crate::fs::hostfs::write_back_all();
        crate::mm::hot::report_touched(self.space.root());
        let given_back = crate::mm::hot::GivenBack::now();
        let stats = uvm_abi::hypercall::GuestStats {
            syscalls: self.stats.syscalls + 1,
            demand_faults: self.space.demand_fills,
            tlb_flushes: self.space.flushes,
            frames_in_use: self.space.frames_in_use(),
            kernel_entry_tsc: crate::boot::KERNEL_ENTRY_TSC.load(core::sync::atomic::Ordering::Relaxed),
            app_entry_tsc: crate::boot::APP_ENTRY_TSC.load(core::sync::atomic::Ordering::Relaxed),
            exit_tsc: crate::time::rdtsc(),
            patched_sites: self.patcher.patched_sites(),
            patched_syscalls: self.stats.patched_syscalls,
            large_image_pages: self.space.large_pages,
            doorbell_writes: crate::hypercall::doorbell_writes(),
            console_ring_writes: crate::hostio::ring_writes(),
            hot_pages_given_back: given_back.pages,
            hot_entries_repointed: given_back.entries,
            hot_give_back_tsc: given_back.tsc,
            hot_give_back_end_tsc: given_back.end_tsc,
        };
        crate::hypercall::exit(status, stats)
    }

    /// Sets the app's thread pointer.
    pub fn set_fs_base(&mut self, value: u64) {
        #[cfg(not(test))]
        crate::arch::instr::write_fs_base(value);
        #[cfg(test)]
        {
            self.fs_base = value;
        }
    }

    /// The app's thread pointer.
    pub fn fs_base(&self) -> u64 {
        #[cfg(not(test))]
        return crate::arch::instr::read_fs_base();
        #[cfg(test)]
        return self.fs_base;
    }

    /// The open file behind `fd`.
    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.files.fds.lock().get(fd)
    }

    /// The open file behind `fd` for a call that uses the file itself (reads, writes, locks,
    /// an anonymous inode's own calls): `EBADF` for an `O_PATH` fd too, as Linux's `fdget`
    /// skips those. (Inlined, as the callers' own copies were: epoll_wait runs it on every
    /// call.)
    #[inline]
    pub fn used_file(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        let file = self.file(fd)?;
        if file.is_path_only() {
            return Err(Errno::EBADF);
        }
        Ok(file)
    }

    /// mmap of a file: image files are mapped in place when read-only (or copied when
    /// private and writable); other files are copied into private memory.
    #[allow(clippy::too_many_arguments)]
    pub fn map_file(
        &mut self,
        fd: i32,
        addr: u64,
        len: u64,
        prot: Prot,
        flags: MapFlags,
        offset: u64,
        shared: bool,
    ) -> Result<u64, Errno> {
        let file = self.file(fd)?;
        self.map_open_file(file, addr, len, prot, flags, offset, shared)
    }

    /// mmap's `MAP_SHARED | MAP_ANONYMOUS`: a mapping of a new, unlinked tmpfs file of `len`
    /// bytes (as Linux backs it with shmem), so a forked child shares its pages.
    pub fn map_shared_anonymous(&mut self, addr: u64, len: u64, prot: Prot, flags: MapFlags) -> Result<u64, Errno> {
        let file = self.vfs.shared_anonymous()?;
        file.truncate(i64::try_from(len).map_err(|_| Errno::ENOMEM)?)?;
        self.map_open_file(file, addr, len, prot, flags, 0, true)
    }

    /// A shared mapping of a volume's file (`fs::hostfs::HostPages`).
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn map_volume_file(
        &mut self,
        file: &OpenFile,
        node: &crate::fs::hostfs::HostNode,
        addr: u64,
        len: u64,
        prot: Prot,
        flags: MapFlags,
        offset: u64,
    ) -> Result<u64, Errno> {
        let pages = crate::fs::hostfs::shared_pages(node)?;
        let may_write = file.is_writable() && pages.writable();
        let id = pages.id();
        let pages: Arc<dyn SharedPages> = pages;
        let mapped = MappedFile { pages, id, path: file.location().path.clone() };
        self.space.map_file(addr, len, prot, flags, mapped, offset, true, may_write)
    }

    /// [`Process::map_file`] of an open file.
    #[allow(clippy::too_many_arguments)]
    fn map_open_file(
        &mut self,
        file: Arc<OpenFile>,
        addr: u64,
        len: u64,
        prot: Prot,
        flags: MapFlags,
        offset: u64,
        shared: bool,
    ) -> Result<u64, Errno> {
        if !file.is_readable() || file.is_dir() {
            return Err(Errno::EACCES);
        }
        if shared && prot.write && !file.is_writable() {
            return Err(Errno::EACCES);
        }
        if let Some((image_offset, size)) = file.image_extent() {
            let backing = Backing::Image { image_offset: image_offset + offset, file_len: size.saturating_sub(offset) };
            return self.space.map(addr, len, prot, flags, backing);
        }
        // A tmpfs file's own frames, mapped in place: shared, writes reach the file and every
        // other mapping of it; private, read-only pages are the file's (they follow its
        // writes) and writable ones copies of their own.
        if let Node::Tmp(node) = file.node() {
            if node.file_type() == FileType::Regular {
                let sealed = node.seals() & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0;
                if shared && prot.write && sealed {
                    return Err(Errno::EPERM);
                }
                let may_write = file.is_writable() && !sealed;
                let pages: Arc<dyn SharedPages> = node.clone();
                let mapped = MappedFile { pages, id: (node.dev(), node.ino()), path: file.location().path.clone() };
                return self.space.map_file(addr, len, prot, flags, mapped, offset, shared, may_write);
            }
        }
        // A volume's file: shared mappings share frames the host file's bytes fill (and are
        // written back to it).
        if let Node::Host(node) = file.node() {
            if shared && node.file_type() == FileType::Regular {
                return self.map_volume_file(&file, node, addr, len, prot, flags, offset);
            }
        }
        // Other files with pages (devices, /proc) get a copy, as a private mapping does.
        if shared && prot.write {
            return Err(Errno::ENODEV);
        }
        let start = self.space.map(addr, len, Prot::RW, flags, Backing::Anonymous)?;
        let size = file.stat()?.size;
        let want = len.min(size.saturating_sub(offset));
        if want > 0 {
            let dst = crate::user::write(&mut self.space, start, want)?;
            file.pread_full(dst, offset)?;
        }
        if prot != Prot::RW {
            self.space.protect(start, len, prot)?;
        }
        Ok(start)
    }
}
