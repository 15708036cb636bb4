//! Tests of the HostFs handler against real directories under the host's temp dir, with guest
//! memory made for tests and no VM: calls are written into RAM and served as the hypercall
//! would be. Each test has its own directory: `vol/` is the volume, `outside/` what a guest
//! must never reach, both [`GUARDS`] levels of guard directories down, so that even a broken
//! handler (one whose Parent climbs above a root) cannot reach the host's own directories
//! within the handles the random test uses: it finds a guard changed instead.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use uvm_abi::hostfs::{
    FsCall, FsOp, HostStat, HostStatFs, FS_MAX_HANDLES, FS_MAX_IO, FS_NAME_MAX, FS_SYNC_DATA, FS_TARGET_MAX,
    FS_WRITE_APPEND, MAX_VOLUMES,
};

use super::table::{Access, Entry, Handles, Kind};
use super::{VolumeSpec, Volumes};
use crate::error::{HypercallError, VmError};
use crate::memory::GuestMemory;

const RAM: u64 = 8 << 20;
const PARAMS: u64 = 0x1000;
const NAME: u64 = 0x2000;
const NAME2: u64 = 0x3000;
const BUF: u64 = 0x10_0000;
const ROOT: u64 = 1;
/// Levels of guard directories above each test's volume.
const GUARDS: usize = 200;

const EBADF: i64 = -(libc::EBADF as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);
const EROFS: i64 = -(libc::EROFS as i64);
const ENOTDIR: i64 = -(libc::ENOTDIR as i64);
const ELOOP: i64 = -(libc::ELOOP as i64);

/// A fresh directory of its own for one test (removed when dropped).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "uvm-volumes-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A VM's view of one or more volumes.
struct Guest {
    tmp: TempDir,
    volumes: Volumes,
    memory: GuestMemory,
}

impl Guest {
    /// One volume, `vol/`, holding `hello.txt` ("hello, world") and `sub/inner`; `outside/`
    /// beside it holds `secret`.
    fn new(read_only: bool) -> Guest {
        Guest::with_volumes(&[read_only])
    }

    /// Volumes `vol/`, `vol1/`... (the first with the files of [`Guest::new`]).
    fn with_volumes(read_only: &[bool]) -> Guest {
        let tmp = TempDir::new();
        let base = guarded(&tmp.0);
        let vol = base.join("vol");
        std::fs::create_dir_all(vol.join("sub")).unwrap();
        std::fs::write(vol.join("hello.txt"), b"hello, world").unwrap();
        std::fs::write(vol.join("sub/inner"), b"inner").unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret"), b"secret").unwrap();
        let specs: Vec<VolumeSpec> = read_only
            .iter()
            .enumerate()
            .map(|(i, &read_only)| {
                let host = if i == 0 { vol.clone() } else { base.join(format!("vol{i}")) };
                std::fs::create_dir_all(&host).unwrap();
                VolumeSpec { host, guest: format!("/v{i}"), read_only }
            })
            .collect();
        let volumes = Volumes::open(&specs).expect("volumes open");
        Guest { tmp, volumes, memory: GuestMemory::for_tests(RAM) }
    }

    fn base(&self) -> PathBuf {
        guarded(&self.tmp.0)
    }

    fn vol(&self) -> PathBuf {
        self.base().join("vol")
    }

    fn outside(&self) -> PathBuf {
        self.base().join("outside")
    }

    /// Each guard directory's mode, owner, times and entries (and those of the volume's parent).
    fn guards(&self) -> Vec<(u32, u32, u32, i64, Vec<String>)> {
        let mut dir = self.tmp.0.clone();
        let mut levels = Vec::new();
        for _ in 0..=GUARDS {
            let m = std::fs::symlink_metadata(&dir).unwrap();
            let names = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
            levels.push((m.mode(), m.uid(), m.gid(), m.mtime(), sorted(names.collect())));
            dir = dir.join("g");
        }
        levels
    }

    /// Serves the call `fill` makes, with `name` at NAME and `name2` at NAME2.
    fn try_call(&self, op: FsOp, handle: u64, fill: impl FnOnce(&mut FsCall)) -> Result<FsCall, HypercallError> {
        let mut c = FsCall { op: op as u32, handle, value: 77, result: 99, ..Default::default() };
        fill(&mut c);
        self.memory.write_plain(PARAMS, &c).unwrap();
        self.volumes.serve(PARAMS, &self.memory)?;
        Ok(self.memory.read_plain(PARAMS).unwrap())
    }

    fn call(&self, op: FsOp, handle: u64, fill: impl FnOnce(&mut FsCall)) -> FsCall {
        self.try_call(op, handle, fill).expect("served")
    }

    /// A call naming `name` (at NAME).
    fn named(&self, op: FsOp, handle: u64, name: &[u8], fill: impl FnOnce(&mut FsCall)) -> FsCall {
        self.memory.write_ram(NAME, name).unwrap();
        self.call(op, handle, |c| {
            c.name_gpa = NAME;
            c.name_len = name.len() as u64;
            fill(c);
        })
    }

    /// A call naming `name` and `name2` (Rename, Link, Symlink's target).
    fn named2(&self, op: FsOp, handle: u64, name: &[u8], name2: &[u8], fill: impl FnOnce(&mut FsCall)) -> FsCall {
        self.memory.write_ram(NAME2, name2).unwrap();
        self.named(op, handle, name, |c| {
            c.name2_gpa = NAME2;
            c.name2_len = name2.len() as u64;
            fill(c);
        })
    }

    /// Looks `name` up in `dir`: its handle and stat (the test fails otherwise).
    fn lookup(&self, dir: u64, name: &str) -> (u64, HostStat) {
        let c = self.named(FsOp::Lookup, dir, name.as_bytes(), |_| {});
        assert!(c.result > 0, "lookup {name}: {}", c.result);
        (c.result as u64, c.stat)
    }

