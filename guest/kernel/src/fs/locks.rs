//! Advisory file locks between processes: `flock` locks, held by an open file description
//! on a whole file, and `fcntl` record locks on byte ranges, held by a process (`F_SETLK`,
//! `F_GETLK`) or by an open file description (the `F_OFD_*` commands). As on Linux, the two
//! kinds never meet: a `flock` lock does not conflict with a record lock.
//!
//! A lock an open file description holds lasts while the description does (the table keeps
//! a weak reference, and a dead one holds nothing); a process's record locks on a file go
//! when it closes any fd of that file, and when it ends ([`Locks::release_process`]). Record
//! locks of one owner are kept split and merged as Linux keeps them: setting a range
//! replaces what the owner held there, and touching or overlapping locks of the same type
//! become one.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::file::OpenFile;

/// A file's identity: its device and inode.
pub type FileId = (u64, u64);

/// Where a range that runs to the end of the file, and beyond, ends.
pub const TO_THE_END: u64 = u64::MAX;

/// Who holds a lock.
#[derive(Clone, Debug)]
pub enum Owner {
    /// An open file description (`flock`, OFD record locks).
    File(Weak<OpenFile>),
    /// A process, by pid (classic record locks).
    Process(u32),
}

impl Owner {
    /// The open file description `file`.
    pub fn file(file: &Arc<OpenFile>) -> Owner {
        Owner::File(Arc::downgrade(file))
    }

    fn is(&self, other: &Owner) -> bool {
        match (self, other) {
            (Owner::File(a), Owner::File(b)) => Weak::ptr_eq(a, b),
            (Owner::Process(a), Owner::Process(b)) => a == b,
            _ => false,
        }
    }

    /// Whether it still exists: a description that was closed for good holds nothing.
    fn alive(&self) -> bool {
        match self {
            Owner::File(file) => file.strong_count() > 0,
            Owner::Process(_) => true,
        }
    }
}

/// A record lock: `[start, end)` of a file, shared (read) or exclusive (write).
#[derive(Clone, Debug)]
pub struct RecordLock {
    /// Who holds it.
    pub owner: Owner,
    /// A write lock.
    pub exclusive: bool,
    /// Its first byte.
    pub start: u64,
    /// One past its last byte ([`TO_THE_END`]: no end).
    pub end: u64,
    /// The pid `F_GETLK` reports (-1 for an open file description's lock).
    pub pid: i32,
}

impl RecordLock {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }

    fn conflicts_with(&self, other: &RecordLock) -> bool {
        !self.owner.is(&other.owner)
            && self.owner.alive()
            && self.overlaps(other.start, other.end)
            && (self.exclusive || other.exclusive)
    }
}

/// Every lock of the VM, by file (a few files are locked at a time: a list, searched).
#[derive(Debug, Default)]
pub struct Locks {
    /// `flock` locks: holder and whether exclusive.
    flocks: Vec<(FileId, Vec<(Owner, bool)>)>,
    /// Record locks, each file's in order of their start.
    records: Vec<(FileId, Vec<RecordLock>)>,
}

/// The entry of `file` in `table`, made empty if there is none.
fn entry<T>(table: &mut Vec<(FileId, Vec<T>)>, file: FileId) -> &mut Vec<T> {
    let at = match table.iter().position(|(id, _)| *id == file) {
        Some(at) => at,
        None => {
            table.push((file, Vec::new()));
            table.len() - 1
        }
    };
    &mut table[at].1
}

/// The entry of `file` in `table`, if there is one.
fn existing<T>(table: &mut [(FileId, Vec<T>)], file: FileId) -> Option<&mut Vec<T>> {
    table.iter_mut().find(|(id, _)| *id == file).map(|(_, held)| held)
}

impl Locks {
    /// An empty table.
    pub const fn new() -> Locks {
        Locks { flocks: Vec::new(), records: Vec::new() }
    }

    /// `flock`: takes an exclusive or shared lock on `file` for `owner` (an open file
    /// description), or changes the one it holds; EAGAIN (EWOULDBLOCK) while another holds a
    /// lock that conflicts. As on Linux, a change is not atomic: the owner's lock of the other
    /// type goes first, and stays gone when the new one cannot be had.
    pub fn try_flock(&mut self, file: FileId, owner: Owner, exclusive: bool) -> Result<(), Errno> {
        let held = entry(&mut self.flocks, file);
        held.retain(|(holder, _)| holder.alive());
        if held.iter().any(|(holder, kind)| holder.is(&owner) && *kind == exclusive) {
            return Ok(());
        }
        held.retain(|(holder, _)| !holder.is(&owner));
        if held.iter().any(|(_, other_exclusive)| exclusive || *other_exclusive) {
            return Err(Errno::EAGAIN);
        }
        held.push((owner, exclusive));
        Ok(())
    }

