//! [`DevFs`]: the fixed device tree mounted at `/dev`.
//!
//! ```text
//! /dev/null /dev/zero /dev/full /dev/random /dev/urandom   character devices (1:3 .. 1:9)
//! /dev/tty /dev/console /dev/pts/0                        the console (see console.rs)
//! /dev/stdin /dev/stdout /dev/stderr -> /proc/self/fd/0..2 (as on Linux, so they follow
//!                                                          dup2 redirections)
//! /dev/fd -> /proc/self/fd
//! /dev/shm/                                                a tmpfs is mounted here
//! ```
//! Nothing can be created or removed here. `/dev/full` fails writes with `ENOSPC`; the
//! random devices read from the random source the kernel provides.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::console::{ConsoleDevice, ConsoleNode, ConsoleRole};
use crate::fs::dirent::{DirEntry, FIRST_ENTRY_OFFSET};
use crate::fs::env::RandomSource;
use crate::fs::node::Node;
use crate::fs::stat::{makedev, FileType, Stat, Timespec, DEV_DEVFS};

/// Inode numbers of the device tree (the console files' included).
pub mod inode {
    /// `/dev`.
    pub const ROOT: u64 = 1;
    /// `/dev/null`.
    pub const NULL: u64 = 2;
    /// `/dev/zero`.
    pub const ZERO: u64 = 3;
    /// `/dev/full`.
    pub const FULL: u64 = 4;
    /// `/dev/random`.
    pub const RANDOM: u64 = 5;
    /// `/dev/urandom`.
    pub const URANDOM: u64 = 6;
    /// `/dev/tty`.
    pub const TTY: u64 = 7;
    /// `/dev/console`.
    pub const CONSOLE: u64 = 8;
    /// `/dev/pts`.
    pub const PTS_DIR: u64 = 9;
    /// `/dev/pts/0`, and the standard streams when they are a terminal.
    pub const PTS0: u64 = 10;
    /// `/dev/stdin`.
    pub const STDIN_LINK: u64 = 11;
    /// `/dev/stdout`.
    pub const STDOUT_LINK: u64 = 12;
    /// `/dev/stderr`.
    pub const STDERR_LINK: u64 = 13;
    /// `/dev/fd`.
    pub const FD_LINK: u64 = 14;
    /// `/dev/shm` (under the tmpfs mounted on it).
    pub const SHM_DIR: u64 = 15;
    /// The host's stdin when it is not a terminal.
    pub const HOST_STDIN: u64 = 16;
    /// The host's stdout when it is not a terminal.
    pub const HOST_STDOUT: u64 = 17;
    /// The host's stderr when it is not a terminal.
    pub const HOST_STDERR: u64 = 18;
}

/// The files of the device tree other than the console files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    /// `/dev`.
    Root,
    /// `/dev/null`: reads end at once, writes vanish.
    Null,
    /// `/dev/zero`: reads give zeros, writes vanish.
    Zero,
    /// `/dev/full`: reads give zeros, writes fail with `ENOSPC`.
    Full,
    /// `/dev/random`.
    Random,
    /// `/dev/urandom`.
    Urandom,
    /// `/dev/pts`.
    PtsDir,
    /// `/dev/stdin`.
    StdinLink,
    /// `/dev/stdout`.
    StdoutLink,
    /// `/dev/stderr`.
    StderrLink,
    /// `/dev/fd`.
    FdLink,
    /// `/dev/shm`.
    ShmDir,
}

/// What `/dev` lists, in name order.
const ROOT_ENTRIES: [(&[u8], Entry); 13] = [
    (b"console", Entry::Console(ConsoleRole::SystemConsole)),
    (b"fd", Entry::Dev(DevKind::FdLink)),
    (b"full", Entry::Dev(DevKind::Full)),
    (b"null", Entry::Dev(DevKind::Null)),
    (b"pts", Entry::Dev(DevKind::PtsDir)),
    (b"random", Entry::Dev(DevKind::Random)),
    (b"shm", Entry::Dev(DevKind::ShmDir)),
    (b"stderr", Entry::Dev(DevKind::StderrLink)),
    (b"stdin", Entry::Dev(DevKind::StdinLink)),
    (b"stdout", Entry::Dev(DevKind::StdoutLink)),
    (b"tty", Entry::Console(ConsoleRole::Tty)),
    (b"urandom", Entry::Dev(DevKind::Urandom)),
    (b"zero", Entry::Dev(DevKind::Zero)),
];