    fn lookup_result(&self, dir: u64, name: &[u8]) -> i64 {
        self.named(FsOp::Lookup, dir, name, |_| {}).result
    }

    fn open(&self, handle: u64, flags: i32) -> i64 {
        self.call(FsOp::Open, handle, |c| c.flags = flags as u32).result
    }

    fn open_ok(&self, handle: u64, flags: i32) -> u64 {
        let r = self.open(handle, flags);
        assert!(r > 0, "open: {r}");
        r as u64
    }

    fn read(&self, handle: u64, offset: u64, len: u64) -> Result<Vec<u8>, i64> {
        let c = self.call(FsOp::Read, handle, |c| {
            c.arg = offset;
            c.buf_gpa = BUF;
            c.buf_len = len;
        });
        if c.result < 0 {
            return Err(c.result);
        }
        let mut bytes = vec![0u8; c.result as usize];
        self.memory.read_ram(BUF, &mut bytes).unwrap();
        Ok(bytes)
    }

    /// Writes `data` at `offset` (or appends, with FS_WRITE_APPEND): the call.
    fn write(&self, handle: u64, offset: u64, data: &[u8], flags: u32) -> FsCall {
        self.memory.write_ram(BUF, data).unwrap();
        self.call(FsOp::Write, handle, |c| {
            c.arg = offset;
            c.flags = flags;
            c.buf_gpa = BUF;
            c.buf_len = data.len() as u64;
        })
    }

    fn close(&self, handle: u64) -> i64 {
        self.call(FsOp::Close, handle, |_| {}).result
    }

    /// Every name in directory I/O handle `dir`, read `chunk` bytes at a time.
    fn list(&self, dir: u64, chunk: u64) -> Vec<String> {
        let mut names = Vec::new();
        let mut position = 0u64;
        for _ in 0..1000 {
            let c = self.call(FsOp::ReadDir, dir, |c| {
                c.arg = position;
                c.buf_gpa = BUF;
                c.buf_len = chunk;
            });
            assert!(c.result >= 0, "readdir: {}", c.result);
            if c.result == 0 {
                return names;
            }
            let mut bytes = vec![0u8; c.result as usize];
            self.memory.read_ram(BUF, &mut bytes).unwrap();
            let mut at = 0;
            while at < bytes.len() {
                let d_off = i64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
                let reclen = u16::from_le_bytes(bytes[at + 16..at + 18].try_into().unwrap()) as usize;
                let name = &bytes[at + 19..at + reclen];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                names.push(String::from_utf8_lossy(&name[..end]).into_owned());
                position = d_off as u64;
                at += reclen;
            }
        }
        panic!("the listing never ended");
    }
}

