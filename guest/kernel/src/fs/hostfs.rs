//! Volumes: host directories mounted in the VM (`uvm run -v HOST:GUEST`), whose files the
//! VMM holds and this module reaches with `HostFs` hypercalls (uvm-abi's `hostfs`).
//!
//! A [`HostNode`] is one file of a volume: the VMM's *path handle* of it (what a lookup
//! found), and once opened an *I/O handle* too. Every write is a call, and what the app wrote
//! is in the host file when its write returns. What a call learns, the handle a name leads
//! to (the lookup cache) and a file's metadata, holds for up to a second ([`KNOWN_FOR_NS`])
//! unless the guest changes anything in a volume meanwhile ([`CHANGES`]): a path walk or a
//! `stat` through known names makes no call, and a host process's change of names or metadata
//! shows within that second, as with FUSE's and virtiofs's default timeouts. A handle is
//! closed when its last node goes (a volume's root handle stays); the lookup cache holds at
//! most [`LOOKUP_CACHE_MAX`].
//!
//! Reads: an I/O handle read sequentially reads ahead ([`ReadAhead`]): a read that starts
//! where the last one ended fetches a window of the file in one call, 64 KiB the first time
//! and 1 MiB after, and the reads after it are served from that window without a call. A window is
//! the file's bytes for up to a second as well, unless the guest changes the file's data
//! (a write, a truncation, a write-back of shared pages: [`DATA_CHANGES`]); a host process's
//! change of bytes already read ahead shows within that second, and what it appends shows at
//! once (a read past the window is a call). Reads elsewhere in the file are a call each, as
//! before, and the windows of all handles take at most [`READ_AHEAD_TOTAL`] of memory.
//!
//! Directory offsets: a listing numbers its entries from `FIRST_ENTRY_OFFSET` in the order
//! the host gives them; the I/O handle remembers where the last listing stopped (the guest
//! offset and the host's cookie for it), so reading a directory through is one call per
//! buffer, and a seek elsewhere lists again from the start up to that entry.
//!
//! Every entry point is `#[cold]`: the dispatch in `Node` then costs the paths a start runs
//! (which never meet a volume's file) one call, not the inlined operation.
//!
//! `MAP_SHARED` mappings of a volume's file map frames of guest RAM that every mapping in
//! the VM shares ([`HostPages`]), written back to the host file; a private mapping is a copy
//! made at mmap time (the open-file layer's fallback).
//!
//! Not served here: devices, fifos and sockets in a volume cannot be opened (`ENXIO`), and
//! binding an `AF_UNIX` socket to a path in a volume is `EPERM`.

use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use uvm_abi::hostfs::{
    FsCall, FsOp, HostStat, HostStatFs, FS_MAX_CLOSES, FS_MAX_IO, FS_NAME_MAX, FS_SYNC_DATA, FS_TARGET_MAX,
    FS_WRITE_APPEND,
};

use crate::errno::Errno;
use crate::fs::dirent::{DirEntry, DIRENT64_NAME_OFFSET, FIRST_ENTRY_OFFSET};
use crate::fs::flags::{O_ACCMODE, O_APPEND, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC};
use crate::fs::stat::{makedev, FileType, Stat, TimeChange, Timespec, UTIME_NOW, UTIME_OMIT};
use crate::fs::statfs::StatFs;
use crate::fs::tmpfs::page::{Frames, Page};
use crate::fs::tmpfs::WritePos;
use crate::mm::space::{FilePage, SharedPages};
use crate::sync::SpinLock;

/// The most bytes one read or write call moves through the kernel's bounce buffer.
const BOUNCE_MAX: usize = 256 * 1024;
/// Bytes of the buffer a directory listing reads host records into.
const LISTING_BUFFER: usize = 32 * 1024;
/// How long what a call learnt stays true for the guest: the handle a name leads to (the
/// lookup cache) and a file's metadata. A change the guest makes to any volume ends it at once
/// ([`CHANGES`]); one a host process makes shows within this time, as FUSE's and virtiofs's
/// default entry and attribute timeouts have it.
const KNOWN_FOR_NS: u64 = 1_000_000_000;
/// The most names the lookup cache keeps (each holds a handle, a host fd, open).
const LOOKUP_CACHE_MAX: usize = 256;

/// Bumped before and after every call that changes a volume (a write, a name, metadata): what
/// was learnt before it is no longer trusted.
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Bumped after every call that changes a file's data (a write, a truncation, an open with
/// `O_TRUNC`, a write-back), in the slot of the file's identity ([`data_changes`]): a window
/// read ahead before it no longer holds. Files whose identities share a slot invalidate each
/// other's windows, which costs a call, never a stale read.
static DATA_CHANGES: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];

/// The [`DATA_CHANGES`] slot of the file whose host identity is `id` (device, inode).
fn data_changes(id: (u64, u64)) -> &'static AtomicU64 {
    let hash = (id.0.rotate_left(32) ^ id.1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &DATA_CHANGES[(hash >> 58) as usize]
}

/// Notes that the guest changed the data of the file whose identity is `id`.
fn data_changed(id: (u64, u64)) {
    data_changes(id).fetch_add(1, Ordering::SeqCst);
}

/// The smallest and the largest window a read ahead fetches.
const READ_AHEAD_MIN: usize = 64 * 1024;
const READ_AHEAD_MAX: usize = FS_MAX_IO as usize;
/// The most memory the windows of all handles take together; past it, reads are a call each.
const READ_AHEAD_TOTAL: usize = 8 << 20;
/// The memory the windows of all handles take now.
static READ_AHEAD_BUDGET: MemoryBudget = MemoryBudget::new(READ_AHEAD_TOTAL);

/// Bytes taken from a fixed total by many holders at once.
struct MemoryBudget {
    used: AtomicUsize,
    total: usize,
}

impl MemoryBudget {
    const fn new(total: usize) -> Self {
        Self { used: AtomicUsize::new(0), total }
    }

