//! The writable root: a [`TmpFs`] over the image, as a container's root is an overlay over
//! its image's layers.
//!
//! Every node of the image has a tmpfs node standing for it, made when first needed:
//!
//! - A directory of the image starts *unfilled* (its [`LowerDir`]); the first call that
//!   needs its entries ([`TmpNode::filled`]) makes a node for each entry of the image
//!   directory, and from then on it is an ordinary tmpfs directory (names added, removed,
//!   renamed). Directories a run never looks into cost one node each, and those it never
//!   reaches nothing.
//! - A regular file of the image starts *lower* (its [`LowerFile`]): reads, `stat`, `exec`
//!   and mappings use the image's bytes in place (shared by every VM of the image through
//!   the host's page cache). Its first change ([`TmpNode::copy_up`]: opened for writing,
//!   truncated, written) copies the bytes into the file's own pages, charged to the tmpfs
//!   budget, as overlayfs copies a file up. A shared mapping made of it before the copy
//!   keeps the image's bytes (overlayfs documents the same).
//! - Symlinks copy their target when made.
//!
//! A node that stands for image entry `index` keeps the image's inode number, `index + 1`,
//! and its metadata (mode, times, owner); nodes created later are numbered after the
//! last entry. What the image's nodes take is not charged to the budget: the image holds it.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::budget::SpaceBudget;
use crate::fs::env::Clock;
use crate::fs::image::{ImageFs, ROOT_ENTRY};
use crate::fs::stat::{FileType, Timespec, PERMISSION_BITS, S_IFDIR, S_IFLNK, S_IFREG};
use crate::sync::{SpinLock, SpinLockGuard};
use uvm_abi::hypercall::MemoryChunk;
use uvm_abi::image::EntryKind;

use super::page::{Frames, Page};
use super::{Body, DirBody, FileBody, Meta, NodeState, Shared, TmpFs, TmpNode, CHUNK_SIZE, F_SEAL_SEAL};

/// An image directory whose entries a tmpfs directory has not made yet.
pub(super) struct LowerDir {
    image: Arc<ImageFs>,
    index: u32,
    /// The directory's own node: its entries' parent.
    this: Weak<TmpNode>,
}

impl LowerDir {
    /// How many entries the image directory has.
    pub(super) fn len(&self) -> usize {
        self.image.children(self.index).map(|range| range.len()).unwrap_or(0)
    }
}

/// The image bytes a regular file has until its first change.
pub(super) struct LowerFile {
    /// Where the bytes lie in the image file.
    image_offset: u64,
    bytes: &'static [u8],
}

impl LowerFile {
    /// Copies from `offset` (below the file's size) into `out`.
    pub(super) fn read(&self, offset: u64, out: &mut [u8]) -> usize {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.bytes.len());
        let count = out.len().min(self.bytes.len() - start);
        out[..count].copy_from_slice(&self.bytes[start..start + count]);
        count
    }

    /// `(offset in the image file, size)`.
    pub(super) fn extent(&self) -> (u64, u64) {
        (self.image_offset, self.bytes.len() as u64)
    }
}

impl TmpFs {
    /// The writable root: a file system on device `dev` whose tree starts as the image's
    /// (see the module docs), charging `budget` for what the app adds, its pages in frames
    /// from `frames`. `EIO` if the image's root is malformed.
    pub fn over_image(
        dev: u64,
        budget: Arc<SpaceBudget>,
        frames: Frames,
        clock: Clock,
        image: Arc<ImageFs>,
    ) -> Result<TmpFs, Errno> {
        let first_new_ino = u64::from(image.entry_count()) + 1;
        let shared = Arc::new(Shared {
            dev,
            budget,
            frames,
            clock,
            next_ino: SpinLock::new(first_new_ino),
            tree_lock: SpinLock::new(()),
        });
        // The root's metadata read from its record, not through `ImageFs::stat`: every boot
        // makes it, and a start's kernel code is kept small ("Sizes" in docs/PERFORMANCE.md).
        let entry = image.entry(ROOT_ENTRY)?;
        let nlink = 2 + subdirectories(&image, ROOT_ENTRY).ok_or(Errno::EIO)?;
        let mode = S_IFDIR | (u32::from(entry.mode) & PERMISSION_BITS);
        let (uid, gid) = image.owner(ROOT_ENTRY);
        let meta = Meta::new(mode, uid, gid, nlink, Timespec { sec: entry.mtime, nsec: 0 });
        let root = image_node(&shared, &image, ROOT_ENTRY, meta, None, Weak::new());
        Ok(TmpFs { root })
    }
}

