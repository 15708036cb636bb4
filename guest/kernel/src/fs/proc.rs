//! [`ProcFs`]: the minimal `/proc` mounted at `/proc`.
//!
//! ```text
//! /proc/self -> PID            /proc/PID/exe -> the program's path
//! /proc/PID/cwd => the cwd     /proc/PID/fd/N => open fd N   ("=>": magic links, below)
//! /proc/PID/mounts             /proc/mounts -> self/mounts
//! /proc/PID/mountinfo /proc/PID/cgroup /proc/PID/limits
//! /proc/PID/maps /proc/PID/status /proc/PID/stat /proc/PID/statm /proc/PID/comm
//! /proc/PID/cmdline /proc/PID/environ
//! /proc/PID/net/dev /proc/PID/net/route /proc/PID/net/if_inet6   /proc/net -> self/net
//! /proc/cpuinfo /proc/meminfo /proc/uptime /proc/loadavg /proc/version /proc/stat
//! ```
//! The app is pid 1; there is a `PID` directory for every process of the VM, and `self`
//! names the calling one. `cwd` and `fd/N` are "magic" links as on Linux: `readlink` gives a
//! path, but following them leads straight to the open file (so `/proc/self/fd/3` reaches a
//! deleted file, and `/dev/stdout` reaches the console). Their contents, the memory map and
//! the command line come from each process, through the [`ProcessView`] the kernel installs
//! for the calling process and registers for every process. Files are generated when read,
//! in Linux's formats; anything not listed is `ENOENT`.
//!
//! CPU time (`/proc/stat`, `/proc/uptime`'s idle time, each process's `stat`) is what
//! `crate::cputime` counts: all of it user time. The VM's busy time is its live processes'
//! own time and that of the processes that ended ([`ProcFs::process_ended`]); its idle time
//! is the rest of uptime times the CPU count. The VM's CPUs are run slots any vCPU takes, so
//! `/proc/stat`'s per-CPU lines split the totals evenly. Not counted, shown as 0: interrupts,
//! softirqs, context switches, blocked processes, and the load averages. A thread is running
//! unless it waits (`crate::cputime` counts its waits): a process whose threads all wait is
//! `S` (sleeping) in its `stat` and `status`, and `/proc/stat`'s `procs_running` and
//! `/proc/loadavg`'s first count are the threads not waiting; `processes` counts the
//! processes started since boot (Linux counts threads too), and `/proc/loadavg`'s last field
//! is the newest process's id.

use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::errno::Errno;
use crate::fs::dirent::{DirEntry, FIRST_ENTRY_OFFSET};
use crate::fs::env::{Clock, SystemInfo};
use crate::fs::file::OpenFile;
use crate::fs::image::ImageFs;
use crate::fs::node::Location;
use crate::fs::path::LinkTarget;
use crate::fs::stat::{major, minor, FileType, Stat, Timespec, BLOCK_SIZE, DEV_IMAGE, DEV_PROC};
use crate::sync::SpinLock;

/// The app's pid, as `/proc/self` names it.
pub const APP_PID: u32 = 1;

/// First inode number of the `/proc/self/fd/N` links (`+ N`).
const FD_INO_BASE: u64 = 0x1_0000;

/// The first mount's id in `/proc/PID/mountinfo`.
const FIRST_MOUNT_ID: u64 = 21;

/// Clock ticks per second in `/proc/self/stat` (`AT_CLKTCK`, `sysconf(_SC_CLK_TCK)`).
pub const CLOCK_TICKS: u64 = 100;

/// The kernel release `uname` reports (and `/proc/version` shows).
pub const KERNEL_RELEASE: &str = "6.1.0-uvm";
/// The kernel version string `uname` reports.
pub const KERNEL_VERSION: &str = "#1 SMP uvm";

/// What backs a mapping, for `/proc/self/maps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Anonymous memory (and private copies of tmpfs files).
    Anonymous,
    /// The program break (`[heap]`).
    Heap,
    /// The main stack (`[stack]`).
    Stack,
    /// The image file's bytes from this offset in the image file on (named by the file
    /// holding them).
    Image {
        /// Offset in the image file of the mapping's first byte.
        image_offset: u64,
    },
    /// A mapping of a tmpfs file (shown with the file's device and inode, and `s` if shared).
    File {
        /// Offset in the file of the mapping's first byte.
        offset: u64,
        /// The file's device.
        dev: u64,
        /// The file's inode.
        ino: u64,
        /// MAP_SHARED.
        shared: bool,
    },
}

/// One mapping of the app's address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRegion {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// PROT_READ.
    pub read: bool,
    /// PROT_WRITE.
    pub write: bool,
    /// PROT_EXEC.
    pub exec: bool,
    /// What backs it.
    pub kind: RegionKind,
}

impl MapRegion {
    fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// The app's memory: its mappings, by address, and page counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// The mappings, in address order.
    pub regions: Vec<MapRegion>,
    /// Pages that have memory behind them now (the resident set).
    pub resident_pages: u64,
    /// The most `resident_pages` ever was.
    pub peak_resident_pages: u64,
    /// Pages filled on first touch (minor faults).
    pub minor_faults: u64,
    /// The paths of the files [`RegionKind::File`] mappings map, by device and inode.
    pub file_paths: Vec<((u64, u64), Vec<u8>)>,
}

/// What `/proc` needs to see of the running process.
///
/// Called while a path is resolved, so an implementation must not call back into the VFS,
/// and the caller must not hold the fd-table lock across VFS calls.
pub trait ProcessView: Send + Sync {
    /// The file open as `fd`, if any.
    fn fd_file(&self, fd: i32) -> Option<Arc<OpenFile>>;
    /// The open fds, in increasing order.
    fn open_fds(&self) -> Vec<i32>;
    /// The current working directory.
    fn cwd(&self) -> Location;
    /// The memory map and usage (`None`: unknown, shown as no mappings).
    fn memory(&self) -> Option<MemoryUsage> {
        None
    }
    /// argv, as the app received it (`/proc/self/cmdline`).
    fn argv(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    /// The environment the app started with, `KEY=VALUE` (`/proc/self/environ`).
    fn envp(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    /// The program it runs (`/proc/self/exe`), when it is not the one the VM booted (execve).
    fn program(&self) -> Option<Vec<u8>> {
        None
    }
    /// Its first thread's name as prctl(PR_SET_NAME) set it, if it did.
    fn comm(&self) -> Option<Vec<u8>> {
        None
    }
    /// Its process id and its parent's.
    fn ids(&self) -> (u32, u32) {
        (APP_PID, 0)
    }
    /// How many threads the process has.
    fn thread_count(&self) -> u32 {
        1
    }
    /// How many of them wait now (asleep, for a child, for I/O: `crate::cputime`).
    fn waiting_threads(&self) -> u32 {
        0
    }
    /// When it started: monotonic nanoseconds since the VM's boot.
    fn started_ns(&self) -> u64 {
        0
    }
    /// Its CPU time in nanoseconds (`None`: unknown, shown as the VM's uptime).
    fn cpu_ns(&self) -> Option<u64> {
        None
    }
    /// The CPU time of the children it waited for, in nanoseconds.
    fn children_cpu_ns(&self) -> u64 {
        0
    }
    /// Its ids and groups (root's unless it changed them).
    fn identity(&self) -> crate::creds::Identity {
        crate::creds::Identity::default()
    }
    /// Who owns the files it makes (its file-system uid and gid).
    fn fs_owner(&self) -> (u32, u32) {
        (0, 0)
    }
    /// Who owns its `/proc` files: its effective uid and gid while it is dumpable, root
    /// otherwise.
    fn effective_ids(&self) -> (u32, u32) {
        (0, 0)
    }
    /// Whether it is stopped (a stop signal, until a SIGCONT).
    fn stopped(&self) -> bool {
        false
    }
    /// Whether its permissions (`fs::access::Who`: its file-system ids, or with `real_ids`
    /// its real ones, as `access` asks) satisfy `test`. Root's by default.
    fn with_who(&self, real_ids: bool, test: &mut dyn FnMut(&crate::fs::access::Who) -> bool) -> bool {
        let _ = real_ids;
        test(&crate::fs::access::Who::ROOT)
    }
    /// Its capability sets (root's unless it dropped some).
    fn capabilities(&self) -> crate::caps::Capabilities {
        crate::caps::Capabilities::default()
    }
    /// Its resource limits, (soft, hard) by `RLIMIT_*` number (`u64::MAX`: unlimited).
    fn limits(&self) -> [(u64, u64); crate::syscall::proc::RLIMITS] {
        [(u64::MAX, u64::MAX); crate::syscall::proc::RLIMITS]
    }
}

/// Column where `/proc/self/maps` starts a mapping's name (Linux pads the fields before it
/// to this width on 64-bit).
const MAPS_NAME_COLUMN: usize = 73;

/// Sizes of the parts of an address space, in pages, as `/proc/self/status` reports them.
struct MemorySizes {
    /// Every mapping (`VmSize`).
    total: u64,
    /// Writable mappings but the stack (`VmData`).
    data: u64,
    /// The stack (`VmStk`).
    stack: u64,
    /// Executable mappings of files (`VmExe`).
    text: u64,
}

impl MemorySizes {
    fn of(memory: &MemoryUsage) -> MemorySizes {
        let pages = |wanted: &dyn Fn(&MapRegion) -> bool| -> u64 {
            memory.regions.iter().filter(|r| wanted(r)).map(|r| r.len() / BLOCK_SIZE as u64).sum()
        };
        MemorySizes {
            total: pages(&|_| true),
            data: pages(&|r| r.write && r.kind != RegionKind::Stack),
            stack: pages(&|r| r.kind == RegionKind::Stack),
            text: pages(&|r| r.exec && matches!(r.kind, RegionKind::Image { .. })),
        }
    }
}

/// The files of `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcKind {
    /// `/proc`.
    Root,
    /// `/proc/self` (-> `1`).
    SelfLink,
    /// `/proc/mounts` (-> `self/mounts`).
    MountsLink,
    /// `/proc/1`.
    PidDir,
    /// `/proc/1/exe`.
    Exe,
    /// `/proc/1/cwd`.
    Cwd,
    /// `/proc/1/fd`.
    FdDir,
    /// `/proc/1/fd/N`.
    Fd(i32),
    /// `/proc/1/mounts`.
    Mounts,
    /// `/proc/1/mountinfo`.
    MountInfo,
    /// `/proc/1/cgroup`.
    Cgroup,
    /// `/proc/1/limits`.
    Limits,
    /// `/proc/cpuinfo`.
    CpuInfo,
    /// `/proc/meminfo`.
    MemInfo,
    /// `/proc/uptime`.
    Uptime,
    /// `/proc/loadavg`.
    LoadAvg,
    /// `/proc/version`.
    Version,
    /// `/proc/stat` (the VM's; a process's is [`ProcKind::Stat`]).
    KernelStat,
    /// `/proc/1/maps`.
    Maps,
    /// `/proc/1/status`.
    Status,
    /// `/proc/1/stat`.
    Stat,
    /// `/proc/1/statm`.
    Statm,
    /// `/proc/1/comm`.
    Comm,
    /// `/proc/1/cmdline`.
    Cmdline,
    /// `/proc/1/environ`.
    Environ,
    /// `/proc/net` (-> `self/net`).
    NetLink,
    /// `/proc/1/net`.
    NetDir,
    /// `/proc/1/net/dev`.
    NetDev,
    /// `/proc/1/net/route`.
    NetRoute,
    /// `/proc/1/net/if_inet6`.
    NetIfInet6,
}

const ROOT_ENTRIES: [(&[u8], ProcKind); 9] = [
    (b"cpuinfo", ProcKind::CpuInfo),
    (b"loadavg", ProcKind::LoadAvg),
    (b"meminfo", ProcKind::MemInfo),
    (b"mounts", ProcKind::MountsLink),
    (b"net", ProcKind::NetLink),
    (b"self", ProcKind::SelfLink),
    (b"stat", ProcKind::KernelStat),
    (b"uptime", ProcKind::Uptime),
    (b"version", ProcKind::Version),
];

const PID_ENTRIES: [(&[u8], ProcKind); 15] = [
    (b"cgroup", ProcKind::Cgroup),
    (b"cmdline", ProcKind::Cmdline),
    (b"comm", ProcKind::Comm),
    (b"cwd", ProcKind::Cwd),
    (b"environ", ProcKind::Environ),
    (b"exe", ProcKind::Exe),
    (b"fd", ProcKind::FdDir),
    (b"limits", ProcKind::Limits),
    (b"maps", ProcKind::Maps),
    (b"mountinfo", ProcKind::MountInfo),
    (b"mounts", ProcKind::Mounts),
    (b"net", ProcKind::NetDir),
    (b"stat", ProcKind::Stat),
    (b"statm", ProcKind::Statm),
    (b"status", ProcKind::Status),
];

const NET_ENTRIES: [(&[u8], ProcKind); 3] =
    [(b"dev", ProcKind::NetDev), (b"if_inet6", ProcKind::NetIfInet6), (b"route", ProcKind::NetRoute)];

impl ProcKind {
    /// The inode number.
    pub fn ino(self) -> u64 {
        match self {
            ProcKind::Root => 1,
            ProcKind::SelfLink => 2,
            ProcKind::MountsLink => 3,
            ProcKind::PidDir => 4,
            ProcKind::Exe => 5,
            ProcKind::Cwd => 6,
            ProcKind::FdDir => 7,
            ProcKind::Mounts => 8,
            ProcKind::CpuInfo => 9,
            ProcKind::MemInfo => 10,
            ProcKind::Uptime => 11,
            ProcKind::LoadAvg => 12,
            ProcKind::Version => 13,
            ProcKind::Maps => 14,
            ProcKind::Status => 15,
            ProcKind::Stat => 16,
            ProcKind::Statm => 17,
            ProcKind::Comm => 18,
            ProcKind::Cmdline => 19,
            ProcKind::Environ => 20,
            ProcKind::KernelStat => 21,
            ProcKind::MountInfo => 22,
            ProcKind::Cgroup => 23,
            ProcKind::Limits => 24,
            ProcKind::NetLink => 25,
            ProcKind::NetDir => 26,
            ProcKind::NetDev => 27,
            ProcKind::NetRoute => 28,
            ProcKind::NetIfInet6 => 29,
            ProcKind::Fd(fd) => FD_INO_BASE + fd as u64,
        }
    }