    /// Takes `bytes`; `false` (and nothing taken) if that would pass the total.
    fn take(&self, bytes: usize) -> bool {
        if self.used.fetch_add(bytes, Ordering::SeqCst) + bytes > self.total {
            self.used.fetch_sub(bytes, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Gives back `bytes` taken before.
    fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// Now, on the clock [`Known::until_ns`] counts in.
fn now_ns() -> u64 {
    crate::time::clock().monotonic_ns(crate::time::rdtsc())
}

/// A file's metadata as a call brought it, and until when it may answer a `stat`.
#[derive(Clone, Copy)]
struct Known {
    stat: HostStat,
    until_ns: u64,
    changes: u64,
}

impl Known {
    /// Learnt now, `changes` being [`CHANGES`] from before the call that brought it.
    fn new(stat: HostStat, changes: u64) -> Known {
        Known { stat, until_ns: now_ns().saturating_add(KNOWN_FOR_NS), changes }
    }

    /// Whether it still holds: in time, and nothing changed since.
    fn holds(&self) -> bool {
        self.changes == CHANGES.load(Ordering::SeqCst) && now_ns() < self.until_ns
    }
}

/// One name the lookup cache knows: in directory `dir` (its host device and inode) of
/// `volume`, `name` leads to `node`.
struct CachedName {
    volume: usize,
    dir: (u64, u64),
    name: Vec<u8>,
    node: HostNode,
}

/// The lookup cache: a path walk through names it knows makes no call.
static LOOKUPS: SpinLock<Vec<CachedName>> = SpinLock::new(Vec::new());

/// `st_dev` of volume `index` (as Linux numbers anonymous devices: major 0).
pub const fn volume_dev(index: u32) -> u64 {
    makedev(0, 0x40 + index)
}

/// One volume: which, and how it may be used.
pub struct Volume {
    index: u32,
    read_only: bool,
    /// Where the pages of its files' shared mappings come from.
    frames: Frames,
    /// The root's host device and inode: [`HostNode::parent`] of the root is the root.
    root_id: (u64, u64),
}

impl Volume {
    /// Whether the volume was mounted read-only (`:ro`).
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The guest device number of its files.
    pub fn dev(&self) -> u64 {
        volume_dev(self.index)
    }

    fn root_handle(&self) -> u64 {
        u64::from(self.index) + 1
    }
}

/// A handle the VMM holds; closed when dropped (but a volume's root).
struct Handle {
    volume: Arc<Volume>,
    raw: u64,
}

/// Handles dropped and not yet closed: the next call closes them first (`FsCall::close_gpa`),
/// so a path walk, which drops a handle per directory it passed, costs no exit for them.
static DEFERRED_CLOSES: SpinLock<Vec<u64>> = SpinLock::new(Vec::new());

impl Drop for Handle {
    fn drop(&mut self) {
        if self.raw == self.volume.root_handle() {
            return;
        }
        let full = {
            let mut deferred = DEFERRED_CLOSES.lock();
            deferred.push(self.raw);
            (deferred.len() as u64 >= FS_MAX_CLOSES).then(|| core::mem::take(&mut *deferred))
        };
        if let Some(mut list) = full {
            // As many as one call takes: the last is the Close op's own handle. A close cannot
            // fail in a way the guest could act on.
            if let Some(last) = list.pop() {
                let _ = call_closing(FsOp::Close, last, &list, |_| {});
            }
        }
    }
}

/// An I/O handle and where the last directory listing through it stopped.
struct OpenHandle {
    handle: Handle,
    /// Opened with `O_APPEND`: the host appends each write.
    append: bool,
    /// `(guest offset, host cookie)`: the listing resumes at that offset from that cookie.
    cursor: SpinLock<(u64, u64)>,
    /// What the handle read ahead (a reader takes it out while it calls the host).
    ahead: SpinLock<ReadAhead>,
}

impl OpenHandle {
    fn new(handle: Handle, append: bool) -> OpenHandle {
        let cursor = SpinLock::new((FIRST_ENTRY_OFFSET, 0));
        OpenHandle { handle, append, cursor, ahead: SpinLock::new(ReadAhead::default()) }
    }
}

/// A window of a file read ahead through one I/O handle, and where the handle's last read
/// ended (see the module docs).
#[derive(Default)]
struct ReadAhead {
    /// The file's bytes from `offset`, `len` of them (the buffer is kept between fills).
    bytes: Vec<u8>,
    offset: u64,
    len: usize,
    /// The file's [`data_changes`] slot when the window was read.
    stamp: u64,
    /// Until when (`now_ns`) the window holds against a host process's changes.
    until_ns: u64,
    /// Where the last read ended: a read starting there is sequential.
    next: u64,
    /// The window the next sequential read fetches (0: none yet).
    window: usize,
}

impl ReadAhead {
    /// Copies what the window holds of the file from `offset` into `out` (while the window
    /// holds: the file's data slot still reads `stamp`, and it is not older than a second);
    /// returns the bytes copied.
    fn copy_out(&self, offset: u64, out: &mut [u8], stamp: u64) -> usize {
        if self.len == 0 || stamp != self.stamp || offset < self.offset || now_ns() >= self.until_ns {
            return 0;
        }
        let Ok(start) = usize::try_from(offset - self.offset) else { return 0 };
        if start >= self.len {
            return 0;
        }
        let count = out.len().min(self.len - start);
        out[..count].copy_from_slice(&self.bytes[start..start + count]);
        count
    }

    /// A buffer of `window` bytes for the next fill, within [`READ_AHEAD_TOTAL`]; `false` if
    /// the memory is not there.
    fn make_room(&mut self, window: usize) -> bool {
        let more = window.saturating_sub(self.bytes.len());
        if more == 0 {
            return true;
        }
        if !READ_AHEAD_BUDGET.take(more) {
            return false;
        }
        if self.bytes.try_reserve_exact(more).is_err() {
            READ_AHEAD_BUDGET.give(more);
            return false;
        }
        self.bytes.resize(window, 0);
        true
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        READ_AHEAD_BUDGET.give(self.bytes.len());
    }
}

/// A file of a volume.
#[derive(Clone)]
pub struct HostNode {
    volume: Arc<Volume>,
    path: Arc<Handle>,
    io: Option<Arc<OpenHandle>>,
    file_type: FileType,
    /// The host's device and inode: the file's identity.
    id: (u64, u64),
    /// The metadata the call that made this node brought, while it holds.
    known: Option<Known>,
}

/// Makes one call, closing the handles dropped since the last one first: `fill` sets the
/// op's fields; `Err` for the host's -errno.
fn call(op: FsOp, handle: u64, fill: impl FnOnce(&mut FsCall)) -> Result<FsCall, Errno> {
    let deferred = core::mem::take(&mut *DEFERRED_CLOSES.lock());
    call_closing(op, handle, &deferred, fill)
}

/// Makes one call that first closes the handles `closes` (at most `FS_MAX_CLOSES`).
fn call_closing(op: FsOp, handle: u64, closes: &[u64], fill: impl FnOnce(&mut FsCall)) -> Result<FsCall, Errno> {
    let mut c = FsCall {
        op: op as u32,
        handle,
        close_gpa: crate::hypercall::gpa_of(closes.as_ptr() as u64),
        close_count: closes.len() as u64,
        ..FsCall::default()
    };
    fill(&mut c);
    // What was learnt before a change, or while it is made, no longer holds.
    let changes = op.writes() || (op == FsOp::Open && c.flags & O_TRUNC != 0);
    if changes {
        CHANGES.fetch_add(1, Ordering::SeqCst);
    }
    let result = crate::hypercall::host_fs(&mut c);
    if changes {
        CHANGES.fetch_add(1, Ordering::SeqCst);
    }
    if result < 0 {
        return Err(Errno::from_host(result));
    }
    Ok(c)
}

/// Reads a window of the file from `offset` into `window` (kernel memory, which the host
/// writes in place: one call for up to [`FS_MAX_IO`] bytes): the bytes read, fewer at the
/// end of the file.
fn read_window(io: &OpenHandle, offset: u64, window: &mut [u8]) -> Result<usize, Errno> {
    let want = window.len().min(FS_MAX_IO as usize);
    let c = call(FsOp::Read, io.handle.raw, |c| {
        c.arg = offset;
        c.buf_gpa = gpa_mut(window);
        c.buf_len = want as u64;
    })?;
    Ok((c.result as usize).min(want))
}

/// The guest-physical address of kernel memory `bytes` (which the host reads).
fn gpa(bytes: &[u8]) -> u64 {
    crate::hypercall::gpa_of(bytes.as_ptr() as u64)
}

/// The guest-physical address of kernel memory `bytes` the host writes.
fn gpa_mut(bytes: &mut [u8]) -> u64 {
    crate::hypercall::gpa_of(bytes.as_mut_ptr() as u64)
}

/// A name for a call: one component, copied into kernel memory (the caller's bytes may be the
/// app's). `ENAMETOOLONG` past `NAME_MAX`.
fn name_copy(name: &[u8]) -> Result<Vec<u8>, Errno> {
    if name.len() as u64 > FS_NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(name.to_vec())
}

/// The type a host mode names (a block device counts as a device: it cannot be opened).
fn file_type_of(mode: u32) -> FileType {
    FileType::from_mode(mode).unwrap_or(FileType::CharDevice)
}

fn timespec(pair: [i64; 2]) -> Timespec {
    Timespec { sec: pair[0], nsec: u32::try_from(pair[1]).unwrap_or(0).min(999_999_999) }
}

/// The `struct timespec` pair of a `utimensat` for two changes.
fn times_bytes(atime: TimeChange, mtime: TimeChange) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32);
    for change in [atime, mtime] {
        let (sec, nsec) = match change {
            TimeChange::Now => (0, UTIME_NOW),
            TimeChange::Omit => (0, UTIME_OMIT),
            TimeChange::Set(t) => (t.sec, i64::from(t.nsec)),
        };
        bytes.extend_from_slice(&sec.to_le_bytes());
        bytes.extend_from_slice(&nsec.to_le_bytes());
    }
    bytes
}

/// Mounts volume `index`: its root's node. `ENOTDIR` if the VMM's root is no directory.
#[cold]
#[inline(never)]
pub fn mount(index: u32, read_only: bool, frames: Frames) -> Result<HostNode, Errno> {
    let raw = u64::from(index) + 1;
    let c = call(FsOp::Stat, raw, |_| {})?;
    let root_id = (c.stat.dev, c.stat.ino);
    let volume = Arc::new(Volume { index, read_only, frames, root_id });
    let node = HostNode { known: None, ..HostNode::from_call(&volume, raw, &c.stat, 0) };
    if node.file_type != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    Ok(node)
}

impl HostNode {
    /// The node of a new path handle `raw` and its metadata, learnt by a call made when
    /// [`CHANGES`] was `changes`.
    fn from_call(volume: &Arc<Volume>, raw: u64, stat: &HostStat, changes: u64) -> HostNode {
        HostNode {
            volume: volume.clone(),
            path: Arc::new(Handle { volume: volume.clone(), raw }),
            io: None,
            file_type: file_type_of(stat.mode),
            id: (stat.dev, stat.ino),
            known: Some(Known::new(*stat, changes)),
        }
    }

    /// The node of a call's new handle (`result`) and stat.
    fn child_of(&self, c: &FsCall, changes: u64) -> HostNode {
        HostNode::from_call(&self.volume, c.result as u64, &c.stat, changes)
    }

    /// The volume.
    pub fn volume(&self) -> &Arc<Volume> {
        &self.volume
    }

    /// The file's type (as the lookup found it).
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// The inode number (the host's).
    pub fn ino(&self) -> u64 {
        self.id.1
    }

    /// Whether `other` is the same host file.
    pub fn same_file(&self, other: &HostNode) -> bool {
        Arc::ptr_eq(&self.volume, &other.volume) && self.id == other.id
    }

    /// The metadata, as the host has it now (the guest device number of the volume).
    #[cold]
    #[inline(never)]
    pub fn stat(&self) -> Result<Stat, Errno> {
        let s = match self.known {
            Some(known) if known.holds() => known.stat,
            _ => call(FsOp::Stat, self.path.raw, |_| {})?.stat,
        };
        Ok(Stat {
            dev: self.volume.dev(),
            ino: s.ino,
            nlink: s.nlink,
            mode: s.mode,
            uid: s.uid,
            gid: s.gid,
            rdev: s.rdev,
            size: u64::try_from(s.size).unwrap_or(0),
            blksize: u32::try_from(s.blksize).unwrap_or(4096),
            blocks: u64::try_from(s.blocks).unwrap_or(0),
            atime: timespec(s.atime),
            mtime: timespec(s.mtime),
            ctime: timespec(s.ctime),
            mount_id: 0,
        })
    }

    /// The entry `name` of this directory (not followed if a symlink).
    #[cold]
    #[inline(never)]
    pub fn lookup(&self, name: &[u8]) -> Result<HostNode, Errno> {
        if self.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let name = name_copy(name)?;
        if let Some(node) = self.cached_lookup(&name) {
            return Ok(node);
        }
        let changes = CHANGES.load(Ordering::SeqCst);
        let c = call(FsOp::Lookup, self.path.raw, |c| {
            c.name_gpa = gpa(&name);
            c.name_len = name.len() as u64;
        })?;
        let node = self.child_of(&c, changes);
        self.cache_lookup(name, &node);
        Ok(node)
    }

    /// The node the lookup cache knows for `name` in this directory, while it holds.
    fn cached_lookup(&self, name: &[u8]) -> Option<HostNode> {
        let volume = Arc::as_ptr(&self.volume) as usize;
        let cache = LOOKUPS.lock();
        let entry = cache.iter().find(|e| e.volume == volume && e.dir == self.id && e.name == name)?;
        entry.node.known.is_some_and(|known| known.holds()).then(|| entry.node.clone())
    }

    /// Remembers that `name` in this directory leads to `node`; what no longer holds goes
    /// (all of it when the cache is full). (Entries dropped under the cache's lock only
    /// take the deferred-close lock, never this one.)
    fn cache_lookup(&self, name: Vec<u8>, node: &HostNode) {
        let volume = Arc::as_ptr(&self.volume) as usize;
        let mut cache = LOOKUPS.lock();
        cache.retain(|e| {
            let same = e.volume == volume && e.dir == self.id && e.name == name;
            !same && e.node.known.is_some_and(|known| known.holds())
        });
        if cache.len() >= LOOKUP_CACHE_MAX {
            cache.clear();
        }
        cache.push(CachedName { volume, dir: self.id, name, node: node.clone() });
    }

    /// The parent directory (the volume's root is its own).
    #[cold]
    #[inline(never)]
    pub fn parent(&self) -> Result<HostNode, Errno> {
        if self.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if self.id == self.volume.root_id {
            return Ok(HostNode { io: None, ..self.clone() });
        }
        let changes = CHANGES.load(Ordering::SeqCst);
        let c = call(FsOp::Parent, self.path.raw, |_| {})?;
        Ok(self.child_of(&c, changes))
    }

    /// This file opened with open `flags` (the open-file layer checked them): a node that
    /// reads and writes. `EROFS` for write access to a read-only volume.
    #[cold]
    #[inline(never)]
    pub fn open(&self, flags: u32) -> Result<HostNode, Errno> {
        let flags = if self.file_type == FileType::Directory { O_RDONLY | O_DIRECTORY } else { flags };
        if self.volume.read_only && flags & O_ACCMODE != O_RDONLY {
            return Err(Errno::EROFS);
        }
        let changes = CHANGES.load(Ordering::SeqCst);
        let c = call(FsOp::Open, self.path.raw, |c| c.flags = flags)?;
        if flags & O_TRUNC != 0 {
            data_changed(self.id);
        }
        let handle = Handle { volume: self.volume.clone(), raw: c.result as u64 };
        let io = OpenHandle::new(handle, flags & O_APPEND != 0);
        let known = Some(Known::new(c.stat, changes));
        Ok(HostNode { io: Some(Arc::new(io)), known, ..self.clone() })
    }

    /// The I/O handle: this node's, or one opened for this call (`flags`).
    fn io_handle(&self, flags: u32) -> Result<Arc<OpenHandle>, Errno> {
        match &self.io {
            Some(io) => Ok(io.clone()),
            None => self.open(flags)?.io.ok_or(Errno::EBADF),
        }
    }

    /// Reads from `offset` into `buf`; returns the bytes read (0 at the end).
    #[cold]
    #[inline(never)]
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.file_type == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        let io = self.io_handle(O_RDONLY)?;
        if let Some(pages) = shared_pages_of(self) {
            // What shared mappings wrote is read back; every read writes them back (and so
            // changes the file's data), so a mapped file is not read ahead.
            pages.write_back();
            return self.read_host(&io, offset, buf);
        }
        if self.io.is_none() {
            // A handle opened for this read alone: nothing would read its window.
            return self.read_host(&io, offset, buf);
        }
        let slot = data_changes(self.id);
        let mut ahead = core::mem::take(&mut *io.ahead.lock());
        let result = self.read_through(&io, &mut ahead, slot, offset, buf);
        if let Ok(done) = result {
            ahead.next = offset.saturating_add(done as u64);
        }
        *io.ahead.lock() = ahead;
        result
    }

    /// [`HostNode::read_at`] through the I/O handle `io`: from its window `ahead` (the file's
    /// data slot `slot`), then a window read ahead if the read is sequential and smaller than
    /// one, else calls straight into `buf`.
    fn read_through(
        &self,
        io: &OpenHandle,
        ahead: &mut ReadAhead,
        slot: &AtomicU64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, Errno> {
        let done = ahead.copy_out(offset, buf, slot.load(Ordering::SeqCst));
        if done == buf.len() {
            return Ok(done);
        }
        let at = offset.checked_add(done as u64).ok_or(Errno::EINVAL)?;
        let rest = &mut buf[done..];
        // The first window is small (most files a handle reads through are); a second
        // sequential read takes the largest at once: a buffer grown in steps would be moved
        // and its fresh pages first touched at every step.
        ahead.window = match (offset == ahead.next, ahead.window) {
            (false, _) => 0,
            (true, 0) => READ_AHEAD_MIN,
            (true, _) => READ_AHEAD_MAX,
        };
        if rest.len() < ahead.window && ahead.make_room(ahead.window) {
            let stamp = slot.load(Ordering::SeqCst);
            let window = ahead.window;
            let got = match read_window(io, at, &mut ahead.bytes[..window]) {
                Ok(got) => got,
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            };
            (ahead.offset, ahead.len, ahead.stamp, ahead.until_ns) = (at, got, stamp, now_ns() + KNOWN_FOR_NS);
            let count = rest.len().min(got);
            rest[..count].copy_from_slice(&ahead.bytes[..count]);
            return Ok(done + count);
        }
        match self.read_host(io, at, rest) {
            Ok(got) => Ok(done + got),
            Err(e) if done == 0 => Err(e),
            Err(_) => Ok(done),
        }
    }

    /// Reads from `offset` into `buf` (the app's memory) with calls, through the kernel's
    /// bounce buffer: the bytes read, fewer than asked at the end of the file.
    fn read_host(&self, io: &OpenHandle, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut bounce = vec![0u8; buf.len().min(BOUNCE_MAX)];
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(bounce.len()).min(FS_MAX_IO as usize);
            let at = offset.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            let c = call(FsOp::Read, io.handle.raw, |c| {
                c.arg = at;
                c.buf_gpa = gpa_mut(&mut bounce);
                c.buf_len = want as u64;
            });
            let got = match c {
                Ok(c) => (c.result as usize).min(want),
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            buf[done..done + got].copy_from_slice(&bounce[..got]);
            done += got;
            if got < want {
                break;
            }
        }
        Ok(done)
    }

    /// Writes `data` at `pos`; returns the bytes written and the offset after them.
    #[cold]
    #[inline(never)]
    pub fn write_at(&self, pos: WritePos, data: &[u8]) -> Result<(usize, u64), Errno> {
        let io = self.io.as_ref().ok_or(Errno::EBADF)?;
        let mut at = match pos {
            WritePos::At(offset) => offset,
            // A description opened without O_APPEND that later got it (fcntl): the end now,
            // as the host has it (not as a lookup learnt it).
            WritePos::End if !io.append => {
                let size = call(FsOp::Stat, io.handle.raw, |_| {})?.stat.size;
                u64::try_from(size).unwrap_or(0)
            }
            WritePos::End => 0,
        };
        if data.is_empty() {
            return Ok((0, at));
        }
        let append = matches!(pos, WritePos::End) && io.append;
        let mut done = 0;
        let mut bounce = Vec::new();
        while done < data.len() {
            let want = (data.len() - done).min(BOUNCE_MAX).min(FS_MAX_IO as usize);
            bounce.clear();
            bounce.extend_from_slice(&data[done..done + want]);
            let c = call(FsOp::Write, io.handle.raw, |c| {
                c.arg = at;
                c.flags = if append { FS_WRITE_APPEND } else { 0 };
                c.buf_gpa = gpa(&bounce);
                c.buf_len = want as u64;
            });
            data_changed(self.id);
            let c = match c {
                Ok(c) => c,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let wrote = (c.result as usize).min(want);
            if let Some(pages) = shared_pages_of(self) {
                // Shared mappings see what a write wrote.
                pages.written(c.value.saturating_sub(wrote as u64), &data[done..done + wrote]);
            }
            done += wrote;
            at = c.value;
            if wrote < want {
                break;
            }
        }
        Ok((done, at))
    }

    /// Sets the size of this regular file.
    #[cold]
    #[inline(never)]
    pub fn truncate(&self, len: u64) -> Result<(), Errno> {
        match self.file_type {
            FileType::Directory => return Err(Errno::EISDIR),
            FileType::Regular => {}
            _ => return Err(Errno::EINVAL),
        }
        if self.volume.read_only {
            return Err(Errno::EROFS);
        }
        let handle = self.io.as_ref().map_or(self.path.raw, |io| io.handle.raw);
        let truncated = call(FsOp::Truncate, handle, |c| c.arg = len);
        data_changed(self.id);
        truncated?;
        if let Some(pages) = shared_pages_of(self) {
            pages.truncated(len);
        }
        Ok(())
    }

    /// Its size now.
    #[cold]
    #[inline(never)]
    pub fn size(&self) -> u64 {
        self.stat().map_or(0, |stat| stat.size)
    }

    /// `SEEK_DATA`/`SEEK_HOLE` from `offset`: the host's holes are not asked for, so the
    /// whole file is data (Linux's answer for file systems without holes).
    #[cold]
    #[inline(never)]
    pub fn seek_data_or_hole(&self, offset: u64, want_hole: bool) -> Result<u64, Errno> {
        let size = self.size();
        if offset >= size {
            return Err(Errno::ENXIO);
        }
        Ok(if want_hole { size } else { offset })
    }

    /// `chmod`.
    #[cold]
    #[inline(never)]
    pub fn set_mode(&self, mode: u32) -> Result<(), Errno> {
        self.change(FsOp::SetMode, |c| c.arg = u64::from(mode & 0o7777))
    }

    /// `chown` (`None` leaves a field).
    #[cold]
    #[inline(never)]
    pub fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        self.change(FsOp::SetOwner, |c| {
            c.arg = u64::from(uid.unwrap_or(u32::MAX));
            c.arg2 = u64::from(gid.unwrap_or(u32::MAX));
        })
    }

    /// `utimensat`.
    #[cold]
    #[inline(never)]
    pub fn set_times(&self, atime: TimeChange, mtime: TimeChange) -> Result<(), Errno> {
        let times = times_bytes(atime, mtime);
        self.change(FsOp::SetTimes, |c| {
            c.buf_gpa = gpa(&times);
            c.buf_len = times.len() as u64;
        })
    }

    /// A metadata change of this file (`EROFS` on a read-only volume).
    fn change(&self, op: FsOp, fill: impl FnOnce(&mut FsCall)) -> Result<(), Errno> {
        if self.volume.read_only {
            return Err(Errno::EROFS);
        }
        call(op, self.path.raw, fill).map(|_| ())
    }

    /// The symlink's target.
    #[cold]
    #[inline(never)]
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if self.file_type != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        let mut target = vec![0u8; FS_TARGET_MAX as usize + 1];
        let c = call(FsOp::Readlink, self.path.raw, |c| {
            c.buf_gpa = gpa_mut(&mut target);
            c.buf_len = target.len() as u64;
        })?;
        target.truncate((c.result as usize).min(FS_TARGET_MAX as usize));
        Ok(target)
    }

    /// Lists this directory from guest offset `from` (at least `FIRST_ENTRY_OFFSET`) until
    /// `visit` returns false.
    #[cold]
    #[inline(never)]
    pub fn read_dir(&self, from: u64, visit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<(), Errno> {
        if self.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let io = self.io_handle(O_RDONLY | O_DIRECTORY)?;
        let from = from.max(FIRST_ENTRY_OFFSET);
        let mut cursor = io.cursor.lock();
        // Resume where the last listing stopped, or list again from the first entry.
        let (mut position, mut cookie) = if cursor.0 <= from { *cursor } else { (FIRST_ENTRY_OFFSET, 0) };
        let mut buf = vec![0u8; LISTING_BUFFER];
        loop {
            let c = call(FsOp::ReadDir, io.handle.raw, |c| {
                c.arg = cookie;
                c.buf_gpa = gpa_mut(&mut buf);
                c.buf_len = buf.len() as u64;
            })?;
            let filled = (c.result as usize).min(buf.len());
            if filled == 0 {
                break;
            }
            let mut stopped = false;
            for record in Records::new(&buf[..filled]) {
                if record.name == b"." || record.name == b".." {
                    cookie = record.next_cookie;
                    continue;
                }
                if position >= from {
                    let entry = DirEntry {
                        name: record.name,
                        ino: record.ino,
                        file_type: record.file_type,
                        next_offset: position + 1,
                    };
                    if !visit(&entry) {
                        stopped = true;
                        break;
                    }
                }
                position += 1;
                cookie = record.next_cookie;
            }
            if stopped {
                break;
            }
        }
        *cursor = (position, cookie);
        Ok(())
    }

    /// Creates the regular file `name` in this directory.
    #[cold]
    #[inline(never)]
    pub fn create_file(&self, name: &[u8], mode: u32) -> Result<HostNode, Errno> {
        let name = name_copy(name)?;
        let changes = CHANGES.load(Ordering::SeqCst);
        let c = self.dir_op(FsOp::Create, |c| {
            c.name_gpa = gpa(&name);
            c.name_len = name.len() as u64;
            c.arg = u64::from(mode & 0o7777);
        })?;
        // Learnt by a call that changed the volume: its metadata is not trusted past it.
        Ok(HostNode { known: None, ..self.child_of(&c, changes) })
    }

    /// Makes the directory `name`.
    #[cold]
    #[inline(never)]
    pub fn create_dir(&self, name: &[u8], mode: u32) -> Result<(), Errno> {
        let name = name_copy(name)?;
        self.dir_op(FsOp::Mkdir, |c| {
            c.name_gpa = gpa(&name);
            c.name_len = name.len() as u64;
            c.arg = u64::from(mode & 0o7777);
        })
        .map(|_| ())
    }

    /// Makes the symlink `name` -> `target`.
    #[cold]
    #[inline(never)]
    pub fn create_symlink(&self, name: &[u8], target: &[u8]) -> Result<(), Errno> {
        let name = name_copy(name)?;
        if target.len() as u64 > FS_TARGET_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let target = target.to_vec();
        self.dir_op(FsOp::Symlink, |c| {
            c.name_gpa = gpa(&name);
            c.name_len = name.len() as u64;
            c.name2_gpa = gpa(&target);
            c.name2_len = target.len() as u64;
        })
        .map(|_| ())
    }

    /// Removes `name` (a directory with `directory`).
    #[cold]
    #[inline(never)]
    pub fn remove(&self, name: &[u8], directory: bool) -> Result<(), Errno> {
        const AT_REMOVEDIR: u32 = 0x200;
        let name = name_copy(name)?;
        self.dir_op(FsOp::Unlink, |c| {
            c.name_gpa = gpa(&name);
            c.name_len = name.len() as u64;
            c.flags = if directory { AT_REMOVEDIR } else { 0 };
        })
        .map(|_| ())
    }

    /// Renames `name` here to `new_name` in `new_dir` (`flags`: `renameat2`'s).
    #[cold]
    #[inline(never)]
    pub fn rename(&self, name: &[u8], new_dir: &HostNode, new_name: &[u8], flags: u32) -> Result<(), Errno> {
        if !Arc::ptr_eq(&self.volume, &new_dir.volume) {
            return Err(Errno::EXDEV);
        }
        let (name, new_name) = (name_copy(name)?, name_copy(new_name)?);
        self.dir_op(FsOp::Rename, |c| {
            c.name_gpa = gpa(&name);
            c.name_len = name.len() as u64;
            c.handle2 = new_dir.path.raw;
            c.name2_gpa = gpa(&new_name);
            c.name2_len = new_name.len() as u64;
            c.flags = flags;
        })
        .map(|_| ())
    }

    /// A new name `name` in this directory for `file`.
    #[cold]
    #[inline(never)]
    pub fn link(&self, name: &[u8], file: &HostNode) -> Result<(), Errno> {
        if !Arc::ptr_eq(&self.volume, &file.volume) {
            return Err(Errno::EXDEV);
        }
        if file.file_type == FileType::Directory {
            return Err(Errno::EPERM);
        }
        if self.volume.read_only {
            return Err(Errno::EROFS);
        }
        let name = name_copy(name)?;
        call(FsOp::Link, file.path.raw, |c| {
            c.handle2 = self.path.raw;
            c.name2_gpa = gpa(&name);
            c.name2_len = name.len() as u64;
        })
        .map(|_| ())
    }

    /// A name change in this directory (`EROFS` on a read-only volume).
    fn dir_op(&self, op: FsOp, fill: impl FnOnce(&mut FsCall)) -> Result<FsCall, Errno> {
        if self.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if self.volume.read_only {
            return Err(Errno::EROFS);
        }
        call(op, self.path.raw, fill)
    }

    /// `fsync` (`fdatasync` with `data_only`) of this open file.
    #[cold]
    #[inline(never)]
    pub fn sync(&self, data_only: bool) -> Result<(), Errno> {
        let Some(io) = &self.io else {
            return Ok(());
        };
        if let Some(pages) = shared_pages_of(self) {
            pages.write_back();
        }
        call(FsOp::Sync, io.handle.raw, |c| c.flags = if data_only { FS_SYNC_DATA } else { 0 }).map(|_| ())
    }

    /// The host file system's figures, as `statfs` reports them.
    #[cold]
    #[inline(never)]
    pub fn statfs(&self) -> Result<StatFs, Errno> {
        let mut raw = vec![0u8; core::mem::size_of::<HostStatFs>()];
        call(FsOp::StatFs, self.path.raw, |c| {
            c.buf_gpa = gpa_mut(&mut raw);
            c.buf_len = raw.len() as u64;
        })?;
        let field = |i: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            u64::from_le_bytes(word)
        };
        Ok(StatFs {
            fs_type: field(0),
            block_size: field(1),
            blocks: field(2),
            blocks_free: field(3),
            blocks_available: field(4),
            files: field(5),
            files_free: field(6),
            fsid: self.volume.dev(),
            name_max: field(7),
            flags: field(9),
        })
    }
}

/// Every volume file's pages while shared mappings map them (looked up by file; the mappings
/// hold them).
static SHARED: SpinLock<Vec<Weak<HostPages>>> = SpinLock::new(Vec::new());
/// How many [`HostPages`] live: 0 keeps every read, write and the VM's end from looking.
static SHARED_LIVE: AtomicUsize = AtomicUsize::new(0);

/// The pages of a volume's file that `MAP_SHARED` mappings map, in frames of guest RAM: every
/// mapping of the file in the VM (any process) maps the same frames, filled from the host file
/// on first touch. The file's own `read` and `write` stay coherent with them (a read writes
/// them back first, a write updates them), and they are written back to the host file at
/// `msync`, `fsync`, when the last mapping goes and at the VM's end. (A host process that
/// writes the file meanwhile is not seen by the mappings, as with any non-coherent network
/// file system.)
pub struct HostPages {
    /// The file (its path handle).
    node: HostNode,
    /// Open for reading the pages in and writing them back.
    io: HostNode,
    /// Whether `io` may write (the volume and the host allow it).
    writable: bool,
    state: SpinLock<PagesState>,
}

struct PagesState {
    /// The file's size as the VM made it (past it, a mapping's touch is SIGBUS).
    size: u64,
    /// The pages touched so far, `(index in the file, page)`, sorted by index: only those
    /// (a mapping of a large sparse file touched far in costs no table of its size).
    pages: Vec<(u64, Page)>,
}

impl PagesState {
    /// Page `index`, if touched.
    fn page_mut(&mut self, index: u64) -> Option<&mut Page> {
        let at = self.pages.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        Some(&mut self.pages[at].1)
    }
}

/// The shared-mapping pages of `node`'s file (made at its first shared mapping). `ENODEV`
/// for anything but a regular file.
#[cold]
#[inline(never)]
pub fn shared_pages(node: &HostNode) -> Result<Arc<HostPages>, Errno> {
    if node.file_type != FileType::Regular {
        return Err(Errno::ENODEV);
    }
    if let Some(pages) = shared_pages_of(node) {
        return Ok(pages);
    }
    let (io, writable) = match node.open(O_RDWR) {
        Ok(io) => (io, true),
        Err(_) => (node.open(O_RDONLY)?, false),
    };
    let size = io.stat()?.size;
    let file = HostNode { io: None, known: None, ..node.clone() };
    let state = SpinLock::new(PagesState { size, pages: Vec::new() });
    let pages = Arc::new(HostPages { node: file, io, writable, state });
    let mut shared = SHARED.lock();
    shared.retain(|weak| weak.strong_count() > 0);
    shared.push(Arc::downgrade(&pages));
    SHARED_LIVE.fetch_add(1, Ordering::SeqCst);
    Ok(pages)
}

/// The shared-mapping pages of `node`'s file, if any mapping has them.
fn shared_pages_of(node: &HostNode) -> Option<Arc<HostPages>> {
    if SHARED_LIVE.load(Ordering::SeqCst) == 0 {
        return None;
    }
    SHARED.lock().iter().filter_map(Weak::upgrade).find(|pages| pages.node.same_file(node))
}

/// Writes every volume file's shared-mapping pages back to the host (`msync`, the VM's end).
/// (Inline: the VM's end runs only the check, whose code is then with the caller's, in the
/// start's hot text.)
#[inline(always)]
pub fn write_back_all() {
    if SHARED_LIVE.load(Ordering::SeqCst) != 0 {
        write_back_every_file();
    }
}

#[cold]
#[inline(never)]
fn write_back_every_file() {
    let live: Vec<Arc<HostPages>> = SHARED.lock().iter().filter_map(Weak::upgrade).collect();
    for pages in live {
        pages.write_back();
    }
}

impl HostPages {
    /// Whether mappings may write (the pages can be written back).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The guest device and inode the mappings know the file by.
    pub fn id(&self) -> (u64, u64) {
        (self.node.volume.dev(), self.node.ino())
    }