/// The directory `GUARDS` levels of `g` below `dir`.
fn guarded(dir: &Path) -> PathBuf {
    (0..GUARDS).fold(dir.to_path_buf(), |d, _| d.join("g"))
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn lookup_stat_open_read_close() {
    let g = Guest::new(false);
    let (h, st) = g.lookup(ROOT, "hello.txt");
    assert!(h > 1, "a new handle, not a root");
    let host = std::fs::metadata(g.vol().join("hello.txt")).unwrap();
    assert_eq!((st.ino, st.dev, st.size, st.mode), (host.ino(), host.dev(), 12, host.mode()));
    assert_eq!(st.mode & libc::S_IFMT, libc::S_IFREG);
    let again = g.call(FsOp::Stat, h, |_| {});
    assert_eq!((again.result, again.stat), (0, st));
    let root = g.call(FsOp::Stat, ROOT, |_| {});
    assert_eq!(root.stat.mode & libc::S_IFMT, libc::S_IFDIR);
    assert_eq!(root.stat.ino, std::fs::metadata(g.vol()).unwrap().ino());

    let f = g.open_ok(h, libc::O_RDONLY);
    assert_eq!(g.read(f, 0, 100).unwrap(), b"hello, world");
    assert_eq!(g.read(f, 7, 3).unwrap(), b"wor");
    assert_eq!(g.read(f, 12, 10).unwrap(), b"", "0 at the end");
    assert_eq!(g.read(f, 1 << 40, 10).unwrap(), b"");
    assert_eq!(g.read(f, u64::MAX, 10), Err(EINVAL), "an offset past i64::MAX");
    assert_eq!(g.read(f, 0, FS_MAX_IO + 1), Err(EINVAL));
    assert_eq!(g.write(f, 0, b"x", 0).result, EBADF, "not open for writing (the host says)");

    let (sub, _) = g.lookup(ROOT, "sub");
    let (inner, _) = g.lookup(sub, "inner");
    assert_eq!(g.read(g.open_ok(inner, libc::O_RDONLY), 0, 64).unwrap(), b"inner");
    assert_eq!(g.lookup_result(ROOT, b"missing"), -(libc::ENOENT as i64));
    assert_eq!(g.lookup_result(h, b"x"), ENOTDIR, "a lookup in a file");

    assert_eq!(g.close(f), 0);
    assert_eq!(g.read(f, 0, 1), Err(EBADF), "closed");
    assert_eq!(g.close(f), EBADF, "closed twice");
    assert_eq!(g.close(h), 0);
    assert_eq!(g.call(FsOp::Stat, h, |_| {}).result, EBADF);
}

#[test]
fn writes_positioned_and_appended() {
    let g = Guest::new(false);
    let c = g.named(FsOp::Create, ROOT, b"new", |c| c.arg = 0o640);
    assert!(c.result > 1, "create: {}", c.result);
    let h = c.result as u64;
    assert_eq!(c.stat.mode, libc::S_IFREG | 0o640);
    assert_eq!(mode_of(&g.vol().join("new")), 0o640);
    assert_eq!(g.named(FsOp::Create, ROOT, b"new", |c| c.arg = 0o640).result, -(libc::EEXIST as i64));

    let w = g.open_ok(h, libc::O_WRONLY);
    let c = g.write(w, 0, b"abc", 0);
    assert_eq!((c.result, c.value), (3, 3));
    let c = g.write(w, 10, b"z", 0);
    assert_eq!((c.result, c.value), (1, 11));
    assert_eq!(std::fs::read(g.vol().join("new")).unwrap(), b"abc\0\0\0\0\0\0\0z");
    assert_eq!(g.write(w, 0, b"q", FS_WRITE_APPEND).result, EINVAL, "append on a handle without O_APPEND");
    assert_eq!(g.write(w, 0, b"q", 2).result, EINVAL, "unknown flags");
    assert_eq!(g.read(w, 0, 1), Err(EBADF), "write-only");

    let a = g.open_ok(h, libc::O_WRONLY | libc::O_APPEND);
    let c = g.write(a, 0, b"end", FS_WRITE_APPEND);
    assert_eq!((c.result, c.value), (3, 14));
    // Linux appends on an O_APPEND file even at an offset; value says where the bytes went.
    let c = g.write(a, 2, b"!", 0);
    assert_eq!((c.result, c.value), (1, 15));
    assert_eq!(std::fs::read(g.vol().join("new")).unwrap(), b"abc\0\0\0\0\0\0\0zend!");

    let t = g.open_ok(h, libc::O_RDWR | libc::O_TRUNC);
    assert_eq!(std::fs::metadata(g.vol().join("new")).unwrap().len(), 0, "O_TRUNC");
    assert_eq!(g.write(t, 0, b"xy", 0).result, 2);
    assert_eq!(g.read(t, 0, 10).unwrap(), b"xy");
    assert_eq!(g.open(h, libc::O_ACCMODE), EINVAL);
    assert_eq!(g.open(h, libc::O_RDONLY | libc::O_DIRECTORY), ENOTDIR);
    assert_eq!(g.open(ROOT, libc::O_WRONLY), -(libc::EISDIR as i64));
    assert_eq!(g.named(FsOp::Create, ROOT, b"sub", |c| c.arg = 0o600).result, -(libc::EEXIST as i64));
}

#[test]
fn directories_list_from_any_position() {
    let g = Guest::new(false);
    for name in ["a", "b", "c"] {
        assert_eq!(g.named(FsOp::Mkdir, ROOT, name.as_bytes(), |c| c.arg = 0o755).result, 0);
    }
    assert!(g.vol().join("b").is_dir());
    assert_eq!(mode_of(&g.vol().join("b")), 0o755);
    assert_eq!(g.named(FsOp::Mkdir, ROOT, b"a", |c| c.arg = 0o755).result, -(libc::EEXIST as i64));
    let d = g.open_ok(ROOT, libc::O_RDONLY | libc::O_DIRECTORY);
    let expected: Vec<String> = [".", "..", "a", "b", "c", "hello.txt", "sub"].iter().map(|s| s.to_string()).collect();
    assert_eq!(sorted(g.list(d, 4096)), expected);
    assert_eq!(sorted(g.list(d, 40)), expected, "one record at a time, resuming at each d_off");
    let small = g.call(FsOp::ReadDir, d, |c| {
        c.buf_gpa = BUF;
        c.buf_len = 8;
    });
    assert_eq!(small.result, EINVAL, "a buffer too small for one record");
    assert_eq!(g.call(FsOp::ReadDir, ROOT, |c| c.buf_len = 4096).result, EBADF, "a path handle");
    let (h, _) = g.lookup(ROOT, "hello.txt");
    let f = g.open_ok(h, libc::O_RDONLY);
    assert_eq!(g.call(FsOp::ReadDir, f, |c| c.buf_len = 4096).result, ENOTDIR);
    assert_eq!(g.call(FsOp::ReadDir, d, |c| c.buf_len = FS_MAX_IO + 1).result, EINVAL);
    assert_eq!(g.read(d, 0, 10), Err(-(libc::EISDIR as i64)));
}

#[test]
fn rename_unlink_link_symlink_readlink() {
    let g = Guest::new(false);
    let (sub, _) = g.lookup(ROOT, "sub");
    assert_eq!(g.named2(FsOp::Rename, ROOT, b"hello.txt", b"moved", |c| c.handle2 = sub).result, 0);
    assert_eq!(std::fs::read(g.vol().join("sub/moved")).unwrap(), b"hello, world");
    assert!(!g.vol().join("hello.txt").exists());
    let noreplace = libc::RENAME_NOREPLACE;
    let c = g.named2(FsOp::Rename, sub, b"moved", b"inner", |c| {
        c.handle2 = sub;
        c.flags = noreplace;
    });
    assert_eq!(c.result, -(libc::EEXIST as i64));
    let c = g.named2(FsOp::Rename, sub, b"moved", b"inner", |c| {
        c.handle2 = sub;
        c.flags = libc::RENAME_EXCHANGE;
    });
    assert_eq!(c.result, 0);
    assert_eq!(std::fs::read(g.vol().join("sub/inner")).unwrap(), b"hello, world", "exchanged");
    let c = g.named2(FsOp::Rename, sub, b"moved", b"x", |c| {
        c.handle2 = sub;
        c.flags = libc::RENAME_WHITEOUT;
    });
    assert_eq!(c.result, EINVAL, "flags other than NOREPLACE and EXCHANGE");
    assert_eq!(g.named2(FsOp::Rename, sub, b"moved", b"x", |c| c.handle2 = 999).result, EBADF);

    let (inner, _) = g.lookup(sub, "inner");
    assert_eq!(g.named2(FsOp::Link, inner, b"", b"again", |c| c.handle2 = ROOT).result, 0);
    assert_eq!(std::fs::metadata(g.vol().join("again")).unwrap().nlink(), 2);
    assert_eq!(g.named2(FsOp::Link, sub, b"", b"dirlink", |c| c.handle2 = ROOT).result, -(libc::EPERM as i64));
    assert_eq!(g.named2(FsOp::Link, inner, b"", b"x", |c| c.handle2 = inner).result, ENOTDIR);

    assert_eq!(g.named2(FsOp::Symlink, ROOT, b"ln", b"target/x", |_| {}).result, 0);
    assert_eq!(std::fs::read_link(g.vol().join("ln")).unwrap(), Path::new("target/x"));
    let (ln, st) = g.lookup(ROOT, "ln");
    assert_eq!(st.mode & libc::S_IFMT, libc::S_IFLNK);
    let c = g.call(FsOp::Readlink, ln, |c| {
        c.buf_gpa = BUF;
        c.buf_len = 100;
    });
    assert_eq!(c.result, 8);
    let mut target = [0u8; 8];
    g.memory.read_ram(BUF, &mut target).unwrap();
    assert_eq!(&target, b"target/x");
    let c = g.call(FsOp::Readlink, ln, |c| {
        c.buf_gpa = BUF;
        c.buf_len = 3;
    });
    assert_eq!(c.result, 3, "cut at the buffer's length, as readlink");
    assert_eq!(g.call(FsOp::Readlink, inner, |c| c.buf_len = 100).result, EINVAL, "not a symlink");
    assert_eq!(g.call(FsOp::Readlink, ln, |c| c.buf_len = 0).result, EINVAL);
    assert_eq!(g.named2(FsOp::Symlink, ROOT, b"e", b"", |_| {}).result, -(libc::ENOENT as i64));
    assert_eq!(g.named2(FsOp::Symlink, ROOT, b"e", b"a\0b", |_| {}).result, EINVAL);
    let long = vec![b'x'; FS_TARGET_MAX as usize + 1];
    assert_eq!(g.named2(FsOp::Symlink, ROOT, b"e", &long, |_| {}).result, -(libc::ENAMETOOLONG as i64));

    // A hard link of the symlink itself (the host decides; root may).
    let c = g.named2(FsOp::Link, ln, b"", b"ln2", |c| c.handle2 = ROOT);
    if c.result == 0 {
        assert!(std::fs::symlink_metadata(g.vol().join("ln2")).unwrap().file_type().is_symlink());
    } else {
        assert!(c.result == -(libc::ENOENT as i64) || c.result == -(libc::EPERM as i64), "{}", c.result);
    }

    assert_eq!(g.named(FsOp::Unlink, ROOT, b"again", |_| {}).result, 0);
    assert!(!g.vol().join("again").exists());
    assert_eq!(g.named(FsOp::Unlink, ROOT, b"sub", |_| {}).result, -(libc::EISDIR as i64));
    let c = g.named(FsOp::Unlink, ROOT, b"sub", |c| c.flags = libc::AT_REMOVEDIR as u32);
    assert_eq!(c.result, -(libc::ENOTEMPTY as i64));
    assert_eq!(g.named(FsOp::Unlink, ROOT, b"ln", |c| c.flags = 1).result, EINVAL, "unknown flags");
    assert_eq!(g.named(FsOp::Mkdir, ROOT, b"empty", |c| c.arg = 0o700).result, 0);
    let c = g.named(FsOp::Unlink, ROOT, b"empty", |c| c.flags = libc::AT_REMOVEDIR as u32);
    assert_eq!(c.result, 0);
    assert!(!g.vol().join("empty").exists());
}

#[test]
fn metadata_ops_reach_the_host_file() {
    let g = Guest::new(false);
    let path = g.vol().join("hello.txt");
    let (h, _) = g.lookup(ROOT, "hello.txt");
    assert_eq!(g.call(FsOp::Truncate, h, |c| c.arg = 5).result, 0, "through a path handle");
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    let rw = g.open_ok(h, libc::O_RDWR);
    assert_eq!(g.call(FsOp::Truncate, rw, |c| c.arg = 2).result, 0, "through an I/O handle");
    assert_eq!(std::fs::read(&path).unwrap(), b"he");
    assert_eq!(g.call(FsOp::Truncate, ROOT, |c| c.arg = 0).result, -(libc::EISDIR as i64));
    assert_eq!(g.call(FsOp::Truncate, h, |c| c.arg = u64::MAX).result, EINVAL);

    assert_eq!(g.call(FsOp::SetMode, h, |c| c.arg = 0o100_604).result, 0, "only the permission bits count");
    assert_eq!(mode_of(&path), 0o604);
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & libc::S_IFMT, libc::S_IFREG);

    let before = std::fs::metadata(&path).unwrap();
    assert_eq!(g.call(FsOp::SetOwner, h, |c| (c.arg, c.arg2) = (u64::from(u32::MAX), u64::from(u32::MAX))).result, 0);
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()), "unchanged");
    assert_eq!(g.call(FsOp::SetOwner, h, |c| c.arg = 1 << 32).result, EINVAL);

    let times: [i64; 4] = [1000, 0, 2000, 500];
    let bytes: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
    g.memory.write_ram(BUF, &bytes).unwrap();
    let c = g.call(FsOp::SetTimes, h, |c| {
        c.buf_gpa = BUF;
        c.buf_len = 32;
    });
    assert_eq!(c.result, 0);
    let m = std::fs::metadata(&path).unwrap();
    assert_eq!((m.atime(), m.mtime(), m.mtime_nsec()), (1000, 2000, 500));
    let omit: Vec<u8> = [0, libc::UTIME_OMIT, 3000, 0].iter().flat_map(|t: &i64| t.to_le_bytes()).collect();
    g.memory.write_ram(BUF, &omit).unwrap();
    assert_eq!(g.call(FsOp::SetTimes, rw, |c| (c.buf_gpa, c.buf_len) = (BUF, 32)).result, 0);
    let m = std::fs::metadata(&path).unwrap();
    assert_eq!((m.atime(), m.mtime()), (1000, 3000), "UTIME_OMIT leaves the access time");
    assert_eq!(g.call(FsOp::SetTimes, h, |c| (c.buf_gpa, c.buf_len) = (BUF, 16)).result, EINVAL);

    let c = g.call(FsOp::StatFs, h, |c| (c.buf_gpa, c.buf_len) = (BUF, std::mem::size_of::<HostStatFs>() as u64));
    assert_eq!(c.result, 0);
    let fs: HostStatFs = g.memory.read_plain(BUF).unwrap();
    assert!(fs.bsize > 0 && fs.namelen > 0 && fs.blocks > 0, "{fs:?}");
    assert_eq!(fs.flags & 1, 0, "a writable volume is not ST_RDONLY");
    assert_eq!(g.call(FsOp::StatFs, h, |c| (c.buf_gpa, c.buf_len) = (BUF, 8)).result, EINVAL);

    assert_eq!(g.call(FsOp::Sync, rw, |_| {}).result, 0);
    assert_eq!(g.call(FsOp::Sync, rw, |c| c.flags = FS_SYNC_DATA).result, 0);
    assert_eq!(g.call(FsOp::Sync, rw, |c| c.flags = 2).result, EINVAL);
    assert_eq!(g.call(FsOp::Sync, h, |_| {}).result, EBADF, "a path handle");
}