    /// The file type.
    pub fn file_type(self) -> FileType {
        match self {
            ProcKind::Root | ProcKind::PidDir | ProcKind::FdDir | ProcKind::NetDir => FileType::Directory,
            ProcKind::SelfLink
            | ProcKind::MountsLink
            | ProcKind::NetLink
            | ProcKind::Exe
            | ProcKind::Cwd
            | ProcKind::Fd(_) => FileType::Symlink,
            ProcKind::Mounts
            | ProcKind::MountInfo
            | ProcKind::Cgroup
            | ProcKind::Limits
            | ProcKind::CpuInfo
            | ProcKind::MemInfo
            | ProcKind::Uptime
            | ProcKind::LoadAvg
            | ProcKind::Version
            | ProcKind::KernelStat
            | ProcKind::Maps
            | ProcKind::Status
            | ProcKind::Stat
            | ProcKind::Statm
            | ProcKind::Comm
            | ProcKind::Cmdline
            | ProcKind::Environ
            | ProcKind::NetDev
            | ProcKind::NetRoute
            | ProcKind::NetIfInet6 => FileType::Regular,
        }
    }

    fn fixed_entries(self) -> &'static [(&'static [u8], ProcKind)] {
        match self {
            ProcKind::Root => &ROOT_ENTRIES,
            ProcKind::PidDir => &PID_ENTRIES,
            ProcKind::NetDir => &NET_ENTRIES,
            _ => &[],
        }
    }

    fn is_per_process(self) -> bool {
        !matches!(
            self,
            ProcKind::Root
                | ProcKind::SelfLink
                | ProcKind::MountsLink
                | ProcKind::NetLink
                | ProcKind::NetDev
                | ProcKind::NetRoute
                | ProcKind::NetIfInet6
                | ProcKind::CpuInfo
                | ProcKind::MemInfo
                | ProcKind::Uptime
                | ProcKind::LoadAvg
                | ProcKind::Version
                | ProcKind::KernelStat
        )
    }
}

/// Appends `count` fields of " 0".
fn push_zeros(text: &mut String, count: usize) {
    for _ in 0..count {
        text.push_str(" 0");
    }
}

/// Appends `n` in decimal (without `format!`: see `ProcFs::kernel_stat`).
fn push_decimal(text: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        text.push(char::from(d));
    }
}

/// The `/proc` file system.
pub struct ProcFs {
    /// The booted program's path (`/proc/self/exe` unless the process view names another).
    app_path: Vec<u8>,
    /// `/proc/mounts` (the volumes are added after the boot's mounts).
    mounts_text: SpinLock<Vec<u8>>,
    /// The device (`st_dev`) of each mount added after the boot's (`crate::fs::vfs::MOUNT_DEVS`),
    /// in `mounts_text`'s order, for `mountinfo`.
    mount_devs: SpinLock<Vec<u64>>,
    image: Option<Arc<ImageFs>>,
    system: SystemInfo,
    clock: Clock,
    uid: u32,
    gid: u32,
    booted: Timespec,
    /// The calling process's view (`/proc/self`).
    process: SpinLock<Option<Arc<dyn ProcessView>>>,
    /// Every process's view, while the process lives (`/proc/PID`).
    processes: SpinLock<Vec<Weak<dyn ProcessView>>>,
    /// The CPU time of the processes that ended, their own (`/proc/stat`).
    ended_cpu_ns: AtomicU64,
    /// Processes started since boot, the first included (`/proc/stat`'s `processes`).
    started: AtomicU64,
    /// The newest process's id (`/proc/loadavg`).
    newest_pid: AtomicU32,
}

impl ProcFs {
    /// Adds a line to `/proc/mounts` (a volume mounted after the boot's file systems).
    #[cold]
    #[inline(never)]
    pub fn add_mount_line(&self, line: &[u8], dev: u64) {
        self.mounts_text.lock().extend_from_slice(line);
        self.mount_devs.lock().push(dev);
    }

    /// `/proc` for an app at `app_path` owned by `uid:gid`; `/proc/mounts` shows
    /// `mounts_text`; `/proc/self/maps` names mappings of `image`'s files by their paths.
    /// The clock's current reading is the boot time.
    pub fn new(
        app_path: &[u8],
        mounts_text: Vec<u8>,
        image: Option<Arc<ImageFs>>,
        system: SystemInfo,
        clock: Clock,
        uid: u32,
        gid: u32,
    ) -> Arc<ProcFs> {
        Arc::new(ProcFs {
            app_path: Vec::from(app_path),
            mounts_text: SpinLock::new(mounts_text),
            mount_devs: SpinLock::new(Vec::new()),
            image,
            system,
            clock,
            uid,
            gid,
            booted: Timespec::from_clock(clock()),
            process: SpinLock::new(None),
            processes: SpinLock::new(Vec::new()),
            ended_cpu_ns: AtomicU64::new(0),
            started: AtomicU64::new(1),
            newest_pid: AtomicU32::new(APP_PID),
        })
    }

    /// The program process `pid` runs (`/proc/PID/exe`; pid 0: the calling process).
    fn app_path(&self, pid: u32) -> Vec<u8> {
        self.view(pid).and_then(|p| p.program()).unwrap_or_else(|| self.app_path.clone())
    }

    /// Process `pid`'s id and its parent's.
    fn ids(&self, pid: u32) -> (u32, u32) {
        self.view(pid).map_or((APP_PID, 0), |p| p.ids())
    }

    /// Installs the view of the calling process (fd table and cwd) `/proc/self` shows, and
    /// registers it as [`ProcFs::register_process`] does (the tests' one call for both).
    #[cfg(test)]
    pub fn set_process_view(&self, view: Arc<dyn ProcessView>) {
        self.register_process(&view);
        self.set_calling_process(view);
    }

    /// Makes a registered process's view the one `/proc/self` shows (the process lock passed
    /// to one of its threads).
    pub fn set_calling_process(&self, view: Arc<dyn ProcessView>) {
        *self.process.lock() = Some(view);
    }

