//! [`Vfs`]: the mount table and the path-based file operations the syscall layer calls.
//!
//! Every operation takes a base [`Location`] — the working directory, or the directory fd of
//! an `*at` call — and a path; it walks the path with the rules of `path.rs`, crossing into
//! mounted file systems by the mount table, and applies Linux's checks in Linux's order
//! (so that, e.g., `mkdir` of an existing name in the image is `EEXIST` but of a new one
//! `EROFS`). `AT_EMPTY_PATH` and `AT_FDCWD` are the caller's: it passes the fd's own
//! location or file instead.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::access::{self, MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::fs::anon::{
    AnonNode, ANON_INODE_FS_MAGIC, EPOLL_NAME, EVENTFD_NAME, INOTIFY_NAME, PIDFD_NAME, SIGNALFD_NAME, TIMERFD_NAME,
};
use crate::fs::budget::SpaceBudget;
use crate::fs::console::{ConsoleDevice, ConsoleRole};
use crate::fs::dev::DevFs;
use crate::fs::env::{Clock, FsEnv};
use crate::fs::epoll::Epoll;
use crate::fs::eventfd::EventFd;
use crate::fs::fifo;
use crate::fs::file::{unless_minus_one, MountEntry, OpenFile};
use crate::fs::flags::{
    O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
    PATH_FLAGS, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, W_OK,
};
use crate::fs::hostfs::HostNode;
use crate::fs::image::{ImageFs, ROOT_ENTRY};
use crate::fs::inotify;
use crate::fs::locks::Locks;
use crate::fs::node::{ImageNode, Location, Mutability, Node};
use crate::fs::path::{self, join, parent_path, LastComponent, LinkCount, LinkTarget, ParentAndName, Walker, PATH_MAX};
use crate::fs::pipe::{Pipe, PIPEFS_MAGIC};
use crate::fs::proc::{ProcFs, ProcessView};
use crate::fs::stat::{
    FileType, Stat, TimeChange, Timespec, DEV_DEVFS, DEV_IMAGE, DEV_PROC, DEV_SHM, DEV_TMP, S_IFBLK, S_IFCHR, S_IFDIR,
    S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
};
use crate::fs::statfs::{
    StatFs, IMAGE_MAGIC, OVERLAYFS_SUPER_MAGIC, PROC_SUPER_MAGIC, ST_NODEV, ST_NOEXEC, ST_NOSUID, ST_RDONLY,
    ST_RELATIME, TMPFS_MAGIC,
};
use crate::fs::tmpfs::{RenameFlags, TmpFs, TmpNode, F_SEAL_SEAL, NODE_COST};
use crate::fs::unix::{UnixAddr, UnixNames, UnixSocket, SOCKFS_MAGIC};
use crate::sync::SpinLock;

/// Inode number of the first pipe (as pipefs numbers them, far from other files').
const FIRST_PIPE_INO: u64 = 0x4000;

/// The `__O_TMPFILE` bit (without the `O_DIRECTORY` that `O_TMPFILE` includes).
const O_TMPFILE_BIT: u32 = 0o20000000;

/// Mount ids (indices into the mount table).
pub mod mount_id {
    /// `/`: the image.
    pub const ROOT: usize = 0;
    /// `/tmp`.
    pub const TMP: usize = 1;
    /// `/dev`.
    pub const DEV: usize = 2;
    /// `/dev/shm`.
    pub const SHM: usize = 3;
    /// `/proc`.
    pub const PROC: usize = 4;
    /// The first volume's or `--tmpfs` mount's (they follow the boot's mounts in the table).
    pub const FIRST_VOLUME: usize = 5;
    /// The anonymous pipes (no mount point: not in the table, past every volume's id).
    pub const PIPE: usize = 37;
    /// The anonymous inodes: eventfds, epoll instances (no mount point: not in the table).
    pub const ANON: usize = 38;
    /// The sockets (no mount point: not in the table).
    pub const SOCK: usize = 39;
    const _: () = assert!(FIRST_VOLUME + uvm_abi::hostfs::MAX_MOUNTS as usize <= PIPE);
}

/// What a mount holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FsKind {
    /// The image, read-only.
    Image,
    /// The writable root: a tmpfs over the image (`tmpfs::lower`).
    Overlay,
    Tmp,
    Dev,
    Proc,
    Volume,
}

struct Mount {
    /// Absolute path of the mount point.
    path: Vec<u8>,
    /// The root of the mounted file system.
    root: Node,
    /// The mount and directory the mount point is in (`None` for `/`).
    parent: Option<(usize, Node)>,
    /// The mount point's name in that directory.
    name: Vec<u8>,
    kind: FsKind,
}

impl Mount {
    fn new(path: &[u8], root: Node, parent: Option<(usize, Node)>, kind: FsKind) -> Mount {
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
        Mount { path: Vec::from(path), root, parent, name: Vec::from(name), kind }
    }
}

/// What `/proc/mounts` lists, by mount id: mount point, source, type, options (`/` as the
/// writable root, an overlay as a container's root shows).
const MOUNT_LINES: [(&str, &str, &str, &str); 5] = [
    ("/", "overlay", "overlay", "rw,relatime"),
    ("/tmp", "tmpfs", "tmpfs", "rw,nosuid,nodev,relatime"),
    ("/dev", "devtmpfs", "devtmpfs", "rw,nosuid,relatime"),
    ("/dev/shm", "tmpfs", "tmpfs", "rw,nosuid,nodev,relatime"),
    ("/proc", "proc", "proc", "rw,nosuid,nodev,noexec,relatime"),
];

/// The devices (`st_dev`) of `MOUNT_LINES`' mounts, for `/proc/PID/mountinfo` (a test checks
/// them against what `stat` shows).
pub const MOUNT_DEVS: [u64; 5] = [DEV_IMAGE, DEV_TMP, DEV_DEVFS, DEV_SHM, DEV_PROC];

/// `/` when the root is the image, read-only.
const ROOT_LINE_READ_ONLY: (&str, &str, &str, &str) = ("/", "/dev/root", "uvmimage", "ro,relatime");

/// The text of `/proc/mounts`. (Joined by hand, not with `format!`: every boot makes it,
/// and a hello's start runs no formatting code otherwise.)
fn mounts_text(read_only_root: bool) -> Vec<u8> {
    let mut lines = MOUNT_LINES;
    if read_only_root {
        lines[0] = ROOT_LINE_READ_ONLY;
    }
    let mut text = Vec::new();
    for (path, source, fs_type, options) in lines {
        for field in [source, path, fs_type, options, "0 0\n"] {
            text.extend_from_slice(field.as_bytes());
            text.push(b' ');
        }
        // The last field's space is not wanted: it ended the line already.
        text.pop();
    }
    text
}

/// A mount point as `/proc/mounts` shows it: space, tab, newline and backslash as Linux's
/// octal escapes (`\040`...), so the line keeps its fields.
fn escaped_mount_field(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    for &byte in field {
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\\') {
            out.extend_from_slice(&[b'\\', b'0' + (byte >> 6), b'0' + ((byte >> 3) & 7), b'0' + (byte & 7)]);
        } else {
            out.push(byte);
        }
    }
    out
}

/// The file-system layer: the mounts and the operations on paths.
pub struct Vfs {
    mounts: Vec<Mount>,
    image: Arc<ImageFs>,
    dev: Arc<DevFs>,
    proc: Arc<ProcFs>,
    tmp_budget: Arc<SpaceBudget>,
    now: Clock,
    next_pipe_ino: SpinLock<u64>,
    /// When the VFS was built: the anonymous inode's time.
    booted: Timespec,
    /// The names `AF_UNIX` sockets are bound to.
    unix: SpinLock<UnixNames>,
    netlink: SpinLock<crate::fs::netlink::NetlinkPorts>,
    /// Every process's advisory file locks.
    locks: SpinLock<Locks>,
}