#[test]
fn a_read_only_volume_refuses_every_change() {
    let g = Guest::new(true);
    let (h, _) = g.lookup(ROOT, "hello.txt");
    let (sub, _) = g.lookup(ROOT, "sub");
    g.memory.write_ram(BUF, &[0u8; 32]).unwrap();
    for op in FsOp::ALL.into_iter().filter(|op| op.writes()) {
        for handle in [ROOT, h, sub] {
            let c = g.named2(op, handle, b"hello.txt", b"other", |c| {
                c.handle2 = ROOT;
                c.buf_gpa = BUF;
                c.buf_len = 1;
                c.arg = 0o777;
            });
            assert_eq!(c.result, EROFS, "{op:?} on handle {handle}");
        }
    }
    for flags in [libc::O_WRONLY, libc::O_RDWR, libc::O_RDONLY | libc::O_TRUNC, libc::O_WRONLY | libc::O_APPEND] {
        assert_eq!(g.open(h, flags), EROFS, "open {flags:#x}");
    }
    let f = g.open_ok(h, libc::O_RDONLY);
    assert_eq!(g.read(f, 0, 5).unwrap(), b"hello");
    assert_eq!(g.write(f, 0, b"x", 0).result, EROFS);
    let d = g.open_ok(ROOT, libc::O_RDONLY | libc::O_DIRECTORY);
    assert!(g.list(d, 4096).contains(&"hello.txt".to_string()));
    let c = g.call(FsOp::StatFs, ROOT, |c| (c.buf_gpa, c.buf_len) = (BUF, std::mem::size_of::<HostStatFs>() as u64));
    assert_eq!(c.result, 0);
    let fs: HostStatFs = g.memory.read_plain(BUF).unwrap();
    assert_eq!(fs.flags & 1, 1, "ST_RDONLY");
    assert_eq!(std::fs::read(g.vol().join("hello.txt")).unwrap(), b"hello, world");
    let mut names: Vec<_> = std::fs::read_dir(g.vol()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["hello.txt", "sub"]);
}