/// What `/dev/pts` lists.
const PTS_ENTRIES: [(&[u8], Entry); 1] = [(b"0", Entry::Console(ConsoleRole::Pts))];

#[derive(Clone, Copy)]
enum Entry {
    Dev(DevKind),
    Console(ConsoleRole),
}

impl Entry {
    fn ino(self) -> u64 {
        match self {
            Entry::Dev(kind) => kind.ino(),
            Entry::Console(ConsoleRole::Tty) => inode::TTY,
            Entry::Console(ConsoleRole::SystemConsole) => inode::CONSOLE,
            Entry::Console(_) => inode::PTS0,
        }
    }

    fn file_type(self) -> FileType {
        match self {
            Entry::Dev(kind) => kind.file_type(),
            Entry::Console(_) => FileType::CharDevice,
        }
    }
}

impl DevKind {
    /// The inode number.
    pub const fn ino(self) -> u64 {
        match self {
            DevKind::Root => inode::ROOT,
            DevKind::Null => inode::NULL,
            DevKind::Zero => inode::ZERO,
            DevKind::Full => inode::FULL,
            DevKind::Random => inode::RANDOM,
            DevKind::Urandom => inode::URANDOM,
            DevKind::PtsDir => inode::PTS_DIR,
            DevKind::StdinLink => inode::STDIN_LINK,
            DevKind::StdoutLink => inode::STDOUT_LINK,
            DevKind::StderrLink => inode::STDERR_LINK,
            DevKind::FdLink => inode::FD_LINK,
            DevKind::ShmDir => inode::SHM_DIR,
        }
    }

    /// The file type.
    pub const fn file_type(self) -> FileType {
        match self {
            DevKind::Root | DevKind::PtsDir | DevKind::ShmDir => FileType::Directory,
            DevKind::StdinLink | DevKind::StdoutLink | DevKind::StderrLink | DevKind::FdLink => FileType::Symlink,
            DevKind::Null | DevKind::Zero | DevKind::Full | DevKind::Random | DevKind::Urandom => FileType::CharDevice,
        }
    }

    fn link_target(self) -> Option<&'static [u8]> {
        match self {
            DevKind::StdinLink => Some(b"/proc/self/fd/0"),
            DevKind::StdoutLink => Some(b"/proc/self/fd/1"),
            DevKind::StderrLink => Some(b"/proc/self/fd/2"),
            DevKind::FdLink => Some(b"/proc/self/fd"),
            _ => None,
        }
    }

    fn rdev(self) -> u64 {
        match self {
            DevKind::Null => makedev(1, 3),
            DevKind::Zero => makedev(1, 5),
            DevKind::Full => makedev(1, 7),
            DevKind::Random => makedev(1, 8),
            DevKind::Urandom => makedev(1, 9),
            _ => 0,
        }
    }

    fn entries(self) -> &'static [(&'static [u8], Entry)] {
        match self {
            DevKind::Root => &ROOT_ENTRIES,
            DevKind::PtsDir => &PTS_ENTRIES,
            _ => &[],
        }
    }
}

/// The device tree.
pub struct DevFs {
    random: RandomSource,
    console: Arc<ConsoleDevice>,
    created: Timespec,
}

impl DevFs {
    /// The device tree, reading randomness from `random` and serving the console files of
    /// `console`; its timestamps are `created`.
    pub fn new(random: RandomSource, console: Arc<ConsoleDevice>, created: Timespec) -> Arc<DevFs> {
        Arc::new(DevFs { random, console, created })
    }

    /// `/dev` itself.
    pub fn root(self: &Arc<Self>) -> DevNode {
        DevNode { fs: self.clone(), kind: DevKind::Root }
    }

    /// The console file `role`.
    pub fn console(&self, role: ConsoleRole) -> ConsoleNode {
        ConsoleNode::new(self.console.clone(), role)
    }
}

/// A file of the device tree (not a console file).
#[derive(Clone)]
pub struct DevNode {
    fs: Arc<DevFs>,
    kind: DevKind,
}

impl DevNode {
    /// Which file this is.
    pub fn kind(&self) -> DevKind {
        self.kind
    }

    /// The file type.
    pub fn file_type(&self) -> FileType {
        self.kind.file_type()
    }