    /// `flock(LOCK_UN)`: `owner` lets go of its lock on `file`, if it holds one.
    pub fn unflock(&mut self, file: FileId, owner: &Owner) {
        if let Some(held) = existing(&mut self.flocks, file) {
            held.retain(|(holder, _)| holder.alive() && !holder.is(owner));
        }
        self.flocks.retain(|(_, held)| !held.is_empty());
    }

    /// The first lock on `file` another owner holds that `wanted` conflicts with.
    pub fn conflict(&self, file: FileId, wanted: &RecordLock) -> Option<RecordLock> {
        let (_, held) = self.records.iter().find(|(id, _)| *id == file)?;
        held.iter().find(|held| held.conflicts_with(wanted)).cloned()
    }

    /// Sets `lock` (its owner, range and type) on `file`: EAGAIN when a lock of another
    /// owner conflicts (nothing changes then).
    pub fn set_record(&mut self, file: FileId, lock: RecordLock) -> Result<(), Errno> {
        if self.conflict(file, &lock).is_some() {
            return Err(Errno::EAGAIN);
        }
        let held = entry(&mut self.records, file);
        let (mut start, mut end) = (lock.start, lock.end);
        let mut kept = Vec::with_capacity(held.len() + 2);
        for old in held.drain(..).filter(|old| old.owner.alive()) {
            if !old.owner.is(&lock.owner) {
                kept.push(old);
                continue;
            }
            let touches = old.start <= end && start <= old.end;
            if old.exclusive == lock.exclusive && touches {
                // Same type, overlapping or adjacent: one lock.
                start = start.min(old.start);
                end = end.max(old.end);
                continue;
            }
            keep_outside(&mut kept, old, start, end);
        }
        kept.push(RecordLock { start, end, ..lock });
        sort_by_start(&mut kept);
        *held = kept;
        Ok(())
    }

    /// `F_UNLCK`: `owner` lets go of `[start, end)` of `file` (parts of its locks outside
    /// stay).
    pub fn unlock_record(&mut self, file: FileId, owner: &Owner, start: u64, end: u64) {
        let Some(held) = existing(&mut self.records, file) else { return };
        let mut kept = Vec::with_capacity(held.len() + 1);
        for old in held.drain(..).filter(|old| old.owner.alive()) {
            if old.owner.is(owner) {
                keep_outside(&mut kept, old, start, end);
            } else {
                kept.push(old);
            }
        }
        sort_by_start(&mut kept);
        *held = kept;
        self.records.retain(|(_, held)| !held.is_empty());
    }

    /// Whether any record lock is held.
    pub fn has_records(&self) -> bool {
        !self.records.is_empty()
    }

    /// Whether process `pid` holds a record lock (on any file).
    pub fn process_holds(&self, pid: u32) -> bool {
        let owner = Owner::Process(pid);
        self.records.iter().flat_map(|(_, held)| held).any(|lock| lock.owner.is(&owner))
    }

    /// Drops process `pid`'s record locks: on `file` (it closed an fd of it), or on every
    /// file (it ended).
    pub fn release_process(&mut self, pid: u32, file: Option<FileId>) {
        let owner = Owner::Process(pid);
        self.records.retain_mut(|(id, held)| {
            if file.is_none_or(|file| file == *id) {
                held.retain(|lock| lock.owner.alive() && !lock.owner.is(&owner));
            }
            !held.is_empty()
        });
    }
}

/// Orders a file's record locks by their start, keeping the order of equal starts.
fn sort_by_start(locks: &mut [RecordLock]) {
    crate::sort::sort_by_key(locks, |l| l.start);
}

