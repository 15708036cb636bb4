//! The app's process: its address space, open files, working directory, identity, signal
//! state and threads. There is one per VM, behind [`PROCESS`]; syscalls of the app run one at
//! a time with it locked, on whichever vCPU the calling thread runs; a syscall that waits
//! parks its vCPU with the lock released ([`Process::park`]).

use alloc::string::String;
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

/// The VM's one process (set at boot).
pub static PROCESS: SpinLock<Option<Process>> = SpinLock::new(None);

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
    memory: Arc<MemoryShare>,
    command_line: SpinLock<Option<CommandLine>>,
    /// The process's thread count (kept by clone and exit).
    pub threads: core::sync::atomic::AtomicU32,
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

    fn open_fds(&self) -> Vec<i32> {
        self.files.open_fds()
    }

    fn cwd(&self) -> Location {
        self.files.cwd()
    }

    fn memory(&self) -> Option<MemoryUsage> {
        let regions: Vec<MapRegion> = self
            .memory
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
            .filter_map(|id| Some((id, self.memory.file_path(id)?)))
            .collect();
        Some(MemoryUsage {
            file_paths,
            regions,
            resident_pages: self.memory.resident_pages(),
            peak_resident_pages: self.memory.peak_resident_pages(),
            minor_faults: self.memory.minor_faults(),
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
}

/// Counters for `--timings`-style statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Syscalls served.
    pub syscalls: u64,
    /// Syscalls that came in through a patched site (`syscall::patch`).
    pub patched_syscalls: u64,
}

/// The process.
pub struct Process {
    /// Memory.
    pub space: AddressSpace,
    /// The file systems.
    pub vfs: Vfs,
    /// fds and cwd.
    pub files: Arc<Files>,
    /// What `/proc/self` shows (installed as the VFS's process view by [`Process::new`]).
    pub view: Arc<SelfView>,
    /// The file-creation mask.
    pub umask: u32,
    /// uid (and euid).
    pub uid: u32,
    /// gid (and egid).
    pub gid: u32,
    /// uname's nodename.
    pub hostname: String,
    /// The VM's clock.
    pub clock: Clock,
    /// Signal dispositions and signals sent to the process.
    pub signals: SignalState,
    /// The thread making the current syscall (see [`Process::switch_to`]).
    pub thread: Thread,
    /// The other threads, free vCPUs, and the futex and I/O waits.
    pub threads: Threads,
    /// RLIMIT_NOFILE soft limit.
    pub nofile_limit: u64,
    /// vCPUs of the VM.
    pub cpu_count: u32,
    /// `--trace-syscalls`.
    pub trace: bool,
    /// Counters.
    pub stats: Stats,
    /// Whether the app was told (`syscall::notes`) that it cannot start another process.
    pub one_process_noted: bool,
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
            memory: space.memory_share(),
            command_line: SpinLock::new(None),
            threads: core::sync::atomic::AtomicU32::new(1),
        });
        vfs.set_process_view(view.clone());
        Process {
            space,
            vfs,
            files,
            view,
            umask: 0o022,
            uid: 0,
            gid: 0,
            hostname: String::from("uvm"),
            clock,
            signals: SignalState::new(),
            thread: Thread::new(MAIN_TID, 0, crate::signal::ThreadSignals::new()),
            threads: Threads::new(),
            nofile_limit: crate::fs::RLIMIT_NOFILE,
            cpu_count,
            trace,
            stats: Stats::default(),
            one_process_noted: false,
            exec_noted: false,
            patcher: crate::syscall::patch::SitePatcher::new(),
            net_area: None,
            machine: crate::program::MachineFacts::default(),
            attributes: crate::syscall::prctl::Attributes::default(),
            real_timer: None,
            #[cfg(test)]
            fs_base: 0,
        }
    }

    /// Records the command line `/proc/self/cmdline` and `/proc/self/environ` show (without
    /// it they show the boot info's).
    pub fn set_command_line(&mut self, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) {
        *self.view.command_line.lock() = Some(CommandLine { argv, envp });
    }

    /// Makes the thread of vCPU `cpu` the current one ([`Process::thread`]): called whenever
    /// a vCPU takes the process lock.
    pub fn switch_to(&mut self, cpu: u32) {
        if self.thread.cpu == cpu {
            return;
        }
        match self.threads.others.iter().position(|t| t.cpu == cpu) {
            Some(i) => core::mem::swap(&mut self.thread, &mut self.threads.others[i]),
            None => panic!("vCPU {cpu} has no thread but took the process lock"),
        }
    }

    /// Parks this vCPU for up to `timeout_ns` with the process unlocked, so other threads
    /// run on (having flushed the transmit rings first); the process is locked again (and
    /// this thread current) when it returns.
    /// Whether another thread unparked it. Callers re-check what they wait for.
    pub fn park(&mut self, timeout_ns: u64) -> bool {
        let area = self.net_area;
        self.unlocked(|| {
            // What the app sent must not wait for this thread to run again: the VMM writes it
            // out before it parks the vCPU (one exit).
            let flush = area.is_some_and(|area| area.tx_pending());
            crate::hypercall::park_flushing(timeout_ns, flush)
        })
    }

    /// Asks the VMM to write out what the app left in transmit rings (a flush point: see
    /// `syscall::inet`).
    pub fn flush_net(&self) {
        if let Some(area) = self.net_area {
            area.flush();
        }
    }

    /// Runs `f`, which must not need the process, with the process unlocked: for waits in
    /// the VMM (the host's stdin).
    pub fn unlocked<R>(&mut self, f: impl FnOnce() -> R) -> R {
        #[cfg(not(test))]
        {
            let result = PROCESS.release_while(self, f);
            self.switch_to(current_cpu());
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
            if cpu != self.thread.cpu {
                crate::hypercall::unpark(cpu);
            }
        }
    }

    /// A file changed in a way a waiting thread may care about (pipe data or room, a closed
    /// end): wake the threads that wait for one.
    pub fn io_changed(&mut self) {
        let waiters = self.threads.io_changed();
        self.unpark_mask(waiters);
    }

    /// Ends the app with `status` (the VM stops), reporting the guest's counters.
    pub fn exit(&mut self, status: i32) -> ! {
        // What the app sent goes out before the VM stops.
        self.flush_net();
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