#[test]
fn names_that_are_not_one_component_are_refused() {
    let g = Guest::new(false);
    let too_long = vec![b'n'; FS_NAME_MAX as usize + 1];
    let cases: [(&[u8], i64); 9] = [
        (b"..", EINVAL),
        (b".", EINVAL),
        (b"a/b", EINVAL),
        (b"sub/inner", EINVAL),
        (b"/", EINVAL),
        (b"", EINVAL),
        (b"hello.txt\0", EINVAL),
        (b"\0", EINVAL),
        (&too_long, -(libc::ENAMETOOLONG as i64)),
    ];
    for (name, expected) in cases {
        for op in [FsOp::Lookup, FsOp::Create, FsOp::Mkdir, FsOp::Unlink] {
            let c = g.named(op, ROOT, name, |c| c.arg = 0o755);
            assert_eq!(c.result, expected, "{op:?} {:?}", String::from_utf8_lossy(name));
        }
        let c = g.named2(FsOp::Rename, ROOT, b"hello.txt", name, |c| c.handle2 = ROOT);
        assert_eq!(c.result, expected, "rename to {:?}", String::from_utf8_lossy(name));
        let c = g.named2(FsOp::Symlink, ROOT, name, b"/etc", |_| {});
        assert_eq!(c.result, expected, "symlink named {:?}", String::from_utf8_lossy(name));
    }
    let longest = vec![b'n'; FS_NAME_MAX as usize];
    assert_eq!(g.lookup_result(ROOT, &longest), -(libc::ENOENT as i64), "255 bytes is a name");
    assert_eq!(std::fs::read(g.outside().join("secret")).unwrap(), b"secret");
    assert_eq!(std::fs::read_dir(g.outside()).unwrap().count(), 1, "nothing made outside");
    assert_eq!(std::fs::read(g.vol().join("hello.txt")).unwrap(), b"hello, world");
}

