//! Tests of the VFS over a synthetic image: mounts, the path operations and their errnos,
//! `/proc/self` with a process view, and the console files.

use super::*;
use crate::fs::console::tests::FakeConsole;
use crate::fs::env::SystemInfo;
use crate::fs::fdtable::FdTable;
use crate::fs::flags::{
    O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC, O_WRONLY, R_OK,
    SEEK_SET, X_OK,
};
use crate::fs::ioctl;
use crate::fs::stat::{major, makedev, minor, Timespec, DEV_DEVFS, DEV_IMAGE, DEV_PROC, S_IFCHR, S_IFDIR, S_IFLNK};
use crate::fs::test_image::{build_image, TestEntry};
use crate::sync::SpinLock;
use alloc::string::String;
use alloc::vec;
use core::sync::atomic::{AtomicI64, Ordering};

mod inotify;
mod writable_root;

static CLOCK: AtomicI64 = AtomicI64::new(1_000_000);

fn clock() -> (i64, u32) {
    (CLOCK.fetch_add(1, Ordering::Relaxed), 0)
}

fn random(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8 ^ 0x5a;
    }
}

fn free_memory() -> u64 {
    32 << 20
}

const APP: &[u8] = b"\x7fELF the app";

fn image() -> &'static [u8] {
    build_image(&[
        TestEntry::dir("bin", 0o755),
        TestEntry::file("bin/app", 0o755, APP),
        TestEntry::symlink("bin/sh", "app"),
        TestEntry::dir("dev", 0o755),
        TestEntry::dir("etc", 0o755),
        TestEntry::file("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n"),
        TestEntry::symlink("etc/loop", "/etc/loop"),
        TestEntry::symlink("etc/to_tmp", "/tmp"),
        TestEntry::symlink("etc/dangling", "/nowhere"),
        TestEntry::dir("home", 0o755),
        TestEntry::symlink("lib", "usr/lib"),
        TestEntry::dir("usr", 0o755),
        TestEntry::dir("usr/lib", 0o755),
        TestEntry::file("usr/lib/libc.so", 0o755, &vec![0xcc; 5000]),
    ])
}

fn env_with(ttys: [bool; 3]) -> (FsEnv, Arc<FakeConsole>) {
    let console = FakeConsole::new(ttys, b"typed");
    let env = FsEnv {
        console: console.clone(),
        random,
        now: clock,
        uid: 1000,
        gid: 100,
        system: SystemInfo {
            cpu_count: 1,
            cpu_khz: 3_000_000,
            mem_total_bytes: 256 << 20,
            mem_free_bytes: free_memory,
        },
        frames: crate::fs::tmpfs::page::test_frames(),
    };
    (env, console)
}

fn vfs() -> Vfs {
    Vfs::new(image(), "/bin/app", env_with([false; 3]).0, 1 << 24, true).unwrap()
}

/// The process side: an fd table and a cwd, as the syscall layer will keep them.
struct TestProcess {
    fds: SpinLock<FdTable>,
    cwd: SpinLock<Location>,
}