    /// Whether the calling process's permissions (`fs::access::Who`: its file-system ids, or
    /// with `real_ids` its real ones, as `access` asks) satisfy `test`; root's before a
    /// process is set.
    pub fn caller_satisfies(&self, real_ids: bool, test: &mut dyn FnMut(&crate::fs::access::Who) -> bool) -> bool {
        let caller = self.process.lock().clone();
        match caller {
            Some(view) => view.with_who(real_ids, test),
            None => test(&crate::fs::access::Who::ROOT),
        }
    }

    /// Who owns the files the calling process makes: its file-system ids (the file
    /// system's owner before a process is set).
    pub fn calling_owner(&self) -> (u32, u32) {
        self.process.lock().as_ref().map_or((self.uid, self.gid), |p| p.fs_owner())
    }

    /// Lists a process under `/proc/PID` while it lives (the kernel drops its view when it
    /// ends). A view replaces any other of the same pid (the boot installs a first one before
    /// the process is whole).
    pub fn register_process(&self, view: &Arc<dyn ProcessView>) {
        let pid = view.ids().0;
        let mut processes = self.processes.lock();
        let known = processes.iter().any(|known| known.upgrade().is_some_and(|known| known.ids().0 == pid));
        if !known && pid != APP_PID {
            self.started.fetch_add(1, Ordering::Relaxed);
            self.newest_pid.fetch_max(pid, Ordering::Relaxed);
        }
        processes.retain(|known| known.upgrade().is_some_and(|known| known.ids().0 != pid));
        processes.push(Arc::downgrade(view));
    }

    /// A process ended, whose own CPU time was `own_ns` (its children's was counted as each
    /// ended): the VM's CPU time keeps it (`/proc/stat`). Call it as its view goes, under the
    /// same lock as every reading (the process lock), so no reading counts it twice.
    #[cold]
    #[inline(never)]
    pub fn process_ended(&self, own_ns: u64) {
        self.ended_cpu_ns.fetch_add(own_ns, Ordering::Relaxed);
    }

    /// `/proc` itself.
    pub fn root(self: &Arc<Self>) -> ProcNode {
        ProcNode { fs: self.clone(), kind: ProcKind::Root, pid: 0 }
    }

    /// The view of process `pid` (0: the calling process), if it lives.
    fn view(&self, pid: u32) -> Option<Arc<dyn ProcessView>> {
        let current = self.process.lock().clone();
        match current {
            Some(current) if pid == 0 || current.ids().0 == pid => Some(current),
            _ if pid == 0 => None,
            _ => self.registered_view(pid),
        }
    }

    /// The view of another process than the caller (cold: a start reads only its own).
    #[cold]
    #[inline(never)]
    fn registered_view(&self, pid: u32) -> Option<Arc<dyn ProcessView>> {
        self.processes.lock().iter().filter_map(Weak::upgrade).find(|view| view.ids().0 == pid)
    }