    /// The metadata.
    pub fn stat(&self) -> Stat {
        let file_type = self.file_type();
        let (permissions, nlink, size) = match file_type {
            FileType::Directory => (0o755, 2 + self.subdirectory_count(), 0),
            FileType::Symlink => (0o777, 1, self.kind.link_target().map_or(0, |t| t.len() as u64)),
            _ => (0o666, 1, 0),
        };
        let time = self.fs.created;
        Stat {
            rdev: self.kind.rdev(),
            size,
            ..Stat::contentless(DEV_DEVFS, self.kind.ino(), nlink, file_type.mode_bits() | permissions, (0, 0), time)
        }
    }

    fn subdirectory_count(&self) -> u64 {
        self.kind.entries().iter().filter(|(_, entry)| entry.file_type() == FileType::Directory).count() as u64
    }

    fn node_for(&self, entry: Entry) -> Node {
        match entry {
            Entry::Dev(kind) => Node::Dev(DevNode { fs: self.fs.clone(), kind }),
            Entry::Console(role) => Node::Console(self.fs.console(role)),
        }
    }

    /// The entry `name` of this directory.
    pub fn lookup(&self, name: &[u8]) -> Result<Node, Errno> {
        if self.file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let entries = self.kind.entries();
        let found = entries.iter().find(|(entry_name, _)| *entry_name == name).ok_or(Errno::ENOENT)?;
        Ok(self.node_for(found.1))
    }