#[test]
fn the_parent_of_a_root_is_the_root() {
    let g = Guest::new(false);
    let root_ino = std::fs::metadata(g.vol()).unwrap().ino();
    let c = g.call(FsOp::Parent, ROOT, |_| {});
    assert!(c.result > 1, "a new handle: {}", c.result);
    assert_eq!(c.stat.ino, root_ino);
    let mut up = c.result as u64;
    for _ in 0..5 {
        let c = g.call(FsOp::Parent, up, |_| {});
        assert_eq!(c.stat.ino, root_ino, "never above the root");
        up = c.result as u64;
    }
    assert_eq!(g.lookup_result(up, b"outside"), -(libc::ENOENT as i64), "the root's parent's entries are not here");
    let (sub, _) = g.lookup(ROOT, "sub");
    let c = g.call(FsOp::Parent, sub, |_| {});
    assert_eq!(c.stat.ino, root_ino);
    let (h, _) = g.lookup(ROOT, "hello.txt");
    assert_eq!(g.call(FsOp::Parent, h, |_| {}).result, ENOTDIR);
    assert_eq!(g.close(ROOT), 0, "a root's Close is a no-op");
    assert_eq!(g.call(FsOp::Stat, ROOT, |_| {}).result, 0, "the root stays");
}

#[test]
fn symlinks_are_never_followed() {
    let g = Guest::new(false);
    let vol = g.vol();
    let secret = g.outside().join("secret");
    std::os::unix::fs::symlink("/etc", vol.join("etc")).unwrap();
    std::os::unix::fs::symlink("../../..", vol.join("up")).unwrap();
    std::os::unix::fs::symlink(&secret, vol.join("secretlink")).unwrap();
    std::os::unix::fs::symlink(g.outside().join("new"), vol.join("dangling")).unwrap();
    std::os::unix::fs::symlink(g.outside(), vol.join("outdir")).unwrap();

    for name in ["etc", "up", "secretlink", "dangling", "outdir"] {
        let (h, st) = g.lookup(ROOT, name);
        assert_eq!(st.mode & libc::S_IFMT, libc::S_IFLNK, "{name} is seen as the link");
        assert_eq!(st.ino, std::fs::symlink_metadata(vol.join(name)).unwrap().ino());
        assert_eq!(g.open(h, libc::O_RDONLY), ELOOP, "open {name}");
        assert_eq!(g.open(h, libc::O_RDONLY | libc::O_DIRECTORY), ELOOP, "open {name} as a directory");
        assert_eq!(g.lookup_result(h, b"passwd"), ENOTDIR, "a lookup through {name}");
        assert_eq!(g.lookup_result(h, b"secret"), ENOTDIR, "a lookup through {name}");
        assert_eq!(g.call(FsOp::Truncate, h, |_| {}).result, EINVAL, "truncate {name}");
        assert_eq!(g.call(FsOp::SetMode, h, |c| c.arg = 0o777).result, -(libc::EOPNOTSUPP as i64));
        assert_eq!(g.call(FsOp::Parent, h, |_| {}).result, ENOTDIR);
        assert_eq!(g.named(FsOp::Create, h, b"x", |_| {}).result, ENOTDIR);
        assert_eq!(g.named(FsOp::Create, ROOT, name.as_bytes(), |_| {}).result, -(libc::EEXIST as i64));
    }
    assert!(!g.outside().join("new").exists(), "a create through a dangling link made nothing outside");
    assert_eq!(std::fs::read(&secret).unwrap(), b"secret");
    let (link, _) = g.lookup(ROOT, "secretlink");
    let target = g.call(FsOp::Readlink, link, |c| (c.buf_gpa, c.buf_len) = (BUF, 4096));
    let mut bytes = vec![0u8; target.result as usize];
    g.memory.read_ram(BUF, &mut bytes).unwrap();
    assert_eq!(bytes, secret.as_os_str().as_encoded_bytes(), "the guest reads the target and resolves it itself");
    // Setting times or owner of a link touches the link, not its target.
    let secret_mtime = std::fs::metadata(&secret).unwrap().mtime();
    g.memory.write_ram(BUF, &[0u8; 32]).unwrap();
    assert_eq!(g.call(FsOp::SetTimes, link, |c| (c.buf_gpa, c.buf_len) = (BUF, 32)).result, 0);
    assert_eq!(std::fs::symlink_metadata(vol.join("secretlink")).unwrap().mtime(), 0);
    assert_eq!(std::fs::metadata(&secret).unwrap().mtime(), secret_mtime);
}

#[test]
fn bad_handles_and_ops_are_errors() {
    let g = Guest::with_volumes(&[false, false]);
    for handle in [0, 3, 999, u64::from(FS_MAX_HANDLES) + 1, u64::MAX] {
        assert_eq!(g.call(FsOp::Stat, handle, |_| {}).result, EBADF, "handle {handle}");
        assert_eq!(g.close(handle), EBADF, "close {handle}");
    }
    assert_eq!(g.call(FsOp::Stat, 2, |_| {}).result, 0, "the second volume's root");
    let c = g.call(FsOp::Stat, ROOT, |c| c.op = 0);
    assert_eq!(c.result, -(libc::ENOSYS as i64));
    assert_eq!(g.call(FsOp::Stat, ROOT, |c| c.op = 22).result, -(libc::ENOSYS as i64));
    let (h, _) = g.lookup(ROOT, "hello.txt");
    assert_eq!(g.read(h, 0, 4), Err(EBADF), "Read of a path handle");
    assert_eq!(g.write(h, 0, b"x", 0).result, EBADF, "Write of a path handle");
    assert_eq!(g.read(ROOT, 0, 4), Err(EBADF));
    let c = g.named2(FsOp::Rename, ROOT, b"hello.txt", b"x", |c| c.handle2 = 2);
    assert_eq!(c.result, -(libc::EXDEV as i64), "across volumes");
    assert_eq!(g.named2(FsOp::Link, h, b"", b"x", |c| c.handle2 = 2).result, -(libc::EXDEV as i64));
    assert!(g.vol().join("hello.txt").exists());
    let c = g.call(FsOp::Stat, ROOT, |_| {});
    assert_eq!(c.value, 0, "out fields are reset");
}