    /// The ids of the live processes (the app's always), in increasing order.
    fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.processes.lock().iter().filter_map(Weak::upgrade).map(|v| v.ids().0).collect();
        pids.push(APP_PID);
        if let Some(current) = self.process.lock().clone() {
            pids.push(current.ids().0);
        }
        crate::sort::sort_by_key(&mut pids, |&pid| pid);
        pids.dedup();
        pids
    }

    fn open_fd(&self, pid: u32, fd: i32) -> Option<Arc<OpenFile>> {
        self.view(pid)?.fd_file(fd)
    }

    fn cpuinfo(&self) -> String {
        let count = u64::from(self.system.cpu_count.max(1));
        let khz = self.system.cpu_khz;
        // Written with `push_str` and `push_decimal`, not `format!` (see `kernel_stat`: a
        // format's pieces and placeholders take read-only data, ~0.5 KiB for this one).
        let mut text = String::new();
        for cpu in 0..count {
            text.push_str("processor\t: ");
            push_decimal(&mut text, cpu);
            text.push_str(
                "\nvendor_id\t: uvm\ncpu family\t: 6\nmodel\t\t: 0\nmodel name\t: uvm virtual CPU\n\
                 stepping\t: 0\ncpu MHz\t\t: ",
            );
            push_decimal(&mut text, khz / 1000);
            text.push('.');
            // Three digits of the fraction, zeros included.
            push_decimal(&mut text, khz % 1000 / 100);
            push_decimal(&mut text, khz % 100 / 10);
            push_decimal(&mut text, khz % 10);
            text.push_str("\ncache size\t: 0 KB\nphysical id\t: 0\nsiblings\t: ");
            push_decimal(&mut text, count);
            text.push_str("\ncore id\t\t: ");
            push_decimal(&mut text, cpu);
            text.push_str("\ncpu cores\t: ");
            push_decimal(&mut text, count);
            text.push_str("\napicid\t\t: ");
            push_decimal(&mut text, cpu);
            text.push_str(
                "\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\nflags\t\t:\nbogomips\t: ",
            );
            push_decimal(&mut text, khz / 500);
            text.push_str(
                ".00\nclflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits \
                 virtual\npower management:\n\n",
            );
        }
        text
    }

    fn meminfo(&self) -> String {
        let total = self.system.mem_total_bytes / 1024;
        let free = ((self.system.mem_free_bytes)() / 1024).min(total);
        let lines: [(&str, u64); 17] = [
            ("MemTotal:", total),
            ("MemFree:", free),
            ("MemAvailable:", free),
            ("Buffers:", 0),
            ("Cached:", 0),
            ("SwapCached:", 0),
            ("Active:", 0),
            ("Inactive:", 0),
            ("SwapTotal:", 0),
            ("SwapFree:", 0),
            ("Dirty:", 0),
            ("Shmem:", 0),
            ("Slab:", 0),
            ("CommitLimit:", total),
            ("Committed_AS:", total - free),
            ("VmallocTotal:", 0),
            ("Hugepagesize:", 2048),
        ];
        let mut text = String::new();
        for (label, kb) in lines {
            text += &format!("{label:<16}{kb:>8} kB\n");
        }
        text += "HugePages_Total:       0\nHugePages_Free:        0\n";
        text
    }

    /// Time since boot: (seconds, nanoseconds).
    fn since_boot(&self) -> (i64, i64) {
        let now = Timespec::from_clock((self.clock)());
        let mut seconds = now.sec.saturating_sub(self.booted.sec).max(0);
        let mut nanos = i64::from(now.nsec) - i64::from(self.booted.nsec);
        if nanos < 0 {
            if seconds == 0 {
                nanos = 0;
            } else {
                seconds -= 1;
                nanos += 1_000_000_000;
            }
        }
        (seconds, nanos)
    }

    #[cold]
    #[inline(never)]
    fn uptime(&self) -> String {
        let (seconds, nanos) = self.since_boot();
        let hundredths = (seconds as u64) * 100 + (nanos as u64) / 10_000_000;
        let (_, idle) = self.busy_and_idle_ticks(&self.live_views());
        // Two decimals as digits (see `kernel_stat` on the read-only data).
        let mut text = String::new();
        for (at, h) in [hundredths, idle * 100 / CLOCK_TICKS].into_iter().enumerate() {
            if at > 0 {
                text.push(' ');
            }
            push_decimal(&mut text, h / 100);
            text.push('.');
            push_decimal(&mut text, h / 10 % 10);
            push_decimal(&mut text, h % 10);
        }
        text.push('\n');
        text
    }

    /// The live processes' views, each once (the calling process's included).
    #[cold]
    #[inline(never)]
    fn live_views(&self) -> Vec<Arc<dyn ProcessView>> {
        let mut views: Vec<Arc<dyn ProcessView>> = self.processes.lock().iter().filter_map(Weak::upgrade).collect();
        if let Some(current) = self.process.lock().clone() {
            let pid = current.ids().0;
            if !views.iter().any(|v| v.ids().0 == pid) {
                views.push(current);
            }
        }
        views
    }

    /// The VM's busy and idle time since boot, in clock ticks, all CPUs together: the live
    /// processes' own CPU time and the ended ones', and the rest of uptime times the CPUs.
    /// The busy time is at most uptime times the CPUs: a thread whose vCPU waits for one of
    /// the VM's run slots (more threads than CPUs) counts that wait as running, as a vCPU the
    /// host preempts does (`crate::cputime`), which the sum would otherwise show.
    #[cold]
    #[inline(never)]
    fn busy_and_idle_ticks(&self, views: &[Arc<dyn ProcessView>]) -> (u64, u64) {
        let live: u64 = views.iter().filter_map(|v| v.cpu_ns()).fold(0, u64::saturating_add);
        let busy = live.saturating_add(self.ended_cpu_ns.load(Ordering::Relaxed)) / (1_000_000_000 / CLOCK_TICKS);
        let cpus = u64::from(self.system.cpu_count.max(1));
        let all = self.ticks_since_boot().saturating_mul(cpus);
        (busy.min(all), all.saturating_sub(busy))
    }

    /// The live threads not waiting (at least the caller's) and all of them.
    fn thread_counts(views: &[Arc<dyn ProcessView>]) -> (u64, u64) {
        let total: u64 = views.iter().map(|v| u64::from(v.thread_count())).sum();
        let running: u64 = views.iter().map(|v| u64::from(v.thread_count().saturating_sub(v.waiting_threads()))).sum();
        (running.max(1), total.max(1))
    }

    /// `/proc/loadavg`: the load averages (not counted), the running threads and all of them,
    /// the newest process's id.
    #[cold]
    #[inline(never)]
    fn loadavg(&self) -> String {
        let (running, total) = Self::thread_counts(&self.live_views());
        let mut text = String::from("0.00 0.00 0.00 ");
        push_decimal(&mut text, running);
        text.push('/');
        push_decimal(&mut text, total);
        text.push(' ');
        push_decimal(&mut text, u64::from(self.newest_pid.load(Ordering::Relaxed)));
        text.push('\n');
        text
    }

    /// Process `of`'s state: stopped (a stop signal), sleeping (every thread waits) or
    /// running; its letter and `status`'s words.
    fn state(&self, of: u32) -> (char, &'static str) {
        match self.view(of) {
            Some(p) if p.stopped() => ('T', "T (stopped)"),
            Some(p) if p.waiting_threads() >= p.thread_count() => ('S', "S (sleeping)"),
            _ => ('R', "R (running)"),
        }
    }

    /// `/proc/stat`: the VM's CPU time (user and idle; per CPU, split evenly), then the counts
    /// Linux shows after it (see the module's notes on what is not counted).
    #[cold]
    #[inline(never)]
    fn kernel_stat(&self) -> String {
        let views = self.live_views();
        let (busy, idle) = self.busy_and_idle_ticks(&views);
        let cpus = u64::from(self.system.cpu_count.max(1));
        // Written with `push_str` and `push_decimal` rather than `format!`: a format's pieces
        // take room in the read-only data, which has little to spare ("Sizes" in
        // docs/PERFORMANCE.md), where code costs only cold text.
        let mut text = String::new();
        let mut line = |name: &str, cpu: Option<u64>, user: u64, idle: u64| {
            text.push_str(name);
            if let Some(cpu) = cpu {
                push_decimal(&mut text, cpu);
            }
            text.push(' ');
            push_decimal(&mut text, user);
            push_zeros(&mut text, 2);
            text.push(' ');
            push_decimal(&mut text, idle);
            push_zeros(&mut text, 6);
            text.push('\n');
        };
        line("cpu ", None, busy, idle);
        for cpu in 0..cpus {
            // CPU 0 takes the remainders.
            let share = |total: u64| total / cpus + if cpu == 0 { total % cpus } else { 0 };
            line("cpu", Some(cpu), share(busy), share(idle));
        }
        let (running, _) = Self::thread_counts(&views);
        text.push_str("intr 0\nctxt 0\nbtime ");
        push_decimal(&mut text, self.booted.sec.max(0) as u64);
        text.push_str("\nprocesses ");
        push_decimal(&mut text, self.started.load(Ordering::Relaxed));
        text.push_str("\nprocs_running ");
        push_decimal(&mut text, running);
        text.push_str("\nprocs_blocked 0\nsoftirq");
        push_zeros(&mut text, 11);
        text.push('\n');
        text
    }

    /// Process `of`'s CPU time in clock ticks (the VM's uptime when its view does not know).
    fn cpu_ticks(&self, of: u32) -> u64 {
        match self.view(of).and_then(|p| p.cpu_ns()) {
            Some(ns) => ns / (1_000_000_000 / CLOCK_TICKS),
            None => self.ticks_since_boot(),
        }
    }

    /// The CPU time of process `of`'s waited-for children, in clock ticks.
    fn children_cpu_ticks(&self, of: u32) -> u64 {
        self.view(of).map_or(0, |p| p.children_cpu_ns()) / (1_000_000_000 / CLOCK_TICKS)
    }

    /// Clock ticks since boot.
    fn ticks_since_boot(&self) -> u64 {
        let (seconds, nanos) = self.since_boot();
        (seconds as u64) * CLOCK_TICKS + (nanos as u64) / (1_000_000_000 / CLOCK_TICKS)
    }

    /// The app's name as the kernel keeps it (`comm`): as its first thread set it, else its
    /// file name, at most 15 bytes.
    pub fn comm(&self, pid: u32) -> Vec<u8> {
        if let Some(name) = self.view(pid).and_then(|p| p.comm()) {
            return name;
        }
        let path = self.app_path(pid);
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
        Vec::from(&name[..name.len().min(15)])
    }

    /// Process `pid`'s memory (no mappings without a process view).
    fn memory(&self, pid: u32) -> MemoryUsage {
        self.view(pid).and_then(|p| p.memory()).unwrap_or_default()
    }

    /// The image file holding byte `image_offset` of the image file, and that byte's offset
    /// in it: `(entry index, file offset)`.
    fn image_file_at(&self, image_offset: u64) -> Option<(u32, u64)> {
        let image = self.image.as_ref()?;
        (0..image.entry_count()).find_map(|index| {
            let (start, size) = image.file_extent(index)?;
            (image_offset >= start && image_offset - start < size).then(|| (index, image_offset - start))
        })
    }

    /// `/proc/self/maps`: one line per mapping, `start-end perms offset dev inode path`, the
    /// path column aligned as Linux aligns it.
    fn maps(&self, of: u32) -> String {
        let mut text = String::new();
        let usage = self.memory(of);
        for region in usage.regions.iter().copied() {
            let (offset, dev, ino, name) = match region.kind {
                RegionKind::Anonymous => (0, 0, 0, None),
                RegionKind::Heap => (0, 0, 0, Some(Vec::from(&b"[heap]"[..]))),
                RegionKind::Stack => (0, 0, 0, Some(Vec::from(&b"[stack]"[..]))),
                RegionKind::Image { image_offset } => match self.image_file_at(image_offset) {
                    Some((index, offset)) => {
                        let path = self.image.as_ref().and_then(|image| image.path_of(index).ok());
                        (offset, DEV_IMAGE, u64::from(index) + 1, path)
                    }
                    None => (0, 0, 0, None),
                },
                RegionKind::File { offset, dev, ino, .. } => {
                    let path = usage.file_paths.iter().find(|(id, _)| *id == (dev, ino)).map(|(_, p)| p.clone());
                    (offset, dev, ino, path)
                }
            };
            let flag = |on: bool, c: char| if on { c } else { '-' };
            let shared = if matches!(region.kind, RegionKind::File { shared: true, .. }) { 's' } else { 'p' };
            let line = format!(
                "{:08x}-{:08x} {}{}{}{shared} {offset:08x} {:02x}:{:02x} {ino} ",
                region.start,
                region.end,
                flag(region.read, 'r'),
                flag(region.write, 'w'),
                flag(region.exec, 'x'),
                major(dev),
                minor(dev),
            );
            text += &line;
            if let Some(name) = name {
                for _ in line.len()..MAPS_NAME_COLUMN - 1 {
                    text.push(' ');
                }
                text.push(' ');
                text += &String::from_utf8_lossy(&name);
            }
            text.push('\n');
        }
        text
    }

    /// `/proc/self/status`.
    fn status(&self, of: u32) -> String {
        let memory = self.memory(of);
        let sizes = MemorySizes::of(&memory);
        let fds = self.view(of).map(|p| p.open_fds()).unwrap_or_default();
        let fd_size = fds.last().map_or(64, |&fd| ((fd as u64 + 1).div_ceil(64) * 64).max(64));
        let cpus = self.system.cpu_count.max(1);
        let identity = self.view(of).map(|p| p.identity()).unwrap_or_default();
        let (uid, gid) = (identity.uid, identity.gid);
        // Each group followed by a space, as Linux prints them (a space alone for none).
        let mut groups: String = identity.groups.iter().map(|g| format!("{g} ")).collect();
        if groups.is_empty() {
            groups.push(' ');
        }
        let (pid, ppid) = self.ids(of);
        let mut text = format!(
            "Name:\t{}\nState:\t{}\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\n\
             TracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\n\
             FDSize:\t{fd_size}\nGroups:\t{}\n",
            String::from_utf8_lossy(&self.comm(of)),
            self.state(of).1,
            uid.real,
            uid.effective,
            uid.saved,
            uid.fs,
            gid.real,
            gid.effective,
            gid.saved,
            gid.fs,
            groups,
        );
        let kb = |pages: u64| pages * (BLOCK_SIZE as u64 / 1024);
        let lines: [(&str, u64); 15] = [
            ("VmPeak:", kb(sizes.total)),
            ("VmSize:", kb(sizes.total)),
            ("VmLck:", 0),
            ("VmPin:", 0),
            ("VmHWM:", kb(memory.peak_resident_pages.max(memory.resident_pages))),
            ("VmRSS:", kb(memory.resident_pages)),
            ("RssAnon:", kb(memory.resident_pages)),
            ("RssFile:", 0),
            ("RssShmem:", 0),
            ("VmData:", kb(sizes.data)),
            ("VmStk:", kb(sizes.stack)),
            ("VmExe:", kb(sizes.text)),
            ("VmLib:", 0),
            ("VmPTE:", 0),
            ("VmSwap:", 0),
        ];
        for (label, value) in lines {
            text += &format!("{label}\t{value:>8} kB\n");
        }
        let cpu_list = if cpus == 1 { String::from("0") } else { format!("0-{}", cpus - 1) };
        let threads = self.view(of).map_or(1, |p| p.thread_count());
        let caps = self.view(of).map(|p| p.capabilities()).unwrap_or_default();
        text += &format!(
            "Threads:\t{threads}\nSigQ:\t0/0\nCapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\n\
             CapBnd:\t{:016x}\nCapAmb:\t{:016x}\nCpus_allowed_list:\t{cpu_list}\n\
             voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n",
            caps.inheritable, caps.permitted, caps.effective, caps.bounding, caps.ambient,
        );
        text
    }

    /// `/proc/self/stat`: the 52 fields of Linux's `proc_pid_stat`, enough for `ps`-like
    /// readers (times in clock ticks, the app's CPU time being its run time).
    fn stat(&self, of: u32) -> String {
        let memory = self.memory(of);
        let sizes = MemorySizes::of(&memory);
        let first = |wanted: fn(&MapRegion) -> bool| memory.regions.iter().find(|r| wanted(r)).copied();
        let code = first(|r| r.exec && matches!(r.kind, RegionKind::Image { .. }));
        let stack_top = first(|r| r.kind == RegionKind::Stack).map_or(0, |r| r.end);
        let brk_start = first(|r| r.kind == RegionKind::Heap).map_or(0, |r| r.start);
        let (pid, ppid) = self.ids(of);
        // Fields 4 (ppid) to 52 (exit_code); -1 is tpgid (no controlling terminal).
        // When it started, in clock ticks since boot.
        let started = self.view(of).map_or(0, |p| p.started_ns()) / (1_000_000_000 / CLOCK_TICKS);
        let fields: [i128; 49] = [
            ppid.into(),                                               // ppid
            pid.into(),                                                // pgrp
            pid.into(),                                                // session
            0,                                                         // tty_nr
            -1,                                                        // tpgid
            0x40_0000,                                                 // flags
            memory.minor_faults.into(),                                // minflt
            0,                                                         // cminflt
            0,                                                         // majflt
            0,                                                         // cmajflt
            self.cpu_ticks(of).into(),                                 // utime
            0,                                                         // stime
            self.children_cpu_ticks(of).into(),                        // cutime
            0,                                                         // cstime
            20,                                                        // priority
            0,                                                         // nice
            i128::from(self.view(of).map_or(1, |p| p.thread_count())), // num_threads
            0,                                                         // itrealvalue
            started.into(),                                            // starttime
            (sizes.total * BLOCK_SIZE as u64).into(),                  // vsize
            memory.resident_pages.into(),                              // rss
            u64::MAX.into(),                                           // rsslim
            code.map_or(0, |r| r.start).into(),                        // startcode
            code.map_or(0, |r| r.end).into(),                          // endcode
            stack_top.into(),                                          // startstack
            0,                                                         // kstkesp
            0,                                                         // kstkeip
            0,                                                         // signal
            0,                                                         // blocked
            0,                                                         // sigignore
            0,                                                         // sigcatch
            0,                                                         // wchan
            0,                                                         // nswap
            0,                                                         // cnswap
            17,                                                        // exit_signal (SIGCHLD)
            0,                                                         // processor
            0,                                                         // rt_priority
            0,                                                         // policy
            0,                                                         // delayacct_blkio_ticks
            0,                                                         // guest_time
            0,                                                         // cguest_time
            0,                                                         // start_data
            0,                                                         // end_data
            brk_start.into(),                                          // start_brk
            0,                                                         // arg_start
            0,                                                         // arg_end
            0,                                                         // env_start
            0,                                                         // env_end
            0,                                                         // exit_code
        ];
        let state = self.state(of).0;
        let mut text = format!("{pid} ({}) {state}", String::from_utf8_lossy(&self.comm(of)));
        for field in fields {
            text += &format!(" {field}");
        }
        text.push('\n');
        text
    }

    /// `/proc/self/statm`: sizes in pages.
    fn statm(&self, of: u32) -> String {
        let memory = self.memory(of);
        let sizes = MemorySizes::of(&memory);
        format!("{} {} 0 {} 0 {} 0\n", sizes.total, memory.resident_pages, sizes.text, sizes.data + sizes.stack)
    }

    /// `/proc/version`, matching what `uname` reports.
    /// `/proc/PID/mountinfo`, from `/proc/mounts`' lines and the mounts' devices: `ID PARENT
    /// MAJOR:MINOR / MOUNT-POINT OPTIONS - TYPE SOURCE SUPER-OPTIONS`, the ids counted from
    /// [`FIRST_MOUNT_ID`] in mount order, a mount's parent the latest earlier mount whose
    /// point holds it (the root's, one below the first, is not listed: as in a container),
    /// the super options `rw` or `ro` as the mount's are. No optional fields (no propagation).
    fn mountinfo(&self) -> String {
        let text = self.mounts_text.lock().clone();
        let devs = self.mount_devs.lock().clone();
        let lines: Vec<Vec<&[u8]>> =
            text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| l.split(|&b| b == b' ').collect()).collect();
        let field = |fields: &Vec<&[u8]>, i: usize| -> String {
            String::from_utf8_lossy(fields.get(i).copied().unwrap_or_default()).into_owned()
        };
        let mut out = String::new();
        for (i, fields) in lines.iter().enumerate() {
            let point = fields.get(1).copied().unwrap_or_default();
            let holds = |other: &&Vec<&[u8]>| {
                let at = other.get(1).copied().unwrap_or_default();
                at == b"/" || (point.starts_with(at) && point.get(at.len()) == Some(&b'/'))
            };
            let parent = lines[..i]
                .iter()
                .rposition(|other| holds(&other))
                .map_or(FIRST_MOUNT_ID - 1, |p| FIRST_MOUNT_ID + p as u64);
            let boot = &crate::fs::vfs::MOUNT_DEVS;
            let dev = boot.get(i).or_else(|| devs.get(i - boot.len())).copied().unwrap_or(0);
            push_decimal(&mut out, FIRST_MOUNT_ID + i as u64);
            out.push(' ');
            push_decimal(&mut out, parent);
            out.push(' ');
            push_decimal(&mut out, u64::from(major(dev)));
            out.push(':');
            push_decimal(&mut out, u64::from(minor(dev)));
            out.push_str(" / ");
            let options = field(fields, 3);
            for part in [field(fields, 1), options.clone(), String::from("-"), field(fields, 2), field(fields, 0)] {
                out.push_str(&part);
                out.push(' ');
            }
            out.push_str(if options.starts_with("ro") { "ro" } else { "rw" });
            out.push('\n');
        }
        out
    }

    /// `/proc/PID/limits`, in Linux's layout (`fs/proc/base.c`: a header, then a line per
    /// limit: its name, soft and hard values or `unlimited`, and its unit).
    fn limits(&self, pid: u32) -> String {
        // One string, not a table of `&str`s: their pointers would be relocated writable
        // data, a page more of the kernel's binary.
        const NAMES: &str = "Max cpu time:seconds\nMax file size:bytes\nMax data size:bytes\n\
            Max stack size:bytes\nMax core file size:bytes\nMax resident set:bytes\n\
            Max processes:processes\nMax open files:files\nMax locked memory:bytes\n\
            Max address space:bytes\nMax file locks:locks\nMax pending signals:signals\n\
            Max msgqueue size:bytes\nMax nice priority:\nMax realtime priority:\n\
            Max realtime timeout:us";
        let limits = self.view(pid).map_or([(u64::MAX, u64::MAX); crate::syscall::proc::RLIMITS], |p| p.limits());
        let mut out = String::new();
        let padded = |out: &mut String, text: &str, width: usize| {
            out.push_str(text);
            for _ in text.len()..width {
                out.push(' ');
            }
        };
        let value = |out: &mut String, limit: u64| {
            let mut text = String::new();
            if limit == u64::MAX {
                text.push_str("unlimited");
            } else {
                push_decimal(&mut text, limit);
            }
            padded(out, &text, 20);
            out.push(' ');
        };
        let rows = NAMES.lines().map(|line| line.trim_start().split_once(':').unwrap_or((line, "")));
        for (i, (name, unit)) in [("Limit", "Units")].into_iter().chain(rows).enumerate() {
            padded(&mut out, name, 25);
            out.push(' ');
            match i.checked_sub(1).and_then(|at| limits.get(at)) {
                None => {
                    padded(&mut out, "Soft Limit", 20);
                    out.push(' ');
                    padded(&mut out, "Hard Limit", 20);
                    out.push(' ');
                }
                Some(&(soft, hard)) => {
                    value(&mut out, soft);
                    value(&mut out, hard);
                }
            }
            if !unit.is_empty() {
                padded(&mut out, unit, 10);
            }
            out.push('\n');
        }
        out
    }

    fn version(&self) -> String {
        format!("Linux version {KERNEL_RELEASE} (uvm@uvm) (uvm guest kernel) {KERNEL_VERSION}\n")
    }
}