/// Pushes the parts of `old` outside `[start, end)` onto `kept`.
fn keep_outside(kept: &mut Vec<RecordLock>, old: RecordLock, start: u64, end: u64) {
    if !old.overlaps(start, end) {
        kept.push(old);
        return;
    }
    if old.start < start {
        kept.push(RecordLock { end: start, ..old.clone() });
    }
    if old.end > end {
        kept.push(RecordLock { start: end, ..old });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: FileId = (7, 42);

    fn lock(pid: u32, exclusive: bool, start: u64, end: u64) -> RecordLock {
        RecordLock { owner: Owner::Process(pid), exclusive, start, end, pid: pid as i32 }
    }

    fn ranges(locks: &Locks) -> Vec<(i32, bool, u64, u64)> {
        let held = locks.records.iter().find(|(id, _)| *id == FILE).map_or(&[][..], |(_, held)| held);
        held.iter().map(|l| (l.pid, l.exclusive, l.start, l.end)).collect()
    }

    #[test]
    fn write_locks_exclude_and_read_locks_share() {
        let mut locks = Locks::new();
        locks.set_record(FILE, lock(1, true, 0, 100)).unwrap();
        assert_eq!(locks.set_record(FILE, lock(2, false, 50, 51)), Err(Errno::EAGAIN));
        assert_eq!(locks.conflict(FILE, &lock(2, true, 50, 60)).map(|l| (l.pid, l.start, l.end)), Some((1, 0, 100)));
        locks.set_record(FILE, lock(2, true, 100, 200)).unwrap();
        locks.unlock_record(FILE, &Owner::Process(1), 0, 100);
        locks.set_record(FILE, lock(2, false, 0, 10)).unwrap();
        locks.set_record(FILE, lock(3, false, 0, 10)).unwrap();
        assert_eq!(locks.set_record(FILE, lock(4, true, 5, 6)), Err(Errno::EAGAIN));
        assert!(locks.conflict(FILE, &lock(4, false, 5, 6)).is_none(), "readers share");
    }

    #[test]
    fn an_unlock_in_the_middle_splits_and_like_locks_merge() {
        let mut locks = Locks::new();
        locks.set_record(FILE, lock(1, true, 0, 100)).unwrap();
        locks.unlock_record(FILE, &Owner::Process(1), 40, 60);
        assert_eq!(ranges(&locks), [(1, true, 0, 40), (1, true, 60, 100)]);
        locks.set_record(FILE, lock(1, true, 40, 60)).unwrap();
        assert_eq!(ranges(&locks), [(1, true, 0, 100)], "adjacent locks of one type merge");
        locks.set_record(FILE, lock(1, false, 20, 30)).unwrap();
        assert_eq!(ranges(&locks), [(1, true, 0, 20), (1, false, 20, 30), (1, true, 30, 100)]);
        locks.set_record(FILE, lock(1, true, 50, TO_THE_END)).unwrap();
        assert_eq!(ranges(&locks), [(1, true, 0, 20), (1, false, 20, 30), (1, true, 30, TO_THE_END)]);
        assert!(locks.process_holds(1) && !locks.process_holds(2));
        locks.release_process(1, Some(FILE));
        assert!(ranges(&locks).is_empty() && !locks.process_holds(1));
    }

    /// An open file description to own locks (an eventfd's: any file will do).
    fn description() -> Arc<OpenFile> {
        use crate::fs::eventfd::EventFd;
        use crate::fs::node::{Location, Node};
        use crate::fs::stat::Timespec;
        let node = Node::Anon(crate::fs::anon::AnonNode::EventFd(EventFd::new(0, false, Timespec::default())));
        let location = Location::new(6, node, b"anon_inode:[eventfd]".to_vec());
        Arc::new(OpenFile::new(location, crate::fs::flags::O_RDWR, Vec::new()))
    }

    #[test]
    fn flock_owners_are_open_file_descriptions() {
        let mut locks = Locks::new();
        let (a, b) = (description(), description());
        let (oa, ob) = (Owner::file(&a), Owner::file(&b));
        locks.try_flock(FILE, oa.clone(), true).unwrap();
        locks.try_flock(FILE, oa.clone(), true).expect("its own lock does not conflict");
        assert_eq!(locks.try_flock(FILE, ob.clone(), false), Err(Errno::EAGAIN));
        locks.try_flock(FILE, oa.clone(), false).unwrap();
        locks.try_flock(FILE, ob.clone(), false).expect("shared locks coexist");
        assert_eq!(locks.try_flock(FILE, ob.clone(), true), Err(Errno::EAGAIN));
        // That failed change dropped b's shared lock (Linux's flock is not atomic there).
        locks.try_flock(FILE, oa.clone(), true).expect("b holds nothing now");
        locks.unflock(FILE, &oa);
        locks.try_flock(FILE, ob, true).unwrap();
        drop(b);
        locks.try_flock(FILE, oa, true).expect("a description closed for good holds nothing");
    }

    #[test]
    fn an_open_file_descriptions_record_lock_ends_with_it() {
        let mut locks = Locks::new();
        let a = description();
        let ofd = RecordLock { owner: Owner::file(&a), exclusive: true, start: 0, end: 10, pid: -1 };
        locks.set_record(FILE, ofd).unwrap();
        assert_eq!(locks.set_record(FILE, lock(1, false, 5, 6)), Err(Errno::EAGAIN), "OFD and process locks meet");
        drop(a);
        locks.set_record(FILE, lock(1, true, 5, 6)).unwrap();
    }
}