impl Vfs {
    /// Builds the file tree: the image (the whole image file, mapped read-only) at `/`,
    /// writable over it unless `read_only_root` (`tmpfs::lower`), a tmpfs at `/tmp` and
    /// `/dev/shm`, the three sharing a budget of `tmpfs_budget_bytes` for what the app
    /// writes, the devices at `/dev` and `/proc`. `app_path` is what `/proc/self/exe` shows.
    /// `EIO` for a malformed image.
    pub fn new(
        image: &'static [u8],
        app_path: &str,
        env: FsEnv,
        tmpfs_budget_bytes: u64,
        read_only_root: bool,
    ) -> Result<Vfs, Errno> {
        let image = Arc::new(ImageFs::new(image)?);
        let now = Timespec::from_clock((env.now)());
        let tmp_budget = Arc::new(SpaceBudget::new(tmpfs_budget_bytes));
        let (root, root_kind) = if read_only_root {
            (Node::Image(ImageNode::new(image.clone(), ROOT_ENTRY)?), FsKind::Image)
        } else {
            let fs = TmpFs::over_image(DEV_IMAGE, tmp_budget.clone(), env.frames, env.now, image.clone())?;
            (Node::Tmp(fs.root().clone()), FsKind::Overlay)
        };
        let tmp = TmpFs::new(DEV_TMP, tmp_budget.clone(), env.frames, env.now, 0o1777, 0, 0)?;
        let shm = TmpFs::new(DEV_SHM, tmp_budget.clone(), env.frames, env.now, 0o1777, 0, 0)?;
        let console = Arc::new(ConsoleDevice::new(env.console.clone(), env.uid, env.gid, now));
        let dev = DevFs::new(env.random, console, now);
        let proc = ProcFs::new(
            app_path.as_bytes(),
            mounts_text(read_only_root),
            Some(image.clone()),
            env.system,
            env.now,
            env.uid,
            env.gid,
        );
        let dev_root = Node::Dev(dev.root());
        let on_root = Some((mount_id::ROOT, root.clone()));
        let mounts = alloc::vec![
            Mount::new(b"/", root, None, root_kind),
            Mount::new(b"/tmp", Node::Tmp(tmp.root().clone()), on_root.clone(), FsKind::Tmp),
            Mount::new(b"/dev", dev_root.clone(), on_root.clone(), FsKind::Dev),
            Mount::new(b"/dev/shm", Node::Tmp(shm.root().clone()), Some((mount_id::DEV, dev_root)), FsKind::Tmp),
            Mount::new(b"/proc", Node::Proc(proc.root()), on_root, FsKind::Proc),
        ];
        Ok(Vfs {
            mounts,
            image,
            dev,
            proc,
            tmp_budget,
            now: env.now,
            next_pipe_ino: SpinLock::new(FIRST_PIPE_INO),
            booted: now,
            unix: SpinLock::new(UnixNames::default()),
            netlink: SpinLock::new(crate::fs::netlink::NetlinkPorts::default()),
            locks: SpinLock::new(Locks::new()),
        })
    }

    /// Mounts a volume's root at absolute `path`, whose parent must be a directory of the
    /// tree (`ENOENT`, `ENOTDIR`; `EBUSY` if something is mounted there already);
    /// `/proc/mounts` lists it.
    #[cold]
    #[inline(never)]
    pub fn mount_volume(&mut self, path: &[u8], root: HostNode) -> Result<(), Errno> {
        let options: &[u8] = if root.volume().read_only() { b"ro,relatime" } else { b"rw,relatime" };
        self.mount_at_path(path, Node::Host(Arc::new(root)), FsKind::Volume, b"volume", b"hostfs", options)
    }

    /// Mounts a new tmpfs at absolute `path` (`uvm run --tmpfs`), the `n`th such mount: a
    /// writable directory like `/tmp`, sharing its space budget, its files in frames from
    /// `frames`. The mount point's rules are [`Vfs::mount_volume`]'s.
    #[cold]
    #[inline(never)]
    pub fn mount_tmpfs(&mut self, path: &[u8], n: u32, frames: crate::fs::tmpfs::page::Frames) -> Result<(), Errno> {
        // Past every volume's device (`hostfs::volume_dev`: 0x40 up), for any count of mounts
        // the boot info allows.
        let dev = crate::fs::stat::makedev(0, 0x60 + n);
        let fs = TmpFs::new(dev, self.tmp_budget.clone(), frames, self.now, 0o1777, 0, 0)?;
        self.mount_at_path(
            path,
            Node::Tmp(fs.root().clone()),
            FsKind::Tmp,
            b"tmpfs",
            b"tmpfs",
            b"rw,nosuid,nodev,relatime",
        )
    }

    /// Mounts `root` at absolute `path`, whose parent must be a directory of the tree
    /// (`ENOENT`, `ENOTDIR`; `EBUSY` if something is mounted there already; in the writable
    /// root the directories missing on the way are made), and lists it in `/proc/mounts` as
    /// `source path fs_type options`.
    fn mount_at_path(
        &mut self,
        path: &[u8],
        root: Node,
        kind: FsKind,
        source: &[u8],
        fs_type: &[u8],
        options: &[u8],
    ) -> Result<(), Errno> {
        let root_location = self.root();
        let parent = match path::resolve_parent(self, &root_location, path) {
            Err(Errno::ENOENT) if self.mounts[mount_id::ROOT].kind == FsKind::Overlay => {
                self.make_parents(path)?;
                path::resolve_parent(self, &root_location, path)?
            }
            parent => parent?,
        };
        let LastComponent::Name(name) = &parent.last else {
            return Err(Errno::EBUSY);
        };
        if self.mount_at(&parent.dir, name).is_some() || self.mounts.len() >= mount_id::PIPE {
            return Err(Errno::EBUSY);
        }
        let mount_path = join(&parent.dir.path, name);
        let mut line = Vec::new();
        let point = escaped_mount_field(&mount_path);
        for field in [source, b" ", &point[..], b" ", fs_type, b" ", options, b" 0 0\n"] {
            line.extend_from_slice(field);
        }
        self.proc.add_mount_line(&line, root.stat().map_or(0, |stat| stat.dev));
        let on = Some((parent.dir.mount, parent.dir.node.clone()));
        self.mounts.push(Mount::new(&mount_path, root, on, kind));
        Ok(())
    }

    /// Makes the directories on absolute `path` up to its parent that do not exist (mode
    /// 0755), as docker makes a mount point's: in the writable root only.
    fn make_parents(&self, path: &[u8]) -> Result<(), Errno> {
        self.make_dirs(&parent_path(path))
    }