    /// Writes the pages back to the host file (up to the file's size).
    #[cold]
    #[inline(never)]
    pub fn write_back(&self) {
        let Some(io) = self.io.io.as_ref().filter(|_| self.writable) else {
            return;
        };
        let state = self.state.lock();
        for (index, page) in &state.pages {
            let offset = index * PAGE;
            if offset >= state.size {
                break;
            }
            let len = (state.size - offset).min(PAGE);
            // A failed write-back leaves the host file as it was; the app learns of it as a
            // lost write on Linux does: not at all (its next fsync is the host's to fail).
            let _ = call(FsOp::Write, io.handle.raw, |c| {
                c.arg = offset;
                c.buf_gpa = page.frame();
                c.buf_len = len;
            });
            data_changed(self.node.id);
        }
    }

    /// A write of the file put `data` at `offset`: the pages it covers take it too.
    fn written(&self, offset: u64, data: &[u8]) {
        let mut state = self.state.lock();
        let end = offset.saturating_add(data.len() as u64);
        state.size = state.size.max(end);
        let mut at = offset;
        while at < end {
            let within = (at % PAGE) as usize;
            let n = ((PAGE as usize) - within).min((end - at) as usize);
            if let Some(page) = state.page_mut(at / PAGE) {
                let from = (at - offset) as usize;
                page.write(within, &data[from..from + n]);
            }
            at += n as u64;
        }
    }