    /// The parent directory (`/dev` is its own).
    pub fn parent(&self) -> Result<DevNode, Errno> {
        match self.file_type() {
            FileType::Directory => Ok(DevNode { fs: self.fs.clone(), kind: DevKind::Root }),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Lists this directory from offset `from` until `visit` returns false.
    pub fn read_dir(&self, from: u64, visit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<(), Errno> {
        if self.file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let skip = usize::try_from(from.saturating_sub(FIRST_ENTRY_OFFSET)).unwrap_or(usize::MAX);
        for (index, (name, entry)) in self.kind.entries().iter().enumerate().skip(skip) {
            let next_offset = FIRST_ENTRY_OFFSET + index as u64 + 1;
            if !visit(&DirEntry { name, ino: entry.ino(), file_type: entry.file_type(), next_offset }) {
                break;
            }
        }
        Ok(())
    }

    /// The target of a symlink: `EINVAL` for anything else.
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        self.kind.link_target().map(Vec::from).ok_or(Errno::EINVAL)
    }

    /// Reads from the device.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self.kind {
            DevKind::Null => Ok(0),
            DevKind::Zero | DevKind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            DevKind::Random | DevKind::Urandom => {
                (self.fs.random)(buf);
                Ok(buf.len())
            }
            DevKind::Root | DevKind::PtsDir | DevKind::ShmDir => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Writes to the device.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        match self.kind {
            DevKind::Null | DevKind::Zero | DevKind::Random | DevKind::Urandom => Ok(data.len()),
            DevKind::Full => Err(Errno::ENOSPC),
            DevKind::Root | DevKind::PtsDir | DevKind::ShmDir => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::console::tests::FakeConsole;

    fn fill_with_sevens(buf: &mut [u8]) {
        buf.fill(7);
    }

    fn devfs(ttys: [bool; 3]) -> Arc<DevFs> {
        let console = ConsoleDevice::new(FakeConsole::new(ttys, b""), 0, 0, Timespec::default());
        DevFs::new(fill_with_sevens, Arc::new(console), Timespec { sec: 9, nsec: 0 })
    }

    fn dev(fs: &Arc<DevFs>, name: &str) -> DevNode {
        match fs.root().lookup(name.as_bytes()).unwrap() {
            Node::Dev(node) => node,
            _ => panic!("{name} is not a plain device"),
        }
    }

    #[test]
    fn the_data_devices() {
        let fs = devfs([false; 3]);
        let mut buf = [1u8; 8];
        assert_eq!(dev(&fs, "null").read(&mut buf), Ok(0));
        assert_eq!(dev(&fs, "null").write(b"gone"), Ok(4));
        assert_eq!(dev(&fs, "zero").read(&mut buf), Ok(8));
        assert_eq!(buf, [0; 8]);
        assert_eq!(dev(&fs, "zero").write(b"x"), Ok(1));
        buf = [1; 8];
        assert_eq!(dev(&fs, "full").read(&mut buf), Ok(8));
        assert_eq!(buf, [0; 8]);
        assert_eq!(dev(&fs, "full").write(b"x"), Err(Errno::ENOSPC));
        assert_eq!(dev(&fs, "random").read(&mut buf), Ok(8));
        assert_eq!(buf, [7; 8]);
        assert_eq!(dev(&fs, "urandom").read(&mut buf[..3]), Ok(3));
        assert_eq!(dev(&fs, "urandom").write(b"seed"), Ok(4));
        assert_eq!(fs.root().read(&mut buf), Err(Errno::EISDIR));
        assert_eq!(fs.root().write(b"x"), Err(Errno::EISDIR));
        assert_eq!(dev(&fs, "stdin").read(&mut buf), Err(Errno::EINVAL));
        assert_eq!(dev(&fs, "stdin").write(b"x"), Err(Errno::EINVAL));
    }

    #[test]
    fn stat_and_links() {
        let fs = devfs([false; 3]);
        let st = dev(&fs, "null").stat();
        assert_eq!((st.mode, st.rdev, st.ino, st.dev), (0o020666, makedev(1, 3), inode::NULL, DEV_DEVFS));
        assert_eq!(dev(&fs, "urandom").stat().rdev, makedev(1, 9));
        let st = fs.root().stat();
        assert_eq!((st.mode, st.nlink), (0o040755, 4));
        assert_eq!(st.mtime.sec, 9);
        let stdout = dev(&fs, "stdout");
        assert_eq!(stdout.readlink().unwrap(), b"/proc/self/fd/1");
        assert_eq!(stdout.stat().mode, 0o120777);
        assert_eq!(stdout.stat().size, 15);
        assert_eq!(dev(&fs, "fd").readlink().unwrap(), b"/proc/self/fd");
        assert_eq!(dev(&fs, "stdin").readlink().unwrap(), b"/proc/self/fd/0");
        assert_eq!(dev(&fs, "stderr").readlink().unwrap(), b"/proc/self/fd/2");
        assert_eq!(dev(&fs, "null").readlink(), Err(Errno::EINVAL));
        assert_eq!(dev(&fs, "null").kind(), DevKind::Null);
    }

    #[test]
    fn lookups_and_listing() {
        let fs = devfs([true; 3]);
        let root = fs.root();
        assert!(matches!(root.lookup(b"tty"), Ok(Node::Console(c)) if c.role() == ConsoleRole::Tty));
        assert!(matches!(root.lookup(b"console"), Ok(Node::Console(c)) if c.role() == ConsoleRole::SystemConsole));
        assert_eq!(root.lookup(b"nope").err(), Some(Errno::ENOENT));
        let pts = dev(&fs, "pts");
        assert!(matches!(pts.lookup(b"0"), Ok(Node::Console(c)) if c.role() == ConsoleRole::Pts));
        assert_eq!(pts.parent().unwrap().kind(), DevKind::Root);
        assert_eq!(root.parent().unwrap().kind(), DevKind::Root);
        assert_eq!(dev(&fs, "null").parent().err(), Some(Errno::ENOTDIR));
        assert_eq!(dev(&fs, "null").lookup(b"x").err(), Some(Errno::ENOTDIR));
        let mut names = Vec::new();
        root.read_dir(FIRST_ENTRY_OFFSET, &mut |e| {
            names.push((e.name.to_vec(), e.file_type, e.next_offset));
            true
        })
        .unwrap();
        assert_eq!(names.len(), ROOT_ENTRIES.len());
        assert_eq!(names[0], (b"console".to_vec(), FileType::CharDevice, 3));
        assert_eq!(names[4].1, FileType::Directory);
        let mut rest = Vec::new();
        root.read_dir(names[10].2, &mut |e| {
            rest.push(e.name.to_vec());
            true
        })
        .unwrap();
        assert_eq!(rest, [b"urandom".to_vec(), b"zero".to_vec()]);
        assert_eq!(dev(&fs, "null").read_dir(0, &mut |_| true), Err(Errno::ENOTDIR));
        root.read_dir(u64::MAX, &mut |_| panic!("past the end")).unwrap();
        assert_eq!(dev(&fs, "shm").file_type(), FileType::Directory);
        assert_eq!(fs.console(ConsoleRole::Stdout).role(), ConsoleRole::Stdout);
    }
}
