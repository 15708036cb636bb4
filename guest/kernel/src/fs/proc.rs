//! [`ProcFs`]: the minimal `/proc` mounted at `/proc`.
//!
//! ```text
//! /proc/self -> 1              /proc/1/exe -> the app's path
//! /proc/1/cwd => the cwd       /proc/1/fd/N => open fd N   ("=>": magic links, below)
//! /proc/1/mounts               /proc/mounts -> self/mounts
//! /proc/cpuinfo /proc/meminfo /proc/uptime
//! ```
//! The app is pid 1. `cwd` and `fd/N` are "magic" links as on Linux: `readlink` gives a
//! path, but following them leads straight to the open file (so `/proc/self/fd/3` reaches a
//! deleted file, and `/dev/stdout` reaches the console). Their contents come from the
//! process, through the [`ProcessView`] the kernel installs once its fd table exists.
//! Anything else (`/proc/self/maps`, ...) is `ENOENT`.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::dirent::{DirEntry, FIRST_ENTRY_OFFSET};
use crate::fs::env::{Clock, SystemInfo};
use crate::fs::file::OpenFile;
use crate::fs::node::Location;
use crate::fs::path::LinkTarget;
use crate::fs::stat::{FileType, Stat, Timespec, BLOCK_SIZE, DEV_PROC};
use crate::sync::SpinLock;

/// The app's pid, as `/proc/self` names it.
pub const APP_PID: u32 = 1;

/// First inode number of the `/proc/self/fd/N` links (`+ N`).
const FD_INO_BASE: u64 = 0x1_0000;

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
    /// `/proc/cpuinfo`.
    CpuInfo,
    /// `/proc/meminfo`.
    MemInfo,
    /// `/proc/uptime`.
    Uptime,
}

const ROOT_ENTRIES: [(&[u8], ProcKind); 6] = [
    (b"1", ProcKind::PidDir),
    (b"cpuinfo", ProcKind::CpuInfo),
    (b"meminfo", ProcKind::MemInfo),
    (b"mounts", ProcKind::MountsLink),
    (b"self", ProcKind::SelfLink),
    (b"uptime", ProcKind::Uptime),
];

const PID_ENTRIES: [(&[u8], ProcKind); 4] =
    [(b"cwd", ProcKind::Cwd), (b"exe", ProcKind::Exe), (b"fd", ProcKind::FdDir), (b"mounts", ProcKind::Mounts)];

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
            ProcKind::Fd(fd) => FD_INO_BASE + fd as u64,
        }
    }

    /// The file type.
    pub fn file_type(self) -> FileType {
        match self {
            ProcKind::Root | ProcKind::PidDir | ProcKind::FdDir => FileType::Directory,
            ProcKind::SelfLink | ProcKind::MountsLink | ProcKind::Exe | ProcKind::Cwd | ProcKind::Fd(_) => {
                FileType::Symlink
            }
            ProcKind::Mounts | ProcKind::CpuInfo | ProcKind::MemInfo | ProcKind::Uptime => FileType::Regular,
        }
    }

    fn fixed_entries(self) -> &'static [(&'static [u8], ProcKind)] {
        match self {
            ProcKind::Root => &ROOT_ENTRIES,
            ProcKind::PidDir => &PID_ENTRIES,
            _ => &[],
        }
    }

    fn is_per_process(self) -> bool {
        !matches!(
            self,
            ProcKind::Root
                | ProcKind::SelfLink
                | ProcKind::MountsLink
                | ProcKind::CpuInfo
                | ProcKind::MemInfo
                | ProcKind::Uptime
        )
    }
}

/// The `/proc` file system.
pub struct ProcFs {
    app_path: Vec<u8>,
    mounts_text: Vec<u8>,
    system: SystemInfo,
    clock: Clock,
    uid: u32,
    gid: u32,
    booted: Timespec,
    process: SpinLock<Option<Arc<dyn ProcessView>>>,
}

impl ProcFs {
    /// `/proc` for an app at `app_path` owned by `uid:gid`; `/proc/mounts` shows
    /// `mounts_text`. The clock's current reading is the boot time.
    pub fn new(
        app_path: &[u8],
        mounts_text: Vec<u8>,
        system: SystemInfo,
        clock: Clock,
        uid: u32,
        gid: u32,
    ) -> Arc<ProcFs> {
        Arc::new(ProcFs {
            app_path: Vec::from(app_path),
            mounts_text,
            system,
            clock,
            uid,
            gid,
            booted: Timespec::from_clock(clock()),
            process: SpinLock::new(None),
        })
    }