    /// The file was truncated to `len`: pages past it read as zeros (kept while mapped).
    fn truncated(&self, len: u64) {
        let mut state = self.state.lock();
        state.size = len;
        for (index, page) in &mut state.pages {
            let start = *index * PAGE;
            if start + PAGE > len {
                page.zero(len.saturating_sub(start) as usize, PAGE as usize);
            }
        }
    }
}

/// The page size, as a file offset.
const PAGE: u64 = uvm_abi::layout::PAGE_SIZE;

impl SharedPages for HostPages {
    fn page_frame(&self, index: u64, _fill_hole: bool) -> Result<FilePage, Errno> {
        let mut state = self.state.lock();
        let offset = index.checked_mul(PAGE).ok_or(Errno::EINVAL)?;
        if offset >= state.size {
            return Ok(FilePage::PastEnd);
        }
        let slot = match state.pages.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(found) => return Ok(FilePage::Frame(state.pages[found].1.frame())),
            Err(slot) => slot,
        };
        let page = Page::new(self.node.volume.frames)?;
        let io = self.io.io.as_ref().ok_or(Errno::EBADF)?;
        let len = (state.size - offset).min(PAGE);
        call(FsOp::Read, io.handle.raw, |c| {
            c.arg = offset;
            c.buf_gpa = page.frame();
            c.buf_len = len;
        })?;
        let frame = page.frame();
        state.pages.insert(slot, (index, page));
        Ok(FilePage::Frame(frame))
    }

