//! The handle table: what the VMM holds for each live handle of a VM's volumes. Handles
//! `1..=n` are the `n` volumes' roots, made before boot and never closed; the others are
//! allocated from a free list, up to [`FS_MAX_HANDLES`] in all (`ENFILE` beyond).

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use uvm_abi::hostfs::FS_MAX_HANDLES;

/// What kind of file a handle's is (`S_IFMT` of its mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symlink.
    Symlink,
    /// A device, fifo or socket (found by a lookup; never opened).
    Other,
}

impl Kind {
    /// The kind of a file whose `st_mode` is `mode`.
    pub fn of_mode(mode: u32) -> Kind {
        match mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

/// How a handle's fd was opened.
#[derive(Clone, Debug)]
pub enum Access {
    /// An `O_PATH` fd: names the file, reads and writes nothing.
    Path,
    /// An open file.
    Io {
        /// Opened with `O_APPEND`.
        append: bool,
        /// Held while an op uses the fd's file offset (a directory's lseek + getdents64, an
        /// append's write + lseek), so two such ops on one handle never interleave.
        offset_lock: Arc<Mutex<()>>,
    },
}

/// One live handle.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The index of its volume.
    pub volume: usize,
    /// The host fd (shared with calls in flight: taken out of the table before any host I/O).
    pub fd: Arc<OwnedFd>,
    /// Its file's kind.
    pub kind: Kind,
    /// Its file's host device and inode.
    pub id: (u64, u64),
    /// Path or I/O handle.
    pub access: Access,
}

impl Entry {
    /// Whether it is an I/O handle.
    pub fn is_io(&self) -> bool {
        matches!(self.access, Access::Io { .. })
    }
}

/// The live handles.
pub struct Handles {
    /// Slot `h - 1` holds handle `h`.
    slots: Vec<Option<Entry>>,
    /// Freed handles above the roots, to give out again.
    free: Vec<u64>,
    /// How many handles are roots.
    roots: u64,
}

impl Handles {
    /// A table holding `roots` (handles `1..=roots.len()`).
    pub fn new(roots: Vec<Entry>) -> Handles {
        let count = roots.len() as u64;
        Handles { slots: roots.into_iter().map(Some).collect(), free: Vec::new(), roots: count }
    }

    /// The entry of `handle` (a clone: its fd is shared).
    pub fn get(&self, handle: u64) -> Option<Entry> {
        let index = usize::try_from(handle.checked_sub(1)?).ok()?;
        self.slots.get(index)?.clone()
    }

    /// Stores `entry` under a free handle; `None` when all [`FS_MAX_HANDLES`] are taken.
    pub fn insert(&mut self, entry: Entry) -> Option<u64> {
        if let Some(handle) = self.free.pop() {
            self.slots[(handle - 1) as usize] = Some(entry);
            return Some(handle);
        }
        if self.slots.len() as u64 >= u64::from(FS_MAX_HANDLES) {
            return None;
        }
        self.slots.push(Some(entry));
        Some(self.slots.len() as u64)
    }

    /// Forgets `handle`: false if it is not live. A root stays (true).
    pub fn remove(&mut self, handle: u64) -> bool {
        if (1..=self.roots).contains(&handle) {
            return true;
        }
        let Some(slot) =
            handle.checked_sub(1).and_then(|i| usize::try_from(i).ok()).and_then(|i| self.slots.get_mut(i))
        else {
            return false;
        };
        if slot.take().is_none() {
            return false;
        }
        self.free.push(handle);
        true
    }

    /// How many handles are live (roots included).
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}