/// The node standing for image entry `index`, with `meta`: a regular file or symlink with
/// `body`, or (`None`) an unfilled directory whose parent is `parent`. (One copy of the node's
/// making for every kind: it runs whenever a directory of the image is first walked.)
#[inline(never)]
fn image_node(
    shared: &Arc<Shared>,
    image: &Arc<ImageFs>,
    index: u32,
    meta: Meta,
    body: Option<Body>,
    parent: Weak<TmpNode>,
) -> Arc<TmpNode> {
    Arc::new_cyclic(|this| {
        let body = body.unwrap_or_else(|| {
            let mut dir = DirBody::new(parent);
            dir.lower = Some(LowerDir { image: image.clone(), index, this: this.clone() });
            Body::Dir(dir)
        });
        TmpNode { ino: u64::from(index) + 1, shared: shared.clone(), state: node_state(meta, body) }
    })
}

/// A node's state: what the image gave it, charged nothing (the image holds it).
fn node_state(meta: Meta, body: Body) -> SpinLock<NodeState> {
    SpinLock::new(NodeState { meta, body, charged: 0, seals: F_SEAL_SEAL, mapped: 0 })
}

/// How many subdirectories image directory `index` has (its link count is 2 more).
fn subdirectories(image: &ImageFs, index: u32) -> Option<u64> {
    let children = image.children(index).ok()?;
    Some(children.filter(|&child| image.kind(child) == Ok(EntryKind::Directory)).count() as u64)
}

/// The node standing for image entry `index` (a directory unfilled, a file lower), whose
/// parent is `parent` if it is a directory; `None` for an entry the image cannot describe.
fn lower_node(
    shared: &Arc<Shared>,
    image: &Arc<ImageFs>,
    index: u32,
    parent: Weak<TmpNode>,
) -> Option<(Arc<TmpNode>, FileType)> {
    let entry = image.entry(index).ok()?;
    let permissions = u32::from(entry.mode) & PERMISSION_BITS;
    let (image_offset, size) = (entry.data.offset, entry.data.size);
    // A directory's link count counts its subdirectories.
    let (type_bits, nlink, body, file_type) = match EntryKind::from_raw(entry.kind)? {
        EntryKind::Directory => (S_IFDIR, 2 + subdirectories(image, index)?, None, FileType::Directory),
        EntryKind::File => {
            let bytes = image.bytes(image_offset, size)?;
            let body = Body::File(FileBody {
                size,
                chunks: Default::default(),
                lower: Some(LowerFile { image_offset, bytes }),
            });
            (S_IFREG, 1, Some(body), FileType::Regular)
        }
        EntryKind::Symlink => {
            (S_IFLNK, 1, Some(Body::Symlink(Vec::from(image.bytes(image_offset, size)?))), FileType::Symlink)
        }
    };
    let (uid, gid) = image.owner(index);
    let meta = Meta::new(type_bits | permissions, uid, gid, nlink, Timespec { sec: entry.mtime, nsec: 0 });
    Some((image_node(shared, image, index, meta, body, parent), file_type))
}