    fn set_mapped(&self, _mapped: bool) {
        // The mappings hold the pages (an `Arc`); the last one's end writes them back (drop).
    }

    fn is_unlinked(&self) -> bool {
        false
    }

    fn prepare(&self, _first: u64, _count: u64) {}
}

impl Drop for HostPages {
    fn drop(&mut self) {
        self.write_back();
        SHARED_LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One `linux_dirent64` record as the host wrote it.
struct Record<'a> {
    ino: u64,
    next_cookie: u64,
    file_type: FileType,
    name: &'a [u8],
}

/// The records of a host listing buffer; stops at the first malformed one.
struct Records<'a> {
    buf: &'a [u8],
}

impl<'a> Records<'a> {
    fn new(buf: &'a [u8]) -> Records<'a> {
        Records { buf }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let header = self.buf.get(..DIRENT64_NAME_OFFSET)?;
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let reclen = usize::from(u16::from_le_bytes([header[16], header[17]]));
        let record = self.buf.get(..reclen).filter(|_| reclen > DIRENT64_NAME_OFFSET)?;
        let name_area = &record[DIRENT64_NAME_OFFSET..];
        let name = &name_area[..name_area.iter().position(|&b| b == 0)?];
        // A type this kernel does not know (a block device) counts as a device, as in
        // `file_type_of`.
        let file_type = FileType::from_dirent_type(header[18]).unwrap_or(FileType::CharDevice);
        let item = Record { ino: word(0), next_cookie: word(8), file_type, name };
        self.buf = &self.buf[reclen..];
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::dirent::write_dirent64;

    /// A window of `len` bytes (byte i is i % 251) of the file from `offset`, read with the
    /// data slot at `stamp`, holding for a second from now.
    fn window(offset: u64, len: usize, stamp: u64) -> ReadAhead {
        let mut ahead = ReadAhead::default();
        assert!(ahead.make_room(len.max(READ_AHEAD_MIN)));
        for (i, byte) in ahead.bytes.iter_mut().enumerate() {
            *byte = (i % 251) as u8;
        }
        (ahead.offset, ahead.len, ahead.stamp, ahead.until_ns) = (offset, len, stamp, now_ns() + KNOWN_FOR_NS);
        ahead
    }

    #[test]
    fn a_window_serves_what_it_holds_while_the_files_data_is_unchanged() {
        let ahead = window(1000, 3000, 7);
        let mut out = [0u8; 100];
        assert_eq!(ahead.copy_out(1000, &mut out, 7), 100);
        assert_eq!(out[..3], [0, 1, 2]);
        assert_eq!(ahead.copy_out(3950, &mut out, 7), 50, "up to the window's end");
        assert_eq!(out[0], (2950 % 251) as u8);
        assert_eq!(ahead.copy_out(4000, &mut out, 7), 0, "past it");
        assert_eq!(ahead.copy_out(999, &mut out, 7), 0, "before it");
        assert_eq!(ahead.copy_out(1000, &mut out, 8), 0, "the guest changed the file's data since");
        let mut expired = window(1000, 3000, 7);
        expired.until_ns = now_ns();
        assert_eq!(expired.copy_out(1000, &mut out, 7), 0, "older than a second");
        assert_eq!(ReadAhead::default().copy_out(0, &mut out, 0), 0, "nothing read yet");
    }

    #[test]
    fn a_budget_refuses_what_would_pass_its_total_and_takes_back_what_is_given() {
        // A budget of its own: the shared one moves with the other tests running at once.
        let budget = MemoryBudget::new(100);
        assert!(budget.take(60));
        assert!(!budget.take(41), "past the total");
        assert_eq!(budget.used.load(Ordering::SeqCst), 60, "a refusal takes nothing");
        assert!(budget.take(40), "up to the total");
        budget.give(60);
        assert!(budget.take(60), "what was given back is there again");
    }

    #[test]
    fn windows_take_their_memory_from_one_budget() {
        let mut ahead = ReadAhead::default();
        assert!(ahead.make_room(READ_AHEAD_MIN));
        assert!(ahead.make_room(READ_AHEAD_MIN), "the buffer is kept between fills");
        assert_eq!(ahead.bytes.len(), READ_AHEAD_MIN);
        let mut greedy = ReadAhead::default();
        assert!(!greedy.make_room(READ_AHEAD_TOTAL + 1), "past the budget");
        assert!(greedy.bytes.is_empty());
        drop(ahead);
        drop(greedy);
        assert_eq!(data_changes((3, 4)) as *const _, data_changes((3, 4)) as *const _);
        let slot = data_changes((3, 4)).load(Ordering::SeqCst);
        data_changed((3, 4));
        assert_eq!(data_changes((3, 4)).load(Ordering::SeqCst), slot + 1);
    }

    #[test]
    fn host_records_parse_and_stop_at_garbage() {
        let mut buf = [0u8; 128];
        let mut at = 0;
        for (name, ino, next, file_type) in
            [(&b"."[..], 1, 10, FileType::Directory), (b"data.db", 42, 20, FileType::Regular)]
        {
            at += write_dirent64(&mut buf[at..], &DirEntry { name, ino, file_type, next_offset: next }).unwrap();
        }
        buf[at + 16] = 3; // a record length shorter than its header
        let records: Vec<_> = Records::new(&buf[..at + 24]).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].name, b"data.db");
        assert_eq!((records[1].ino, records[1].next_cookie), (42, 20));
        assert_eq!(records[1].file_type, FileType::Regular);
        assert_eq!(records[0].file_type, FileType::Directory);
    }

    #[test]
    fn times_encode_now_omit_and_set() {
        let bytes = times_bytes(TimeChange::Now, TimeChange::Set(Timespec { sec: 5, nsec: 7 }));
        let word = |i: usize| i64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!([word(0), word(1), word(2), word(3)], [0, UTIME_NOW, 5, 7]);
        assert_eq!(
            i64::from_le_bytes(times_bytes(TimeChange::Omit, TimeChange::Omit)[8..16].try_into().unwrap()),
            UTIME_OMIT
        );
    }

    #[test]
    fn names_past_name_max_are_refused_before_any_call() {
        assert_eq!(name_copy(&[b'a'; 256]).unwrap_err(), Errno::ENAMETOOLONG);
        assert_eq!(name_copy(b"ok").unwrap(), b"ok");
        assert_eq!(volume_dev(0), makedev(0, 0x40));
    }
}