/// A file of `/proc`.
#[derive(Clone)]
pub struct ProcNode {
    fs: Arc<ProcFs>,
    kind: ProcKind,
    /// The process a per-process file is about (0: the calling process).
    pid: u32,
}

/// The inode number of `kind` in process `pid`'s directory: per-process files of processes
/// other than the app are told apart by their pid in the high half.
fn ino_of(kind: ProcKind, pid: u32) -> u64 {
    if kind.is_per_process() && pid > APP_PID {
        kind.ino() | (u64::from(pid) << 32)
    } else {
        kind.ino()
    }
}

/// The offset of process `pid`'s directory in `/proc`'s listing (after the fixed entries, by
/// pid, so a listing resumes right as processes come and go).
fn pid_entry_offset(pid: u32) -> u64 {
    FIRST_ENTRY_OFFSET + ROOT_ENTRIES.len() as u64 + u64::from(pid)
}

impl ProcNode {
    /// Which file this is.
    pub fn kind(&self) -> ProcKind {
        self.kind
    }

    /// The file type.
    pub fn file_type(&self) -> FileType {
        self.kind.file_type()
    }

    fn with_kind(&self, kind: ProcKind) -> ProcNode {
        ProcNode { fs: self.fs.clone(), kind, pid: self.pid }
    }

    /// The metadata (sizes are 0, as on Linux).
    pub fn stat(&self) -> Stat {
        let file_type = self.file_type();
        let permissions = match self.kind {
            ProcKind::Fd(fd) => match self.fs.open_fd(self.pid, fd) {
                Some(file) if file.is_writable() => 0o700,
                _ => 0o500,
            },
            ProcKind::Environ => 0o400,
            _ => match file_type {
                FileType::Directory => 0o555,
                FileType::Symlink => 0o777,
                _ => 0o444,
            },
        };
        let nlink = match self.kind {
            ProcKind::Root => 3,
            ProcKind::PidDir => 3,
            ProcKind::FdDir | ProcKind::NetDir => 2,
            _ => 1,
        };
        // A process's files are its own (its effective ids) while it is dumpable, as Linux's
        // (the file system's before a view is there).
        let (uid, gid) = if self.kind.is_per_process() {
            self.fs.view(self.pid).map_or((self.fs.uid, self.fs.gid), |view| view.effective_ids())
        } else {
            (0, 0)
        };
        let time = self.fs.booted;
        let ino = ino_of(self.kind, self.pid);
        Stat::contentless(DEV_PROC, ino, nlink, file_type.mode_bits() | permissions, (uid, gid), time)
    }