impl ProcessView for TestProcess {
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

fn with_process(vfs: &Vfs) -> Arc<TestProcess> {
    let mut fds = FdTable::new();
    for fd in 0..3 {
        fds.insert(vfs.console_file(fd).unwrap(), false).unwrap();
    }
    let process = Arc::new(TestProcess { fds: SpinLock::new(fds), cwd: SpinLock::new(vfs.root()) });
    vfs.set_calling_process(process.clone());
    process
}

fn open(vfs: &Vfs, path: &str, flags: u32) -> Result<Arc<OpenFile>, Errno> {
    vfs.open(&vfs.root(), path.as_bytes(), flags, 0o644)
}

fn err(result: Result<impl Sized, Errno>) -> Errno {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn read_all(file: &OpenFile) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn write_file(vfs: &Vfs, path: &str, data: &[u8]) {
    let file = open(vfs, path, O_WRONLY | O_CREAT | O_TRUNC).unwrap();
    assert_eq!(file.write(data), Ok(data.len()));
}

fn list(vfs: &Vfs, path: &str) -> Vec<String> {
    let dir = open(vfs, path, O_RDONLY | O_DIRECTORY).unwrap();
    let mut names = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = dir.getdents64(&mut buf).unwrap();
        if n == 0 {
            return names;
        }
        let mut at = 0;
        while at < n {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = &buf[at + 19..at + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap();
            names.push(String::from_utf8(name[..end].to_vec()).unwrap());
            at += reclen;
        }
    }
}

fn path_of(vfs: &Vfs, path: &str) -> String {
    String::from_utf8(vfs.resolve(&vfs.root(), path.as_bytes(), true).unwrap().path().to_vec()).unwrap()
}

#[test]
fn the_shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Vfs>();
    check::<OpenFile>();
    check::<FdTable>();
    check::<Location>();
}

#[test]
fn the_mount_table_matches_proc_mounts() {
    let vfs = vfs();
    for (id, mount) in vfs.mounts.iter().enumerate() {
        assert_eq!(mount.path, MOUNT_LINES[id].0.as_bytes());
        let location = vfs.resolve(&vfs.root(), &mount.path, true).unwrap();
        assert_eq!(location.mount_id(), id);
        assert!(location.node().same_file(&mount.root));
    }
    assert_eq!(vfs.mounts[mount_id::SHM].name, b"shm");
}

#[test]
fn a_bad_image_is_eio() {
    let mut bytes = image().to_vec();
    bytes[0] = b'X';
    let leaked: &'static [u8] = alloc::boxed::Box::leak(bytes.into_boxed_slice());
    assert_eq!(err(Vfs::new(leaked, "/bin/app", env_with([false; 3]).0, 1 << 20, true)), Errno::EIO);
}

#[test]
fn the_root_lists_image_entries_and_mount_points() {
    let vfs = vfs();
    assert_eq!(list(&vfs, "/"), [".", "..", "bin", "dev", "etc", "home", "lib", "usr", "tmp", "proc"]);
    let dev = list(&vfs, "/dev");
    assert_eq!(dev.iter().filter(|n| *n == "shm").count(), 1);
    assert!(dev.contains(&String::from("null")));
    assert_eq!(list(&vfs, "/tmp"), [".", ".."]);
    assert_eq!(
        list(&vfs, "/proc"),
        [".", "..", "cpuinfo", "loadavg", "meminfo", "mounts", "net", "self", "stat", "uptime", "version", "1"]
    );
    assert_eq!(list(&vfs, "/usr/lib"), [".", "..", "libc.so"]);
}

#[test]
fn walks_cross_mounts_both_ways() {
    let vfs = vfs();
    assert_eq!(path_of(&vfs, "/tmp"), "/tmp");
    assert_eq!(path_of(&vfs, "/tmp/.."), "/");
    assert_eq!(path_of(&vfs, "/dev/shm/../null"), "/dev/null");
    assert_eq!(path_of(&vfs, "/dev/shm/../../etc"), "/etc");
    assert_eq!(path_of(&vfs, "/proc/self/fd/.."), "/proc/1");
    assert_eq!(path_of(&vfs, "/../../.."), "/");
    assert_eq!(path_of(&vfs, "/lib/libc.so"), "/usr/lib/libc.so");
    assert_eq!(path_of(&vfs, "/etc/to_tmp"), "/tmp");
    let tmp = vfs.resolve(&vfs.root(), b"/tmp", true).unwrap();
    assert_eq!(tmp.mount_id(), mount_id::TMP);
    let shm = vfs.resolve(&vfs.root(), b"/dev/shm", true).unwrap();
    assert_eq!(shm.mount_id(), mount_id::SHM);
    let devs: Vec<u64> = ["/", "/tmp", "/dev", "/dev/shm", "/proc"]
        .iter()
        .map(|p| vfs.stat(&vfs.root(), p.as_bytes(), true).unwrap().dev)
        .collect();
    for (i, a) in devs.iter().enumerate() {
        assert!(devs[i + 1..].iter().all(|b| b != a), "distinct st_dev per mount");
    }
    assert_eq!(devs[0], DEV_IMAGE);
    let etc = vfs.resolve(&vfs.root(), b"/etc", true).unwrap();
    assert_eq!(vfs.resolve(&etc, b"passwd", true).unwrap().path(), b"/etc/passwd");
    assert_eq!(vfs.resolve(&etc, b"../bin/sh", true).unwrap().path(), b"/bin/app");
    assert_eq!(err(vfs.resolve(&etc, b"", true)), Errno::ENOENT);
    assert_eq!(err(vfs.resolve(&etc, &[b'a'; 256], true)), Errno::ENAMETOOLONG);
    assert_eq!(err(vfs.resolve(&etc, b"passwd/", true)), Errno::ENOTDIR);
    assert_eq!(err(vfs.resolve(&etc, b"loop", true)), Errno::ELOOP);
    assert!(vfs.resolve(&etc, b"loop", false).is_ok());
    assert_eq!(err(vfs.resolve(&etc, b"dangling", true)), Errno::ENOENT);
}

#[test]
fn reading_the_image() {
    let vfs = vfs();
    let app = open(&vfs, "/bin/sh", O_RDONLY).unwrap();
    assert_eq!(read_all(&app), APP);
    assert_eq!(app.path(), b"/bin/app");
    let (offset, size) = app.image_extent().unwrap();
    assert_eq!((offset % 4096, size), (0, APP.len() as u64));
    assert_eq!(&image()[offset as usize..(offset + size) as usize], APP);
    let st = app.stat().unwrap();
    assert_eq!((st.mode, st.size, st.dev, st.uid), (0o100755, APP.len() as u64, DEV_IMAGE, 0));
    assert_eq!(st.mount_id, 1);
    let lib = open(&vfs, "/lib/libc.so", O_RDONLY).unwrap();
    let mut buf = [0u8; 10];
    assert_eq!(lib.pread(&mut buf, 4995), Ok(5));
    assert_eq!(lib.lseek(0, crate::fs::flags::SEEK_END), Ok(5000));
}

#[test]
fn open_errnos_in_the_image() {
    let vfs = vfs();
    assert_eq!(err(open(&vfs, "/etc/passwd", O_WRONLY)), Errno::EROFS);
    assert_eq!(err(open(&vfs, "/etc/passwd", O_RDWR)), Errno::EROFS);
    assert_eq!(err(open(&vfs, "/etc/passwd", O_RDONLY | O_TRUNC)), Errno::EROFS);
    assert!(open(&vfs, "/etc/passwd", O_RDONLY | O_CREAT).is_ok());
    assert_eq!(err(open(&vfs, "/etc/passwd", O_RDONLY | O_CREAT | O_EXCL)), Errno::EEXIST);
    assert_eq!(err(open(&vfs, "/etc/new", O_WRONLY | O_CREAT)), Errno::EROFS);
    assert_eq!(err(open(&vfs, "/etc/missing", O_RDONLY)), Errno::ENOENT);
    assert_eq!(err(open(&vfs, "/etc/passwd", O_RDONLY | O_DIRECTORY)), Errno::ENOTDIR);
    assert_eq!(err(open(&vfs, "/etc/passwd/", O_RDONLY)), Errno::ENOTDIR);
    assert_eq!(err(open(&vfs, "/etc", O_WRONLY)), Errno::EISDIR);
    assert_eq!(err(open(&vfs, "/tmp", O_RDONLY | O_TRUNC)), Errno::EISDIR, "O_TRUNC asks for write access");
    assert_eq!(err(open(&vfs, "/etc", O_RDONLY | O_CREAT)), Errno::EISDIR);
    assert_eq!(err(open(&vfs, "/", O_RDONLY | O_CREAT)), Errno::EISDIR);
    assert_eq!(err(open(&vfs, "/etc/.", O_RDONLY | O_CREAT)), Errno::EISDIR);
    assert_eq!(err(open(&vfs, "/bin/sh", O_RDONLY | O_NOFOLLOW)), Errno::ELOOP);
    assert_eq!(err(open(&vfs, "/etc/loop", O_RDONLY)), Errno::ELOOP);
    assert_eq!(err(open(&vfs, "/tmp", O_RDWR | O_TMPFILE)), Errno::EOPNOTSUPP);
    assert_eq!(err(open(&vfs, "/etc/passwd", 3)), Errno::EINVAL);
    assert_eq!(err(open(&vfs, "/tmp/x", O_CREAT | O_DIRECTORY)), Errno::EINVAL);
    assert!(open(&vfs, "/etc", O_RDONLY | O_DIRECTORY).unwrap().is_dir());

    let link = open(&vfs, "/bin/sh", O_PATH | O_NOFOLLOW | O_RDWR | O_TRUNC).unwrap();
    assert!(link.is_path_only());
    assert_eq!(link.stat().unwrap().mode & S_IFMT, S_IFLNK);
    assert_eq!(err(link.read(&mut [0u8; 4])), Errno::EBADF);
    let dir = open(&vfs, "/etc", O_PATH).unwrap();
    assert_eq!(vfs.resolve(dir.location(), b"passwd", true).unwrap().path(), b"/etc/passwd");
}

#[test]
fn open_and_create_in_tmpfs() {
    let vfs = vfs();
    let file = vfs.open(&vfs.root(), b"/tmp/new", O_RDWR | O_CREAT | O_EXCL, 0o640).unwrap();
    let st = file.stat().unwrap();
    assert_eq!((st.mode, st.uid, st.gid, st.size), (0o100640, 1000, 100, 0));
    assert_eq!(file.path(), b"/tmp/new");
    assert_eq!(err(open(&vfs, "/tmp/new", O_RDWR | O_CREAT | O_EXCL)), Errno::EEXIST);
    file.write(b"some data").unwrap();
    let again = open(&vfs, "/tmp/new", O_RDWR | O_CREAT).unwrap();
    assert_eq!(read_all(&again), b"some data");
    open(&vfs, "/tmp/new", O_WRONLY | O_TRUNC).unwrap();
    assert_eq!(file.stat().unwrap().size, 0);
    assert_eq!(err(open(&vfs, "/tmp/dir/", O_RDWR | O_CREAT)), Errno::EISDIR);
    assert_eq!(err(open(&vfs, "/tmp/new/", O_RDWR | O_CREAT)), Errno::ENOTDIR);
    assert_eq!(err(open(&vfs, "/tmp/new/", O_RDONLY)), Errno::ENOTDIR);
    assert_eq!(err(open(&vfs, "/tmp/missing/x", O_RDWR | O_CREAT)), Errno::ENOENT);
    assert_eq!(err(open(&vfs, "/tmp/new/x", O_RDWR | O_CREAT)), Errno::ENOTDIR);
    assert_eq!(err(open(&vfs, "/proc/new", O_RDWR | O_CREAT)), Errno::EACCES);
    assert_eq!(err(open(&vfs, "/dev/new", O_RDWR | O_CREAT)), Errno::EACCES);
    assert_eq!(err(open(&vfs, "/proc/cpuinfo", O_WRONLY)), Errno::EACCES);
    let long = alloc::format!("/tmp/{}", "n".repeat(256));
    assert_eq!(err(open(&vfs, &long, O_RDWR | O_CREAT)), Errno::ENAMETOOLONG);
    // Relative to a directory fd.
    let tmp = open(&vfs, "/tmp", O_RDONLY | O_DIRECTORY).unwrap();
    let rel = vfs.open(tmp.location(), b"rel", O_WRONLY | O_CREAT, 0o600).unwrap();
    assert_eq!(rel.path(), b"/tmp/rel");
    // Through a symlink in the image that points into /tmp.
    write_file(&vfs, "/etc/to_tmp/via_link", b"x");
    assert!(open(&vfs, "/tmp/via_link", O_RDONLY).is_ok());
    // O_APPEND through the VFS.
    let log = open(&vfs, "/tmp/log", O_WRONLY | O_CREAT | O_APPEND).unwrap();
    log.write(b"a").unwrap();
    log.write(b"b").unwrap();
    assert_eq!(read_all(&open(&vfs, "/tmp/log", O_RDONLY).unwrap()), b"ab");
}

#[test]
fn creating_through_a_dangling_symlink() {
    let vfs = vfs();
    vfs.symlink(b"target", &vfs.root(), b"/tmp/dangle").unwrap();
    assert_eq!(err(open(&vfs, "/tmp/dangle", O_RDWR | O_CREAT | O_NOFOLLOW)), Errno::ELOOP);
    assert_eq!(err(open(&vfs, "/tmp/dangle", O_RDWR | O_CREAT | O_EXCL)), Errno::EEXIST);
    let file = open(&vfs, "/tmp/dangle", O_RDWR | O_CREAT).unwrap();
    assert_eq!(file.path(), b"/tmp/target");
    assert!(vfs.stat(&vfs.root(), b"/tmp/target", false).is_ok());
    vfs.symlink(b"/tmp/loop", &vfs.root(), b"/tmp/loop").unwrap();
    assert_eq!(err(open(&vfs, "/tmp/loop", O_RDWR | O_CREAT)), Errno::ELOOP);
    assert_eq!(err(open(&vfs, "/etc/dangling", O_RDWR | O_CREAT)), Errno::EROFS, "the target would be /nowhere");
}

#[test]
fn devices_through_the_vfs() {
    let vfs = vfs();
    let null = open(&vfs, "/dev/null", O_RDWR).unwrap();
    assert_eq!(null.write(b"gone"), Ok(4));
    assert_eq!(null.read(&mut [0u8; 4]), Ok(0));
    assert_eq!(null.lseek(100, SEEK_SET), Ok(0));
    let st = null.stat().unwrap();
    assert_eq!((st.mode, st.rdev, st.dev), (S_IFCHR | 0o666, makedev(1, 3), DEV_DEVFS));
    let full = open(&vfs, "/dev/full", O_WRONLY).unwrap();
    assert_eq!(err(full.write(b"x")), Errno::ENOSPC);
    let urandom = open(&vfs, "/dev/urandom", O_RDONLY).unwrap();
    let mut bytes = [0u8; 4];
    assert_eq!(urandom.read(&mut bytes), Ok(4));
    assert_eq!(bytes, [0x5a, 0x5b, 0x58, 0x59]);
    let zero = open(&vfs, "/dev/zero", O_RDONLY).unwrap();
    bytes = [1; 4];
    zero.read(&mut bytes).unwrap();
    assert_eq!(bytes, [0; 4]);
    assert_eq!(err(open(&vfs, "/dev/tty", O_RDWR)), Errno::ENXIO, "no terminal");
    assert_eq!(err(vfs.truncate(&vfs.root(), b"/dev/null", 0)), Errno::EINVAL);
    assert_eq!(err(vfs.chmod(&vfs.root(), b"/dev/null", 0o600, true)), Errno::EPERM);
    assert_eq!(vfs.utimens(&vfs.root(), b"/dev/null", TimeChange::Now, TimeChange::Now, true), Ok(()));
    assert_eq!(vfs.access(&vfs.root(), b"/dev/null", W_OK | R_OK, true, false), Ok(()));
    assert_eq!(err(vfs.unlink(&vfs.root(), b"/dev/null")), Errno::EPERM);
    assert_eq!(err(vfs.mkdir(&vfs.root(), b"/dev/x", 0o755)), Errno::EPERM);
    assert_eq!(err(null.sync(false)), Errno::EINVAL);
    // /dev/shm is a tmpfs.
    write_file(&vfs, "/dev/shm/segment", b"shared");
    assert_eq!(list(&vfs, "/dev/shm"), [".", "..", "segment"]);
}

#[test]
fn terminals_and_console_files() {
    let (env, console) = env_with([true, true, false]);
    let vfs = Vfs::new(image(), "/bin/app", env, 1 << 20, true).unwrap();
    let stdin = vfs.console_file(0).unwrap();
    let stdout = vfs.console_file(1).unwrap();
    let stderr = vfs.console_file(2).unwrap();
    assert_eq!(err(vfs.console_file(3)), Errno::EBADF);
    assert!(stdin.is_readable() && stdin.is_writable());
    assert!(!stderr.is_readable() && stderr.is_writable());
    assert_eq!(stdout.write(b"hello"), Ok(5));
    assert_eq!(stderr.write(b"oops"), Ok(4));
    assert_eq!(console.output(1), b"hello");
    assert_eq!(console.output(2), b"oops");
    let mut buf = [0u8; 10];
    assert_eq!(stdin.read(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"typed");
    assert_eq!(err(stdout.pwrite(b"x", 0)), Errno::ESPIPE);
    assert_eq!(err(stdin.pread(&mut buf, 0)), Errno::ESPIPE);
    assert_eq!(err(stdout.lseek(0, SEEK_SET)), Errno::ESPIPE);
    let st = stdout.stat().unwrap();
    assert_eq!((st.mode, st.rdev, st.blksize), (S_IFCHR | 0o620, makedev(136, 0), 4096));
    assert_eq!(stderr.stat().unwrap().rdev, makedev(1, 3));
    let mut termios = [0u8; 36];
    assert_eq!(stdout.ioctl(ioctl::TCGETS, &mut termios), Ok(0));
    assert_eq!(err(stderr.ioctl(ioctl::TCGETS, &mut termios)), Errno::ENOTTY);
    let mut winsize = [0u8; 8];
    assert_eq!(stdin.ioctl(ioctl::TIOCGWINSZ, &mut winsize), Ok(0));
    assert_eq!(&winsize[..4], &[24, 0, 80, 0]);
    let tty = open(&vfs, "/dev/tty", O_RDWR).unwrap();
    assert_eq!(tty.write(b"!"), Ok(1));
    assert_eq!(console.output(1), b"hello!");
    assert_eq!(tty.stat().unwrap().rdev, makedev(5, 0));
    let pts = vfs.stat(&vfs.root(), b"/dev/pts/0", true).unwrap();
    assert_eq!((pts.ino, pts.rdev), (st.ino, st.rdev), "ttyname() can match fd 1 to /dev/pts/0");
    assert_eq!(stdout.status_flags(), O_RDWR | crate::fs::flags::O_LARGEFILE);
    assert_eq!(err(stdout.sync(false)), Errno::EINVAL);
}

#[test]
fn stat_lstat_and_access() {
    let vfs = vfs();
    let root = vfs.root();
    let link = vfs.stat(&root, b"/bin/sh", false).unwrap();
    let target = vfs.stat(&root, b"/bin/sh", true).unwrap();
    assert_eq!((link.mode, link.size), (S_IFLNK | 0o777, 3));
    assert_eq!(target.mode, 0o100755);
    assert_eq!(target.ino, vfs.stat(&root, b"/bin/app", true).unwrap().ino, "stable inode numbers");
    assert_eq!(vfs.stat(&root, b"/proc/self", true).unwrap().dev, DEV_PROC);
    assert_eq!(vfs.stat(&root, b"/proc", true).unwrap().mount_id, mount_id::PROC as u64 + 1);
    assert_eq!(err(vfs.stat(&root, b"/nope", true)), Errno::ENOENT);

    assert_eq!(vfs.access(&root, b"/etc/passwd", F_OK_VALUE, true, false), Ok(()));
    assert_eq!(err(vfs.access(&root, b"/etc/nope", F_OK_VALUE, true, false)), Errno::ENOENT);
    assert_eq!(err(vfs.access(&root, b"/etc/passwd", W_OK, true, false)), Errno::EROFS);
    assert_eq!(err(vfs.access(&root, b"/etc", W_OK, true, false)), Errno::EROFS);
    assert_eq!(vfs.access(&root, b"/etc/passwd", R_OK, true, false), Ok(()));
    assert_eq!(vfs.access(&root, b"/bin/app", X_OK, true, false), Ok(()));
    assert_eq!(err(vfs.access(&root, b"/etc/passwd", X_OK, true, false)), Errno::EACCES);
    assert_eq!(vfs.access(&root, b"/etc", X_OK, true, false), Ok(()));
    assert_eq!(vfs.access(&root, b"/tmp", W_OK, true, false), Ok(()));
    assert_eq!(err(vfs.access(&root, b"/tmp", 8, true, false)), Errno::EINVAL);
    assert_eq!(err(vfs.access(&root, b"/etc/dangling", F_OK_VALUE, true, false)), Errno::ENOENT);
    assert_eq!(vfs.access(&root, b"/etc/dangling", F_OK_VALUE, false, false), Ok(()));
}

const F_OK_VALUE: u32 = crate::fs::flags::F_OK;

#[test]
fn readlink_everywhere() {
    let vfs = vfs();
    let root = vfs.root();
    assert_eq!(vfs.readlink(&root, b"/bin/sh").unwrap(), b"app");
    assert_eq!(err(vfs.readlink(&root, b"/bin/app")), Errno::EINVAL);
    assert_eq!(err(vfs.readlink(&root, b"/bin/sh/")), Errno::ENOTDIR, "a trailing slash follows");
    assert_eq!(err(vfs.readlink(&root, b"/lib/")), Errno::EINVAL);
    assert_eq!(vfs.readlink(&root, b"/proc/self").unwrap(), b"1");
    assert_eq!(vfs.readlink(&root, b"/proc/self/exe").unwrap(), b"/bin/app");
    assert_eq!(vfs.readlink(&root, b"/dev/stdout").unwrap(), b"/proc/self/fd/1");
    assert_eq!(vfs.readlink(&root, b"/proc/mounts").unwrap(), b"self/mounts");
    let mounts = read_all(&open(&vfs, "/proc/mounts", O_RDONLY).unwrap());
    let mounts = String::from_utf8(mounts).unwrap();
    assert!(mounts.starts_with("/dev/root / uvmimage ro,relatime 0 0\ntmpfs /tmp tmpfs "), "{mounts}");
    assert!(mounts.ends_with("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"));
    let info = String::from_utf8(read_all(&open(&vfs, "/proc/self/mountinfo", O_RDONLY).unwrap())).unwrap();
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines.len(), 5, "{info}");
    assert_eq!(lines[0], "21 20 8:1 / / ro,relatime - uvmimage /dev/root ro", "the root, its parent unlisted");
    assert_eq!(lines[1], "22 21 0:33 / /tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw");
    assert!(lines[3].starts_with("24 23 0:34 / /dev/shm "), "on /dev: {info}");
    for line in &lines {
        // Each mount's device is the one `stat` shows at its mount point.
        let fields: Vec<&str> = line.split(' ').collect();
        let dev = vfs.stat(&root, fields[4].as_bytes(), true).unwrap().dev;
        assert_eq!(fields[2], alloc::format!("{}:{}", major(dev), minor(dev)), "{line}");
    }
    assert_eq!(read_all(&open(&vfs, "/proc/self/cgroup", O_RDONLY).unwrap()), b"0::/\n");
    assert_eq!(err(vfs.readlink(&root, b"/proc/self/cwd")), Errno::ENOENT, "no process view yet");
}

#[test]
fn proc_self_with_a_process() {
    let vfs = vfs();
    let process = with_process(&vfs);
    let root = vfs.root();
    let file = open(&vfs, "/tmp/data", O_RDWR | O_CREAT).unwrap();
    file.write(b"payload").unwrap();
    let fd = process.fds.lock().insert(file.clone(), false).unwrap();
    assert_eq!(fd, 3);
    assert_eq!(list(&vfs, "/proc/self/fd"), [".", "..", "0", "1", "2", "3"]);
    let fd_link = alloc::format!("/proc/self/fd/{fd}");
    assert_eq!(vfs.readlink(&root, fd_link.as_bytes()).unwrap(), b"/tmp/data");
    assert_eq!(vfs.readlink(&root, b"/proc/self/fd/1").unwrap(), b"pipe:[17]");
    // The magic link reaches the open file even once it is unlinked.
    vfs.unlink(&root, b"/tmp/data").unwrap();
    assert_eq!(vfs.readlink(&root, fd_link.as_bytes()).unwrap(), b"/tmp/data (deleted)");
    let reopened = open(&vfs, &fd_link, O_RDONLY).unwrap();
    assert_eq!(read_all(&reopened), b"payload");
    assert_eq!(vfs.stat(&root, fd_link.as_bytes(), false).unwrap().mode, S_IFLNK | 0o700);
    // /dev/stdout leads to the console, as dup2 left fd 1.
    let stdout = open(&vfs, "/dev/stdout", O_WRONLY).unwrap();
    assert!(matches!(stdout.node(), Node::Console(_)));
    assert_eq!(vfs.stat(&root, b"/dev/stdin", true).unwrap().mode & S_IFMT, S_IFCHR);
    process.fds.lock().dup2(fd, 1).unwrap();
    assert!(matches!(open(&vfs, "/dev/stdout", O_RDONLY).unwrap().node(), Node::Tmp(_)));
    assert_eq!(err(open(&vfs, "/proc/self/fd/99", O_RDONLY)), Errno::ENOENT);
    assert_eq!(err(open(&vfs, "/proc/self/smaps", O_RDONLY)), Errno::ENOENT);
    // cwd.
    *process.cwd.lock() = vfs.chdir(&root, b"/usr/lib").unwrap();
    assert_eq!(vfs.readlink(&root, b"/proc/self/cwd").unwrap(), b"/usr/lib");
    assert!(open(&vfs, "/proc/self/cwd/libc.so", O_RDONLY).is_ok());
    assert_eq!(path_of(&vfs, "/proc/self/cwd/.."), "/usr");
    let exe = open(&vfs, "/proc/self/exe", O_RDONLY).unwrap();
    assert_eq!(read_all(&exe), APP);
    let meminfo = String::from_utf8(read_all(&open(&vfs, "/proc/meminfo", O_RDONLY).unwrap())).unwrap();
    assert!(meminfo.starts_with("MemTotal:         262144 kB\nMemFree:           32768 kB\n"), "{meminfo}");
}

#[test]
fn mkdir_and_rmdir() {
    let vfs = vfs();
    let root = vfs.root();
    assert_eq!(err(vfs.mkdir(&root, b"/etc", 0o755)), Errno::EEXIST);
    assert_eq!(err(vfs.mkdir(&root, b"/etc/new", 0o755)), Errno::EROFS);
    assert_eq!(err(vfs.mkdir(&root, b"/tmp", 0o755)), Errno::EEXIST, "a mount point exists");
    assert_eq!(err(vfs.mkdir(&root, b"/tmp/.", 0o755)), Errno::EEXIST);
    assert_eq!(err(vfs.mkdir(&root, b"/", 0o755)), Errno::EEXIST);
    assert_eq!(err(vfs.mkdir(&root, b"/proc/x", 0o755)), Errno::EPERM);
    assert_eq!(err(vfs.mkdir(&root, b"/tmp/a/b", 0o755)), Errno::ENOENT);
    vfs.mkdir(&root, b"/tmp/a/", 0o750).unwrap();
    vfs.mkdir(&root, b"/tmp/a/b", 0o755).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/a", true).unwrap().mode, S_IFDIR | 0o750);
    assert_eq!(vfs.stat(&root, b"/tmp/a", true).unwrap().nlink, 3);
    assert_eq!(err(vfs.mkdir(&root, b"/tmp/a", 0o755)), Errno::EEXIST);
    write_file(&vfs, "/tmp/file", b"");
    assert_eq!(err(vfs.mkdir(&root, b"/tmp/file/x", 0o755)), Errno::ENOTDIR);

    assert_eq!(err(vfs.rmdir(&root, b"/tmp/a")), Errno::ENOTEMPTY);
    assert_eq!(err(vfs.rmdir(&root, b"/tmp/a/.")), Errno::EINVAL);
    assert_eq!(err(vfs.rmdir(&root, b"/tmp/a/b/..")), Errno::ENOTEMPTY);
    assert_eq!(err(vfs.rmdir(&root, b"/")), Errno::EBUSY);
    assert_eq!(err(vfs.rmdir(&root, b"/tmp/file")), Errno::ENOTDIR);
    assert_eq!(err(vfs.rmdir(&root, b"/tmp/missing")), Errno::ENOENT);
    assert_eq!(err(vfs.rmdir(&root, b"/etc/missing")), Errno::EROFS);
    assert_eq!(err(vfs.rmdir(&root, b"/tmp")), Errno::EROFS);
    assert_eq!(err(vfs.rmdir(&root, b"/dev/shm")), Errno::EPERM);
    vfs.rmdir(&root, b"/tmp/a/b/").unwrap();
    vfs.rmdir(&root, b"/tmp/a").unwrap();
    assert_eq!(list(&vfs, "/tmp"), [".", "..", "file"]);
}

#[test]
fn unlink_cases() {
    let vfs = vfs();
    let root = vfs.root();
    vfs.mkdir(&root, b"/tmp/d", 0o755).unwrap();
    write_file(&vfs, "/tmp/f", b"data");
    assert_eq!(err(vfs.unlink(&root, b"/tmp/d")), Errno::EISDIR);
    assert_eq!(err(vfs.unlink(&root, b"/tmp/d/")), Errno::EISDIR);
    assert_eq!(err(vfs.unlink(&root, b"/tmp/f/")), Errno::ENOTDIR);
    assert_eq!(err(vfs.unlink(&root, b"/tmp/missing/")), Errno::ENOENT);
    assert_eq!(err(vfs.unlink(&root, b"/tmp/missing")), Errno::ENOENT);
    assert_eq!(err(vfs.unlink(&root, b"/tmp/.")), Errno::EISDIR);
    assert_eq!(err(vfs.unlink(&root, b"/etc/passwd")), Errno::EROFS);
    assert_eq!(err(vfs.unlink(&root, b"/tmp")), Errno::EROFS);
    assert_eq!(err(vfs.unlink(&root, b"/dev/shm")), Errno::EPERM);
    let open_file = open(&vfs, "/tmp/f", O_RDONLY).unwrap();
    vfs.unlink(&root, b"/tmp/f").unwrap();
    assert_eq!(err(vfs.stat(&root, b"/tmp/f", true)), Errno::ENOENT);
    assert_eq!(read_all(&open_file), b"data", "unlink while open keeps the data");
    assert_eq!(open_file.stat().unwrap().nlink, 0);
}

#[test]
fn rename_cases() {
    let vfs = vfs();
    let root = vfs.root();
    let ren = |a: &str, b: &str, flags: u32| vfs.rename(&root, a.as_bytes(), &root, b.as_bytes(), flags);
    write_file(&vfs, "/tmp/a", b"A");
    write_file(&vfs, "/tmp/b", b"B");
    vfs.mkdir(&root, b"/tmp/d1", 0o755).unwrap();
    vfs.mkdir(&root, b"/tmp/d2", 0o755).unwrap();
    vfs.mkdir(&root, b"/tmp/full", 0o755).unwrap();
    write_file(&vfs, "/tmp/full/x", b"");

    ren("/tmp/a", "/tmp/b", 0).unwrap();
    assert_eq!(read_all(&open(&vfs, "/tmp/b", O_RDONLY).unwrap()), b"A");
    assert_eq!(err(vfs.stat(&root, b"/tmp/a", true)), Errno::ENOENT);
    ren("/tmp/d1", "/tmp/d2", 0).unwrap();
    assert_eq!(err(ren("/tmp/d2", "/tmp/full", 0)), Errno::ENOTEMPTY);
    assert_eq!(err(ren("/tmp/b", "/tmp/d2", 0)), Errno::EISDIR);
    assert_eq!(err(ren("/tmp/d2", "/tmp/b", 0)), Errno::ENOTDIR);
    assert_eq!(err(ren("/tmp/d2", "/tmp/d2/sub", 0)), Errno::EINVAL);
    assert_eq!(err(ren("/tmp/full", "/tmp/full/x/y", 0)), Errno::ENOTDIR);
    assert_eq!(err(ren("/tmp/missing", "/tmp/x", 0)), Errno::ENOENT);
    assert_eq!(err(ren("/tmp/b", "/dev/shm/b", 0)), Errno::EXDEV);
    assert_eq!(err(ren("/tmp/b", "/etc/b", 0)), Errno::EXDEV);
    assert_eq!(err(ren("/etc/passwd", "/etc/pw", 0)), Errno::EROFS);
    assert_eq!(err(ren("/tmp", "/tmp2", 0)), Errno::EROFS);
    assert_eq!(err(ren("/tmp/.", "/tmp/x", 0)), Errno::EBUSY);
    assert_eq!(err(ren("/tmp/b", "/tmp/..", 0)), Errno::EBUSY);
    assert_eq!(err(ren("/tmp/b", "/tmp/..", RENAME_NOREPLACE)), Errno::EEXIST);
    assert_eq!(err(ren("/tmp/b/", "/tmp/c", 0)), Errno::ENOTDIR);
    assert_eq!(err(ren("/tmp/b", "/tmp/c/", 0)), Errno::ENOTDIR);
    ren("/tmp/d2/", "/tmp/d3/", 0).unwrap();
    assert_eq!(err(ren("/dev/null", "/dev/nul", 0)), Errno::EPERM);
    assert_eq!(err(ren("/tmp/b", "/tmp/full", RENAME_NOREPLACE)), Errno::EEXIST);
    assert_eq!(err(ren("/tmp/b", "/tmp/c", RENAME_NOREPLACE | RENAME_EXCHANGE)), Errno::EINVAL);
    assert_eq!(err(ren("/tmp/b", "/tmp/c", RENAME_WHITEOUT)), Errno::EINVAL);
    assert_eq!(err(ren("/tmp/b", "/tmp/c", 8)), Errno::EINVAL);
    ren("/tmp/b", "/tmp/full", RENAME_EXCHANGE).unwrap();
    assert!(vfs.stat(&root, b"/tmp/b/x", true).is_ok());
    assert_eq!(read_all(&open(&vfs, "/tmp/full", O_RDONLY).unwrap()), b"A");
    // Through relative bases.
    let d3 = vfs.chdir(&root, b"/tmp/d3").unwrap();
    vfs.rename(&d3, b"../full", &d3, b"moved", 0).unwrap();
    assert!(vfs.stat(&root, b"/tmp/d3/moved", true).is_ok());
}

#[test]
fn symlinks_and_hard_links() {
    let vfs = vfs();
    let root = vfs.root();
    vfs.symlink(b"/etc/passwd", &root, b"/tmp/pw").unwrap();
    assert_eq!(vfs.readlink(&root, b"/tmp/pw").unwrap(), b"/etc/passwd");
    assert_eq!(read_all(&open(&vfs, "/tmp/pw", O_RDONLY).unwrap()), b"root:x:0:0::/root:/bin/sh\n");
    assert_eq!(err(vfs.symlink(b"", &root, b"/tmp/empty")), Errno::ENOENT);
    assert_eq!(err(vfs.symlink(&[b'x'; 4096], &root, b"/tmp/long")), Errno::ENAMETOOLONG);
    assert_eq!(err(vfs.symlink(b"x", &root, b"/tmp/pw")), Errno::EEXIST);
    assert_eq!(err(vfs.symlink(b"x", &root, b"/tmp/new/")), Errno::ENOENT);
    assert_eq!(err(vfs.symlink(b"x", &root, b"/etc/passwd")), Errno::EEXIST);
    assert_eq!(err(vfs.symlink(b"x", &root, b"/etc/new")), Errno::EROFS);
    let lstat = vfs.stat(&root, b"/tmp/pw", false).unwrap();
    assert_eq!((lstat.mode, lstat.uid, lstat.size), (S_IFLNK | 0o777, 1000, 11));

    write_file(&vfs, "/tmp/orig", b"shared");
    vfs.link(&root, b"/tmp/orig", &root, b"/tmp/hard", false).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/orig", true).unwrap().nlink, 2);
    assert_eq!(vfs.stat(&root, b"/tmp/hard", true).unwrap().ino, vfs.stat(&root, b"/tmp/orig", true).unwrap().ino);
    assert_eq!(err(vfs.link(&root, b"/tmp/orig", &root, b"/tmp/hard", false)), Errno::EEXIST);
    assert_eq!(err(vfs.link(&root, b"/tmp/orig", &root, b"/dev/shm/x", false)), Errno::EXDEV);
    assert_eq!(err(vfs.link(&root, b"/etc/passwd", &root, b"/tmp/x", false)), Errno::EXDEV);
    assert_eq!(err(vfs.link(&root, b"/etc/passwd", &root, b"/etc/x", false)), Errno::EROFS);
    vfs.mkdir(&root, b"/tmp/dir", 0o755).unwrap();
    assert_eq!(err(vfs.link(&root, b"/tmp/dir", &root, b"/tmp/dirlink", false)), Errno::EPERM);
    assert_eq!(err(vfs.link(&root, b"/tmp/missing", &root, b"/tmp/x", false)), Errno::ENOENT);
    // linkat without AT_SYMLINK_FOLLOW links the symlink itself.
    vfs.symlink(b"orig", &root, b"/tmp/sym").unwrap();
    vfs.link(&root, b"/tmp/sym", &root, b"/tmp/sym2", false).unwrap();
    assert_eq!(vfs.readlink(&root, b"/tmp/sym2").unwrap(), b"orig");
    vfs.link(&root, b"/tmp/sym", &root, b"/tmp/orig3", true).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/orig", true).unwrap().nlink, 3);
}

#[test]
fn truncate_chmod_chown_utimens() {
    let vfs = vfs();
    let root = vfs.root();
    write_file(&vfs, "/tmp/f", b"0123456789");
    assert_eq!(err(vfs.truncate(&root, b"/tmp/f", -1)), Errno::EINVAL);
    assert_eq!(err(vfs.truncate(&root, b"/tmp", 0)), Errno::EISDIR);
    assert_eq!(err(vfs.truncate(&root, b"/etc/passwd", 0)), Errno::EROFS);
    assert_eq!(err(vfs.truncate(&root, b"/proc/cpuinfo", 0)), Errno::EACCES);
    vfs.truncate(&root, b"/tmp/f", 3).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/f", true).unwrap().size, 3);

    assert_eq!(err(vfs.chmod(&root, b"/etc/passwd", 0o600, true)), Errno::EROFS);
    vfs.chmod(&root, b"/tmp/f", 0o4711, true).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/f", true).unwrap().mode, 0o104711);
    vfs.symlink(b"f", &root, b"/tmp/l").unwrap();
    assert_eq!(err(vfs.chmod(&root, b"/tmp/l", 0o600, false)), Errno::EOPNOTSUPP);
    vfs.chmod(&root, b"/tmp/l", 0o600, true).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/f", true).unwrap().mode, 0o100600);
    assert_eq!(err(vfs.chmod(&root, b"/proc/cpuinfo", 0o600, true)), Errno::EPERM);

    assert_eq!(err(vfs.chown(&root, b"/etc/passwd", 1, 1, true)), Errno::EROFS);
    vfs.chown(&root, b"/tmp/l", 7, u32::MAX, false).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/l", false).unwrap().uid, 7);
    assert_eq!(vfs.stat(&root, b"/tmp/f", true).unwrap().uid, 1000);
    vfs.chown(&root, b"/tmp/l", u32::MAX, 8, true).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/f", true).unwrap().gid, 8);

    let when = Timespec { sec: 42, nsec: 7 };
    assert_eq!(err(vfs.utimens(&root, b"/etc/passwd", TimeChange::Now, TimeChange::Now, true)), Errno::EROFS);
    vfs.utimens(&root, b"/tmp/f", TimeChange::Set(when), TimeChange::Omit, true).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/f", true).unwrap().atime, when);
    vfs.utimens(&root, b"/tmp/l", TimeChange::Omit, TimeChange::Set(when), false).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/l", false).unwrap().mtime, when);
    assert_ne!(vfs.stat(&root, b"/tmp/f", true).unwrap().mtime, when);
}

#[test]
fn chdir_and_relative_paths() {
    let vfs = vfs();
    let root = vfs.root();
    assert_eq!(err(vfs.chdir(&root, b"/etc/passwd")), Errno::ENOTDIR);
    assert_eq!(err(vfs.chdir(&root, b"/missing")), Errno::ENOENT);
    let lib = vfs.chdir(&root, b"/lib").unwrap();
    assert_eq!(lib.path(), b"/usr/lib");
    assert!(lib.is_dir());
    assert_eq!(vfs.stat(&lib, b"libc.so", true).unwrap().size, 5000);
    let up = vfs.chdir(&lib, b"..").unwrap();
    assert_eq!(up.path(), b"/usr");
    let tmp = vfs.chdir(&lib, b"../../tmp").unwrap();
    vfs.mkdir(&tmp, b"work", 0o755).unwrap();
    let work = vfs.chdir(&tmp, b"work").unwrap();
    write_file(&vfs, "/tmp/work/f", b"");
    assert!(vfs.stat(&work, b"f", true).is_ok());
    assert_eq!(vfs.chdir(&work, b"../..").unwrap().path(), b"/");
    // A removed working directory: nothing resolves below it, nothing can be created.
    assert!(!work.is_unlinked());
    vfs.unlink(&root, b"/tmp/work/f").unwrap();
    vfs.rmdir(&root, b"/tmp/work").unwrap();
    assert!(work.is_unlinked());
    assert_eq!(err(vfs.stat(&work, b"f", true)), Errno::ENOENT);
    assert_eq!(err(vfs.open(&work, b"new", O_RDWR | O_CREAT, 0o644)), Errno::ENOENT);
    assert_eq!(err(vfs.mkdir(&work, b"new", 0o755)), Errno::ENOENT);
    assert!(!root.is_unlinked());
}

#[test]
fn the_tmpfs_budget_gives_enospc() {
    let vfs = Vfs::new(image(), "/bin/app", env_with([false; 3]).0, 3 * NODE_COST + 2 * 4096, true).unwrap();
    let file = open(&vfs, "/tmp/big", O_WRONLY | O_CREAT).unwrap();
    assert_eq!(file.write(&vec![1u8; 3 * 4096]), Ok(2 * 4096));
    assert_eq!(err(file.write(b"x")), Errno::ENOSPC);
    assert_eq!(err(open(&vfs, "/dev/shm/x", O_WRONLY | O_CREAT)), Errno::ENOSPC, "/dev/shm shares the budget");
    assert_eq!(vfs.tmpfs_budget().used(), vfs.tmpfs_budget().limit());
    let statfs = vfs.statfs(file.location());
    assert_eq!((statfs.fs_type, statfs.blocks_free), (TMPFS_MAGIC, 0));
    vfs.unlink(&vfs.root(), b"/tmp/big").unwrap();
    drop(file);
    assert_eq!(vfs.tmpfs_budget().used(), 2 * NODE_COST);
}

#[test]
fn mknod_makes_regular_files_and_fifos_only() {
    let vfs = vfs();
    let root = vfs.root();
    vfs.mknod(&root, b"/tmp/plain", S_IFREG | 0o600).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/plain", true).unwrap().mode, 0o100600);
    vfs.mknod(&root, b"/tmp/zero", 0o644).unwrap();
    vfs.mknod(&root, b"/tmp/fifo", crate::fs::stat::S_IFIFO | 0o644).unwrap();
    assert_eq!(vfs.stat(&root, b"/tmp/fifo", true).unwrap().mode, 0o010644, "a FIFO");
    // Opened, an end of a pipe at the FIFO's path; a non-blocking writer needs a reader.
    assert_eq!(err(vfs.open(&root, b"/tmp/fifo", O_WRONLY | O_NONBLOCK, 0)), Errno::ENXIO);
    let reader = vfs.open(&root, b"/tmp/fifo", O_RDONLY | O_NONBLOCK, 0).unwrap();
    let writer = vfs.open(&root, b"/tmp/fifo", O_WRONLY | O_NONBLOCK, 0).unwrap();
    assert_eq!(writer.write(b"through"), Ok(7));
    let mut buf = [0u8; 16];
    assert_eq!(reader.read(&mut buf), Ok(7));
    assert_eq!(reader.location().path, b"/tmp/fifo");
    assert_eq!(reader.stat().unwrap().ino, vfs.stat(&root, b"/tmp/fifo", true).unwrap().ino);
    assert_eq!(err(vfs.mknod(&root, b"/etc/fifo", crate::fs::stat::S_IFIFO | 0o644)), Errno::EROFS);
    assert_eq!(err(vfs.mknod(&root, b"/tmp/dev", S_IFCHR | 0o644)), Errno::EPERM);
    assert_eq!(err(vfs.mknod(&root, b"/tmp/plain", 0o644)), Errno::EEXIST);
    assert_eq!(err(vfs.mknod(&root, b"/etc/x", 0o644)), Errno::EROFS);
}

#[test]
fn statfs_per_mount() {
    let vfs = vfs();
    let at = |p: &str| vfs.statfs(&vfs.resolve(&vfs.root(), p.as_bytes(), true).unwrap());
    let image = at("/etc");
    assert_eq!((image.fs_type, image.flags & ST_RDONLY, image.name_max), (IMAGE_MAGIC, ST_RDONLY, 255));
    assert!(image.blocks >= 3);
    assert_eq!(image.files, u64::from(vfs.image().entry_count()));
    assert_eq!(at("/proc/self").fs_type, PROC_SUPER_MAGIC);
    assert_eq!(at("/dev/null").fs_type, TMPFS_MAGIC);
    let tmp = at("/tmp");
    assert_eq!(tmp.blocks, (1 << 24) / 4096);
    assert_ne!(tmp.fsid, at("/dev/shm").fsid);
}

#[test]
fn getdents_resumes_in_the_image_and_in_proc() {
    let vfs = vfs();
    let _process = with_process(&vfs);
    let root_dir = open(&vfs, "/", O_RDONLY).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 48];
    loop {
        let n = root_dir.getdents64(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.push(n);
    }
    assert!(seen.len() >= 5, "the listing took several calls");
    root_dir.lseek(0, SEEK_SET).unwrap();
    assert!(root_dir.getdents64(&mut [0u8; 512]).unwrap() > 0);
    assert_eq!(
        list(&vfs, "/proc/1"),
        [
            ".",
            "..",
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
    let fd_dir = open(&vfs, "/proc/self/fd", O_RDONLY).unwrap();
    assert_eq!(fd_dir.getdents64(&mut [0u8; 48]).unwrap(), 48, ". and ..");
    assert_eq!(fd_dir.getdents64(&mut [0u8; 24]).unwrap(), 24, "0");
    let rest = fd_dir.getdents64(&mut [0u8; 100]).unwrap();
    assert_eq!(rest, 48, "1 and 2 (and the fd open on /proc/self/fd itself is not in the table)");
}

#[test]
fn pipes_have_two_ends_and_show_in_proc() {
    use crate::fs::flags::{O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
    use crate::fs::pipe::{DEFAULT_CAPACITY, PIPEFS_MAGIC};
    let vfs = vfs();
    let process = with_process(&vfs);
    let (read_end, write_end) = vfs.pipe(O_NONBLOCK);
    assert!(read_end.is_readable() && !read_end.is_writable());
    assert!(write_end.is_writable() && !write_end.is_readable());
    assert!(read_end.is_nonblocking());
    assert_eq!(read_end.status_flags() & (O_ACCMODE | O_NONBLOCK), O_RDONLY | O_NONBLOCK);
    let stat = read_end.stat().unwrap();
    assert_eq!(stat.mode, 0o010600);
    assert_eq!(write_end.stat().unwrap().ino, stat.ino);
    assert_eq!(read_end.lseek(0, SEEK_SET), Err(Errno::ESPIPE));
    assert_eq!(read_end.pread(&mut [0u8; 4], 0), Err(Errno::ESPIPE));
    assert_eq!(write_end.pwrite(b"x", 0), Err(Errno::ESPIPE));
    assert_eq!(read_end.write(b"x"), Err(Errno::EBADF));
    assert_eq!(write_end.read(&mut [0u8; 4]), Err(Errno::EBADF));
    assert_eq!(read_end.sync(false), Err(Errno::EINVAL));
    assert_eq!(read_end.truncate(0), Err(Errno::EINVAL));
    assert_eq!(vfs.statfs(read_end.location()).fs_type, PIPEFS_MAGIC);
    assert_eq!(read_end.poll_events(), 0);
    assert_eq!(write_end.poll_events(), POLLOUT | POLLWRNORM);

    assert_eq!(write_end.write(b"hello"), Ok(5));
    let mut count = [0u8; 4];
    read_end.ioctl(ioctl::FIONREAD, &mut count).unwrap();
    assert_eq!(i32::from_le_bytes(count), 5);
    assert_eq!(read_end.poll_events(), POLLIN | POLLRDNORM);
    let mut buf = [0u8; 16];
    assert_eq!(read_end.read(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(read_end.read(&mut buf), Err(Errno::EAGAIN));

    // /proc/self/fd shows the ends as pipe:[ino]; reopening one makes another end.
    process.fds.lock().insert(read_end.clone(), false).unwrap();
    let write_fd = process.fds.lock().insert(write_end.clone(), false).unwrap();
    let link = format!("/proc/self/fd/{write_fd}");
    assert_eq!(vfs.readlink(&vfs.root(), link.as_bytes()).unwrap(), format!("pipe:[{}]", stat.ino).into_bytes());
    let second_writer = open(&vfs, &link, O_WRONLY).unwrap();
    assert_eq!(vfs.stat(&vfs.root(), link.as_bytes(), true).unwrap().ino, stat.ino);

    // EOF only once every writer is gone.
    let closed = process.fds.lock().close(write_fd).unwrap();
    drop(closed);
    drop(write_end);
    assert_eq!(read_end.read(&mut buf), Err(Errno::EAGAIN), "a writer is left");
    second_writer.write(b"!").unwrap();
    drop(second_writer);
    assert_eq!(read_end.poll_events(), POLLIN | POLLRDNORM | POLLHUP);
    assert_eq!(read_end.read(&mut buf), Ok(1));
    assert_eq!(read_end.read(&mut buf), Ok(0), "end of file");
    assert_eq!(read_end.poll_events(), POLLHUP);
    assert_eq!(read_end.pipe().unwrap().capacity(), DEFAULT_CAPACITY);
    // With no writer left, a reader reopened (bash's `<(cmd)` once `cmd` is done) opens at
    // once and finds the end, as Linux opens an anonymous pipe (no FIFO wait).
    let read_link = format!("/proc/self/fd/{}", process.fds.lock().insert(read_end.clone(), false).unwrap());
    let late_reader = open(&vfs, &read_link, O_RDONLY).unwrap();
    assert_eq!(late_reader.read(&mut buf), Ok(0));
    assert_eq!(open(&vfs, &read_link, O_WRONLY | O_NONBLOCK).map(|_| ()), Ok(()), "no ENXIO either");

    // No reader: EPIPE, and POLLERR on the write end.
    let (read_end, write_end) = vfs.pipe(0);
    drop(read_end);
    assert_eq!(write_end.write(b"x"), Err(Errno::EPIPE));
    assert_eq!(write_end.poll_events(), POLLOUT | POLLWRNORM | POLLERR);
    let (_, second) = vfs.pipe(0);
    assert_ne!(second.stat().unwrap().ino, stat.ino, "every pipe has its own inode");
}

#[test]
fn eventfd_and_epoll_files_are_anonymous_inodes() {
    use crate::fs::anon::{ANON_INODE_FS_MAGIC, ANON_INODE_INO};
    use crate::fs::epoll::{control, EpollEvent, EPOLLIN, EPOLL_CTL_ADD};
    use crate::fs::flags::{O_NONBLOCK, POLLIN, POLLOUT, POLLRDNORM, SEEK_END};
    use crate::fs::stat::TimeChange;
    let vfs = vfs();
    let process = with_process(&vfs);
    let efd = vfs.eventfd(3, false, true);
    let ep = vfs.epoll();
    for file in [&efd, &ep] {
        let stat = file.stat().unwrap();
        assert_eq!((stat.mode, stat.uid, stat.size, stat.ino), (0o600, 0, 0, ANON_INODE_INO));
        assert_eq!(vfs.statfs(file.location()).fs_type, ANON_INODE_FS_MAGIC);
        assert_eq!(file.lseek(5, SEEK_SET), Ok(0), "noop_llseek");
        assert_eq!(file.lseek(0, SEEK_END), Ok(0));
        assert_eq!(file.lseek(0, 9), Err(Errno::EINVAL));
        assert_eq!(file.pread(&mut [0u8; 8], 0), Err(Errno::ESPIPE));
        assert_eq!(file.pwrite(&[0u8; 8], 0), Err(Errno::ESPIPE));
        assert_eq!(file.sync(false), Err(Errno::EINVAL));
        assert_eq!(file.truncate(0), Err(Errno::EINVAL));
        assert_eq!(file.chmod(0o644), Err(Errno::EOPNOTSUPP));
        assert_eq!(file.chown(0, 0), Err(Errno::EOPNOTSUPP));
        assert_eq!(file.set_times(TimeChange::Now, TimeChange::Now), Err(Errno::EOPNOTSUPP));
        assert_eq!(file.getdents64(&mut [0u8; 64]), Err(Errno::ENOTDIR));
        assert_eq!(file.ioctl(ioctl::FIONREAD, &mut [0u8; 4]), Err(Errno::ENOTTY));
        assert_eq!(file.fallocate(0, 0, 10), Err(Errno::ENODEV));
        assert!(file.can_poll());
    }
    assert_eq!(efd.status_flags(), O_RDWR | O_NONBLOCK, "no O_LARGEFILE, as Linux");
    assert_eq!(ep.status_flags(), O_RDWR);
    assert!(efd.may_block() && !ep.may_block());
    assert_eq!(efd.poll_events(), POLLIN | POLLOUT);
    assert_eq!(ep.read(&mut [0u8; 8]), Err(Errno::EINVAL));
    assert_eq!(ep.write(&[0u8; 8]), Err(Errno::EINVAL));
    assert_eq!(efd.write(&[]), Err(Errno::EINVAL), "an empty write is not 8 bytes");
    let mut count = [0u8; 8];
    assert_eq!(efd.read(&mut count), Ok(8));
    assert_eq!(u64::from_ne_bytes(count), 3);
    assert_eq!(efd.read(&mut count), Err(Errno::EAGAIN));

    // /proc/self/fd names them; they cannot be reopened (O_PATH works).
    let efd_fd = process.fds.lock().insert(efd.clone(), false).unwrap();
    let ep_fd = process.fds.lock().insert(ep.clone(), false).unwrap();
    for (fd, name) in [(efd_fd, &b"anon_inode:[eventfd]"[..]), (ep_fd, b"anon_inode:[eventpoll]")] {
        let link = format!("/proc/self/fd/{fd}");
        assert_eq!(vfs.readlink(&vfs.root(), link.as_bytes()).unwrap(), name);
        assert_eq!(err(open(&vfs, &link, O_RDWR)), Errno::ENXIO);
        let path_only = open(&vfs, &link, O_PATH).unwrap();
        assert!(path_only.epoll().is_none() && path_only.eventfd().is_none() && !path_only.can_poll());
        assert_eq!(vfs.stat(&vfs.root(), link.as_bytes(), true).unwrap().mode, 0o600);
    }

    // What epoll may watch: not regular files, directories, /proc or /dev/null; the console
    // and /dev/random yes.
    let watch = |file: &Arc<OpenFile>| control(&ep, EPOLL_CTL_ADD, 9, file, EpollEvent { events: EPOLLIN, data: 0 });
    assert_eq!(watch(&open(&vfs, "/etc/passwd", O_RDONLY).unwrap()), Err(Errno::EPERM));
    assert_eq!(watch(&open(&vfs, "/tmp", O_RDONLY).unwrap()), Err(Errno::EPERM));
    assert_eq!(watch(&open(&vfs, "/proc/self/status", O_RDONLY).unwrap()), Err(Errno::EPERM));
    assert_eq!(watch(&open(&vfs, "/dev/null", O_RDONLY).unwrap()), Err(Errno::EPERM));
    let random = open(&vfs, "/dev/random", O_RDONLY).unwrap();
    assert_eq!(watch(&random), Ok(()));
    assert_eq!(watch(&vfs.console_file(0).unwrap()), Ok(()));
    assert_eq!(ep.epoll().unwrap().len(), 1, "the console file is gone already: its entry too");
    assert_eq!(ep.poll_events(), POLLIN | POLLRDNORM, "/dev/random is always readable");
    drop(random);
    assert_eq!(ep.poll_events(), 0);
}

#[test]
fn hard_links_of_open_files_and_mknod_types() {
    use crate::fs::stat::{S_IFLNK, S_IFREG, S_IFSOCK};
    let vfs = vfs();
    let file = open(&vfs, "/tmp/f", O_CREAT | O_RDWR).unwrap();
    vfs.link_location(file.location(), &vfs.root(), b"/tmp/g").unwrap();
    assert_eq!(vfs.stat(&vfs.root(), b"/tmp/g", false).unwrap().nlink, 2);
    assert_eq!(err(vfs.link_location(file.location(), &vfs.root(), b"/tmp/g")), Errno::EEXIST);
    vfs.unlink(&vfs.root(), b"/tmp/f").unwrap();
    vfs.unlink(&vfs.root(), b"/tmp/g").unwrap();
    assert_eq!(err(vfs.link_location(file.location(), &vfs.root(), b"/tmp/h")), Errno::ENOENT, "no links left");
    let dir = open(&vfs, "/tmp", O_RDONLY).unwrap();
    assert_eq!(err(vfs.link_location(dir.location(), &vfs.root(), b"/tmp/d")), Errno::EPERM);
    let passwd = open(&vfs, "/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(err(vfs.link_location(passwd.location(), &vfs.root(), b"/tmp/p")), Errno::EXDEV);
    assert_eq!(err(vfs.mknod(&vfs.root(), b"/tmp/sock", S_IFSOCK | 0o644)), Errno::EPERM);
    assert_eq!(err(vfs.mknod(&vfs.root(), b"/tmp/dir", S_IFDIR | 0o644)), Errno::EPERM);
    assert_eq!(err(vfs.mknod(&vfs.root(), b"/tmp/link", S_IFLNK | 0o644)), Errno::EINVAL);
    assert_eq!(err(vfs.mknod(&vfs.root(), b"/nowhere/x", 0o030000)), Errno::EINVAL, "the type is checked first");
    vfs.mknod(&vfs.root(), b"/tmp/plain", S_IFREG | 0o600).unwrap();
}

#[test]
fn fallocate_on_tmpfs() {
    let vfs = vfs();
    let file = open(&vfs, "/tmp/big", O_CREAT | O_RDWR).unwrap();
    let used = vfs.tmpfs_budget().used();
    assert_eq!(file.fallocate(0, 0, 0), Err(Errno::EINVAL));
    assert_eq!(file.fallocate(0, -1, 10), Err(Errno::EINVAL));
    assert_eq!(file.fallocate(0x2, 0, 10), Err(Errno::EOPNOTSUPP), "PUNCH_HOLE needs KEEP_SIZE");
    assert_eq!(file.fallocate(0x10, 0, 10), Err(Errno::EOPNOTSUPP), "ZERO_RANGE");
    assert_eq!(file.fallocate(0, i64::MAX, 10), Err(Errno::EFBIG));
    file.fallocate(0, 100, 8000).unwrap();
    assert_eq!(file.stat().unwrap().size, 8100);
    assert_eq!(vfs.tmpfs_budget().used(), used + 2 * 4096, "the chunks of bytes 100..8100");
    file.fallocate(0x1, 0, 20_000).unwrap();
    assert_eq!(file.stat().unwrap().size, 8100, "KEEP_SIZE");
    assert_eq!(vfs.tmpfs_budget().used(), used + 5 * 4096);
    file.pwrite(&[7u8; 8100], 0).unwrap();
    file.fallocate(0x3, 10, 5000).unwrap();
    let mut buf = vec![0u8; 8100];
    assert_eq!(file.pread(&mut buf, 0), Ok(8100));
    assert!(buf[..10].iter().all(|&b| b == 7) && buf[10..5010].iter().all(|&b| b == 0));
    assert!(buf[5010..].iter().all(|&b| b == 7));
    assert_eq!(file.stat().unwrap().size, 8100);
    assert_eq!(vfs.tmpfs_budget().used(), used + 5 * 4096, "no whole chunk in 10..5010");
    file.fallocate(0x3, 4096, 4096).unwrap();
    assert_eq!(vfs.tmpfs_budget().used(), used + 4 * 4096, "a whole chunk is given back");
    assert_eq!(err(vfs.pipe(0).1.fallocate(0, 0, 1)), Errno::ESPIPE);
    let read_only = open(&vfs, "/tmp/big", O_RDONLY).unwrap();
    assert_eq!(read_only.fallocate(0, 0, 1), Err(Errno::EBADF));
    let null = open(&vfs, "/dev/null", O_WRONLY).unwrap();
    assert_eq!(null.fallocate(0, 0, 1), Err(Errno::ENODEV));
    assert_eq!(vfs.tmpfs_budget().limit(), 1 << 24);
    assert_eq!(file.fallocate(0, 0, 32 << 20), Err(Errno::ENOSPC));
    assert_eq!(file.stat().unwrap().size, 8100, "nothing allocated");
}

#[test]
fn proc_mounts_lists_every_mount_as_linux_does() {
    let text = String::from_utf8(mounts_text(true)).unwrap();
    assert_eq!(
        text,
        "/dev/root / uvmimage ro,relatime 0 0\n\
         tmpfs /tmp tmpfs rw,nosuid,nodev,relatime 0 0\n\
         devtmpfs /dev devtmpfs rw,nosuid,relatime 0 0\n\
         tmpfs /dev/shm tmpfs rw,nosuid,nodev,relatime 0 0\n\
         proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
    );
}

#[test]
fn mount_points_are_escaped_as_linux_escapes_them() {
    assert_eq!(escaped_mount_field(b"/data dir\\x\ty"), b"/data\\040dir\\134x\\011y");
    assert_eq!(escaped_mount_field(b"/plain"), b"/plain");
}
