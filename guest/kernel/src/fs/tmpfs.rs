//! [`TmpFs`]: the writable in-memory file system (`/tmp`, `/dev/shm`, `--tmpfs` mounts, and
//! the writable root, whose tree starts as the image's: [`lower`]).
//!
//! A tree of [`TmpNode`]s (directories, regular files, symlinks) held by `Arc`: a directory
//! owns its entries, an open file owns its node, so an unlinked file's data lives on until
//! the last `Arc` drops. File data is stored in 4 KiB pages keyed by page index, each a frame
//! of guest RAM ([`page::Page`]), so files are sparse (holes read as zeros), no file needs a
//! large contiguous allocation, and a shared mapping maps the file's own frames. Every
//! node and chunk is charged to a shared [`SpaceBudget`] (`ENOSPC` when it runs out) and
//! released when dropped. Mode, owner, link count and timestamps are recorded; permission
//! bits are not enforced (the app acts as root towards file permissions).
//!
//! While a mapping uses a file's frames ([`TmpNode::set_mapped`]), a truncate or hole punch
//! zeroes the pages it would free and keeps them, so no page-table entry ever points at a
//! freed frame (Linux would raise SIGBUS for a mapped page past the end; here it reads zeros).
//!
//! Seals (`F_ADD_SEALS`, for `memfd_create`'s files) are kept per file and enforced by
//! `write_at`, `truncate`, `allocate` and `punch_hole`; files made by `open` carry
//! `F_SEAL_SEAL` from the start, as on Linux, so they cannot be sealed.
//!
//! Locking: each node's state has its own lock, and no code holds two node locks at once.
//! Operations that change the tree (create, link, unlink, rmdir, rename) also hold the file
//! system's tree lock, so they see a stable tree while they work step by step.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::budget::SpaceBudget;
use crate::fs::dirent::{DirEntry, FIRST_ENTRY_OFFSET};
use crate::fs::env::Clock;
use crate::fs::path::check_name;
use crate::fs::stat::{
    blocks_for_size, FileType, Stat, TimeChange, Timespec, BLOCK_SIZE, PERMISSION_BITS, S_IFDIR, S_IFIFO, S_IFLNK,
    S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID,
};
use crate::mm::space::FilePage;
use crate::sync::SpinLock;

pub mod lower;
mod offsets;
pub mod page;
mod pages;

use page::{Frames, Page};

/// Size of one data chunk.
pub const CHUNK_SIZE: usize = 4096;
/// The fewest new pages a write takes as one backed run (see `TmpNode::new_pages_for`): below
/// it the hypercall (~18 us) costs more than the faults it saves (~10 us a page).
const BATCH_MIN_PAGES: u64 = 4;
/// What a node costs the budget besides its data: its bookkeeping and its entry in the
/// directory, as measured (20000 empty files in one directory took ~445 bytes of kernel heap
/// each).
pub const NODE_COST: u64 = 512;
/// Free kernel heap that lets a node be made when no frame is left ([`Shared::check_memory_room`]).
const HEAP_ROOM: usize = 64 * 1024;
/// The largest file size (Linux's `MAX_LFS_FILESIZE`).
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// `st_size` a directory reports per entry, as Linux tmpfs does.
const DIRENT_SIZE_ESTIMATE: u64 = 20;

/// Where a write goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePos {
    /// At this offset.
    At(u64),
    /// At the end of the file, atomically (`O_APPEND`).
    End,
}

/// `renameat2` flags this file system implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenameFlags {
    /// `RENAME_NOREPLACE`: `EEXIST` if the new name exists.
    pub no_replace: bool,
    /// `RENAME_EXCHANGE`: swap the two names (both must exist).
    pub exchange: bool,
}

/// A tmpfs instance.
pub struct TmpFs {
    root: Arc<TmpNode>,
}

struct Shared {
    dev: u64,
    budget: Arc<SpaceBudget>,
    frames: Frames,
    clock: Clock,
    next_ino: SpinLock<u64>,
    tree_lock: SpinLock<()>,
}

impl Shared {
    fn now(&self) -> Timespec {
        Timespec::from_clock((self.clock)())
    }