    /// The entry `name` of this directory (`ENOENT` for anything not listed).
    pub fn lookup(&self, name: &[u8]) -> Result<ProcNode, Errno> {
        match self.kind {
            ProcKind::FdDir => {
                let fd = parse_fd(name).ok_or(Errno::ENOENT)?;
                self.fs.open_fd(self.pid, fd).ok_or(Errno::ENOENT)?;
                Ok(self.with_kind(ProcKind::Fd(fd)))
            }
            // The app's directory: it lives as long as the VM (and is there before its view).
            ProcKind::Root if name == b"1" => {
                Ok(ProcNode { fs: self.fs.clone(), kind: ProcKind::PidDir, pid: APP_PID })
            }
            // Another process's directory, under its pid (`/proc/self` leads to the caller's).
            ProcKind::Root if name.first().is_some_and(u8::is_ascii_digit) => self.process_dir(name),
            kind if kind.file_type() == FileType::Directory => {
                let entries = kind.fixed_entries();
                let found = entries.iter().find(|(entry, _)| *entry == name).ok_or(Errno::ENOENT)?;
                Ok(self.with_kind(found.1))
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// `/proc/PID` for a process other than the app (cold: a start reads only its own).
    #[cold]
    #[inline(never)]
    fn process_dir(&self, name: &[u8]) -> Result<ProcNode, Errno> {
        let pid = parse_fd(name).and_then(|pid| u32::try_from(pid).ok()).ok_or(Errno::ENOENT)?;
        self.fs.view(pid).ok_or(Errno::ENOENT)?;
        Ok(ProcNode { fs: self.fs.clone(), kind: ProcKind::PidDir, pid })
    }

    /// The parent directory (`/proc` is its own).
    pub fn parent(&self) -> Result<ProcNode, Errno> {
        match self.kind {
            ProcKind::Root | ProcKind::PidDir => Ok(self.with_kind(ProcKind::Root)),
            ProcKind::FdDir | ProcKind::NetDir => Ok(self.with_kind(ProcKind::PidDir)),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Lists this directory from offset `from` until `visit` returns false. In `fd/`, the
    /// offset of fd N's entry is `2 + N`, so a listing resumes correctly as fds come and go.
    pub fn read_dir(&self, from: u64, visit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<(), Errno> {
        match self.kind {
            ProcKind::FdDir => {
                let fds = self.fs.view(self.pid).map(|p| p.open_fds()).unwrap_or_default();
                for fd in fds {
                    let offset = FIRST_ENTRY_OFFSET + fd as u64;
                    if fd < 0 || offset < from {
                        continue;
                    }
                    let name = format!("{fd}");
                    let entry = DirEntry {
                        name: name.as_bytes(),
                        ino: ProcKind::Fd(fd).ino(),
                        file_type: FileType::Symlink,
                        next_offset: offset + 1,
                    };
                    if !visit(&entry) {
                        break;
                    }
                }
                Ok(())
            }
            kind if kind.file_type() == FileType::Directory => {
                let skip = usize::try_from(from.saturating_sub(FIRST_ENTRY_OFFSET)).unwrap_or(usize::MAX);
                for (index, (name, entry_kind)) in kind.fixed_entries().iter().enumerate().skip(skip) {
                    let entry = DirEntry {
                        name,
                        ino: ino_of(*entry_kind, self.pid),
                        file_type: entry_kind.file_type(),
                        next_offset: FIRST_ENTRY_OFFSET + index as u64 + 1,
                    };
                    if !visit(&entry) {
                        return Ok(());
                    }
                }
                if kind == ProcKind::Root {
                    for pid in self.fs.pids() {
                        let offset = pid_entry_offset(pid);
                        if offset < from {
                            continue;
                        }
                        let name = format!("{pid}");
                        let entry = DirEntry {
                            name: name.as_bytes(),
                            ino: ino_of(ProcKind::PidDir, pid),
                            file_type: FileType::Directory,
                            next_offset: offset + 1,
                        };
                        if !visit(&entry) {
                            break;
                        }
                    }
                }
                Ok(())
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Where this symlink leads: `ENOENT` if the fd was closed or no process view is
    /// installed, `EINVAL` for a non-link.
    pub fn link_target(&self) -> Result<LinkTarget<Location>, Errno> {
        Ok(match self.kind {
            ProcKind::SelfLink => LinkTarget::Path(format!("{}", self.fs.ids(0).0).into_bytes()),
            ProcKind::MountsLink => LinkTarget::Path(Vec::from(&b"self/mounts"[..])),
            ProcKind::NetLink => LinkTarget::Path(Vec::from(&b"self/net"[..])),
            ProcKind::Exe => LinkTarget::Path(self.fs.app_path(self.pid)),
            ProcKind::Cwd => LinkTarget::Location(self.fs.view(self.pid).ok_or(Errno::ENOENT)?.cwd()),
            ProcKind::Fd(fd) => {
                LinkTarget::Location(self.fs.open_fd(self.pid, fd).ok_or(Errno::ENOENT)?.location().clone())
            }
            _ => return Err(Errno::EINVAL),
        })
    }

    /// What `readlink` shows for this symlink.
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match self.kind {
            ProcKind::Fd(fd) => Ok(self.fs.open_fd(self.pid, fd).ok_or(Errno::ENOENT)?.display_path()),
            _ => match self.link_target()? {
                LinkTarget::Path(path) => Ok(path),
                LinkTarget::Location(location) => Ok(Vec::from(location.path())),
            },
        }
    }

    /// The generated content of a file: `EISDIR` for a directory, `EINVAL` for a link. Cold
    /// and out of line: a start reads no `/proc` file, and inlined into the file read it
    /// would grow the kernel's hot text (copied into every VM).
    #[cold]
    #[inline(never)]
    pub fn content(&self) -> Result<Vec<u8>, Errno> {
        let text = match self.kind {
            ProcKind::CpuInfo => self.fs.cpuinfo(),
            ProcKind::MemInfo => self.fs.meminfo(),
            ProcKind::Uptime => self.fs.uptime(),
            ProcKind::LoadAvg => self.fs.loadavg(),
            ProcKind::Version => self.fs.version(),
            ProcKind::KernelStat => self.fs.kernel_stat(),
            ProcKind::Maps => self.fs.maps(self.pid),
            ProcKind::Status => self.fs.status(self.pid),
            ProcKind::Stat => self.fs.stat(self.pid),
            ProcKind::Statm => self.fs.statm(self.pid),
            ProcKind::Comm => {
                let mut name = self.fs.comm(self.pid);
                name.push(b'\n');
                return Ok(name);
            }
            ProcKind::Cmdline => {
                return Ok(nul_separated(self.fs.view(self.pid).map(|p| p.argv()).unwrap_or_default()))
            }
            ProcKind::Environ => {
                return Ok(nul_separated(self.fs.view(self.pid).map(|p| p.envp()).unwrap_or_default()))
            }
            ProcKind::Mounts => return Ok(self.fs.mounts_text.lock().clone()),
            ProcKind::MountInfo => self.fs.mountinfo(),
            ProcKind::Limits => self.fs.limits(self.pid),
            ProcKind::NetDev => return Ok(crate::fs::procnet::dev()),
            ProcKind::NetRoute => return Ok(crate::fs::procnet::route()),
            ProcKind::NetIfInet6 => return Ok(crate::fs::procnet::if_inet6()),
            // Every process in the one cgroup v2 (unified) hierarchy's root, as a container
            // sees itself in its cgroup namespace.
            ProcKind::Cgroup => return Ok(b"0::/\n".to_vec()),
            kind if kind.file_type() == FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        Ok(text.into_bytes())
    }

    /// Copies the content from `offset` into `buf`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let content = self.content()?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(content.len());
        let count = buf.len().min(content.len() - start);
        buf[..count].copy_from_slice(&content[start..start + count]);
        Ok(count)
    }
}

/// Strings each followed by a NUL, as `cmdline` and `environ` show them.
fn nul_separated(strings: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for string in strings {
        out.extend_from_slice(&string);
        out.push(0);
    }
    out
}

/// An fd number as `/proc/self/fd` names it: decimal, no sign, no leading zero.
fn parse_fd(name: &[u8]) -> Option<i32> {
    if name.is_empty() || (name.len() > 1 && name[0] == b'0') || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i32 = 0;
    for &digit in name {
        value = value.checked_mul(10)?.checked_add(i32::from(digit - b'0'))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three methods a test view without files answers alike: no fds, no cwd asked.
    macro_rules! without_files {
        () => {
            fn fd_file(&self, _fd: i32) -> Option<Arc<OpenFile>> {
                None
            }
            fn open_fds(&self) -> Vec<i32> {
                Vec::new()
            }
            fn cwd(&self) -> Location {
                unreachable!("not asked")
            }
        };
    }

    fn clock() -> (i64, u32) {
        (100, 500_000_000)
    }

    fn free() -> u64 {
        1 << 20
    }

    fn procfs() -> Arc<ProcFs> {
        let system = SystemInfo { cpu_count: 2, cpu_khz: 2_500_123, mem_total_bytes: 64 << 20, mem_free_bytes: free };
        ProcFs::new(b"/bin/app", b"mounts text\n".to_vec(), None, system, clock, 1000, 100)
    }

    fn walk(fs: &Arc<ProcFs>, path: &str) -> Result<ProcNode, Errno> {
        let mut node = fs.root();
        for name in path.split('/').filter(|n| !n.is_empty()) {
            node = node.lookup(name.as_bytes())?;
        }
        Ok(node)
    }

    fn text(fs: &Arc<ProcFs>, path: &str) -> String {
        String::from_utf8(walk(fs, path).unwrap().content().unwrap()).unwrap()
    }

    /// `/proc/net`'s files, as Linux shows them in a network namespace set up as the VM's
    /// (lo, eth0 at 10.0.2.15/24, the default route via 10.0.2.2).
    #[test]
    fn the_net_files_are_linux_s() {
        let fs = procfs();
        assert_eq!(walk(&fs, "net").unwrap().readlink().unwrap(), b"self/net");
        assert_eq!(walk(&fs, "1/net").unwrap().parent().unwrap().kind(), ProcKind::PidDir);
        let pad = |line: &str| format!("{line:<127}\n");
        let route = [
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
            "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0",
            "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
        ];
        assert_eq!(text(&fs, "1/net/route"), route.map(pad).concat());
        assert_eq!(text(&fs, "1/net/if_inet6"), "00000000000000000000000000000001 01 80 10 80       lo\n");
        let dev = text(&fs, "1/net/dev");
        let lines: Vec<&str> = dev.lines().collect();
        assert_eq!(lines[0], "Inter-|   Receive                                                |  Transmit");
        assert_eq!(
            lines[2],
            "    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0"
        );
        assert!(lines[3].starts_with("  eth0:       0"));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn generated_files() {
        let fs = procfs();
        let cpuinfo = text(&fs, "cpuinfo");
        assert_eq!(cpuinfo.matches("processor\t:").count(), 2);
        assert!(cpuinfo.contains("cpu MHz\t\t: 2500.123\n"));
        assert!(cpuinfo.ends_with("\n\n"));
        assert!(
            cpuinfo.starts_with(
                "processor\t: 0\nvendor_id\t: uvm\ncpu family\t: 6\nmodel\t\t: 0\nmodel name\t: uvm virtual CPU\n\
                 stepping\t: 0\ncpu MHz\t\t: 2500.123\ncache size\t: 0 KB\nphysical id\t: 0\nsiblings\t: 2\n\
                 core id\t\t: 0\ncpu cores\t: 2\napicid\t\t: 0\nfpu\t\t: yes\nfpu_exception\t: yes\n\
                 cpuid level\t: 13\nwp\t\t: yes\nflags\t\t:\nbogomips\t: 5000.00\nclflush size\t: 64\n\
                 cache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\npower management:\n\n\
                 processor\t: 1\n"
            ),
            "{cpuinfo}"
        );
        let meminfo = text(&fs, "meminfo");
        assert!(meminfo.starts_with("MemTotal:          65536 kB\nMemFree:            1024 kB\n"), "{meminfo}");
        assert!(meminfo.contains("MemAvailable:       1024 kB\n"));
        assert_eq!(text(&fs, "1/mounts"), "mounts text\n");
        assert_eq!(text(&fs, "uptime"), "0.00 0.00\n");
        let node = walk(&fs, "meminfo").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(node.read_at(3, &mut buf), Ok(4));
        assert_eq!(&buf, b"Tota");
        assert_eq!(node.read_at(1 << 40, &mut buf), Ok(0));
        assert_eq!(fs.root().content(), Err(Errno::EISDIR));
        assert_eq!(walk(&fs, "self").unwrap().content(), Err(Errno::EINVAL));
        let st = node.stat();
        assert_eq!((st.mode, st.size, st.dev, st.uid), (0o100444, 0, DEV_PROC, 0));
    }

    #[test]
    fn links_without_a_process_view() {
        let fs = procfs();
        let this = walk(&fs, "self").unwrap();
        assert_eq!(this.readlink().unwrap(), b"1");
        assert_eq!(this.stat().mode, 0o120777);
        assert_eq!(walk(&fs, "mounts").unwrap().readlink().unwrap(), b"self/mounts");
        let exe = walk(&fs, "1/exe").unwrap();
        assert_eq!(exe.readlink().unwrap(), b"/bin/app");
        assert_eq!(exe.stat().uid, 1000);
        assert_eq!(walk(&fs, "1/cwd").unwrap().readlink(), Err(Errno::ENOENT));
        assert_eq!(walk(&fs, "1/fd/0").err(), Some(Errno::ENOENT));
        assert_eq!(walk(&fs, "1/smaps").err(), Some(Errno::ENOENT));
        assert_eq!(text(&fs, "1/maps"), "", "no process view: no mappings");
        assert_eq!(walk(&fs, "1/cmdline").unwrap().content().unwrap(), b"");
        assert_eq!(walk(&fs, "cpuinfo/x").err(), Some(Errno::ENOTDIR));
        assert_eq!(fs.root().readlink(), Err(Errno::EINVAL));
        let mut count = 0;
        walk(&fs, "1/fd")
            .unwrap()
            .read_dir(0, &mut |_| {
                count += 1;
                true
            })
            .unwrap();
        assert_eq!(count, 0);
    }

    /// A process of the VM other than the caller: pid 5, a child of the app.
    struct Child;

    impl ProcessView for Child {
        fn fd_file(&self, _fd: i32) -> Option<Arc<OpenFile>> {
            None
        }
        fn open_fds(&self) -> Vec<i32> {
            alloc::vec![0, 4]
        }
        fn cwd(&self) -> Location {
            unreachable!("not asked")
        }
        fn program(&self) -> Option<Vec<u8>> {
            Some(b"/bin/worker".to_vec())
        }
        fn ids(&self) -> (u32, u32) {
            (5, 1)
        }
    }

    /// A view of the app with only its files (what the boot installs first).
    struct EarlyApp;

    impl ProcessView for EarlyApp {
        without_files!();
    }

    #[test]
    fn every_process_has_a_directory_while_it_lives() {
        let fs = procfs();
        // The boot installs a first view of the app (its files alone), then the whole one.
        let early: Arc<dyn ProcessView> = Arc::new(EarlyApp);
        fs.set_process_view(early.clone());
        let app: Arc<dyn ProcessView> = Arc::new(FakeProcess);
        fs.set_process_view(app.clone());
        let child: Arc<dyn ProcessView> = Arc::new(Child);
        fs.register_process(&child);
        fs.register_process(&child);
        let mut names = Vec::new();
        fs.root()
            .read_dir(FIRST_ENTRY_OFFSET + ROOT_ENTRIES.len() as u64, &mut |e| {
                names.push(e.name.to_vec());
                true
            })
            .unwrap();
        assert_eq!(names, [&b"1"[..], b"5"], "each process once, by pid, after the fixed entries");
        assert_eq!(walk(&fs, "self").unwrap().readlink().unwrap(), b"1", "self is the caller");
        assert_eq!(walk(&fs, "5/comm").unwrap().content().unwrap(), b"worker\n");
        assert_eq!(walk(&fs, "5/exe").unwrap().readlink().unwrap(), b"/bin/worker");
        let status = String::from_utf8(walk(&fs, "5/status").unwrap().content().unwrap()).unwrap();
        assert!(status.contains("\nPid:\t5\nPPid:\t1\n"), "{status}");
        let stat = String::from_utf8(walk(&fs, "5/stat").unwrap().content().unwrap()).unwrap();
        assert!(stat.starts_with("5 (worker) R 1 "), "{stat}");
        let mut fds = Vec::new();
        walk(&fs, "5/fd")
            .unwrap()
            .read_dir(FIRST_ENTRY_OFFSET, &mut |e| {
                fds.push(e.name.to_vec());
                true
            })
            .unwrap();
        assert_eq!(fds, [&b"0"[..], b"4"]);
        assert_ne!(walk(&fs, "5/status").unwrap().stat().ino, walk(&fs, "1/status").unwrap().stat().ino);
        assert_eq!(walk(&fs, "6").err(), Some(Errno::ENOENT));
        // Seen from the child (the caller now), the app's directory is the whole view's.
        fs.set_process_view(child.clone());
        assert_eq!(walk(&fs, "self").unwrap().readlink().unwrap(), b"5");
        assert_eq!(walk(&fs, "1/cmdline").unwrap().content().unwrap(), b"app\0two words\0\0");
        fs.set_process_view(app);
        drop(child);
        assert_eq!(walk(&fs, "5").err(), Some(Errno::ENOENT), "gone with its process");
    }

    #[test]
    fn directories_list_and_climb() {
        let fs = procfs();
        let mut names = Vec::new();
        fs.root()
            .read_dir(FIRST_ENTRY_OFFSET, &mut |e| {
                names.push(e.name.to_vec());
                true
            })
            .unwrap();
        assert_eq!(
            names,
            [&b"cpuinfo"[..], b"loadavg", b"meminfo", b"mounts", b"net", b"self", b"stat", b"uptime", b"version", b"1"]
        );
        let fd_dir = walk(&fs, "1/fd").unwrap();
        assert_eq!(fd_dir.parent().unwrap().kind(), ProcKind::PidDir);
        assert_eq!(walk(&fs, "1").unwrap().parent().unwrap().kind(), ProcKind::Root);
        assert_eq!(fs.root().parent().unwrap().kind(), ProcKind::Root);
        assert_eq!(walk(&fs, "cpuinfo").unwrap().parent().err(), Some(Errno::ENOTDIR));
        assert_eq!(walk(&fs, "cpuinfo").unwrap().read_dir(0, &mut |_| true), Err(Errno::ENOTDIR));
        assert_eq!(walk(&fs, "1").unwrap().stat().mode, 0o040555);
        assert_eq!(walk(&fs, "1").unwrap().file_type(), FileType::Directory);
    }

    /// A process view with a fixed memory map and command line (no fds).
    struct FakeProcess;

    impl ProcessView for FakeProcess {
        fn fd_file(&self, _fd: i32) -> Option<Arc<OpenFile>> {
            None
        }
        fn open_fds(&self) -> Vec<i32> {
            alloc::vec![0, 1, 2, 70]
        }
        fn cwd(&self) -> Location {
            unreachable!("not asked")
        }
        fn memory(&self) -> Option<MemoryUsage> {
            let region = |start: u64, end: u64, prot: &str, kind: RegionKind| MapRegion {
                start,
                end,
                read: prot.contains('r'),
                write: prot.contains('w'),
                exec: prot.contains('x'),
                kind,
            };
            Some(MemoryUsage {
                regions: alloc::vec![
                    region(0x40_0000, 0x40_2000, "rx", RegionKind::Image { image_offset: 0x2000 }),
                    region(0x40_2000, 0x40_3000, "rw", RegionKind::Image { image_offset: 0x9000 }),
                    region(0x60_0000, 0x60_4000, "rw", RegionKind::Heap),
                    region(0x7f00_0000_0000, 0x7f00_0001_0000, "rw", RegionKind::Anonymous),
                    region(0x7fff_ff80_0000, 0x7fff_ffff_f000, "rw", RegionKind::Stack),
                ],
                resident_pages: 10,
                peak_resident_pages: 12,
                minor_faults: 3,
                file_paths: Vec::new(),
            })
        }
        fn argv(&self) -> Vec<Vec<u8>> {
            alloc::vec![b"app".to_vec(), b"two words".to_vec(), Vec::new()]
        }
        fn envp(&self) -> Vec<Vec<u8>> {
            alloc::vec![b"A=1".to_vec()]
        }
    }

    /// A process with a pid, a CPU time and a thread count, some of them waiting (`/proc/stat`'s
    /// inputs).
    struct TimedProcess {
        pid: u32,
        cpu_ns: u64,
        threads: u32,
        waiting: u32,
    }

    impl ProcessView for TimedProcess {
        without_files!();
        fn ids(&self) -> (u32, u32) {
            (self.pid, 1)
        }
        fn thread_count(&self) -> u32 {
            self.threads
        }
        fn waiting_threads(&self) -> u32 {
            self.waiting
        }
        fn started_ns(&self) -> u64 {
            u64::from(self.pid) * 100_000_000
        }
        fn cpu_ns(&self) -> Option<u64> {
            Some(self.cpu_ns)
        }
    }

    /// A clock the test moves: seconds since the epoch, whole.
    static STAT_CLOCK: core::sync::atomic::AtomicI64 = core::sync::atomic::AtomicI64::new(1000);

    fn stat_clock() -> (i64, u32) {
        (STAT_CLOCK.load(Ordering::SeqCst), 0)
    }

    #[test]
    fn the_vms_cpu_time_is_its_processes_and_the_rest_of_uptime_is_idle() {
        let system = SystemInfo { cpu_count: 2, cpu_khz: 2_500_123, mem_total_bytes: 64 << 20, mem_free_bytes: free };
        let fs = ProcFs::new(b"/bin/app", Vec::new(), None, system, stat_clock, 0, 0);
        let app: Arc<dyn ProcessView> = Arc::new(TimedProcess { pid: 1, cpu_ns: 500_000_000, threads: 1, waiting: 0 });
        let child: Arc<dyn ProcessView> =
            Arc::new(TimedProcess { pid: 7, cpu_ns: 250_000_000, threads: 2, waiting: 2 });
        fs.set_calling_process(app.clone());
        fs.register_process(&app);
        fs.register_process(&child);
        fs.register_process(&child);
        fs.process_ended(100_000_000);
        STAT_CLOCK.store(1002, Ordering::SeqCst);
        // Busy: 0.5 + 0.25 + 0.1 s = 85 ticks; idle: 2 s on 2 CPUs, less that.
        let stat = text(&fs, "stat");
        let lines: Vec<&str> = stat.lines().collect();
        assert_eq!(lines[0], "cpu  85 0 0 315 0 0 0 0 0 0", "{stat}");
        assert_eq!(lines[1], "cpu0 43 0 0 158 0 0 0 0 0 0");
        assert_eq!(lines[2], "cpu1 42 0 0 157 0 0 0 0 0 0");
        assert_eq!(
            &lines[3..],
            [
                "intr 0",
                "ctxt 0",
                "btime 1000",
                "processes 2",
                "procs_running 1",
                "procs_blocked 0",
                "softirq 0 0 0 0 0 0 0 0 0 0 0"
            ]
        );
        assert_eq!(text(&fs, "uptime"), "2.00 3.15\n");
        // The child's threads both wait: it sleeps; the app runs (it reads).
        assert_eq!(text(&fs, "loadavg"), "0.00 0.00 0.00 1/3 7\n");
        assert!(text(&fs, "7/status").contains("\nState:\tS (sleeping)\n"), "{}", text(&fs, "7/status"));
        assert_eq!(text(&fs, "7/stat").split(' ').nth(2), Some("S"));
        assert_eq!(text(&fs, "7/stat").split(' ').nth(21), Some("70"), "starttime: 0.7 s after boot, in ticks");
        assert_eq!(text(&fs, "1/stat").split(' ').nth(2), Some("R"));
        // The child ends: its time stays with the VM's.
        fs.process_ended(250_000_000);
        drop(child);
        assert!(text(&fs, "stat").starts_with("cpu  85 0 0 315 "), "{}", text(&fs, "stat"));
        assert_eq!(walk(&fs, "stat").unwrap().stat().mode, 0o100444);
        // More threads than CPUs, waiting for a run slot, count as running: never more busy
        // time than the CPUs had.
        let crowd: Arc<dyn ProcessView> =
            Arc::new(TimedProcess { pid: 9, cpu_ns: 9_000_000_000, threads: 40, waiting: 0 });
        fs.register_process(&crowd);
        assert!(text(&fs, "stat").starts_with("cpu  400 0 0 0 "), "{}", text(&fs, "stat"));
    }

    fn procfs_with_process() -> Arc<ProcFs> {
        use crate::fs::test_image::{build_image, TestEntry};
        let image = Arc::new(
            ImageFs::new(build_image(&[
                TestEntry::dir("bin", 0o755),
                TestEntry::file("bin/app", 0o755, &[1u8; 12288]),
            ]))
            .unwrap(),
        );
        let (start, _) = image.file_extent(2).expect("the app's extent");
        assert_eq!(start % 4096, 0);
        let system = SystemInfo { cpu_count: 2, cpu_khz: 2_500_123, mem_total_bytes: 64 << 20, mem_free_bytes: free };
        let fs = ProcFs::new(b"/bin/a-very-long-app-name", Vec::new(), Some(image), system, clock, 0, 0);
        fs.set_process_view(Arc::new(FakeProcess));
        fs
    }

    #[test]
    fn maps_follow_linux_format() {
        let fs = procfs_with_process();
        let maps = text(&fs, "1/maps");
        let lines: Vec<&str> = maps.lines().collect();
        assert_eq!(lines.len(), 5, "{maps}");
        assert_eq!(lines[2], format!("{:<72} [heap]", "00600000-00604000 rw-p 00000000 00:00 0"));
        assert_eq!(lines[3], "7f0000000000-7f0000010000 rw-p 00000000 00:00 0 ");
        assert!(lines[4].starts_with("7fffff800000-7ffffffff000 rw-p 00000000 00:00 0 "));
        assert!(lines[4].ends_with(" [stack]"));
        assert_eq!(lines[4].find('['), Some(73));
        assert!(maps.ends_with('\n'));
    }

    #[test]
    fn maps_name_image_files() {
        let fs = procfs_with_process();
        let image_start = fs.image.as_ref().unwrap().file_extent(2).unwrap().0;
        assert_eq!(fs.image_file_at(image_start + 0x1000), Some((2, 0x1000)));
        assert_eq!(fs.image_file_at(image_start + 12288), None, "past the file");
        let line_of = |offset: u64| {
            let region = MapRegion {
                start: 0x40_0000,
                end: 0x40_1000,
                read: true,
                write: false,
                exec: true,
                kind: RegionKind::Image { image_offset: offset },
            };
            struct One(MapRegion);
            impl ProcessView for One {
                without_files!();
                fn memory(&self) -> Option<MemoryUsage> {
                    Some(MemoryUsage { regions: alloc::vec![self.0], ..MemoryUsage::default() })
                }
            }
            fs.set_process_view(Arc::new(One(region)));
            text(&fs, "1/maps")
        };
        let line = line_of(image_start + 0x1000);
        assert_eq!(line, format!("{:<72} /bin/app\n", "00400000-00401000 r-xp 00001000 08:01 3"));
    }

    #[test]
    fn limits_are_laid_out_as_linux_lays_them_out() {
        let fs = procfs_with_process();
        let limits = text(&fs, "1/limits");
        let lines: Vec<&str> = limits.lines().collect();
        assert_eq!(lines.len(), 17);
        assert_eq!(lines[0], "Limit                     Soft Limit           Hard Limit           Units     ");
        assert_eq!(lines[1], "Max cpu time              unlimited            unlimited            seconds   ");
        assert_eq!(lines[15], "Max realtime priority     unlimited            unlimited            ", "no unit");
    }

    #[test]
    fn status_stat_and_friends() {
        let fs = procfs_with_process();
        let status = text(&fs, "1/status");
        assert!(status.starts_with("Name:\ta-very-long-app\nState:\tR (running)\n"), "{status}");
        assert!(status.contains("\nPid:\t1\nPPid:\t0\n"));
        assert!(status.contains("\nUid:\t0\t0\t0\t0\n"));
        assert!(status.contains("\nFDSize:\t128\n"), "fd 70 needs 128 slots");
        // 2 + 1 + 4 + 16 + 2047 pages.
        assert!(status.contains(&format!("\nVmSize:\t{:>8} kB\n", 2070 * 4)), "{status}");
        assert!(status.contains("\nVmRSS:\t      40 kB\n"));
        assert!(status.contains("\nVmHWM:\t      48 kB\n"));
        assert!(status.contains(&format!("\nVmStk:\t{:>8} kB\n", 2047 * 4)));
        assert!(status.contains("\nVmExe:\t       8 kB\n"));
        assert!(status.contains(&format!("\nVmData:\t{:>8} kB\n", (1 + 4 + 16) * 4)));
        assert!(status.contains("\nThreads:\t1\n"));
        assert!(status.contains("\nCpus_allowed_list:\t0-1\n"));

        let stat = text(&fs, "1/stat");
        let fields: Vec<&str> = stat.trim_end().split(' ').collect();
        assert_eq!(fields.len(), 52, "{stat}");
        assert_eq!(&fields[..5], ["1", "(a-very-long-app)", "R", "0", "1"]);
        assert_eq!(fields[9], "3", "minflt");
        assert_eq!(fields[19], "1", "num_threads");
        assert_eq!(fields[22], (2070 * 4096).to_string(), "vsize");
        assert_eq!(fields[23], "10", "rss");
        assert_eq!(fields[25], (0x40_0000).to_string(), "startcode");
        assert_eq!(fields[27], (0x7fff_ffff_f000u64).to_string(), "startstack");
        assert_eq!(text(&fs, "1/statm"), "2070 10 0 2 0 2068 0\n");
        assert_eq!(text(&fs, "1/comm"), "a-very-long-app\n");
        assert_eq!(walk(&fs, "1/cmdline").unwrap().content().unwrap(), b"app\0two words\0\0");
        assert_eq!(walk(&fs, "1/environ").unwrap().content().unwrap(), b"A=1\0");
        assert_eq!(walk(&fs, "1/environ").unwrap().stat().mode, 0o100400);
        assert_eq!(text(&fs, "loadavg"), "0.00 0.00 0.00 1/1 1\n");
        assert!(text(&fs, "version").starts_with("Linux version 6.1.0-uvm "));
        let mut names = Vec::new();
        walk(&fs, "1")
            .unwrap()
            .read_dir(FIRST_ENTRY_OFFSET, &mut |e| {
                names.push(String::from_utf8(e.name.to_vec()).unwrap());
                true
            })
            .unwrap();
        assert_eq!(
            names,
            [
                "cgroup",
                "cmdline",
                "comm",
                "cwd",
                "environ",
                "exe",
                "fd",
                "limits",
                "maps",
                "mountinfo",
                "mounts",
                "net",
                "stat",
                "statm",
                "status"
            ]
        );
    }

    #[test]
    fn fd_names_parse_strictly() {
        assert_eq!(parse_fd(b"0"), Some(0));
        assert_eq!(parse_fd(b"123"), Some(123));
        assert_eq!(parse_fd(b"007"), None);
        assert_eq!(parse_fd(b"-1"), None);
        assert_eq!(parse_fd(b"+1"), None);
        assert_eq!(parse_fd(b""), None);
        assert_eq!(parse_fd(b"99999999999"), None);
        assert_eq!(ProcKind::Fd(3).ino(), FD_INO_BASE + 3);
    }
}