#[test]
fn guest_ranges_outside_ram_stop_the_vm() {
    let g = Guest::new(false);
    let outside = |r: Result<FsCall, HypercallError>| matches!(r, Err(HypercallError::BadAddress { .. }));
    assert!(g.volumes.serve(RAM - 8, &g.memory).is_err(), "a block outside RAM");
    assert!(g.volumes.serve(u64::MAX - 4, &g.memory).is_err());
    let r = g.try_call(FsOp::Lookup, ROOT, |c| (c.name_gpa, c.name_len) = (RAM - 2, 4));
    assert!(outside(r), "a name past RAM's end");
    let r = g.try_call(FsOp::Lookup, ROOT, |c| (c.name_gpa, c.name_len) = (u64::MAX - 1, 4));
    assert!(outside(r), "a name whose end wraps");
    let (h, _) = g.lookup(ROOT, "hello.txt");
    let f = g.open_ok(h, libc::O_RDWR);
    for op in [FsOp::Read, FsOp::Write] {
        let r = g.try_call(op, f, |c| (c.buf_gpa, c.buf_len) = (RAM - 4, 16));
        assert!(outside(r), "{op:?}");
        let r = g.try_call(op, f, |c| (c.buf_gpa, c.buf_len) = (u64::MAX - 4, 16));
        assert!(outside(r), "{op:?} wrapping");
    }
    assert_eq!(std::fs::read(g.vol().join("hello.txt")).unwrap(), b"hello, world", "nothing written");
    let d = g.open_ok(ROOT, libc::O_RDONLY | libc::O_DIRECTORY);
    assert!(outside(g.try_call(FsOp::ReadDir, d, |c| (c.buf_gpa, c.buf_len) = (RAM - 4, 4096))));
    assert!(outside(g.try_call(FsOp::SetTimes, h, |c| (c.buf_gpa, c.buf_len) = (RAM - 4, 32))));
    assert!(outside(g.try_call(FsOp::StatFs, h, |c| (c.buf_gpa, c.buf_len) = (RAM - 4, 80))));
    assert_eq!(g.named2(FsOp::Symlink, ROOT, b"l", b"t", |_| {}).result, 0);
    let (l, _) = g.lookup(ROOT, "l");
    assert!(outside(g.try_call(FsOp::Readlink, l, |c| (c.buf_gpa, c.buf_len) = (RAM, 16))));
    // A too-long length is the guest's mistake to hear about, not a reason to stop.
    assert_eq!(g.call(FsOp::Write, f, |c| (c.buf_gpa, c.buf_len) = (0, FS_MAX_IO + 1)).result, EINVAL);
}

#[test]
fn volumes_that_cannot_open_are_named() {
    let tmp = TempDir::new();
    let spec = |host: PathBuf, guest: &str| VolumeSpec { host, guest: guest.into(), read_only: false };
    let missing = tmp.0.join("missing");
    match Volumes::open(&[spec(missing.clone(), "/data")]) {
        Err(e @ VmError::VolumeMissing { .. }) => assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}"),
        other => panic!("{:?}", other.err()),
    }
    let file = tmp.0.join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = Volumes::open(&[spec(file.clone(), "/data")]).err().unwrap();
    assert!(matches!(e, VmError::VolumeNotDirectory { .. }), "{e}");
    assert!(e.to_string().contains(&*file.to_string_lossy()), "{e}");
    let e = Volumes::open(&[spec(tmp.0.clone(), "data")]).err().unwrap();
    assert!(matches!(e, VmError::VolumeGuestPath { .. }), "{e}");
    let e = Volumes::open(&[spec(tmp.0.clone(), "/")]).err().unwrap();
    assert!(matches!(e, VmError::VolumeGuestPath { .. }), "{e}");
    let many = vec![spec(tmp.0.clone(), "/d"); MAX_VOLUMES as usize + 1];
    assert!(matches!(Volumes::open(&many), Err(VmError::TooManyVolumes { .. })));
    let none = Volumes::none();
    assert!(none.is_empty());
    let memory = GuestMemory::for_tests(RAM);
    memory.write_plain(PARAMS, &FsCall { op: FsOp::Stat as u32, handle: 1, ..Default::default() }).unwrap();
    none.serve(PARAMS, &memory).unwrap();
    assert_eq!(memory.read_plain::<FsCall>(PARAMS).unwrap().result, EBADF, "no volumes, no handles");
}

#[test]
fn handles_run_out_at_the_limit_and_are_reused() {
    let tmp = TempDir::new();
    let fd = Arc::new(std::fs::File::open(&tmp.0).unwrap().into());
    let entry = Entry { volume: 0, fd, kind: Kind::Dir, id: (0, 0), access: Access::Path };
    let mut handles = Handles::new(vec![entry.clone()]);
    for expected in 2..=u64::from(FS_MAX_HANDLES) {
        assert_eq!(handles.insert(entry.clone()), Some(expected));
    }
    assert_eq!(handles.insert(entry.clone()), None, "ENFILE");
    assert_eq!(handles.live(), FS_MAX_HANDLES as usize);
    assert!(handles.remove(1234));
    assert!(!handles.remove(1234));
    assert!(handles.remove(1), "a root's remove is a no-op");
    assert!(handles.get(1).is_some());
    assert_eq!(handles.insert(entry.clone()), Some(1234), "a freed handle is given out again");
    assert!(handles.get(0).is_none() && handles.get(u64::MAX).is_none());
}