impl TmpNode {
    /// Locks the node, first making a node for each entry of the image directory it stands
    /// for if that has not been done (see the module docs).
    /// (Out of line: the directory calls that need their entries share one copy.)
    #[inline(never)]
    pub(super) fn filled(&self) -> SpinLockGuard<'_, NodeState> {
        let mut state = self.state.lock();
        if let Body::Dir(dir) = &mut state.body {
            if let Some(lower) = dir.lower.take() {
                self.fill(dir, lower);
            }
        }
        state
    }

    #[cold]
    #[inline(never)]
    fn fill(&self, dir: &mut DirBody, lower: LowerDir) {
        let Ok(children) = lower.image.children(lower.index) else {
            return;
        };
        for index in children {
            let Ok(name) = lower.image.name(index) else {
                continue;
            };
            if let Some((node, file_type)) = lower_node(&self.shared, &lower.image, index, lower.this.clone()) {
                dir.insert(name, node, file_type);
            }
        }
    }

    /// Where this file's bytes lie in the image file, `(offset, size)`, while it has not
    /// changed since boot (`None` for anything else): mappings and `exec` use them in place.
    pub fn lower_extent(&self) -> Option<(u64, u64)> {
        match &self.state.lock().body {
            Body::File(FileBody { lower: Some(lower), .. }) => Some(lower.extent()),
            _ => None,
        }
    }

    /// Gives a file of the image its own copy of its bytes, before its first change (see
    /// the module docs): `ENOSPC` when the budget or guest RAM cannot hold them (nothing
    /// changes then). Does nothing for any other node.
    pub fn copy_up(&self) -> Result<(), Errno> {
        let mut state = self.state.lock();
        self.copy_up_locked(&mut state, u64::MAX)
    }

    /// [`TmpNode::copy_up`] under the node's lock, of the first `keep` bytes only (a
    /// truncation keeps no more).
    #[inline]
    pub(super) fn copy_up_locked(&self, state: &mut NodeState, keep: u64) -> Result<(), Errno> {
        match &state.body {
            Body::File(FileBody { lower: Some(_), .. }) => self.copy_up_cold(state, keep),
            _ => Ok(()),
        }
    }

    /// A run of fresh frames for the next `len` bytes (at least `BATCH_MIN_PAGES` pages),
    /// charged and backed by the host: its first frame and the bytes it is for. `None` when
    /// the bytes are fewer, or the budget or a run is not there.
    fn run_for(&self, len: u64) -> Option<(u64, u64)> {
        let pages = len.div_ceil(CHUNK_SIZE as u64);
        if pages < super::BATCH_MIN_PAGES {
            return None;
        }
        let bytes = pages * CHUNK_SIZE as u64;
        self.shared.budget.charge(bytes).ok()?;
        let Some((run, back)) = self.shared.frames.lock().alloc_backed_run(pages) else {
            self.shared.budget.release(bytes);
            return None;
        };
        if let Some((gpa, len)) = back {
            crate::hypercall::back_ram(gpa, len);
        }
        Some((run, len))
    }

    #[cold]
    #[inline(never)]
    fn copy_up_cold(&self, state: &mut NodeState, keep: u64) -> Result<(), Errno> {
        let Body::File(file) = &mut state.body else {
            return Ok(());
        };
        let Some(lower) = &file.lower else {
            return Ok(());
        };
        let kept = &lower.bytes[..usize::try_from(keep).unwrap_or(usize::MAX).min(lower.bytes.len())];
        let mut chunks = super::pages::PageMap::default();
        let mut charged = 0;
        let chunk = CHUNK_SIZE as u64;
        let mut index = 0;
        while index * chunk < kept.len() as u64 {
            let start = index * chunk;
            let left = kept.len() as u64 - start;
            // A run of fresh frames the host backs and fills in one hypercall each (out of its
            // page cache: copied here, the bytes would cost a fault per page of the image
            // mapping and of the run); a page at a time when no run is to be had.
            if let Some((run, len)) = self.run_for(left.min(uvm_abi::hypercall::BACK_RAM_MAX_LEN)) {
                let bytes = &kept[start as usize..(start + len) as usize];
                let chunk_list = [MemoryChunk { gpa: run, len }];
                if crate::hypercall::copy_from_image(lower.image_offset + start, &chunk_list) != len as i64 {
                    crate::arch::phys::write_bytes(run, bytes);
                }
                for k in 0..len.div_ceil(chunk) {
                    chunks.insert(index + k, Page::adopt(run + k * chunk, self.shared.frames));
                }
                charged += len.div_ceil(chunk) * chunk;
                index += len.div_ceil(chunk);
                continue;
            }
            match self.new_charged_page() {
                Ok(mut page) => {
                    page.write(0, &kept[start as usize..(start + left.min(chunk)) as usize]);
                    chunks.insert(index, page);
                    charged += chunk;
                    index += 1;
                }
                Err(e) => {
                    drop(chunks);
                    self.shared.budget.release(charged);
                    return Err(e);
                }
            }
        }
        file.chunks = chunks;
        file.lower = None;
        state.charged += charged;
        Ok(())
    }
}