    /// Makes every directory on absolute `path` that does not exist, `path` included (mode
    /// 0755), as docker makes a missing working directory or mount point: `EROFS` where the
    /// root is read-only, `ENOTDIR` for a file on the way.
    #[cold]
    #[inline(never)]
    pub fn make_dirs(&self, path: &[u8]) -> Result<(), Errno> {
        let root = self.root();
        let ends = path.iter().enumerate().skip(1).filter(|&(_, &byte)| byte == b'/').map(|(at, _)| at);
        for end in ends.chain([path.len()]) {
            match self.mkdir(&root, &path[..end], 0o755) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The advisory file locks (`flock`, `fcntl` record locks) of every process.
    pub fn locks(&self) -> &SpinLock<Locks> {
        &self.locks
    }

    /// Makes a process the one `/proc/self` shows (its fds, cwd, memory; the app's at boot,
    /// then whichever process's thread holds the process lock).
    pub fn set_calling_process(&self, view: Arc<dyn ProcessView>) {
        self.proc.set_calling_process(view);
    }

    /// Who owns the files the calling process makes (its file-system ids).
    fn owner(&self) -> (u32, u32) {
        self.proc.calling_owner()
    }

    /// The calling process's permissions, for the checks of `fs::access`.
    pub fn caller(&self) -> &ProcFs {
        &self.proc
    }

    /// `EACCES` unless the calling process, which is restricted (`access::restricted`), may
    /// `want` on `location` (out of line: a root process never gets here).
    #[cold]
    #[inline(never)]
    fn check_restricted(&self, location: &Location, want: u32) -> Result<(), Errno> {
        access::check_as(&self.proc, &location.stat()?, want, false)
    }

    /// `EACCES` unless the caller may add or remove names in directory `dir` (write and search
    /// permission).
    #[inline]
    fn check_dir_change(&self, dir: &Location) -> Result<(), Errno> {
        if access::restricted() {
            return self.check_restricted(dir, MAY_WRITE | MAY_EXEC);
        }
        Ok(())
    }

    /// [`Vfs::check_dir_change`], and in a sticky directory (`/tmp`) `EPERM` unless the caller
    /// owns the entry `name` or the directory (or holds CAP_FOWNER).
    #[inline]
    fn check_removal(&self, dir: &Location, name: &[u8]) -> Result<(), Errno> {
        if access::restricted() {
            return self.check_restricted_removal(dir, name);
        }
        Ok(())
    }

    /// [`Vfs::check_removal`]'s work for a restricted caller.
    #[cold]
    #[inline(never)]
    fn check_restricted_removal(&self, dir: &Location, name: &[u8]) -> Result<(), Errno> {
        self.check_restricted(dir, MAY_WRITE | MAY_EXEC)?;
        if let Ok(child) = dir.node.lookup(name) {
            access::check_removal(&self.proc, &dir.stat()?, &child.stat()?)?;
        }
        Ok(())
    }

    /// The process's name (`/proc/self/comm`).
    pub fn comm(&self) -> Vec<u8> {
        self.proc.comm(0)
    }

    /// Lists a process under `/proc/PID` while it lives (fork).
    pub fn register_process(&self, view: &Arc<dyn ProcessView>) {
        self.proc.register_process(view);
    }

    /// A process ended whose own CPU time was `own_ns` (`/proc/stat` keeps it).
    pub fn process_ended(&self, own_ns: u64) {
        self.proc.process_ended(own_ns);
    }

    /// The image file system (for the ELF loader and the memory manager).
    pub fn image(&self) -> &Arc<ImageFs> {
        &self.image
    }

    /// The byte budget of the tmpfs mounts.
    pub fn tmpfs_budget(&self) -> &SpaceBudget {
        &self.tmp_budget
    }

    /// `/`, where absolute paths start and the first working directory.
    pub fn root(&self) -> Location {
        let root = &self.mounts[mount_id::ROOT];
        Location::new(mount_id::ROOT, root.root.clone(), root.path.clone())
    }

    /// A new open file for start-up fd `fd` (0, 1 or 2) on the console: readable and
    /// writable if it is a terminal, else read-only (0) or write-only (1, 2). `EBADF` for
    /// another fd.
    pub fn console_file(&self, fd: u32) -> Result<Arc<OpenFile>, Errno> {
        let role = ConsoleRole::for_fd(fd).ok_or(Errno::EBADF)?;
        let console = self.dev.console(role);
        let flags = match console.default_access() {
            (true, true) => O_RDWR,
            (false, true) => O_WRONLY,
            _ => O_RDONLY,
        };
        let path = console.display_path();
        let location = Location::new(mount_id::DEV, Node::Console(console), path);
        Ok(Arc::new(OpenFile::new(location, flags, Vec::new())))
    }

    /// `pipe2`: a new pipe's read end and write end (`O_NONBLOCK` from `flags` on both; other
    /// flags are the caller's). `/proc/self/fd/N` shows them as `pipe:[ino]`.
    pub fn pipe(&self, flags: u32) -> (Arc<OpenFile>, Arc<OpenFile>) {
        let ino = {
            let mut next = self.next_pipe_ino.lock();
            let ino = *next;
            *next += 1;
            ino
        };
        let (uid, gid) = self.owner();
        let pipe = Pipe::new(ino, uid, gid, Timespec::from_clock((self.now)()));
        let location = Location::new(mount_id::PIPE, Node::Pipe(pipe), format!("pipe:[{ino}]").into_bytes());
        let nonblocking = flags & O_NONBLOCK;
        let read_end = Arc::new(OpenFile::new(location.clone(), O_RDONLY | nonblocking, Vec::new()));
        let write_end = Arc::new(OpenFile::new(location, O_WRONLY | nonblocking, Vec::new()));
        (read_end, write_end)
    }

    /// `eventfd2`: a new eventfd's file (read-write; `O_NONBLOCK` if `nonblocking`) with
    /// counter `initval`, in semaphore mode if `semaphore`. `/proc/self/fd/N` shows
    /// `anon_inode:[eventfd]`.
    pub fn eventfd(&self, initval: u64, semaphore: bool, nonblocking: bool) -> Arc<OpenFile> {
        let node = Node::Anon(AnonNode::EventFd(EventFd::new(initval, semaphore, self.booted)));
        let flags = O_RDWR | if nonblocking { O_NONBLOCK } else { 0 };
        Arc::new(OpenFile::new(Location::new(mount_id::ANON, node, EVENTFD_NAME.to_vec()), flags, Vec::new()))
    }

    /// `timerfd_create`: a new, disarmed timer's file on clock `clock_id` (read-write, as
    /// Linux opens it, so a write reaches the timer and is `EINVAL`; `O_NONBLOCK` if
    /// `nonblocking`). `/proc/self/fd/N` shows `anon_inode:[timerfd]`.
    #[cold]
    pub fn timerfd(&self, clock_id: u32, nonblocking: bool) -> Result<Arc<OpenFile>, Errno> {
        let node = Node::Anon(AnonNode::TimerFd(crate::fs::timerfd::TimerFd::new(clock_id, self.booted)?));
        let flags = O_RDWR | if nonblocking { O_NONBLOCK } else { 0 };
        Ok(Arc::new(OpenFile::new(Location::new(mount_id::ANON, node, TIMERFD_NAME.to_vec()), flags, Vec::new())))
    }

    /// `signalfd4`: a new signalfd's file reading the signals of `mask` (read-write, as
    /// Linux opens it; `O_NONBLOCK` if `nonblocking`). `/proc/self/fd/N` shows
    /// `anon_inode:[signalfd]`.
    #[cold]
    pub fn signalfd(&self, mask: u64, nonblocking: bool) -> Arc<OpenFile> {
        let node = Node::Anon(AnonNode::SignalFd(crate::fs::signalfd::SignalFd::new(mask, self.booted)));
        let flags = O_RDWR | if nonblocking { O_NONBLOCK } else { 0 };
        Arc::new(OpenFile::new(Location::new(mount_id::ANON, node, SIGNALFD_NAME.to_vec()), flags, Vec::new()))
    }

    /// The pidfd node of process `pid`, at `stage` of its end (one per process: the process
    /// keeps it for its later pidfds).
    #[cold]
    pub fn pidfd_node(&self, pid: u32, stage: crate::fs::pidfd::Stage) -> Arc<crate::fs::pidfd::PidFd> {
        crate::fs::pidfd::PidFd::new(pid, stage, self.booted)
    }

    /// `pidfd_open`, `CLONE_PIDFD`: a new pidfd's file on `node` (read-write, as Linux opens
    /// it; `O_NONBLOCK` if `nonblocking`). `/proc/self/fd/N` shows `anon_inode:[pidfd]`.
    #[cold]
    pub fn pidfd(&self, node: Arc<crate::fs::pidfd::PidFd>, nonblocking: bool) -> Arc<OpenFile> {
        let flags = O_RDWR | if nonblocking { O_NONBLOCK } else { 0 };
        let location = Location::new(mount_id::ANON, Node::Anon(AnonNode::PidFd(node)), PIDFD_NAME.to_vec());
        Arc::new(OpenFile::new(location, flags, Vec::new()))
    }

    /// `inotify_init1`: a new inotify instance's file (read-only, as Linux opens it;
    /// `O_NONBLOCK` if `nonblocking`). `/proc/self/fd/N` shows `anon_inode:inotify`.
    #[cold]
    pub fn inotify(&self, nonblocking: bool) -> Result<Arc<OpenFile>, Errno> {
        let node = Node::Anon(AnonNode::Inotify(crate::fs::inotify::Inotify::new(self.booted)?));
        let flags = O_RDONLY | if nonblocking { O_NONBLOCK } else { 0 };
        Ok(Arc::new(OpenFile::new(Location::new(mount_id::ANON, node, INOTIFY_NAME.to_vec()), flags, Vec::new())))
    }

    /// `epoll_create1`: a new epoll instance's file. `/proc/self/fd/N` shows
    /// `anon_inode:[eventpoll]`.
    pub fn epoll(&self) -> Arc<OpenFile> {
        let node = Node::Anon(AnonNode::Epoll(Epoll::new(self.booted)));
        Arc::new(OpenFile::new(Location::new(mount_id::ANON, node, EPOLL_NAME.to_vec()), O_RDWR, Vec::new()))
    }

    /// `memfd_create`: a new regular file of the `/dev/shm` tmpfs (its budget, its device)
    /// that no directory names, open for reading and writing, with permissions `mode` and the
    /// `F_SEAL_*` bits `seals`. `/proc/self/fd/N` shows it as `/memfd:NAME (deleted)`, as on
    /// Linux.
    pub fn memfd(&self, name: &[u8], mode: u32, seals: u32) -> Result<Arc<OpenFile>, Errno> {
        let mut path = b"/memfd:".to_vec();
        path.extend_from_slice(name);
        self.unlinked_shm_file(path, mode, seals)
    }

    /// The file behind a shared anonymous mapping (mmap's `MAP_SHARED | MAP_ANONYMOUS`, which
    /// a forked child shares with its parent): an unlinked tmpfs file, which
    /// `/proc/self/maps` names `/dev/zero (deleted)`, as Linux does.
    pub fn shared_anonymous(&self) -> Result<Arc<OpenFile>, Errno> {
        self.unlinked_shm_file(b"/dev/zero".to_vec(), 0o600, F_SEAL_SEAL)
    }

    /// A new tmpfs file in `/dev/shm`'s file system that no directory names, open read-write
    /// under `path`.
    fn unlinked_shm_file(&self, path: Vec<u8>, mode: u32, seals: u32) -> Result<Arc<OpenFile>, Errno> {
        let Node::Tmp(shm) = &self.mounts[mount_id::SHM].root else {
            return Err(Errno::ENOSYS);
        };
        let (uid, gid) = self.owner();
        let node = shm.create_unlinked_file(mode, uid, gid, seals)?;
        let location = Location::new(mount_id::SHM, Node::Tmp(node), path);
        Ok(Arc::new(OpenFile::new(location, O_RDWR, Vec::new())))
    }

    /// The names of `AF_UNIX` sockets (abstract names, inode numbers).
    pub fn unix_names(&self) -> &SpinLock<UnixNames> {
        &self.unix
    }

    /// A new socket's open file (read-write; `O_NONBLOCK` if `nonblocking`).
    /// `/proc/self/fd/N` shows `socket:[ino]`.
    pub fn socket_file(&self, socket: Arc<UnixSocket>, nonblocking: bool) -> Arc<OpenFile> {
        sockfs_file(Node::Socket(socket), nonblocking)
    }

    /// A new IP socket's open file, as [`Vfs::socket_file`].
    pub fn inet_file(&self, socket: Arc<crate::fs::inet::InetSocket>, nonblocking: bool) -> Arc<OpenFile> {
        sockfs_file(Node::Inet(socket), nonblocking)
    }

    /// A new netlink socket's open file, as [`Vfs::socket_file`].
    pub fn netlink_file(&self, socket: Arc<crate::fs::netlink::NetlinkSocket>, nonblocking: bool) -> Arc<OpenFile> {
        sockfs_file(Node::Netlink(socket), nonblocking)
    }

    /// The VM's bound netlink port ids.
    pub fn netlink_ports(&self) -> &SpinLock<crate::fs::netlink::NetlinkPorts> {
        &self.netlink
    }

    /// When the VFS was built (a time for new sockets).
    pub fn now(&self) -> Timespec {
        Timespec::from_clock((self.now)())
    }

    /// `bind` of `socket` to filesystem `path` (with `mode`, the umask applied): creates the
    /// socket file. `EINVAL` if the socket is bound, `EADDRINUSE` if the name exists, `EROFS`
    /// in the image, `EPERM` in the synthetic trees.
    pub fn bind_unix_path(
        &self,
        base: &Location,
        path: &[u8],
        mode: u32,
        socket: &Arc<UnixSocket>,
    ) -> Result<(), Errno> {
        if socket.is_bound() {
            return Err(Errno::EINVAL);
        }
        let in_use = |e| if e == Errno::EEXIST { Errno::EADDRINUSE } else { e };
        let (parent, name) = self.parent_for_create(base, path, false).map_err(in_use)?;
        let WritableDir::Tmp(dir) = writable_dir(&parent.dir, Errno::EPERM)? else {
            // A socket file in a volume would be the host's: not served.
            return Err(Errno::EPERM);
        };
        let (uid, gid) = self.owner();
        let node = dir.create_socket(&name, mode, uid, gid).map_err(in_use)?;
        inotify::created(&parent.dir.node, &name, false);
        socket.bind(UnixAddr::Path(path.to_vec()))?;
        self.unix.lock().bind_path((parent.dir.mount, node.ino()), socket);
        Ok(())
    }

    /// The live socket bound to filesystem `path` (for `connect`, `sendto`): `ENOENT` if
    /// missing, `ECONNREFUSED` if not a socket file or nothing is bound to it any more,
    /// `EACCES` if the caller may not write the socket file (as Linux asks).
    pub fn find_unix_path(&self, base: &Location, path: &[u8]) -> Result<Arc<UnixSocket>, Errno> {
        let location = self.resolve(base, path, true)?;
        if location.node.file_type() != FileType::Socket {
            return Err(Errno::ECONNREFUSED);
        }
        if access::restricted() {
            self.check_restricted(&location, MAY_WRITE)?;
        }
        self.unix.lock().find_path((location.mount, location.node.ino())).ok_or(Errno::ECONNREFUSED)
    }

    /// Resolves `path` from `base`, following a final symlink if `follow`.
    pub fn resolve(&self, base: &Location, path: &[u8], follow: bool) -> Result<Location, Errno> {
        path::resolve(self, base, path, follow)
    }

    /// The mount mounted on entry `name` of directory `dir`, if any.
    fn mount_at(&self, dir: &Location, name: &[u8]) -> Option<usize> {
        self.mounts.iter().position(|mount| match &mount.parent {
            Some((parent_mount, parent_node)) => {
                *parent_mount == dir.mount && mount.name == name && parent_node.same_file(&dir.node)
            }
            None => false,
        })
    }

    /// The mount points a listing of `dir` shows beyond its own entries.
    fn mount_entries(&self, dir: &Location) -> Vec<MountEntry> {
        self.mounts
            .iter()
            .filter(|mount| match &mount.parent {
                Some((parent_mount, parent_node)) => *parent_mount == dir.mount && parent_node.same_file(&dir.node),
                None => false,
            })
            .filter(|mount| dir.node.lookup(&mount.name).is_err())
            .map(|mount| MountEntry { name: mount.name.clone(), ino: mount.root.ino() })
            .collect()
    }

    /// `open`/`openat`: see the module docs of `flags.rs` for the flags. `mode` (with the
    /// umask already applied) sets a created file's permissions.
    pub fn open(&self, base: &Location, path: &[u8], flags: u32, mode: u32) -> Result<Arc<OpenFile>, Errno> {
        if flags & O_TMPFILE_BIT != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let flags = if flags & O_PATH != 0 { flags & PATH_FLAGS } else { flags };
        if flags & O_PATH == 0 && flags & O_ACCMODE == O_ACCMODE {
            return Err(Errno::EINVAL);
        }
        if flags & O_CREAT != 0 && flags & O_DIRECTORY != 0 {
            return Err(Errno::EINVAL);
        }
        let (location, created) = if flags & O_CREAT != 0 {
            self.open_or_create(base, path, flags, mode, &mut LinkCount::default())?
        } else {
            (self.resolve(base, path, flags & O_NOFOLLOW == 0)?, false)
        };
        let want = if created { Some(0) } else { None };
        let file = self.open_location(location, flags, want)?;
        if inotify::active() && flags & O_PATH == 0 {
            inotify::opened(file.location(), flags & O_TRUNC != 0 && !created);
        }
        Ok(file)
    }

    /// `execve`'s open of the program (or a script's interpreter): read-only, but what a
    /// restricted caller needs is execute permission, not read (Linux's `may_open(MAY_EXEC)`).
    pub fn open_to_run(&self, base: &Location, path: &[u8], follow: bool) -> Result<Arc<OpenFile>, Errno> {
        let location = self.resolve(base, path, follow)?;
        let file = self.open_location(location, O_RDONLY, Some(MAY_EXEC))?;
        if inotify::active() {
            inotify::opened(file.location(), false);
        }
        Ok(file)
    }

    /// Opens what a path walk reached, with `open`'s checks; `want`: the permission a
    /// restricted caller needs instead of what `flags` asks (`Some(0)`: none, for the file it
    /// just created).
    fn open_location(&self, location: Location, flags: u32, want: Option<u32>) -> Result<Arc<OpenFile>, Errno> {
        let created = want == Some(0);
        let node = &location.node;
        let file_type = node.file_type();
        let path_only = flags & O_PATH != 0;
        if file_type == FileType::Symlink && !path_only {
            return Err(Errno::ELOOP);
        }
        if flags & O_DIRECTORY != 0 && file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if !path_only {
            let access = flags & O_ACCMODE;
            let writing = access == O_WRONLY || access == O_RDWR;
            if file_type == FileType::Directory && (writing || flags & O_TRUNC != 0) {
                return Err(Errno::EISDIR);
            }
            if let Node::Console(console) = node {
                console.check_open()?;
            }
            if file_type == FileType::Socket {
                // A socket file, or a socket reopened through `/proc/self/fd/N`.
                return Err(Errno::ENXIO);
            }
            if node.is_anon() {
                // Reopening an eventfd or epoll file (`/proc/self/fd/N`): Linux's `no_open`.
                return Err(Errno::ENXIO);
            }
            // A pipe reopened through `/proc/self/fd/N` (bash's process substitution,
            // `<(cmd)`, opens `/dev/fd/63`) is another end of it at once: Linux waits for the
            // other side, or refuses a non-blocking writer, only for a named FIFO (below).
            let truncating = flags & O_TRUNC != 0 && file_type == FileType::Regular && !created;
            if access::restricted() && !created {
                let reading = if access == O_WRONLY { 0 } else { MAY_READ };
                let write = if writing || flags & O_TRUNC != 0 { MAY_WRITE } else { 0 };
                self.check_restricted(&location, want.unwrap_or(reading | write))?;
            }
            if let (Node::Tmp(fifo), FileType::Fifo) = (node, file_type) {
                return fifo::open(&location, fifo, flags, Timespec::from_clock((self.now)()));
            }
            if writing || truncating {
                match node.mutability() {
                    Mutability::ReadOnly => return Err(Errno::EROFS),
                    Mutability::Fixed if file_type == FileType::Regular => return Err(Errno::EACCES),
                    _ => {}
                }
            }
            if let Node::Host(host) = node {
                return self.open_volume_file(&location, host, flags, truncating);
            }
            if truncating {
                node.truncate(0)?;
            }
            if let (Node::Tmp(file), true) = (node, writing && location.mount == mount_id::ROOT) {
                // A file of the image gets its own copy of its bytes before it can change
                // (`tmpfs::lower`), as overlayfs copies up at open. (Only the writable root
                // holds such files: the other tmpfs mounts' files are their own.)
                file.copy_up()?;
            }
        }
        let mount_entries = if file_type == FileType::Directory { self.mount_entries(&location) } else { Vec::new() };
        Ok(Arc::new(OpenFile::new(location, flags, mount_entries)))
    }

    /// Opens a volume's file: the host opens it (and truncates it, with `truncating`), and the
    /// open file's node holds that I/O handle.
    #[cold]
    #[inline(never)]
    fn open_volume_file(
        &self,
        location: &Location,
        host: &HostNode,
        flags: u32,
        truncating: bool,
    ) -> Result<Arc<OpenFile>, Errno> {
        let opened = host.open(if truncating { flags } else { flags & !O_TRUNC })?;
        let location = Location::new(location.mount, Node::Host(Arc::new(opened)), location.path.clone());
        let mount_entries = if location.is_dir() { self.mount_entries(&location) } else { Vec::new() };
        Ok(Arc::new(OpenFile::new(location, flags, mount_entries)))
    }

    /// The `O_CREAT` walk: finds or creates the last component (following a symlink there
    /// to create its target, unless `O_NOFOLLOW` or `O_EXCL`). Returns the location and
    /// whether it was created.
    fn open_or_create(
        &self,
        base: &Location,
        path: &[u8],
        flags: u32,
        mode: u32,
        links: &mut LinkCount,
    ) -> Result<(Location, bool), Errno> {
        let parent = path::resolve_parent_counted(self, base, path, links)?;
        let LastComponent::Name(name) = &parent.last else {
            return Err(Errno::EISDIR);
        };
        for _attempt in 0..2 {
            match self.child(&parent.dir, name) {
                Ok(existing) => {
                    if flags & O_EXCL != 0 {
                        return Err(Errno::EEXIST);
                    }
                    if existing.node.file_type() == FileType::Symlink {
                        if flags & O_NOFOLLOW != 0 {
                            return Err(Errno::ELOOP);
                        }
                        links.follow_one()?;
                        return match existing.node.link_target()? {
                            LinkTarget::Path(target) => self.open_or_create(&parent.dir, &target, flags, mode, links),
                            LinkTarget::Location(location) => Ok((location, false)),
                        };
                    }
                    if existing.node.is_dir() {
                        return Err(Errno::EISDIR);
                    }
                    if parent.trailing_slash {
                        return Err(Errno::ENOTDIR);
                    }
                    return Ok((existing, false));
                }
                Err(Errno::ENOENT) => {
                    if parent.trailing_slash {
                        return Err(Errno::EISDIR);
                    }
                    let dir = writable_dir(&parent.dir, Errno::EACCES)?;
                    self.check_dir_change(&parent.dir)?;
                    let (uid, gid) = self.owner();
                    match dir.create_file(name, mode, uid, gid) {
                        Ok(node) => {
                            inotify::created(&parent.dir.node, name, false);
                            return Ok((Location::new(parent.dir.mount, node, join(&parent.dir.path, name)), true));
                        }
                        Err(Errno::EEXIST) if flags & O_EXCL == 0 => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno::EEXIST)
    }

    /// `stat`, `lstat`, `newfstatat`, `statx` (follow the last symlink if `follow`).
    pub fn stat(&self, base: &Location, path: &[u8], follow: bool) -> Result<Stat, Errno> {
        self.resolve(base, path, follow)?.stat()
    }

    /// `statfs`/`fstatfs` of the file system holding `location`.
    pub fn statfs(&self, location: &Location) -> StatFs {
        let mut statfs = StatFs {
            block_size: 4096,
            fsid: location.node.stat().map(|stat| stat.dev).unwrap_or(0),
            name_max: path::NAME_MAX as u64,
            ..StatFs::default()
        };
        match location.node {
            Node::Pipe(_) => {
                statfs.fs_type = PIPEFS_MAGIC;
                return statfs;
            }
            Node::Anon(_) => {
                statfs.fs_type = ANON_INODE_FS_MAGIC;
                return statfs;
            }
            Node::Socket(_) | Node::Inet(_) | Node::Netlink(_) => {
                statfs.fs_type = SOCKFS_MAGIC;
                return statfs;
            }
            _ => {}
        }
        let mount = &self.mounts[location.mount.min(self.mounts.len() - 1)];
        match mount.kind {
            FsKind::Image => {
                statfs.fs_type = IMAGE_MAGIC;
                statfs.blocks = self.image_size_blocks();
                statfs.files = u64::from(self.image.entry_count());
                statfs.flags = ST_RDONLY | ST_RELATIME;
            }
            FsKind::Tmp | FsKind::Dev | FsKind::Overlay => {
                let budget = &self.tmp_budget;
                statfs.fs_type = TMPFS_MAGIC;
                statfs.blocks = budget.limit() / 4096;
                statfs.blocks_free = budget.limit().saturating_sub(budget.used()) / 4096;
                statfs.blocks_available = statfs.blocks_free;
                statfs.files = budget.limit() / NODE_COST;
                statfs.files_free = budget.limit().saturating_sub(budget.used()) / NODE_COST;
                statfs.flags = ST_NOSUID | ST_RELATIME | if mount.kind == FsKind::Tmp { ST_NODEV } else { 0 };
                if mount.kind == FsKind::Overlay {
                    // What the app may add (the tmpfs budget) over what the image holds.
                    statfs.fs_type = OVERLAYFS_SUPER_MAGIC;
                    statfs.blocks += self.image_size_blocks();
                    statfs.files += u64::from(self.image.entry_count());
                    statfs.flags = ST_RELATIME;
                }
            }
            FsKind::Proc => {
                statfs.fs_type = PROC_SUPER_MAGIC;
                statfs.flags = ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME;
            }
            FsKind::Volume => {
                if let Node::Host(node) = &location.node {
                    if let Ok(host) = node.statfs() {
                        statfs = host;
                    }
                }
            }
        }
        statfs
    }

    fn image_size_blocks(&self) -> u64 {
        (0..self.image.entry_count()).map(|index| self.image.size(index).unwrap_or(0).div_ceil(4096)).sum()
    }

    /// `access`/`faccessat`: `mode` is `F_OK` or any of `R_OK | W_OK | X_OK`, checked against
    /// the caller's real ids (`effective`: its file-system ids, `AT_EACCESS`) as Linux checks
    /// them (root may read and write anything, and run what has an execute bit); writing the
    /// image is `EROFS`.
    pub fn access(&self, base: &Location, path: &[u8], mode: u32, follow: bool, effective: bool) -> Result<(), Errno> {
        if mode & !0o7 != 0 {
            return Err(Errno::EINVAL);
        }
        let location = self.resolve(base, path, follow)?;
        let stat = location.stat()?;
        let file_type = location.node.file_type();
        let kind_is_storage = matches!(file_type, FileType::Regular | FileType::Directory | FileType::Symlink);
        if mode & W_OK != 0 && kind_is_storage && location.node.mutability() == Mutability::ReadOnly {
            return Err(Errno::EROFS);
        }
        if mode != 0 {
            access::check_as(&self.proc, &stat, mode, !effective)?;
        }
        Ok(())
    }

    /// `readlink`/`readlinkat`: `EINVAL` if the last component is not a symlink.
    pub fn readlink(&self, base: &Location, path: &[u8]) -> Result<Vec<u8>, Errno> {
        self.resolve(base, path, false)?.node.readlink()
    }

    /// `chdir`: the new working directory (`ENOTDIR` unless a directory).
    pub fn chdir(&self, base: &Location, path: &[u8]) -> Result<Location, Errno> {
        let location = self.resolve(base, path, true)?;
        if !location.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if access::restricted() {
            self.check_restricted(&location, MAY_EXEC)?;
        }
        Ok(location)
    }

    /// Resolves the parent of a name to create, with `EEXIST` for `.`, `..`, `/` and names
    /// that exist, and `ENOENT` for a trailing slash unless `allow_trailing_slash`.
    fn parent_for_create(
        &self,
        base: &Location,
        path: &[u8],
        allow_trailing_slash: bool,
    ) -> Result<(ParentAndName<Location>, Vec<u8>), Errno> {
        let parent = path::resolve_parent(self, base, path)?;
        let LastComponent::Name(name) = &parent.last else {
            return Err(Errno::EEXIST);
        };
        let name = name.clone();
        match self.child(&parent.dir, &name) {
            Ok(_) => Err(Errno::EEXIST),
            Err(Errno::ENOENT) if parent.trailing_slash && !allow_trailing_slash => Err(Errno::ENOENT),
            Err(Errno::ENOENT) => {
                self.check_dir_change(&parent.dir)?;
                Ok((parent, name))
            }
            Err(e) => Err(e),
        }
    }

    /// `mkdir`/`mkdirat` (`mode` with the umask applied).
    pub fn mkdir(&self, base: &Location, path: &[u8], mode: u32) -> Result<(), Errno> {
        let (parent, name) = self.parent_for_create(base, path, true)?;
        let (uid, gid) = self.owner();
        writable_dir(&parent.dir, Errno::EPERM)?.create_dir(&name, mode, uid, gid)?;
        inotify::created(&parent.dir.node, &name, true);
        Ok(())
    }

    /// `mknod`/`mknodat`: regular files (`mode`'s type `S_IFREG` or 0) and FIFOs (`S_IFIFO`,
    /// `fs::fifo`; not in a volume); `EPERM` for devices, sockets and directories, `EINVAL`
    /// for a type that is none of these (checked first, as Linux does).
    pub fn mknod(&self, base: &Location, path: &[u8], mode: u32) -> Result<(), Errno> {
        let fifo = match mode & S_IFMT {
            0 | S_IFREG => false,
            S_IFIFO => true,
            S_IFDIR | S_IFCHR | S_IFBLK | S_IFSOCK => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        };
        let (parent, name) = self.parent_for_create(base, path, false)?;
        let (uid, gid) = self.owner();
        let dir = writable_dir(&parent.dir, Errno::EPERM)?;
        if fifo {
            // A named pipe (`fs::fifo`): tmpfs and the writable root only.
            dir.create_fifo(&name, mode, uid, gid)?;
        } else {
            dir.create_file(&name, mode, uid, gid)?;
        }
        inotify::created(&parent.dir.node, &name, false);
        Ok(())
    }

    /// `symlink`/`symlinkat`: creates `path` -> `target` (`ENOENT` for an empty target).
    pub fn symlink(&self, target: &[u8], base: &Location, path: &[u8]) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (parent, name) = self.parent_for_create(base, path, false)?;
        let (uid, gid) = self.owner();
        writable_dir(&parent.dir, Errno::EPERM)?.create_symlink(&name, target, uid, gid)?;
        inotify::created(&parent.dir.node, &name, false);
        Ok(())
    }

    /// `link`/`linkat`: a new name `new_path` for `old_path` (its last symlink followed if
    /// `follow`, i.e. `AT_SYMLINK_FOLLOW`). `EXDEV` across mounts, `EPERM` for a directory.
    pub fn link(
        &self,
        old_base: &Location,
        old_path: &[u8],
        new_base: &Location,
        new_path: &[u8],
        follow: bool,
    ) -> Result<(), Errno> {
        let old = self.resolve(old_base, old_path, follow)?;
        self.link_location(&old, new_base, new_path)
    }

    /// `linkat(fd, "", ..., AT_EMPTY_PATH)`: a new name `new_path` for the file at `old` (an
    /// open file's location). `ENOENT` for an unlinked file, as Linux says for a file with no
    /// links left.
    pub fn link_location(&self, old: &Location, new_base: &Location, new_path: &[u8]) -> Result<(), Errno> {
        let (parent, name) = self.parent_for_create(new_base, new_path, false)?;
        // Linux asks for write access to the new name's mount first (EROFS), then compares mounts.
        let dir = writable_dir(&parent.dir, Errno::EPERM)?;
        if old.mount != parent.dir.mount {
            return Err(Errno::EXDEV);
        }
        match (&old.node, dir) {
            (Node::Tmp(node), WritableDir::Tmp(dir)) => dir.link(&name, node)?,
            (Node::Host(node), WritableDir::Host(dir)) => dir.link(&name, node)?,
            _ => return Err(Errno::EPERM),
        }
        if inotify::active() {
            inotify::self_event(&old.node, inotify::IN_ATTRIB);
        }
        inotify::created(&parent.dir.node, &name, false);
        Ok(())
    }

    /// `rmdir`, `unlinkat(AT_REMOVEDIR)`.
    pub fn rmdir(&self, base: &Location, path: &[u8]) -> Result<(), Errno> {
        let parent = path::resolve_parent(self, base, path)?;
        let name = match &parent.last {
            LastComponent::Name(name) => name,
            LastComponent::Dot => return Err(Errno::EINVAL),
            LastComponent::DotDot => return Err(Errno::ENOTEMPTY),
            LastComponent::Root => return Err(Errno::EBUSY),
        };
        let dir = writable_dir(&parent.dir, Errno::EPERM)?;
        if self.mount_at(&parent.dir, name).is_some() {
            return Err(Errno::EBUSY);
        }
        self.check_removal(&parent.dir, name)?;
        let watched = inotify::active().then(|| parent.dir.node.lookup(name).ok()).flatten();
        dir.remove(name, true)?;
        if let Some(child) = watched {
            inotify::removed(&parent.dir.node, name, &child);
        }
        Ok(())
    }

    /// `unlink`, `unlinkat(0)`: `EISDIR` for a directory.
    pub fn unlink(&self, base: &Location, path: &[u8]) -> Result<(), Errno> {
        let parent = path::resolve_parent(self, base, path)?;
        let LastComponent::Name(name) = &parent.last else {
            return Err(Errno::EISDIR);
        };
        let dir = writable_dir(&parent.dir, Errno::EPERM)?;
        if self.mount_at(&parent.dir, name).is_some() {
            return Err(Errno::EISDIR);
        }
        self.check_removal(&parent.dir, name)?;
        if parent.trailing_slash {
            let child = parent.dir.node.lookup(name)?;
            return Err(if child.file_type() == FileType::Directory { Errno::EISDIR } else { Errno::ENOTDIR });
        }
        let watched = inotify::active().then(|| parent.dir.node.lookup(name).ok()).flatten();
        dir.remove(name, false)?;
        if let Some(child) = watched {
            inotify::removed(&parent.dir.node, name, &child);
        }
        Ok(())
    }

    /// `rename`, `renameat`, `renameat2` (`flags`: `RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
    pub fn rename(
        &self,
        old_base: &Location,
        old_path: &[u8],
        new_base: &Location,
        new_path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let known = RENAME_NOREPLACE | RENAME_EXCHANGE;
        if flags & !known != 0 || flags & RENAME_WHITEOUT != 0 || flags == known {
            return Err(Errno::EINVAL);
        }
        let raw_flags = flags;
        let flags = RenameFlags { no_replace: flags & RENAME_NOREPLACE != 0, exchange: flags & RENAME_EXCHANGE != 0 };
        let old = path::resolve_parent(self, old_base, old_path)?;
        let new = path::resolve_parent(self, new_base, new_path)?;
        if old.dir.mount != new.dir.mount {
            return Err(Errno::EXDEV);
        }
        let LastComponent::Name(old_name) = &old.last else {
            return Err(Errno::EBUSY);
        };
        let LastComponent::Name(new_name) = &new.last else {
            return Err(if flags.no_replace { Errno::EEXIST } else { Errno::EBUSY });
        };
        let old_dir = writable_dir(&old.dir, Errno::EPERM)?;
        let new_dir = writable_dir(&new.dir, Errno::EPERM)?;
        if self.mount_at(&old.dir, old_name).is_some() || self.mount_at(&new.dir, new_name).is_some() {
            return Err(Errno::EBUSY);
        }
        let moving = old.dir.node.lookup(old_name)?;
        if access::restricted() {
            self.check_removal(&old.dir, old_name)?;
            match new.dir.node.lookup(new_name) {
                Ok(_) => self.check_removal(&new.dir, new_name)?,
                Err(_) => self.check_dir_change(&new.dir)?,
            }
        }
        if moving.file_type() != FileType::Directory && (old.trailing_slash || (!flags.exchange && new.trailing_slash))
        {
            return Err(Errno::ENOTDIR);
        }
        let replaced = inotify::active().then(|| new.dir.node.lookup(new_name).ok()).flatten();
        match (old_dir, new_dir) {
            (WritableDir::Tmp(old_dir), WritableDir::Tmp(new_dir)) => {
                TmpNode::rename(old_dir, old_name, new_dir, new_name, flags)?
            }
            (WritableDir::Host(old_dir), WritableDir::Host(new_dir)) => {
                old_dir.rename(old_name, new_dir, new_name, raw_flags)?
            }
            _ => return Err(Errno::EXDEV),
        }
        if inotify::active() {
            let (from, to) = ((&old.dir, old_name.as_slice()), (&new.dir, new_name.as_slice()));
            inotify::renamed(from, to, &moving, replaced.as_ref(), flags.exchange);
        }
        Ok(())
    }

    /// `truncate`: `EINVAL` for a negative length or a non-regular file, `EISDIR` for a
    /// directory, `EROFS` in the image.
    pub fn truncate(&self, base: &Location, path: &[u8], len: i64) -> Result<(), Errno> {
        let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let location = self.resolve(base, path, true)?;
        if access::restricted() {
            self.check_restricted(&location, MAY_WRITE)?;
        }
        location.node.truncate(len)?;
        inotify::notify(&location, inotify::IN_MODIFY);
        Ok(())
    }

    /// `chmod`, `fchmodat`: `EOPNOTSUPP` for a symlink itself (`AT_SYMLINK_NOFOLLOW`).
    pub fn chmod(&self, base: &Location, path: &[u8], mode: u32, follow: bool) -> Result<(), Errno> {
        let location = self.resolve(base, path, follow)?;
        self.chmod_location(&location, mode)
    }

    /// Changes the mode of the file at `location` (`fchmodat2`'s `AT_EMPTY_PATH`), as
    /// [`Vfs::chmod`] does once it has found it.
    pub fn chmod_location(&self, location: &Location, mode: u32) -> Result<(), Errno> {
        if location.node.file_type() == FileType::Symlink {
            return Err(Errno::EOPNOTSUPP);
        }
        if access::restricted() {
            access::check_mode_change(&self.proc, &location.stat()?)?;
        }
        location.node.set_mode(mode)?;
        inotify::notify(location, inotify::IN_ATTRIB);
        Ok(())
    }

    /// `chown`, `lchown`, `fchownat` (`u32::MAX` leaves a field, as `-1` does).
    pub fn chown(&self, base: &Location, path: &[u8], uid: u32, gid: u32, follow: bool) -> Result<(), Errno> {
        let location = self.resolve(base, path, follow)?;
        access::check_chown(&self.proc, &location.stat()?, uid, gid)?;
        location.node.set_owner(unless_minus_one(uid), unless_minus_one(gid))?;
        inotify::notify(&location, inotify::IN_ATTRIB);
        Ok(())
    }

    /// `utimensat` with a path.
    pub fn utimens(
        &self,
        base: &Location,
        path: &[u8],
        atime: TimeChange,
        mtime: TimeChange,
        follow: bool,
    ) -> Result<(), Errno> {
        let location = self.resolve(base, path, follow)?;
        if access::restricted() {
            access::check_times(&self.proc, &location.stat()?, atime, mtime)?;
        }
        location.node.set_times(atime, mtime)?;
        inotify::notify(&location, inotify::IN_ATTRIB);
        Ok(())
    }
}

/// The open file of socket `node` (read-write; `O_NONBLOCK` if `nonblocking`), named
/// `socket:[ino]` (what `/proc/self/fd/N` shows).
fn sockfs_file(node: Node, nonblocking: bool) -> Arc<OpenFile> {
    let path = format!("socket:[{}]", node.ino()).into_bytes();
    let flags = O_RDWR | if nonblocking { O_NONBLOCK } else { 0 };
    Arc::new(OpenFile::new(Location::new(mount_id::SOCK, node, path), flags, Vec::new()))
}

/// A directory whose names may change: a tmpfs one or one of a writable volume.
enum WritableDir<'a> {
    Tmp(&'a Arc<TmpNode>),
    Host(&'a HostNode),
}

impl WritableDir<'_> {
    /// Creates the regular file `name`: its node.
    fn create_file(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<Node, Errno> {
        match self {
            WritableDir::Tmp(dir) => dir.create_file(name, mode, uid, gid).map(Node::Tmp),
            WritableDir::Host(dir) => dir.create_file(name, mode).map(|node| Node::Host(Arc::new(node))),
        }
    }

    /// Makes the FIFO `name` (`fs::fifo`); a volume holds none (EPERM, as before FIFOs).
    fn create_fifo(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<(), Errno> {
        match self {
            WritableDir::Tmp(dir) => dir.create_fifo(name, mode, uid, gid).map(|_| ()),
            WritableDir::Host(_) => Err(Errno::EPERM),
        }
    }

    /// Makes the directory `name`.
    fn create_dir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<(), Errno> {
        match self {
            WritableDir::Tmp(dir) => dir.create_dir(name, mode, uid, gid).map(|_| ()),
            WritableDir::Host(dir) => dir.create_dir(name, mode),
        }
    }

    /// Makes the symlink `name` -> `target`.
    fn create_symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        match self {
            WritableDir::Tmp(dir) => dir.create_symlink(name, target, uid, gid).map(|_| ()),
            WritableDir::Host(dir) => dir.create_symlink(name, target),
        }
    }

    /// Removes the entry `name` (`rmdir` with `directory`, else `unlink`).
    fn remove(&self, name: &[u8], directory: bool) -> Result<(), Errno> {
        match self {
            WritableDir::Tmp(dir) if directory => dir.rmdir(name),
            WritableDir::Tmp(dir) => dir.unlink(name),
            WritableDir::Host(dir) => dir.remove(name, directory),
        }
    }
}

/// The directory of `dir`, for an operation that changes names: `EROFS` in the image and in a
/// read-only volume, `fixed_error` in the synthetic trees (`EPERM`, or `EACCES` for
/// `open(O_CREAT)`).
fn writable_dir(dir: &Location, fixed_error: Errno) -> Result<WritableDir<'_>, Errno> {
    match &dir.node {
        Node::Tmp(node) => Ok(WritableDir::Tmp(node)),
        Node::Host(node) if !node.volume().read_only() => Ok(WritableDir::Host(node)),
        node => Err(match node.mutability() {
            Mutability::ReadOnly => Errno::EROFS,
            _ => fixed_error,
        }),
    }
}

impl Walker for Vfs {
    type Loc = Location;

    fn root(&self) -> Location {
        Vfs::root(self)
    }

    fn is_dir(&self, location: &Location) -> bool {
        location.node.is_dir()
    }

    fn is_symlink(&self, location: &Location) -> bool {
        location.node.file_type() == FileType::Symlink
    }

    #[inline]
    fn may_search(&self, dir: &Location) -> Result<(), Errno> {
        if access::restricted() {
            return self.check_restricted(dir, MAY_EXEC);
        }
        Ok(())
    }

    fn child(&self, dir: &Location, name: &[u8]) -> Result<Location, Errno> {
        if let Some(id) = self.mount_at(dir, name) {
            let mount = &self.mounts[id];
            return Ok(Location::new(id, mount.root.clone(), mount.path.clone()));
        }
        let node = dir.node.lookup(name)?;
        Ok(Location::new(dir.mount, node, join(&dir.path, name)))
    }

    fn parent(&self, dir: &Location) -> Result<Location, Errno> {
        let mount = self.mounts.get(dir.mount).ok_or(Errno::EIO)?;
        if mount.root.same_file(&dir.node) {
            return Ok(match &mount.parent {
                Some((parent_mount, parent_node)) => {
                    Location::new(*parent_mount, parent_node.clone(), parent_path(&mount.path))
                }
                None => self.root(),
            });
        }
        Ok(Location::new(dir.mount, dir.node.parent()?, parent_path(&dir.path)))
    }

    fn link_target(&self, link: &Location) -> Result<LinkTarget<Location>, Errno> {
        link.node.link_target()
    }
}

#[cfg(test)]
mod tests;