/// Random calls with names and handles that make them meet: the handler answers every one,
/// never panics, and nothing outside the volume changes.
#[test]
fn random_calls_stay_inside_the_volume() {
    let g = Guest::new(false);
    let guards = g.guards();
    std::os::unix::fs::symlink("../outside", g.vol().join("out")).unwrap();
    std::os::unix::fs::symlink(g.outside().join("secret"), g.vol().join("s")).unwrap();
    let names: [&[u8]; 10] = [b"a", b"b", b"sub", b"hello.txt", b"out", b"s", b"..", b"secret", b"outside", b"new"];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let op = (next() % 23) as u32;
        let handle = next() % 24;
        let handle2 = next() % 24;
        let name = names[(next() % names.len() as u64) as usize];
        let name2 = names[(next() % names.len() as u64) as usize];
        g.memory.write_ram(NAME, name).unwrap();
        g.memory.write_ram(NAME2, name2).unwrap();
        let flags = match next() % 4 {
            0 => 0,
            1 => (next() % 4) as u32,
            2 => (libc::O_RDWR | libc::O_APPEND | libc::O_TRUNC) as u32,
            _ => next() as u32,
        };
        let c = FsCall {
            op,
            flags,
            handle,
            handle2,
            arg: if next() % 8 == 0 { next() } else { next() % 4096 },
            arg2: next() % 2,
            name_gpa: NAME,
            name_len: name.len() as u64,
            name2_gpa: NAME2,
            name2_len: name2.len() as u64,
            buf_gpa: BUF,
            buf_len: next() % 8192,
            ..Default::default()
        };
        g.memory.write_plain(PARAMS, &c).unwrap();
        g.volumes.serve(PARAMS, &g.memory).expect("every buffer is in RAM");
    }
    let after = g.guards();
    let changed: Vec<usize> = (0..guards.len()).filter(|&i| guards[i] != after[i]).collect();
    assert!(changed.is_empty(), "directories above the volume changed (levels from the top): {changed:?}");
    assert_eq!(std::fs::read(g.outside().join("secret")).unwrap(), b"secret");
    let outside: Vec<_> = std::fs::read_dir(g.outside()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outside, ["secret"]);
    let beside: Vec<_> = std::fs::read_dir(g.base()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(sorted(beside.iter().map(|n| n.to_string_lossy().into_owned()).collect()), ["outside", "vol"]);
}

#[test]
fn the_kernel_statfs_layout_is_the_one_declared() {
    assert_eq!(std::mem::size_of::<super::sys::StatFs>(), 120);
}

/// Handles listed in a call's close list are closed before its op; a dead one or a root is
/// passed over; a list longer than FS_MAX_CLOSES is EINVAL with nothing closed.
#[test]
fn deferred_closes_go_before_the_op() {
    use uvm_abi::hostfs::FS_MAX_CLOSES;
    let g = Guest::new(false);
    let (a, _) = g.lookup(ROOT, "hello.txt");
    let (b, _) = g.lookup(ROOT, "sub");
    let list = |handles: &[u64]| {
        let bytes: Vec<u8> = handles.iter().flat_map(|h| h.to_le_bytes()).collect();
        g.memory.write_ram(BUF, &bytes).unwrap();
    };
    list(&[a, 9999, ROOT]);
    let c = g.call(FsOp::Stat, b, |c| {
        c.close_gpa = BUF;
        c.close_count = 3;
    });
    assert_eq!(c.result, 0, "the op ran after the closes");
    assert_eq!(g.call(FsOp::Stat, a, |_| {}).result, EBADF, "closed");
    assert_eq!(g.call(FsOp::Stat, ROOT, |_| {}).result, 0, "a root stays");
    list(&[b]);
    let c = g.call(FsOp::Stat, ROOT, |c| {
        c.close_gpa = BUF;
        c.close_count = FS_MAX_CLOSES + 1;
    });
    assert_eq!(c.result, EINVAL);
    assert_eq!(g.call(FsOp::Stat, b, |_| {}).result, 0, "nothing closed");
    list(&[b]);
    assert_eq!(
        g.call(FsOp::Stat, b, |c| {
            c.close_gpa = BUF;
            c.close_count = 1;
        })
        .result,
        EBADF,
        "the op's own handle, closed first"
    );
    let outside = g.try_call(FsOp::Stat, ROOT, |c| {
        c.close_gpa = RAM - 8;
        c.close_count = 2;
    });
    assert!(outside.is_err(), "a list past RAM stops the VM");
}

/// Open brings the file's metadata as the open left it (an app's fstat after open needs no
/// second call): the size, and 0 after O_TRUNC.
#[test]
fn open_brings_the_metadata() {
    let g = Guest::new(false);
    let (file, looked_up) = g.lookup(ROOT, "hello.txt");
    assert!(looked_up.size > 0);
    let c = g.call(FsOp::Open, file, |c| c.flags = libc::O_RDONLY as u32);
    assert!(c.result > 0, "open: {}", c.result);
    assert_eq!((c.stat.ino, c.stat.size), (looked_up.ino, looked_up.size));
    let c = g.call(FsOp::Open, file, |c| c.flags = (libc::O_RDWR | libc::O_TRUNC) as u32);
    assert!(c.result > 0, "open: {}", c.result);
    assert_eq!(c.stat.size, 0, "truncated by the open");
}