    /// Installs the view of the process (fd table and cwd) `/proc/self` shows.
    pub fn set_process_view(&self, view: Arc<dyn ProcessView>) {
        *self.process.lock() = Some(view);
    }

    /// `/proc` itself.
    pub fn root(self: &Arc<Self>) -> ProcNode {
        ProcNode { fs: self.clone(), kind: ProcKind::Root }
    }

    fn process(&self) -> Option<Arc<dyn ProcessView>> {
        self.process.lock().clone()
    }

    fn open_fd(&self, fd: i32) -> Option<Arc<OpenFile>> {
        self.process()?.fd_file(fd)
    }

    fn cpuinfo(&self) -> String {
        let count = self.system.cpu_count.max(1);
        let khz = self.system.cpu_khz;
        let mut text = String::new();
        for cpu in 0..count {
            text += &format!(
                "processor\t: {cpu}\nvendor_id\t: uvm\ncpu family\t: 6\nmodel\t\t: 0\nmodel name\t: uvm virtual CPU\n\
                 stepping\t: 0\ncpu MHz\t\t: {}.{:03}\ncache size\t: 0 KB\nphysical id\t: 0\nsiblings\t: {count}\n\
                 core id\t\t: {cpu}\ncpu cores\t: {count}\napicid\t\t: {cpu}\nfpu\t\t: yes\nfpu_exception\t: yes\n\
                 cpuid level\t: 13\nwp\t\t: yes\nflags\t\t:\nbogomips\t: {}.00\nclflush size\t: 64\n\
                 cache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\npower management:\n\n",
                khz / 1000,
                khz % 1000,
                khz / 500,
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

    fn uptime(&self) -> String {
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
        format!("{seconds}.{:02} 0.00\n", nanos / 10_000_000)
    }
}

/// A file of `/proc`.
#[derive(Clone)]
pub struct ProcNode {
    fs: Arc<ProcFs>,
    kind: ProcKind,
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
        ProcNode { fs: self.fs.clone(), kind }
    }

    /// The metadata (sizes are 0, as on Linux).
    pub fn stat(&self) -> Stat {
        let file_type = self.file_type();
        let permissions = match self.kind {
            ProcKind::Fd(fd) => match self.fs.open_fd(fd) {
                Some(file) if file.is_writable() => 0o700,
                _ => 0o500,
            },
            _ => match file_type {
                FileType::Directory => 0o555,
                FileType::Symlink => 0o777,
                _ => 0o444,
            },
        };
        let nlink = match self.kind {
            ProcKind::Root => 3,
            ProcKind::PidDir => 3,
            ProcKind::FdDir => 2,
            _ => 1,
        };
        let (uid, gid) = if self.kind.is_per_process() { (self.fs.uid, self.fs.gid) } else { (0, 0) };
        let time = self.fs.booted;
        Stat {
            dev: DEV_PROC,
            ino: self.kind.ino(),
            nlink,
            mode: file_type.mode_bits() | permissions,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: BLOCK_SIZE,
            blocks: 0,
            atime: time,
            mtime: time,
            ctime: time,
            mount_id: 0,
        }
    }

    /// The entry `name` of this directory (`ENOENT` for anything not listed).
    pub fn lookup(&self, name: &[u8]) -> Result<ProcNode, Errno> {
        match self.kind {
            ProcKind::FdDir => {
                let fd = parse_fd(name).ok_or(Errno::ENOENT)?;
                self.fs.open_fd(fd).ok_or(Errno::ENOENT)?;
                Ok(self.with_kind(ProcKind::Fd(fd)))
            }
            kind if kind.file_type() == FileType::Directory => {
                let entries = kind.fixed_entries();
                let found = entries.iter().find(|(entry, _)| *entry == name).ok_or(Errno::ENOENT)?;
                Ok(self.with_kind(found.1))
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The parent directory (`/proc` is its own).
    pub fn parent(&self) -> Result<ProcNode, Errno> {
        match self.kind {
            ProcKind::Root | ProcKind::PidDir => Ok(self.with_kind(ProcKind::Root)),
            ProcKind::FdDir => Ok(self.with_kind(ProcKind::PidDir)),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Lists this directory from offset `from` until `visit` returns false. In `fd/`, the
    /// offset of fd N's entry is `2 + N`, so a listing resumes correctly as fds come and go.
    pub fn read_dir(&self, from: u64, visit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<(), Errno> {
        match self.kind {
            ProcKind::FdDir => {
                let fds = self.fs.process().map(|p| p.open_fds()).unwrap_or_default();
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
                        ino: entry_kind.ino(),
                        file_type: entry_kind.file_type(),
                        next_offset: FIRST_ENTRY_OFFSET + index as u64 + 1,
                    };
                    if !visit(&entry) {
                        break;
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
            ProcKind::SelfLink => LinkTarget::Path(format!("{APP_PID}").into_bytes()),
            ProcKind::MountsLink => LinkTarget::Path(Vec::from(&b"self/mounts"[..])),
            ProcKind::Exe => LinkTarget::Path(self.fs.app_path.clone()),
            ProcKind::Cwd => LinkTarget::Location(self.fs.process().ok_or(Errno::ENOENT)?.cwd()),
            ProcKind::Fd(fd) => LinkTarget::Location(self.fs.open_fd(fd).ok_or(Errno::ENOENT)?.location().clone()),
            _ => return Err(Errno::EINVAL),
        })
    }

    /// What `readlink` shows for this symlink.
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match self.kind {
            ProcKind::Fd(fd) => Ok(self.fs.open_fd(fd).ok_or(Errno::ENOENT)?.display_path()),
            _ => match self.link_target()? {
                LinkTarget::Path(path) => Ok(path),
                LinkTarget::Location(location) => Ok(Vec::from(location.path())),
            },
        }
    }

    /// The generated content of a file: `EISDIR` for a directory, `EINVAL` for a link.
    pub fn content(&self) -> Result<Vec<u8>, Errno> {
        let text = match self.kind {
            ProcKind::CpuInfo => self.fs.cpuinfo(),
            ProcKind::MemInfo => self.fs.meminfo(),
            ProcKind::Uptime => self.fs.uptime(),
            ProcKind::Mounts => return Ok(self.fs.mounts_text.clone()),
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

    fn clock() -> (i64, u32) {
        (100, 500_000_000)
    }

    fn free() -> u64 {
        1 << 20
    }

    fn procfs() -> Arc<ProcFs> {
        let system = SystemInfo { cpu_count: 2, cpu_khz: 2_500_123, mem_total_bytes: 64 << 20, mem_free_bytes: free };
        ProcFs::new(b"/bin/app", b"mounts text\n".to_vec(), system, clock, 1000, 100)
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

    #[test]
    fn generated_files() {
        let fs = procfs();
        let cpuinfo = text(&fs, "cpuinfo");
        assert_eq!(cpuinfo.matches("processor\t:").count(), 2);
        assert!(cpuinfo.contains("cpu MHz\t\t: 2500.123\n"));
        assert!(cpuinfo.ends_with("\n\n"));
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
        assert_eq!(walk(&fs, "1/maps").err(), Some(Errno::ENOENT));
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

    #[test]
    fn directories_list_and_climb() {
        let fs = procfs();
        let mut names = Vec::new();
        fs.root()
            .read_dir(FIRST_ENTRY_OFFSET + 1, &mut |e| {
                names.push(e.name.to_vec());
                true
            })
            .unwrap();
        assert_eq!(names, [&b"cpuinfo"[..], b"meminfo", b"mounts", b"self", b"uptime"]);
        let fd_dir = walk(&fs, "1/fd").unwrap();
        assert_eq!(fd_dir.parent().unwrap().kind(), ProcKind::PidDir);
        assert_eq!(walk(&fs, "1").unwrap().parent().unwrap().kind(), ProcKind::Root);
        assert_eq!(fs.root().parent().unwrap().kind(), ProcKind::Root);
        assert_eq!(walk(&fs, "cpuinfo").unwrap().parent().err(), Some(Errno::ENOTDIR));
        assert_eq!(walk(&fs, "cpuinfo").unwrap().read_dir(0, &mut |_| true), Err(Errno::ENOTDIR));
        assert_eq!(walk(&fs, "1").unwrap().stat().mode, 0o040555);
        assert_eq!(walk(&fs, "1").unwrap().file_type(), FileType::Directory);
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