    /// `ENOSPC` when the VM's memory is full: no frame is left but the kernel heap's reserve
    /// (`FrameAllocator::available`) and the heap holds less than [`HEAP_ROOM`] free. A new
    /// node or name lives on the kernel heap, so the file system stops taking them there, as
    /// a full tmpfs does, rather than let the app fill the heap's last memory with them (the
    /// heap cannot fail: an allocation it cannot make ends the VM). The budget alone would
    /// not stop it: it is as large as RAM, and the app's own memory is not charged to it.
    /// (The heap gives pages of freed nodes back: `mm::heap`.)
    fn check_memory_room(&self) -> Result<(), Errno> {
        if self.frames.lock().available() == 0 && crate::mm::heap::bytes_free() < HEAP_ROOM {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    fn next_ino(&self) -> u64 {
        let mut next = self.next_ino.lock();
        let ino = *next;
        *next += 1;
        ino
    }
}

impl TmpFs {
    /// An empty file system on device `dev`, its root directory owned by `uid:gid` with
    /// permissions `root_mode` (`0o1777` for `/tmp`), charging `budget`, its file data in
    /// frames from `frames`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dev: u64,
        budget: Arc<SpaceBudget>,
        frames: Frames,
        clock: Clock,
        root_mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<TmpFs, Errno> {
        let shared =
            Arc::new(Shared { dev, budget, frames, clock, next_ino: SpinLock::new(2), tree_lock: SpinLock::new(()) });
        shared.budget.charge(NODE_COST)?;
        let now = shared.now();
        let root = Arc::new(TmpNode {
            ino: 1,
            shared,
            state: SpinLock::new(NodeState {
                meta: Meta::new(S_IFDIR | (root_mode & PERMISSION_BITS), uid, gid, 2, now),
                body: Body::Dir(DirBody::new(Weak::new())),
                charged: NODE_COST,
                seals: F_SEAL_SEAL,
                mapped: 0,
            }),
        });
        Ok(TmpFs { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Arc<TmpNode> {
        &self.root
    }
}

#[cfg(test)]
impl TmpFs {
    /// For unit tests: a file system on `DEV_TMP` with a budget of `budget` bytes, its root
    /// owned by root with permissions `root_mode`, its pages in the test thread's frames.
    pub fn for_test(budget: u64, clock: Clock, root_mode: u32) -> TmpFs {
        let budget = Arc::new(SpaceBudget::new(budget));
        TmpFs::new(crate::fs::stat::DEV_TMP, budget, page::test_frames(), clock, root_mode, 0, 0)
            .expect("an empty tmpfs fits its budget")
    }
}

/// A file, directory or symlink of a [`TmpFs`].
pub struct TmpNode {
    ino: u64,
    shared: Arc<Shared>,
    state: SpinLock<NodeState>,
}

struct NodeState {
    meta: Meta,
    body: Body,
    /// Bytes this node has taken from the budget (given back when it drops).
    charged: u64,
    /// `F_SEAL_*` bits.
    seals: u32,
    /// Address spaces whose shared mappings use this file's frames.
    mapped: u32,
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

impl Meta {
    fn new(mode: u32, uid: u32, gid: u32, nlink: u64, now: Timespec) -> Meta {
        Meta { mode, uid, gid, nlink, atime: now, mtime: now, ctime: now }
    }

    fn touch_content(&mut self, now: Timespec) {
        self.mtime = now;
        self.ctime = now;
    }
}

enum Body {
    Dir(DirBody),
    File(FileBody),
    Symlink(Vec<u8>),
}

impl Body {
    /// The file's contents, for calls that need a regular file: `EISDIR` for a directory,
    /// `EINVAL` for a symlink.
    fn file(&self) -> Result<&FileBody, Errno> {
        match self {
            Body::File(file) => Ok(file),
            Body::Dir(_) => Err(Errno::EISDIR),
            Body::Symlink(_) => Err(Errno::EINVAL),
        }
    }

    /// [`Body::file`], writable.
    fn file_mut(&mut self) -> Result<&mut FileBody, Errno> {
        match self {
            Body::File(file) => Ok(file),
            Body::Dir(_) => Err(Errno::EISDIR),
            Body::Symlink(_) => Err(Errno::EINVAL),
        }
    }
}

struct DirBody {
    entries: BTreeMap<Vec<u8>, DirSlot>,
    /// Entry names by directory offset: a listing resumes by offset, and offsets never
    /// change while an entry exists, so removing entries mid-listing skips nothing.
    by_offset: offsets::ByOffset,
    next_offset: u64,
    parent: Weak<TmpNode>,
    /// The image directory whose entries this one has yet to make (the writable root's).
    lower: Option<lower::LowerDir>,
}

#[derive(Clone)]
struct DirSlot {
    offset: u64,
    node: Arc<TmpNode>,
    file_type: FileType,
}

impl DirBody {
    fn new(parent: Weak<TmpNode>) -> DirBody {
        DirBody {
            entries: BTreeMap::new(),
            by_offset: offsets::ByOffset::default(),
            next_offset: FIRST_ENTRY_OFFSET,
            parent,
            lower: None,
        }
    }

    fn insert(&mut self, name: &[u8], node: Arc<TmpNode>, file_type: FileType) -> Option<DirSlot> {
        let offset = self.next_offset;
        self.next_offset += 1;
        let old = self.remove(name);
        self.by_offset.push(offset, name);
        self.entries.insert(Vec::from(name), DirSlot { offset, node, file_type });
        old
    }

    fn remove(&mut self, name: &[u8]) -> Option<DirSlot> {
        let slot = self.entries.remove(name)?;
        self.by_offset.remove(slot.offset);
        Some(slot)
    }

    /// How many entries it has (an unfilled one: its image directory's).
    fn len(&self) -> usize {
        match &self.lower {
            Some(lower) => lower.len(),
            None => self.entries.len(),
        }
    }
}

#[derive(Default)]
struct FileBody {
    size: u64,
    chunks: pages::PageMap,
    /// The image bytes it has until its first change (the writable root's files).
    lower: Option<lower::LowerFile>,
}

impl crate::mm::space::SharedPages for TmpNode {
    fn page_frame(&self, index: u64, fill_hole: bool) -> Result<FilePage, Errno> {
        TmpNode::page_frame(self, index, fill_hole)
    }

    fn set_mapped(&self, mapped: bool) {
        TmpNode::set_mapped(self, mapped)
    }

    fn is_unlinked(&self) -> bool {
        TmpNode::is_unlinked(self)
    }

    fn prepare(&self, first: u64, count: u64) {
        let mut state = self.state.lock();
        let state = &mut *state;
        let Body::File(file) = &mut state.body else { return };
        if file.lower.is_some() {
            // The image's bytes, mapped in place: nothing to back.
            return;
        }
        // Only up to the end of the file: past it the mapping's pages are SIGBUS.
        let pages = file.size.div_ceil(CHUNK_SIZE as u64).saturating_sub(first).min(count);
        if let Some(bytes) = self.new_pages_for(file, first * CHUNK_SIZE as u64, pages * CHUNK_SIZE as u64) {
            state.charged += bytes;
        }
    }
}

impl Drop for TmpNode {
    fn drop(&mut self) {
        let charged = self.state.lock().charged;
        self.shared.budget.release(charged);
    }
}

/// `EINVAL` for names a directory entry cannot have; `ENAMETOOLONG` past `NAME_MAX`.
fn check_entry_name(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    check_name(name)
}

/// `F_SEAL_SEAL`: no more seals may be added.
pub const F_SEAL_SEAL: u32 = 0x1;
/// `F_SEAL_SHRINK`: the file may not shrink.
pub const F_SEAL_SHRINK: u32 = 0x2;
/// `F_SEAL_GROW`: the file may not grow.
pub const F_SEAL_GROW: u32 = 0x4;
/// `F_SEAL_WRITE`: the content may not change (no writes, no writable shared mapping).
pub const F_SEAL_WRITE: u32 = 0x8;
/// `F_SEAL_FUTURE_WRITE`: no new writes or writable shared mappings (existing ones stay).
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
/// `F_SEAL_EXEC`: the execute bits may not change.
pub const F_SEAL_EXEC: u32 = 0x20;
/// Every seal Linux knows.
const KNOWN_SEALS: u32 = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

impl TmpNode {
    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The device of the file system this node belongs to.
    pub fn dev(&self) -> u64 {
        self.shared.dev
    }

    /// The node's type.
    pub fn file_type(&self) -> FileType {
        let state = self.state.lock();
        file_type_of(&state.body, state.meta.mode)
    }

    /// Whether no directory entry names this node any more.
    pub fn is_unlinked(&self) -> bool {
        self.state.lock().meta.nlink == 0
    }

    /// Whether `self` and `other` belong to the same file system instance.
    pub fn same_fs(&self, other: &TmpNode) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The node's metadata.
    pub fn stat(&self) -> Stat {
        let state = self.state.lock();
        let (size, blocks) = match &state.body {
            Body::Dir(dir) => ((dir.len() as u64 + 2) * DIRENT_SIZE_ESTIMATE, 0),
            Body::File(FileBody { size, lower: Some(_), .. }) => (*size, blocks_for_size(*size)),
            Body::File(file) => (file.size, file.chunks.len() as u64 * (CHUNK_SIZE as u64 / 512)),
            Body::Symlink(target) => (target.len() as u64, 0),
        };
        Stat {
            dev: self.shared.dev,
            ino: self.ino,
            nlink: state.meta.nlink,
            mode: state.meta.mode,
            uid: state.meta.uid,
            gid: state.meta.gid,
            rdev: 0,
            size,
            blksize: BLOCK_SIZE,
            blocks,
            atime: state.meta.atime,
            mtime: state.meta.mtime,
            ctime: state.meta.ctime,
            mount_id: 0,
        }
    }

    /// The entry `name` of this directory: `ENOTDIR` if this is not one, `ENOENT` if missing.
    pub fn lookup(&self, name: &[u8]) -> Result<Arc<TmpNode>, Errno> {
        Ok(self.lookup_slot(name)?.node)
    }

    fn lookup_slot(&self, name: &[u8]) -> Result<DirSlot, Errno> {
        match &self.filled().body {
            Body::Dir(dir) => dir.entries.get(name).cloned().ok_or(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The parent of this directory (the root is its own parent): `ENOENT` if the parent
    /// is gone.
    pub fn parent(self: &Arc<Self>) -> Result<Arc<TmpNode>, Errno> {
        let parent = match &self.state.lock().body {
            Body::Dir(dir) => dir.parent.clone(),
            _ => return Err(Errno::ENOTDIR),
        };
        if parent.ptr_eq(&Weak::new()) {
            return Ok(self.clone());
        }
        parent.upgrade().ok_or(Errno::ENOENT)
    }

    /// Number of entries in this directory (0 for anything else).
    pub fn entry_count(&self) -> usize {
        match &self.filled().body {
            Body::Dir(dir) => dir.entries.len(),
            _ => 0,
        }
    }

    /// Creates an empty regular file `name` in this directory.
    pub fn create_file(self: &Arc<Self>, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<Arc<TmpNode>, Errno> {
        self.add_node(name, S_IFREG | (mode & PERMISSION_BITS), uid, gid, Body::File(FileBody::default()), 0)
    }

    /// A regular file of this node's file system that no directory names (`memfd_create`):
    /// it lives while it is open or mapped. It starts with the `F_SEAL_*` bits `seals` (the
    /// files `open` makes carry `F_SEAL_SEAL`).
    pub fn create_unlinked_file(&self, mode: u32, uid: u32, gid: u32, seals: u32) -> Result<Arc<TmpNode>, Errno> {
        self.shared.budget.charge(NODE_COST)?;
        Ok(Arc::new(TmpNode {
            ino: self.shared.next_ino(),
            shared: self.shared.clone(),
            state: SpinLock::new(NodeState {
                meta: Meta::new(S_IFREG | (mode & PERMISSION_BITS), uid, gid, 0, self.shared.now()),
                body: Body::File(FileBody::default()),
                charged: NODE_COST,
                seals: seals & KNOWN_SEALS,
                mapped: 0,
            }),
        }))
    }

    /// The file's `F_SEAL_*` bits (`F_GET_SEALS`).
    pub fn seals(&self) -> u32 {
        self.state.lock().seals
    }

    /// `F_ADD_SEALS`: adds `seals`. `EINVAL` for unknown bits or a node that is not a regular
    /// file, `EPERM` once `F_SEAL_SEAL` is set. The caller refuses `F_SEAL_WRITE` while a
    /// writable shared mapping exists (`EBUSY`): only the address space knows.
    pub fn add_seals(&self, seals: u32) -> Result<(), Errno> {
        let mut state = self.state.lock();
        if seals & !KNOWN_SEALS != 0 || !matches!(state.body, Body::File(_)) {
            return Err(Errno::EINVAL);
        }
        if state.seals & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        state.seals |= seals;
        Ok(())
    }

    /// Page `index` of this regular file, for a mapping: its frame; for a hole, with
    /// `fill_hole` a zeroed page made for it (charged to the budget: `ENOSPC` when it is out),
    /// else [`FilePage::Hole`]; [`FilePage::PastEnd`] at or past the end of the file.
    pub fn page_frame(&self, index: u64, fill_hole: bool) -> Result<FilePage, Errno> {
        let mut state = self.state.lock();
        let state = &mut *state;
        self.copy_up_locked(state, u64::MAX)?;
        let file = state.body.file_mut()?;
        if index >= file.size.div_ceil(CHUNK_SIZE as u64) {
            return Ok(FilePage::PastEnd);
        }
        if let Some(page) = file.chunks.get(index) {
            return Ok(FilePage::Frame(page.frame()));
        }
        if !fill_hole {
            return Ok(FilePage::Hole);
        }
        let page = self.new_charged_page()?;
        state.charged += CHUNK_SIZE as u64;
        let frame = page.frame();
        file.chunks.insert(index, page);
        Ok(FilePage::Frame(frame))
    }

    /// An address space starts (`true`) or stops using this file's frames in shared mappings;
    /// while any does, no page of the file is freed (see the module docs).
    pub fn set_mapped(&self, mapped: bool) {
        let mut state = self.state.lock();
        state.mapped = if mapped { state.mapped + 1 } else { state.mapped.saturating_sub(1) };
    }

    /// Creates socket file `name` in this directory (what `bind` of an `AF_UNIX` socket
    /// makes: a file of type `S_IFSOCK` that cannot be opened).
    pub fn create_socket(self: &Arc<Self>, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<Arc<TmpNode>, Errno> {
        self.add_node(name, S_IFSOCK | (mode & PERMISSION_BITS), uid, gid, Body::File(FileBody::default()), 0)
    }

    /// Creates FIFO `name` in this directory (`mknod` with `S_IFIFO`, `mkfifo`): a file of
    /// type `S_IFIFO` whose opens share a named pipe (`fs::fifo`).
    pub fn create_fifo(self: &Arc<Self>, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<Arc<TmpNode>, Errno> {
        self.add_node(name, S_IFIFO | (mode & PERMISSION_BITS), uid, gid, Body::File(FileBody::default()), 0)
    }

    /// Creates an empty directory `name` in this directory.
    pub fn create_dir(self: &Arc<Self>, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<Arc<TmpNode>, Errno> {
        let body = Body::Dir(DirBody::new(Arc::downgrade(self)));
        self.add_node(name, S_IFDIR | (mode & PERMISSION_BITS), uid, gid, body, 0)
    }

    /// Creates symlink `name` -> `target` in this directory (`ENOENT` for an empty target).
    pub fn create_symlink(
        self: &Arc<Self>,
        name: &[u8],
        target: &[u8],
        uid: u32,
        gid: u32,
    ) -> Result<Arc<TmpNode>, Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let extra = target.len() as u64;
        self.add_node(name, S_IFLNK | 0o777, uid, gid, Body::Symlink(Vec::from(target)), extra)
    }

    fn add_node(
        self: &Arc<Self>,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
        body: Body,
        extra: u64,
    ) -> Result<Arc<TmpNode>, Errno> {
        check_entry_name(name)?;
        let _tree = self.shared.tree_lock.lock();
        self.check_can_add(name)?;
        self.shared.check_memory_room()?;
        let cost = NODE_COST + extra;
        self.shared.budget.charge(cost)?;
        let is_dir = matches!(body, Body::Dir(_));
        let file_type = file_type_of(&body, mode);
        let now = self.shared.now();
        let node = Arc::new(TmpNode {
            ino: self.shared.next_ino(),
            shared: self.shared.clone(),
            state: SpinLock::new(NodeState {
                meta: Meta::new(mode, uid, gid, if is_dir { 2 } else { 1 }, now),
                body,
                charged: cost,
                seals: F_SEAL_SEAL,
                mapped: 0,
            }),
        });
        let mut state = self.filled();
        if let Body::Dir(dir) = &mut state.body {
            dir.insert(name, node.clone(), file_type);
        }
        if is_dir {
            state.meta.nlink += 1;
        }
        state.meta.touch_content(now);
        Ok(node)
    }

    /// `ENOTDIR` unless this is a directory, `ENOENT` if it was removed, `EEXIST` if `name`
    /// is taken; `ENOSPC` if the directory has no room for one more entry (see
    /// [`TmpNode::make_room_for_entry`]).
    fn check_can_add(&self, name: &[u8]) -> Result<(), Errno> {
        let mut state = self.filled();
        let Body::Dir(dir) = &mut state.body else {
            return Err(Errno::ENOTDIR);
        };
        if dir.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        dir.by_offset.make_room()?;
        if state.meta.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    /// Makes sure one more entry can be added to this directory without a kernel heap
    /// allocation that could fail: `ENOSPC` if its offset list cannot grow (the VM's memory
    /// is full), as a full tmpfs says. For a rename, before it takes anything apart.
    fn make_room_for_entry(&self) -> Result<(), Errno> {
        match &mut self.filled().body {
            Body::Dir(dir) => dir.by_offset.make_room(),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Adds `name` in this directory as a new hard link to `target`: `EEXIST` if taken,
    /// `EPERM` for a directory, `ENOENT` if `target` was unlinked, `EXDEV` across instances.
    pub fn link(self: &Arc<Self>, name: &[u8], target: &Arc<TmpNode>) -> Result<(), Errno> {
        check_entry_name(name)?;
        let _tree = self.shared.tree_lock.lock();
        self.check_can_add(name)?;
        if !self.same_fs(target) {
            return Err(Errno::EXDEV);
        }
        self.shared.check_memory_room()?;
        let file_type = target.file_type();
        if file_type == FileType::Directory {
            return Err(Errno::EPERM);
        }
        let now = self.shared.now();
        {
            let mut target_state = target.state.lock();
            if target_state.meta.nlink == 0 {
                return Err(Errno::ENOENT);
            }
            target_state.meta.nlink += 1;
            target_state.meta.ctime = now;
        }
        let mut state = self.filled();
        if let Body::Dir(dir) = &mut state.body {
            dir.insert(name, target.clone(), file_type);
        }
        state.meta.touch_content(now);
        Ok(())
    }

    /// Removes the non-directory entry `name`: `ENOENT` if missing, `EISDIR` for a directory.
    pub fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        let _tree = self.shared.tree_lock.lock();
        let slot = self.lookup_slot(name)?;
        if slot.file_type == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        let now = self.shared.now();
        self.remove_entry(name, now);
        let mut child = slot.node.state.lock();
        child.meta.nlink = child.meta.nlink.saturating_sub(1);
        child.meta.ctime = now;
        Ok(())
    }

    /// Removes the empty directory `name`: `ENOENT` if missing, `ENOTDIR` if not a directory,
    /// `ENOTEMPTY` if it has entries.
    pub fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        let _tree = self.shared.tree_lock.lock();
        let slot = self.lookup_slot(name)?;
        if slot.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let now = self.shared.now();
        slot.node.mark_removed_dir(now)?;
        self.remove_entry(name, now);
        let mut state = self.state.lock();
        state.meta.nlink = state.meta.nlink.saturating_sub(1);
        Ok(())
    }

    /// Sets an empty directory's link count to 0 (it is being removed or replaced):
    /// `ENOTEMPTY` if it has entries.
    fn mark_removed_dir(&self, now: Timespec) -> Result<(), Errno> {
        let mut state = self.state.lock();
        if let Body::Dir(dir) = &state.body {
            if dir.len() != 0 {
                return Err(Errno::ENOTEMPTY);
            }
        }
        state.meta.nlink = 0;
        state.meta.ctime = now;
        Ok(())
    }

    fn remove_entry(&self, name: &[u8], now: Timespec) -> Option<DirSlot> {
        let mut state = self.filled();
        let removed = match &mut state.body {
            Body::Dir(dir) => dir.remove(name),
            _ => None,
        };
        state.meta.touch_content(now);
        removed
    }

    fn insert_entry(&self, name: &[u8], slot: &DirSlot, now: Timespec) -> Option<DirSlot> {
        let mut state = self.filled();
        let replaced = match &mut state.body {
            Body::Dir(dir) => dir.insert(name, slot.node.clone(), slot.file_type),
            _ => None,
        };
        state.meta.touch_content(now);
        replaced
    }

    fn adjust_nlink(&self, delta: i64) {
        let mut state = self.state.lock();
        state.meta.nlink = state.meta.nlink.saturating_add_signed(delta);
    }

    fn set_parent(&self, parent: &Arc<TmpNode>, now: Timespec) {
        let mut state = self.state.lock();
        if let Body::Dir(dir) = &mut state.body {
            dir.parent = Arc::downgrade(parent);
        }
        state.meta.ctime = now;
    }

    /// Whether `self` is `node` or one of its ancestors.
    fn is_ancestor_or_self(self: &Arc<Self>, node: &Arc<TmpNode>) -> bool {
        let mut current = node.clone();
        loop {
            if Arc::ptr_eq(self, &current) {
                return true;
            }
            match current.parent() {
                Ok(parent) if !Arc::ptr_eq(&parent, &current) => current = parent,
                _ => return false,
            }
        }
    }

    /// Renames `old_dir/old_name` to `new_dir/new_name` with Linux's rules: a file may
    /// replace a file, a directory an empty directory (`ENOTEMPTY` otherwise), a directory
    /// may not replace a file (`ENOTDIR`) nor a file a directory (`EISDIR`), and a directory
    /// may not move below itself (`EINVAL`). Renaming a file onto itself does nothing.
    pub fn rename(
        old_dir: &Arc<TmpNode>,
        old_name: &[u8],
        new_dir: &Arc<TmpNode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        check_entry_name(new_name)?;
        if !old_dir.same_fs(new_dir) {
            return Err(Errno::EXDEV);
        }
        let _tree = old_dir.shared.tree_lock.lock();
        let old = old_dir.lookup_slot(old_name)?;
        let new = match new_dir.lookup_slot(new_name) {
            Ok(slot) => Some(slot),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if flags.no_replace && new.is_some() {
            return Err(Errno::EEXIST);
        }
        let now = old_dir.shared.now();
        new_dir.make_room_for_entry()?;
        if flags.exchange {
            old_dir.make_room_for_entry()?;
            let new = new.ok_or(Errno::ENOENT)?;
            return Self::exchange(old_dir, old_name, old, new_dir, new_name, new, now);
        }
        if let Some(new) = &new {
            if Arc::ptr_eq(&old.node, &new.node) {
                return Ok(());
            }
        }
        let old_is_dir = old.file_type == FileType::Directory;
        if old_is_dir && old.node.is_ancestor_or_self(new_dir) {
            return Err(Errno::EINVAL);
        }
        if let Some(new) = &new {
            match (old_is_dir, new.file_type == FileType::Directory) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) => new.node.mark_removed_dir(now)?,
                (false, false) => {}
            }
        }
        old_dir.remove_entry(old_name, now);
        let replaced = new_dir.insert_entry(new_name, &old, now);
        if let Some(replaced) = replaced {
            if replaced.file_type == FileType::Directory {
                new_dir.adjust_nlink(-1);
            } else {
                let mut state = replaced.node.state.lock();
                state.meta.nlink = state.meta.nlink.saturating_sub(1);
                state.meta.ctime = now;
            }
        }
        if old_is_dir {
            old.node.set_parent(new_dir, now);
            if !Arc::ptr_eq(old_dir, new_dir) {
                old_dir.adjust_nlink(-1);
                new_dir.adjust_nlink(1);
            }
        } else {
            old.node.state.lock().meta.ctime = now;
        }
        Ok(())
    }

    fn exchange(
        old_dir: &Arc<TmpNode>,
        old_name: &[u8],
        old: DirSlot,
        new_dir: &Arc<TmpNode>,
        new_name: &[u8],
        new: DirSlot,
        now: Timespec,
    ) -> Result<(), Errno> {
        if Arc::ptr_eq(&old.node, &new.node) {
            return Ok(());
        }
        let old_is_dir = old.file_type == FileType::Directory;
        let new_is_dir = new.file_type == FileType::Directory;
        if (old_is_dir && old.node.is_ancestor_or_self(new_dir))
            || (new_is_dir && new.node.is_ancestor_or_self(old_dir))
        {
            return Err(Errno::EINVAL);
        }
        new_dir.insert_entry(new_name, &old, now);
        old_dir.insert_entry(old_name, &new, now);
        if old_is_dir {
            old.node.set_parent(new_dir, now);
        }
        if new_is_dir {
            new.node.set_parent(old_dir, now);
        }
        if old_is_dir != new_is_dir && !Arc::ptr_eq(old_dir, new_dir) {
            let delta = if old_is_dir { 1 } else { -1 };
            new_dir.adjust_nlink(delta);
            old_dir.adjust_nlink(-delta);
        }
        Ok(())
    }

    /// Lists this directory's entries from directory offset `from` (at least
    /// [`FIRST_ENTRY_OFFSET`]) until `visit` returns false. An entry's offset never
    /// changes while it exists, so removing entries mid-listing skips nothing.
    pub fn read_dir(&self, from: u64, visit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<(), Errno> {
        let state = self.filled();
        let Body::Dir(dir) = &state.body else {
            return Err(Errno::ENOTDIR);
        };
        for (offset, name) in dir.by_offset.from(from.max(FIRST_ENTRY_OFFSET)) {
            let Some(slot) = dir.entries.get(name) else {
                continue;
            };
            let entry = DirEntry { name, ino: slot.node.ino, file_type: slot.file_type, next_offset: offset + 1 };
            if !visit(&entry) {
                break;
            }
        }
        Ok(())
    }

    /// The target of this symlink: `EINVAL` if it is not one.
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match &self.state.lock().body {
            Body::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Size of this file's content.
    pub fn size(&self) -> u64 {
        match &self.state.lock().body {
            Body::File(file) => file.size,
            Body::Symlink(target) => target.len() as u64,
            Body::Dir(_) => 0,
        }
    }

    /// Copies from `offset` into `buf`; returns how many bytes (0 at or past the end).
    /// Holes read as zeros. `EISDIR` for a directory.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let file = state.body.file()?;
        if offset >= file.size {
            return Ok(0);
        }
        let count = buf.len().min(usize::try_from(file.size - offset).unwrap_or(usize::MAX));
        let mut done = 0;
        if let Some(lower) = &file.lower {
            done = lower.read(offset, &mut buf[..count]);
        }
        while done < count {
            let position = offset + done as u64;
            let within = (position % CHUNK_SIZE as u64) as usize;
            let step = (CHUNK_SIZE - within).min(count - done);
            let out = &mut buf[done..done + step];
            match file.chunks.get(position / CHUNK_SIZE as u64) {
                Some(page) => page.read(within, out),
                None => out.fill(0),
            }
            done += step;
        }
        let meta = &mut state.meta;
        if meta.atime <= meta.mtime || meta.atime <= meta.ctime {
            meta.atime = self.shared.now();
        }
        Ok(count)
    }

    /// Writes `data` at `pos`; returns the bytes written and the offset just past them.
    /// A write the budget cannot hold in full stops short; `ENOSPC` if nothing fits.
    /// `EFBIG` past [`MAX_FILE_SIZE`].
    pub fn write_at(&self, pos: WritePos, data: &[u8]) -> Result<(usize, u64), Errno> {
        let mut state = self.state.lock();
        let state = &mut *state;
        self.copy_up_locked(state, u64::MAX)?;
        let Body::File(file) = &mut state.body else {
            return Err(Errno::EISDIR);
        };
        let start = match pos {
            WritePos::At(offset) => offset,
            WritePos::End => file.size,
        };
        if data.is_empty() {
            return Ok((0, start));
        }
        if state.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            return Err(Errno::EPERM);
        }
        if start >= MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        if state.seals & F_SEAL_GROW != 0 && start.saturating_add(data.len() as u64) > file.size {
            return Err(Errno::EPERM);
        }
        let count = data.len().min(usize::try_from(MAX_FILE_SIZE - start).unwrap_or(usize::MAX));
        if let Some(pages) = self.new_pages_for(file, start, count as u64) {
            state.charged += pages;
        }
        let mut done = 0;
        while done < count {
            let position = start + done as u64;
            let index = position / CHUNK_SIZE as u64;
            let within = (position % CHUNK_SIZE as u64) as usize;
            let step = (CHUNK_SIZE - within).min(count - done);
            if !file.chunks.contains(index) {
                match self.new_charged_page() {
                    Ok(page) => {
                        state.charged += CHUNK_SIZE as u64;
                        file.chunks.insert(index, page);
                    }
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            if let Some(page) = file.chunks.get_mut(index) {
                page.write(within, &data[done..done + step]);
            }
            done += step;
        }
        let end = start + done as u64;
        file.size = file.size.max(end);
        state.meta.touch_content(self.shared.now());
        Ok((done, end))
    }

    /// Before `len` bytes at `start` are written or mapped: when they need
    /// [`BATCH_MIN_PAGES`] or more new pages, takes them in one run of fresh frames, has the
    /// host back the run in one hypercall (so the first touches take a shadow-page fault per
    /// 8 pages, not one each: writes of new data 1.6x faster, first touches of a shared
    /// mapping's holes 1.5x) and adds them to `file`. Returns the bytes charged; `None`
    /// (nothing done) when the budget or the run is not there, and the pages come one at a
    /// time.
    fn new_pages_for(&self, file: &mut FileBody, start: u64, len: u64) -> Option<u64> {
        let chunk = CHUNK_SIZE as u64;
        let (first, last) = (start / chunk, start.checked_add(len)?.checked_sub(1)? / chunk);
        if last - first + 1 < BATCH_MIN_PAGES {
            // The usual small write: no run to take, and nothing to allocate to find out.
            return None;
        }
        let missing: Vec<u64> = (first..=last).filter(|&i| !file.chunks.contains(i)).collect();
        let count = missing.len() as u64;
        if count < BATCH_MIN_PAGES || count * chunk > uvm_abi::hypercall::BACK_RAM_MAX_LEN {
            return None;
        }
        let bytes = count * chunk;
        self.shared.budget.charge(bytes).ok()?;
        let Some((run, back)) = self.shared.frames.lock().alloc_backed_run(count) else {
            self.shared.budget.release(bytes);
            return None;
        };
        if let Some((gpa, len)) = back {
            crate::hypercall::back_ram(gpa, len);
        }
        for (k, index) in missing.into_iter().enumerate() {
            file.chunks.insert(index, Page::adopt(run + k as u64 * chunk, self.shared.frames));
        }
        Some(bytes)
    }

    /// A zeroed page, charged to the budget: `ENOSPC` if the budget or guest RAM is out.
    fn new_charged_page(&self) -> Result<Page, Errno> {
        let budget = &self.shared.budget;
        budget.charge(CHUNK_SIZE as u64)?;
        Page::new(self.shared.frames).inspect_err(|_| budget.release(CHUNK_SIZE as u64))
    }

    /// Sets the file's size to `len`: drops the chunks past it (giving their bytes back) or
    /// extends it with a hole. `EISDIR` for a directory, `EINVAL` for a symlink, `EFBIG`
    /// past [`MAX_FILE_SIZE`].
    pub fn truncate(&self, len: u64) -> Result<(), Errno> {
        if len > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let mut state = self.state.lock();
        let state = &mut *state;
        self.copy_up_locked(state, len)?;
        let file = state.body.file_mut()?;
        if (len < file.size && state.seals & F_SEAL_SHRINK != 0) || (len > file.size && state.seals & F_SEAL_GROW != 0)
        {
            return Err(Errno::EPERM);
        }
        if len < file.size {
            let first_dropped = len.div_ceil(CHUNK_SIZE as u64);
            if state.mapped > 0 {
                // A mapping may still map these frames: zero them and keep them.
                for index in file.chunks.indices(first_dropped, u64::MAX) {
                    if let Some(page) = file.chunks.get_mut(index) {
                        page.zero(0, CHUNK_SIZE);
                    }
                }
            } else {
                let freed = file.chunks.remove_range(first_dropped, u64::MAX) as u64 * CHUNK_SIZE as u64;
                self.shared.budget.release(freed);
                state.charged = state.charged.saturating_sub(freed);
            }
            let within = (len % CHUNK_SIZE as u64) as usize;
            if within != 0 {
                if let Some(page) = file.chunks.get_mut(len / CHUNK_SIZE as u64) {
                    page.zero(within, CHUNK_SIZE);
                }
            }
        }
        if len != file.size {
            file.size = len;
            state.meta.touch_content(self.shared.now());
        }
        Ok(())
    }

    /// `fallocate(mode 0 / FALLOC_FL_KEEP_SIZE)`: gives every byte of `[offset, offset +
    /// len)` memory (zeros where there was a hole), charged to the budget — `ENOSPC`, with
    /// nothing allocated, if it does not fit — and, unless `keep_size`, grows the file to the
    /// end of the range. `EFBIG` past [`MAX_FILE_SIZE`], `EISDIR`/`EINVAL` for a directory or
    /// symlink.
    pub fn allocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<(), Errno> {
        let end = offset.checked_add(len).filter(|&end| end <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        let mut state = self.state.lock();
        let state = &mut *state;
        self.copy_up_locked(state, u64::MAX)?;
        let file = state.body.file_mut()?;
        if len == 0 {
            return Ok(());
        }
        if !keep_size && end > file.size && state.seals & F_SEAL_GROW != 0 {
            return Err(Errno::EPERM);
        }
        let chunk = CHUNK_SIZE as u64;
        let (first, last) = (offset / chunk, (end - 1) / chunk);
        let present = file.chunks.indices(first, last).len() as u64;
        let missing = (last - first + 1) - present;
        let bytes = missing.checked_mul(chunk).ok_or(Errno::ENOSPC)?;
        self.shared.budget.charge(bytes)?;
        let mut charged_unused = bytes;
        for index in first..=last {
            if !file.chunks.contains(index) {
                match Page::new(self.shared.frames) {
                    Ok(data) => {
                        file.chunks.insert(index, data);
                        charged_unused -= chunk;
                        state.charged += chunk;
                    }
                    Err(e) => {
                        self.shared.budget.release(charged_unused);
                        return Err(e);
                    }
                }
            }
        }
        if !keep_size && end > file.size {
            file.size = end;
            state.meta.touch_content(self.shared.now());
        }
        Ok(())
    }

    /// `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`: `[offset, offset + len)` reads
    /// as zeros afterwards; whole chunks in it are given back (past the end of the file too).
    /// The size stays.
    pub fn punch_hole(&self, offset: u64, len: u64) -> Result<(), Errno> {
        let mut state = self.state.lock();
        let state = &mut *state;
        self.copy_up_locked(state, u64::MAX)?;
        let file = state.body.file_mut()?;
        if state.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            return Err(Errno::EPERM);
        }
        // Chunks past the end (allocated with KEEP_SIZE) go too, as on Linux.
        let end = offset.saturating_add(len);
        if offset >= end {
            return Ok(());
        }
        let chunk = CHUNK_SIZE as u64;
        // The pages wholly in the hole go, unless a mapping may still map them.
        let (whole_first, whole_end) = (offset.div_ceil(chunk), end / chunk);
        let mut freed = 0;
        if state.mapped == 0 && whole_first < whole_end {
            freed = file.chunks.remove_range(whole_first, whole_end - 1) as u64 * chunk;
        }
        // Those left in it, parts of pages or mapped ones, are zeroed in place.
        for index in file.chunks.indices(offset / chunk, (end - 1) / chunk) {
            if let Some(page) = file.chunks.get_mut(index) {
                let (chunk_start, chunk_end) = (index * chunk, index * chunk + chunk);
                let from = (offset.max(chunk_start) - chunk_start) as usize;
                let to = (end.min(chunk_end) - chunk_start) as usize;
                page.zero(from, to);
            }
        }
        self.shared.budget.release(freed);
        state.charged = state.charged.saturating_sub(freed);
        state.meta.touch_content(self.shared.now());
        Ok(())
    }

    /// `SEEK_DATA` (`want_hole` false) or `SEEK_HOLE` (true) from `offset`: the next byte of
    /// data, or the next hole (the end of the file counts as one). `ENXIO` at or past the
    /// end, or when no data follows.
    pub fn seek_data_or_hole(&self, offset: u64, want_hole: bool) -> Result<u64, Errno> {
        let state = self.state.lock();
        let Body::File(file) = &state.body else {
            return Err(Errno::EINVAL);
        };
        if offset >= file.size {
            return Err(Errno::ENXIO);
        }
        if file.lower.is_some() {
            // The image's bytes have no holes.
            return Ok(if want_hole { file.size } else { offset });
        }
        let chunk = CHUNK_SIZE as u64;
        let first = offset / chunk;
        if want_hole {
            let mut index = first;
            while file.chunks.contains(index) {
                index += 1;
            }
            Ok((index * chunk).max(offset).min(file.size))
        } else {
            match file.chunks.first_from(first) {
                Some(index) if index * chunk < file.size => Ok((index * chunk).max(offset)),
                _ => Err(Errno::ENXIO),
            }
        }
    }

    /// `chmod`: sets the permission bits (the type bits stay). `EPERM` for a change of the
    /// execute bits of a file sealed with `F_SEAL_EXEC`.
    pub fn set_mode(&self, mode: u32) -> Result<(), Errno> {
        let now = self.shared.now();
        let mut state = self.state.lock();
        if state.seals & F_SEAL_EXEC != 0 && (state.meta.mode ^ mode) & 0o111 != 0 {
            return Err(Errno::EPERM);
        }
        state.meta.mode = (state.meta.mode & !PERMISSION_BITS) | (mode & PERMISSION_BITS);
        state.meta.ctime = now;
        Ok(())
    }

    /// `chown`: sets the owner and/or group; like Linux, clears set-user-ID (and
    /// set-group-ID on group-executable files) of a non-directory.
    pub fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) {
        let now = self.shared.now();
        let mut state = self.state.lock();
        let is_dir = matches!(state.body, Body::Dir(_));
        let meta = &mut state.meta;
        if let Some(uid) = uid {
            meta.uid = uid;
        }
        if let Some(gid) = gid {
            meta.gid = gid;
        }
        if !is_dir && (uid.is_some() || gid.is_some()) {
            meta.mode &= !S_ISUID;
            if meta.mode & 0o010 != 0 {
                meta.mode &= !S_ISGID;
            }
        }
        meta.ctime = now;
    }

    /// `utimensat`: sets the access and modification times (the change time becomes now,
    /// unless both are omitted).
    pub fn set_times(&self, atime: TimeChange, mtime: TimeChange) {
        if atime == TimeChange::Omit && mtime == TimeChange::Omit {
            return;
        }
        let now = self.shared.now();
        let mut state = self.state.lock();
        let pick = |change: TimeChange, current: Timespec| match change {
            TimeChange::Now => now,
            TimeChange::Omit => current,
            TimeChange::Set(time) => time,
        };
        state.meta.atime = pick(atime, state.meta.atime);
        state.meta.mtime = pick(mtime, state.meta.mtime);
        state.meta.ctime = now;
    }
}

/// The type of a node with `body` and `mode`: a file body stands for a regular file, a
/// socket file (`bind`) or a FIFO (`mknod`), as its mode says.
fn file_type_of(body: &Body, mode: u32) -> FileType {
    match body {
        Body::Dir(_) => FileType::Directory,
        Body::File(_) => match mode & S_IFMT {
            S_IFSOCK => FileType::Socket,
            S_IFIFO => FileType::Fifo,
            _ => FileType::Regular,
        },
        Body::Symlink(_) => FileType::Symlink,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::stat::DEV_TMP;
    use alloc::vec;
    use core::sync::atomic::{AtomicI64, Ordering};

    static CLOCK: AtomicI64 = AtomicI64::new(1000);

    fn tick() -> (i64, u32) {
        (CLOCK.fetch_add(1, Ordering::Relaxed), 0)
    }

    fn fs_with_budget(bytes: u64) -> (TmpFs, Arc<SpaceBudget>) {
        let budget = Arc::new(SpaceBudget::new(bytes));
        (TmpFs::new(DEV_TMP, budget.clone(), page::test_frames(), tick, 0o1777, 0, 0).unwrap(), budget)
    }

    fn fs() -> TmpFs {
        fs_with_budget(1 << 30).0
    }

    fn names(dir: &TmpNode) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        dir.read_dir(0, &mut |e| {
            out.push(e.name.to_vec());
            true
        })
        .unwrap();
        out
    }

    fn read_all(node: &TmpNode) -> Vec<u8> {
        let mut buf = vec![0u8; node.size() as usize];
        assert_eq!(node.read_at(0, &mut buf), Ok(buf.len()));
        buf
    }

    #[test]
    fn root_and_create() {
        let fs = fs();
        let root = fs.root();
        let st = root.stat();
        assert_eq!((st.mode, st.nlink, st.ino, st.dev), (S_IFDIR | 0o1777, 2, 1, DEV_TMP));
        assert!(Arc::ptr_eq(&root.parent().unwrap(), root));
        let file = root.create_file(b"f", 0o640 | S_IFDIR, 5, 6).unwrap();
        let st = file.stat();
        assert_eq!((st.mode, st.uid, st.gid, st.nlink, st.size), (S_IFREG | 0o640, 5, 6, 1, 0));
        assert_eq!(file.file_type(), FileType::Regular);
        assert_eq!(root.create_file(b"f", 0o644, 0, 0).err(), Some(Errno::EEXIST));
        assert_eq!(root.create_dir(b"f", 0o755, 0, 0).err(), Some(Errno::EEXIST));
        for bad in [&b""[..], b".", b"..", b"a/b"] {
            assert_eq!(root.create_file(bad, 0o644, 0, 0).err(), Some(Errno::EINVAL));
        }
        assert_eq!(root.create_file(&[b'x'; 256], 0o644, 0, 0).err(), Some(Errno::ENAMETOOLONG));
        assert_eq!(file.create_file(b"x", 0o644, 0, 0).err(), Some(Errno::ENOTDIR));
        assert_eq!(file.lookup(b"x").err(), Some(Errno::ENOTDIR));
        assert_eq!(file.parent().err(), Some(Errno::ENOTDIR));
        let dir = root.create_dir(b"d", 0o755, 0, 0).unwrap();
        assert_eq!(root.stat().nlink, 3);
        assert!(Arc::ptr_eq(&dir.parent().unwrap(), root));
        assert!(Arc::ptr_eq(&root.lookup(b"d").unwrap(), &dir));
        assert_eq!(root.lookup(b"nope").err(), Some(Errno::ENOENT));
        let link = dir.create_symlink(b"l", b"../f", 0, 0).unwrap();
        assert_eq!(link.readlink().unwrap(), b"../f");
        assert_eq!(link.stat().mode, S_IFLNK | 0o777);
        assert_eq!(link.stat().size, 4);
        assert_eq!(dir.create_symlink(b"e", b"", 0, 0).err(), Some(Errno::ENOENT));
        assert_eq!(file.readlink().err(), Some(Errno::EINVAL));
        assert_eq!(names(root), vec![b"f".to_vec(), b"d".to_vec()], "listing is in creation order");
        assert_eq!(root.entry_count(), 2);
        assert!(file.ino() != dir.ino() && dir.ino() != link.ino());
        assert_eq!(file.dev(), DEV_TMP);
    }

    #[test]
    fn write_read_and_truncate() {
        let fs = fs();
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        assert_eq!(file.write_at(WritePos::At(0), b"hello"), Ok((5, 5)));
        assert_eq!(file.write_at(WritePos::End, b" world"), Ok((6, 11)));
        assert_eq!(read_all(&file), b"hello world");
        let mut buf = [0u8; 4];
        assert_eq!(file.read_at(6, &mut buf), Ok(4));
        assert_eq!(&buf, b"worl");
        assert_eq!(file.read_at(11, &mut buf), Ok(0));
        assert_eq!(file.read_at(u64::MAX, &mut buf), Ok(0));
        assert_eq!(file.write_at(WritePos::At(3), b""), Ok((0, 3)));
        // A write across a chunk boundary.
        let data: Vec<u8> = (0..10000u32).map(|i| i as u8).collect();
        assert_eq!(file.write_at(WritePos::At(4000), &data), Ok((10000, 14000)));
        let mut back = vec![0u8; 10000];
        assert_eq!(file.read_at(4000, &mut back), Ok(10000));
        assert_eq!(back, data);
        assert_eq!(file.stat().blocks, 4 * 8);
        // Shrinking zeroes the tail, so growing again reads zeros.
        file.truncate(3).unwrap();
        assert_eq!(read_all(&file), b"hel");
        file.truncate(8).unwrap();
        assert_eq!(read_all(&file), b"hel\0\0\0\0\0");
        assert_eq!(file.stat().blocks, 8);
        assert_eq!(file.truncate(MAX_FILE_SIZE + 1), Err(Errno::EFBIG));
        assert_eq!(file.write_at(WritePos::At(MAX_FILE_SIZE), b"x"), Err(Errno::EFBIG));
        assert_eq!(fs.root().read_at(0, &mut buf), Err(Errno::EISDIR));
        assert_eq!(fs.root().write_at(WritePos::At(0), b"x"), Err(Errno::EISDIR));
        assert_eq!(fs.root().truncate(0), Err(Errno::EISDIR));
        let link = fs.root().create_symlink(b"l", b"f", 0, 0).unwrap();
        assert_eq!(link.truncate(0), Err(Errno::EINVAL));
        assert_eq!(link.read_at(0, &mut buf), Err(Errno::EINVAL));
    }

    #[test]
    fn large_sparse_files_cost_only_their_data() {
        let (fs, budget) = fs_with_budget(64 * 1024);
        let file = fs.root().create_file(b"sparse", 0o644, 0, 0).unwrap();
        let before = budget.used();
        file.truncate(1 << 40).unwrap();
        assert_eq!(file.stat().size, 1 << 40);
        assert_eq!(budget.used(), before);
        assert_eq!(file.write_at(WritePos::At((1 << 40) - 2), b"end"), Ok((3, (1 << 40) + 1)));
        assert_eq!(file.write_at(WritePos::At(1 << 30), b"mid"), Ok((3, (1 << 30) + 3)));
        assert_eq!(budget.used(), before + 3 * CHUNK_SIZE as u64);
        let mut buf = [9u8; 8];
        assert_eq!(file.read_at(12345, &mut buf), Ok(8));
        assert_eq!(buf, [0; 8]);
        assert_eq!(file.read_at((1 << 30) - 1, &mut buf[..5]), Ok(5));
        assert_eq!(&buf[..5], b"\0mid\0");
        assert_eq!(file.seek_data_or_hole(0, false), Ok(1 << 30));
        assert_eq!(file.seek_data_or_hole(0, true), Ok(0));
        assert_eq!(file.seek_data_or_hole(1 << 30, true), Ok((1 << 30) + CHUNK_SIZE as u64));
        assert_eq!(file.seek_data_or_hole((1 << 30) + 1, false), Ok((1 << 30) + 1));
        assert_eq!(file.seek_data_or_hole((1 << 40) - 1, true), Ok((1 << 40) + 1));
        assert_eq!(file.seek_data_or_hole((1 << 40) + 1, false), Err(Errno::ENXIO));
        file.truncate(1 << 20).unwrap();
        assert_eq!(budget.used(), before);
        assert_eq!(file.seek_data_or_hole(0, false), Err(Errno::ENXIO));
        assert_eq!(fs.root().seek_data_or_hole(0, false), Err(Errno::EINVAL));
        drop(file);
        fs.root().unlink(b"sparse").unwrap();
        assert_eq!(budget.used(), NODE_COST, "only the root is left");
    }

    #[test]
    fn the_budget_bounds_data_and_nodes() {
        let (fs, budget) = fs_with_budget(NODE_COST * 2 + 2 * CHUNK_SIZE as u64);
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        let data = vec![1u8; 3 * CHUNK_SIZE];
        assert_eq!(file.write_at(WritePos::At(0), &data), Ok((2 * CHUNK_SIZE, 2 * CHUNK_SIZE as u64)), "a short write");
        assert_eq!(file.write_at(WritePos::End, b"x"), Err(Errno::ENOSPC));
        assert_eq!(file.write_at(WritePos::At(5), b"in place"), Ok((8, 13)), "existing chunks need no budget");
        assert_eq!(budget.used(), budget.limit());
        assert_eq!(fs.root().create_file(b"g", 0o644, 0, 0).err(), Some(Errno::ENOSPC));
        assert_eq!(fs.root().create_symlink(b"l", b"f", 0, 0).err(), Some(Errno::ENOSPC));
        file.truncate(0).unwrap();
        assert_eq!(budget.used(), 2 * NODE_COST);
    }

    #[test]
    fn unlink_while_open_keeps_the_data() {
        let (fs, budget) = fs_with_budget(1 << 20);
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        file.write_at(WritePos::At(0), b"still here").unwrap();
        let used = budget.used();
        fs.root().unlink(b"f").unwrap();
        assert!(file.is_unlinked());
        assert_eq!(fs.root().lookup(b"f").err(), Some(Errno::ENOENT));
        assert_eq!(read_all(&file), b"still here");
        assert_eq!(file.write_at(WritePos::End, b"!"), Ok((1, 11)));
        assert_eq!(budget.used(), used);
        assert_eq!(fs.root().link(b"again", &file), Err(Errno::ENOENT), "an unlinked file cannot be linked");
        drop(file);
        assert_eq!(budget.used(), NODE_COST);
    }

    #[test]
    fn unlink_rmdir_and_links() {
        let fs = fs();
        let root = fs.root();
        let dir = root.create_dir(b"d", 0o755, 0, 0).unwrap();
        let file = dir.create_file(b"f", 0o644, 0, 0).unwrap();
        assert_eq!(root.unlink(b"d"), Err(Errno::EISDIR));
        assert_eq!(root.unlink(b"nope"), Err(Errno::ENOENT));
        assert_eq!(root.rmdir(b"d"), Err(Errno::ENOTEMPTY));
        assert_eq!(dir.rmdir(b"f"), Err(Errno::ENOTDIR));
        assert_eq!(root.rmdir(b"nope"), Err(Errno::ENOENT));
        root.link(b"hard", &file).unwrap();
        assert_eq!(file.stat().nlink, 2);
        assert_eq!(root.link(b"hard", &file), Err(Errno::EEXIST));
        assert_eq!(root.link(b"dirlink", &dir), Err(Errno::EPERM));
        let other = TmpFs::for_test(1 << 20, tick, 0o755);
        assert_eq!(other.root().link(b"x", &file), Err(Errno::EXDEV));
        dir.unlink(b"f").unwrap();
        assert_eq!(file.stat().nlink, 1);
        assert!(!file.is_unlinked());
        assert!(Arc::ptr_eq(&root.lookup(b"hard").unwrap(), &file));
        assert_eq!(root.stat().nlink, 3);
        root.rmdir(b"d").unwrap();
        assert_eq!(root.stat().nlink, 2);
        assert_eq!(dir.stat().nlink, 0);
        assert_eq!(dir.create_file(b"late", 0o644, 0, 0).err(), Some(Errno::ENOENT), "a removed dir takes no entries");
        assert_eq!(names(root), vec![b"hard".to_vec()]);
    }

    #[test]
    fn rename_cases() {
        let fs = fs();
        let root = fs.root();
        let a = root.create_file(b"a", 0o644, 0, 0).unwrap();
        let b = root.create_file(b"b", 0o644, 0, 0).unwrap();
        let d1 = root.create_dir(b"d1", 0o755, 0, 0).unwrap();
        let d2 = root.create_dir(b"d2", 0o755, 0, 0).unwrap();
        let full = root.create_dir(b"full", 0o755, 0, 0).unwrap();
        full.create_file(b"x", 0o644, 0, 0).unwrap();
        let none = RenameFlags::default();

        // File over file: the old target loses its link.
        TmpNode::rename(root, b"a", root, b"b", none).unwrap();
        assert!(Arc::ptr_eq(&root.lookup(b"b").unwrap(), &a));
        assert_eq!(root.lookup(b"a").err(), Some(Errno::ENOENT));
        assert!(b.is_unlinked());
        // Onto itself: nothing happens.
        TmpNode::rename(root, b"b", root, b"b", none).unwrap();
        root.link(b"b2", &a).unwrap();
        TmpNode::rename(root, b"b", root, b"b2", none).unwrap();
        assert!(root.lookup(b"b").is_ok(), "hard links to the same file: a no-op");
        // Type mismatches.
        assert_eq!(TmpNode::rename(root, b"d1", root, b"b", none), Err(Errno::ENOTDIR));
        assert_eq!(TmpNode::rename(root, b"b", root, b"d1", none), Err(Errno::EISDIR));
        assert_eq!(TmpNode::rename(root, b"d1", root, b"full", none), Err(Errno::ENOTEMPTY));
        assert_eq!(TmpNode::rename(root, b"missing", root, b"x", none), Err(Errno::ENOENT));
        // A directory cannot move below itself.
        assert_eq!(TmpNode::rename(root, b"d1", &d1, b"sub", none), Err(Errno::EINVAL));
        let inner = d1.create_dir(b"inner", 0o755, 0, 0).unwrap();
        assert_eq!(TmpNode::rename(root, b"d1", &inner, b"sub", none), Err(Errno::EINVAL));
        // Dir over empty dir, across parents: link counts follow.
        assert_eq!(root.stat().nlink, 5);
        TmpNode::rename(&d1, b"inner", &d2, b"moved", none).unwrap();
        assert_eq!((d1.stat().nlink, d2.stat().nlink), (2, 3));
        assert!(Arc::ptr_eq(&inner.parent().unwrap(), &d2));
        TmpNode::rename(root, b"d1", &d2, b"moved", none).unwrap();
        assert_eq!(inner.stat().nlink, 0, "the replaced empty dir is gone");
        assert_eq!((root.stat().nlink, d2.stat().nlink), (4, 3));
        assert!(Arc::ptr_eq(&d1.parent().unwrap(), &d2));
        // RENAME_NOREPLACE and RENAME_EXCHANGE.
        let no_replace = RenameFlags { no_replace: true, exchange: false };
        assert_eq!(TmpNode::rename(root, b"b", root, b"b2", no_replace), Err(Errno::EEXIST));
        TmpNode::rename(root, b"b", root, b"c", no_replace).unwrap();
        let exchange = RenameFlags { no_replace: false, exchange: true };
        assert_eq!(TmpNode::rename(root, b"c", root, b"zz", exchange), Err(Errno::ENOENT));
        TmpNode::rename(root, b"c", &d2, b"moved", exchange).unwrap();
        assert!(Arc::ptr_eq(&root.lookup(b"c").unwrap(), &d1));
        assert!(Arc::ptr_eq(&d2.lookup(b"moved").unwrap(), &a));
        assert!(Arc::ptr_eq(&d1.parent().unwrap(), root));
        assert_eq!((root.stat().nlink, d2.stat().nlink), (5, 2));
        assert_eq!(TmpNode::rename(root, b"d2", &d2, b"moved", exchange), Err(Errno::EINVAL));
        assert_eq!(TmpNode::rename(root, b"c", root, b"a/b", none), Err(Errno::EINVAL));
        let other = TmpFs::for_test(1 << 20, tick, 0o755);
        assert_eq!(TmpNode::rename(root, b"c", other.root(), b"c", none), Err(Errno::EXDEV));
    }

    #[test]
    fn listing_resumes_by_offset_while_entries_go() {
        let fs = fs();
        let root = fs.root();
        for i in 0..10 {
            root.create_file(alloc::format!("f{i}").as_bytes(), 0o644, 0, 0).unwrap();
        }
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let mut batch = Vec::new();
            root.read_dir(offset, &mut |e| {
                batch.push((e.name.to_vec(), e.next_offset));
                batch.len() < 3
            })
            .unwrap();
            if batch.is_empty() {
                break;
            }
            offset = batch.last().unwrap().1;
            for (name, _) in &batch {
                root.unlink(name).unwrap();
            }
            seen.extend(batch.into_iter().map(|(name, _)| name));
        }
        assert_eq!(seen.len(), 10, "deleting while listing skips nothing");
        assert_eq!(root.entry_count(), 0);
        assert_eq!(root.stat().size, 40);
        let file = root.create_file(b"x", 0o644, 0, 0).unwrap();
        assert_eq!(file.read_dir(0, &mut |_| true), Err(Errno::ENOTDIR));
    }

    #[test]
    fn metadata_changes_are_recorded() {
        let fs = fs();
        let file = fs.root().create_file(b"f", 0o4755, 0, 0).unwrap();
        let created = file.stat();
        file.set_mode(0o600 | S_IFDIR).unwrap();
        let st = file.stat();
        assert_eq!(st.mode, S_IFREG | 0o600);
        assert!(st.ctime > created.ctime);
        file.set_mode(0o6750).unwrap();
        file.set_owner(Some(7), None);
        let st = file.stat();
        assert_eq!((st.uid, st.gid, st.mode), (7, 0, S_IFREG | 0o750), "chown clears setuid and setgid");
        file.set_owner(None, Some(9));
        assert_eq!((file.stat().uid, file.stat().gid), (7, 9));
        file.set_times(TimeChange::Set(Timespec { sec: 5, nsec: 6 }), TimeChange::Omit);
        let st = file.stat();
        assert_eq!(st.atime, Timespec { sec: 5, nsec: 6 });
        assert_eq!(st.mtime, created.mtime);
        let before = file.stat();
        file.set_times(TimeChange::Omit, TimeChange::Omit);
        assert_eq!(file.stat(), before);
        file.set_times(TimeChange::Omit, TimeChange::Now);
        assert!(file.stat().mtime > created.mtime);
        // Writes move mtime; reads move atime only when it is older (relatime).
        file.set_times(TimeChange::Set(Timespec { sec: 1, nsec: 0 }), TimeChange::Set(Timespec { sec: 2, nsec: 0 }));
        file.write_at(WritePos::At(0), b"x").unwrap();
        let written = file.stat();
        assert!(written.mtime.sec > 2);
        let mut buf = [0u8; 1];
        file.read_at(0, &mut buf).unwrap();
        assert!(file.stat().atime > written.mtime);
        let dir_before = fs.root().stat();
        fs.root().create_file(b"g", 0o644, 0, 0).unwrap();
        assert!(fs.root().stat().mtime > dir_before.mtime);
    }

    #[test]
    fn page_frames_hold_the_file_bytes_and_holes_get_zeroed_pages() {
        let (fs, budget) = fs_with_budget(1 << 20);
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        file.write_at(WritePos::At(5000), b"data").unwrap();
        let used = budget.used();
        let Ok(FilePage::Frame(frame)) = file.page_frame(1, false) else { panic!("page 1 exists") };
        let mut bytes = [0u8; 4];
        crate::arch::phys::read_bytes(frame + 5000 - 4096, &mut bytes);
        assert_eq!(&bytes, b"data");
        assert_eq!(file.page_frame(2, true), Ok(FilePage::PastEnd));
        assert_eq!(file.page_frame(0, false), Ok(FilePage::Hole), "a hole, left as it is");
        assert_eq!(budget.used(), used);
        let Ok(FilePage::Frame(hole)) = file.page_frame(0, true) else { panic!("a hole filled on request") };
        assert_ne!(hole, frame);
        assert_eq!(budget.used(), used + CHUNK_SIZE as u64, "charged like a written page");
        crate::arch::phys::write_bytes(hole + 10, b"mapped");
        let mut out = [0u8; 6];
        file.read_at(10, &mut out).unwrap();
        assert_eq!(&out, b"mapped", "a store into the frame is the file's content");
    }

    #[test]
    fn a_write_of_many_new_pages_takes_them_as_one_run() {
        let (fs, budget) = fs_with_budget(1 << 20);
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        file.write_at(WritePos::At(0), b"x").unwrap();
        let data: Vec<u8> = (0..6 * CHUNK_SIZE).map(|i| (i % 251) as u8).collect();
        assert_eq!(file.write_at(WritePos::At(100), &data), Ok((data.len(), 100 + data.len() as u64)));
        let frame = |i| match file.page_frame(i, false) {
            Ok(FilePage::Frame(f)) => f,
            other => panic!("page {i}: {other:?}"),
        };
        for i in 2..7 {
            assert_eq!(frame(i), frame(1) + (i - 1) * CHUNK_SIZE as u64, "pages 1..=6 are one run");
        }
        assert_eq!(budget.used(), NODE_COST * 2 + 7 * CHUNK_SIZE as u64);
        let mut back = vec![0u8; data.len()];
        file.read_at(100, &mut back).unwrap();
        assert_eq!(back, data);
        let mut first = [0u8; 1];
        file.read_at(0, &mut first).unwrap();
        assert_eq!(&first, b"x", "the page that was there is kept");
    }

    #[test]
    fn holes_about_to_be_mapped_get_one_run_up_to_the_end() {
        use crate::mm::space::SharedPages;
        let fs = fs();
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        file.truncate(10 * CHUNK_SIZE as u64).unwrap();
        file.write_at(WritePos::At(3 * CHUNK_SIZE as u64), b"kept").unwrap();
        let present = file.page_frame(3, false);
        file.prepare(2, 16);
        let frame = |i| match file.page_frame(i, false) {
            Ok(FilePage::Frame(f)) => f,
            other => panic!("page {i}: {other:?}"),
        };
        assert_eq!(Ok(FilePage::Frame(frame(3))), present, "a page that was there stays");
        assert_eq!(frame(4), frame(2) + CHUNK_SIZE as u64, "the holes are one run");
        assert_eq!(frame(9), frame(2) + 6 * CHUNK_SIZE as u64, "holes 2, 4..=9: seven pages");
        assert_eq!(file.page_frame(10, false), Ok(FilePage::PastEnd), "nothing past the end");
        assert_eq!(file.page_frame(1, false), Ok(FilePage::Hole), "nothing before the range");
    }

    #[test]
    fn pages_of_a_mapped_file_are_zeroed_not_freed() {
        let (fs, budget) = fs_with_budget(1 << 20);
        let file = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        file.write_at(WritePos::At(0), &[7u8; 3 * CHUNK_SIZE]).unwrap();
        let Ok(FilePage::Frame(frame)) = file.page_frame(2, false) else { panic!("page 2 exists") };
        let used = budget.used();
        file.set_mapped(true);
        file.truncate(CHUNK_SIZE as u64).unwrap();
        file.punch_hole(0, CHUNK_SIZE as u64).unwrap();
        assert_eq!(budget.used(), used, "nothing freed while mapped");
        let mut byte = [1u8];
        crate::arch::phys::read_bytes(frame + 100, &mut byte);
        assert_eq!(byte, [0], "the cut-off page reads zeros through a mapping");
        file.truncate(3 * CHUNK_SIZE as u64).unwrap();
        assert_eq!(file.page_frame(2, false), Ok(FilePage::Frame(frame)), "the kept page serves the file again");
        let mut out = [9u8; 4];
        file.read_at(2 * CHUNK_SIZE as u64, &mut out).unwrap();
        assert_eq!(out, [0; 4]);
        file.set_mapped(false);
        file.truncate(0).unwrap();
        assert_eq!(budget.used(), used - 3 * CHUNK_SIZE as u64, "freed once no mapping is left");
    }

    #[test]
    fn seals_are_kept_and_enforced() {
        let fs = fs();
        let opened = fs.root().create_file(b"f", 0o644, 0, 0).unwrap();
        assert_eq!(opened.seals(), F_SEAL_SEAL, "files made by open cannot be sealed");
        assert_eq!(opened.add_seals(F_SEAL_WRITE), Err(Errno::EPERM));
        let memfd = fs.root().create_unlinked_file(0o777, 0, 0, 0).unwrap();
        assert!(memfd.is_unlinked());
        assert_eq!(memfd.seals(), 0);
        memfd.write_at(WritePos::At(0), b"abc").unwrap();
        assert_eq!(memfd.add_seals(0x40), Err(Errno::EINVAL), "unknown seal");
        memfd.add_seals(F_SEAL_GROW | F_SEAL_SHRINK).unwrap();
        assert_eq!(memfd.write_at(WritePos::At(1), b"XY"), Ok((2, 3)), "a write inside the size");
        assert_eq!(memfd.write_at(WritePos::At(2), b"XY"), Err(Errno::EPERM), "a write that grows");
        assert_eq!(memfd.truncate(1), Err(Errno::EPERM));
        assert_eq!(memfd.truncate(10), Err(Errno::EPERM));
        assert_eq!(memfd.allocate(0, 10, false), Err(Errno::EPERM));
        memfd.add_seals(F_SEAL_WRITE | F_SEAL_SEAL).unwrap();
        assert_eq!(memfd.write_at(WritePos::At(0), b"z"), Err(Errno::EPERM));
        assert_eq!(memfd.punch_hole(0, 1), Err(Errno::EPERM));
        assert_eq!(memfd.add_seals(F_SEAL_EXEC), Err(Errno::EPERM), "sealed against more seals");
        let no_exec = fs.root().create_unlinked_file(0o777, 0, 0, F_SEAL_EXEC).unwrap();
        assert_eq!(no_exec.set_mode(0o666), Err(Errno::EPERM), "F_SEAL_EXEC: the x bits stay");
        assert_eq!(no_exec.set_mode(0o755), Ok(()), "the others may change");
        assert_eq!(memfd.seals(), F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE | F_SEAL_SEAL);
    }
}
